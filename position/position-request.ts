/**
 * The envelope of a POST /position body: which device, its observations, the datum wanted.
 * Only the envelope can fail the whole request (a 400); each observation is checked by the fuser
 * and, if unusable, listed with its reason while the others are used.
 *
 *   { "deviceId": "truck-07", "datum": "GCJ02",
 *     "observations": [
 *       { "type": "gnss", "lat": 24.91, "lon": 118.59, "system": "bds", "hdop": 0.9,
 *         "time": "2024-05-01T08:00:04Z", "timeSystem": "bdt" },
 *       { "type": "cell", "radio": "lte", "mcc": 460, "mnc": 0, "tac": 22547, "cellId": 5762561 },
 *       { "type": "wifi", "macAddress": "0a:1b:2c:3d:4e:5f", "signal": -61 } ] }
 */

import { DATUMS, parseDatum, type Datum } from './datum.ts';

export interface PositionRequest {
  deviceId: string;
  observations: readonly unknown[];
  datum: Datum;
}

export const MAX_OBSERVATIONS_PER_REQUEST = 1000;

export type PositionRequestResult =
  | { ok: true; request: PositionRequest }
  | { ok: false; field: string; message: string };

// As the device routes take it (server/routes/devices.ts): it ends up in logs, keys and URLs.
const DEVICE_ID = /^[\w.:@-]{1,128}$/;

export function readPositionRequest(body: unknown, maxObservations = MAX_OBSERVATIONS_PER_REQUEST): PositionRequestResult {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, field: '', message: 'the body must be a JSON object with deviceId and observations' };
  }
  const b = body as Record<string, unknown>;
  if (typeof b.deviceId !== 'string' || !DEVICE_ID.test(b.deviceId)) {
    return { ok: false, field: 'deviceId', message: 'deviceId must be 1 to 128 letters, digits or . _ : @ -' };
  }
  if (!Array.isArray(b.observations)) {
    return { ok: false, field: 'observations', message: 'observations must be an array of {type: gnss|cell|wifi, …}' };
  }
  if (b.observations.length > maxObservations) {
    return { ok: false, field: 'observations', message: `at most ${maxObservations} observations per request (got ${b.observations.length}); split the upload` };
  }
  let datum: Datum = 'CRS84';
  if (b.datum !== undefined) {
    const d = parseDatum(b.datum);
    if (d === null) return { ok: false, field: 'datum', message: `datum must be one of ${DATUMS.join(', ')}` };
    datum = d;
  }
  return { ok: true, request: { deviceId: b.deviceId, observations: b.observations, datum } };
}
