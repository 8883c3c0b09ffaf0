import proj4 from 'proj4';
import { bd09ToWgs84, gcj02ToWgs84, wgs84ToBd09, wgs84ToGcj02 } from './china-offsets.ts';

/**
 * The coordinate reference systems the importer accepts, and transformers to and from CGCS2000
 * geographic (EPSG:4490), the datum everything is stored in.
 *
 * The definitions are generated from the rules that define each family (zone number → central
 * meridian → false easting), not pasted; test/crs.test.ts checks every one against PostGIS's
 * spatial_ref_sys and against PROJ's ST_Transform.
 *
 * Datum shifts: WGS84, CGCS2000 and NAD83 are all treated as the same datum. WGS84 ↔ CGCS2000
 * differ by centimetres (BRIEF); NAD83(original) ↔ WGS84 by 1–2 m, which is also what PROJ does
 * for these pairs (EPSG has no better transformation to CGCS2000, so PROJ uses a "ballpark"
 * identity). GCJ-02/BD-09 are offsets applied to WGS84 lon/lat (china-offsets.ts).
 */

export type CrsKind = 'geographic' | 'projected' | 'china-offset';

export interface CrsInfo {
  /** 'EPSG:4549', 'CRS84', 'GCJ02' or 'BD09'. */
  readonly code: string;
  readonly name: string;
  readonly kind: CrsKind;
  /**
   * The order of the two numbers as our sources carry them (GeoJSON, Shapefile, CSV x/y):
   * longitude first for geographic systems, easting first for projected ones. This is the GIS
   * convention, not the EPSG registry's axis order (which is lat/lon for EPSG:4326/4490 and
   * northing/easting for the CGCS2000 Gauss-Krüger zones).
   */
  readonly axisOrder: 'lonlat' | 'xy';
  readonly proj4?: string;
  /**
   * Where coordinates in this CRS can plausibly lie, in its own units [minX, minY, maxX, maxY].
   * For zoned projections this is the zone's strip widened to ±4.5° (3° zones) or ±6° (6° zones)
   * from the central meridian, over the latitudes the family is used at: data often runs past a
   * zone edge, and a province-wide data set (Fujian spans 115.8–120.7°E) may sit in one zone.
   * It is for inference and "wrong CRS?" range checks, not for clipping.
   */
  readonly bounds?: readonly [number, number, number, number];
}

/** A point transformer. Returns NaN coordinates for points outside the projection's domain. */
export type CoordTransform = (x: number, y: number, z?: number) => [number, number] | [number, number, number];

interface CrsDef {
  code: string;
  name: string;
  kind: CrsKind;
  proj4?: string;
  /** Longitude band and latitude range the bounds are computed from (projected CRSs). */
  area?: { lonMin: number; lonMax: number; latMin: number; latMax: number };
  /** Zone-prefixed eastings: the easting range the prefix allows, so that bounds never overlap a neighbour's. */
  prefixZone?: number;
  bounds?: [number, number, number, number];
}

const WORLD_LONLAT: [number, number, number, number] = [-180, -90, 180, 90];
/** EPSG:3857's own valid area: ±180° and ±85.06°, the square of the Web Mercator world. */
const WEB_MERCATOR_EXTENT = 20037508.342789244;

/** Latitudes at which the CGCS2000 zones are used: China including the South China Sea islands. */
const CHINA_LAT_MIN = 0;
const CHINA_LAT_MAX = 56;

const CGCS2000_GEOGRAPHIC = '+proj=longlat +ellps=GRS80 +no_defs';

function tmercGrs80(lon0: number, falseEasting: number): string {
  return `+proj=tmerc +lat_0=0 +lon_0=${lon0} +k=1 +x_0=${falseEasting} +y_0=0 +ellps=GRS80 +units=m +no_defs`;
}

function buildDefinitions(): Map<string, CrsDef> {
  const defs = new Map<string, CrsDef>();
  const add = (def: CrsDef): void => {
    defs.set(def.code, def);
  };

  add({ code: 'EPSG:4490', name: 'China Geodetic Coordinate System 2000 (CGCS2000)', kind: 'geographic', proj4: CGCS2000_GEOGRAPHIC, bounds: WORLD_LONLAT });
  add({ code: 'EPSG:4326', name: 'WGS 84', kind: 'geographic', proj4: '+proj=longlat +datum=WGS84 +no_defs', bounds: WORLD_LONLAT });
  add({ code: 'CRS84', name: 'WGS 84 (OGC:CRS84, longitude first)', kind: 'geographic', proj4: '+proj=longlat +datum=WGS84 +no_defs', bounds: WORLD_LONLAT });
  add({
    code: 'EPSG:3857',
    name: 'WGS 84 / Pseudo-Mercator',
    kind: 'projected',
    proj4: '+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs',
    bounds: [-WEB_MERCATOR_EXTENT, -WEB_MERCATOR_EXTENT, WEB_MERCATOR_EXTENT, WEB_MERCATOR_EXTENT],
  });

  // CGCS2000 Gauss-Krüger (GB/T 20257 / EPSG): four families of 6° and 3° zones over 75°E–135°E.
  // 6° zone n has its central meridian at 6n − 3; 3° zone n at 3n. The "zone" variants prefix
  // the zone number to the false easting (zone·10⁶ + 500 000), the "CM" variants do not.
  for (let zone = 13; zone <= 23; zone++) {
    const cm = 6 * zone - 3;
    const code = 4491 + (zone - 13);
    add({
      code: `EPSG:${code}`,
      name: `CGCS2000 / Gauss-Kruger zone ${zone}`,
      kind: 'projected',
      proj4: tmercGrs80(cm, zone * 1_000_000 + 500_000),
      prefixZone: zone,
      area: { lonMin: cm - 6, lonMax: cm + 6, latMin: CHINA_LAT_MIN, latMax: CHINA_LAT_MAX },
    });
    add({
      code: `EPSG:${4502 + (zone - 13)}`,
      name: `CGCS2000 / Gauss-Kruger CM ${cm}E`,
      kind: 'projected',
      proj4: tmercGrs80(cm, 500_000),
      area: { lonMin: cm - 6, lonMax: cm + 6, latMin: CHINA_LAT_MIN, latMax: CHINA_LAT_MAX },
    });
  }
  for (let zone = 25; zone <= 45; zone++) {
    const cm = 3 * zone;
    add({
      code: `EPSG:${4513 + (zone - 25)}`,
      name: `CGCS2000 / 3-degree Gauss-Kruger zone ${zone}`,
      kind: 'projected',
      proj4: tmercGrs80(cm, zone * 1_000_000 + 500_000),
      prefixZone: zone,
      area: { lonMin: cm - 4.5, lonMax: cm + 4.5, latMin: CHINA_LAT_MIN, latMax: CHINA_LAT_MAX },
    });
    add({
      code: `EPSG:${4534 + (zone - 25)}`,
      name: `CGCS2000 / 3-degree Gauss-Kruger CM ${cm}E`,
      kind: 'projected',
      proj4: tmercGrs80(cm, 500_000),
      area: { lonMin: cm - 4.5, lonMax: cm + 4.5, latMin: CHINA_LAT_MIN, latMax: CHINA_LAT_MAX },
    });
  }

  for (let zone = 1; zone <= 60; zone++) {
    const cm = 6 * zone - 183;
    const band = { lonMin: cm - 4.5, lonMax: cm + 4.5 };
    add({
      code: `EPSG:${32600 + zone}`,
      name: `WGS 84 / UTM zone ${zone}N`,
      kind: 'projected',
      proj4: `+proj=utm +zone=${zone} +datum=WGS84 +units=m +no_defs`,
      area: { ...band, latMin: 0, latMax: 84 },
    });
    add({
      code: `EPSG:${32700 + zone}`,
      name: `WGS 84 / UTM zone ${zone}S`,
      kind: 'projected',
      proj4: `+proj=utm +zone=${zone} +south +datum=WGS84 +units=m +no_defs`,
      area: { ...band, latMin: -80, latMax: 0 },
    });
  }
  for (let zone = 1; zone <= 23; zone++) {
    const cm = 6 * zone - 183;
    add({
      code: `EPSG:${26900 + zone}`,
      name: `NAD83 / UTM zone ${zone}N`,
      kind: 'projected',
      proj4: `+proj=utm +zone=${zone} +datum=NAD83 +units=m +no_defs`,
      area: { lonMin: cm - 4.5, lonMax: cm + 4.5, latMin: 0, latMax: 84 },
    });
  }

  add({ code: 'GCJ02', name: 'GCJ-02 (AMap/Tencent offset of WGS 84)', kind: 'china-offset', bounds: WORLD_LONLAT });
  add({ code: 'BD09', name: 'BD-09 (Baidu offset of GCJ-02)', kind: 'china-offset', bounds: WORLD_LONLAT });
  return defs;
}

const DEFINITIONS = buildDefinitions();
const RESOLVED = new Map<string, CrsInfo>();

/** The subset of a proj4 projection object the fast path uses (proj4js keeps these untyped). */
interface ProjInternals {
  projName?: string;
  to_meter?: number;
  from_greenwich?: number;
  forward(p: { x: number; y: number }): { x: number; y: number } | null;
  inverse(p: { x: number; y: number }): { x: number; y: number } | null;
}

const projCache = new Map<string, ProjInternals>();

function projFor(crs: CrsInfo): ProjInternals {
  const def = crs.proj4;
  if (!def) throw new Error(`${crs.code} has no proj4 definition`);
  let proj = projCache.get(crs.code);
  if (!proj) {
    proj = new proj4.Proj(def) as unknown as ProjInternals;
    // The fast path below calls the projection's own forward/inverse and skips proj4's generic
    // pipeline (unit scaling, prime meridian, datum shift). Every definition here is in metres on
    // Greenwich with a datum we treat as CGCS2000; refuse anything else rather than be wrong.
    if ((proj.to_meter !== undefined && proj.to_meter !== 1) || proj.from_greenwich) {
      throw new Error(`${crs.code}: only metre-based, Greenwich-referenced projections are supported`);
    }
    projCache.set(crs.code, proj);
  }
  return proj;
}

const DEG = 180 / Math.PI;
const RAD = Math.PI / 180;

function computeBounds(def: CrsDef, info: CrsInfo): [number, number, number, number] | undefined {
  if (def.bounds) return def.bounds;
  if (!def.area) return undefined;
  const proj = projFor(info);
  const { lonMin, lonMax, latMin, latMax } = def.area;
  const lons = [lonMin, (lonMin + lonMax) / 2, lonMax];
  const lats = [latMin, latMax];
  // A transverse Mercator strip is widest at the equator and reaches furthest north at its edges.
  if (latMin < 0 && latMax > 0) lats.push(0);
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const lon of lons) {
    for (const lat of lats) {
      const p = proj.forward({ x: lon * RAD, y: lat * RAD });
      if (!p || !Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
      minX = Math.min(minX, p.x);
      maxX = Math.max(maxX, p.x);
      minY = Math.min(minY, p.y);
      maxY = Math.max(maxY, p.y);
    }
  }
  if (def.prefixZone !== undefined) {
    minX = Math.max(minX, def.prefixZone * 1_000_000);
    maxX = Math.min(maxX, def.prefixZone * 1_000_000 + 999_999);
  }
  const round = (v: number): number => Math.round(v);
  return [round(minX), round(minY), round(maxX), round(maxY)];
}

function infoFor(def: CrsDef): CrsInfo {
  let info = RESOLVED.get(def.code);
  if (info) return info;
  const base: CrsInfo = {
    code: def.code,
    name: def.name,
    kind: def.kind,
    axisOrder: def.kind === 'projected' ? 'xy' : 'lonlat',
    ...(def.proj4 ? { proj4: def.proj4 } : {}),
  };
  const bounds = computeBounds(def, base);
  info = Object.freeze(bounds ? { ...base, bounds: Object.freeze(bounds) as CrsInfo['bounds'] } : base);
  RESOLVED.set(def.code, info);
  return info;
}

const ALIASES: Record<string, string> = {
  crs84: 'CRS84',
  'ogc:crs84': 'CRS84',
  'urn:ogc:def:crs:ogc:1.3:crs84': 'CRS84',
  'urn:ogc:def:crs:ogc::crs84': 'CRS84',
  'http://www.opengis.net/def/crs/ogc/1.3/crs84': 'CRS84',
  'https://www.opengis.net/def/crs/ogc/1.3/crs84': 'CRS84',
  wgs84: 'EPSG:4326',
  'wgs 84': 'EPSG:4326',
  cgcs2000: 'EPSG:4490',
  gcj02: 'GCJ02',
  'gcj-02': 'GCJ02',
  gcj_02: 'GCJ02',
  bd09: 'BD09',
  'bd-09': 'BD09',
  bd_09: 'BD09',
  // Baidu's own name for BD-09 longitude/latitude (as opposed to bd09mc, its Mercator metres).
  bd09ll: 'BD09',
  // Web Mercator's historical codes, still written by ArcGIS (wkid 102100) and old OpenLayers.
  'esri:102100': 'EPSG:3857',
  'epsg:102100': 'EPSG:3857',
  'epsg:900913': 'EPSG:3857',
};

const EPSG_FORMS = [
  /^(?:epsg:)?(\d+)$/,
  /^urn:ogc:def:crs:epsg:[\d.]*:(\d+)$/,
  /^https?:\/\/www\.opengis\.net\/def\/crs\/epsg\/[\d.]+\/(\d+)$/,
];

/** The codes resolveCrs accepts, for messages and for trying candidates. */
export function supportedCrsCodes(): string[] {
  return [...DEFINITIONS.keys()];
}

export const SUPPORTED_CRS_SUMMARY = 'EPSG:4490 (CGCS2000), EPSG:4326 and CRS84 (WGS 84), EPSG:3857 (Web Mercator), '
  + 'EPSG:4491–4554 (CGCS2000 Gauss-Krüger: 4491–4501 6° zones 13–23, 4502–4512 6° CM 75E–135E, '
  + '4513–4533 3° zones 25–45, 4534–4554 3° CM 75E–135E), EPSG:32601–32660 and 32701–32760 (WGS 84 UTM), '
  + 'EPSG:26901–26923 (NAD83 UTM), GCJ02, BD09';

/** Looks a CRS up by any of its usual spellings; undefined when unknown. */
export function findCrs(name: string): CrsInfo | undefined {
  const key = name.trim().toLowerCase();
  const alias = ALIASES[key];
  if (alias) return infoFor(DEFINITIONS.get(alias)!);
  for (const form of EPSG_FORMS) {
    const m = form.exec(key);
    if (m) {
      const def = DEFINITIONS.get(`EPSG:${Number(m[1])}`);
      return def ? infoFor(def) : undefined;
    }
  }
  return undefined;
}

/**
 * Resolves 'EPSG:4549', '4549', 'urn:ogc:def:crs:EPSG::4549',
 * 'http://www.opengis.net/def/crs/EPSG/0/4549', 'CRS84', 'OGC:CRS84', 'GCJ-02', 'BD09', …
 * (case-insensitive). Throws an Error naming what is supported otherwise.
 */
export function resolveCrs(name: string): CrsInfo {
  const info = findCrs(name);
  if (info) return info;
  throw new Error(
    `Unknown or unsupported CRS "${name}". Supported: ${SUPPORTED_CRS_SUMMARY}. `
    + 'Fujian survey data is usually EPSG:4549 (CGCS2000 3-degree Gauss-Kruger CM 120E) or EPSG:4548 (CM 117E); '
    + 'an 8-digit easting starting with 39 or 40 means EPSG:4527 or EPSG:4528.',
  );
}

/** Whether (x, y) lies within the CRS's plausible area (see CrsInfo.bounds). */
export function withinBounds(crs: CrsInfo, x: number, y: number): boolean {
  const b = crs.bounds;
  if (!b) return Number.isFinite(x) && Number.isFinite(y);
  return x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3];
}

function identity(x: number, y: number, z?: number): [number, number] | [number, number, number] {
  return z === undefined ? [x, y] : [x, y, z];
}

function fromLonLatPair(fn: (lon: number, lat: number) => [number, number]): CoordTransform {
  return (x, y, z) => {
    const p = fn(x, y);
    if (z !== undefined) return [p[0], p[1], z];
    return p;
  };
}

/**
 * A transformer from `crs` to CGCS2000 lon/lat (EPSG:4490). Build it once per import and call it
 * for every point: the projection is initialised here, and each call allocates only its result.
 * Z passes through unchanged (metres).
 */
export function toCgcs2000(crs: CrsInfo): CoordTransform {
  if (crs.kind === 'geographic') return identity;
  if (crs.code === 'GCJ02') return fromLonLatPair(gcj02ToWgs84);
  if (crs.code === 'BD09') return fromLonLatPair(bd09ToWgs84);
  const proj = projFor(crs);
  // One scratch point, reused: proj4's projections write their result into the object passed in.
  const scratch = { x: 0, y: 0 };
  return (x, y, z) => {
    scratch.x = x;
    scratch.y = y;
    const p = Number.isFinite(x) && Number.isFinite(y) ? proj.inverse(scratch) : null;
    let lon = NaN;
    let lat = NaN;
    if (p && Number.isFinite(p.x) && Number.isFinite(p.y)) {
      lon = p.x * DEG;
      lat = p.y * DEG;
    }
    return z === undefined ? [lon, lat] : [lon, lat, z];
  };
}

/** The reverse of toCgcs2000: CGCS2000 lon/lat to `crs` (for the coordinate-transform endpoint). */
export function fromCgcs2000(crs: CrsInfo): CoordTransform {
  if (crs.kind === 'geographic') return identity;
  if (crs.code === 'GCJ02') return fromLonLatPair(wgs84ToGcj02);
  if (crs.code === 'BD09') return fromLonLatPair(wgs84ToBd09);
  const proj = projFor(crs);
  const scratch = { x: 0, y: 0 };
  return (lon, lat, z) => {
    let x = NaN;
    let y = NaN;
    if (Number.isFinite(lon) && Math.abs(lat) <= 90) {
      scratch.x = lon * RAD;
      scratch.y = lat * RAD;
      const p = proj.forward(scratch);
      if (p && Number.isFinite(p.x) && Number.isFinite(p.y)) {
        x = p.x;
        y = p.y;
      }
    }
    return z === undefined ? [x, y] : [x, y, z];
  };
}
