import type { ParsedUrlQuery } from 'node:querystring';
import { badParameter } from './errors.ts';
import type { BBox, TimeFilter } from '../store/features.ts';
import { DATUMS, parseDatum, type Datum } from '../position/datum.ts';

/**
 * A query parameter a route declares: how to parse it, and how the OpenAPI document describes it.
 * Routes accept exactly what they declare; anything else is a 400 (OGC API - Features, /req/core/query-param-unknown).
 */
export interface ParamSpec<T, N extends string = string> {
  name: N;
  description: string;
  schema: Record<string, unknown>;
  style?: 'form';
  explode?: boolean;
  parse(raw: string): T;
}

type Parsed<S extends readonly ParamSpec<unknown>[]> = {
  [P in S[number] as P['name']]?: P extends ParamSpec<infer T, string> ? T : never;
};

export function readParams<const S extends readonly ParamSpec<unknown>[]>(query: ParsedUrlQuery, specs: S): Parsed<S> {
  const byName = new Map(specs.map((s) => [s.name, s] as const));
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(query)) {
    const spec = byName.get(name);
    if (!spec) {
      throw badParameter(name, `unknown parameter; this endpoint accepts ${[...byName.keys()].join(', ')}`);
    }
    if (Array.isArray(value)) throw badParameter(name, 'given more than once');
    out[name] = spec.parse(value ?? '');
  }
  return out as Parsed<S>;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export const formatParam: ParamSpec<'json', 'f'> = {
  name: 'f',
  description: 'Response format; only json is offered.',
  schema: { type: 'string', enum: ['json'] },
  parse(raw) {
    if (raw !== 'json') throw badParameter('f', 'only f=json is supported', raw);
    return 'json';
  },
};

/** `f` for a route that answers in several formats (json, html, svg …). */
export function formatsParam<const F extends readonly string[]>(formats: F, description: string): ParamSpec<F[number], 'f'> {
  return {
    name: 'f', description, schema: { type: 'string', enum: [...formats] },
    parse(raw) {
      if (!(formats as readonly string[]).includes(raw)) throw badParameter('f', `one of ${formats.join(', ')}`, raw);
      return raw as F[number];
    },
  };
}

export const apiKeyParam: ParamSpec<string, 'api_key'> = {
  name: 'api_key',
  description: 'API key, for clients that cannot send the X-API-Key header (map tile requests).',
  schema: { type: 'string' },
  parse: (raw) => raw,
};

export const bboxParam: ParamSpec<BBox, 'bbox'> = {
  name: 'bbox',
  description: 'minLon,minLat,maxLon,maxLat in CRS84; minLon > maxLon crosses the antimeridian.',
  schema: { type: 'array', minItems: 4, maxItems: 4, items: { type: 'number' } },
  style: 'form',
  explode: false,
  parse(raw) {
    const parts = raw.split(',');
    if (parts.length !== 4) {
      throw badParameter('bbox', `expected 4 numbers minLon,minLat,maxLon,maxLat, got ${parts.length}`, raw);
    }
    const nums = parts.map((p) => (NUMBER.test(p.trim()) ? Number(p) : NaN));
    if (nums.some((n) => !Number.isFinite(n))) throw badParameter('bbox', 'every value must be a number', raw);
    const [minx, miny, maxx, maxy] = nums as BBox;
    if ([minx, maxx].some((x) => x < -180 || x > 180)) throw badParameter('bbox', 'longitudes must lie in [-180, 180]', raw);
    if ([miny, maxy].some((y) => y < -90 || y > 90)) throw badParameter('bbox', 'latitudes must lie in [-90, 90]', raw);
    if (miny > maxy) throw badParameter('bbox', 'minLat must not exceed maxLat', raw);
    return [minx, miny, maxx, maxy];
  },
};

const DATE_TIME = /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2}))?$/;

function parseInstant(raw: string, parameter: string): Date {
  const text = raw.trim();
  if (!DATE_TIME.test(text)) {
    throw badParameter(parameter, `"${raw}" is not an RFC 3339 date-time (e.g. 2020-06-01T00:00:00Z) or a date (2020-06-01)`, raw);
  }
  // A bare date means the start of that day in UTC.
  const d = new Date(text.length === 10 ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(d.getTime())) throw badParameter(parameter, `"${raw}" is not a valid date`, raw);
  return d;
}

export function timeParam<N extends string>(name: N, description: string, allowInterval: boolean): ParamSpec<TimeFilter, N> {
  return {
    name,
    description,
    schema: { type: 'string' },
    parse(raw) {
      if (!raw.includes('/')) return { kind: 'instant', at: parseInstant(raw, name) };
      if (!allowInterval) throw badParameter(name, 'only an instant is accepted here, not an interval', raw);
      const [a, b, ...rest] = raw.split('/');
      if (rest.length > 0) throw badParameter(name, 'an interval has exactly one "/"', raw);
      const open = (s: string) => s === '' || s === '..';
      const start = open(a!) ? null : parseInstant(a!, name);
      const end = open(b!) ? null : parseInstant(b!, name);
      if (start && end && start > end) throw badParameter(name, 'the interval ends before it starts', raw);
      return { kind: 'interval', start, end };
    },
  };
}

export const datetimeParam = timeParam(
  'datetime',
  'An instant reads the city as of then (default: now); an interval start/end (either end may be "..") returns every version overlapping it.',
  true,
);

export function integerParam<N extends string>(name: N, description: string, min: number, max: number, clampAbove: boolean): ParamSpec<number, N> {
  return {
    name,
    description,
    schema: { type: 'integer', minimum: min, maximum: max },
    parse(raw) {
      if (!/^[+-]?\d+$/.test(raw.trim())) throw badParameter(name, 'must be a whole number', raw);
      const n = Number(raw);
      if (n < min) throw badParameter(name, `must be at least ${min}`, raw);
      if (n > max) {
        if (clampAbove) return max;
        throw badParameter(name, `must be at most ${max}`, raw);
      }
      return n;
    },
  };
}

export const MAX_LIMIT = 10_000;
// OGC API - Features /req/core/fc-limit-response-1: a limit above the maximum is served at the maximum, not refused.
export const limitParam = integerParam('limit', `Features per page, 1 to ${MAX_LIMIT} (larger values are served as ${MAX_LIMIT}); default 10.`, 1, MAX_LIMIT, true);
export const offsetParam = integerParam('offset', 'Features to skip; the next and prev links carry it.', 0, Number.MAX_SAFE_INTEGER, false);

export const propertiesParam: ParamSpec<string[], 'properties'> = {
  name: 'properties',
  description: 'Comma-separated attribute names to include; unknown names are refused.',
  schema: { type: 'array', items: { type: 'string' } },
  style: 'form',
  explode: false,
  parse(raw) {
    const names = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (names.length === 0) throw badParameter('properties', 'name at least one property', raw);
    return names;
  },
};

/** The datum of coordinates in and out for positions and assets (never stored: the store is CGCS2000). */
export const crsParam: ParamSpec<Datum, 'crs'> = {
  name: 'crs',
  description: 'Datum of coordinates in and out: CRS84 (default; WGS84 lon/lat), EPSG:4490 (CGCS2000, the store\'s datum, within centimetres of WGS84), GCJ02 (AMap, Tencent) or BD09 (Baidu).',
  schema: { type: 'string', enum: [...DATUMS], default: 'CRS84' },
  parse(raw) {
    const d = parseDatum(raw);
    if (!d) throw badParameter('crs', `unknown datum; use one of ${DATUMS.join(', ')}`, raw);
    return d;
  },
};


export function numberParam<N extends string>(name: N, description: string, min: number, max: number, unit = ''): ParamSpec<number, N> {
  return {
    name,
    description,
    schema: { type: 'number', minimum: min, maximum: max },
    parse(raw) {
      if (!NUMBER.test(raw.trim())) throw badParameter(name, 'must be a number', raw);
      const n = Number(raw);
      if (!(n >= min && n <= max)) throw badParameter(name, `must lie in [${min}, ${max}]${unit}`, raw);
      return n;
    },
  };
}
