import { clipLine, clipRing, RingBuffers } from './clip.ts';
import { LINE, POINT, type FeatureIndex } from './feature-index.ts';
import { simplifyPath } from './simplify.ts';
import { TILE_EXTENT } from './tile-math.ts';

/**
 * One index item → the MVT geometry commands of one feature in one tile: project to tile units,
 * clip to the buffered tile, simplify, round to integers, drop what rounding made degenerate, wind
 * rings the way the MVT spec wants, and write MoveTo/LineTo/ClosePath with zig-zag deltas.
 */

/** Where a tile sits and how it is cut; made once per tile and layer. */
export interface TileFrame {
  /** 2^z · extent: unit square → tile units. */
  readonly scale: number;
  /** x · extent and y · extent: the tile's origin in the zoom's tile units. */
  readonly originX: number;
  readonly originY: number;
  /** The buffered square [min, max]² that geometry is clipped to (-buffer … extent + buffer). */
  readonly min: number;
  readonly max: number;
  /** Squared Douglas–Peucker tolerance; 0 disables simplification. */
  readonly sqTolerance: number;
  /** Rings (holes, parts of multipolygons) with no side this long after rounding are dropped; 0 keeps all. */
  readonly minRingSize: number;
}

export function tileFrame(z: number, x: number, y: number, buffer: number, tolerance: number, minRingSize: number): TileFrame {
  const scale = 2 ** z * TILE_EXTENT;
  return {
    scale,
    originX: x * TILE_EXTENT,
    originY: y * TILE_EXTENT,
    min: -buffer,
    max: TILE_EXTENT + buffer,
    sqTolerance: tolerance * tolerance,
    minRingSize,
  };
}

/** Geometry commands of a layer's features, back to back. */
export class CommandBuffer {
  a = new Uint32Array(1 << 14);
  n = 0;
  reserve(extra: number) {
    if (this.n + extra <= this.a.length) return;
    let len = this.a.length * 2;
    while (len < this.n + extra) len *= 2;
    const b = new Uint32Array(len);
    b.set(this.a.subarray(0, this.n));
    this.a = b;
  }
}

// Scratch, shared by every call: cutting a tile is synchronous, so one set serves the process.
const rings = new RingBuffers();
let parts = new Float64Array(1 << 12);
let partEnds = new Uint32Array(1 << 10);
let keep = new Uint8Array(1 << 11);
let q = new Int32Array(1 << 12);
let qMinX = 0, qMinY = 0, qMaxX = 0, qMaxY = 0;
let cursorX = 0, cursorY = 0;

const MOVE_TO_1 = 1 | (1 << 3);
const CLOSE_PATH = 7 | (1 << 3);
const zigzag = (v: number) => ((v << 1) ^ (v >> 31)) >>> 0;

/** Projects the index's vertices v0 … v1 - 1 into rings.a as tile units. */
function project(index: FeatureIndex, v0: number, v1: number, f: TileFrame) {
  const n = v1 - v0;
  rings.reserve(n);
  const src = index.coords, dst = rings.a;
  const s = f.scale, ox = f.originX, oy = f.originY;
  for (let i = 0, j = 2 * v0; i < 2 * n; i += 2, j += 2) {
    dst[i] = src[j]! * s - ox;
    dst[i + 1] = src[j + 1]! * s - oy;
  }
}

/**
 * Rounds points [from, to) of `pts` (only those marked in keepMask, when given) into q, dropping
 * consecutive duplicates; tracks their box. Returns the count.
 */
function quantize(pts: Float64Array, from: number, to: number, keepMask: Uint8Array | null): number {
  if (q.length < 2 * (to - from)) q = new Int32Array(2 * (to - from));
  let m = 0;
  let lx = NaN, ly = NaN;
  qMinX = Infinity; qMinY = Infinity; qMaxX = -Infinity; qMaxY = -Infinity;
  for (let i = from; i < to; i++) {
    if (keepMask !== null && keepMask[i - from] === 0) continue;
    const x = Math.round(pts[2 * i]!), y = Math.round(pts[2 * i + 1]!);
    if (x === lx && y === ly) continue;
    q[2 * m] = x;
    q[2 * m + 1] = y;
    m++;
    lx = x; ly = y;
    if (x < qMinX) qMinX = x;
    if (x > qMaxX) qMaxX = x;
    if (y < qMinY) qMinY = y;
    if (y > qMaxY) qMaxY = y;
  }
  return m;
}

/** Writes q[0 … m) as MoveTo + LineTo (+ ClosePath for rings), backwards when `reverse`. */
function emitPath(out: CommandBuffer, m: number, closed: boolean, reverse: boolean) {
  out.reserve(2 * m + 4);
  const a = out.a;
  let n = out.n;
  let k = reverse ? m - 1 : 0;
  const step = reverse ? -1 : 1;
  let x = q[2 * k]!, y = q[2 * k + 1]!;
  a[n++] = MOVE_TO_1;
  a[n++] = zigzag(x - cursorX);
  a[n++] = zigzag(y - cursorY);
  cursorX = x; cursorY = y;
  a[n++] = 2 | ((m - 1) << 3);
  for (let i = 1; i < m; i++) {
    k += step;
    x = q[2 * k]!; y = q[2 * k + 1]!;
    a[n++] = zigzag(x - cursorX);
    a[n++] = zigzag(y - cursorY);
    cursorX = x; cursorY = y;
  }
  if (closed) a[n++] = CLOSE_PATH;
  out.n = n;
}

function simplifyInto(pts: Float64Array, from: number, to: number, sqTolerance: number): Uint8Array | null {
  const n = to - from;
  if (sqTolerance === 0 || n <= 2) return null;
  if (keep.length < n) keep = new Uint8Array(Math.max(n, 2 * keep.length));
  simplifyPath(pts, from, n, sqTolerance, keep);
  return keep;
}

/**
 * Appends item's geometry commands to `out`. Returns the MVT geometry type (1, 2, 3), or 0 when
 * nothing of the item survives in this tile (then `out` is unchanged).
 */
export function writeItemGeometry(index: FeatureIndex, item: number, f: TileFrame, out: CommandBuffer): number {
  const start = out.n;
  cursorX = 0;
  cursorY = 0;
  const kind = index.kinds[item]!;
  const r0 = index.itemRings[item]!, r1 = index.itemRings[item + 1]!;
  const rs = index.ringStarts;
  const { min, max, sqTolerance } = f;
  const bx = index.boxes;
  const inside =
    bx[4 * item]! * f.scale - f.originX >= min && bx[4 * item + 2]! * f.scale - f.originX <= max &&
    bx[4 * item + 1]! * f.scale - f.originY >= min && bx[4 * item + 3]! * f.scale - f.originY <= max;

  if (kind === POINT) {
    const v0 = rs[r0]!, v1 = rs[r1]!;
    project(index, v0, v1, f);
    if (q.length < 2 * (v1 - v0)) q = new Int32Array(2 * (v1 - v0));
    const p = rings.a;
    let m = 0;
    for (let i = 0; i < v1 - v0; i++) {
      const x = p[2 * i]!, y = p[2 * i + 1]!;
      if (x < min || x > max || y < min || y > max) continue;
      q[2 * m] = Math.round(x);
      q[2 * m + 1] = Math.round(y);
      m++;
    }
    if (m === 0) return 0;
    out.reserve(2 * m + 1);
    const a = out.a;
    let n = out.n;
    a[n++] = 1 | (m << 3);
    for (let i = 0; i < m; i++) {
      const x = q[2 * i]!, y = q[2 * i + 1]!;
      a[n++] = zigzag(x - cursorX);
      a[n++] = zigzag(y - cursorY);
      cursorX = x; cursorY = y;
    }
    out.n = n;
    return POINT;
  }

  if (kind === LINE) {
    for (let r = r0; r < r1; r++) {
      const v0 = rs[r]!, n = rs[r + 1]! - v0;
      if (n < 2) continue;
      project(index, v0, v0 + n, f);
      if (inside) {
        writeLinePart(out, rings.a, 0, n, sqTolerance);
        continue;
      }
      if (parts.length < 4 * n) parts = new Float64Array(Math.max(4 * n, 2 * parts.length));
      if (partEnds.length < n) partEnds = new Uint32Array(Math.max(n, 2 * partEnds.length));
      const count = clipLine(rings.a, n, parts, partEnds, min, max);
      for (let k = 0, from = 0; k < count; k++) {
        writeLinePart(out, parts, from, partEnds[k]!, sqTolerance);
        from = partEnds[k]!;
      }
    }
    return out.n > start ? LINE : 0;
  }

  // Polygons: an exterior ring that does not survive takes its holes with it.
  let dropHoles = false;
  for (let r = r0; r < r1; r++) {
    const exterior = index.ringExterior[r] === 1;
    if (!exterior && dropHoles) continue;
    const v0 = rs[r]!;
    let n = rs[r + 1]! - v0;
    if (n < 4) { if (exterior) dropHoles = true; continue; }
    project(index, v0, v0 + n, f);
    if (!inside) {
      const p = rings.a;
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (let i = 0; i < 2 * n; i += 2) {
        const x = p[i]!, y = p[i + 1]!;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
      n = x1 < min || x0 > max || y1 < min || y0 > max ? 0 : clipRing(rings, n, min, max, x0, y0, x1, y1);
    }
    if (n < 4) { if (exterior) dropHoles = true; continue; }
    const pts = rings.a;
    let m = quantize(pts, 0, n, simplifyInto(pts, 0, n, sqTolerance));
    // Rings are written open: ClosePath returns to the first point.
    if (m > 1 && q[0] === q[2 * m - 2] && q[1] === q[2 * m - 1]) m--;
    let area2 = 0;
    if (m >= 3) {
      for (let i = 0, j = m - 1; i < m; j = i++) area2 += q[2 * j]! * q[2 * i + 1]! - q[2 * i]! * q[2 * j + 1]!;
    }
    const tooSmall = f.minRingSize > 0 && qMaxX - qMinX < f.minRingSize && qMaxY - qMinY < f.minRingSize;
    if (area2 === 0 || tooSmall) { if (exterior) dropHoles = true; continue; }
    if (exterior) dropHoles = false;
    // MVT 4.3.4.4: exterior rings have positive area by the surveyor's formula in tile coordinates
    // (y down, so they look clockwise), holes negative.
    emitPath(out, m, true, exterior ? area2 < 0 : area2 > 0);
  }
  return out.n > start ? 3 : 0;
}

function writeLinePart(out: CommandBuffer, pts: Float64Array, from: number, to: number, sqTolerance: number) {
  const m = quantize(pts, from, to, simplifyInto(pts, from, to, sqTolerance));
  if (m >= 2) emitPath(out, m, false, false);
}
