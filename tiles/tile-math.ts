/**
 * Tile addressing and the Web Mercator unit square.
 *
 * Coordinates are stored and clipped in the unit square: x = 0 at 180°W, 1 at 180°E; y = 0 at the
 * top (85.05°N), 1 at the bottom, the same as the XYZ tile scheme, so tile (z, x, y) covers
 * [x / 2^z, (x + 1) / 2^z] × [y / 2^z, (y + 1) / 2^z]. CGCS2000 (EPSG:4490) differs from WGS 84 by
 * centimetres, far below what a tile shows, so it is projected as WGS 84.
 */

export const MAX_TILE_ZOOM = 24;

/** The MVT extent: integer tile coordinates run from 0 to 4096 across a tile. */
export const TILE_EXTENT = 4096;

export interface TileCoord {
  readonly z: number;
  readonly x: number;
  readonly y: number;
}

/**
 * A z/x/y that names no tile. The HTTP layer answers it with 400; `parameter` says which of the
 * three to fix.
 */
export class TileCoordinateError extends Error {
  constructor(
    readonly parameter: 'z' | 'x' | 'y',
    readonly value: unknown,
    message: string,
  ) {
    super(message);
    this.name = 'TileCoordinateError';
  }
}

const DECIMAL = /^(0|[1-9][0-9]{0,9})$/;

function integerOf(parameter: 'z' | 'x' | 'y', value: number | string): number {
  if (typeof value === 'string') {
    // Path segments: plain decimal only, so "1e3", " 7", "0x1f" and "-0" are refused rather than coerced.
    if (!DECIMAL.test(value)) throw new TileCoordinateError(parameter, value, `${parameter} must be a non-negative integer, got "${value}"`);
    return Number(value);
  }
  if (!Number.isInteger(value) || value < 0 || Object.is(value, -0)) {
    throw new TileCoordinateError(parameter, value, `${parameter} must be a non-negative integer, got ${value}`);
  }
  return value;
}

/** Checks z/x/y (numbers, or the decimal strings of a URL path) and returns them as integers. */
export function validateTile(z: number | string, x: number | string, y: number | string): TileCoord {
  const zi = integerOf('z', z);
  if (zi > MAX_TILE_ZOOM) throw new TileCoordinateError('z', z, `z must be from 0 to ${MAX_TILE_ZOOM}, got ${zi}`);
  const n = 2 ** zi;
  const xi = integerOf('x', x);
  if (xi >= n) throw new TileCoordinateError('x', x, `x must be from 0 to ${n - 1} at zoom ${zi}, got ${xi}`);
  const yi = integerOf('y', y);
  if (yi >= n) throw new TileCoordinateError('y', y, `y must be from 0 to ${n - 1} at zoom ${zi}, got ${yi}`);
  return { z: zi, x: xi, y: yi };
}

/** Longitude in degrees → mercator x in [0, 1]. */
export function lonToX(lon: number): number {
  return lon / 360 + 0.5;
}

/** Latitude in degrees → mercator y in [0, 1] (north at 0); clamped at the poles like geojson-vt. */
export function latToY(lat: number): number {
  const sin = Math.sin((lat * Math.PI) / 180);
  const y = 0.5 - (0.25 * Math.log((1 + sin) / (1 - sin))) / Math.PI;
  return y < 0 ? 0 : y > 1 ? 1 : y;
}

export function xToLon(x: number): number {
  return (x - 0.5) * 360;
}

export function yToLat(y: number): number {
  return (360 / Math.PI) * Math.atan(Math.exp((1 - 2 * y) * Math.PI)) - 90;
}

/** The tile's square in the mercator unit square: [minX, minY, maxX, maxY], y down. */
export function tileUnitBounds(z: number, x: number, y: number): [number, number, number, number] {
  const n = 2 ** z;
  return [x / n, y / n, (x + 1) / n, (y + 1) / n];
}

/** The tile's bounds in degrees: [west, south, east, north]. */
export function tileLonLatBounds(z: number, x: number, y: number): [number, number, number, number] {
  const [x0, y0, x1, y1] = tileUnitBounds(z, x, y);
  return [xToLon(x0), yToLat(y1), xToLon(x1), yToLat(y0)];
}

/** The tile containing a point at zoom z (points on a tile edge belong to the tile east/south of it). */
export function tileForLonLat(lon: number, lat: number, z: number): TileCoord {
  const n = 2 ** z;
  const clamp = (v: number) => Math.min(n - 1, Math.max(0, Math.floor(v * n)));
  return { z, x: clamp(lonToX(lon)), y: clamp(latToY(lat)) };
}
