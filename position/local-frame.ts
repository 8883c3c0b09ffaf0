/**
 * A local east-north plane tangent to the WGS84 ellipsoid at an origin, in metres.
 *
 * The filter works in metres, so every latitude/longitude is mapped onto a plane through the
 * device's recent position. The map used is the first-order one (east = Δλ·N·cos φ₀, north =
 * Δφ·M, with the prime-vertical and meridian radii N and M at φ₀): two multiplications each way
 * and an exact inverse, so a point converted and back returns unchanged. Its distortion grows
 * with the square of the distance from the origin (about 4 cm at 1 km, 4 m at 10 km at 25°N),
 * which is why the fuser moves the origin to the device once it has travelled `REBASE_DISTANCE_M`.
 */

const WGS84_A = 6378137;
const WGS84_E2 = 6.69437999014e-3;
const DEG = Math.PI / 180;

/** The filter re-centres its plane on the device after this distance (distortion ≈ 4 cm). */
export const REBASE_DISTANCE_M = 1000;

export class LocalFrame {
  lat0 = 0;
  lon0 = 0;
  /** Metres per degree of longitude and of latitude at the origin. */
  private kEast = 1;
  private kNorth = 1;

  constructor(lat0 = 0, lon0 = 0) {
    this.setOrigin(lat0, lon0);
  }

  setOrigin(lat0: number, lon0: number): void {
    this.lat0 = lat0;
    this.lon0 = lon0;
    const s = Math.sin(lat0 * DEG);
    const w = 1 - WGS84_E2 * s * s;
    const n = WGS84_A / Math.sqrt(w);
    const m = (WGS84_A * (1 - WGS84_E2)) / (w * Math.sqrt(w));
    // Within 0.06° of a pole the east axis degenerates; keep it invertible (such fixes are rare
    // enough that the metre-level distortion there does not matter).
    this.kEast = Math.max(n * Math.cos(lat0 * DEG), 100) * DEG;
    this.kNorth = m * DEG;
  }

  east(lon: number): number {
    let d = lon - this.lon0;
    if (d > 180) d -= 360;
    else if (d < -180) d += 360;
    return d * this.kEast;
  }

  north(lat: number): number {
    return (lat - this.lat0) * this.kNorth;
  }

  lon(east: number): number {
    let lon = this.lon0 + east / this.kEast;
    if (lon > 180) lon -= 360;
    else if (lon < -180) lon += 360;
    return lon;
  }

  lat(north: number): number {
    return this.lat0 + north / this.kNorth;
  }
}
