/**
 * Assembles NMEA sentences into one fix per epoch, the way gpsd does.
 *
 * A receiver spreads one epoch over several sentences: GGA has position, altitude and the time of
 * day but no date; RMC has the date, status and speed; GSA the 2D/3D mode, DOPs and the satellites
 * used; GNS, GLL and Skytraq's PSTI,030 repeat parts of them. Which sentence wins when they
 * disagree, where the date comes from when RMC is missing (ZDA, or a previous RMC, with the day
 * rolled over at midnight), when altitude above the ellipsoid is known, and what "mode" is when
 * GSA is absent are all policy. We follow gpsd's policy (driver_nmea0183.c and libgpsd_core.c)
 * sentence by sentence, because OneMap must give the fixes that gpsd would give for the same
 * data; the conformance test (test/nmea-gpsd.test.ts) replays gpsd's regression logs to prove it.
 *
 * The model, as in gpsd: each sentence yields "new data" and a mask of what it set; a change of
 * the time of day starts a new reporting cycle (the fix is cleared); the new data is merged into
 * the cycle's fix; and the fix is *reported* at the end of a cycle, or after every position or
 * mode change while the end of a cycle cannot yet be recognised. An epoch's fix is the last
 * report for its time that had a 2D or 3D fix.
 *
 * The rules that surprise, in brief (each is marked where it is applied):
 * - No date, no fix: GGA/GNS/GLL times need a date from an earlier RMC (status A/D only) or ZDA;
 *   an hour that goes backwards rolls the day over (nmea-clock.ts).
 * - Mode: GGA says 2D with a position and 3+ satellites, 3D with an altitude and 4+, no fix with
 *   fewer than 3 satellites or a timestamp that repeats the last GGA's; the quality field only
 *   sets the status. GSA's mode wins when it comes, except from a GPGSA after GLGSA/BDGSA/GNGSA.
 *   RMC and GLL cannot tell 2D from 3D: they say 3D when GGA counted 4+ satellites or the cycle
 *   has an altitude, and a 3D fix is never downgraded to 2D by them.
 * - Status is only ever raised within a cycle (GGA quality, RMC/GNS FAA mode, PSTI mode).
 * - GNS with navigational status U or V is ignored (Quectel sends V on every GNS).
 * - altHAE is altMSL plus GGA's geoid separation or, when the field is empty, gpsd's 5° EGM2008
 *   grid; it is computed from the first altitude of the cycle.
 * - Satellites used is GGA's count (u-blox caps it at 12), not the length of the GSA lists.
 */

import type {
  GgaSentence, GllSentence, GnsSentence, GsaSentence, GstSentence, GsvSentence, NmeaSentence,
  Psti030Sentence, RmcSentence, VtgSentence, ZdaSentence,
} from './nmea-sentence.ts';
import { geoidSeparation } from './geoid.ts';
import { NmeaClock, isoMilliseconds } from './nmea-clock.ts';
import { SkyView, type SkySatellite } from './nmea-sky.ts';
import type { BinaryProtocol } from './nmea-stream.ts';

/** gpsd fix status values (gps.h STATUS_*). */
export const FixStatus = Object.freeze({
  UNKNOWN: 0, GPS: 1, DGPS: 2, RTK_FIXED: 3, RTK_FLOAT: 4, DEAD_RECKONING: 5, GNSS_DR: 6,
  TIME_ONLY: 7, SIMULATED: 8, PPS: 9,
});

/** gpsd fix modes: 0 not seen, 1 no fix, 2 2D, 3 3D. */
export type FixMode = 0 | 1 | 2 | 3;

/** GST pseudorange error statistics, metres (orientation in degrees from true north). */
export interface NmeaErrorEstimates {
  rmsRange: number | null;
  semiMajor: number | null;
  semiMinor: number | null;
  orientation: number | null;
  lat: number | null;
  lon: number | null;
  alt: number | null;
}

export interface NmeaFix {
  /** ISO-8601 UTC with milliseconds, rounded as gpsd rounds. */
  time: string;
  /** Milliseconds since 1970 (rounded like `time`). */
  timeMs: number;
  mode: FixMode;
  /** See FixStatus: 0 unknown, 1 GPS, 2 DGPS, 3 RTK fixed, 4 RTK float, 5 DR, 6 GNSS+DR, 7 time only, 8 simulated, 9 PPS. */
  status: number;
  lat?: number;
  lon?: number;
  /** Altitude above mean sea level (GGA/GNS), metres. */
  altMSL?: number;
  /** Altitude above the WGS84 ellipsoid = altMSL + geoid separation, metres. */
  altHAE?: number;
  geoidSeparation?: number;
  /**
   * Satellites used in the solution as the receiver states it in GGA (what gpsd reports as the
   * SKY "uSat" of a fix). u-blox caps it at 12 in NMEA 4.10 mode; the satellites themselves,
   * with a `used` flag from GSA, are in NmeaEpochAssembler.satellites().
   */
  satellitesUsed?: number;
  hdop?: number;
  vdop?: number;
  pdop?: number;
  /** Speed over ground, m/s. */
  speed?: number;
  /** Course over ground, degrees true. */
  course?: number;
  /** GST error estimates sent for this epoch's time, when the receiver sends GST. */
  errors?: NmeaErrorEstimates;
}

export interface NmeaEpochOptions {
  /**
   * Century for two-digit RMC years until a ZDA supplies a four-digit one (gpsd takes it from the
   * clock, or from a "# Date:" header in a log). Years from 2080 on wrap back a century.
   */
  century?: number;
}

// ---- masks, as in gpsd.h ----------------------------------------------------------------------
const TIME_SET = 1 << 0;
const LATLON_SET = 1 << 1;
const ALTITUDE_SET = 1 << 2;
const SPEED_SET = 1 << 3;
const TRACK_SET = 1 << 4;
const STATUS_SET = 1 << 5;
const MODE_SET = 1 << 6;
const DOP_SET = 1 << 7;
const SATELLITE_SET = 1 << 8;
const USED_IS = 1 << 9;
const GST_SET = 1 << 10;
const CLEAR_IS = 1 << 11;
const REPORT_IS = 1 << 12;

const MODE_NOT_SEEN = 0;
const MODE_NO_FIX = 1;
const MODE_2D = 2;
const MODE_3D = 3;

/** Knots to metres per second (exact by definition of the knot). */
const KNOTS_TO_MPS = 1852 / 3600;

/** gpsd's gps_fix_t, reduced to what NMEA sets; NaN for unknown as in gpsd. */
interface FixState {
  sec: number; // 0 = no time
  nanos: number;
  lat: number;
  lon: number;
  mode: FixMode;
  status: number;
  altMSL: number;
  altHAE: number;
  geoidSep: number;
  speed: number;
  track: number;
}

function clearedFix(): FixState {
  return {
    sec: 0, nanos: 0, lat: NaN, lon: NaN, mode: MODE_NOT_SEEN, status: FixStatus.UNKNOWN,
    altMSL: NaN, altHAE: NaN, geoidSep: NaN, speed: NaN, track: NaN,
  };
}

interface Dops { pdop: number; hdop: number; vdop: number }

/** One reported fix (gpsd TPV) before it is turned into an NmeaFix. */
interface Report {
  fix: FixState;
  dops: Dops;
  satellitesUsed: number | null;
}

/** Sentences that may extend a cycle past the last timestamped one (gpsd's "cycle_continue"). */
const CYCLE_CONTINUE = new Set(['GLL']);

/** Minimum field counts (address included, as gpsd counts) below which gpsd ignores a sentence. */
const MIN_FIELDS: Readonly<Record<string, number>> = {
  GGA: 13, GLL: 7, GNS: 13, GSA: 18, GST: 8, RMC: 8, VTG: 5, ZDA: 4, GBS: 7, PSRFEPE: 7, TXT: 5, PSTI030: 2,
};

/** Sentence types gpsd decodes at all; anything else does not touch the cycle state. */
const DECODED = new Set(['GGA', 'GLL', 'GNS', 'GSA', 'GSV', 'GST', 'RMC', 'VTG', 'ZDA', 'GBS', 'TXT', 'PSRFEPE', 'PSTI030', 'PSTI', 'PGLOR', 'DTM', 'GRS']);

export class NmeaEpochAssembler {
  private readonly sky = new SkyView();
  private readonly clock: NmeaClock;

  // The cycle's merged fix, the previous one with a time (lastfix), and the one before (oldfix).
  private fix = clearedFix();
  private lastFix = clearedFix();
  private oldFix = clearedFix();
  private dops: Dops = { pdop: NaN, hdop: NaN, vdop: NaN };
  /** Recent GST sentences by time of day: a GST belongs to the fix of the same time. */
  private readonly gstByTime = new Map<string, NmeaErrorEstimates>();
  /** Satellites used as the last GGA states it (what gpsd reports as SKY "uSat"). */
  private ggaSatellitesUsed: number | null = null;

  // End-of-cycle detection (gpsd nmea_parse).
  private thisFracTime = 0;
  private lastFracTime = 0;
  private lastTag = '';
  private cycleContinue = false;
  private readonly cycleEnders = new Set<string>();
  private cycleEndReliable = false;

  // GGA non-advancing timestamp latch.
  private lastGgaTalker = '';
  private lastGgaTimestamp: string | null = null;
  private latchMode = false;

  // The epoch being collected: its time key and its last report with a 2D/3D fix.
  private epochKey: string | null = null;
  private epochBest: Report | null = null;

  constructor(options: NmeaEpochOptions = {}) {
    this.clock = new NmeaClock(options.century ?? 2000);
  }

  /** Satellites in view, with `used` from GSA, as of the last complete GSV set. */
  satellites(): SkySatellite[] {
    return this.sky.satellites();
  }

  /**
   * A binary frame of a receiver protocol whose gpsd driver marks the end of each cycle itself
   * (UBX, CASIC) means gpsd stops reporting every partial update of a cycle, also for the NMEA
   * sentences around it; without this the first epoch of such a stream would get a fix that
   * gpsd never reports.
   */
  noteBinaryFrame(protocol: BinaryProtocol): void {
    if (protocol === 'ubx' || protocol === 'casic') this.cycleEndReliable = true;
  }

  /** Feeds one sentence; returns the fixes of epochs that this sentence completed (usually 0 or 1). */
  push(sentence: NmeaSentence): NmeaFix[] {
    const out: NmeaFix[] = [];
    const report = this.process(sentence);
    if (report !== null) {
      // Epochs are told apart by their time to the millisecond, as reported.
      const key = report.fix.sec > 0 ? isoMilliseconds(report.fix).iso : null;
      if (key !== null && key !== this.epochKey) {
        const done = this.finishEpoch();
        if (done) out.push(done);
        this.epochKey = key;
      }
      if (key !== null && report.fix.mode >= MODE_2D) this.epochBest = report;
    }
    return out;
  }

  /** Ends the stream: returns the fix of the last epoch, if it had one. */
  flush(): NmeaFix[] {
    const done = this.finishEpoch();
    this.epochKey = null;
    return done ? [done] : [];
  }

  /** The fix the current epoch would get if it ended now (it may still improve), or null. */
  peek(): NmeaFix | null {
    return this.epochBest ? this.toFix(this.epochBest) : null;
  }

  private finishEpoch(): NmeaFix | null {
    const best = this.epochBest;
    this.epochBest = null;
    return best ? this.toFix(best) : null;
  }

  private toFix(r: Report): NmeaFix {
    const fix = toNmeaFix(r);
    const gst = this.gstByTime.get(timeOfDayKey(r.fix.sec % 86_400, r.fix.nanos));
    if (gst) fix.errors = { ...gst };
    return fix;
  }

  // ---- one packet, as gpsd_poll + nmea_parse + all_reports ----------------------------------

  private process(s: NmeaSentence): Report | null {
    const newdata = clearedFix();
    const fieldCount = s.fields.length + 1;
    let latchFracTime = false;
    let gsxMore = false;
    let mask = 0;
    let tag = '';
    const registerFracTime = (field: string | undefined): void => {
      if (!field) return;
      this.lastFracTime = this.thisFracTime;
      this.thisFracTime = Number(field);
      latchFracTime = true;
    };

    const min = MIN_FIELDS[s.type] ?? 0;
    if (DECODED.has(s.type) && fieldCount >= min) {
      // gpsd has one table entry for all $PSTI sentences, so they share one cycle-ender tag
      tag = s.type === 'PSTI030' ? 'PSTI' : s.type;
      const ctx: DecodeContext = { newdata, registerFracTime, fieldCount };
      switch (s.type) {
        case 'GGA': mask = this.gga(s as GgaSentence, ctx); break;
        case 'RMC': mask = this.rmc(s as RmcSentence, ctx); break;
        case 'GNS': mask = this.gns(s as GnsSentence, ctx); break;
        case 'GLL': mask = this.gll(s as GllSentence, ctx); break;
        case 'GSA': mask = this.gsa(s as GsaSentence, newdata); break;
        case 'GSV': {
          const u = this.sky.applyGsv(s as GsvSentence);
          gsxMore = u.more;
          mask = u.skyComplete ? SATELLITE_SET : 0;
          break;
        }
        case 'GST': mask = this.gstSentence(s as GstSentence); break;
        case 'VTG': mask = this.vtg(s as VtgSentence, newdata); break;
        case 'ZDA': mask = this.zda(s as ZdaSentence); break;
        case 'PSTI030': mask = this.psti030(s as Psti030Sentence, ctx); break;
        case 'GBS': registerFracTime(s.fields[0]); break;
        case 'PSRFEPE': mask = this.psrfepe(s, ctx); break;
        default: break;
      }
      this.cycleContinue = CYCLE_CONTINUE.has(s.type);
    }
    this.sky.noteOtherSentence(s.type);

    if (mask & TIME_SET) {
      const t = this.clock.isCleared() ? { sec: 0, nanos: 0 } : this.clock.now();
      newdata.sec = t.sec;
      newdata.nanos = t.nanos;
    }

    // End-of-cycle detection: the sentence that preceded a change of time of day ends cycles.
    const lastTag = this.lastTag;
    if (gsxMore) {
      // more parts to come; GSA and GSV never start a cycle
    } else if (latchFracTime) {
      if (Math.abs(this.thisFracTime - this.lastFracTime) > 0.01) {
        mask |= CLEAR_IS;
        if (lastTag !== '' && !this.cycleEnders.has(lastTag) && !this.cycleContinue) {
          this.cycleEnders.add(lastTag);
          this.cycleEndReliable = true;
        }
      }
    } else if (this.cycleContinue) {
      this.cycleEnders.delete(lastTag);
      this.cycleEnders.add(tag);
      this.cycleEndReliable = true;
    }
    if ((latchFracTime || this.cycleContinue) && this.cycleEnders.has(tag) && !gsxMore) mask |= REPORT_IS;
    if (latchFracTime) this.lastTag = tag;

    // Do not downgrade a 3D fix to 2D because of a sentence (RMC, GLL) that cannot tell 2D from 3D.
    if ((mask & MODE_SET) && this.fix.mode === MODE_3D && newdata.mode !== MODE_NO_FIX &&
        (Number.isFinite(this.lastFix.altHAE) || Number.isFinite(this.oldFix.altHAE) ||
         Number.isFinite(this.lastFix.altMSL) || Number.isFinite(this.oldFix.altMSL))) {
      newdata.mode = this.fix.mode;
    }

    // gpsd_poll: clear at the start of a cycle, merge, derive.
    if (mask & CLEAR_IS) {
      if (!(mask & DOP_SET)) this.dops = { pdop: NaN, hdop: NaN, vdop: NaN };
      this.fix = clearedFix();
    }
    mergeFix(this.fix, mask, newdata);
    this.errorModel();

    // all_reports: report at the end of a cycle, or on every position/mode change until the end
    // of a cycle can be recognised.
    if (!this.cycleEndReliable && (mask & (LATLON_SET | MODE_SET))) mask |= REPORT_IS;
    if (!(mask & REPORT_IS)) return null;
    return {
      fix: { ...this.fix },
      dops: { ...this.dops },
      satellitesUsed: this.ggaSatellitesUsed,
    };
  }

  /** gpsd_error_model, the parts that NMEA fixes need: geoid separation and altHAE. */
  private errorModel(): void {
    const fix = this.fix;
    if (fix.sec > 0) {
      const delta = fix.sec - this.lastFix.sec + (fix.nanos - this.lastFix.nanos) / 1e9;
      if (Math.abs(delta) > 0.0099) this.oldFix = { ...this.lastFix };
    }
    if (!Number.isFinite(fix.lat) || !Number.isFinite(fix.lon) || Math.abs(fix.lat) > 90 || Math.abs(fix.lon) > 180) {
      fix.lat = NaN;
      fix.lon = NaN;
    } else if (!Number.isFinite(fix.geoidSep)) {
      fix.geoidSep = geoidSeparation(fix.lat, fix.lon);
    }
    if (Number.isFinite(fix.geoidSep)) {
      if (Number.isFinite(fix.altHAE) && !Number.isFinite(fix.altMSL)) fix.altMSL = fix.altHAE - fix.geoidSep;
      else if (!Number.isFinite(fix.altHAE) && Number.isFinite(fix.altMSL)) fix.altHAE = fix.altMSL + fix.geoidSep;
    }
    if (fix.sec > 0) this.lastFix = { ...fix };
  }

  // ---- sentence decoders (gpsd process*) -----------------------------------------------------

  private gga(s: GgaSentence, { newdata, registerFracTime }: DecodeContext): number {
    let mask = 0;
    const f = s.fields;
    const lastLastTalker = this.lastGgaTalker;
    this.lastGgaTalker = s.talker[1] ?? '';
    const quality = f[5] === '' ? -1 : atoi(f[5]);
    if (quality === 0 && f[0] === '') {
      // No time (Quectel's "$GPGGA,,,,,,0,,,,,,,,"): forget the date, cycles can no longer be trusted.
      this.clock.reset();
      this.cycleEndReliable = false;
    }
    const status = GGA_STATUS[quality] ?? -1;
    if (status >= 0) {
      newdata.status = status;
      mask = STATUS_SET;
    }
    // A receiver that loses lock may keep repeating the last GGA: a timestamp that does not
    // advance means no fix (gpsd's Trimble Placer workaround).
    if (lastLastTalker !== '' && lastLastTalker !== this.lastGgaTalker) {
      this.latchMode = false;
    } else {
      this.latchMode = f[0] === this.lastGgaTimestamp;
    }
    if (this.latchMode) {
      newdata.status = FixStatus.UNKNOWN;
      newdata.mode = MODE_NO_FIX;
      mask |= MODE_SET | STATUS_SET;
    } else {
      this.lastGgaTimestamp = f[0];
    }
    const satellites = atoi(f[6]);
    this.ggaSatellitesUsed = satellites;
    if (f[0] !== '' && this.clock.setTimeOfDay(s.time)) {
      registerFracTime(f[0]);
      if (this.clock.hasDate()) mask |= TIME_SET;
    }
    if (s.position !== null) {
      newdata.lat = s.position.lat;
      newdata.lon = s.position.lon;
      newdata.mode = MODE_2D;
      mask |= LATLON_SET;
      newdata.geoidSep = s.geoidSeparation ?? geoidSeparation(s.position.lat, s.position.lon);
      if (f[8] !== '') {
        newdata.altMSL = atof(f[8]);
        mask |= ALTITUDE_SET;
        if (satellites >= 4) newdata.mode = MODE_3D;
      }
      if (satellites < 3) newdata.mode = MODE_NO_FIX;
    } else {
      newdata.mode = MODE_NO_FIX;
    }
    mask |= MODE_SET;
    if (s.hdop !== null && s.hdop < 99) {
      this.dops.hdop = s.hdop;
      mask |= DOP_SET;
    }
    return mask | USED_IS;
  }

  private rmc(s: RmcSentence, { newdata, registerFracTime, fieldCount }: DecodeContext): number {
    let mask = 0;
    const f = s.fields;
    if (s.status !== 'A' && s.status !== 'D') {
      newdata.mode = MODE_NO_FIX;
      if (f[0] === '' || (f[8] ?? '') === '') {
        // No time: the Quectel "$GPRMC,,V,,,,,,,,,,N" — forget the date, report now.
        this.clock.reset();
        this.cycleEndReliable = false;
        mask |= REPORT_IS | TIME_SET;
      }
      return mask | STATUS_SET | MODE_SET;
    }
    if (f[0] !== '' && fieldCount > 9 && (f[8] ?? '') !== '') {
      if (this.clock.setTimeOfDay(s.time) && this.clock.setTwoDigitYearDate(s.date)) {
        mask |= TIME_SET;
        registerFracTime(f[0]);
      }
    }
    let status: number;
    if (s.position !== null) {
      newdata.lat = s.position.lat;
      newdata.lon = s.position.lon;
      status = s.status === 'D' ? FixStatus.DGPS : FixStatus.GPS;
      mask |= LATLON_SET;
      if (this.lastFix.mode <= MODE_2D) {
        newdata.mode = MODE_2D;
        mask |= MODE_SET;
      } else if (this.lastFix.mode === MODE_3D) {
        newdata.mode = MODE_3D;
        mask |= MODE_SET;
      }
    } else {
      status = FixStatus.UNKNOWN;
      newdata.mode = MODE_NO_FIX;
      mask |= MODE_SET;
    }
    if (s.speedKnots !== null) {
      newdata.speed = s.speedKnots * KNOTS_TO_MPS;
      mask |= SPEED_SET;
    }
    if (s.courseTrue !== null) {
      newdata.track = s.courseTrue;
      mask |= TRACK_SET;
    }
    if (fieldCount >= 12) status = faaStatus(s.faaMode);
    // RMC cannot tell 2D from 3D: call it 3D when four satellites are used or an altitude is known.
    if ((this.ggaSatellitesUsed ?? 0) > 3) {
      newdata.mode = MODE_3D;
      mask |= MODE_SET;
    } else if (Number.isFinite(this.fix.altHAE) || Number.isFinite(this.fix.altMSL)) {
      newdata.mode = MODE_3D;
      mask |= MODE_SET;
    }
    newdata.status = status;
    return mask | STATUS_SET;
  }

  private gns(s: GnsSentence, { newdata, registerFracTime }: DecodeContext): number {
    let mask = 0;
    const f = s.fields;
    if (f[0] !== '' && this.clock.setTimeOfDay(s.time)) {
      registerFracTime(f[0]);
      if (this.clock.hasDate()) mask = TIME_SET;
    }
    const mode0 = s.modes[0] ?? '';
    if (mode0 === '' || mode0 === 'N') {
      newdata.mode = MODE_NO_FIX;
      return mask | MODE_SET;
    }
    // NMEA 4.1 navigational status: U(nsafe) and V (not valid) void the fix.
    if (s.navStatus === 'U' || s.navStatus === 'V') return mask;
    const satellites = atoi(f[6]);
    if (s.position !== null) {
      newdata.lat = s.position.lat;
      newdata.lon = s.position.lon;
      newdata.mode = MODE_2D;
      mask |= LATLON_SET;
      if (f[8] !== '') {
        newdata.altMSL = atof(f[8]);
        mask |= ALTITUDE_SET;
        if (satellites > 3) newdata.mode = MODE_3D;
        if (s.geoidSeparation !== null) newdata.geoidSep = s.geoidSeparation;
      }
    } else {
      newdata.mode = MODE_NO_FIX;
      mask |= MODE_SET;
    }
    if (s.hdop !== null) {
      this.dops.hdop = s.hdop;
      mask |= DOP_SET;
    }
    newdata.status = faaStatus(mode0);
    return mask | MODE_SET | STATUS_SET;
  }

  private gll(s: GllSentence, { newdata, registerFracTime, fieldCount }: DecodeContext): number {
    let mask = 0;
    const f = s.fields;
    if ((f[4] ?? '') !== '' && this.clock.setTimeOfDay(s.time)) {
      registerFracTime(f[4]);
      if (this.clock.hasDate()) mask = TIME_SET;
    }
    if (s.status === 'A' && (fieldCount < 8 || s.faaMode !== 'N') && s.position !== null) {
      newdata.lat = s.position.lat;
      newdata.lon = s.position.lon;
      mask |= LATLON_SET;
      const status = fieldCount >= 8 ? faaStatus(s.faaMode) : FixStatus.GPS;
      if (Number.isFinite(this.fix.altHAE) || Number.isFinite(this.fix.altMSL)) {
        newdata.mode = MODE_3D;
      } else if ((this.ggaSatellitesUsed ?? 0) > 3) {
        newdata.mode = MODE_3D;
      } else if (this.fix.mode < MODE_2D || (!Number.isFinite(this.oldFix.altHAE) && !Number.isFinite(this.oldFix.altMSL))) {
        newdata.mode = MODE_2D;
      }
      newdata.status = status;
    } else {
      newdata.status = FixStatus.UNKNOWN;
      newdata.mode = MODE_NO_FIX;
    }
    return mask | STATUS_SET | MODE_SET;
  }

  private gsa(s: GsaSentence, newdata: FixState): number {
    if (s.fields.length + 1 < 18 || this.latchMode) return 0;
    const u = this.sky.applyGsa(s);
    let mask = USED_IS;
    newdata.mode = (s.fixType ?? 0) as FixMode;
    if (s.fields[1] !== 'E' && u.modeUsable) mask |= MODE_SET;
    if (u.dopsUsable) {
      if (s.pdop !== null && s.pdop < 99) { this.dops.pdop = s.pdop; mask |= DOP_SET; }
      if (s.hdop !== null && s.hdop < 99) { this.dops.hdop = s.hdop; mask |= DOP_SET; }
      if (s.vdop !== null && s.vdop < 99) { this.dops.vdop = s.vdop; mask |= DOP_SET; }
    }
    return mask;
  }

  private gstSentence(s: GstSentence): number {
    if (s.time === null) return 0;
    const key = timeOfDayKey(s.time.hour * 3600 + s.time.minute * 60 + s.time.second, s.time.nanos);
    this.gstByTime.delete(key);
    this.gstByTime.set(key, {
      rmsRange: s.rmsRange, semiMajor: s.semiMajor, semiMinor: s.semiMinor, orientation: s.orientation,
      lat: s.latError, lon: s.lonError, alt: s.altError,
    });
    // A GST refers to a fix of the last few epochs at most.
    for (const old of this.gstByTime.keys()) {
      if (this.gstByTime.size <= 4) break;
      this.gstByTime.delete(old);
    }
    return GST_SET;
  }

  private vtg(s: VtgSentence, newdata: FixState): number {
    if (s.courseTrue === null || s.speedKnots === null) return 0;
    if (s.faaMode === 'E' || s.faaMode === 'N') return 0;
    newdata.track = s.courseTrue;
    newdata.speed = s.speedKnots * KNOTS_TO_MPS;
    return TRACK_SET | SPEED_SET;
  }

  private zda(s: ZdaSentence): number {
    const f = s.fields;
    if (!f[0] || !f[1] || !f[2] || !f[3]) return 0;
    // ZDA is left out of end-of-cycle detection: some receivers send it only with a fix.
    if (!this.clock.setTimeOfDay(s.time)) return 0;
    if (s.date === null) return 0;
    this.clock.setFullDate(s.date);
    return TIME_SET;
  }

  private psti030(s: Psti030Sentence, { newdata, registerFracTime }: DecodeContext): number {
    let mask = 0;
    if (s.status === 'V' || s.faaMode === 'N') {
      newdata.status = FixStatus.UNKNOWN;
      newdata.mode = MODE_NO_FIX;
      return MODE_SET | STATUS_SET;
    }
    if (s.status !== 'A') return 0;
    if (s.fields[1] !== '' && s.fields[11] !== '' && this.clock.setTimeOfDay(s.time) && this.clock.setTwoDigitYearDate(s.date)) {
      mask |= TIME_SET;
      registerFracTime(s.fields[1]);
    }
    if (s.position !== null) {
      newdata.lat = s.position.lat;
      newdata.lon = s.position.lon;
      newdata.mode = MODE_2D;
      mask |= LATLON_SET;
      if (s.fields[7] !== '') {
        newdata.altMSL = atof(s.fields[7]);
        mask |= ALTITUDE_SET;
        newdata.mode = MODE_3D;
      }
      mask |= MODE_SET;
    }
    newdata.status = faaStatus(s.faaMode);
    return mask | STATUS_SET;
  }

  /** SiRF's error estimates: only its time matters, for cycle detection. */
  private psrfepe(s: NmeaSentence, { registerFracTime }: DecodeContext): number {
    let mask = STATUS_SET;
    const t = 'time' in s ? s.time : null;
    if (s.fields[0] !== '' && this.clock.setTimeOfDay(t)) {
      registerFracTime(s.fields[0]);
      if (this.clock.hasDate()) mask |= TIME_SET;
    }
    return mask;
  }
}

interface DecodeContext {
  newdata: FixState;
  registerFracTime: (field: string | undefined) => void;
  fieldCount: number;
}

/** GGA quality → gpsd status. */
const GGA_STATUS: Readonly<Record<number, number>> = {
  0: FixStatus.UNKNOWN, 1: FixStatus.GPS, 2: FixStatus.DGPS, 3: FixStatus.PPS, 4: FixStatus.RTK_FIXED,
  5: FixStatus.RTK_FLOAT, 6: FixStatus.DEAD_RECKONING, 7: FixStatus.TIME_ONLY, 8: FixStatus.SIMULATED,
};

/** FAA mode indicator → gpsd status (Quectel adds C(aution) and U(nsafe)). */
function faaStatus(mode: string): number {
  switch (mode) {
    case '': case 'C': case 'N': case 'U': return FixStatus.UNKNOWN;
    case 'D': case 'P': return FixStatus.DGPS;
    case 'E': return FixStatus.DEAD_RECKONING;
    case 'F': return FixStatus.RTK_FLOAT;
    case 'R': return FixStatus.RTK_FIXED;
    case 'M': case 'S': return FixStatus.SIMULATED;
    default: return FixStatus.GPS;
  }
}

/** gps_merge_fix: copy what the mask says was set; status is only ever upgraded within a cycle. */
function mergeFix(to: FixState, mask: number, from: FixState): void {
  if (mask & TIME_SET) {
    to.sec = from.sec;
    to.nanos = from.nanos;
  }
  if (mask & LATLON_SET) {
    to.lat = from.lat;
    to.lon = from.lon;
  }
  if (mask & MODE_SET) to.mode = from.mode;
  if ((mask & STATUS_SET) && to.status < from.status) to.status = from.status;
  if (mask & ALTITUDE_SET) {
    if (Number.isFinite(from.altHAE)) to.altHAE = from.altHAE;
    if (Number.isFinite(from.altMSL)) to.altMSL = from.altMSL;
  }
  if (mask & TRACK_SET) to.track = from.track;
  if (mask & SPEED_SET) to.speed = from.speed;
  if (Number.isFinite(from.geoidSep)) to.geoidSep = from.geoidSep;
}

/** C atoi: leading integer, 0 when there is none. */
function atoi(field: string | undefined): number {
  const m = field === undefined ? null : /^\s*([+-]?\d+)/.exec(field);
  return m ? Number(m[1]) : 0;
}

/** C atof on a field already known to be non-empty; garbage reads as 0 like gpsd's safe_atof. */
function atof(field: string | undefined): number {
  const m = field === undefined ? null : /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(field);
  return m ? Number(m[0]) : 0;
}

function timeOfDayKey(secondOfDay: number, nanos: number): string {
  return `${secondOfDay}.${nanos}`;
}

function finite(x: number): number | undefined {
  return Number.isFinite(x) ? x : undefined;
}

function toNmeaFix(r: Report): NmeaFix {
  const f = r.fix;
  const { iso, ms } = isoMilliseconds(f);
  const fix: NmeaFix = { time: iso, timeMs: ms, mode: f.mode, status: f.status };
  const set = <K extends keyof NmeaFix>(k: K, v: NmeaFix[K] | undefined): void => {
    if (v !== undefined) fix[k] = v;
  };
  set('lat', finite(f.lat));
  set('lon', finite(f.lon));
  set('altMSL', finite(f.altMSL));
  set('altHAE', finite(f.altHAE));
  set('geoidSeparation', finite(f.geoidSep));
  set('satellitesUsed', r.satellitesUsed ?? undefined);
  set('hdop', finite(r.dops.hdop));
  set('vdop', finite(r.dops.vdop));
  set('pdop', finite(r.dops.pdop));
  set('speed', finite(f.speed));
  set('course', finite(f.track));
  return fix;
}
