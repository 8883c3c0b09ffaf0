/**
 * Dig check (开挖前管线核查): every utility under a planned dig or within its clearance, how deep
 * it lies where it comes closest, who owns it, and how much danger it is in.
 *
 * The footprint is a polygon, a point with a radius (a pit), or a line with a width (a trench, a
 * round-ended buffer of half the width). Candidates are read from the store by box; the geometry
 * is then done exactly, in metres on a plane tangent at the footprint: a circle stays a circle
 * rather than a 32-gon, and a trench a true buffer. Distances are re-measured on the ellipsoid
 * between the two nearest points (radii at their mean latitude), within a millimetre of
 * PostGIS's geography ST_Distance at dig-site scales.
 *
 * Depth: CJJ 61 records a segment's depth at its start and end point (起点埋深/终点埋深, to the
 * crown); in between it is interpolated linearly with the distance along the segment. For a
 * utility that passes under the footprint the depth given is the shallowest of it inside the
 * footprint (the depth is linear along the line, so that is where it enters or where it leaves);
 * for one outside, the depth where it comes closest.
 *
 * Risk classes (documented in the API):
 * - strike: the utility passes under the footprint and its crown is above the dig's floor plus
 *   VERTICAL_MARGIN_M, or the dig depth or the utility's depth is not known (an unknown is never
 *   assumed to be safe);
 * - below: it passes under the footprint deeper than the floor plus the margin;
 * - near: it does not pass under the footprint but lies within its horizontal clearance
 *   (clearances.ts, GB 50289-2016).
 * Utilities farther than their clearance are not reported.
 */

import type { Geometry, LineString, MultiLineString, Point, Polygon, Position } from 'geojson';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { LocalFrame } from '../position/local-frame.ts';
import { localDistance } from '../position/asset-geodesy.ts';
import { MATERIALS, PIPE_CLASS_INFO, SUB_TYPES, type PipeClass } from '../data-import/profiles/cjj61.ts';
import { CLEARANCE_SOURCE, clearanceFor, MAX_CLEARANCE_M, VERTICAL_MARGIN_M } from './clearances.ts';

export type DigFootprintInput =
  | { geometry: Polygon }
  | { geometry: Point; radius: number }
  | { geometry: LineString; width: number };

export const RISKS = ['strike', 'below', 'near'] as const;
export type Risk = (typeof RISKS)[number];

// ---------------------------------------------------------------------------------------------
// Plane geometry in the footprint's local frame (metres).

/** Where a segment comes closest to a footprint: planar gap, parameter on the segment, footprint point. */
interface Nearest { d: number; t: number; qx: number; qy: number }

/** A footprint in the plane: how near a segment comes, and which part of it lies inside. */
interface PlaneFootprint {
  /** Measured distances are the distance to the footprint's core point minus this (radius, half width; 0 for a polygon). */
  readonly offset: number;
  nearest(ax: number, ay: number, bx: number, by: number): Nearest;
  /** The segment's parameters [t0, t1] of its first and last point inside (boundary included), or null. */
  inside(ax: number, ay: number, bx: number, by: number): [number, number] | null;
}

const cross = (ax: number, ay: number, bx: number, by: number) => ax * by - ay * bx;

/** Parameter of the point of segment a→b nearest to p, and the squared distance. */
function pointSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): { t: number; d2: number } {
  const ex = bx - ax;
  const ey = by - ay;
  const l2 = ex * ex + ey * ey;
  const t = l2 > 0 ? Math.min(1, Math.max(0, ((px - ax) * ex + (py - ay) * ey) / l2)) : 0;
  const dx = ax + t * ex - px;
  const dy = ay + t * ey - py;
  return { t, d2: dx * dx + dy * dy };
}

/** Closest points of segments a→b and c→d: parameters t (on ab), u (on cd) and squared distance. */
function segmentSegment(ax: number, ay: number, bx: number, by: number, cx: number, cy: number, dx: number, dy: number): { t: number; u: number; d2: number } {
  const sx = bx - ax; const sy = by - ay;
  const ex = dx - cx; const ey = dy - cy;
  const denom = cross(sx, sy, ex, ey);
  if (denom !== 0) {
    const t = cross(cx - ax, cy - ay, ex, ey) / denom;
    const u = cross(cx - ax, cy - ay, sx, sy) / denom;
    if (t >= 0 && t <= 1 && u >= 0 && u <= 1) return { t, u, d2: 0 };
  }
  // Apart (or parallel): the closest pair has an endpoint of one of them.
  let best = { t: 0, u: 0, d2: Infinity };
  const c1 = pointSegment(ax, ay, cx, cy, dx, dy); if (c1.d2 < best.d2) best = { t: 0, u: c1.t, d2: c1.d2 };
  const c2 = pointSegment(bx, by, cx, cy, dx, dy); if (c2.d2 < best.d2) best = { t: 1, u: c2.t, d2: c2.d2 };
  const c3 = pointSegment(cx, cy, ax, ay, bx, by); if (c3.d2 < best.d2) best = { t: c3.t, u: 0, d2: c3.d2 };
  const c4 = pointSegment(dx, dy, ax, ay, bx, by); if (c4.d2 < best.d2) best = { t: c4.t, u: 1, d2: c4.d2 };
  return best;
}

/** Parameters of segment a→b inside the disc (centre c, radius r), clamped to [0, 1]. */
function discRange(ax: number, ay: number, bx: number, by: number, cx: number, cy: number, r: number): [number, number] | null {
  const dx = bx - ax; const dy = by - ay;
  const fx = ax - cx; const fy = ay - cy;
  const a = dx * dx + dy * dy;
  const b = 2 * (fx * dx + fy * dy);
  const c = fx * fx + fy * fy - r * r;
  if (a === 0) return c <= 0 ? [0, 1] : null;
  const disc = b * b - 4 * a * c;
  if (disc < 0) return null;
  const s = Math.sqrt(disc);
  const t0 = (-b - s) / (2 * a);
  const t1 = (-b + s) / (2 * a);
  if (t1 < 0 || t0 > 1) return null;
  return [Math.max(0, t0), Math.min(1, t1)];
}

/** Narrows [t0, t1] to where lo ≤ α + βt ≤ hi; null when nothing is left. */
function clipLinear(range: [number, number] | null, alpha: number, beta: number, lo: number, hi: number): [number, number] | null {
  if (!range) return null;
  let [t0, t1] = range;
  if (beta === 0) return alpha >= lo && alpha <= hi ? range : null;
  let a = (lo - alpha) / beta;
  let b = (hi - alpha) / beta;
  if (a > b) [a, b] = [b, a];
  t0 = Math.max(t0, a);
  t1 = Math.min(t1, b);
  return t0 <= t1 ? [t0, t1] : null;
}

/** Even-odd test (a point on the boundary may go either way; callers add boundary crossings themselves). */
function pointInRing(x: number, y: number, ring: Position[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]! as [number, number];
    const [xj, yj] = ring[j]! as [number, number];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

const union = (x: [number, number] | null, y: [number, number] | null): [number, number] | null =>
  !x ? y : !y ? x : [Math.min(x[0], y[0]), Math.max(x[1], y[1])];

class Disc implements PlaneFootprint {
  constructor(readonly cx: number, readonly cy: number, readonly offset: number) {}
  nearest(ax: number, ay: number, bx: number, by: number): Nearest {
    const { t, d2 } = pointSegment(this.cx, this.cy, ax, ay, bx, by);
    return { d: Math.max(0, Math.sqrt(d2) - this.offset), t, qx: this.cx, qy: this.cy };
  }
  inside(ax: number, ay: number, bx: number, by: number) {
    return discRange(ax, ay, bx, by, this.cx, this.cy, this.offset);
  }
}

/** A line buffered by half its width with round ends: the union of one stadium per segment. */
class Corridor implements PlaneFootprint {
  constructor(readonly xy: Float64Array, readonly offset: number) {}
  nearest(ax: number, ay: number, bx: number, by: number): Nearest {
    const p = this.xy;
    let best: Nearest = { d: Infinity, t: 0, qx: 0, qy: 0 };
    for (let i = 0; i + 3 < p.length; i += 2) {
      const s = segmentSegment(ax, ay, bx, by, p[i]!, p[i + 1]!, p[i + 2]!, p[i + 3]!);
      const d = Math.sqrt(s.d2) - this.offset;
      if (d < best.d) best = { d, t: s.t, qx: p[i]! + s.u * (p[i + 2]! - p[i]!), qy: p[i + 1]! + s.u * (p[i + 3]! - p[i + 1]!) };
    }
    best.d = Math.max(0, best.d);
    return best;
  }
  inside(ax: number, ay: number, bx: number, by: number) {
    const p = this.xy;
    const h = this.offset;
    let range: [number, number] | null = null;
    for (let i = 0; i + 3 < p.length; i += 2) {
      const [px, py, qx, qy] = [p[i]!, p[i + 1]!, p[i + 2]!, p[i + 3]!];
      range = union(range, discRange(ax, ay, bx, by, px, py, h));
      range = union(range, discRange(ax, ay, bx, by, qx, qy, h));
      const len = Math.hypot(qx - px, qy - py);
      if (len === 0) continue;
      const ux = (qx - px) / len; const uy = (qy - py) / len;
      // Along the axis: (a - p)·u + t (b - a)·u in [0, len]; across it: the same with the normal, in [-h, h].
      const along = clipLinear([0, 1], (ax - px) * ux + (ay - py) * uy, (bx - ax) * ux + (by - ay) * uy, 0, len);
      const rect = clipLinear(along, cross(ux, uy, ax - px, ay - py), cross(ux, uy, bx - ax, by - ay), -h, h);
      range = union(range, rect);
    }
    return range;
  }
}

class PlanePolygon implements PlaneFootprint {
  readonly offset = 0;
  constructor(readonly rings: Position[][]) {}
  #inside(x: number, y: number): boolean {
    let inside = false;
    for (const ring of this.rings) if (pointInRing(x, y, ring)) inside = !inside;
    return inside;
  }
  inside(ax: number, ay: number, bx: number, by: number): [number, number] | null {
    const sx = bx - ax; const sy = by - ay;
    let lo = Infinity; let hi = -Infinity;
    const add = (t: number) => { if (t < lo) lo = t; if (t > hi) hi = t; };
    for (const ring of this.rings) {
      for (let i = 0; i + 1 < ring.length; i++) {
        const [cx, cy] = ring[i]! as [number, number];
        const [dx, dy] = ring[i + 1]! as [number, number];
        const ex = dx - cx; const ey = dy - cy;
        const denom = cross(sx, sy, ex, ey);
        if (denom !== 0) {
          const t = cross(cx - ax, cy - ay, ex, ey) / denom;
          const u = cross(cx - ax, cy - ay, sx, sy) / denom;
          if (t >= 0 && t <= 1 && u >= 0 && u <= 1) add(t);
        } else if (cross(cx - ax, cy - ay, sx, sy) === 0) {
          const l2 = sx * sx + sy * sy;
          if (l2 === 0) continue;
          const tc = ((cx - ax) * sx + (cy - ay) * sy) / l2;
          const td = ((dx - ax) * sx + (dy - ay) * sy) / l2;
          const a = Math.max(0, Math.min(tc, td));
          const b = Math.min(1, Math.max(tc, td));
          if (a <= b) { add(a); add(b); }
        }
      }
    }
    // Any inside stretch begins at the segment's start or at a boundary crossing, and ends likewise.
    if (this.#inside(ax, ay)) lo = 0;
    if (this.#inside(bx, by)) hi = 1;
    return lo <= hi ? [lo, hi] : null;
  }
  nearest(ax: number, ay: number, bx: number, by: number): Nearest {
    const inside = this.inside(ax, ay, bx, by);
    if (inside) return { d: 0, t: inside[0], qx: ax + inside[0] * (bx - ax), qy: ay + inside[0] * (by - ay) };
    let best: Nearest = { d: Infinity, t: 0, qx: 0, qy: 0 };
    for (const ring of this.rings) {
      for (let i = 0; i + 1 < ring.length; i++) {
        const [cx, cy] = ring[i]! as [number, number];
        const [dx, dy] = ring[i + 1]! as [number, number];
        const s = segmentSegment(ax, ay, bx, by, cx, cy, dx, dy);
        const d = Math.sqrt(s.d2);
        if (d < best.d) best = { d, t: s.t, qx: cx + s.u * (dx - cx), qy: cy + s.u * (dy - cy) };
      }
    }
    return best;
  }
}

/** A dig footprint on the plane tangent at its centre. */
export class Footprint {
  readonly frame: LocalFrame;
  readonly plane: PlaneFootprint;
  readonly input: DigFootprintInput;
  /** The footprint's reach from its centre in the plane: [minX, minY, maxX, maxY] in metres. */
  readonly #box: [number, number, number, number];

  constructor(input: DigFootprintInput) {
    this.input = input;
    const g = input.geometry;
    const positions: Position[] = g.type === 'Point' ? [g.coordinates] : g.type === 'LineString' ? g.coordinates : g.coordinates.flat();
    const lons = positions.map((p) => p[0]!);
    const lats = positions.map((p) => p[1]!);
    this.frame = new LocalFrame((Math.min(...lats) + Math.max(...lats)) / 2, (Math.min(...lons) + Math.max(...lons)) / 2);
    const f = this.frame;
    const local = (p: Position): [number, number] => [f.east(p[0]!), f.north(p[1]!)];
    let reach = 0;
    if ('radius' in input) {
      const [x, y] = local(input.geometry.coordinates);
      this.plane = new Disc(x, y, input.radius);
      reach = input.radius;
    } else if ('width' in input) {
      this.plane = new Corridor(Float64Array.from(input.geometry.coordinates.flatMap(local)), input.width / 2);
      reach = input.width / 2;
    } else {
      this.plane = new PlanePolygon(input.geometry.coordinates.map((r) => r.map(local)));
    }
    const xs = positions.map((p) => f.east(p[0]!));
    const ys = positions.map((p) => f.north(p[1]!));
    this.#box = [Math.min(...xs) - reach, Math.min(...ys) - reach, Math.max(...xs) + reach, Math.max(...ys) + reach];
  }

  /** The box in degrees that holds everything within `margin` metres of the footprint (with 1 m to spare for the plane's distortion). */
  searchBox(margin: number): [number, number, number, number] {
    const [x0, y0, x1, y1] = this.#box;
    const m = margin + 1;
    return [this.frame.lon(x0 - m), this.frame.lat(y0 - m), this.frame.lon(x1 + m), this.frame.lat(y1 + m)];
  }

  /** How a line (a pipe) relates to the footprint; see PipeMeasure. */
  measure(parts: readonly Position[][]): PipeMeasure {
    const f = this.frame;
    const xy = parts.map((part) => part.map((p) => [f.east(p[0]!), f.north(p[1]!)] as [number, number]));
    let total = 0;
    for (const part of xy) for (let i = 0; i + 1 < part.length; i++) total += Math.hypot(part[i + 1]![0] - part[i]![0], part[i + 1]![1] - part[i]![1]);
    const at = (a: [number, number], b: [number, number], t: number): [number, number] => [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
    const lonLat = (p: [number, number]): [number, number] => [f.lon(p[0]), f.lat(p[1])];
    const fraction = (run: number) => (total > 0 ? run / total : 0);

    let run = 0;
    let first: { f: number; p: [number, number] } | undefined;
    let last: { f: number; p: [number, number] } | undefined;
    let near: { d: number; f: number; p: [number, number]; q: [number, number] } | undefined;
    for (const part of xy) {
      for (let i = 0; i + 1 < part.length; i++) {
        const a = part[i]!; const b = part[i + 1]!;
        const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
        const range = this.plane.inside(a[0], a[1], b[0], b[1]);
        if (range) {
          if (!first) first = { f: fraction(run + range[0] * len), p: at(a, b, range[0]) };
          last = { f: fraction(run + range[1] * len), p: at(a, b, range[1]) };
        } else if (!first) {
          const n = this.plane.nearest(a[0], a[1], b[0], b[1]);
          if (!near || n.d < near.d) near = { d: n.d, f: fraction(run + n.t * len), p: at(a, b, n.t), q: [n.qx, n.qy] };
        }
        run += len;
      }
    }
    if (first && last) {
      return { crossing: true, distance: 0, first: { fraction: first.f, at: lonLat(first.p) }, last: { fraction: last.f, at: lonLat(last.p) }, lengthM: total };
    }
    if (!near) return { crossing: false, distance: Infinity, nearest: { fraction: 0, at: [NaN, NaN] }, lengthM: total };
    const [plon, plat] = lonLat(near.p);
    const [qlon, qlat] = lonLat(near.q);
    const distance = Math.max(0, localDistance(plon, plat, qlon, qlat) - this.plane.offset);
    return { crossing: false, distance, nearest: { fraction: near.f, at: [plon, plat] }, lengthM: total };
  }
}

interface AlongPipe { fraction: number; at: [number, number] }

/**
 * A line against the footprint. Crossing: where it first and last lies inside (fractions of its
 * length from its start). Otherwise: the distance in metres and where on the line it comes closest.
 */
export type PipeMeasure =
  | { crossing: true; distance: 0; first: AlongPipe; last: AlongPipe; lengthM: number }
  | { crossing: false; distance: number; nearest: AlongPipe; lengthM: number };

// ---------------------------------------------------------------------------------------------
// Pipes from the store.

export interface PipeRecord {
  layerId: string;
  featureId: string;
  geometry: LineString | MultiLineString;
  attributes: Record<string, unknown>;
}

export const lineParts = (g: LineString | MultiLineString): Position[][] => (g.type === 'LineString' ? [g.coordinates] : g.coordinates);

/**
 * The current versions of the layers' line features whose box meets `box` (degrees). One query
 * per layer, so each reads only its own partition through its space-time index; the layer ids come
 * from the catalog.
 */
export async function pipesInBox(db: Kysely<Database>, layerIds: readonly string[], box: readonly [number, number, number, number]): Promise<PipeRecord[]> {
  const out: PipeRecord[] = [];
  for (const layerId of layerIds) {
    const { rows } = await sql<{ feature_id: string; g: string; a: Record<string, unknown> }>`
      select feature_id, st_asgeojson(geom, 9) as g, attributes as a from feature_version
      where layer_id = ${layerId} and validity @> now()
        and geom && st_makeenvelope(${box[0]}, ${box[1]}, ${box[2]}, ${box[3]}, 4490)
        and geometrytype(geom) in ('LINESTRING', 'MULTILINESTRING')
      order by feature_id`.execute(db);
    for (const r of rows) out.push({ layerId, featureId: r.feature_id, geometry: JSON.parse(r.g) as LineString | MultiLineString, attributes: r.a });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The utility attributes a field worker is told.

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : typeof v === 'number' ? String(v) : null);
const num = (v: unknown): number | null => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
};

export interface UtilityInfo {
  pipeClass: string | null;
  /** 给水, 燃气 … (CJJ 61 class name), or null for an unknown class. */
  typeName: string | null;
  subType: string | null;
  subTypeName: string | null;
  owner: string | null;
  material: string | null;
  materialName: string | null;
  diameterMm: number | null;
  sectionSize: string | null;
  pressureClass: string | null;
  burialMethod: string | null;
  startDepthM: number | null;
  endDepthM: number | null;
}

export function utilityInfo(a: Record<string, unknown>): UtilityInfo {
  const pipeClass = str(a.pipe_class);
  const info = pipeClass && pipeClass in PIPE_CLASS_INFO ? PIPE_CLASS_INFO[pipeClass as PipeClass] : undefined;
  const subType = str(a.sub_type);
  const material = str(a.material);
  return {
    pipeClass,
    typeName: info?.nameZh ?? null,
    subType,
    subTypeName: info && subType ? SUB_TYPES[info.code].find((s) => s.code === subType)?.nameZh ?? null : null,
    owner: str(a.owner),
    material,
    materialName: str(a.material_name) ?? (material ? MATERIALS[material] ?? null : null),
    diameterMm: num(a.diameter_mm),
    sectionSize: str(a.section_size),
    pressureClass: str(a.pressure_class),
    burialMethod: str(a.burial_method),
    startDepthM: num(a.start_depth_m),
    endDepthM: num(a.end_depth_m),
  };
}

/** Depth at a fraction of the segment's length, linear between 起点埋深 and 终点埋深; null unless both are known. */
export function depthAt(info: Pick<UtilityInfo, 'startDepthM' | 'endDepthM'>, fraction: number): number | null {
  if (info.startDepthM === null || info.endDepthM === null) return null;
  return info.startDepthM + (info.endDepthM - info.startDepthM) * fraction;
}

// ---------------------------------------------------------------------------------------------
// The check.

export interface DigHit extends UtilityInfo {
  layerId: string;
  featureId: string;
  geometry: LineString | MultiLineString;
  risk: Risk;
  /** Metres from the footprint; 0 when it passes under it. */
  distanceM: number;
  /** Depth to the crown where it is shallowest under the footprint, or where it comes closest. */
  depthM: number | null;
  /** Where that depth is, lon/lat. */
  depthAt: [number, number];
  /** Fraction of the segment's length from its start at that point. */
  fraction: number;
  clearanceM: number;
  clearanceRule: string;
}

export interface DigCheckResult {
  footprint: DigFootprintInput;
  digDepthM: number | null;
  hits: DigHit[];
  counts: Record<Risk, number>;
}

const RISK_ORDER: Record<Risk, number> = { strike: 0, below: 1, near: 2 };

/** Classifies the candidate pipes against the footprint (pure: the store query is pipesInBox). */
export function checkPipes(footprint: Footprint, pipes: readonly PipeRecord[], digDepthM: number | null): DigCheckResult {
  const hits: DigHit[] = [];
  for (const pipe of pipes) {
    const info = utilityInfo(pipe.attributes);
    const clearance = clearanceFor(info);
    const m = footprint.measure(lineParts(pipe.geometry));
    let risk: Risk;
    let where: AlongPipe;
    if (m.crossing) {
      // The shallowest point inside is where it enters or where it leaves: depth is linear along the line.
      where = info.startDepthM !== null && info.endDepthM !== null && info.endDepthM < info.startDepthM ? m.last : m.first;
      const depth = depthAt(info, where.fraction);
      risk = digDepthM === null || depth === null || depth < digDepthM + VERTICAL_MARGIN_M ? 'strike' : 'below';
    } else {
      if (!(m.distance <= clearance.metres)) continue;
      where = m.nearest;
      risk = 'near';
    }
    hits.push({
      layerId: pipe.layerId, featureId: pipe.featureId, geometry: pipe.geometry, ...info, risk,
      distanceM: m.distance, depthM: depthAt(info, where.fraction), depthAt: where.at, fraction: where.fraction,
      clearanceM: clearance.metres, clearanceRule: clearance.rule,
    });
  }
  hits.sort((a, b) => RISK_ORDER[a.risk] - RISK_ORDER[b.risk] || a.distanceM - b.distanceM
    || (a.layerId < b.layerId ? -1 : a.layerId > b.layerId ? 1 : a.featureId < b.featureId ? -1 : a.featureId > b.featureId ? 1 : 0));
  const counts: Record<Risk, number> = { strike: 0, below: 0, near: 0 };
  for (const h of hits) counts[h.risk]++;
  return { footprint: footprint.input, digDepthM, hits, counts };
}

/** The dig check over the store: candidates within the largest clearance, then checkPipes. */
export async function digCheck(db: Kysely<Database>, layerIds: readonly string[], input: DigFootprintInput, digDepthM: number | null): Promise<DigCheckResult> {
  const footprint = new Footprint(input);
  const pipes = await pipesInBox(db, layerIds, footprint.searchBox(MAX_CLEARANCE_M));
  return checkPipes(footprint, pipes, digDepthM);
}

// ---------------------------------------------------------------------------------------------
// Output.

const round = (x: number, decimals: number) => Math.round(x * 10 ** decimals) / 10 ** decimals;

export interface DigReportContext {
  layers: string[];
  /** Restricted layers the caller is not cleared for: utilities there are not shown. */
  withheld: string[];
  generatedAt: Date;
}

/** GeoJSON FeatureCollection: one Feature per utility, the check's terms as foreign members. */
export function digCheckGeoJson(result: DigCheckResult, ctx: DigReportContext) {
  return {
    type: 'FeatureCollection' as const,
    footprint: {
      geometry: result.footprint.geometry as Geometry,
      ...('radius' in result.footprint ? { radius: result.footprint.radius } : {}),
      ...('width' in result.footprint ? { width: result.footprint.width } : {}),
    },
    digDepth: result.digDepthM,
    layers: ctx.layers,
    withheld: ctx.withheld,
    counts: result.counts,
    rules: {
      clearanceSource: CLEARANCE_SOURCE,
      verticalMargin: VERTICAL_MARGIN_M,
      risk: {
        strike: `passes under the footprint with its crown less than ${VERTICAL_MARGIN_M} m below the dig depth, or with the dig depth or its own depth unknown`,
        below: `passes under the footprint more than ${VERTICAL_MARGIN_M} m below the dig depth`,
        near: 'outside the footprint, within its horizontal clearance',
      },
      depth: 'to the crown, interpolated linearly between the segment\'s start and end depths; the shallowest point under the footprint, or where it comes closest',
    },
    timeStamp: ctx.generatedAt.toISOString(),
    numberReturned: result.hits.length,
    features: result.hits.map((h) => ({
      type: 'Feature' as const,
      id: `${h.layerId}/${h.featureId}`,
      geometry: h.geometry,
      properties: {
        layer: h.layerId, featureId: h.featureId, risk: h.risk,
        distance: round(h.distanceM, 3), depth: h.depthM === null ? null : round(h.depthM, 3),
        depthAt: h.depthAt.map((c) => round(c, 8)), fraction: round(h.fraction, 6),
        clearance: h.clearanceM, clearanceRule: h.clearanceRule,
        pipeClass: h.pipeClass, typeName: h.typeName, subType: h.subType, subTypeName: h.subTypeName,
        owner: h.owner, material: h.material, materialName: h.materialName, diameterMm: h.diameterMm,
        sectionSize: h.sectionSize, pressureClass: h.pressureClass, burialMethod: h.burialMethod,
        startDepth: h.startDepthM, endDepth: h.endDepthM,
      },
    })),
  };
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Text for HTML element content and quoted attribute values. */
export const escapeHtml = (value: unknown): string => String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const RISK_LABEL: Record<Risk, string> = { strike: '挖断风险 strike', below: '下方穿越 below', near: '净距内 near' };

function describeFootprint(input: DigFootprintInput): string {
  if ('radius' in input) {
    const [lon, lat] = input.geometry.coordinates;
    return `圆形基坑 pit: 中心 ${round(lon!, 7)}, ${round(lat!, 7)}，半径 ${input.radius} m`;
  }
  if ('width' in input) return `沟槽 trench: ${input.geometry.coordinates.length} 点折线，宽 ${input.width} m`;
  return `开挖范围 polygon: ${input.geometry.coordinates[0]!.length - 1} 个顶点`;
}

/** A printable one-page summary (for the site file), every value escaped. */
export function digCheckHtml(result: DigCheckResult, ctx: DigReportContext): string {
  const fmt = (v: number | null, d: number) => (v === null ? '—' : v.toFixed(d));
  const rows = result.hits.map((h) => `<tr class="${h.risk}">
<td>${escapeHtml(RISK_LABEL[h.risk])}</td><td>${escapeHtml(h.layerId)}</td><td>${escapeHtml(h.featureId)}</td>
<td>${escapeHtml([h.typeName ?? h.pipeClass ?? '不明', h.subTypeName ?? h.subType].filter(Boolean).join(' '))}</td>
<td>${escapeHtml(h.owner ?? '—')}</td><td>${escapeHtml(h.materialName ?? h.material ?? '—')}</td>
<td class="n">${escapeHtml(h.diameterMm ?? h.sectionSize ?? '—')}</td><td class="n">${fmt(h.depthM, 2)}</td>
<td class="n">${fmt(h.distanceM, 2)}</td><td class="n">${h.clearanceM.toFixed(1)}</td></tr>`).join('\n');
  const withheld = ctx.withheld.length
    ? `<p class="warn">未核查的受限图层（无权限）/ Restricted layers not checked (no clearance): ${ctx.withheld.map(escapeHtml).join(', ')}. 开挖前须向权属单位核实。</p>`
    : '';
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>开挖前管线核查 Dig check</title>
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:1.5cm}h1{font-size:18px}table{border-collapse:collapse;width:100%}
th,td{border:1px solid #888;padding:3px 5px;text-align:left}td.n{text-align:right}tr.strike td{background:#fdd}
tr.below td{background:#ffd}.warn{color:#a00;font-weight:bold}@media print{body{margin:0}}
</style></head><body>
<h1>开挖前管线核查 / Dig check</h1>
<p>${escapeHtml(describeFootprint(result.footprint))}；开挖深度 dig depth: ${result.digDepthM === null ? '未给出 not given' : `${result.digDepthM} m`}</p>
<p>挖断风险 strike: <b>${result.counts.strike}</b>，下方穿越 below: <b>${result.counts.below}</b>，净距内 near: <b>${result.counts.near}</b>。
核查图层 layers: ${ctx.layers.map(escapeHtml).join(', ') || '—'}</p>
${withheld}
<table><thead><tr><th>风险</th><th>图层</th><th>编号</th><th>类别</th><th>权属单位</th><th>材质</th><th>管径/断面 (mm)</th><th>埋深 (m)</th><th>距离 (m)</th><th>净距 (m)</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="10">范围及净距内无管线 / no utility within the footprint or its clearances</td></tr>'}
</tbody></table>
<p>埋深为管顶埋深，按起、终点埋深沿管段线性插值；挖断风险：管线穿越开挖范围且管顶高于开挖深度以下 ${VERTICAL_MARGIN_M} m（或深度不明）。
净距依据 ${escapeHtml(CLEARANCE_SOURCE)}。生成时间 ${escapeHtml(ctx.generatedAt.toISOString())}</p>
</body></html>
`;
}
