/**
 * Two constant-velocity models run as an Interacting Multiple Model filter (Blom & Bar-Shalom
 * 1988; Bar-Shalom, Li & Kirubarajan §11.6): a steady one with little acceleration noise, for a
 * device standing still or cruising, and a manoeuvring one, for turns, starts and stops. Each
 * epoch the models' states are mixed by the probability of switching, both are predicted and
 * updated, the measurement's likelihood under each re-weights them, and the answer is their
 * probability-weighted mixture.
 *
 * One model cannot do both jobs: with q small enough to average a parked device's fixes down, a
 * car turning at a junction leaves the gate within two seconds; with q large enough for the turn,
 * a parked device's position follows every fix (the simulator's fused error on a stationary device
 * was 0.8 of the raw one with q = 2). The mixture costs three times one filter, which is still
 * about a microsecond per update, allocation-free.
 */

import { ConstantVelocityFilter, majorVariance } from './kalman-cv.ts';

export interface ImmModels {
  /** Acceleration noise power spectral density (m²/s³) of the steady model and of the manoeuvring one. */
  qSteady: number;
  qManeuver: number;
  /** Mean time (s) the device stays in each mode; sets the switching probabilities for an interval dt. */
  steadyS: number;
  maneuverS: number;
}

const N = 2;
/** Mixing scratch: the models' states before mixing (module-level, the filter is synchronous). */
const xs = new Float64Array(N * 4);
const Ps = new Float64Array(N * 16);

export class ImmConstantVelocity {
  readonly models: readonly [ConstantVelocityFilter, ConstantVelocityFilter] = [new ConstantVelocityFilter(), new ConstantVelocityFilter()];
  /** Probability of each model (steady, manoeuvring). */
  readonly mu = new Float64Array(N);
  /** The mixture's state and covariance, kept current after every operation. */
  readonly x = new Float64Array(4);
  readonly P = new Float64Array(16);

  constructor(private readonly cfg: ImmModels) {}

  /** Makes this filter a copy of `other` (same models assumed). */
  copyFrom(other: ImmConstantVelocity): void {
    for (let j = 0; j < N; j++) {
      this.models[j].x.set(other.models[j].x);
      this.models[j].P.set(other.models[j].P);
    }
    this.mu.set(other.mu);
    this.x.set(other.x);
    this.P.set(other.P);
  }

  reset(e: number, n: number, ree: number, ren: number, rnn: number, velocityVar: number): void {
    for (const m of this.models) m.reset(e, n, ree, ren, rnn, velocityVar);
    // A new track has not shown which mode it is in.
    this.mu[0] = 0.5;
    this.mu[1] = 0.5;
    this.combine();
  }

  predict(dt: number): void {
    if (dt <= 0) return;
    const { models, mu, cfg } = this;
    // Switching probabilities over dt from the mean sojourn times (a two-state Markov chain).
    const leaveSteady = 1 - Math.exp(-dt / cfg.steadyS);
    const leaveManeuver = 1 - Math.exp(-dt / cfg.maneuverS);
    const p00 = 1 - leaveSteady, p01 = leaveSteady, p10 = leaveManeuver, p11 = 1 - leaveManeuver;
    const c0 = p00 * mu[0] + p10 * mu[1];
    const c1 = p01 * mu[0] + p11 * mu[1];
    // w[i][j] = P(model i before | model j after)
    const w00 = (p00 * mu[0]) / c0, w10 = (p10 * mu[1]) / c0;
    const w01 = (p01 * mu[0]) / c1, w11 = (p11 * mu[1]) / c1;
    for (let i = 0; i < N; i++) {
      xs.set(models[i].x, i * 4);
      Ps.set(models[i].P, i * 16);
    }
    mixInto(models[0], w00, w10);
    mixInto(models[1], w01, w11);
    mu[0] = c0;
    mu[1] = c1;
    models[0].predict(dt, cfg.qSteady);
    models[1].predict(dt, cfg.qManeuver);
    this.combine();
  }

  /** Squared Mahalanobis distance of a position measurement from the mixture's prediction. */
  distance2(ze: number, zn: number, ree: number, ren: number, rnn: number): number {
    const { x, P } = this;
    const s00 = P[0] + ree, s01 = P[1] + ren, s11 = P[5] + rnn;
    const y0 = ze - x[0], y1 = zn - x[1];
    return (y0 * y0 * s11 - 2 * y0 * y1 * s01 + y1 * y1 * s00) / (s00 * s11 - s01 * s01);
  }

  /** Updates both models and re-weights them by how well each predicted the measurement. */
  update(ze: number, zn: number, ree: number, ren: number, rnn: number): void {
    const { models, mu } = this;
    const l0 = logLikelihood(models[0], ze, zn, ree, ren, rnn);
    const l1 = logLikelihood(models[1], ze, zn, ree, ren, rnn);
    models[0].update(ze, zn, ree, ren, rnn);
    models[1].update(ze, zn, ree, ren, rnn);
    const best = Math.max(l0, l1);
    const a = mu[0] * Math.exp(l0 - best);
    const b = mu[1] * Math.exp(l1 - best);
    // Neither model may be ruled out for good: it must be able to take over again.
    const m0 = Math.min(Math.max(a / (a + b), 1e-4), 1 - 1e-4);
    mu[0] = m0;
    mu[1] = 1 - m0;
    this.combine();
  }

  /** Position-only update of both models (see ConstantVelocityFilter.updatePosition); the weights stay. */
  updatePosition(ze: number, zn: number, ree: number, ren: number, rnn: number): void {
    for (const m of this.models) m.updatePosition(ze, zn, ree, ren, rnn);
    this.combine();
  }

  inflatePosition(factor: number): void {
    for (const m of this.models) m.inflatePosition(factor);
    this.combine();
  }

  shiftOrigin(de: number, dn: number): void {
    for (const m of this.models) m.shiftOrigin(de, dn);
    this.x[0] -= de;
    this.x[1] -= dn;
  }

  positionVarianceMax(): number {
    return majorVariance(this.P, 0);
  }

  velocityVarianceMax(): number {
    return majorVariance(this.P, 10);
  }

  /** x = Σ μⱼ xⱼ, P = Σ μⱼ (Pⱼ + (xⱼ − x)(xⱼ − x)ᵀ). */
  private combine(): void {
    const { models, mu, x, P } = this;
    const a = models[0], b = models[1];
    const u = mu[0], v = mu[1];
    for (let i = 0; i < 4; i++) x[i] = u * a.x[i] + v * b.x[i];
    for (let i = 0; i < 4; i++) {
      const da = a.x[i] - x[i], db = b.x[i] - x[i];
      for (let j = i; j < 4; j++) {
        const k = i * 4 + j;
        const p = u * (a.P[k] + da * (a.x[j] - x[j])) + v * (b.P[k] + db * (b.x[j] - x[j]));
        P[k] = p;
        P[j * 4 + i] = p;
      }
    }
  }
}

/** ln N(y; 0, S) of a position measurement under one model, less the constant −ln 2π. */
function logLikelihood(m: ConstantVelocityFilter, ze: number, zn: number, ree: number, ren: number, rnn: number): number {
  const s00 = m.P[0] + ree, s01 = m.P[1] + ren, s11 = m.P[5] + rnn;
  return -0.5 * m.distance2(ze, zn, ree, ren, rnn) - 0.5 * Math.log(s00 * s11 - s01 * s01);
}

/** target ← the mixture of the saved states (xs, Ps) with weights w0, w1. */
function mixInto(target: ConstantVelocityFilter, w0: number, w1: number): void {
  const { x, P } = target;
  for (let i = 0; i < 4; i++) x[i] = w0 * xs[i] + w1 * xs[4 + i];
  for (let i = 0; i < 4; i++) {
    const d0 = xs[i] - x[i], d1 = xs[4 + i] - x[i];
    for (let j = i; j < 4; j++) {
      const k = i * 4 + j;
      const p = w0 * (Ps[k] + d0 * (xs[j] - x[j])) + w1 * (Ps[16 + k] + d1 * (xs[4 + j] - x[j]));
      P[k] = p;
      P[j * 4 + i] = p;
    }
  }
}
