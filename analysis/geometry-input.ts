/**
 * The geometry of an analysis request (an overlay area, a dig site, a trench line), checked before
 * anything is asked of the database and returned in CRS84 (= CGCS2000 lon/lat within centimetres),
 * 2D. PostGIS would accept a bow-tie polygon and answer nonsense areas, and an "area" in survey
 * metres read as degrees covers half the planet; both are refused here with a reason a user can act on.
 *
 * Validity is checked the strict way: no two edges of a (multi)polygon may meet except neighbours
 * in a ring at their shared vertex, so a hole touching its shell at a point (which OGC allows) is
 * refused too, as are overlapping parts of a MultiPolygon. Lines may cross themselves (a trench can).
 */

import type { Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon, Position } from 'geojson';
import { findCrs, SUPPORTED_CRS_SUMMARY, toCgcs2000, withinBounds, type CrsInfo } from '../data-import/crs/index.ts';
import { metresPerDegreeLat, metresPerDegreeLon } from '../position/asset-geodesy.ts';

export type GeometryInputReason =
  | 'missing' | 'type' | 'coordinates' | 'empty' | 'crs' | 'out-of-range'
  | 'unclosed-ring' | 'degenerate' | 'self-intersection' | 'ring-outside' | 'too-many-vertices' | 'too-large';

export class GeometryInputError extends Error {
  constructor(readonly reason: GeometryInputReason, message: string, readonly parameter = 'geometry') {
    super(`${parameter}: ${message}`);
    this.name = 'GeometryInputError';
  }
}

export type InputGeometry = Point | MultiPoint | LineString | MultiLineString | Polygon | MultiPolygon;
export type InputGeometryType = InputGeometry['type'];
const TYPES: readonly InputGeometryType[] = ['Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon', 'MultiPolygon'];

export interface GeometryLimits {
  /** Vertices in all; the self-intersection check and the database's work grow with them. */
  maxVertices: number;
  /** Polygon area in m²: an analysis area is a site, a street or a neighbourhood; a district is a statistics question. */
  maxAreaM2: number;
  /** Diagonal of the bounding box in metres: a planned road or a trench, not a province. */
  maxExtentM: number;
}

/** 25 km² is about the old town of Quanzhou; 20 km spans the demo city's districts. */
export const DEFAULT_GEOMETRY_LIMITS: Readonly<GeometryLimits> = Object.freeze({ maxVertices: 10_000, maxAreaM2: 25e6, maxExtentM: 20_000 });

export interface GeometryInputOptions {
  /** CRS of the coordinates (any the importer knows: EPSG:4549, GCJ02 …); default CRS84. */
  crs?: string;
  /** Name of the request member, for messages; default "geometry". */
  parameter?: string;
  allowedTypes?: readonly InputGeometryType[];
  limits?: Partial<GeometryLimits>;
}

/**
 * Checks a GeoJSON geometry (or a Feature carrying one) from a request and returns it in CRS84,
 * or throws a GeometryInputError whose `reason` says what is wrong.
 */
export function readRequestGeometry(input: unknown, options: GeometryInputOptions = {}): InputGeometry {
  const parameter = options.parameter ?? 'geometry';
  const fail = (reason: GeometryInputReason, message: string): never => { throw new GeometryInputError(reason, message, parameter); };
  const limits = { ...DEFAULT_GEOMETRY_LIMITS, ...options.limits };
  const allowed = options.allowedTypes ?? TYPES;

  let g = input as { type?: unknown; coordinates?: unknown; geometry?: unknown } | null;
  if (g === undefined || g === null) fail('missing', 'required: a GeoJSON geometry');
  if (typeof g !== 'object' || Array.isArray(g)) fail('type', 'must be a GeoJSON geometry object');
  if (g!.type === 'Feature') g = g!.geometry as typeof g;
  if (!g || typeof g !== 'object' || typeof g.type !== 'string' || !allowed.includes(g.type as InputGeometryType)) {
    return fail('type', `type must be one of ${allowed.join(', ')}${g && typeof g === 'object' && typeof g.type === 'string' ? `, not ${g.type}` : ''}`);
  }
  const type = g.type as InputGeometryType;
  const depth = type === 'Point' ? 0 : type === 'MultiPoint' || type === 'LineString' ? 1 : type === 'MultiPolygon' ? 3 : 2;

  const crsName = options.crs ?? 'CRS84';
  const crs = findCrs(crsName);
  if (!crs) return fail('crs', `unknown or unsupported CRS "${crsName}"; supported: ${SUPPORTED_CRS_SUMMARY}`);

  let vertices = 0;
  const toLonLat = toCgcs2000(crs);
  // Positions are read, range-checked in their own CRS and converted in one walk.
  const walk = (node: unknown, level: number, path: string): unknown => {
    if (!Array.isArray(node)) return fail('coordinates', `${path} must be an array`);
    if (level === 0) return node.length === 0 ? fail('empty', `${path} is empty`) : position(node, path);
    if (node.length === 0) return fail('empty', `${path} is empty`);
    return node.map((child, i) => walk(child, level - 1, `${path}[${i}]`));
  };
  const position = (p: unknown[], path: string): Position => {
    if (p.length < 2 || p.length > 3 || p.some((c) => typeof c !== 'number' || !Number.isFinite(c))) {
      fail('coordinates', `${path} must be [x, y] or [x, y, z] in finite numbers`);
    }
    if (++vertices > limits.maxVertices) fail('too-many-vertices', `more than ${limits.maxVertices} vertices`);
    const [x, y] = p as number[];
    checkRange(crs, x!, y!, path, fail);
    const [lon, lat] = toLonLat(x!, y!);
    if (!Number.isFinite(lon) || !Number.isFinite(lat)) fail('out-of-range', `${path} (${x}, ${y}) has no position in ${crs.code}`);
    return [lon, lat];
  };
  const coordinates = walk(g.coordinates, depth, 'coordinates');
  const geometry = { type, coordinates } as InputGeometry;

  checkShape(geometry, fail);
  checkSize(geometry, limits, fail);
  return geometry;
}

type Fail = (reason: GeometryInputReason, message: string) => never;

function checkRange(crs: CrsInfo, x: number, y: number, path: string, fail: Fail): void {
  if (crs.kind !== 'projected') {
    if (x < -180 || x > 180 || y < -90 || y > 90) {
      fail('out-of-range', `${path} (${x}, ${y}) is not a longitude and latitude in ${crs.code}`
        + (Math.abs(x) > 1000 || Math.abs(y) > 1000 ? '; these look like projected metres: name their CRS in "crs" (e.g. EPSG:4549)' : ''));
    }
  } else if (!withinBounds(crs, x, y)) {
    fail('out-of-range', `${path} (${x}, ${y}) lies outside ${crs.code} (${crs.name}); is it another zone or CRS?`);
  }
}

/** Consecutive repeated positions removed: they add zero-length edges that would "touch". */
function dedupe(ring: Position[]): Position[] {
  return ring.filter((p, i) => i === 0 || p[0] !== ring[i - 1]![0] || p[1] !== ring[i - 1]![1]);
}

function checkShape(g: InputGeometry, fail: Fail): void {
  switch (g.type) {
    case 'Point': case 'MultiPoint': return;
    case 'LineString': return checkLine(g.coordinates, 'coordinates', fail);
    case 'MultiLineString': return g.coordinates.forEach((l, i) => checkLine(l, `coordinates[${i}]`, fail));
    case 'Polygon': return checkPolygons([g.coordinates], fail);
    case 'MultiPolygon': return checkPolygons(g.coordinates, fail);
  }
}

function checkLine(line: Position[], path: string, fail: Fail): void {
  if (dedupe(line).length < 2) fail('degenerate', `${path} needs at least two distinct positions`);
}

type Seg = { ax: number; ay: number; bx: number; by: number; minX: number; maxX: number; ring: number; k: number; n: number };

function checkPolygons(polygons: Position[][][], fail: Fail): void {
  const rings: Position[][] = [];
  polygons.forEach((polygon, pi) => polygon.forEach((raw, ri) => {
    const path = polygons.length > 1 ? `coordinates[${pi}][${ri}]` : `coordinates[${ri}]`;
    const first = raw[0]!;
    const last = raw[raw.length - 1]!;
    if (first[0] !== last[0] || first[1] !== last[1]) fail('unclosed-ring', `${path}: a ring must end at its first position`);
    const ring = dedupe(raw);
    if (ring.length < 4) fail('degenerate', `${path}: a ring needs at least three distinct positions`);
    rings.push(ring);
  }));
  if (findCrossing(rings)) fail('self-intersection', 'edges of the polygon cross or touch each other (a bow-tie, a ring crossing another, or overlapping parts); draw it without crossings');
  // Checked after the crossings: a bow-tie's two halves can cancel to zero.
  if (rings.some((ring) => signedArea(ring) === 0)) fail('degenerate', 'a ring encloses no area');
  // With no edges meeting, a ring lies wholly inside or wholly outside another: one vertex tells.
  let r = 0;
  for (const [pi, polygon] of polygons.entries()) {
    const shell = rings[r]!;
    for (let h = 1; h < polygon.length; h++) {
      if (!inRing(rings[r + h]![0]!, shell)) fail('ring-outside', `coordinates[${polygons.length > 1 ? `${pi}][` : ''}${h}]: a hole must lie inside its outer ring`);
    }
    r += polygon.length;
  }
  let s = 0;
  const shells = polygons.map((p) => { const shell = rings[s]!; s += p.length; return shell; });
  for (let i = 0; i < shells.length; i++) {
    for (let j = 0; j < shells.length; j++) {
      if (i !== j && inRing(shells[i]![0]!, shells[j]!)) fail('self-intersection', `polygons ${i} and ${j} of the MultiPolygon overlap; merge them into one`);
    }
  }
}

function signedArea(ring: Position[]): number {
  let a = 0;
  for (let i = 0; i + 1 < ring.length; i++) a += ring[i]![0]! * ring[i + 1]![1]! - ring[i + 1]![0]! * ring[i]![1]!;
  return a / 2;
}

function inRing(p: Position, ring: Position[]): boolean {
  const [x, y] = p as [number, number];
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as [number, number];
    const [xj, yj] = ring[j] as [number, number];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

const orient = (ax: number, ay: number, bx: number, by: number, cx: number, cy: number) => Math.sign((bx - ax) * (cy - ay) - (by - ay) * (cx - ax));
const between = (a: number, b: number, c: number) => Math.min(a, b) <= c && c <= Math.max(a, b);

function segmentsMeet(s: Seg, t: Seg): boolean {
  const o1 = orient(s.ax, s.ay, s.bx, s.by, t.ax, t.ay);
  const o2 = orient(s.ax, s.ay, s.bx, s.by, t.bx, t.by);
  const o3 = orient(t.ax, t.ay, t.bx, t.by, s.ax, s.ay);
  const o4 = orient(t.ax, t.ay, t.bx, t.by, s.bx, s.by);
  if (o1 * o2 < 0 && o3 * o4 < 0) return true;
  const on = (ax: number, ay: number, bx: number, by: number, cx: number, cy: number) => between(ax, bx, cx) && between(ay, by, cy);
  return (o1 === 0 && on(s.ax, s.ay, s.bx, s.by, t.ax, t.ay)) || (o2 === 0 && on(s.ax, s.ay, s.bx, s.by, t.bx, t.by))
    || (o3 === 0 && on(t.ax, t.ay, t.bx, t.by, s.ax, s.ay)) || (o4 === 0 && on(t.ax, t.ay, t.bx, t.by, s.bx, s.by));
}

/** Any two edges that meet, other than neighbours in a ring: a sweep over x, sorted once. */
function findCrossing(rings: Position[][]): boolean {
  const segs: Seg[] = [];
  rings.forEach((ring, r) => {
    const n = ring.length - 1;
    for (let k = 0; k < n; k++) {
      const [ax, ay] = ring[k] as [number, number];
      const [bx, by] = ring[k + 1] as [number, number];
      segs.push({ ax, ay, bx, by, minX: Math.min(ax, bx), maxX: Math.max(ax, bx), ring: r, k, n });
    }
  });
  segs.sort((a, b) => a.minX - b.minX);
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    for (let j = i + 1; j < segs.length && segs[j]!.minX <= s.maxX; j++) {
      const t = segs[j]!;
      if (Math.max(s.ay, s.by) < Math.min(t.ay, t.by) || Math.max(t.ay, t.by) < Math.min(s.ay, s.by)) continue;
      const d = Math.abs(s.k - t.k);
      // Neighbours in a ring share a vertex; they only meet wrongly when one doubles back over the other.
      if (s.ring === t.ring && (d === 1 || d === s.n - 1)) {
        if (collinearOverlap(s, t)) return true;
        continue;
      }
      if (segmentsMeet(s, t)) return true;
    }
  }
  return false;
}

/** Two neighbouring edges folded back onto each other (a spike) overlap along a stretch. */
function collinearOverlap(s: Seg, t: Seg): boolean {
  if (orient(s.ax, s.ay, s.bx, s.by, t.ax, t.ay) !== 0 || orient(s.ax, s.ay, s.bx, s.by, t.bx, t.by) !== 0) return false;
  // Shared vertex v; the edges go from v in the same direction when their other ends lie on the same side.
  const shared = (s.ax === t.ax && s.ay === t.ay) || (s.ax === t.bx && s.ay === t.by) ? [s.ax, s.ay] : [s.bx, s.by];
  const so = s.ax === shared[0] && s.ay === shared[1] ? [s.bx, s.by] : [s.ax, s.ay];
  const to = t.ax === shared[0] && t.ay === shared[1] ? [t.bx, t.by] : [t.ax, t.ay];
  return (so[0]! - shared[0]!) * (to[0]! - shared[0]!) + (so[1]! - shared[1]!) * (to[1]! - shared[1]!) > 0;
}

/** Size in a local metric frame at the middle latitude: a limit, not a measurement. */
function checkSize(g: InputGeometry, limits: GeometryLimits, fail: Fail): void {
  let minX = Infinity; let minY = Infinity; let maxX = -Infinity; let maxY = -Infinity;
  const visit = (c: unknown): void => {
    if (typeof (c as number[])[0] === 'number') {
      const [x, y] = c as [number, number];
      minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    } else (c as unknown[]).forEach(visit);
  };
  visit(g.coordinates);
  const lat = (minY + maxY) / 2;
  const kx = metresPerDegreeLon(lat);
  const ky = metresPerDegreeLat(lat);
  const extent = Math.hypot((maxX - minX) * kx, (maxY - minY) * ky);
  if (extent > limits.maxExtentM) {
    fail('too-large', `spans ${Math.round(extent)} m corner to corner, over the limit of ${limits.maxExtentM} m; for a whole district use /analysis/stats`);
  }
  const polygons = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
  let area = 0;
  for (const polygon of polygons) {
    polygon.forEach((ring, i) => { area += (i === 0 ? 1 : -1) * Math.abs(signedArea(ring)) * kx * ky; });
  }
  if (area > limits.maxAreaM2) {
    fail('too-large', `covers ${(area / 1e6).toFixed(2)} km², over the limit of ${limits.maxAreaM2 / 1e6} km²; for a whole district use /analysis/stats`);
  }
}
