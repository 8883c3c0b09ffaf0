/**
 * Position fusion: the Kalman track (convergence, velocity, gating, restarts), inverse-variance
 * combination against its closed form, base-station fallback, validation with per-observation
 * reasons, device state expiry, the radius's confidence level, and datum conversion.
 * Noise is seeded (the demo city's Rng), so every run sees the same numbers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../fixtures/demo-city/random.ts';
import { wgs84ToBd09, wgs84ToGcj02 } from '../data-import/crs/china-offsets.ts';
import { parseNmeaLog } from '../position/nmea.ts';
import {
  ConstantVelocityFilter, DeviceStore, ImmConstantVelocity, gnssObservationsFromNmea, K68, K95, LocalFrame, PositionFuser, RadioMap, chiSquare2, convertRadius,
  radiusFactor, readPositionRequest, toDatum, utcToGpst, GPS_EPOCH_MS, type Observation, type PositionAnswer,
} from '../position/fuse.ts';

const ORIGIN = { lat: 24.91, lon: 118.59 }; // 泉州, the demo city's centre
const frame = new LocalFrame(ORIGIN.lat, ORIGIN.lon);
const T0 = Date.UTC(2025, 4, 1, 8, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

function gauss(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** A GNSS observation at (east, north) metres from the origin. */
function gnssAt(e: number, n: number, t: number, extra: Partial<Observation> = {}): Observation {
  return { type: 'gnss', lat: frame.lat(n), lon: frame.lon(e), hdop: 1, time: iso(t), ...extra } as Observation;
}

/** Error of a fix from (east, north), metres. */
function errorOf(a: PositionAnswer, e: number, n: number): number {
  assert.ok(a.fix, 'expected a fix');
  return Math.hypot(frame.east(a.fix.lon) - e, frame.north(a.fix.lat) - n);
}

function towers(): RadioMap {
  const map = new RadioMap();
  map.addCell({ radio: 'LTE', mcc: 460, mnc: 0, area: 22547, cell: 5762561, lon: frame.lon(300), lat: frame.lat(-200), range: 600, samples: 40 });
  map.addCell({ radio: 'LTE', mcc: 460, mnc: 0, area: 22547, cell: 5762562, lon: frame.lon(-500), lat: frame.lat(400), range: 800, samples: 12 });
  map.addWifi({ mac: '0A:1B:2C:3D:4E:5F', lon: frame.lon(20), lat: frame.lat(10), range: 40 });
  map.addWifi({ mac: '0a-1b-2c-3d-4e-60', lon: frame.lon(-10), lat: frame.lat(30), range: 60 });
  return map;
}

describe('Kalman track', () => {
  it('converges on a stationary device: better than the fixes, inside its radius, velocity near zero', () => {
    const rng = new Rng(1);
    const fuser = new PositionFuser(new RadioMap());
    const sigma = 4 / Math.SQRT2; // hdop 1 × UERE 4 m, per axis
    let rawErr = 0, fusedErr = 0, inside = 0, speed = 0, rejected = 0;
    let a: PositionAnswer | undefined;
    for (let i = 0; i < 120; i++) {
      const e = sigma * gauss(rng), n = sigma * gauss(rng);
      a = fuser.fuse('still', [gnssAt(e, n, T0 + i * 1000)], T0 + i * 1000);
      rejected += a.rejected.length;
      if (i >= 60) {
        rawErr += Math.hypot(e, n);
        fusedErr += errorOf(a, 0, 0);
        if (errorOf(a, 0, 0) <= a.fix!.accuracy) inside++;
        speed += a.fix!.speed!;
      }
    }
    assert.ok(fusedErr < 0.7 * rawErr, `fused mean error ${fusedErr / 60} should be well below raw ${rawErr / 60}`);
    assert.ok(inside >= 57, `the 95 % radius held the truth ${inside} times in 60`);
    assert.ok(speed / 60 < 2, `mean speed ${speed / 60}`);
    assert.ok(rejected <= 1, 'at most the odd false alarm of a 99.9 % gate');
    // The radius shrinks below one fix's, but not below the slow error that no filter removes.
    const oneFix = K95 * sigma;
    assert.ok(a!.fix!.accuracy < oneFix && a!.fix!.accuracy > K95 * sigma * Math.sqrt(0.5), `accuracy ${a!.fix!.accuracy}`);
    assert.equal(a!.fix!.basis, 'gnss');
    assert.equal(a!.fix!.confidence, 0.95);
    assert.equal(a!.fix!.crs, 'CRS84');
  });

  it('estimates a moving device\'s velocity (speed and heading)', () => {
    const rng = new Rng(2);
    const fuser = new PositionFuser(new RadioMap());
    const vE = 10, vN = 5; // 11.18 m/s towards 63.4°
    let a: PositionAnswer | undefined;
    let speed = 0, heading = 0;
    for (let i = 0; i < 60; i++) {
      const t = T0 + i * 1000;
      a = fuser.fuse('car', [gnssAt(vE * i + 2 * gauss(rng), vN * i + 2 * gauss(rng), t)], t);
      if (i >= 30) {
        speed += a.fix!.speed! / 30;
        heading += a.fix!.heading! / 30;
      }
    }
    assert.ok(Math.abs(speed - Math.hypot(vE, vN)) < 0.5, `mean speed ${speed}`);
    assert.ok(Math.abs(heading - (Math.atan2(vE, vN) * 180) / Math.PI) < 3, `mean heading ${heading}`);
    assert.ok(errorOf(a!, vE * 59, vN * 59) < 5);
    assert.equal(a!.fix!.time, iso(T0 + 59_000));
  });

  it('rejects a fix 200 m off by the χ² gate, says why, and keeps tracking', () => {
    const fuser = new PositionFuser(new RadioMap());
    for (let i = 0; i < 20; i++) fuser.fuse('d', [gnssAt(0, 0, T0 + i * 1000)], T0 + i * 1000);
    const a = fuser.fuse('d', [gnssAt(200, 0, T0 + 20_000)], T0 + 20_000);
    assert.equal(a.sources.length, 0);
    assert.equal(a.rejected.length, 1);
    assert.equal(a.rejected[0].index, 0);
    assert.equal(a.rejected[0].type, 'gnss');
    assert.equal(a.rejected[0].reason, 'outlier');
    assert.match(a.rejected[0].message, /^200 m from the predicted position \(χ² = \d+\.\d > gate 13\.8/);
    assert.equal(a.fix!.basis, 'prediction');
    assert.ok(errorOf(a, 0, 0) < 1);
    const b = fuser.fuse('d', [gnssAt(1, 0, T0 + 21_000)], T0 + 21_000);
    assert.equal(b.rejected.length, 0);
    assert.equal(b.fix!.basis, 'gnss');
  });

  it('believes a receiver that keeps disagreeing (3 s, 3 epochs): the track restarts there', () => {
    const fuser = new PositionFuser(new RadioMap());
    for (let i = 0; i < 20; i++) fuser.fuse('d', [gnssAt(0, 0, T0 + i * 1000)], T0 + i * 1000);
    const answers = [20, 21, 22, 23].map((s) => fuser.fuse('d', [gnssAt(500, 0, T0 + s * 1000)], T0 + s * 1000));
    assert.deepEqual(answers.map((a) => a.reset), [null, null, null, 'gnss_disagreed']);
    assert.deepEqual(answers.map((a) => a.rejected.length), [1, 1, 1, 0]);
    assert.ok(errorOf(answers[3], 500, 0) < 1);
  });

  it('a tentative track started on a bad fix gives way at once to the fixes that follow', () => {
    const fuser = new PositionFuser(new RadioMap());
    const first = fuser.fuse('d', [gnssAt(90, 0, T0)], T0); // multipath: 90 m off
    assert.equal(first.reset, 'new_track');
    const second = fuser.fuse('d', [gnssAt(0, 0, T0 + 1000)], T0 + 1000);
    // Depending on the gate the second fix is accepted or restarts the track; either way it is used.
    assert.equal(second.sources.length, 1);
    const third = fuser.fuse('d', [gnssAt(0, 0, T0 + 2000)], T0 + 2000);
    assert.ok(errorOf(third, 0, 0) < 30, `error ${errorOf(third, 0, 0)}`);
  });

  it('restarts after more than maxCoastMs without an update instead of extrapolating', () => {
    const fuser = new PositionFuser(new RadioMap());
    for (let i = 0; i < 10; i++) fuser.fuse('d', [gnssAt(10 * i, 0, T0 + i * 1000)], T0 + i * 1000);
    const later = T0 + 9000 + 121_000;
    const a = fuser.fuse('d', [gnssAt(0, 0, later)], later);
    assert.equal(a.reset, 'coast_limit');
    assert.ok(errorOf(a, 0, 0) < 1);
    assert.equal(a.fix!.speed, null, 'the velocity is unknown again');
  });

  it('refuses observations older than the track', () => {
    const fuser = new PositionFuser(new RadioMap());
    fuser.fuse('d', [gnssAt(0, 0, T0 + 10_000)], T0 + 10_000);
    const a = fuser.fuse('d', [gnssAt(0, 0, T0 + 5000)], T0 + 10_500);
    assert.equal(a.rejected[0].reason, 'out_of_order');
    assert.match(a.rejected[0].message, /before the device's last fix at 2025-05-01T08:00:10\.000Z/);
  });

  it('takes a request\'s fixes in time order, whatever order they came in', () => {
    const a = new PositionFuser(new RadioMap());
    const b = new PositionFuser(new RadioMap());
    const fixes = [0, 1, 2, 3, 4].map((i) => gnssAt(8 * i, 0, T0 + i * 1000));
    const ra = a.fuse('d', fixes, T0 + 5000);
    const rb = b.fuse('d', [fixes[3], fixes[0], fixes[4], fixes[2], fixes[1]], T0 + 5000);
    assert.equal(ra.fix!.lat, rb.fix!.lat);
    assert.equal(ra.fix!.lon, rb.fix!.lon);
    assert.deepEqual(rb.sources.map((s) => s.index).sort(), [0, 1, 2, 3, 4]);
  });
});

describe('inverse-variance combination', () => {
  it('two receivers at the same moment: the closed form, x = Σ xᵢ/σᵢ² / Σ 1/σᵢ², σ² = 1/Σ 1/σᵢ²', () => {
    const fuser = new PositionFuser(new RadioMap());
    const a1 = 6, a2 = 15; // metres, 68 % radii
    const s1 = a1 / K68, s2 = a2 / K68;
    const p1 = [12, -4], p2 = [-2, 6];
    const t = T0;
    const answer = fuser.fuse('two', [
      gnssAt(p1[0], p1[1], t, { system: 'bds', accuracy: a1, timeSystem: 'utc' }),
      gnssAt(p2[0], p2[1], t, { system: 'gps', accuracy: a2 }),
    ], t);
    const w1 = 1 / s1 ** 2, w2 = 1 / s2 ** 2;
    const e = (w1 * p1[0] + w2 * p2[0]) / (w1 + w2);
    const n = (w1 * p1[1] + w2 * p2[1]) / (w1 + w2);
    assert.ok(errorOf(answer, e, n) < 1e-6, `off the closed form by ${errorOf(answer, e, n)} m`);
    assert.ok(Math.abs(answer.fix!.accuracy - K95 / Math.sqrt(w1 + w2)) < 1e-9);
    assert.deepEqual(answer.sources.map((s) => s.index), [0, 1]);
    assert.ok(Math.abs(answer.sources[0].weight - w1 / (w1 + w2)) < 1e-12);
    assert.ok(Math.abs(answer.sources[1].weight - w2 / (w1 + w2)) < 1e-12);
  });

  it('GNSS and Wi-Fi together (gnssBiasShare 0, so GNSS weighs by its whole variance)', () => {
    const fuser = new PositionFuser(towers(), { gnssBiasShare: 0 });
    const answer = fuser.fuse('mix', [
      gnssAt(0, 0, T0, { accuracy: 20 }),
      { type: 'wifi', macAddress: '0a:1b:2c:3d:4e:5f', time: iso(T0) },
      { type: 'wifi', macAddress: '0A1B2C3D4E60', time: iso(T0) },
    ], T0);
    const parts = [[0, 0, 20 / K68], [20, 10, 40 / K95], [-10, 30, 60 / K95]];
    let sw = 0, se = 0, sn = 0;
    for (const [e, n, s] of parts) { sw += 1 / s ** 2; se += e / s ** 2; sn += n / s ** 2; }
    assert.ok(errorOf(answer, se / sw, sn / sw) < 1e-6);
    assert.ok(Math.abs(answer.fix!.accuracy - K95 / Math.sqrt(sw)) < 1e-9);
    assert.deepEqual(answer.sources.map((s) => s.type), ['gnss', 'wifi', 'wifi']);
  });

  it('one update with the combination equals updating with each measurement in turn', () => {
    const one = new ConstantVelocityFilter();
    const seq = new ConstantVelocityFilter();
    for (const f of [one, seq]) { f.reset(0, 0, 25, 0, 25, 100); f.predict(1, 2); }
    const z = [[3, 4, 9], [-2, 1, 16]];
    const w = z.map(([, , r]) => 1 / r);
    const r = 1 / (w[0] + w[1]);
    one.update(r * (w[0] * z[0][0] + w[1] * z[1][0]), r * (w[0] * z[0][1] + w[1] * z[1][1]), r, 0, r);
    for (const [e, n, v] of z) seq.update(e, n, v, 0, v);
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(one.x[i] - seq.x[i]) < 1e-9);
    for (let i = 0; i < 16; i++) assert.ok(Math.abs(one.P[i] - seq.P[i]) < 1e-9);
  });
});

describe('Kalman algebra against the textbook matrices', () => {
  const mul = (a: number[][], b: number[][]) => a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
  const tr = (a: number[][]) => a[0].map((_, j) => a.map((row) => row[j]));
  const asM = (P: Float64Array) => [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => P[i * 4 + j]));

  it('predict is F P Fᵀ + Q', () => {
    const f = new ConstantVelocityFilter();
    f.reset(1, 2, 9, 1, 4, 16);
    f.P[2] = f.P[8] = 0.5; f.P[7] = f.P[13] = -0.3;
    const P0 = asM(f.P);
    const dt = 1.7, q = 2;
    f.predict(dt, q);
    const F = [[1, 0, dt, 0], [0, 1, 0, dt], [0, 0, 1, 0], [0, 0, 0, 1]];
    const a = (q * dt ** 3) / 3, b = (q * dt ** 2) / 2, c = q * dt;
    const Q = [[a, 0, b, 0], [0, a, 0, b], [b, 0, c, 0], [0, b, 0, c]];
    const want = mul(mul(F, P0), tr(F)).map((row, i) => row.map((v, j) => v + Q[i][j]));
    const got = asM(f.P);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) assert.ok(Math.abs(got[i][j] - want[i][j]) < 1e-12);
  });

  it('an IMM of two identical models is that model', () => {
    const single = new ConstantVelocityFilter();
    const imm = new ImmConstantVelocity({ qSteady: 2, qManeuver: 2, steadyS: 10, maneuverS: 5 });
    single.reset(1, 2, 9, 0, 9, 100);
    imm.reset(1, 2, 9, 0, 9, 100);
    const rng = new Rng(3);
    for (let i = 1; i <= 20; i++) {
      single.predict(1, 2);
      imm.predict(1);
      const ze = 5 * i + gauss(rng), zn = -3 * i + gauss(rng);
      single.update(ze, zn, 4, 0, 4);
      imm.update(ze, zn, 4, 0, 4);
    }
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(imm.x[i] - single.x[i]) < 1e-9);
    for (let i = 0; i < 16; i++) assert.ok(Math.abs(imm.P[i] - single.P[i]) < 1e-9);
  });

  it('the IMM favours the steady model while cruising and the manoeuvring one in a turn', () => {
    const imm = new ImmConstantVelocity({ qSteady: 0.05, qManeuver: 4, steadyS: 10, maneuverS: 5 });
    imm.reset(0, 0, 4, 0, 4, 225);
    const rng = new Rng(4);
    let e = 0, n = 0, vE = 10, vN = 0;
    for (let i = 1; i <= 40; i++) {
      if (i === 30) { vE = 0; vN = 10; } // a 90° turn in one second
      e += vE; n += vN;
      imm.predict(1);
      imm.update(e + 1.5 * gauss(rng), n + 1.5 * gauss(rng), 2.25, 0, 2.25);
      if (i === 29) assert.ok(imm.mu[0] > 0.8, `steady before the turn: ${imm.mu[0]}`);
      if (i === 31) assert.ok(imm.mu[1] > 0.8, `manoeuvring in the turn: ${imm.mu[1]}`);
    }
  });

  it('updatePosition corrects position, leaves velocity and its variance alone', () => {
    const f = new ConstantVelocityFilter();
    f.reset(0, 0, 100, 0, 100, 9);
    f.x[2] = 3; f.x[3] = -1;
    f.predict(1, 2);
    const vBefore = [f.x[2], f.x[3], f.P[10], f.P[11], f.P[15]];
    f.updatePosition(50, 0, 100, 0, 100);
    assert.deepEqual([f.x[2], f.x[3], f.P[10], f.P[11], f.P[15]], vBefore);
    assert.ok(f.x[0] > 20 && f.x[0] < 30);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) assert.equal(f.P[i * 4 + j], f.P[j * 4 + i]);
  });
});

describe('base stations and Wi-Fi', () => {
  it('GNSS absent: the base station is the fallback, with a large radius', () => {
    const fuser = new PositionFuser(towers());
    const a = fuser.fuse('phone', [{ type: 'cell', radio: 'LTE', mcc: 460, mnc: 0, tac: 22547, cellId: 5762561, signal: -85 }], T0);
    assert.equal(a.fix!.basis, 'radio');
    assert.ok(errorOf(a, 300, -200) < 1e-6, 'at the tower');
    // The tower's range (600 m) is taken as its 95 % radius, and the answer is at 95 % too.
    assert.ok(Math.abs(a.fix!.accuracy - 600) < 1e-6);
    assert.equal(a.fix!.time, iso(T0), 'a cell sent without a time is dated by the request');
    assert.deepEqual(a.sources, [{ index: 0, type: 'cell', weight: 1 }]);
  });

  it('consecutive fixes from the same tower do not shrink the radius', () => {
    const fuser = new PositionFuser(towers());
    let a: PositionAnswer | undefined;
    for (let i = 0; i < 30; i++) a = fuser.fuse('phone', [{ type: 'cell', mcc: 460, mnc: 0, tac: 22547, cellId: 5762561, time: T0 + i * 10_000 }], T0 + i * 10_000);
    assert.ok(a!.fix!.accuracy >= 600 - 1e-6, `accuracy ${a!.fix!.accuracy}`);
  });

  it('under a viaduct the track coasts; a cell less precise than the prediction is "superseded"', () => {
    const fuser = new PositionFuser(towers());
    for (let i = 0; i < 20; i++) fuser.fuse('car', [gnssAt(10 * i, 0, T0 + i * 1000)], T0 + i * 1000);
    const t = T0 + 25_000;
    const a = fuser.fuse('car', [{ type: 'cell', mcc: 460, mnc: 0, tac: 22547, cellId: 5762561, time: t }], t);
    assert.equal(a.rejected[0].reason, 'superseded');
    assert.equal(a.fix!.basis, 'prediction');
    assert.ok(errorOf(a, 250, 0) < 10, `dead reckoning error ${errorOf(a, 250, 0)}`);
  });

  it('in a long outage a tower is used once it beats the prediction, then not again while it would add nothing', () => {
    const fuser = new PositionFuser(towers());
    for (let i = 0; i < 20; i++) fuser.fuse('car', [gnssAt(10 * i, 0, T0 + i * 1000)], T0 + i * 1000);
    const cell = (t: number) => fuser.fuse('car', [{ type: 'cell', mcc: 460, mnc: 0, tac: 22547, cellId: 5762561, time: t }], t);
    let used = -1;
    for (let s = 25; s <= 115 && used < 0; s += 5) if (cell(T0 + s * 1000).sources.length === 1) used = s;
    assert.ok(used > 25, `the cell is first used after ${used} s, once dead reckoning has grown worse than it`);
    const again = cell(T0 + (used + 5) * 1000);
    assert.equal(again.rejected[0].reason, 'superseded');
    assert.match(again.rejected[0].message, /was used since the last GNSS fix/);
  });

  it('two access points that disagree are both dropped: neither may locate the other alone', () => {
    const map = towers();
    map.addWifi({ mac: '0a:1b:2c:3d:4e:61', lon: frame.lon(5000), lat: frame.lat(0), range: 30 });
    const a = new PositionFuser(map).fuse('x', [
      { type: 'wifi', macAddress: '0a:1b:2c:3d:4e:5f' },
      { type: 'wifi', macAddress: '0a:1b:2c:3d:4e:61' },
    ], T0);
    assert.equal(a.fix, null);
    assert.deepEqual(a.rejected.map((r) => r.reason).sort(), ['outlier', 'too_few_wifi']);
  });

  it('refuses unknown cells, bad identities, bad MACs and a lone access point (privacy)', () => {
    const fuser = new PositionFuser(towers());
    const a = fuser.fuse('x', [
      { type: 'cell', mcc: 460, mnc: 0, tac: 1, cellId: 99 },
      { type: 'cell', mcc: 4600, mnc: 0, tac: 1, cellId: 99 },
      { type: 'wifi', macAddress: 'not-a-mac' },
      { type: 'wifi', macAddress: 'ff:ff:ff:ff:ff:ff' },
      { type: 'wifi', macAddress: '0a:1b:2c:3d:4e:5f' },
      { type: 'wifi', macAddress: '02:00:00:00:00:01' },
    ], T0);
    assert.deepEqual(a.rejected.map((r) => [r.index, r.reason]), [
      [0, 'unknown_cell'], [1, 'invalid_cell'], [2, 'invalid_mac'], [3, 'invalid_mac'], [4, 'too_few_wifi'], [5, 'unknown_wifi'],
    ]);
    assert.equal(a.fix, null);
    assert.equal(fuser.deviceCount, 0, 'nothing usable: no track is kept');
  });
});

describe('validation, one reason per observation', () => {
  const now = T0;
  const GPS_WEEK_NOW = Math.floor((utcToGpst(now) - GPS_EPOCH_MS) / 604_800_000);
  const GPS_TOW_NOW = ((utcToGpst(now) - GPS_EPOCH_MS) % 604_800_000) / 1000;
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['latitude out of range', { type: 'gnss', lat: 91, lon: 118, hdop: 1, time: iso(now) }, 'invalid_position', /lat must be a number from -90 to 90/],
    ['longitude not a number', { type: 'gnss', lat: 24, lon: '118', hdop: 1, time: iso(now) }, 'invalid_position', /lon must be/],
    ['0,0', { type: 'gnss', lat: 0, lon: 0, hdop: 1, time: iso(now) }, 'null_island', /before they have a fix/],
    ['negative accuracy', { type: 'gnss', lat: 24, lon: 118, accuracy: -5, time: iso(now) }, 'invalid_accuracy', /positive number of metres/],
    ['NMEA no-fix HDOP', { type: 'gnss', lat: 24, lon: 118, hdop: 99.99, time: iso(now) }, 'invalid_hdop', /above 20/],
    ['neither hdop nor accuracy', { type: 'gnss', lat: 24, lon: 118, time: iso(now) }, 'missing_accuracy', /accuracy \(metres\) or hdop/],
    ['unknown system', { type: 'gnss', lat: 24, lon: 118, hdop: 1, system: 'glonass', time: iso(now) }, 'invalid_system', /bds, gps, gnss/],
    ['future time', { type: 'gnss', lat: 24, lon: 118, hdop: 1, time: iso(now + 3600_000) }, 'time_in_future', /3600 s ahead of the server clock/],
    ['ancient time', { type: 'gnss', lat: 24, lon: 118, hdop: 1, time: '2001-01-01T00:00:00Z' }, 'time_too_old', /older than the 24 h/],
    ['seconds instead of ms', { type: 'gnss', lat: 24, lon: 118, hdop: 1, time: now / 1000 }, 'time_too_old', /looks like seconds since 1970/],
    ['10-bit GPS week', { type: 'gnss', lat: 24, lon: 118, hdop: 1, time: { week: GPS_WEEK_NOW - 1024, seconds: GPS_TOW_NOW }, timeSystem: 'gpst' }, 'time_too_old', /10-bit GPS week/],
    ['BDT before its epoch', { type: 'gnss', lat: 24, lon: 118, hdop: 1, time: '2005-06-01T00:00:00Z', timeSystem: 'bdt' }, 'invalid_time', /BeiDou time epoch/],
    ['not a date', { type: 'gnss', lat: 24, lon: 118, hdop: 1, time: 'yesterday' }, 'invalid_time', /not ISO 8601/],
    ['unknown time system', { type: 'gnss', lat: 24, lon: 118, hdop: 1, time: iso(now), timeSystem: 'tai' }, 'invalid_time', /utc, gpst, bdt/],
    ['unknown type', { type: 'glonass', lat: 24 }, 'invalid_observation', /not one of gnss, cell, wifi/],
    ['not an object', 42, 'invalid_observation', /must be an object/],
  ];
  for (const [name, obs, reason, message] of cases) {
    it(name, () => {
      const a = new PositionFuser(new RadioMap()).fuse('v', [obs], now);
      assert.equal(a.rejected.length, 1);
      assert.equal(a.rejected[0].reason, reason);
      assert.match(a.rejected[0].message, message);
      assert.equal(a.fix, null);
    });
  }

  it('uses the good observations of a request and lists the bad ones by index', () => {
    const a = new PositionFuser(new RadioMap()).fuse('v', [
      { type: 'gnss', lat: 95, lon: 118, hdop: 1, time: iso(now) },
      gnssAt(0, 0, now),
      { type: 'gnss', lat: 24.91, lon: 118.59, accuracy: 0, time: iso(now) },
    ], now);
    assert.deepEqual(a.rejected.map((r) => [r.index, r.reason]), [[0, 'invalid_position'], [2, 'invalid_accuracy']]);
    assert.deepEqual(a.sources.map((s) => s.index), [1]);
    assert.ok(errorOf(a, 0, 0) < 1e-6);
  });

  it('readPositionRequest checks the envelope only', () => {
    assert.equal(readPositionRequest({ deviceId: 'truck 7', observations: [] }).ok, false);
    assert.equal(readPositionRequest({ deviceId: 'truck-7' }).ok, false);
    assert.equal(readPositionRequest([]).ok, false);
    assert.equal(readPositionRequest({ deviceId: 'truck-7', observations: new Array(1001).fill({}) }).ok, false);
    const bad = readPositionRequest({ deviceId: 'truck-7', observations: [], datum: 'mars' });
    assert.ok(!bad.ok && bad.field === 'datum');
    assert.equal(readPositionRequest({ deviceId: '车-7', observations: [] }).ok, false);
    const good = readPositionRequest({ deviceId: 'truck-7@fleet:2', observations: [{ type: 'x' }], datum: 'gcj-02' });
    assert.ok(good.ok);
    assert.equal(good.request.datum, 'GCJ02');
  });
});

describe('device state', () => {
  it('expires a device\'s track ttlMs after its last update', () => {
    const fuser = new PositionFuser(new RadioMap(), { ttlMs: 60_000 });
    fuser.fuse('d', [gnssAt(0, 0, T0)], T0);
    assert.ok(fuser.current('d', T0 + 59_999));
    const refreshed = fuser.fuse('d', [gnssAt(0, 0, T0 + 30_000)], T0 + 30_000);
    assert.equal(refreshed.reset, null);
    assert.ok(fuser.current('d', T0 + 89_999), 'an update restarts the TTL');
    assert.equal(fuser.current('d', T0 + 90_000), null);
    const again = fuser.fuse('d', [gnssAt(0, 0, T0 + 95_000)], T0 + 95_000);
    assert.equal(again.reset, 'new_track');
  });

  it('an all-rejected request does not refresh the TTL', () => {
    const fuser = new PositionFuser(new RadioMap(), { ttlMs: 60_000 });
    fuser.fuse('d', [gnssAt(0, 0, T0)], T0);
    const bad = fuser.fuse('d', [{ type: 'gnss', lat: 0, lon: 0, hdop: 1, time: iso(T0 + 50_000) }], T0 + 50_000);
    assert.equal(bad.fix!.time, iso(T0), 'the last fix, unchanged');
    assert.equal(fuser.current('d', T0 + 60_000), null);
  });

  it('DeviceStore: expiry, sweep, and least-recently-written eviction past maxEntries', () => {
    const store = new DeviceStore<number>({ ttlMs: 100, maxEntries: 3 });
    store.set('a', 1, 0);
    store.set('b', 2, 10);
    store.set('c', 3, 20);
    store.set('a', 11, 30); // a is now the newest
    store.set('d', 4, 40); // full: b, the least recently written, goes
    assert.equal(store.get('b', 40), undefined);
    assert.deepEqual([...store.live(40)].map(([k]) => k), ['c', 'a', 'd']);
    assert.equal(store.evicted, 1);
    assert.equal(store.sweep(125), 1); // c written at 20 expires at 120
    assert.equal(store.get('a', 129), 11);
    assert.equal(store.get('a', 130), undefined);
    assert.equal(store.size, 1);
    assert.throws(() => new DeviceStore({ ttlMs: 0, maxEntries: 1 }), /ttlMs must be above 0/);
  });
});

describe('confidence of the radius', () => {
  it('95 % ↔ 2.448σ and 68 % ↔ 1.510σ for a circular 2-D Gaussian (not 1σ)', () => {
    assert.ok(Math.abs(radiusFactor(0.95) - 2.4477) < 1e-4);
    assert.ok(Math.abs(radiusFactor(0.68) - 1.5096) < 1e-4);
    assert.ok(Math.abs(radiusFactor(1 - Math.exp(-0.5)) - 1) < 1e-12, '1σ holds 39.3 %');
    assert.ok(Math.abs(chiSquare2(0.999) - 13.8155) < 1e-4);
    // Monte Carlo, seeded: the share of draws inside each radius.
    const rng = new Rng(7);
    let in95 = 0, in68 = 0;
    const N = 200_000;
    for (let i = 0; i < N; i++) {
      const r = Math.hypot(gauss(rng), gauss(rng));
      if (r <= K95) in95++;
      if (r <= K68) in68++;
    }
    assert.ok(Math.abs(in95 / N - 0.95) < 0.003, `${in95 / N}`);
    assert.ok(Math.abs(in68 / N - 0.68) < 0.003, `${in68 / N}`);
  });

  it('a GNSS accuracy is read at 68 % and answered at 95 %; convertRadius goes back', () => {
    const a = new PositionFuser(new RadioMap()).fuse('d', [gnssAt(0, 0, T0, { accuracy: 10 })], T0);
    assert.ok(Math.abs(a.fix!.accuracy - (10 * K95) / K68) < 1e-9);
    assert.ok(Math.abs(convertRadius(a.fix!.accuracy, 0.95, 0.68) - 10) < 1e-9);
  });

  it('the confidence can be configured', () => {
    const a = new PositionFuser(new RadioMap(), { confidence: 0.68 }).fuse('d', [gnssAt(0, 0, T0, { accuracy: 10 })], T0);
    assert.equal(a.fix!.confidence, 0.68);
    assert.ok(Math.abs(a.fix!.accuracy - 10) < 1e-9);
  });
});

describe('toDatum', () => {
  const answer = new PositionFuser(new RadioMap()).fuse('d', [gnssAt(0, 0, T0)], T0);

  it('converts the fix to GCJ-02 and BD-09 with data-import\'s offsets; CGCS2000 is the same numbers', () => {
    const g = toDatum(answer, 'GCJ02');
    assert.deepEqual([g.fix!.lon, g.fix!.lat], wgs84ToGcj02(answer.fix!.lon, answer.fix!.lat));
    assert.equal(g.fix!.crs, 'GCJ02');
    assert.equal(g.fix!.accuracy, answer.fix!.accuracy);
    const b = toDatum(answer, 'BD09');
    assert.deepEqual([b.fix!.lon, b.fix!.lat], wgs84ToBd09(answer.fix!.lon, answer.fix!.lat));
    const c = toDatum(answer, 'EPSG:4490');
    assert.deepEqual([c.fix!.lon, c.fix!.lat, c.fix!.crs], [answer.fix!.lon, answer.fix!.lat, 'EPSG:4490']);
    assert.equal(answer.fix!.crs, 'CRS84', 'the input is untouched');
  });

  it('refuses to convert twice, and passes a fix-less answer through', () => {
    assert.throws(() => toDatum(toDatum(answer, 'GCJ02'), 'BD09'), /already in GCJ02/);
    const none: PositionAnswer = { deviceId: null, fix: null, sources: [], rejected: [], reset: null };
    assert.equal(toDatum(none, 'GCJ02'), none);
  });
});

describe('NMEA input', () => {
  /** "$" + body + "*hh" with the correct checksum. */
  function nmea(body: string): string {
    let sum = 0;
    for (const c of body) sum ^= c.charCodeAt(0);
    return `$${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}`;
  }

  it('fixes parsed from a BeiDou receiver\'s NMEA are fused like JSON observations', () => {
    const log = [
      nmea('GNRMC,080000.00,A,2454.6000,N,11835.4000,E,0.0,0.0,010525,,,A'),
      nmea('GNGGA,080000.00,2454.6000,N,11835.4000,E,1,12,0.8,20.0,M,10.0,M,,'),
      nmea('GNRMC,080001.00,A,2454.6001,N,11835.4001,E,0.0,0.0,010525,,,A'),
      nmea('GNGGA,080001.00,2454.6001,N,11835.4001,E,1,12,0.8,20.0,M,10.0,M,,'),
    ].join('\r\n') + '\r\n';
    const { fixes } = parseNmeaLog(log);
    const observations = gnssObservationsFromNmea(fixes, 'bds');
    assert.equal(observations.length, 2);
    const { lat, lon, ...rest } = observations[0];
    assert.ok(Math.abs(lat - 24.91) < 1e-12 && Math.abs(lon - 118.59) < 1e-12);
    assert.deepEqual(rest, { type: 'gnss', system: 'bds', time: '2025-05-01T08:00:00.000Z', timeSystem: 'utc', hdop: 0.8 });
    const a = new PositionFuser(new RadioMap()).fuse('receiver', observations, Date.UTC(2025, 4, 1, 8, 0, 2));
    assert.equal(a.sources.length, 2);
    assert.equal(a.fix!.time, '2025-05-01T08:00:01.000Z');
  });
});
