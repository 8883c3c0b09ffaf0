/**
 * GCJ-02 ("Mars coordinates", used by AMap/Tencent) and BD-09 (Baidu) as offsets from WGS84.
 *
 * These are the widely published reverse-engineered formulas: GCJ-02 adds a deterministic,
 * non-linear offset of a few hundred metres computed on the Krasovsky ellipsoid; BD-09 adds a
 * further small rotation and shift on top of GCJ-02. Neither has a closed-form inverse: the
 * commonly copied one-step "gcj02 to wgs84" (subtract the offset computed at the GCJ point) is
 * off by up to 4 m (measured over a 0.3° grid of China), and Baidu's one-step BD-09 inverse by up
 * to 20 cm, so the inverses here iterate the forward formula to below a
 * millimetre. Outside mainland China (the usual rough box) no offset is applied, by either map
 * provider, so these functions are the identity there.
 *
 * All functions take and return [lon, lat] in degrees. WGS84 and CGCS2000 differ by centimetres
 * (see BRIEF), so "wgs84" here is also CGCS2000.
 */

export type LonLat = [number, number];

/** Krasovsky 1940 semi-major axis and first eccentricity squared, as in the published formula. */
const KRASOVSKY_A = 6378245.0;
const KRASOVSKY_EE = 0.00669342162296594323;
/** Baidu's constant: π·3000/180. */
const X_PI = (Math.PI * 3000.0) / 180.0;

/** Converged when the forward image of the estimate is this close to the target, in degrees (≈ 0.01 mm). */
const INVERSE_TOLERANCE_DEG = 1e-10;
const INVERSE_MAX_ITERATIONS = 10;

/** The rough mainland-China box that every published implementation uses. */
export function outOfChina(lon: number, lat: number): boolean {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

function offsetLat(x: number, y: number): number {
  let ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  ret += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  ret += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0;
  ret += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
  return ret;
}

function offsetLon(x: number, y: number): number {
  let ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  ret += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  ret += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0;
  ret += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
  return ret;
}

/** GCJ-02 of a WGS84 point, without the out-of-China test (callers decide). */
function gcjForward(lon: number, lat: number): LonLat {
  const dLat0 = offsetLat(lon - 105.0, lat - 35.0);
  const dLon0 = offsetLon(lon - 105.0, lat - 35.0);
  const radLat = (lat / 180.0) * Math.PI;
  const s = Math.sin(radLat);
  const magic = 1 - KRASOVSKY_EE * s * s;
  const sqrtMagic = Math.sqrt(magic);
  const dLat = (dLat0 * 180.0) / (((KRASOVSKY_A * (1 - KRASOVSKY_EE)) / (magic * sqrtMagic)) * Math.PI);
  const dLon = (dLon0 * 180.0) / ((KRASOVSKY_A / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [lon + dLon, lat + dLat];
}

export function wgs84ToGcj02(lon: number, lat: number): LonLat {
  if (outOfChina(lon, lat)) return [lon, lat];
  return gcjForward(lon, lat);
}

/**
 * Inverse of wgs84ToGcj02 by fixed-point iteration: the offset changes by well under 1 % per
 * degree, so each step gains two to three decimal digits and 3–4 steps reach 0.01 mm.
 */
export function gcj02ToWgs84(lon: number, lat: number): LonLat {
  if (outOfChina(lon, lat)) return [lon, lat];
  let wLon = lon;
  let wLat = lat;
  for (let i = 0; i < INVERSE_MAX_ITERATIONS; i++) {
    // The out-of-China test is applied to the GCJ input only: near the box edge the WGS estimate
    // may step outside it, but the offset it must undo was computed by the forward formula.
    const [gLon, gLat] = gcjForward(wLon, wLat);
    const eLon = gLon - lon;
    const eLat = gLat - lat;
    wLon -= eLon;
    wLat -= eLat;
    if (Math.abs(eLon) < INVERSE_TOLERANCE_DEG && Math.abs(eLat) < INVERSE_TOLERANCE_DEG) break;
  }
  return [wLon, wLat];
}

function bdForward(lon: number, lat: number): LonLat {
  const z = Math.sqrt(lon * lon + lat * lat) + 0.00002 * Math.sin(lat * X_PI);
  const theta = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * X_PI);
  return [z * Math.cos(theta) + 0.0065, z * Math.sin(theta) + 0.006];
}

export function gcj02ToBd09(lon: number, lat: number): LonLat {
  if (outOfChina(lon, lat)) return [lon, lat];
  return bdForward(lon, lat);
}

/**
 * Inverse of gcj02ToBd09. Baidu's published inverse (subtract the same terms) is itself only
 * approximate (up to 20 cm), so it is used as the first estimate and refined.
 */
export function bd09ToGcj02(lon: number, lat: number): LonLat {
  if (outOfChina(lon, lat)) return [lon, lat];
  const x = lon - 0.0065;
  const y = lat - 0.006;
  const z = Math.sqrt(x * x + y * y) - 0.00002 * Math.sin(y * X_PI);
  const theta = Math.atan2(y, x) - 0.000003 * Math.cos(x * X_PI);
  let gLon = z * Math.cos(theta);
  let gLat = z * Math.sin(theta);
  for (let i = 0; i < INVERSE_MAX_ITERATIONS; i++) {
    const [bLon, bLat] = bdForward(gLon, gLat);
    const eLon = bLon - lon;
    const eLat = bLat - lat;
    gLon -= eLon;
    gLat -= eLat;
    if (Math.abs(eLon) < INVERSE_TOLERANCE_DEG && Math.abs(eLat) < INVERSE_TOLERANCE_DEG) break;
  }
  return [gLon, gLat];
}

export function wgs84ToBd09(lon: number, lat: number): LonLat {
  if (outOfChina(lon, lat)) return [lon, lat];
  const [gLon, gLat] = gcjForward(lon, lat);
  return bdForward(gLon, gLat);
}

export function bd09ToWgs84(lon: number, lat: number): LonLat {
  if (outOfChina(lon, lat)) return [lon, lat];
  const [gLon, gLat] = bd09ToGcj02(lon, lat);
  return gcj02ToWgs84(gLon, gLat);
}
