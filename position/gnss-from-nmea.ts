/**
 * NMEA fixes (nmea.ts, gpsd's semantics) as GNSS observations for the fuser, so that a device
 * can post its receiver's raw output instead of JSON.
 *
 * NMEA times are UTC already (the receiver applies the leap seconds). The quality comes from GST
 * when the receiver sends it (1σ latitude and longitude errors, metres: we take the larger, the
 * fuser's noise being a circle) and from HDOP otherwise; a fix with neither is passed on and
 * rejected there with the usual reason.
 */

import { K68 } from './confidence.ts';
import type { NmeaFix } from './nmea-epoch.ts';
import type { GnssObservation, GnssSystem } from './observation.ts';

/** One NmeaFix as an observation; null when it has no 2D/3D position. */
export function gnssObservationFromNmea(fix: NmeaFix, system: GnssSystem = 'gnss'): GnssObservation | null {
  if (fix.mode < 2 || fix.lat === undefined || fix.lon === undefined) return null;
  const obs: GnssObservation = { type: 'gnss', lat: fix.lat, lon: fix.lon, system, time: fix.time, timeSystem: 'utc' };
  const sLat = fix.errors?.lat;
  const sLon = fix.errors?.lon;
  if (sLat != null && sLon != null && sLat > 0 && sLon > 0) obs.accuracy = K68 * Math.max(sLat, sLon);
  else if (fix.hdop !== undefined) obs.hdop = fix.hdop;
  return obs;
}

export function gnssObservationsFromNmea(fixes: readonly NmeaFix[], system: GnssSystem = 'gnss'): GnssObservation[] {
  const out: GnssObservation[] = [];
  for (const fix of fixes) {
    const obs = gnssObservationFromNmea(fix, system);
    if (obs !== null) out.push(obs);
  }
  return out;
}
