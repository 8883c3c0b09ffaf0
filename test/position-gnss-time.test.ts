/**
 * GPS time and BeiDou time to UTC: the leap-second table, the offsets at today's 18 s and 4 s,
 * week/seconds-of-week, the leap second itself, and times read without a zone.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BDT_EPOCH_MS, GPS_EPOCH_MS, GPS_LEAP_SECONDS, bdtToUtc, bdtWeekToUtc, gpsLeapSecondsAtUtc, gpsWeekToUtc, gpstToUtc,
  readObservationTime, toUtc, utcToBdt, utcToGpst,
} from '../position/fuse.ts';

const ms = (iso: string) => Date.parse(iso);
const LIMITS = { maxAgeMs: 24 * 3600_000, maxFutureMs: 60_000 };

describe('GPST and BDT to UTC', () => {
  it('GPST = UTC + 18 s and BDT = UTC + 4 s since 2017-01-01', () => {
    assert.equal(gpstToUtc(ms('2024-05-01T08:00:18Z')), ms('2024-05-01T08:00:00Z'));
    assert.equal(bdtToUtc(ms('2024-05-01T08:00:04Z')), ms('2024-05-01T08:00:00Z'));
    assert.equal(utcToGpst(ms('2024-05-01T08:00:00Z')) - utcToBdt(ms('2024-05-01T08:00:00Z')), 14_000, 'BDT = GPST − 14 s');
    assert.equal(toUtc(ms('2024-05-01T08:00:00Z'), 'utc'), ms('2024-05-01T08:00:00Z'));
  });

  it('uses the offset in force at the time: 17 s in 2016, 14 s in 2006, 0 at the GPS epoch', () => {
    assert.equal(gpstToUtc(ms('2016-06-01T00:00:17Z')), ms('2016-06-01T00:00:00Z'));
    assert.equal(bdtToUtc(ms('2016-06-01T00:00:03Z')), ms('2016-06-01T00:00:00Z'));
    assert.equal(gpstToUtc(ms('2007-03-01T00:00:14Z')), ms('2007-03-01T00:00:00Z'));
    assert.equal(bdtToUtc(ms('2007-03-01T00:00:00Z')), ms('2007-03-01T00:00:00Z'), 'BDT = UTC until 2009');
    assert.equal(gpstToUtc(GPS_EPOCH_MS), GPS_EPOCH_MS);
    assert.equal(gpsLeapSecondsAtUtc(ms('1979-12-31T00:00:00Z')), 0);
    assert.equal(gpsLeapSecondsAtUtc(ms('2030-01-01T00:00:00Z')), 18);
  });

  it('the table is increasing, one second at a time, ending at 18 s (2017-01-01)', () => {
    for (let i = 1; i < GPS_LEAP_SECONDS.length; i++) {
      assert.ok(GPS_LEAP_SECONDS[i][0] > GPS_LEAP_SECONDS[i - 1][0]);
      assert.equal(GPS_LEAP_SECONDS[i][1], GPS_LEAP_SECONDS[i - 1][1] + 1);
    }
    assert.deepEqual(GPS_LEAP_SECONDS.at(-1), [ms('2017-01-01T00:00:00Z'), 18]);
  });

  it('round-trips UTC → GPST/BDT → UTC away from leap seconds', () => {
    for (const iso of ['1985-03-01T12:00:00Z', '1999-06-30T00:00:00Z', '2012-07-01T00:00:01Z', '2016-12-31T23:59:59Z', '2025-05-01T00:00:00Z']) {
      assert.equal(gpstToUtc(utcToGpst(ms(iso))), ms(iso), iso);
      if (ms(iso) >= BDT_EPOCH_MS) assert.equal(bdtToUtc(utcToBdt(ms(iso))), ms(iso), iso);
    }
  });

  it('maps the inserted leap second (23:59:60 UTC, no Unix time) to the next midnight', () => {
    // 2016-12-31T23:59:60 UTC is GPST 2017-01-01T00:00:17; the seconds either side stay distinct.
    assert.equal(gpstToUtc(ms('2017-01-01T00:00:16Z')), ms('2016-12-31T23:59:59Z'));
    assert.equal(gpstToUtc(ms('2017-01-01T00:00:17.500Z')), ms('2017-01-01T00:00:00Z'));
    assert.equal(gpstToUtc(ms('2017-01-01T00:00:18Z')), ms('2017-01-01T00:00:00Z'));
    assert.equal(gpstToUtc(ms('2017-01-01T00:00:19Z')), ms('2017-01-01T00:00:01Z'));
  });

  it('week and seconds of week: GPS week 2048 (the 2019 rollover) and BDT week 0', () => {
    assert.equal(gpsWeekToUtc(2048, 0), ms('2019-04-06T23:59:42Z'));
    assert.equal(gpsWeekToUtc(0, 0), GPS_EPOCH_MS);
    assert.equal(bdtWeekToUtc(0, 0), BDT_EPOCH_MS);
    // GPS week 1356 began 2006-01-01T00:00:00 GPST; BDT week 0 began 14 s later on the GPS clock.
    assert.equal(gpsWeekToUtc(1356, 14) , bdtWeekToUtc(0, 0));
  });
});

describe('readObservationTime', () => {
  const now = ms('2025-05-01T08:00:30Z');

  it('reads ISO text in its own time system, never in the server\'s zone', () => {
    assert.equal(readObservationTime('2025-05-01T08:00:18', 'gpst', now, LIMITS), ms('2025-05-01T08:00:00Z'));
    assert.equal(readObservationTime('2025-05-01T08:00:18Z', 'gpst', now, LIMITS), ms('2025-05-01T08:00:00Z'));
    assert.equal(readObservationTime('2025-05-01 16:00:04+08:00', 'bdt', now, LIMITS), ms('2025-05-01T08:00:00Z'));
    assert.equal(readObservationTime(ms('2025-05-01T08:00:00Z'), undefined, now, LIMITS), ms('2025-05-01T08:00:00Z'));
  });

  it('reads GPS and BeiDou week/seconds', () => {
    const gpst = utcToGpst(ms('2025-05-01T08:00:00Z')) - GPS_EPOCH_MS;
    const week = Math.floor(gpst / 604_800_000);
    assert.equal(readObservationTime({ week, seconds: (gpst % 604_800_000) / 1000 }, 'gpst', now, LIMITS), ms('2025-05-01T08:00:00Z'));
    const bdt = utcToBdt(ms('2025-05-01T08:00:00Z')) - BDT_EPOCH_MS;
    assert.equal(readObservationTime({ week: Math.floor(bdt / 604_800_000), seconds: (bdt % 604_800_000) / 1000 }, 'bdt', now, LIMITS), ms('2025-05-01T08:00:00Z'));
  });

  it('says what is wrong', () => {
    const reason = (t: unknown, sys?: unknown) => {
      const r = readObservationTime(t, sys, now, LIMITS);
      return typeof r === 'number' ? 'ok' : r.reason;
    };
    assert.equal(reason('2025-05-01T08:05:00Z'), 'time_in_future');
    assert.equal(reason('2025-05-01T08:01:00Z'), 'ok', 'a 30 s fast device clock is tolerated');
    assert.equal(reason('2025-04-29T08:00:00Z'), 'time_too_old');
    assert.equal(reason('2025-13-01T00:00:00Z'), 'invalid_time');
    assert.equal(reason('2025-02-30T00:00:00Z'), 'invalid_time', 'not rolled over into March');
    assert.equal(reason('1 May 2025'), 'invalid_time');
    assert.equal(reason(Number.NaN), 'invalid_time');
    assert.equal(reason(undefined), 'invalid_time');
    assert.equal(reason({ week: 2000, seconds: 700_000 }, 'gpst'), 'invalid_time');
    assert.equal(reason({ week: 2000, seconds: 0 }, 'utc'), 'invalid_time');
    assert.equal(reason('1975-01-01T00:00:00Z', 'gpst'), 'invalid_time');
  });
});
