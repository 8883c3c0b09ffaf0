import type { Geometry, Position } from 'geojson';
import { firstPosition } from '../store/ewkb.ts';

export type Transform = (x: number, y: number, z?: number) => number[];

/** Why a geometry cannot be stored, or undefined when it can. */
export type GeometryProblem = string | undefined;

function mapPositions(positions: Position[], t: Transform): Position[] {
  const out = new Array<Position>(positions.length);
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i]!;
    out[i] = p.length > 2 ? t(p[0]!, p[1]!, p[2]!) : t(p[0]!, p[1]!);
  }
  return out;
}

/** The geometry with every position transformed; the structure is copied, not mutated. */
export function transformGeometry(g: Geometry, t: Transform): Geometry {
  switch (g.type) {
    case 'Point': return { type: 'Point', coordinates: g.coordinates.length > 2 ? t(g.coordinates[0]!, g.coordinates[1]!, g.coordinates[2]!) : t(g.coordinates[0]!, g.coordinates[1]!) };
    case 'MultiPoint': return { type: 'MultiPoint', coordinates: mapPositions(g.coordinates, t) };
    case 'LineString': return { type: 'LineString', coordinates: mapPositions(g.coordinates, t) };
    case 'MultiLineString': return { type: 'MultiLineString', coordinates: g.coordinates.map((l) => mapPositions(l, t)) };
    case 'Polygon': return { type: 'Polygon', coordinates: g.coordinates.map((r) => mapPositions(r, t)) };
    case 'MultiPolygon': return { type: 'MultiPolygon', coordinates: g.coordinates.map((p) => p.map((r) => mapPositions(r, t))) };
    case 'GeometryCollection': return { type: 'GeometryCollection', geometries: g.geometries.map((c) => transformGeometry(c, t)) };
  }
}

function positionProblem(p: Position, geographic: boolean): GeometryProblem {
  if (!Array.isArray(p) || p.length < 2) return 'a position has fewer than two coordinates';
  for (const c of p) if (typeof c !== 'number' || !Number.isFinite(c)) return `coordinate ${String(c)} is not a finite number`;
  if (geographic && (p[0]! < -180 || p[0]! > 180 || p[1]! < -90 || p[1]! > 90)) {
    return `coordinate (${p[0]}, ${p[1]}) is outside the valid longitude/latitude range`;
  }
  return undefined;
}

function positionsProblem(ps: Position[], geographic: boolean, min: number, what: string): GeometryProblem {
  if (!Array.isArray(ps) || ps.length === 0) return `empty ${what}`;
  if (ps.length < min) return `${what} has ${ps.length} position(s); at least ${min} are needed`;
  for (const p of ps) {
    const problem = positionProblem(p, geographic);
    if (problem) return problem;
  }
  return undefined;
}

/** A line whose positions are all the same has no length; PostGIS calls it invalid and cannot repair it. */
function lineProblem(ps: Position[], geographic: boolean): GeometryProblem {
  const problem = positionsProblem(ps, geographic, 2, 'line');
  if (problem) return problem;
  const [x0, y0] = ps[0]!;
  for (let i = 1; i < ps.length; i++) if (ps[i]![0] !== x0 || ps[i]![1] !== y0) return undefined;
  return 'line has no length: all its positions are the same';
}

/**
 * Checks the structure and numbers of a geometry: empty parts, NaN or infinite coordinates, too
 * few positions, lines without length, and (for lon/lat) coordinates out of range: after this,
 * points and lines are valid to PostGIS. Polygon topology (self-intersections, bad holes) is left
 * to PostGIS, which repairs it with ST_MakeValid.
 */
export function geometryProblem(g: Geometry, geographic: boolean): GeometryProblem {
  switch (g.type) {
    case 'Point': return Array.isArray(g.coordinates) && g.coordinates.length === 0 ? 'empty point' : positionProblem(g.coordinates, geographic);
    case 'MultiPoint': return positionsProblem(g.coordinates, geographic, 1, 'multipoint');
    case 'LineString': return lineProblem(g.coordinates, geographic);
    case 'MultiLineString':
      if (!g.coordinates?.length) return 'empty multiline';
      for (const l of g.coordinates) { const p = lineProblem(l, geographic); if (p) return p; }
      return undefined;
    case 'Polygon':
      if (!g.coordinates?.length) return 'empty polygon';
      for (const r of g.coordinates) { const p = positionsProblem(r, geographic, 4, 'polygon ring'); if (p) return p; }
      return undefined;
    case 'MultiPolygon':
      if (!g.coordinates?.length) return 'empty multipolygon';
      for (const poly of g.coordinates) {
        if (!poly?.length) return 'empty polygon';
        for (const r of poly) { const p = positionsProblem(r, geographic, 4, 'polygon ring'); if (p) return p; }
      }
      return undefined;
    case 'GeometryCollection':
      if (!g.geometries?.length) return 'empty geometry collection';
      for (const c of g.geometries) { const p = geometryProblem(c, geographic); if (p) return p; }
      return undefined;
    default:
      return `unknown geometry type ${String((g as { type?: unknown }).type)}`;
  }
}

/** Closes polygon rings that the source left open (first position repeated at the end). */
export function closeRings(g: Geometry): Geometry {
  if (g.type === 'Polygon') return { type: 'Polygon', coordinates: g.coordinates.map(closeRing) };
  if (g.type === 'MultiPolygon') return { type: 'MultiPolygon', coordinates: g.coordinates.map(closePolygonRings) };
  return g;
}

// Module-level rather than closures inside closeRings: a closure made per row costs more under the
// module loader's name-keeping wrapper than the check itself (CPU profile of bench:import).
function closeRing(r: Position[]): Position[] {
  const a = r[0], b = r[r.length - 1];
  return a && b && (a[0] !== b[0] || a[1] !== b[1]) ? [...r, a] : r;
}

function closePolygonRings(p: Position[][]): Position[][] {
  return p.map(closeRing);
}

/** One representative position per row, for CRS inference. */
export { firstPosition };
