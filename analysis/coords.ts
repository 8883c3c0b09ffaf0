/**
 * Coordinate conversion between the systems used in China, for apps: CGCS2000 and WGS84
 * geographic, the CGCS2000 Gauss-Krüger zones, UTM, Web Mercator, and the GCJ-02 / BD-09 offsets
 * of consumer map SDKs. Everything passes through CGCS2000 lon/lat with the importer's own
 * transformers (data-import/crs), so a survey imported in EPSG:4549 and a point converted here
 * land on the same coordinates. WGS84 and CGCS2000 are one datum here, as in PROJ (centimetres).
 *
 * Two numbers per point, easting or longitude first (the GIS order, not EPSG's lat/lon); a third
 * (height, depth) passes through unchanged.
 */

import { findCrs, fromCgcs2000, SUPPORTED_CRS_SUMMARY, toCgcs2000, withinBounds, type CrsInfo } from '../data-import/crs/index.ts';

/** A request's worth: 100,000 points convert in tens of milliseconds and fit a 4 MB body. */
export const MAX_POINTS = 100_000;

export type Point = [number, number] | [number, number, number];

/** What is wrong with a conversion request, and where (`from`, `to`, `points`, `points[12]`). */
export class CoordsInputError extends Error {
  constructor(readonly parameter: string, message: string, readonly value?: unknown) {
    super(`${parameter}: ${message}`);
    this.name = 'CoordsInputError';
  }
}

/** The CRS a request names; NAD83 UTM, which the registry also knows, is accepted as well. */
export function transformCrs(name: unknown, parameter: string): CrsInfo {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new CoordsInputError(parameter, `name a coordinate reference system: ${SUPPORTED_CRS_SUMMARY}`);
  }
  const crs = findCrs(name);
  if (!crs) throw new CoordsInputError(parameter, `unknown or unsupported CRS "${name}"; supported: ${SUPPORTED_CRS_SUMMARY}`, name);
  return crs;
}

const isLonLat = (crs: CrsInfo) => crs.kind !== 'projected';

/** Refuses a point that cannot be in `crs`, naming the likely mistake (swapped axes, metres given as degrees). */
function checkInput(crs: CrsInfo, x: number, y: number, where: string): void {
  if (isLonLat(crs)) {
    if (x < -180 || x > 180 || y < -90 || y > 90) {
      const hint = Math.abs(x) > 1000 || Math.abs(y) > 1000 ? '; these look like projected metres: name their EPSG code in "from"'
        : Math.abs(x) <= 90 && Math.abs(y) > 90 ? '; longitude comes first' : '';
      throw new CoordsInputError(where, `longitude must lie in [-180, 180] and latitude in [-90, 90] for ${crs.code}${hint}`, [x, y]);
    }
  } else if (!withinBounds(crs, x, y)) {
    const b = crs.bounds!;
    throw new CoordsInputError(where, `(${x}, ${y}) lies outside ${crs.code} (${crs.name}), whose easting runs ${b[0]}–${b[2]} and northing ${b[1]}–${b[3]}; is it another zone or CRS, or are easting and northing swapped?`, [x, y]);
  }
}

/**
 * Validates the `points` of a request: an array of [x, y] or [x, y, z] finite numbers, at most
 * MAX_POINTS of them, each plausible in `from`.
 */
export function readPoints(raw: unknown, from: CrsInfo): Point[] {
  if (!Array.isArray(raw)) throw new CoordsInputError('points', 'expected an array of [x, y] pairs');
  if (raw.length === 0) throw new CoordsInputError('points', 'give at least one point');
  if (raw.length > MAX_POINTS) throw new CoordsInputError('points', `at most ${MAX_POINTS} points per request, got ${raw.length}; split the list`);
  const out: Point[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const p: unknown = raw[i];
    const where = `points[${i}]`;
    if (!Array.isArray(p) || (p.length !== 2 && p.length !== 3)) throw new CoordsInputError(where, 'expected [x, y] or [x, y, z]', p);
    for (const c of p) {
      if (typeof c !== 'number' || !Number.isFinite(c)) throw new CoordsInputError(where, 'every coordinate must be a finite number', p);
    }
    checkInput(from, p[0], p[1], where);
    out[i] = p.length === 2 ? [p[0], p[1]] : [p[0], p[1], p[2]];
  }
  return out;
}

/** `x,y;x,y` (a query string's form) into points; numbers only, no NaN or Infinity. */
export function parsePointList(text: string): number[][] {
  const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  const pairs = text.split(';').filter((s, i, all) => s.trim() !== '' || i < all.length - 1);
  return pairs.map((pair, i) => {
    const parts = pair.split(',').map((s) => s.trim());
    if (parts.length < 2 || parts.length > 3 || parts.some((s) => !NUMBER.test(s))) {
      throw new CoordsInputError(`points[${i}]`, `"${pair}" is not x,y or x,y,z in numbers; separate points with ";"`, pair);
    }
    return parts.map(Number);
  });
}

/**
 * Converts `points` from one CRS to another. Throws CoordsInputError for a point that has no
 * image in `to` (beyond a projection's domain).
 */
export function transformPoints(from: CrsInfo, to: CrsInfo, points: readonly Point[]): Point[] {
  if (from.code === to.code) return points.map((p) => [...p] as Point);
  const inverse = toCgcs2000(from);
  const forward = fromCgcs2000(to);
  const out: Point[] = new Array(points.length);
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    const [lon, lat] = inverse(p[0], p[1]);
    const [x, y] = forward(lon, lat);
    // A transverse Mercator far from its central meridian still yields numbers, but meaningless ones.
    if (!Number.isFinite(x) || !Number.isFinite(y) || (to.kind === 'projected' && !withinBounds(to, x, y))) {
      throw new CoordsInputError(`points[${i}]`, `(${p[0]}, ${p[1]}) lies outside the area of ${to.code} (${to.name}); choose the zone that covers it`, [p[0], p[1]]);
    }
    out[i] = p.length === 3 ? [x, y, p[2]] : [x, y];
  }
  return out;
}
