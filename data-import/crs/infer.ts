import { findCrs, supportedCrsCodes, toCgcs2000, withinBounds, type CrsInfo } from './registry.ts';

/**
 * Guesses the CRS of a file that does not name one, from its coordinates alone.
 *
 * Every supported projected CRS that is used in China is tried as a reading of the sample: a
 * reading fits when (nearly) every point lies within the CRS's bounds and, projected back,
 * inside a coarse outline of China. Readings that are the same mathematics (3° CM 117E and
 * 6° CM 117E) count once. Exactly one fitting reading is an answer; several are "ambiguous,
 * pass --crs", with the candidates. This is what tells a zone-prefixed easting (40 357 547 →
 * EPSG:4528) from Web Mercator (13 201 378 → EPSG:3857) from a bare Gauss-Krüger easting
 * (357 547, whose central meridian no number can reveal).
 *
 * Longitude/latitude is EPSG:4490 anywhere on earth: WGS84 and CGCS2000 cannot be told apart
 * from coordinates and differ by centimetres.
 */

export interface CrsInference {
  crs?: CrsInfo;
  /** Codes of the readings that fit, most likely first (the deployment's home area first). */
  candidates: string[];
  /** One sentence for the user: what was found, and what to pass as --crs if nothing was. */
  reason: string;
}

export interface InferOptions {
  /** Where the deployment is: ambiguous candidates are ordered by how close their reading lands. Default Quanzhou. */
  near?: [number, number];
  /** Largest number of points examined; larger samples are thinned evenly. Default 500. */
  maxPoints?: number;
}

const QUANZHOU: [number, number] = [118.59, 24.91];
/** Share of points allowed to fall outside a reading (stray survey points, typos) before it fails. */
const OUTLIER_SHARE = 0.02;

/**
 * A coarse outline of China's land and claimed sea areas (lon, lat), drawn generously (tens of
 * kilometres outside the border, the coast taken far out to sea, Taiwan and the South China
 * Sea included). It only has to separate readings that land thousands of kilometres apart, such
 * as Quanzhou in Web Mercator read as a 6° Gauss-Krüger zone 13 easting (which lands in India).
 */
const CHINA_OUTLINE: ReadonlyArray<readonly [number, number]> = [
  [121.0, 54.0], [124.5, 54.0], [126.5, 53.3], [128.5, 50.2], [131.0, 49.4], [135.3, 48.6],
  [134.6, 47.3], [133.6, 45.0], [132.0, 44.8], [131.6, 43.0], [130.9, 42.2], [129.5, 42.1],
  [128.3, 41.25], [126.2, 40.95], [125.0, 39.9], [124.2, 39.4], [124.0, 37.0], [124.2, 32.0], [124.0, 26.0],
  [122.6, 21.4], [121.2, 19.8], [119.0, 14.5], [117.0, 10.5], [115.5, 7.0], [112.5, 3.2],
  [110.0, 4.5], [109.6, 8.0], [110.5, 12.0], [110.0, 16.0], [108.0, 17.6], [107.6, 21.2],
  [106.5, 22.0], [105.3, 23.1], [103.9, 22.3], [102.2, 22.1], [101.6, 20.9], [100.0, 21.2],
  [99.0, 22.0], [98.5, 23.2], [97.2, 23.7], [97.2, 24.8], [97.8, 26.5], [97.2, 28.2],
  [95.5, 27.8], [94.0, 27.3], [92.0, 26.8], [91.6, 27.6], [89.6, 27.7], [88.8, 27.0], [88.0, 27.7],
  [86.0, 27.8], [84.0, 28.1], [82.8, 29.0], [81.0, 30.0], [80.0, 30.5], [78.5, 31.3],
  [78.2, 32.4], [77.8, 35.3], [75.8, 35.9], [74.4, 37.0], [74.6, 38.5], [73.3, 39.3],
  [74.8, 40.6], [76.6, 40.8], [78.2, 41.3], [80.0, 42.0], [80.0, 43.0], [80.4, 44.2],
  [80.6, 45.2], [82.3, 45.6], [82.2, 46.4], [82.9, 47.4], [85.3, 47.3], [87.0, 49.4],
  [88.0, 49.4], [89.0, 48.3], [90.5, 47.8], [91.2, 46.0], [91.0, 45.4], [93.5, 45.2],
  [95.3, 44.6], [96.6, 43.0], [100.5, 42.9], [105.0, 41.9], [107.0, 42.5], [110.3, 43.0],
  [111.7, 44.0], [113.5, 45.0], [116.0, 45.9], [117.5, 46.9], [119.9, 46.9], [119.0, 47.7],
  [116.0, 47.7], [115.8, 48.2], [117.3, 50.0], [119.1, 50.6], [120.0, 52.0], [121.0, 53.4],
];

/** Whether a lon/lat lies inside the coarse China outline (even-odd ray casting). */
export function inChinaOutline(lon: number, lat: number): boolean {
  let inside = false;
  const ring = CHINA_OUTLINE;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

interface Reading {
  crs: CrsInfo;
  /** Centroid of the reading in lon/lat, for ordering candidates. */
  lon: number;
  lat: number;
  outliers: number;
}

/** The projected CRSs worth trying: every CGCS2000 zone, Web Mercator, and WGS 84 UTM over China. */
function projectedCandidates(): CrsInfo[] {
  const out: CrsInfo[] = [];
  for (const code of supportedCrsCodes()) {
    const n = Number(code.slice(5));
    const cgcs = n >= 4491 && n <= 4554;
    const utmChina = n >= 32643 && n <= 32653;
    if (cgcs || utmChina || n === 3857) out.push(findCrs(code)!);
  }
  return out;
}

let CANDIDATES: CrsInfo[] | undefined;

/**
 * The key shared by definitions that are the same projection: the 3° and 6° "CM" zones whose
 * central meridians coincide (75, 81, …, 135°E) give the same numbers.
 */
function mathKey(crs: CrsInfo): string {
  return crs.proj4?.replace(/\s+/g, ' ') ?? crs.code;
}

function familyRank(crs: CrsInfo): number {
  const n = Number(crs.code.slice(5));
  if (n >= 4513 && n <= 4554) return 0;
  if (n >= 4491 && n <= 4512) return 1;
  if (n >= 32601 && n <= 32760) return 2;
  return 3;
}

function thin(sample: ReadonlyArray<readonly [number, number]>, max: number): Array<[number, number]> {
  const clean: Array<[number, number]> = [];
  for (const p of sample) {
    const x = p[0];
    const y = p[1];
    // (0, 0) is the placeholder many tools write for a missing point.
    if (!Number.isFinite(x) || !Number.isFinite(y) || (x === 0 && y === 0)) continue;
    clean.push([x, y]);
  }
  if (clean.length <= max) return clean;
  const out: Array<[number, number]> = [];
  const step = clean.length / max;
  for (let i = 0; i < max; i++) out.push(clean[Math.floor(i * step)]!);
  return out;
}

function fittingReadings(points: Array<[number, number]>): Reading[] {
  CANDIDATES ??= projectedCandidates();
  const allowed = Math.floor(points.length * OUTLIER_SHARE);
  const out: Reading[] = [];
  for (const crs of CANDIDATES) {
    const toLonLat = toCgcs2000(crs);
    let outliers = 0;
    let sumLon = 0;
    let sumLat = 0;
    let inside = 0;
    for (const [x, y] of points) {
      let ok = withinBounds(crs, x, y);
      if (ok) {
        const [lon, lat] = toLonLat(x, y);
        ok = inChinaOutline(lon, lat);
        if (ok) {
          sumLon += lon;
          sumLat += lat;
          inside++;
        }
      }
      if (!ok && ++outliers > allowed) break;
    }
    if (outliers <= allowed && inside > 0) out.push({ crs, lon: sumLon / inside, lat: sumLat / inside, outliers });
  }
  return out;
}

function geographicFits(points: Array<[number, number]>): boolean {
  const allowed = Math.floor(points.length * OUTLIER_SHARE);
  let bad = 0;
  for (const [x, y] of points) if ((Math.abs(x) > 180 || Math.abs(y) > 90) && ++bad > allowed) return false;
  return true;
}

const fmt = (v: number): string => (Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(Number(v.toPrecision(8))));

function rangeText(points: Array<[number, number]>): string {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const [x, y] of points) {
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  return `x ${fmt(minX)} … ${fmt(maxX)}, y ${fmt(minY)} … ${fmt(maxY)}`;
}

interface Outcome {
  crs?: CrsInfo;
  candidates: string[];
  kind: 'geographic' | 'one' | 'ambiguous' | 'none';
  outliers: number;
}

function decide(points: Array<[number, number]>, near: [number, number]): Outcome {
  if (geographicFits(points)) {
    return { crs: findCrs('EPSG:4490')!, candidates: ['EPSG:4490'], kind: 'geographic', outliers: 0 };
  }
  const readings = fittingReadings(points);
  if (readings.length === 0) return { candidates: [], kind: 'none', outliers: 0 };
  const dist = (r: Reading): number => Math.hypot((r.lon - near[0]) * Math.cos((near[1] * Math.PI) / 180), r.lat - near[1]);
  // Survey practice first (3° Gauss-Krüger, then 6°, then UTM: the same numbers read as UTM land
  // only a kilometre away, so distance alone would interleave them), then closest to home.
  readings.sort((a, b) => familyRank(a.crs) - familyRank(b.crs) || dist(a) - dist(b));
  const distinct = new Set(readings.map((r) => mathKey(r.crs)));
  const candidates = readings.map((r) => r.crs.code);
  if (distinct.size === 1) {
    return { crs: readings[0]!.crs, candidates, kind: 'one', outliers: readings[0]!.outliers };
  }
  return { candidates, kind: 'ambiguous', outliers: 0 };
}

const FUJIAN_HINT = 'Fujian survey data is usually EPSG:4549 (CGCS2000 3-degree Gauss-Kruger CM 120E, east of 118.5°E '
  + 'incl. central Quanzhou) or EPSG:4548 (CM 117E)';

/**
 * Infers the CRS from a sample of (x, y) coordinates in the order the file gives them.
 * Returns a CRS only when exactly one supported reading fits.
 */
export function inferCrs(sample: ReadonlyArray<readonly [number, number]>, options: InferOptions = {}): CrsInference {
  const near = options.near ?? QUANZHOU;
  const points = thin(sample, options.maxPoints ?? 500);
  if (points.length === 0) {
    return { candidates: [], reason: 'No coordinates to infer the CRS from (the sample is empty, non-numeric or all 0,0); pass --crs.' };
  }
  const range = rangeText(points);
  const outcome = decide(points, near);
  const stray = (n: number): string => (n > 0 ? ` (${n} of ${points.length} sampled points lie outside it)` : '');

  if (outcome.kind === 'geographic') {
    return {
      crs: outcome.crs,
      candidates: outcome.candidates,
      reason: `Coordinates (${range}) are longitude/latitude; read as CGCS2000 (EPSG:4490), which WGS84 equals to within centimetres.`,
    };
  }
  if (outcome.kind === 'one') {
    const crs = outcome.crs!;
    const same = outcome.candidates.length > 1 ? ` (identical to ${outcome.candidates.slice(1).join(', ')})` : '';
    return {
      crs,
      candidates: outcome.candidates,
      reason: `Coordinates (${range}) fit only ${crs.code} ${crs.name}${same}${stray(outcome.outliers)}.`,
    };
  }
  if (outcome.kind === 'ambiguous') {
    const list = outcome.candidates;
    const shown = list.slice(0, 12).join(', ') + (list.length > 12 ? `, … (${list.length} in all)` : '');
    const bareGk = list.some((c) => c === 'EPSG:4548' || c === 'EPSG:4549');
    return {
      candidates: list,
      reason: `Ambiguous: coordinates (${range}) fit several CRSs, pass --crs EPSG:n (candidates ${shown}).`
        + (bareGk ? ` Eastings without a zone prefix do not tell the central meridian; ${FUJIAN_HINT}.` : ''),
    };
  }

  // Nothing fits as given: Chinese survey practice calls the northing X, so columns are often swapped.
  const swapped = points.map(([x, y]): [number, number] => [y, x]);
  const flipped = decide(swapped, near);
  if (flipped.kind !== 'none') {
    const what = flipped.crs ? `${flipped.crs.code} ${flipped.crs.name}` : `one of ${flipped.candidates.slice(0, 8).join(', ')}`;
    return {
      candidates: flipped.candidates,
      reason: `Coordinates (${range}) fit no supported CRS as given, but with x and y swapped they fit ${what}: `
        + 'the file probably puts the northing (surveyors\' X) first; swap the columns, then pass --crs.',
    };
  }
  return {
    candidates: [],
    reason: `Coordinates (${range}) fit no supported CRS in China (longitude/latitude, CGCS2000 Gauss-Krüger with or `
      + `without zone prefix, WGS 84 UTM, Web Mercator); pass --crs EPSG:n if the data is right. ${FUJIAN_HINT}.`,
  };
}
