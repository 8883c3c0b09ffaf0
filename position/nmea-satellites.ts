/**
 * Which constellation an NMEA satellite id belongs to, and the number gpsd would print for it.
 *
 * NMEA before 4.10 squeezes every constellation into one id space (GPS 1–32, SBAS 33–64,
 * GLONASS 65–96, …) and lets the talker disambiguate the rest, so BeiDou 1–37 sent by 'BD'/'GB'
 * (or Quectel's 'PQ') collide with GPS 1–37 sent by 'GP'. NMEA 4.10 adds a system id to GSA and
 * implies one by the GSV talker. gpsd resolves all of this into an extended "PRN" (BeiDou 401+,
 * Galileo 301+, QZSS 193+, GLONASS 65+) plus u-blox style gnssid/svid; we follow it so that a
 * satellite means the same thing here as in gpsd's SKY reports.
 */

export type GnssSystem = 'GPS' | 'SBAS' | 'Galileo' | 'BeiDou' | 'IMES' | 'QZSS' | 'GLONASS' | 'NavIC';

/** u-blox gnssId numbering, which gpsd uses in its JSON. */
export const GNSS_ID: Readonly<Record<GnssSystem, number>> = Object.freeze({
  GPS: 0, SBAS: 1, Galileo: 2, BeiDou: 3, IMES: 4, QZSS: 5, GLONASS: 6, NavIC: 7,
});

export interface SatelliteId {
  system: GnssSystem;
  /** Number within the constellation (BeiDou C01 → 1, GLONASS slot 1 → 1, SBAS PRN 120 → 120). */
  svid: number;
  /** gpsd's extended PRN: GPS 1–32, SBAS 33–64/120–158, GLONASS 65–96, QZSS 193–202, Galileo 301+, BeiDou 401+. */
  prn: number;
}

/** NMEA 4.10 system ids (GSA last field) and the constellation each names. */
const SYSTEM_BY_NMEA_ID: Readonly<Record<number, GnssSystem>> = { 1: 'GPS', 2: 'GLONASS', 3: 'Galileo', 4: 'BeiDou', 5: 'QZSS', 6: 'NavIC' };

/** The constellation a talker speaks for, when it names exactly one ('GN' and 'GP' do not: GP carries SBAS and QZSS too). */
export function talkerSystem(talker: string): GnssSystem | null {
  switch (talker) {
    case 'GA': return 'Galileo';
    case 'GB': case 'BD': case 'PQ': return 'BeiDou'; // PQ: Quectel's BeiDou talker
    case 'GL': return 'GLONASS';
    case 'GQ': case 'QZ': return 'QZSS';
    case 'GI': return 'NavIC';
    default: return null;
  }
}

/** NMEA 4.10 system id → constellation, or null for 0/unknown. */
export function nmeaSystem(systemId: number | null): GnssSystem | null {
  return systemId === null ? null : SYSTEM_BY_NMEA_ID[systemId] ?? null;
}

/**
 * Resolves an NMEA satellite id. `system` is what the sentence itself says (4.10 system id, or a
 * single-constellation talker); without it the id ranges of NMEA 2.x–4.0 apply, which is how
 * 'GP'/'GN' sentences are read. Returns null for ids no convention assigns.
 */
export function resolveSatellite(nmeaId: number, system: GnssSystem | null): SatelliteId | null {
  if (!Number.isInteger(nmeaId) || nmeaId < 1) return null;
  if (system !== null) return withinSystem(nmeaId, system);
  return byRange(nmeaId);
}

function withinSystem(id: number, system: GnssSystem): SatelliteId | null {
  switch (system) {
    case 'GPS':
      // A GPS system id still carries SBAS (33–64, 152–158) and QZSS (193+) in their NMEA ranges.
      if (id <= 32) return { system: 'GPS', svid: id, prn: id };
      if (id <= 64) return { system: 'SBAS', svid: id + 87, prn: id };
      if (id >= 152 && id <= 158) return { system: 'SBAS', svid: id, prn: id };
      if (id >= 193 && id <= 199) return { system: 'QZSS', svid: id - 192, prn: id };
      return byRange(id);
    case 'GLONASS': {
      // 1–32 by the 4.11 convention, 65–96 by the older one (still common in 4.10 sentences).
      const svid = id <= 64 ? id : id - 64;
      return svid >= 1 && svid <= 32 ? { system, svid, prn: 64 + svid } : null;
    }
    case 'Galileo': {
      // Quectel sends 101–136 and some receivers 301–336 for Galileo 1–36.
      const svid = id < 100 ? id : id > 300 && id < 400 ? id - 300 : id > 100 && id < 200 ? id - 100 : 0;
      return svid > 0 ? { system, svid, prn: 300 + svid } : null;
    }
    case 'BeiDou': {
      // Quectel and some SiRF send 201–263, Jackson Labs 401–463, for BeiDou 1–63.
      const svid = id < 100 ? id : id > 200 && id < 300 ? id - 200 : id > 400 && id < 500 ? id - 400 : 0;
      return svid > 0 ? { system, svid, prn: 400 + svid } : null;
    }
    case 'QZSS': {
      const svid = id < 100 ? id : id - 192;
      return svid > 0 && svid < 100 ? { system, svid, prn: 192 + svid } : null;
    }
    case 'NavIC':
      return { system, svid: id, prn: 500 + id };
    default:
      return byRange(id);
  }
}

/** The single id space of NMEA 2.x–4.0 as gpsd reads it. */
function byRange(id: number): SatelliteId | null {
  if (id <= 32) return { system: 'GPS', svid: id, prn: id };
  if (id <= 64) return { system: 'SBAS', svid: id + 87, prn: id };
  if (id <= 96) return { system: 'GLONASS', svid: id - 64, prn: id };
  if (id >= 120 && id <= 158) return { system: 'SBAS', svid: id, prn: id };
  if (id >= 173 && id <= 182) return { system: 'IMES', svid: id - 172, prn: id };
  if (id >= 193 && id <= 197) return { system: 'QZSS', svid: id - 192, prn: id };
  // Some SiRF firmware puts BeiDou at 201–237.
  if (id >= 201 && id <= 237) return { system: 'BeiDou', svid: id - 200, prn: id + 200 };
  if (id >= 301 && id <= 356) return { system: 'Galileo', svid: id - 300, prn: id };
  if (id >= 401 && id <= 437) return { system: 'BeiDou', svid: id - 400, prn: id };
  return null;
}
