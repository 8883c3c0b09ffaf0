/**
 * A constant-velocity Kalman filter in a local east-north plane: state [e, n, vE, vN] (metres,
 * m/s), measurements of position only.
 *
 * The model is the textbook one (Bar-Shalom, Li & Kirubarajan, *Estimation with Applications to
 * Tracking and Navigation*, §6.2): velocity is a random walk driven by white acceleration noise of
 * power spectral density q (m²/s³), so over dt the position variance grows by q·dt³/3 per axis,
 * the velocity variance by q·dt and their covariance by q·dt²/2.
 *
 * Everything works in place on two typed arrays, the 4×4 algebra written out: one predict and one
 * update cost about sixty multiplications and no allocation, which is what lets one core fuse
 * well over 100 000 observations a second. Measurement covariance is a full 2×2 (ree, ren, rnn),
 * so an error ellipse (NMEA GST) can be used as well as a circle.
 */

export class ConstantVelocityFilter {
  /** [east, north, vEast, vNorth] in metres and metres per second. */
  readonly x = new Float64Array(4);
  /** Covariance, 4×4 row-major, kept symmetric. */
  readonly P = new Float64Array(16);

  /** Starts from a position with covariance (ree, ren, rnn) and an unknown velocity (variance velocityVar per axis). */
  reset(e: number, n: number, ree: number, ren: number, rnn: number, velocityVar: number): void {
    const { x, P } = this;
    x[0] = e;
    x[1] = n;
    x[2] = 0;
    x[3] = 0;
    P.fill(0);
    P[0] = ree;
    P[1] = ren;
    P[4] = ren;
    P[5] = rnn;
    P[10] = velocityVar;
    P[15] = velocityVar;
  }

  /** Advances the state dt seconds with white-acceleration noise q (m²/s³). */
  predict(dt: number, q: number): void {
    if (dt <= 0) return;
    const { x, P } = this;
    x[0] += dt * x[2];
    x[1] += dt * x[3];
    // P ← F P Fᵀ with F = [[I, dt·I], [0, I]]: add dt × rows 2,3 to rows 0,1, then the same for columns.
    for (let j = 0; j < 4; j++) {
      P[j] += dt * P[8 + j];
      P[4 + j] += dt * P[12 + j];
    }
    for (let i = 0; i < 16; i += 4) {
      P[i] += dt * P[i + 2];
      P[i + 1] += dt * P[i + 3];
    }
    const qPos = (q * dt * dt * dt) / 3;
    const qCross = (q * dt * dt) / 2;
    const qVel = q * dt;
    P[0] += qPos;
    P[5] += qPos;
    P[2] += qCross;
    P[8] += qCross;
    P[7] += qCross;
    P[13] += qCross;
    P[10] += qVel;
    P[15] += qVel;
  }

  /**
   * Squared Mahalanobis distance of a position measurement from the predicted position,
   * yᵀ S⁻¹ y with S = P_pos + R: χ²-distributed with 2 degrees of freedom when the model holds.
   */
  distance2(ze: number, zn: number, ree: number, ren: number, rnn: number): number {
    const { x, P } = this;
    const s00 = P[0] + ree;
    const s01 = P[1] + ren;
    const s11 = P[5] + rnn;
    const det = s00 * s11 - s01 * s01;
    const y0 = ze - x[0];
    const y1 = zn - x[1];
    return (y0 * y0 * s11 - 2 * y0 * y1 * s01 + y1 * y1 * s00) / det;
  }

  /** The Kalman update with a position measurement z = (ze, zn), covariance R = [[ree, ren], [ren, rnn]]. */
  update(ze: number, zn: number, ree: number, ren: number, rnn: number): void {
    const { x, P } = this;
    const s00 = P[0] + ree;
    const s01 = P[1] + ren;
    const s11 = P[5] + rnn;
    const det = s00 * s11 - s01 * s01;
    const i00 = s11 / det;
    const i01 = -s01 / det;
    const i11 = s00 / det;
    const y0 = ze - x[0];
    const y1 = zn - x[1];
    // Rows 0 and 1 of P (= columns 0 and 1, P being symmetric) before the update: P Hᵀ and H P.
    const a0 = P[0], a1 = P[1], a2 = P[2], a3 = P[3];
    const b0 = P[4], b1 = P[5], b2 = P[6], b3 = P[7];
    // K = P Hᵀ S⁻¹, one row per state.
    const k00 = a0 * i00 + b0 * i01, k01 = a0 * i01 + b0 * i11;
    const k10 = a1 * i00 + b1 * i01, k11 = a1 * i01 + b1 * i11;
    const k20 = a2 * i00 + b2 * i01, k21 = a2 * i01 + b2 * i11;
    const k30 = a3 * i00 + b3 * i01, k31 = a3 * i01 + b3 * i11;
    x[0] += k00 * y0 + k01 * y1;
    x[1] += k10 * y0 + k11 * y1;
    x[2] += k20 * y0 + k21 * y1;
    x[3] += k30 * y0 + k31 * y1;
    // P ← P − K H P, written for the upper triangle and mirrored so that P stays exactly symmetric.
    const p00 = P[0] - (k00 * a0 + k01 * b0);
    const p01 = P[1] - (k00 * a1 + k01 * b1);
    const p02 = P[2] - (k00 * a2 + k01 * b2);
    const p03 = P[3] - (k00 * a3 + k01 * b3);
    const p11 = P[5] - (k10 * a1 + k11 * b1);
    const p12 = P[6] - (k10 * a2 + k11 * b2);
    const p13 = P[7] - (k10 * a3 + k11 * b3);
    const p22 = P[10] - (k20 * a2 + k21 * b2);
    const p23 = P[11] - (k20 * a3 + k21 * b3);
    const p33 = P[15] - (k30 * a3 + k31 * b3);
    P[0] = p00; P[1] = p01; P[2] = p02; P[3] = p03;
    P[4] = p01; P[5] = p11; P[6] = p12; P[7] = p13;
    P[8] = p02; P[9] = p12; P[10] = p22; P[11] = p23;
    P[12] = p03; P[13] = p13; P[14] = p23; P[15] = p33;
  }

  /**
   * An update that corrects position only and leaves velocity as it is: the gain's velocity rows
   * are held at zero (a Schmidt, or "consider", update). For measurements whose error is a bias
   * that persists (a cell tower stands where it stands), the full update would read a velocity
   * into the jump from one tower to the next. With K = [Kp; 0], Kp = P_pp S⁻¹, the Joseph form
   * reduces to P_pp ← (I − Kp) P_pp, P_pv ← (I − Kp) P_pv, P_vv unchanged.
   */
  updatePosition(ze: number, zn: number, ree: number, ren: number, rnn: number): void {
    const { x, P } = this;
    const p00 = P[0], p01 = P[1], p11 = P[5];
    const p02 = P[2], p03 = P[3], p12 = P[6], p13 = P[7];
    const s00 = p00 + ree;
    const s01 = p01 + ren;
    const s11 = p11 + rnn;
    const det = s00 * s11 - s01 * s01;
    const i00 = s11 / det;
    const i01 = -s01 / det;
    const i11 = s00 / det;
    const k00 = p00 * i00 + p01 * i01, k01 = p00 * i01 + p01 * i11;
    const k10 = p01 * i00 + p11 * i01, k11 = p01 * i01 + p11 * i11;
    const y0 = ze - x[0];
    const y1 = zn - x[1];
    x[0] += k00 * y0 + k01 * y1;
    x[1] += k10 * y0 + k11 * y1;
    const n00 = p00 - (k00 * p00 + k01 * p01);
    const n01 = p01 - (k00 * p01 + k01 * p11);
    const n11 = p11 - (k10 * p01 + k11 * p11);
    const n02 = p02 - (k00 * p02 + k01 * p12);
    const n03 = p03 - (k00 * p03 + k01 * p13);
    const n12 = p12 - (k10 * p02 + k11 * p12);
    const n13 = p13 - (k10 * p03 + k11 * p13);
    P[0] = n00; P[1] = n01; P[4] = n01; P[5] = n11;
    P[2] = n02; P[8] = n02; P[3] = n03; P[12] = n03;
    P[6] = n12; P[9] = n12; P[7] = n13; P[13] = n13;
  }

  /** The variance along the position error ellipse's major axis (largest eigenvalue of P_pos). */
  positionVarianceMax(): number {
    return majorVariance(this.P, 0);
  }

  /** The variance along the velocity error ellipse's major axis. */
  velocityVarianceMax(): number {
    return majorVariance(this.P, 10);
  }

  /**
   * Scales the position uncertainty by `factor` (≥ 1) without touching velocity: P ← D P D with
   * D = diag(√f, √f, 1, 1), which keeps P positive definite and the position-velocity correlation.
   */
  inflatePosition(factor: number): void {
    if (!(factor > 1)) return;
    const P = this.P;
    const s = Math.sqrt(factor);
    P[0] *= factor; P[1] *= factor; P[4] *= factor; P[5] *= factor;
    P[2] *= s; P[3] *= s; P[6] *= s; P[7] *= s;
    P[8] *= s; P[9] *= s; P[12] *= s; P[13] *= s;
  }

  /** Moves the plane's origin by (de, dn) metres: the state's position is re-expressed from it. */
  shiftOrigin(de: number, dn: number): void {
    this.x[0] -= de;
    this.x[1] -= dn;
  }
}

/**
 * The largest eigenvalue of the 2×2 block of a row-major 4×4 covariance starting at `at`
 * (0: position, 10: velocity): the variance along the error ellipse's major axis.
 */
export function majorVariance(P: Float64Array, at: number): number {
  const h = (P[at]! - P[at + 5]!) / 2;
  return (P[at]! + P[at + 5]!) / 2 + Math.sqrt(h * h + P[at + 1]! * P[at + 1]!);
}
