/**
 * Observations as devices send them, checked one by one and turned into position measurements
 * (a point and its standard deviation); each one that cannot be used gets a reason code and a
 * message that says what to fix.
 *
 * GNSS: lat/lon on WGS84 (= CGCS2000 within centimetres), the time in UTC, GPS time or BeiDou time,
 * and its quality as `accuracy` (metres, 68 % radius as Android reports it) or `hdop`. HDOP turns
 * into metres through the user equivalent range error: horizontal RMS error = HDOP × UERE, i.e.
 * HDOP × UERE / √2 per axis. Cell towers and Wi-Fi access points are looked up in a RadioLookup and
 * measure the device at the antenna, with its observed range taken as a 95 % radius.
 */

import { K68, K95 } from './confidence.ts';
import { TIME_SYSTEMS, bdtWeekToUtc, gpsWeekToUtc, timeSystemEpoch, toUtc, type TimeSystem } from './gnss-time.ts';
import { normaliseMac, parseRadioType, type RadioLookup, type RadioType } from './radio-map.ts';

export type GnssSystem = 'bds' | 'gps' | 'gnss';
export const GNSS_SYSTEMS: readonly GnssSystem[] = ['bds', 'gps', 'gnss'];
export type ObservationType = 'gnss' | 'cell' | 'wifi';

/** A time as an ISO 8601 text, ms since 1970 (both read in `timeSystem`), or a GNSS week and seconds of week. */
export type ObservationTime = string | number | { week: number; seconds: number };

export interface GnssObservation {
  type: 'gnss';
  lat: number;
  lon: number;
  /** bds (BeiDou only), gps, or gnss (multi-constellation). Default gnss. */
  system?: GnssSystem;
  hdop?: number;
  /** Horizontal radius, metres, 68 % confidence (Android Location.getAccuracy()). Preferred over hdop. */
  accuracy?: number;
  time: ObservationTime;
  /** Default utc. Week/seconds times need gpst (GPS weeks) or bdt (BeiDou weeks). */
  timeSystem?: TimeSystem;
}

export interface CellObservation {
  type: 'cell';
  /** GSM, UMTS (or wcdma), CDMA, LTE, NR. */
  radio?: string;
  mcc: number;
  mnc: number;
  /** Location area code (GSM/UMTS); for LTE/NR send `tac`. */
  lac?: number;
  tac?: number;
  cellId: number;
  /** Received signal, dBm. Accepted, not yet used for weighting. */
  signal?: number;
  /** When the cell was seen; by default the time of the newest timed observation in the request. */
  time?: ObservationTime;
  timeSystem?: TimeSystem;
}

export interface WifiObservation {
  type: 'wifi';
  macAddress: string;
  /** dBm. Accepted, not yet used for weighting. */
  signal?: number;
  time?: ObservationTime;
  timeSystem?: TimeSystem;
}

export type Observation = GnssObservation | CellObservation | WifiObservation;

export type RejectReason =
  | 'invalid_observation'
  | 'invalid_position'
  | 'null_island'
  | 'invalid_system'
  | 'missing_accuracy'
  | 'invalid_accuracy'
  | 'invalid_hdop'
  | 'invalid_time'
  | 'time_in_future'
  | 'time_too_old'
  | 'out_of_order'
  | 'invalid_cell'
  | 'unknown_cell'
  | 'invalid_mac'
  | 'unknown_wifi'
  | 'too_few_wifi'
  | 'outlier'
  | 'superseded';

export interface RejectedObservation {
  /** Position in the request's observation list. */
  index: number;
  type: ObservationType | null;
  reason: RejectReason;
  message: string;
}

/** One usable observation: a point on WGS84 with an isotropic standard deviation. */
export interface Measurement {
  index: number;
  type: ObservationType;
  /** The GNSS system, or null for cells and Wi-Fi. */
  system: GnssSystem | null;
  /** UTC, ms since 1970; NaN until filled in for a cell or access point sent without a time. */
  timeMs: number;
  lat: number;
  lon: number;
  /** Standard deviation per axis, metres. */
  sigma: number;
  /** The cell ("mcc:mnc:area:cell") or access point (MAC) measured; null for GNSS. */
  source: string | null;
}

export interface MeasurementOptions {
  /** User equivalent range error, metres (1σ), per system. */
  uere: Readonly<Record<GnssSystem, number>>;
  /** HDOP above this is not a usable fix (99.99 is the NMEA "no fix" value). */
  maxHdop: number;
  /** Smallest GNSS σ per axis believed, metres. */
  minGnssSigma: number;
  /** Reported accuracy above this (metres) is not a GNSS fix. */
  maxGnssAccuracy: number;
  /** Cell and Wi-Fi ranges are clamped to these, metres. */
  cellRange: readonly [min: number, max: number];
  wifiRange: readonly [min: number, max: number];
  /** Observations older than now − maxAgeMs or newer than now + maxFutureMs are refused. */
  maxAgeMs: number;
  maxFutureMs: number;
}

export const DEFAULT_MEASUREMENT_OPTIONS: Readonly<MeasurementOptions> = Object.freeze({
  uere: Object.freeze({ bds: 4, gps: 4, gnss: 4 }),
  maxHdop: 20,
  minGnssSigma: 0.5,
  maxGnssAccuracy: 10_000,
  cellRange: Object.freeze([150, 35_000] as const),
  wifiRange: Object.freeze([15, 500] as const),
  maxAgeMs: 24 * 3600_000,
  maxFutureMs: 60_000,
});

const WEEK_MS = 604_800_000;
const ZONED = /(?:[zZ]|[+-]\d\d(?::?\d\d)?)$/;
const ISO_LIKE = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[zZ]|[+-]\d\d(?::?\d\d)?)?$/;

type Result = Measurement | RejectedObservation;

function reject(index: number, type: ObservationType | null, reason: RejectReason, message: string): RejectedObservation {
  return { index, type, reason, message };
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isWholeInRange(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

/**
 * UTC ms of an observation time, or a message. `now` bounds it: refused if later than
 * now + maxFutureMs or earlier than now − maxAgeMs.
 */
export function readObservationTime(
  time: unknown, system: unknown, now: number, o: Pick<MeasurementOptions, 'maxAgeMs' | 'maxFutureMs'>,
): number | { reason: 'invalid_time' | 'time_in_future' | 'time_too_old'; message: string } {
  const ts = system === undefined ? 'utc' : system;
  if (!TIME_SYSTEMS.includes(ts as TimeSystem)) {
    return { reason: 'invalid_time', message: `timeSystem "${String(system)}" is not one of utc, gpst, bdt` };
  }
  const scale = ts as TimeSystem;
  let utc: number;
  let weekBased = false;
  if (typeof time === 'number') {
    if (!Number.isFinite(time)) return { reason: 'invalid_time', message: 'time must be a finite number of milliseconds since 1970' };
    utc = toUtc(time, scale);
  } else if (typeof time === 'string') {
    const text = time.trim();
    if (!ISO_LIKE.test(text)) return { reason: 'invalid_time', message: `time "${time.slice(0, 40)}" is not ISO 8601 (e.g. 2024-05-01T08:00:00Z)` };
    // A calendar time without a zone is read in the time system itself, never in the server's zone.
    const ms = Date.parse(ZONED.test(text) ? text : `${text}Z`);
    // Date.parse rolls 2025-02-30 over into March; a receiver that sends it has a broken clock.
    const y = Number(text.slice(0, 4)), mo = Number(text.slice(5, 7)), d = Number(text.slice(8, 10));
    if (!Number.isFinite(ms) || mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) {
      return { reason: 'invalid_time', message: `time "${time.slice(0, 40)}" is not a valid date` };
    }
    utc = toUtc(ms, scale);
  } else if (time !== null && typeof time === 'object') {
    const { week, seconds } = time as { week?: unknown; seconds?: unknown };
    if (!isWholeInRange(week, 1e5) || !isFiniteNumber(seconds) || seconds < 0 || seconds >= 604_800) {
      return { reason: 'invalid_time', message: 'a week time needs a whole week ≥ 0 and seconds of week from 0 to 604800' };
    }
    if (scale === 'utc') return { reason: 'invalid_time', message: 'a week/seconds time needs timeSystem gpst (GPS weeks) or bdt (BeiDou weeks)' };
    utc = scale === 'gpst' ? gpsWeekToUtc(week, seconds) : bdtWeekToUtc(week, seconds);
    weekBased = true;
  } else {
    return { reason: 'invalid_time', message: 'time is missing: give ISO 8601 text, ms since 1970, or {week, seconds}' };
  }
  if (utc < toUtc(timeSystemEpoch(scale), scale)) {
    return { reason: 'invalid_time', message: `time is before the ${scale === 'bdt' ? 'BeiDou time epoch (2006-01-01)' : 'GPS time epoch (1980-01-06)'}` };
  }
  if (utc > now + o.maxFutureMs) {
    return { reason: 'time_in_future', message: `time ${new Date(utc).toISOString()} is ${Math.round((utc - now) / 1000)} s ahead of the server clock; check the device clock and timeSystem` };
  }
  if (utc < now - o.maxAgeMs) {
    const age = `time ${new Date(utc).toISOString()} is older than the ${Math.round(o.maxAgeMs / 3600_000)} h this service accepts`;
    if (weekBased && scale === 'gpst' && Math.abs(utc + 1024 * WEEK_MS * Math.round((now - utc) / (1024 * WEEK_MS)) - now) < o.maxAgeMs) {
      return { reason: 'time_too_old', message: `${age}; it is a multiple of 1024 weeks old, so the receiver sent a 10-bit GPS week: send the full week number` };
    }
    if (typeof time === 'number' && Math.abs(toUtc(time * 1000, scale) - now) < o.maxAgeMs) {
      return { reason: 'time_too_old', message: `${age}; it looks like seconds since 1970: send milliseconds` };
    }
    return { reason: 'time_too_old', message: age };
  }
  return utc;
}

function readTimeInto(raw: Record<string, unknown>, index: number, type: ObservationType, now: number, o: MeasurementOptions, required: boolean): number | RejectedObservation {
  if (!required && raw.time === undefined) return NaN;
  const t = readObservationTime(raw.time, raw.timeSystem, now, o);
  return typeof t === 'number' ? t : reject(index, type, t.reason, t.message);
}

function readGnss(raw: Record<string, unknown>, index: number, now: number, o: MeasurementOptions): Result {
  const { lat, lon } = raw;
  if (!isFiniteNumber(lat) || lat < -90 || lat > 90) return reject(index, 'gnss', 'invalid_position', 'lat must be a number from -90 to 90 (degrees, WGS84)');
  if (!isFiniteNumber(lon) || lon < -180 || lon > 180) return reject(index, 'gnss', 'invalid_position', 'lon must be a number from -180 to 180 (degrees, WGS84)');
  if (lat === 0 && lon === 0) return reject(index, 'gnss', 'null_island', 'lat 0, lon 0 is what receivers send before they have a fix, not a position');
  const system = raw.system === undefined ? 'gnss' : raw.system;
  if (!GNSS_SYSTEMS.includes(system as GnssSystem)) return reject(index, 'gnss', 'invalid_system', `system "${String(raw.system)}" is not one of bds, gps, gnss`);
  let sigma: number;
  if (raw.accuracy !== undefined) {
    const a = raw.accuracy;
    if (!isFiniteNumber(a) || a <= 0) return reject(index, 'gnss', 'invalid_accuracy', 'accuracy must be a positive number of metres (68 % radius)');
    if (a > o.maxGnssAccuracy) return reject(index, 'gnss', 'invalid_accuracy', `accuracy ${a} m is above ${o.maxGnssAccuracy} m: not a usable GNSS fix`);
    sigma = a / K68;
  } else if (raw.hdop !== undefined) {
    const h = raw.hdop;
    if (!isFiniteNumber(h) || h <= 0) return reject(index, 'gnss', 'invalid_hdop', 'hdop must be a positive number');
    if (h > o.maxHdop) return reject(index, 'gnss', 'invalid_hdop', `hdop ${h} is above ${o.maxHdop}: the satellite geometry gives no usable fix`);
    sigma = (h * o.uere[system as GnssSystem]) / Math.SQRT2;
  } else {
    return reject(index, 'gnss', 'missing_accuracy', 'give accuracy (metres) or hdop, so that the fix can be weighted');
  }
  const t = readTimeInto(raw, index, 'gnss', now, o, true);
  if (typeof t !== 'number') return t;
  return { index, type: 'gnss', system: system as GnssSystem, timeMs: t, lat, lon, sigma: Math.max(sigma, o.minGnssSigma), source: null };
}

function readCell(raw: Record<string, unknown>, index: number, now: number, o: MeasurementOptions, lookup: RadioLookup): Result {
  const { mcc, mnc, cellId } = raw;
  const area = raw.tac ?? raw.lac;
  let radio: RadioType | null = null;
  if (raw.radio !== undefined) {
    radio = parseRadioType(raw.radio);
    if (radio === null) return reject(index, 'cell', 'invalid_cell', `radio "${String(raw.radio)}" is not one of gsm, umts (wcdma), cdma, lte, nr`);
  }
  if (!isWholeInRange(mcc, 999)) return reject(index, 'cell', 'invalid_cell', 'mcc must be an integer from 0 to 999 (460 for China)');
  if (!isWholeInRange(mnc, 32767)) return reject(index, 'cell', 'invalid_cell', 'mnc must be an integer from 0 to 999 (or a CDMA SID up to 32767)');
  if (!isWholeInRange(area, 16_777_215)) return reject(index, 'cell', 'invalid_cell', 'lac (GSM/UMTS) or tac (LTE/NR) must be an integer from 0 to 16777215');
  if (!isWholeInRange(cellId, 2 ** 36)) return reject(index, 'cell', 'invalid_cell', 'cellId must be an integer from 0 to 2^36');
  const t = readTimeInto(raw, index, 'cell', now, o, false);
  if (typeof t !== 'number') return t;
  const tower = lookup.findCell({ radio, mcc, mnc, area, cell: cellId });
  if (tower === undefined) return reject(index, 'cell', 'unknown_cell', `cell ${mcc}-${mnc}-${area}-${cellId} is not in the cell-tower table`);
  const range = Math.min(Math.max(tower.range, o.cellRange[0]), o.cellRange[1]);
  return { index, type: 'cell', system: null, timeMs: t, lat: tower.lat, lon: tower.lon, sigma: range / K95, source: `${tower.mcc}:${tower.mnc}:${tower.area}:${tower.cell}` };
}

function readWifi(raw: Record<string, unknown>, index: number, now: number, o: MeasurementOptions, lookup: RadioLookup): Result {
  const mac = typeof raw.macAddress === 'string' ? normaliseMac(raw.macAddress) : null;
  if (mac === null) return reject(index, 'wifi', 'invalid_mac', 'macAddress must be six hexadecimal octets, e.g. "01:23:45:67:89:ab"');
  const t = readTimeInto(raw, index, 'wifi', now, o, false);
  if (typeof t !== 'number') return t;
  const ap = lookup.findWifi(mac);
  if (ap === undefined) return reject(index, 'wifi', 'unknown_wifi', `access point ${mac} is not in the Wi-Fi table`);
  const range = Math.min(Math.max(ap.range, o.wifiRange[0]), o.wifiRange[1]);
  return { index, type: 'wifi', system: null, timeMs: t, lat: ap.lat, lon: ap.lon, sigma: range / K95, source: ap.mac };
}

/** One observation, as received, into a measurement or a rejection. */
export function readObservation(raw: unknown, index: number, now: number, o: MeasurementOptions, lookup: RadioLookup): Result {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return reject(index, null, 'invalid_observation', 'an observation must be an object with a type: gnss, cell or wifi');
  const r = raw as Record<string, unknown>;
  switch (r.type) {
    case 'gnss': return readGnss(r, index, now, o);
    case 'cell': return readCell(r, index, now, o, lookup);
    case 'wifi': return readWifi(r, index, now, o, lookup);
    default: return reject(index, null, 'invalid_observation', `type "${String(r.type)}" is not one of gnss, cell, wifi`);
  }
}

export function isRejection(r: Result): r is RejectedObservation {
  return (r as RejectedObservation).reason !== undefined;
}
