import { findCrs, type CrsInfo } from './registry.ts';

/**
 * Recognises the CRS of a Shapefile's .prj (or any WKT: ESRI-flavoured WKT1 as ArcGIS and GDAL
 * write it, OGC WKT1, WKT2 2015/2019).
 *
 * The parameters decide. An AUTHORITY/ID code or a well-known name (CGCS2000_3_Degree_GK_CM_120E,
 * WGS_1984_UTM_Zone_50N, …) must agree with them, and only picks among definitions that are the
 * same mathematically (the 3° and the 6° CM 117E zones are one projection). A file whose label
 * and parameters disagree, whose datum is not one we treat as CGCS2000 (Beijing 1954 and
 * Xian 1980 are 50–100 m off and also use Gauss-Krüger), or whose units are not metres, gives
 * undefined: asking the user for --crs beats importing a city 100 m off.
 *
 * A small parser of our own rather than proj4's: it keeps the tree (proj4's flattens WKT2 and
 * ESRI names into one bag of keys), and it never throws on the garbage a .prj can hold.
 */

export interface WktNode {
  keyword: string;
  args: WktValue[];
}
export type WktValue = WktNode | string | number;

const isNode = (v: WktValue | undefined): v is WktNode => typeof v === 'object' && v !== null;

const MAX_WKT_DEPTH = 32;

/** Parses WKT into a tree; undefined when it is not well-formed. */
export function parseWkt(text: string): WktNode | undefined {
  let i = 0;
  const s = text.replace(/^\uFEFF/, '');
  const ws = (): void => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  // Real WKT nests about six deep; a limit keeps hostile input from exhausting the stack.
  let depth = 0;
  const node = (): WktNode | undefined => {
    if (++depth > MAX_WKT_DEPTH) return undefined;
    try {
      return nodeBody();
    } finally {
      depth--;
    }
  };
  const nodeBody = (): WktNode | undefined => {
    ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i, i + 64));
    if (!m) return undefined;
    const keyword = m[0].toUpperCase();
    i += m[0].length;
    ws();
    const open = s[i];
    if (open !== '[' && open !== '(') return undefined;
    const close = open === '[' ? ']' : ')';
    i++;
    const args: WktValue[] = [];
    ws();
    if (s[i] === close) {
      i++;
      return { keyword, args };
    }
    for (;;) {
      const v = value();
      if (v === undefined) return undefined;
      args.push(v);
      ws();
      if (s[i] === ',') {
        i++;
        continue;
      }
      if (s[i] === close) {
        i++;
        return { keyword, args };
      }
      return undefined;
    }
  };
  const value = (): WktValue | undefined => {
    ws();
    const c = s[i];
    if (c === undefined) return undefined;
    if (c === '"') {
      let out = '';
      i++;
      for (;;) {
        const j = s.indexOf('"', i);
        if (j < 0) return undefined;
        out += s.slice(i, j);
        i = j + 1;
        // WKT escapes a quote inside a string by doubling it.
        if (s[i] === '"') {
          out += '"';
          i++;
          continue;
        }
        return out;
      }
    }
    const num = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/.exec(s.slice(i, i + 64));
    if (num) {
      i += num[0].length;
      return Number(num[0]);
    }
    const start = i;
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i, i + 64));
    if (!word) return undefined;
    i += word[0].length;
    ws();
    if (s[i] === '[' || s[i] === '(') {
      i = start;
      return node();
    }
    // A bare enumeration value: AXIS["Easting",EAST], CS[Cartesian,2].
    return word[0];
  };
  const root = node();
  ws();
  if (!root || i !== s.length) return undefined;
  return root;
}

const children = (n: WktNode, ...keywords: string[]): WktNode[] =>
  n.args.filter((a): a is WktNode => isNode(a) && keywords.includes(a.keyword));
const child = (n: WktNode, ...keywords: string[]): WktNode | undefined => children(n, ...keywords)[0];
const nameOf = (n: WktNode | undefined): string => (n && typeof n.args[0] === 'string' ? n.args[0] : '');
const num = (v: WktValue | undefined): number | undefined => (typeof v === 'number' ? v : undefined);
/** Lower-case letters and digits only: "CGCS2000 / 3-degree Gauss-Kruger CM 120E" → "cgcs20003degreegausskrugercm120e". */
const squash = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]/g, '');

const PROJECTED = ['PROJCS', 'PROJCRS', 'PROJECTEDCRS'];
const GEOGRAPHIC = ['GEOGCS', 'GEOGCRS', 'GEOGRAPHICCRS', 'GEODCRS', 'GEODETICCRS', 'BASEGEOGCRS', 'BASEGEODCRS'];
const DEGREE_IN_RADIANS = Math.PI / 180;

/** The horizontal CRS inside compound and bound CRSs. */
function horizontal(root: WktNode): WktNode | undefined {
  if (PROJECTED.includes(root.keyword) || GEOGRAPHIC.includes(root.keyword)) return root;
  if (root.keyword === 'COMPD_CS' || root.keyword === 'COMPOUNDCRS') {
    for (const c of root.args) if (isNode(c)) {
      const h = horizontal(c);
      if (h) return h;
    }
  }
  if (root.keyword === 'BOUNDCRS') {
    const source = child(root, 'SOURCECRS');
    const inner = source?.args.find(isNode);
    return inner ? horizontal(inner) : undefined;
  }
  return undefined;
}

function epsgCode(n: WktNode): number | undefined {
  for (const id of children(n, 'AUTHORITY', 'ID')) {
    if (typeof id.args[0] === 'string' && id.args[0].toUpperCase() === 'EPSG') {
      const code = Number(id.args[1]);
      if (Number.isInteger(code)) return code;
    }
  }
  return undefined;
}

type Datum = 'cgcs2000' | 'wgs84' | 'nad83' | 'unknown-grs80' | 'web-mercator-sphere' | 'other';

interface Ellipsoid { a: number; rf: number }

function ellipsoidOf(geog: WktNode): Ellipsoid | undefined {
  const datum = child(geog, 'DATUM', 'GEODETICDATUM', 'TRF', 'ENSEMBLE');
  const ell = datum && child(datum, 'SPHEROID', 'ELLIPSOID');
  if (!ell) return undefined;
  const a = num(ell.args[1]);
  const rf = num(ell.args[2]);
  return a !== undefined && rf !== undefined ? { a, rf } : undefined;
}

const near = (a: number | undefined, b: number, tol: number): boolean => a !== undefined && Math.abs(a - b) <= tol;
const isGrs80 = (e: Ellipsoid): boolean => near(e.a, 6378137, 1e-3) && near(e.rf, 298.257222101, 1e-6);
const isWgs84Ellipsoid = (e: Ellipsoid): boolean => near(e.a, 6378137, 1e-3) && near(e.rf, 298.257223563, 1e-6);

function classifyDatum(geog: WktNode): Datum {
  const datumNode = child(geog, 'DATUM', 'GEODETICDATUM', 'TRF', 'ENSEMBLE');
  const ell = ellipsoidOf(geog);
  if (!datumNode || !ell) return 'other';
  const name = squash(nameOf(datumNode));
  // ArcGIS's old Web Mercator (wkid 102113) states its sphere as a datum of its own.
  if (near(ell.a, 6378137, 1e-3) && ell.rf === 0) return 'web-mercator-sphere';
  if (/china2000|cgcs2000|chinageodeticcoordinatesystem2000/.test(name)) return isGrs80(ell) ? 'cgcs2000' : 'other';
  if (/wgs1984|wgs84|worldgeodeticsystem1984/.test(name)) return isWgs84Ellipsoid(ell) ? 'wgs84' : 'other';
  // NAD83 realisations (CSRS, HARN, 2011) are not what EPSG:269xx means; leave them to --crs.
  if (/northamerican(datum)?1983|nad83/.test(name)) {
    return isGrs80(ell) && !/csrs|harn|2011|nsrs|cors|ma11|pa11/.test(name) ? 'nad83' : 'other';
  }
  if (isGrs80(ell) && /^(d)?(unknown|unnamed|notspecified)/.test(name)) return 'unknown-grs80';
  return 'other';
}

/** Angle unit of a geographic CRS, as radians per unit (degree unless stated). */
function angleUnit(geog: WktNode): number {
  // WKT1 states it on the CRS; WKT2 on each axis.
  const axis = child(geog, 'AXIS');
  const u = child(geog, 'UNIT', 'ANGLEUNIT') ?? (axis && child(axis, 'ANGLEUNIT', 'UNIT'));
  return num(u?.args[1]) ?? DEGREE_IN_RADIANS;
}

function primeMeridianIsGreenwich(geog: WktNode): boolean {
  const pm = child(geog, 'PRIMEM', 'PRIMEMERIDIAN');
  return !pm || num(pm.args[1]) === 0;
}

/** Every linear unit stated for the projected CRS, in metres per unit. */
function linearUnits(proj: WktNode): number[] {
  const out: number[] = [];
  for (const u of children(proj, 'UNIT', 'LENGTHUNIT')) out.push(num(u.args[1]) ?? NaN);
  const cs = proj.args.filter(isNode).filter((n) => n.keyword === 'AXIS');
  for (const axis of cs) for (const u of children(axis, 'LENGTHUNIT', 'UNIT')) out.push(num(u.args[1]) ?? NaN);
  return out;
}

interface ProjectionParams {
  method: string;
  params: Map<string, number>;
}

const PARAM_ALIASES: Record<string, string> = {
  centralmeridian: 'lon0',
  longitudeofnaturalorigin: 'lon0',
  longitudeoforigin: 'lon0',
  longitudeofcenter: 'lon0',
  latitudeoforigin: 'lat0',
  latitudeofnaturalorigin: 'lat0',
  latitudeofcenter: 'lat0',
  scalefactor: 'k',
  scalefactoratnaturalorigin: 'k',
  falseeasting: 'x0',
  falsenorthing: 'y0',
  standardparallel1: 'latTs',
  latitudeof1ststandardparallel: 'latTs',
  auxiliaryspheretype: 'auxSphere',
};

const ANGULAR_PARAMS = new Set(['lon0', 'lat0', 'latTs']);

function projectionParams(proj: WktNode, geogAngle: number): ProjectionParams {
  // WKT1: PROJECTION[...] and PARAMETER[...] directly under PROJCS; WKT2: METHOD and PARAMETER
  // under CONVERSION, each parameter carrying its unit.
  const conversion = child(proj, 'CONVERSION', 'DERIVINGCONVERSION') ?? proj;
  const methodNode = child(conversion, 'PROJECTION', 'METHOD');
  const params = new Map<string, number>();
  for (const p of children(conversion, 'PARAMETER')) {
    const key = PARAM_ALIASES[squash(nameOf(p))];
    let value = num(p.args[1]);
    if (!key || value === undefined) continue;
    const unit = child(p, 'ANGLEUNIT', 'LENGTHUNIT', 'SCALEUNIT', 'UNIT');
    const factor = num(unit?.args[1]);
    // Snap to 1e-9° so that 120 × 0.0174532925199433 / (π/180) is 120 again, not 119.99999999999999.
    if (ANGULAR_PARAMS.has(key)) value = Math.round(((value * (factor ?? geogAngle)) / DEGREE_IN_RADIANS) * 1e9) / 1e9;
    else if (factor !== undefined && unit?.keyword !== 'SCALEUNIT') value *= factor;
    params.set(key, value);
  }
  return { method: squash(nameOf(methodNode)), params };
}

/** The codes whose definition the parameters match exactly (several only when mathematically equal). */
function codesFromParameters(pp: ProjectionParams, datum: Datum, proj: WktNode): number[] {
  const p = (k: string, dflt: number): number => pp.params.get(k) ?? dflt;
  const lon0 = p('lon0', NaN);
  const x0 = p('x0', 0);
  const y0 = p('y0', 0);
  const k = p('k', 1);
  const lat0 = p('lat0', 0);
  const eq = (a: number, b: number): boolean => Math.abs(a - b) < 1e-6;
  const m = pp.method;

  if (m === 'transversemercator' || m === 'gausskruger' || m === 'gausskrueger') {
    if (!eq(lat0, 0) || !Number.isFinite(lon0)) return [];
    if ((datum === 'cgcs2000' || datum === 'unknown-grs80') && eq(k, 1) && eq(y0, 0)) {
      const out: number[] = [];
      if (eq(x0, 500_000)) {
        if (Number.isInteger(lon0) && lon0 % 3 === 0 && lon0 >= 75 && lon0 <= 135) out.push(4534 + (lon0 - 75) / 3);
        if (Number.isInteger(lon0) && (lon0 - 75) % 6 === 0 && lon0 >= 75 && lon0 <= 135) out.push(4502 + (lon0 - 75) / 6);
        return out;
      }
      const zone = (x0 - 500_000) / 1_000_000;
      if (!Number.isInteger(zone)) return [];
      if (zone >= 25 && zone <= 45 && eq(lon0, 3 * zone)) return [4513 + zone - 25];
      if (zone >= 13 && zone <= 23 && eq(lon0, 6 * zone - 3)) return [4491 + zone - 13];
      return [];
    }
    if ((datum === 'wgs84' || datum === 'nad83') && eq(k, 0.9996) && eq(x0, 500_000)) {
      const zone = (lon0 + 183) / 6;
      if (!Number.isInteger(zone) || zone < 1 || zone > 60) return [];
      if (datum === 'wgs84') {
        if (eq(y0, 0)) return [32600 + zone];
        if (eq(y0, 10_000_000)) return [32700 + zone];
        return [];
      }
      return eq(y0, 0) && zone <= 23 ? [26900 + zone] : [];
    }
    return [];
  }

  const webMercatorParams = eq(x0, 0) && eq(y0, 0) && eq(Number.isFinite(lon0) ? lon0 : 0, 0)
    && eq(p('latTs', 0), 0) && eq(k, 1);
  if (!webMercatorParams) return [];
  if (m === 'popularvisualisationpseudomercator') return datum === 'wgs84' ? [3857] : [];
  // ESRI's Auxiliary Sphere type 0 = use the semi-major axis as the sphere's radius (Web Mercator).
  if (m === 'mercatorauxiliarysphere') return datum === 'wgs84' && eq(p('auxSphere', 0), 0) ? [3857] : [];
  if (m === 'mercator' || m === 'mercator1sp') {
    if (datum === 'web-mercator-sphere') return [3857];
    // GDAL's WKT1 for EPSG:3857 says Mercator_1SP on WGS 84 and keeps the sphere only in its
    // PROJ4 extension; without that extension this is World Mercator (EPSG:3395), ≈ 20 km apart.
    const ext = child(proj, 'EXTENSION');
    if (datum === 'wgs84' && nameOf(ext) === 'PROJ4' && typeof ext?.args[1] === 'string'
      && /\+a=6378137\b/.test(ext.args[1]) && /\+b=6378137\b/.test(ext.args[1])) return [3857];
  }
  return [];
}

/** The code a well-known CRS name stands for, if it is one. */
function codeFromName(name: string): number | undefined {
  const n = squash(name);
  let m = /^cgcs2000(3degree)?(?:gk|gausskruger|gausskrueger)(?:cm(\d+)e|zone(\d+))$/.exec(n);
  if (m) {
    const three = m[1] !== undefined;
    const cm = m[2] !== undefined ? Number(m[2]) : undefined;
    const zone = m[3] !== undefined ? Number(m[3]) : undefined;
    if (three && cm !== undefined && cm % 3 === 0 && cm >= 75 && cm <= 135) return 4534 + (cm - 75) / 3;
    if (three && zone !== undefined && zone >= 25 && zone <= 45) return 4513 + zone - 25;
    if (!three && cm !== undefined && (cm - 75) % 6 === 0 && cm >= 75 && cm <= 135) return 4502 + (cm - 75) / 6;
    if (!three && zone !== undefined && zone >= 13 && zone <= 23) return 4491 + zone - 13;
    return undefined;
  }
  m = /^wgs(?:19)?84utmzone(\d+)([ns])$/.exec(n);
  if (m) return (m[2] === 'n' ? 32600 : 32700) + Number(m[1]);
  m = /^nad(?:19)?83utmzone(\d+)n$/.exec(n);
  if (m) return 26900 + Number(m[1]);
  if (/^wgs(?:19)?84(webmercator(auxiliarysphere)?|pseudomercator)$/.test(n)) return 3857;
  if (/^(gcs|cgcs)?chinageodeticcoordinatesystem2000$|^cgcs2000$/.test(n)) return 4490;
  if (/^(gcs)?wgs(19)?84$/.test(n)) return 4326;
  return undefined;
}

function epsg(code: number): CrsInfo | undefined {
  return findCrs(`EPSG:${code}`);
}

/**
 * The CRS a .prj (WKT) describes, or undefined when it is not one we support or we are not sure.
 */
export function crsFromPrj(wkt: string): CrsInfo | undefined {
  const root = parseWkt(wkt.trim());
  if (!root) return undefined;
  const crs = horizontal(root);
  if (!crs) return undefined;
  const authority = epsgCode(crs);
  const named = codeFromName(nameOf(crs));

  let fromParams: number[];
  if (PROJECTED.includes(crs.keyword)) {
    const geog = child(crs, ...GEOGRAPHIC);
    if (!geog || !primeMeridianIsGreenwich(geog)) return undefined;
    const units = linearUnits(crs);
    if (units.some((u) => u !== 1)) return undefined;
    fromParams = codesFromParameters(projectionParams(crs, angleUnit(geog)), classifyDatum(geog), crs);
  } else {
    if (!primeMeridianIsGreenwich(crs) || Math.abs(angleUnit(crs) - DEGREE_IN_RADIANS) > 1e-12) return undefined;
    const datum = classifyDatum(crs);
    fromParams = datum === 'cgcs2000' ? [4490] : datum === 'wgs84' ? [4326] : [];
  }
  if (fromParams.length === 0) return undefined;

  // A label must agree with the parameters; it then only chooses among equal definitions.
  for (const label of [authority, named]) {
    if (label === undefined) continue;
    if (!fromParams.includes(label)) return undefined;
  }
  const chosen = authority ?? named ?? fromParams[0]!;
  return epsg(chosen);
}

/**
 * The CRS a source declares, in whatever form it came: a name such as "EPSG:4549" or
 * "urn:ogc:def:crs:OGC:1.3:CRS84" (GeoJSON crs member, --crs) or WKT (a .prj).
 */
export function crsFromDeclared(declared: string): CrsInfo | undefined {
  return findCrs(declared) ?? crsFromPrj(declared);
}
