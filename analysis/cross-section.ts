/**
 * Cross-section (横断面): the pipes a line crosses, in order along it, with how far from the
 * line's start each is crossed, how deep it lies there, its size and its type: the data a
 * 横断面图 is drawn from (section-svg.ts draws it).
 *
 * Intersections are found on the plane tangent at the line's centre: the map from lon/lat to it is
 * linear in each coordinate, so straight segments stay straight and the crossing points are the
 * ones PostGIS's planar ST_Intersection finds. Offsets are re-measured on the ellipsoid along the
 * section's vertices (radii at each piece's mean latitude); depths are interpolated linearly
 * along the crossed pipe between its start and end depth (CJJ 61, to the crown), as in the dig
 * check. A pipe crossed more than once appears once per crossing; one lying along the line is
 * given where it first meets it.
 */

import type { LineString, Position } from 'geojson';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { LocalFrame } from '../position/local-frame.ts';
import { localDistance } from '../position/asset-geodesy.ts';
import { depthAt, lineParts, pipesInBox, utilityInfo, type PipeRecord, type UtilityInfo } from './dig-check.ts';

export interface SectionCrossing extends UtilityInfo {
  layerId: string;
  featureId: string;
  /** Metres along the section line from its start. */
  offsetM: number;
  /** Depth to the crown at the crossing; null when the pipe's depths are not recorded. */
  depthM: number | null;
  /** The crossing, lon/lat. */
  at: [number, number];
  /** Fraction of the pipe's length from its start at the crossing. */
  fraction: number;
}

export interface SectionResult {
  line: LineString;
  lengthM: number;
  crossings: SectionCrossing[];
}

const cross = (ax: number, ay: number, bx: number, by: number) => ax * by - ay * bx;

/** Crossings of one pipe with the section: [section segment, t on it, pipe fraction]. */
function crossingsOf(section: Float64Array, pipe: Array<Array<[number, number]>>): Array<{ seg: number; t: number; fraction: number; x: number; y: number }> {
  let total = 0;
  for (const part of pipe) for (let i = 0; i + 1 < part.length; i++) total += Math.hypot(part[i + 1]![0] - part[i]![0], part[i + 1]![1] - part[i]![1]);
  const out: Array<{ seg: number; t: number; fraction: number; x: number; y: number }> = [];
  let run = 0;
  for (const part of pipe) {
    for (let i = 0; i + 1 < part.length; i++) {
      const [cx, cy] = part[i]!;
      const [dx, dy] = part[i + 1]!;
      const ex = dx - cx; const ey = dy - cy;
      const len = Math.hypot(ex, ey);
      for (let s = 0; s + 3 < section.length; s += 2) {
        const ax = section[s]!; const ay = section[s + 1]!;
        const sx = section[s + 2]! - ax; const sy = section[s + 3]! - ay;
        const denom = cross(sx, sy, ex, ey);
        let t: number;
        let u: number;
        if (denom !== 0) {
          t = cross(cx - ax, cy - ay, ex, ey) / denom;
          u = cross(cx - ax, cy - ay, sx, sy) / denom;
          if (t < 0 || t > 1 || u < 0 || u > 1) continue;
        } else {
          if (cross(cx - ax, cy - ay, sx, sy) !== 0) continue;
          const l2 = sx * sx + sy * sy;
          const tc = ((cx - ax) * sx + (cy - ay) * sy) / l2;
          const td = ((dx - ax) * sx + (dy - ay) * sy) / l2;
          t = Math.max(0, Math.min(tc, td));
          if (t > Math.min(1, Math.max(tc, td))) continue;
          const px = ax + t * sx; const py = ay + t * sy;
          u = len > 0 ? ((px - cx) * ex + (py - cy) * ey) / (len * len) : 0;
        }
        out.push({ seg: s / 2, t, fraction: total > 0 ? (run + u * len) / total : 0, x: ax + t * sx, y: ay + t * sy });
      }
      run += len;
    }
  }
  return out;
}

/** The crossings of `pipes` with the section line, ordered by offset (pure: the store query is pipesInBox). */
export function sectionCrossings(line: LineString, pipes: readonly PipeRecord[]): SectionResult {
  const lons = line.coordinates.map((p) => p[0]!);
  const lats = line.coordinates.map((p) => p[1]!);
  const frame = new LocalFrame((Math.min(...lats) + Math.max(...lats)) / 2, (Math.min(...lons) + Math.max(...lons)) / 2);
  const section = Float64Array.from(line.coordinates.flatMap((p) => [frame.east(p[0]!), frame.north(p[1]!)]));
  // Offsets on the ellipsoid: the length of every whole piece before, then the part of this one.
  const before: number[] = [0];
  for (let i = 0; i + 1 < line.coordinates.length; i++) {
    const [a, b] = [line.coordinates[i]!, line.coordinates[i + 1]!];
    before.push(before[i]! + localDistance(a[0]!, a[1]!, b[0]!, b[1]!));
  }
  const crossings: SectionCrossing[] = [];
  for (const pipe of pipes) {
    const parts = lineParts(pipe.geometry).map((part: Position[]) => part.map((p) => [frame.east(p[0]!), frame.north(p[1]!)] as [number, number]));
    const found = crossingsOf(section, parts);
    if (found.length === 0) continue;
    const info = utilityInfo(pipe.attributes);
    const offsets: number[] = [];
    for (const c of found) {
      const start = line.coordinates[c.seg]!;
      const at: [number, number] = [frame.lon(c.x), frame.lat(c.y)];
      const offset = before[c.seg]! + localDistance(start[0]!, start[1]!, at[0], at[1]);
      // The section through a vertex of the pipe meets both segments there: one crossing.
      if (offsets.some((o) => Math.abs(o - offset) < 1e-3)) continue;
      offsets.push(offset);
      crossings.push({ layerId: pipe.layerId, featureId: pipe.featureId, ...info, offsetM: offset, depthM: depthAt(info, c.fraction), at, fraction: c.fraction });
    }
  }
  crossings.sort((a, b) => a.offsetM - b.offsetM || (a.layerId < b.layerId ? -1 : a.layerId > b.layerId ? 1 : a.featureId < b.featureId ? -1 : 1));
  return { line, lengthM: before[before.length - 1]!, crossings };
}

/** The section over the store: the pipes whose box meets the line's, then sectionCrossings. */
export async function crossSection(db: Kysely<Database>, layerIds: readonly string[], line: LineString): Promise<SectionResult> {
  const lons = line.coordinates.map((p) => p[0]!);
  const lats = line.coordinates.map((p) => p[1]!);
  const pipes = await pipesInBox(db, layerIds, [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)]);
  return sectionCrossings(line, pipes);
}
