/**
 * The 横断面图 of a cross-section as SVG: the ground line, each pipe drawn at its depth as a
 * circle of its diameter (a duct bank or trench of known section size as its rectangle), coloured
 * by its CJJ 61 class, with a leader line up to a label above the ground (type, size, depth),
 * and scales in metres. Depth is drawn to scale vertically; the horizontal scale fits the line to
 * the page, so sizes are drawn with the vertical scale (as section drawings exaggerate).
 */

import { PIPE_CLASS_INFO, type PipeClass } from '../data-import/profiles/cjj61.ts';
import { escapeHtml } from './dig-check.ts';
import type { SectionResult } from './cross-section.ts';

const WIDTH = 960;
const LABEL_BAND = 150;
const MARGIN = { left: 60, right: 30, bottom: 40 };
const SECTION_HEIGHT = 320;
/** A pipe of unknown size is drawn as 100 mm, so that it is still seen. */
const DEFAULT_SIZE_MM = 100;
const UNKNOWN_COLOUR = [102, 0, 204] as const;

const fixed = (x: number, d = 1) => Number(x.toFixed(d));

/** A tick step of 1, 2 or 5 × 10ⁿ giving about `count` ticks over `span`. */
function tickStep(span: number, count: number): number {
  const raw = span / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
}

function sectionSize(text: string | null): [number, number] | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*[x×X*]\s*(\d+(?:\.\d+)?)\s*$/.exec(text ?? '');
  return m ? [Number(m[1]), Number(m[2])] : null;
}

export function sectionSvg(result: SectionResult): string {
  const { crossings, lengthM } = result;
  const deepest = Math.max(2, ...crossings.map((c) => (c.depthM ?? 0) + ((c.diameterMm ?? sectionSize(c.sectionSize)?.[1] ?? DEFAULT_SIZE_MM) / 1000)));
  const maxDepth = Math.ceil(deepest * 2) / 2 + 0.5;
  const top = LABEL_BAND;
  const height = top + SECTION_HEIGHT + MARGIN.bottom;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const sx = plotW / Math.max(lengthM, 1e-9);
  const sy = SECTION_HEIGHT / maxDepth;
  const X = (offset: number) => fixed(MARGIN.left + offset * sx);
  const Y = (depth: number) => fixed(top + depth * sy);

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<title>横断面图 cross-section, ${fixed(lengthM, 2)} m, ${crossings.length} pipes</title>`);
  parts.push(`<rect x="${MARGIN.left}" y="${top}" width="${fixed(plotW)}" height="${SECTION_HEIGHT}" fill="#f4efe6"/>`);
  // Depth scale.
  const dStep = tickStep(maxDepth, 6);
  for (let d = 0; d <= maxDepth + 1e-9; d += dStep) {
    parts.push(`<line x1="${MARGIN.left - 4}" y1="${Y(d)}" x2="${MARGIN.left + plotW}" y2="${Y(d)}" stroke="#ddd"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${Y(d) + 4}" text-anchor="end">${fixed(d, 2)}</text>`);
  }
  parts.push(`<text x="14" y="${top + SECTION_HEIGHT / 2}" transform="rotate(-90 14 ${top + SECTION_HEIGHT / 2})" text-anchor="middle">埋深 depth (m)</text>`);
  // Offset scale.
  const oStep = tickStep(lengthM || 1, 8);
  for (let o = 0; o <= lengthM + 1e-9; o += oStep) {
    parts.push(`<line x1="${X(o)}" y1="${top + SECTION_HEIGHT}" x2="${X(o)}" y2="${top + SECTION_HEIGHT + 4}" stroke="#000"/>`);
    parts.push(`<text x="${X(o)}" y="${top + SECTION_HEIGHT + 16}" text-anchor="middle">${fixed(o, 2)}</text>`);
  }
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${height - 6}" text-anchor="middle">距起点 offset from the start (m), 全长 ${fixed(lengthM, 2)} m</text>`);
  // Ground.
  parts.push(`<line class="ground" x1="${MARGIN.left}" y1="${top}" x2="${MARGIN.left + plotW}" y2="${top}" stroke="#5a3d1e" stroke-width="2"/>`);
  parts.push(`<text x="${MARGIN.left + plotW}" y="${top - 4}" text-anchor="end">地面 ground</text>`);

  for (const c of crossings) {
    const [r, g, b] = c.pipeClass && c.pipeClass in PIPE_CLASS_INFO ? PIPE_CLASS_INFO[c.pipeClass as PipeClass].color : UNKNOWN_COLOUR;
    const colour = `rgb(${r},${g},${b})`;
    const depth = c.depthM ?? 0;
    const box = c.diameterMm === null ? sectionSize(c.sectionSize) : null;
    const x = X(c.offsetM);
    const dash = c.depthM === null ? ' stroke-dasharray="3,2"' : '';
    const id = escapeHtml(`${c.layerId}/${c.featureId}`);
    if (box) {
      const [w, h] = box.map((v) => Math.max(4, (v / 1000) * sy));
      parts.push(`<rect class="pipe" data-id="${id}" x="${fixed(x - w! / 2)}" y="${Y(depth)}" width="${fixed(w!)}" height="${fixed(h!)}" fill="${colour}" stroke="#000"${dash}/>`);
    } else {
      const size = (c.diameterMm ?? DEFAULT_SIZE_MM) / 1000;
      parts.push(`<circle class="pipe" data-id="${id}" cx="${x}" cy="${Y(depth + size / 2)}" r="${fixed(Math.max(3, (size / 2) * sy))}" fill="${colour}" stroke="#000"${dash}/>`);
    }
    parts.push(`<line x1="${x}" y1="${Y(depth)}" x2="${x}" y2="${top - 4}" stroke="#888" stroke-width="0.5"/>`);
    const size = c.diameterMm !== null ? `DN${c.diameterMm}` : c.sectionSize ?? '';
    const label = [`${c.typeName ?? c.pipeClass ?? '不明'}${c.subTypeName ? `(${c.subTypeName})` : ''}`, size, c.depthM === null ? '埋深不明' : `${c.depthM.toFixed(2)}m`].filter(Boolean).join(' ');
    parts.push(`<text class="label" x="${x}" y="${top - 8}" transform="rotate(-60 ${x} ${top - 8})">${escapeHtml(label)}</text>`);
  }
  if (crossings.length === 0) parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${top + SECTION_HEIGHT / 2}" text-anchor="middle">此断面未穿越管线 / no pipe crosses this line</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
