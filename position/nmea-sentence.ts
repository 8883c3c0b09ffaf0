/**
 * One NMEA 0183 sentence: framing, checksum, fields, and the typed decoding of the sentences a
 * position fix is built from (GGA, RMC, GNS, GLL, GSA, GSV, GST, VTG, ZDA, Skytraq's PSTI,030).
 *
 * Decoding is deliberately literal: an empty field is `null`, never 0, because receivers use empty
 * fields to say "unknown" and the epoch assembler must tell the two apart (gpsd does the same).
 * Values that cannot be valid (a latitude of 91°, a minute of 61, a hemisphere of 'X') make the
 * field `null` rather than the sentence an error, so one bad field does not hide the others.
 */

/** Why a line was not accepted as a sentence; stable codes for counting and for tests. */
export type NmeaRejectReason =
  | 'empty'
  | 'no-start'          // no '$' or '!' where a sentence must start
  | 'non-printable'     // control or 8-bit bytes inside the sentence (binary, line noise)
  | 'too-long'
  | 'missing-checksum'  // no '*hh' at the end: also what a truncated sentence looks like
  | 'bad-checksum'
  | 'bad-address';      // the address field is not a talker + sentence type

export interface NmeaReject {
  ok: false;
  reason: NmeaRejectReason;
  message: string;
}

/** NMEA limits a sentence to 82 characters, but u-blox high-precision mode and others exceed it. */
export const NMEA_MAX_SENTENCE_LENGTH = 200;

/** Time of day as sent (hhmmss.sss), kept with its sub-second digits exactly. */
export interface NmeaTimeOfDay {
  hour: number;
  minute: number;
  second: number;
  /** Sub-second part in nanoseconds, from the digits as sent (".01" → 10 000 000). */
  nanos: number;
}

export interface NmeaDate {
  year: number;
  month: number; // 1–12
  day: number;   // 1–31
}

export interface LatLon {
  lat: number;
  lon: number;
}

interface SentenceBase {
  /** Two-letter talker ('GP', 'GN', 'BD', 'GB', 'PQ', …); 'P' for proprietary sentences. */
  talker: string;
  /** The data fields after the address, without the checksum. */
  fields: readonly string[];
  /** The sentence as accepted, from '$' to the checksum. */
  raw: string;
}

export interface GgaSentence extends SentenceBase {
  type: 'GGA';
  time: NmeaTimeOfDay | null;
  position: LatLon | null;
  /** 0 invalid, 1 GPS, 2 DGPS, 3 PPS, 4 RTK fixed, 5 RTK float, 6 dead reckoning, 7 manual, 8 simulator. */
  quality: number | null;
  satellitesUsed: number | null;
  hdop: number | null;
  altitudeMsl: number | null;
  geoidSeparation: number | null;
  dgpsAge: number | null;
  dgpsStation: number | null;
}

export interface RmcSentence extends SentenceBase {
  type: 'RMC';
  time: NmeaTimeOfDay | null;
  /** 'A' valid, 'V' warning, 'D' differential (some receivers). */
  status: string;
  position: LatLon | null;
  speedKnots: number | null;
  courseTrue: number | null;
  date: NmeaDate | null;
  magneticVariation: number | null;
  /** FAA mode indicator (NMEA 2.3+): A, D, E, F, M, N, P, R, S; '' when absent. */
  faaMode: string;
  /** Navigation status (NMEA 4.1+): S, C, U, V; '' when absent. */
  navStatus: string;
}

export interface GnsSentence extends SentenceBase {
  type: 'GNS';
  time: NmeaTimeOfDay | null;
  position: LatLon | null;
  /** One FAA mode character per constellation (GPS, GLONASS, Galileo, BeiDou, QZSS, NavIC). */
  modes: string;
  satellitesUsed: number | null;
  hdop: number | null;
  altitudeMsl: number | null;
  geoidSeparation: number | null;
  dgpsAge: number | null;
  dgpsStation: number | null;
  navStatus: string;
}

export interface GllSentence extends SentenceBase {
  type: 'GLL';
  position: LatLon | null;
  time: NmeaTimeOfDay | null;
  status: string;
  faaMode: string;
}

export interface GsaSentence extends SentenceBase {
  type: 'GSA';
  /** 'A' automatic, 'M' manual. */
  selection: string;
  /** 1 no fix, 2 2D, 3 3D; null when empty or not a digit. */
  fixType: number | null;
  /** Satellite ids as sent, empty fields dropped. */
  satelliteIds: number[];
  pdop: number | null;
  hdop: number | null;
  vdop: number | null;
  /** NMEA 4.10+ GNSS system id (1 GPS, 2 GLONASS, 3 Galileo, 4 BeiDou, 5 QZSS, 6 NavIC). */
  systemId: number | null;
}

export interface GsvSatellite {
  id: number;
  elevation: number | null;
  azimuth: number | null;
  snr: number | null;
}

export interface GsvSentence extends SentenceBase {
  type: 'GSV';
  sentenceCount: number | null;
  sentenceNumber: number | null;
  satellitesInView: number | null;
  satellites: GsvSatellite[];
  /** NMEA 4.10+ signal id (the field after the last satellite block). */
  signalId: number | null;
  /** Quectel adds a system id after the signal id (as in GSA); null otherwise. */
  systemId: number | null;
}

export interface GstSentence extends SentenceBase {
  type: 'GST';
  time: NmeaTimeOfDay | null;
  rmsRange: number | null;
  semiMajor: number | null;
  semiMinor: number | null;
  orientation: number | null;
  latError: number | null;
  lonError: number | null;
  altError: number | null;
}

export interface VtgSentence extends SentenceBase {
  type: 'VTG';
  courseTrue: number | null;
  courseMagnetic: number | null;
  speedKnots: number | null;
  speedKmh: number | null;
  faaMode: string;
}

export interface ZdaSentence extends SentenceBase {
  type: 'ZDA';
  time: NmeaTimeOfDay | null;
  date: NmeaDate | null;
}

/** Skytraq's "recommended minimum 3D" sentence: RMC plus altitude and ENU velocity. */
export interface Psti030Sentence extends SentenceBase {
  type: 'PSTI030';
  time: NmeaTimeOfDay | null;
  status: string;
  position: LatLon | null;
  altitudeMsl: number | null;
  date: NmeaDate | null;
  faaMode: string;
}

/** Any other well-formed sentence (TXT, GBS, proprietary ones): kept so callers can see it. */
export interface OtherSentence extends SentenceBase {
  /** 'GBS', 'TXT', …, or the whole address of a proprietary sentence ('PSRFEPE', 'PGLOR'). */
  type: string;
  /** A sentence the assembler only needs the time of (GBS, PSRFEPE) carries it here. */
  time: NmeaTimeOfDay | null;
  other: true;
}

export type NmeaSentence =
  | GgaSentence
  | RmcSentence
  | GnsSentence
  | GllSentence
  | GsaSentence
  | GsvSentence
  | GstSentence
  | VtgSentence
  | ZdaSentence
  | Psti030Sentence
  | OtherSentence;

export type NmeaParseResult = { ok: true; sentence: NmeaSentence } | NmeaReject;

/** Standard sentence types recognised after a two-letter talker. */
const STANDARD_TYPES = new Set(['GGA', 'RMC', 'GNS', 'GLL', 'GSA', 'GSV', 'GST', 'VTG', 'ZDA', 'GBS', 'TXT', 'DTM', 'GRS']);

/** Sentences whose field 1 is a time of day that the epoch assembler uses for cycle detection. */
const TIMED_OTHERS = new Set(['GBS', 'PSRFEPE']);

function reject(reason: NmeaRejectReason, message: string): NmeaReject {
  return { ok: false, reason, message };
}

const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * Parses one line holding one sentence. Leading '$$' (some loggers double the start character)
 * and trailing CR/LF or blanks are tolerated; a checksum is required and verified.
 */
export function parseNmeaLine(line: string): NmeaParseResult {
  let s = line.trim();
  if (s.length === 0) return reject('empty', 'empty line');
  while (s.startsWith('$$')) s = s.slice(1);
  const start = s[0];
  if (start !== '$' && start !== '!') return reject('no-start', "a sentence starts with '$' or '!'");
  if (s.length > NMEA_MAX_SENTENCE_LENGTH) {
    return reject('too-long', `sentence of ${s.length} characters, the limit is ${NMEA_MAX_SENTENCE_LENGTH}`);
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return reject('non-printable', `byte 0x${c.toString(16).padStart(2, '0')} at column ${i + 1}`);
  }
  const star = s.lastIndexOf('*');
  if (star < 0 || !HEX.test(s.slice(star + 1))) {
    return reject('missing-checksum', 'no *hh checksum at the end (truncated sentence?)');
  }
  let sum = 0;
  for (let i = 1; i < star; i++) sum ^= s.charCodeAt(i);
  const sent = parseInt(s.slice(star + 1), 16);
  if (sum !== sent) {
    return reject('bad-checksum', `checksum ${s.slice(star + 1).toUpperCase()}, computed ${sum.toString(16).toUpperCase().padStart(2, '0')}`);
  }
  const body = s.slice(1, star);
  const parts = body.split(',');
  const address = parts[0];
  const fields = parts.slice(1);
  const raw = s;
  if (!/^[A-Z0-9]{2,8}$/.test(address)) return reject('bad-address', `address field '${address}' is not a talker and type`);

  if (address === 'PSTI' && fields[0] === '030') return { ok: true, sentence: decodePsti030(fields, raw) };
  if (address.length === 5 && STANDARD_TYPES.has(address.slice(2))) {
    // Quectel sends its BeiDou/QZSS GSA/GSV with the address 'PQGSV': a two-letter talker 'PQ',
    // as gpsd reads it, not a proprietary sentence.
    return { ok: true, sentence: decodeStandard(address.slice(0, 2), address.slice(2), fields, raw) };
  }
  const talker = address[0] === 'P' ? 'P' : address.slice(0, 2);
  const type = address[0] === 'P' ? address : address.slice(2);
  return { ok: true, sentence: { talker, type, fields, raw, time: TIMED_OTHERS.has(address) ? timeOfDay(fields[0]) : null, other: true } };
}

function decodeStandard(talker: string, type: string, f: string[], raw: string): NmeaSentence {
  const base = { talker, fields: f, raw };
  switch (type) {
    case 'GGA':
      return {
        ...base, type,
        time: timeOfDay(f[0]), position: latLon(f[1], f[2], f[3], f[4]), quality: integer(f[5]),
        satellitesUsed: integer(f[6]), hdop: decimal(f[7]), altitudeMsl: decimal(f[8]),
        geoidSeparation: decimal(f[10]), dgpsAge: decimal(f[12]), dgpsStation: integer(f[13]),
      };
    case 'RMC':
      return {
        ...base, type,
        time: timeOfDay(f[0]), status: letter(f[1]), position: latLon(f[2], f[3], f[4], f[5]),
        speedKnots: decimal(f[6]), courseTrue: decimal(f[7]), date: ddmmyy(f[8]),
        magneticVariation: signed(decimal(f[9]), f[10], 'W'), faaMode: letter(f[11]), navStatus: letter(f[12]),
      };
    case 'GNS':
      return {
        ...base, type,
        time: timeOfDay(f[0]), position: latLon(f[1], f[2], f[3], f[4]), modes: f[5] ?? '',
        satellitesUsed: integer(f[6]), hdop: decimal(f[7]), altitudeMsl: decimal(f[8]),
        geoidSeparation: decimal(f[9]), dgpsAge: decimal(f[10]), dgpsStation: integer(f[11]), navStatus: letter(f[12]),
      };
    case 'GLL':
      return { ...base, type, position: latLon(f[0], f[1], f[2], f[3]), time: timeOfDay(f[4]), status: letter(f[5]), faaMode: letter(f[6]) };
    case 'GSA': {
      // 12 satellite fields in the standard, but the Navior-24 sends 24: the three DOPs (and the
      // 4.10 system id) are found from the end instead. NMEA 4.10 adds exactly one field.
      const hasSystemId = f.length === 18;
      const dopAt = f.length - (hasSystemId ? 4 : 3);
      const ids: number[] = [];
      for (let i = 2; i < dopAt; i++) {
        const id = integer(f[i]);
        if (id !== null && id > 0) ids.push(id);
      }
      return {
        ...base, type,
        selection: letter(f[0]), fixType: integer(f[1]), satelliteIds: ids,
        pdop: decimal(f[dopAt]), hdop: decimal(f[dopAt + 1]), vdop: decimal(f[dopAt + 2]),
        systemId: hasSystemId ? hexDigit(f[17]) : null,
      };
    }
    case 'GSV': {
      const blocks = Math.floor((f.length - 3) / 4);
      const extra = (f.length - 3) % 4;
      const sats: GsvSatellite[] = [];
      for (let b = 0; b < blocks; b++) {
        const i = 3 + b * 4;
        const id = integer(f[i]);
        if (id === null || id === 0) continue;
        sats.push({ id, elevation: integer(f[i + 1]), azimuth: integer(f[i + 2]), snr: integer(f[i + 3]) });
      }
      return {
        ...base, type,
        sentenceCount: integer(f[0]), sentenceNumber: integer(f[1]), satellitesInView: integer(f[2]),
        satellites: sats,
        signalId: extra >= 1 ? hexDigit(f[3 + blocks * 4]) : null,
        systemId: extra === 2 ? hexDigit(f[4 + blocks * 4]) : null,
      };
    }
    case 'GST':
      return {
        ...base, type,
        time: timeOfDay(f[0]), rmsRange: decimal(f[1]), semiMajor: decimal(f[2]), semiMinor: decimal(f[3]),
        orientation: decimal(f[4]), latError: decimal(f[5]), lonError: decimal(f[6]), altError: decimal(f[7]),
      };
    case 'VTG':
      return { ...base, type, courseTrue: decimal(f[0]), courseMagnetic: decimal(f[2]), speedKnots: decimal(f[4]), speedKmh: decimal(f[6]), faaMode: letter(f[8]) };
    case 'ZDA':
      return { ...base, type, time: timeOfDay(f[0]), date: dayMonthYear(f[1], f[2], f[3]) };
    default:
      return { ...base, type, time: TIMED_OTHERS.has(type) ? timeOfDay(f[0]) : null, other: true };
  }
}

function decodePsti030(f: string[], raw: string): Psti030Sentence {
  return {
    talker: 'P', type: 'PSTI030', fields: f, raw,
    time: timeOfDay(f[1]), status: letter(f[2]), position: latLon(f[3], f[4], f[5], f[6]),
    altitudeMsl: decimal(f[7]), date: ddmmyy(f[11]), faaMode: letter(f[12]),
  };
}

// ---- field decoders --------------------------------------------------------------------------

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)$/;

/** A decimal number, or null when the field is empty or not a number. */
function decimal(field: string | undefined): number | null {
  if (field === undefined || !DECIMAL.test(field)) return null;
  return Number(field);
}

function integer(field: string | undefined): number | null {
  if (field === undefined || !/^[+-]?\d+$/.test(field)) return null;
  return Number(field);
}

/** The 4.10 system and signal ids are one hex digit (signal ids run 1–F in 4.11). */
function hexDigit(field: string | undefined): number | null {
  if (field === undefined || !/^[0-9A-Fa-f]$/.test(field)) return null;
  return parseInt(field, 16);
}

function letter(field: string | undefined): string {
  return field === undefined ? '' : field.slice(0, 1);
}

function signed(value: number | null, hemisphere: string | undefined, negative: string): number | null {
  if (value === null) return null;
  return hemisphere === negative ? -value : value;
}

/** hhmmss with optional fraction; the sub-second digits are kept exactly, as nanoseconds. */
function timeOfDay(field: string | undefined): NmeaTimeOfDay | null {
  const m = field === undefined ? null : /^(\d\d)(\d\d)(\d\d)(?:\.(\d{0,9}))?$/.exec(field);
  if (!m) return null;
  const hour = Number(m[1]);
  const minute = Number(m[2]);
  const second = Number(m[3]);
  // 60 is a leap second, which a UTC time may carry.
  if (hour > 23 || minute > 59 || second > 60) return null;
  const frac = m[4] ?? '';
  const nanos = frac.length === 0 ? 0 : Number(frac) * 10 ** (9 - frac.length);
  return { hour, minute, second, nanos };
}

/** RMC's ddmmyy; the century is not decided here (see the assembler). */
function ddmmyy(field: string | undefined): NmeaDate | null {
  const m = field === undefined ? null : /^(\d\d)(\d\d)(\d\d)$/.exec(field);
  if (!m) return null;
  const day = Number(m[1]);
  const month = Number(m[2]);
  if (month < 1 || month > 12 || day < 1 || day > 31) return null;
  return { year: Number(m[3]), month, day };
}

function dayMonthYear(d: string | undefined, m: string | undefined, y: string | undefined): NmeaDate | null {
  const day = integer(d);
  const month = integer(m);
  const year = integer(y);
  if (day === null || month === null || year === null) return null;
  if (year < 1900 || year > 2200 || month < 1 || month > 12 || day < 1 || day > 31) return null;
  return { year, month, day };
}

/**
 * NMEA (d)ddmm.mmmm to degrees, computed the way gpsd does (integer minutes first, then the
 * fraction, then one multiplication) so that results agree with it to the last bit.
 */
function degreesMinutes(field: string): number | null {
  const m = /^(\d+)(\.\d*)$/.exec(field);
  if (!m) return null;
  const whole = Number(m[1]);
  const degrees = Math.floor(whole / 100);
  const minutes = whole - degrees * 40 + (m[2].length > 1 ? Number(m[2]) : 0);
  if (minutes - degrees * 60 >= 60) return null;
  return minutes * (1.0 / 60.0);
}

function latLon(lat: string | undefined, ns: string | undefined, lon: string | undefined, ew: string | undefined): LatLon | null {
  if (!lat || !lon) return null;
  if ((ns !== 'N' && ns !== 'S') || (ew !== 'E' && ew !== 'W')) return null;
  const la = degreesMinutes(lat);
  const lo = degreesMinutes(lon);
  if (la === null || lo === null || la > 90 || lo > 180) return null;
  return { lat: ns === 'S' ? -la : la, lon: ew === 'W' ? -lo : lo };
}
