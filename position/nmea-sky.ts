/**
 * The satellites a receiver reports: GSA lists the ones used in the fix, GSV the ones in view.
 *
 * Both arrive as sets of sentences that must be accumulated: u-blox sends one GSA per
 * constellation (GNGSA with a 4.10 system id), Skytraq a GPGSA then a BDGSA, SiRF a GPGSA then a
 * GLGSA; GSV comes in numbered parts, one set per talker and, since NMEA 4.10, per signal. The
 * accumulation rules are gpsd's (driver_nmea0183.c), so that "used" means what gpsd says it means:
 * a satellite counts as used when a GSA of the same cycle lists it and GSV reports a signal for it.
 */

import type { GsaSentence, GsvSentence } from './nmea-sentence.ts';
import { GNSS_ID, nmeaSystem, resolveSatellite, talkerSystem, type GnssSystem } from './nmea-satellites.ts';

export interface SkySatellite {
  system: GnssSystem;
  /** u-blox/gpsd gnssId: 0 GPS, 1 SBAS, 2 Galileo, 3 BeiDou, 4 IMES, 5 QZSS, 6 GLONASS, 7 NavIC. */
  gnssId: number;
  svid: number;
  /** gpsd's extended PRN (BeiDou 401+, Galileo 301+, QZSS 193+, GLONASS 65–96). */
  prn: number;
  /** Degrees; null when the receiver left the field empty. */
  elevation: number | null;
  azimuth: number | null;
  /** C/N0 in dB-Hz; null when not tracked. */
  snr: number | null;
  /** NMEA 4.10 signal id of the GSV set it came from, null before 4.10. */
  signalId: number | null;
  used: boolean;
}

/** What a GSA or GSV sentence changed, in gpsd's terms (see NmeaEpochAssembler). */
export interface SkyUpdate {
  /** GSA: the fix mode it carries may be used (gpsd ignores GPGSA after other GSAs, and the first of several GNGSA). */
  modeUsable: boolean;
  /** GSA: its DOPs may be used. */
  dopsUsable: boolean;
  /** GSV: more parts of the set are expected; the set is not complete. */
  more: boolean;
  /** GSV: a complete, plausible set of satellites in view was just received. */
  skyComplete: boolean;
}

const NO_UPDATE: SkyUpdate = { modeUsable: false, dopsUsable: false, more: false, skyComplete: false };

/** gpsd keeps at most this many satellites (MAXCHANNELS). */
const MAX_CHANNELS = 184;

export class SkyView {
  /** PRNs (gpsd numbering) listed by the GSA sentences of the current set. */
  private usedPrns: number[] = [];
  private inView: SkySatellite[] = [];
  private lastGsaTalker = '';
  private lastGsvTalker = '';
  private seenNonGpsGsa = false;
  private seenNonGpsGsv = false;
  private gsvExpected = 0;

  /** Satellites in view from the last complete GSV sets, with `used` from GSA. */
  satellites(): SkySatellite[] {
    return this.inView.map((s) => ({ ...s }));
  }

  /** Any sentence other than GSA (resp. GSV) ends a GSA (resp. GSV) set. */
  noteOtherSentence(type: string): void {
    if (type !== 'GSV') this.lastGsvTalker = '';
    if (type !== 'GSA') this.lastGsaTalker = '';
  }

  applyGsa(s: GsaSentence): SkyUpdate {
    const talker = s.talker;
    const tc = talker[1] ?? '';
    const lastLast = this.lastGsaTalker;
    // A new set starts unless this GSA continues one: GPGSA followed by GLGSA/BDGSA, or a run of
    // GNGSA (one per constellation on u-blox 8+, or GPS then BeiDou on some Skytraq).
    if (lastLast === '' || (tc === lastLast && tc !== 'N')) this.usedPrns = [];
    this.lastGsaTalker = tc;
    if (NON_GPS_TALKER_CHARS.has(tc)) this.seenNonGpsGsa = true;
    const system = nmeaSystem(s.systemId) ?? talkerSystem(talker);
    for (const id of s.satelliteIds) {
      const sat = resolveSatellite(id, system);
      if (sat === null) continue;
      if (this.usedPrns.length >= MAX_CHANNELS) break;
      this.usedPrns.push(sat.prn);
    }
    // GPGSA after a GLGSA/BDGSA/GNGSA set repeats the GPS part only: its mode and DOPs are ignored.
    if (this.seenNonGpsGsa && tc === 'P') return { ...NO_UPDATE };
    if (lastLast !== 'N' && tc === 'N') return { ...NO_UPDATE, modeUsable: true };
    return { ...NO_UPDATE, modeUsable: true, dopsUsable: true };
  }

  applyGsv(s: GsvSentence): SkyUpdate {
    const part = s.sentenceNumber ?? 0;
    const expected = s.sentenceCount ?? 0;
    if (s.fields.length < 3 || (s.fields.length - 3) % 4 === 3 || part < 1) {
      this.inView = [];
      return { ...NO_UPDATE };
    }
    const tc = s.talker[1] ?? '';
    if (part === 1) {
      // A GPGSV set starts a new sky picture; other talkers (and further GPS signals) add to it.
      if (this.lastGsvTalker === '' || (tc === 'P' && isPrimarySignal(s.signalId))) this.inView = [];
      this.lastGsvTalker = tc;
      if (NON_GPS_TALKER_CHARS.has(tc)) this.seenNonGpsGsv = true;
    }
    this.gsvExpected = expected;
    const system = nmeaSystem(s.systemId) ?? talkerSystem(s.talker);
    for (const g of s.satellites) {
      if (this.inView.length >= MAX_CHANNELS) break;
      const sat = resolveSatellite(g.id, system);
      if (sat === null) continue;
      this.inView.push({
        system: sat.system, gnssId: GNSS_ID[sat.system], svid: sat.svid, prn: sat.prn,
        elevation: g.elevation, azimuth: g.azimuth, snr: g.snr, signalId: s.signalId,
        // NMEA does not say which signal of a satellite was used; like gpsd, count tracked ones only.
        used: g.snr !== null && g.snr > 0 && this.usedPrns.includes(sat.prn),
      });
    }
    if (part < this.gsvExpected) return { ...NO_UPDATE, more: true };
    // SiRF-II sends all-zero azimuths when it sees nothing at all.
    if (this.inView.every((v) => v.azimuth === 0)) {
      this.inView = [];
      return { ...NO_UPDATE };
    }
    if (this.seenNonGpsGsv && tc === 'P') return { ...NO_UPDATE };
    return { ...NO_UPDATE, skyComplete: true };
  }
}

/** Second talker letters of constellation-specific (or mixed) talkers: GA, GB/BD, GI, GL, GN, GQ/PQ/QZ. */
const NON_GPS_TALKER_CHARS = new Set(['A', 'B', 'D', 'I', 'L', 'N', 'Q', 'Z']);

/**
 * A GPGSV set with this signal id starts a new sky picture; a second GPS signal (L2, L5) adds to
 * the first. gpsd maps the NMEA signal id to u-blox's, where L1 C/A (1) and the ids it cannot
 * place (0, 4, 7+) all become 0.
 */
function isPrimarySignal(signalId: number | null): boolean {
  return signalId === null || ![2, 3, 5, 6].includes(signalId);
}
