/**
 * GPS time (GPST) and BeiDou time (BDT) to UTC.
 *
 * GPST is a continuous atomic scale that equalled UTC at its epoch, 1980-01-06T00:00:00Z, and has
 * not followed UTC's leap seconds since, so GPST = UTC + (leap seconds inserted since 1980); 18 s
 * since 2017-01-01. BDT equalled UTC at its epoch, 2006-01-01T00:00:00Z, when GPST − UTC was
 * already 14 s, so BDT = GPST − 14 s = UTC + 4 s today (BeiDou ICD B1I §5.1.2; IS-GPS-200 §3.3.4).
 *
 * Receivers that report GPST or BDT on a date usually do so as a calendar time written in that
 * scale ("2024-05-01T08:00:18" GPST) or as week number and seconds of week; both are accepted.
 * The table ends with the last leap second announced (IERS Bulletin C). When IERS announces the
 * next one, add a row: times after it would otherwise be one second off.
 */

/** GPST − UTC in whole seconds, from the UTC instant (ms since 1970) at which each applies. */
export const GPS_LEAP_SECONDS: ReadonlyArray<readonly [utcMs: number, gpsMinusUtc: number]> = Object.freeze([
  [Date.UTC(1980, 0, 6), 0],
  [Date.UTC(1981, 6, 1), 1],
  [Date.UTC(1982, 6, 1), 2],
  [Date.UTC(1983, 6, 1), 3],
  [Date.UTC(1985, 6, 1), 4],
  [Date.UTC(1988, 0, 1), 5],
  [Date.UTC(1990, 0, 1), 6],
  [Date.UTC(1991, 0, 1), 7],
  [Date.UTC(1992, 6, 1), 8],
  [Date.UTC(1993, 6, 1), 9],
  [Date.UTC(1994, 6, 1), 10],
  [Date.UTC(1996, 0, 1), 11],
  [Date.UTC(1997, 6, 1), 12],
  [Date.UTC(1999, 0, 1), 13],
  [Date.UTC(2006, 0, 1), 14],
  [Date.UTC(2009, 0, 1), 15],
  [Date.UTC(2012, 6, 1), 16],
  [Date.UTC(2015, 6, 1), 17],
  [Date.UTC(2017, 0, 1), 18],
] as const);

export type TimeSystem = 'utc' | 'gpst' | 'bdt';
export const TIME_SYSTEMS: readonly TimeSystem[] = ['utc', 'gpst', 'bdt'];

/** 1980-01-06T00:00:00Z: GPS week 0, second 0. */
export const GPS_EPOCH_MS = Date.UTC(1980, 0, 6);
/** 2006-01-01T00:00:00Z: BDT week 0, second 0. */
export const BDT_EPOCH_MS = Date.UTC(2006, 0, 1);
/** BDT = GPST − 14 s, fixed by definition. */
export const GPST_MINUS_BDT_S = 14;
export const SECONDS_PER_WEEK = 604_800;

const LAST = GPS_LEAP_SECONDS.length - 1;

/** GPST − UTC, in seconds, at a UTC instant (0 before 1980). */
export function gpsLeapSecondsAtUtc(utcMs: number): number {
  for (let i = LAST; i >= 0; i--) if (utcMs >= GPS_LEAP_SECONDS[i][0]) return GPS_LEAP_SECONDS[i][1];
  return 0;
}

/**
 * UTC of a GPST instant, both in ms since 1970 (GPST read as if it were a UTC calendar).
 * An instant inside an inserted leap second (23:59:60 UTC has no Unix time) maps to the first
 * millisecond after it, as POSIX clocks show it.
 */
export function gpstToUtc(gpstMs: number): number {
  for (let i = LAST; i >= 0; i--) {
    const [startUtc, offset] = GPS_LEAP_SECONDS[i];
    const utc = gpstMs - offset * 1000;
    if (utc >= startUtc) return utc;
    // Inside the leap second itself: too early for this row, too late for the one before.
    if (i > 0 && gpstMs - GPS_LEAP_SECONDS[i - 1][1] * 1000 >= startUtc) return startUtc;
  }
  return gpstMs;
}

export function utcToGpst(utcMs: number): number {
  return utcMs + gpsLeapSecondsAtUtc(utcMs) * 1000;
}

/** UTC of a BDT instant (ms since 1970, BDT read as a UTC calendar). */
export function bdtToUtc(bdtMs: number): number {
  return gpstToUtc(bdtMs + GPST_MINUS_BDT_S * 1000);
}

export function utcToBdt(utcMs: number): number {
  return utcToGpst(utcMs) - GPST_MINUS_BDT_S * 1000;
}

/** UTC (ms since 1970) of a time given in `system`. */
export function toUtc(ms: number, system: TimeSystem): number {
  if (system === 'utc') return ms;
  return system === 'gpst' ? gpstToUtc(ms) : bdtToUtc(ms);
}

/** UTC of GPS week and seconds of week (full week number since 1980, not modulo 1024). */
export function gpsWeekToUtc(week: number, secondsOfWeek: number): number {
  return gpstToUtc(GPS_EPOCH_MS + (week * SECONDS_PER_WEEK + secondsOfWeek) * 1000);
}

/** UTC of BeiDou week and seconds of week (week 0 began 2006-01-01, BDT). */
export function bdtWeekToUtc(week: number, secondsOfWeek: number): number {
  return bdtToUtc(BDT_EPOCH_MS + (week * SECONDS_PER_WEEK + secondsOfWeek) * 1000);
}

/** The first instant a time system can express, in its own scale (ms since 1970). */
export function timeSystemEpoch(system: TimeSystem): number {
  return system === 'bdt' ? BDT_EPOCH_MS : system === 'gpst' ? GPS_EPOCH_MS : Number.NEGATIVE_INFINITY;
}
