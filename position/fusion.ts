/**
 * Fuses a device's GNSS fixes, cell towers and Wi-Fi access points into one position with an
 * accuracy radius, keeping a Kalman track per device between requests: two constant-velocity
 * models in a local east-north plane, steady and manoeuvring, mixed as an IMM (kalman-imm.ts).
 *
 * Per request: every observation is checked and turned into a point with a standard deviation
 * (observation.ts); they are taken in time order, those within `simultaneousMs` of each other as
 * one epoch. For each epoch the track is predicted to its time, each observation is tested
 * against the prediction (χ² gate, 2 degrees of freedom) and refused as an outlier if it fails,
 * and the rest are combined by inverse variance (x = Σ xᵢ/σᵢ² / Σ 1/σᵢ², σ² = 1 / Σ 1/σᵢ²) into
 * one Kalman update, which for position measurements is the same as updating with each in turn.
 * A device's first epoch, or one after more than `maxCoastMs` without an update, starts the track
 * from that epoch alone, after dropping observations that disagree with the others.
 *
 * Decisions worth knowing (the numbers behind them are bench:position's):
 * - GNSS errors are half slow (atmosphere, orbits, lasting multipath): the filter weighs fixes by
 *   their fast part and adds the slow part back to the radius (`gnssBiasShare`). Treating all of
 *   it as white noise made the 95 % radius hold the truth only 85 % of the time.
 * - Cells and Wi-Fi are the fallback: used when they place the device better than the track's
 *   prediction does, otherwise listed as `superseded`. Their error persists from one fix to the
 *   next (the device is not at the tower), so they correct position, not velocity, never leave
 *   the track more certain than the fix itself, and in a GNSS outage the same tower is not used
 *   twice while dead reckoning is still much better (RADIO_REUSE). A filter that took every
 *   cell fix as an independent measurement shrank its radius to nothing and, under viaducts,
 *   doubled the error.
 * - A track is tentative until three GNSS epochs agreed with it, and one whose fixes fail the
 *   gate for `resetAfterMs` (three epochs at least) restarts from them: a track started on, or
 *   bent by, a multipath fix must not go on refusing the good fixes that follow.
 * - Wi-Fi needs two known access points in a request, as the Google Geolocation API requires: a
 *   single access point would let anyone who knows a MAC address find where it is.
 * - Times are UTC ms; `now` is passed in, never read, so replays and tests are deterministic.
 */

import { ANSWER_CONFIDENCE, chiSquare2, radiusFactor } from './confidence.ts';
import type { Datum } from './datum.ts';
import { DeviceStore } from './device-store.ts';
import { ImmConstantVelocity } from './kalman-imm.ts';
import { LocalFrame, REBASE_DISTANCE_M } from './local-frame.ts';
import {
  DEFAULT_MEASUREMENT_OPTIONS, isRejection, readObservation,
  type Measurement, type MeasurementOptions, type ObservationType, type RejectedObservation,
} from './observation.ts';
import type { RadioLookup } from './radio-map.ts';

export interface FusionOptions extends Partial<MeasurementOptions> {
  /**
   * Acceleration noise power spectral density q (m²/s³) of the manoeuvring model: over one second
   * its velocity wanders by √q m/s. Default 4 (2 m/s², a car turning or braking in town).
   */
  processNoise?: number;
  /** q of the steady model (a device standing still or cruising), m²/s³. Default 0.05. */
  steadyProcessNoise?: number;
  /** Mean time in the steady and in the manoeuvring mode, s. Defaults 10 and 5. */
  steadyS?: number;
  maneuverS?: number;
  /** Probability that a good observation passes the χ² gate. Default 0.999 (gate 13.8). */
  gateProbability?: number;
  /** Observations this close in time (ms) form one epoch and are combined. Default 100. */
  simultaneousMs?: number;
  /** Longest prediction without an update before the track restarts, ms. Default 120 000. */
  maxCoastMs?: number;
  /**
   * GNSS refused by the gate for this long (ms, and 3 epochs at least) restarts the track from it.
   * Default 3000: a track that swallowed a multipath fix has a wrong velocity and refuses the
   * good fixes that follow; waiting 10 s for them let errors grow to 200 m in the simulator.
   */
  resetAfterMs?: number;
  /**
   * Share of a GNSS fix's error variance that is slow (ionosphere, troposphere, orbit and clock
   * errors, lasting multipath): common to consecutive fixes, so no filter averages it away. The
   * filter weighs fixes by the rest and adds this share back to the answer's radius. Default 0.5.
   */
  gnssBiasShare?: number;
  /** Standard deviation of the unknown velocity a track starts with, m/s per axis. Default 15. */
  initialSpeedSigma?: number;
  /** Speed (and heading) are reported when their standard deviation is below this, m/s. Default 3. */
  maxSpeedSigma?: number;
  /** Confidence of the answer's accuracy radius. Default 0.95. */
  confidence?: number;
  /** How long a device's track is kept after its last update, ms. Default 10 min. */
  ttlMs?: number;
  /** Most devices tracked at once; the least recently updated is dropped. Default 100 000. */
  maxDevices?: number;
}

export interface ResolvedFusionOptions extends MeasurementOptions {
  processNoise: number;
  steadyProcessNoise: number;
  steadyS: number;
  maneuverS: number;
  gate: number;
  simultaneousMs: number;
  maxCoastMs: number;
  resetAfterMs: number;
  gnssBiasShare: number;
  initialVelocityVar: number;
  maxSpeedVar: number;
  confidence: number;
  radiusFactor: number;
  ttlMs: number;
  maxDevices: number;
}

export function resolveFusionOptions(o: FusionOptions = {}): Readonly<ResolvedFusionOptions> {
  const d = DEFAULT_MEASUREMENT_OPTIONS;
  const positive = (name: string, v: number) => {
    if (!(Number.isFinite(v) && v > 0)) throw new Error(`fusion options: ${name} must be a number above 0, got ${v}`);
    return v;
  };
  const fraction = (name: string, v: number, lowest: number) => {
    if (!(v >= lowest && v < 1)) throw new Error(`fusion options: ${name} must be from ${lowest} to below 1, got ${v}`);
    return v;
  };
  const uere = { ...d.uere };
  for (const k of Object.keys(uere) as Array<keyof typeof uere>) uere[k] = positive(`uere.${k}`, o.uere?.[k] ?? d.uere[k]);
  const initialSpeedSigma = positive('initialSpeedSigma', o.initialSpeedSigma ?? 15);
  const maxSpeedSigma = positive('maxSpeedSigma', o.maxSpeedSigma ?? 3);
  const confidence = fraction('confidence', o.confidence ?? ANSWER_CONFIDENCE, Number.MIN_VALUE);
  return Object.freeze({
    uere: Object.freeze(uere),
    maxHdop: positive('maxHdop', o.maxHdop ?? d.maxHdop),
    minGnssSigma: positive('minGnssSigma', o.minGnssSigma ?? d.minGnssSigma),
    maxGnssAccuracy: positive('maxGnssAccuracy', o.maxGnssAccuracy ?? d.maxGnssAccuracy),
    cellRange: o.cellRange ?? d.cellRange,
    wifiRange: o.wifiRange ?? d.wifiRange,
    maxAgeMs: positive('maxAgeMs', o.maxAgeMs ?? d.maxAgeMs),
    maxFutureMs: positive('maxFutureMs', o.maxFutureMs ?? d.maxFutureMs),
    processNoise: positive('processNoise', o.processNoise ?? 4),
    steadyProcessNoise: positive('steadyProcessNoise', o.steadyProcessNoise ?? 0.05),
    steadyS: positive('steadyS', o.steadyS ?? 10),
    maneuverS: positive('maneuverS', o.maneuverS ?? 5),
    gate: chiSquare2(fraction('gateProbability', o.gateProbability ?? 0.999, Number.MIN_VALUE)),
    simultaneousMs: o.simultaneousMs ?? 100,
    maxCoastMs: positive('maxCoastMs', o.maxCoastMs ?? 120_000),
    resetAfterMs: o.resetAfterMs ?? 3000,
    gnssBiasShare: fraction('gnssBiasShare', o.gnssBiasShare ?? 0.5, 0),
    initialVelocityVar: initialSpeedSigma * initialSpeedSigma,
    maxSpeedVar: maxSpeedSigma * maxSpeedSigma,
    confidence,
    radiusFactor: radiusFactor(confidence),
    ttlMs: positive('ttlMs', o.ttlMs ?? 600_000),
    maxDevices: positive('maxDevices', o.maxDevices ?? 100_000),
  });
}

/** What the answer's position rests on: a GNSS fix, cells/Wi-Fi only, or prediction from the track alone. */
export type FixBasis = 'gnss' | 'radio' | 'prediction';
/** Why the track (re)started in this request: a device without one, a gap past maxCoastMs, or a receiver that kept disagreeing. */
export type TrackReset = 'new_track' | 'coast_limit' | 'gnss_disagreed';

export interface PositionFix {
  lat: number;
  lon: number;
  crs: Datum;
  /** Radius in metres holding the true position with probability `confidence`. */
  accuracy: number;
  /** 0.95 unless configured (see confidence.ts). */
  confidence: number;
  /** UTC time of the fix, ISO 8601 with milliseconds. */
  time: string;
  /** m/s, or null while the velocity is not yet known well enough. */
  speed: number | null;
  /** Degrees clockwise from north, or null when the device is (nearly) still or the velocity is unknown. */
  heading: number | null;
  basis: FixBasis;
}

export interface UsedObservation {
  index: number;
  type: ObservationType;
  /** Its share of the inverse-variance combination in its epoch (0 to 1). */
  weight: number;
}

export interface PositionAnswer {
  deviceId: string | null;
  /** Null when nothing in the request was usable and the device had no track. */
  fix: PositionFix | null;
  sources: UsedObservation[];
  rejected: RejectedObservation[];
  reset: TrackReset | null;
}

/** A device's filter state between requests. */
export class Track {
  readonly filter: ImmConstantVelocity;
  readonly frame = new LocalFrame();
  /** UTC ms of the filter state; NaN before the first epoch. */
  timeMs = NaN;
  basis: FixBasis = 'gnss';
  /** First time in the current run of gated-out GNSS epochs (NaN when none), and the run's length. */
  gnssRejectedSince = NaN;
  gnssRejectedCount = 0;
  /** GNSS epochs accepted since the track (re)started; below CONFIRMED the track is tentative. */
  gnssAccepted = 0;
  /** Variance (per axis) of the slow GNSS error the track carries from its last GNSS epoch. */
  biasVar = 0;
  /** Cells and access points used since the last GNSS epoch (see RADIO_REUSE). */
  readonly radioUsed: string[] = [];

  constructor(o: Readonly<ResolvedFusionOptions>) {
    this.filter = new ImmConstantVelocity({ qSteady: o.steadyProcessNoise, qManeuver: o.processNoise, steadyS: o.steadyS, maneuverS: o.maneuverS });
  }
}

/**
 * A track is tentative until this many GNSS epochs agreed with it. Until then a GNSS fix that fails
 * the gate restarts the track instead of being refused: a track started on a multipath outlier
 * (or with its velocity still unknown) must not get to refuse the good fixes that follow.
 */
const CONFIRMED = 3;

/**
 * In a GNSS outage, a cell or access point already used is used again only once the prediction
 * has become this much less certain than it (variance ratio: three times its σ). Its error is the
 * same each time, so a second fix from it adds nothing while dead reckoning is still good; under
 * the simulator's viaducts this took the error from 101 m RMSE to 90 m (dead reckoning alone:
 * 77 m; every cell fix taken: 182 m). A track that never had GNSS has nothing better, and re-uses
 * its cells whenever they beat the prediction.
 */
const RADIO_REUSE = 9;

/** Scratch space for one epoch's members, grown as needed and reused: no allocation per epoch. */
class EpochScratch {
  e = new Float64Array(16);
  n = new Float64Array(16);
  v = new Float64Array(16); // variance per axis
  ok = new Uint8Array(16);

  ensure(size: number): void {
    if (size <= this.e.length) return;
    const cap = Math.max(size, this.e.length * 2);
    this.e = new Float64Array(cap);
    this.n = new Float64Array(cap);
    this.v = new Float64Array(cap);
    this.ok = new Uint8Array(cap);
  }
}

const scratch = new EpochScratch();
/** An epoch member's fate, in EpochScratch.ok. */
const OUTLIER = 0;
const USED = 1;
const SUPERSEDED = 2;

function byTime(a: Measurement, b: Measurement): number {
  return a.timeMs - b.timeMs;
}

function metres(x: number): string {
  return x >= 10 ? `${Math.round(x)} m` : `${x.toFixed(1)} m`;
}

/**
 * Reads a request's observations and applies them to `track` (mutated). Returns the answer; when
 * `track` had no state and nothing was usable, fix is null and the track stays empty.
 */
export function fuseObservations(
  track: Track, observations: readonly unknown[], now: number, o: Readonly<ResolvedFusionOptions>, lookup: RadioLookup, deviceId: string | null = null,
): PositionAnswer {
  const rejected: RejectedObservation[] = [];
  const sources: UsedObservation[] = [];
  const measurements: Measurement[] = [];
  let latestTimed = Number.NEGATIVE_INFINITY;
  let untimed = 0;
  let wifi = 0;
  for (let i = 0; i < observations.length; i++) {
    const r = readObservation(observations[i], i, now, o, lookup);
    if (isRejection(r)) {
      rejected.push(r);
      continue;
    }
    if (r.type === 'wifi') wifi++;
    if (Number.isNaN(r.timeMs)) untimed++;
    else if (r.timeMs > latestTimed) latestTimed = r.timeMs;
    measurements.push(r);
  }
  if (wifi === 1 || untimed > 0) {
    // Cells and access points sent without a time were seen with the request's newest fix, or now.
    const fill = latestTimed > Number.NEGATIVE_INFINITY ? latestTimed : Number.isNaN(track.timeMs) ? now : Math.max(now, track.timeMs);
    let w = 0;
    for (let i = 0; i < measurements.length; i++) {
      const m = measurements[i];
      if (Number.isNaN(m.timeMs)) m.timeMs = fill;
      if (m.type === 'wifi' && wifi === 1) {
        rejected.push({ index: m.index, type: 'wifi', reason: 'too_few_wifi', message: 'a single Wi-Fi access point is not used: send at least two (privacy, as in the Google Geolocation API)' });
        continue;
      }
      measurements[w++] = m;
    }
    measurements.length = w;
  }
  for (let i = 1; i < measurements.length; i++) {
    if (measurements[i].timeMs < measurements[i - 1].timeMs) {
      measurements.sort(byTime);
      break;
    }
  }

  let reset: TrackReset | null = null;
  for (let start = 0; start < measurements.length;) {
    const t0 = measurements[start].timeMs;
    let end = start + 1;
    while (end < measurements.length && measurements[end].timeMs - t0 <= o.simultaneousMs) end++;
    const epochTime = measurements[end - 1].timeMs;
    const r = applyEpoch(track, measurements, start, end, epochTime, o, sources, rejected);
    if (r !== null && reset !== 'new_track') reset = r;
    start = end;
  }
  if (rejected.length > 1) rejected.sort((a, b) => a.index - b.index);
  return { deviceId, fix: Number.isNaN(track.timeMs) ? null : fixOf(track, o), sources, rejected, reset };
}

/** One epoch, measurements[start, end), applied to the track; returns a reset if the track (re)started. */
function applyEpoch(
  track: Track, ms: Measurement[], start: number, end: number, time: number, o: Readonly<ResolvedFusionOptions>,
  sources: UsedObservation[], rejected: RejectedObservation[],
): TrackReset | null {
  const { filter, frame } = track;
  if (Number.isNaN(track.timeMs)) return startTrack(track, ms, start, end, time, o, sources, rejected, 'new_track');
  if (time < track.timeMs - o.simultaneousMs) {
    const last = new Date(track.timeMs).toISOString();
    for (let i = start; i < end; i++) {
      rejected.push({ index: ms[i].index, type: ms[i].type, reason: 'out_of_order', message: `observed at ${new Date(ms[i].timeMs).toISOString()}, before the device's last fix at ${last}` });
    }
    return null;
  }
  if (time - track.timeMs > o.maxCoastMs) return startTrack(track, ms, start, end, time, o, sources, rejected, 'coast_limit');
  filter.predict((time - track.timeMs) / 1000);
  track.timeMs = Math.max(track.timeMs, time);

  const count = end - start;
  scratch.ensure(count);
  const { e, n, v, ok } = scratch;
  const priorVar = filter.positionVarianceMax();
  let gnssSeen = 0;
  let gnssOk = 0;
  let accepted = 0;
  for (let k = 0; k < count; k++) {
    const m = ms[start + k];
    e[k] = frame.east(m.lon);
    n[k] = frame.north(m.lat);
    v[k] = filterVariance(m, o);
    if (m.type !== 'gnss' && (v[k] > priorVar || (track.gnssAccepted > 0 && priorVar < RADIO_REUSE * v[k] && track.radioUsed.includes(m.source!)))) {
      ok[k] = SUPERSEDED;
      continue;
    }
    ok[k] = filter.distance2(e[k], n[k], v[k], 0, v[k]) <= o.gate ? USED : OUTLIER;
    if (m.type === 'gnss') {
      gnssSeen++;
      if (ok[k] === USED) gnssOk++;
    }
    if (ok[k] === USED) accepted++;
  }

  if (gnssSeen > 0 && gnssOk === 0) {
    if (track.gnssAccepted < CONFIRMED) return startTrack(track, ms, start, end, time, o, sources, rejected, 'gnss_disagreed');
    if (track.gnssRejectedCount === 0) track.gnssRejectedSince = time;
    track.gnssRejectedCount++;
    if (track.gnssRejectedCount >= 3 && time - track.gnssRejectedSince >= o.resetAfterMs) {
      // The receiver has disagreed with the track for long enough: believe it and start over.
      return startTrack(track, ms, start, end, time, o, sources, rejected, 'gnss_disagreed');
    }
  } else if (gnssOk > 0) {
    track.gnssRejectedCount = 0;
    track.gnssRejectedSince = NaN;
    track.gnssAccepted++;
  }

  let sw = 0;
  let se = 0;
  let sn = 0;
  for (let k = 0; k < count; k++) {
    const m = ms[start + k];
    if (ok[k] === OUTLIER) {
      const d2 = filter.distance2(e[k], n[k], v[k], 0, v[k]);
      const off = Math.hypot(e[k] - filter.x[0], n[k] - filter.x[1]);
      rejected.push({
        index: m.index, type: m.type, reason: 'outlier',
        message: `${metres(off)} from the predicted position (χ² = ${d2.toFixed(1)} > gate ${o.gate.toFixed(1)}, σ = ${metres(m.sigma)})`,
      });
    } else if (ok[k] === SUPERSEDED) {
      const what = m.type === 'cell' ? 'cell' : 'access point';
      rejected.push({
        index: m.index, type: m.type, reason: 'superseded',
        message: v[k] > priorVar
          ? `not needed: the track already places the device to σ ${metres(Math.sqrt(priorVar))}, better than this ${what} (σ ${metres(m.sigma)})`
          : `not needed: this ${what} was used since the last GNSS fix, and its error does not average out`,
      });
    } else {
      const w = 1 / v[k];
      sw += w;
      se += w * e[k];
      sn += w * n[k];
    }
  }
  if (accepted === 0) {
    track.basis = 'prediction';
    return null;
  }
  for (let k = 0; k < count; k++) if (ok[k] === USED) sources.push({ index: ms[start + k].index, type: ms[start + k].type, weight: 1 / v[k] / sw });
  const r = 1 / sw;
  if (gnssOk === 0) {
    // Cells and Wi-Fi only. A tower's error persists from one fix to the next (the device is
    // not at the tower), so the fix corrects position, not velocity, and leaves the track no
    // more certain than the fix alone; it was used only if better than the prediction (above).
    filter.updatePosition(se * r, sn * r, r, 0, r);
    for (let k = 0; k < count; k++) {
      const src = ms[start + k].source!;
      if (ok[k] === USED && !track.radioUsed.includes(src)) track.radioUsed.push(src);
    }
    const post = filter.positionVarianceMax();
    if (post < r) filter.inflatePosition(r / post);
    track.basis = 'radio';
  } else {
    filter.update(se * r, sn * r, r, 0, r);
    track.radioUsed.length = 0;
    track.biasVar = biasVar(ms, start, end, ok, o);
    track.basis = 'gnss';
  }
  rebase(track);
  return null;
}

/**
 * Starts the track from one epoch alone: drops members that disagree with the rest (the worst
 * first, by χ² against the inverse-variance mean of the others; on a tie, the less precise), then
 * takes the combination of the rest as the position, with an unknown velocity.
 */
function startTrack(
  track: Track, ms: Measurement[], start: number, end: number, time: number, o: Readonly<ResolvedFusionOptions>,
  sources: UsedObservation[], rejected: RejectedObservation[], why: TrackReset,
): TrackReset | null {
  const { filter, frame } = track;
  const count = end - start;
  scratch.ensure(count);
  const { e, n, v, ok } = scratch;
  const first = ms[start];
  const lat0 = frame.lat0, lon0 = frame.lon0;
  frame.setOrigin(first.lat, first.lon);
  for (let k = 0; k < count; k++) {
    const m = ms[start + k];
    e[k] = frame.east(m.lon);
    n[k] = frame.north(m.lat);
    v[k] = filterVariance(m, o);
    ok[k] = USED;
  }
  for (let active = count; active > 1; active--) {
    let sw = 0, se = 0, sn = 0;
    for (let k = 0; k < count; k++) {
      if (ok[k] !== USED) continue;
      sw += 1 / v[k];
      se += e[k] / v[k];
      sn += n[k] / v[k];
    }
    let worst = -1;
    let worstD2 = 0;
    for (let k = 0; k < count; k++) {
      if (ok[k] !== USED) continue;
      const w = 1 / v[k];
      const restW = sw - w;
      const de = e[k] - (se - w * e[k]) / restW;
      const dn = n[k] - (sn - w * n[k]) / restW;
      const d2 = (de * de + dn * dn) / (v[k] + 1 / restW);
      // Two members that disagree score the same; then the less precise one goes.
      const tie = worst >= 0 && Math.abs(d2 - worstD2) <= 1e-9 * worstD2;
      if (tie ? v[k] > v[worst] : d2 > worstD2) {
        worst = k;
        worstD2 = d2;
      }
    }
    if (worst < 0 || worstD2 <= o.gate) break;
    ok[worst] = OUTLIER;
    const m = ms[start + worst];
    rejected.push({ index: m.index, type: m.type, reason: 'outlier', message: `disagrees with the other observations of the same moment (χ² = ${worstD2.toFixed(1)} > gate ${o.gate.toFixed(1)})` });
  }
  // Two access points of which one was dropped would locate the other alone: drop it too.
  let wifiSeen = 0, wifiUsed = 0, lastWifi = -1;
  for (let k = 0; k < count; k++) {
    if (ms[start + k].type !== 'wifi') continue;
    wifiSeen++;
    if (ok[k] === USED) { wifiUsed++; lastWifi = k; }
  }
  if (wifiSeen >= 2 && wifiUsed === 1) {
    ok[lastWifi] = OUTLIER;
    rejected.push({ index: ms[start + lastWifi].index, type: 'wifi', reason: 'too_few_wifi', message: 'the other access points disagreed with it, and a single access point is not used (privacy)' });
  }
  let sw = 0, se = 0, sn = 0;
  let gnss = false;
  for (let k = 0; k < count; k++) {
    if (ok[k] !== USED) continue;
    sw += 1 / v[k];
    se += e[k] / v[k];
    sn += n[k] / v[k];
    if (ms[start + k].type === 'gnss') gnss = true;
  }
  if (sw === 0) {
    frame.setOrigin(lat0, lon0); // nothing usable: the old track (if any) stays as it was
    return null;
  }
  for (let k = 0; k < count; k++) if (ok[k] === USED) sources.push({ index: ms[start + k].index, type: ms[start + k].type, weight: 1 / v[k] / sw });
  const r = 1 / sw;
  filter.reset(se * r, sn * r, r, 0, r, o.initialVelocityVar);
  track.timeMs = time;
  track.basis = gnss ? 'gnss' : 'radio';
  track.gnssRejectedCount = 0;
  track.gnssRejectedSince = NaN;
  track.gnssAccepted = gnss ? 1 : 0;
  track.biasVar = gnss ? biasVar(ms, start, end, ok, o) : 0;
  track.radioUsed.length = 0;
  rebase(track);
  return why;
}

/** The variance the filter weighs a measurement by: for GNSS, the fast part of its error only. */
function filterVariance(m: Measurement, o: Readonly<ResolvedFusionOptions>): number {
  const v = m.sigma * m.sigma;
  return m.type === 'gnss' ? v * (1 - o.gnssBiasShare) : v;
}

/** The slow GNSS error variance of an epoch's accepted GNSS members, combined. */
function biasVar(ms: Measurement[], start: number, end: number, ok: Uint8Array, o: Readonly<ResolvedFusionOptions>): number {
  let info = 0;
  for (let k = 0; k < end - start; k++) {
    const m = ms[start + k];
    if (ok[k] === USED && m.type === 'gnss') info += 1 / (m.sigma * m.sigma);
  }
  return info > 0 ? o.gnssBiasShare / info : 0;
}

/** Keeps the plane's origin near the device, where its distortion is negligible. */
function rebase(track: Track): void {
  const x = track.filter.x;
  if (x[0] * x[0] + x[1] * x[1] <= REBASE_DISTANCE_M * REBASE_DISTANCE_M) return;
  track.frame.setOrigin(track.frame.lat(x[1]), track.frame.lon(x[0]));
  track.filter.shiftOrigin(x[0], x[1]);
}

/** The answer's fix from a track's current state. */
export function fixOf(track: Track, o: Readonly<ResolvedFusionOptions>): PositionFix {
  const { filter, frame } = track;
  const x = filter.x;
  const vVar = filter.velocityVarianceMax();
  let speed: number | null = null;
  let heading: number | null = null;
  if (vVar <= o.maxSpeedVar) {
    speed = Math.hypot(x[2], x[3]);
    if (speed > 2 * Math.sqrt(vVar) && speed >= 0.5) {
      heading = (Math.atan2(x[2], x[3]) * 180) / Math.PI;
      if (heading < 0) heading += 360;
    }
  }
  return {
    lat: frame.lat(x[1]),
    lon: frame.lon(x[0]),
    crs: 'CRS84',
    accuracy: o.radiusFactor * Math.sqrt(filter.positionVarianceMax() + track.biasVar),
    confidence: o.confidence,
    time: new Date(track.timeMs).toISOString(),
    speed,
    heading,
    basis: track.basis,
  };
}

/**
 * Tracks many devices: `fuse(deviceId, observations, now)` per request. Tracks live in a
 * DeviceStore (TTL after the last update, least recently updated dropped past maxDevices).
 */
export class PositionFuser {
  readonly options: Readonly<ResolvedFusionOptions>;
  private readonly tracks: DeviceStore<Track>;

  constructor(private readonly lookup: RadioLookup, options: FusionOptions = {}) {
    this.options = resolveFusionOptions(options);
    this.tracks = new DeviceStore<Track>({ ttlMs: this.options.ttlMs, maxEntries: this.options.maxDevices });
  }

  /** Applies one request's observations to the device's track. `now`: the server's UTC ms. */
  fuse(deviceId: string, observations: readonly unknown[], now: number): PositionAnswer {
    const track = this.tracks.get(deviceId, now) ?? new Track(this.options);
    const answer = fuseObservations(track, observations, now, this.options, this.lookup, deviceId);
    if (answer.sources.length > 0) this.tracks.set(deviceId, track, now);
    return answer;
  }

  /** A position from one request alone, no device track (the Google Geolocation endpoint). */
  locate(observations: readonly unknown[], now: number): PositionAnswer {
    return fuseObservations(new Track(this.options), observations, now, this.options, this.lookup, null);
  }

  /**
   * The device's last fix, or null (unknown or expired). With `at` (UTC ms) later than the fix and
   * within maxCoastMs of it, the fix is predicted to that time (basis 'prediction', a wider
   * radius): where the device should be now, for a map that shows devices between reports.
   */
  current(deviceId: string, now: number, at?: number): PositionFix | null {
    const track = this.tracks.get(deviceId, now);
    if (track === undefined) return null;
    if (at === undefined || !(at > track.timeMs) || at - track.timeMs > this.options.maxCoastMs) return fixOf(track, this.options);
    const ahead = this.ahead ??= new Track(this.options);
    ahead.filter.copyFrom(track.filter);
    ahead.frame.setOrigin(track.frame.lat0, track.frame.lon0);
    ahead.biasVar = track.biasVar;
    ahead.filter.predict((at - track.timeMs) / 1000);
    ahead.timeMs = at;
    ahead.basis = 'prediction';
    return fixOf(ahead, this.options);
  }

  /** Scratch track for predictions, so that current() never touches a device's own. */
  private ahead: Track | undefined;

  /** Every live device's last fix, least recently updated first (for a map of all devices). */
  *fixes(now: number): IterableIterator<[deviceId: string, fix: PositionFix]> {
    for (const [id, track] of this.tracks.live(now)) yield [id, fixOf(track, this.options)];
  }

  forget(deviceId: string): boolean {
    return this.tracks.delete(deviceId);
  }

  /** Drops expired tracks now (they are also dropped lazily); returns how many. */
  sweep(now: number): number {
    return this.tracks.sweep(now);
  }

  get deviceCount(): number {
    return this.tracks.size;
  }
}
