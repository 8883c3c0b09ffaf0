/**
 * What an accuracy radius means.
 *
 * Our answers give the radius of the circle that holds the true position with probability
 * `confidence`, by default 95 %. For a circular two-dimensional Gaussian with standard deviation σ
 * per axis the distance from the centre follows a Rayleigh law, so that radius is
 * σ·√(−2 ln(1 − p)): 2.448σ at 95 %, 1.510σ at 68 %. (1σ itself holds only 39 %: the 1-D rule
 * "68 % within one σ" does not carry over to a plane.) When the error ellipse is not a circle we
 * use σ along its major axis, which makes the circle hold at least `confidence`.
 *
 * Inputs say 68 %: a GNSS `accuracy` follows Android's Location.getAccuracy() and the Google
 * Geolocation API, both "radius of 68 % confidence", and the Google endpoint answers at 68 % too.
 */

export const ANSWER_CONFIDENCE = 0.95;
export const GOOGLE_CONFIDENCE = 0.68;

/** The radius, in units of σ per axis, that a circular 2-D Gaussian keeps with probability p. */
export function radiusFactor(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`radiusFactor: confidence must be between 0 and 1 exclusive, got ${p}`);
  return Math.sqrt(-2 * Math.log(1 - p));
}

export const K95 = radiusFactor(0.95);
export const K68 = radiusFactor(0.68);

/** Re-expresses a radius held at confidence `from` as one held at `to` (same Gaussian). */
export function convertRadius(radius: number, from: number, to: number): number {
  return from === to ? radius : (radius * radiusFactor(to)) / radiusFactor(from);
}

/** The χ² (2 degrees of freedom) value exceeded with probability 1 − p: −2 ln(1 − p). */
export function chiSquare2(p: number): number {
  return -2 * Math.log(1 - p);
}
