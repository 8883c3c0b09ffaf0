/**
 * The Google Geolocation API's request and response (POST /geolocation/v1/geolocate), so that
 * apps written against it can point at OneMap unchanged.
 *
 *   request:  { homeMobileCountryCode, homeMobileNetworkCode, radioType, carrier, considerIp,
 *               cellTowers: [{ cellId, newRadioCellId, locationAreaCode, mobileCountryCode,
 *                              mobileNetworkCode, age, signalStrength, timingAdvance }],
 *               wifiAccessPoints: [{ macAddress, signalStrength, age, channel, signalToNoiseRatio }] }
 *   response: { location: { lat, lng }, accuracy }      accuracy: metres, 68 % confidence
 *   error:    { error: { errors: [{ domain, reason, message }], code, message } }
 *
 * Google falls back to the caller's IP address when `considerIp` is true and nothing else locates
 * the device; OneMap has no IP geolocation, so that case is a 404 like `considerIp: false`. An NR
 * cell is named by `newRadioCellId` (the 36-bit NCI), the others by `cellId`; a tower without its
 * own MCC/MNC takes the home network's, as Google does. `age` (ms before the request) dates an
 * observation. Signal strength, channel, SNR and timing advance are accepted and not used.
 */

import { GOOGLE_CONFIDENCE, convertRadius } from './confidence.ts';
import { lonLatIn, type Datum } from './datum.ts';
import type { PositionAnswer } from './fusion.ts';
import type { CellObservation, WifiObservation } from './observation.ts';
import { parseRadioType } from './radio-map.ts';

export interface GoogleCellTower {
  cellId?: number;
  newRadioCellId?: number;
  locationAreaCode?: number;
  mobileCountryCode?: number;
  mobileNetworkCode?: number;
  age?: number;
  signalStrength?: number;
  timingAdvance?: number;
}

export interface GoogleWifiAccessPoint {
  macAddress: string;
  signalStrength?: number;
  age?: number;
  channel?: number;
  signalToNoiseRatio?: number;
}

export interface GoogleGeolocationRequest {
  homeMobileCountryCode?: number;
  homeMobileNetworkCode?: number;
  radioType?: 'gsm' | 'cdma' | 'wcdma' | 'lte' | 'nr';
  carrier?: string;
  considerIp?: boolean;
  cellTowers?: GoogleCellTower[];
  wifiAccessPoints?: GoogleWifiAccessPoint[];
}

export interface GoogleGeolocationResponse {
  location: { lat: number; lng: number };
  /** Metres, radius of 68 % confidence. */
  accuracy: number;
}

export interface GoogleErrorBody {
  error: {
    errors: { domain: string; reason: string; message: string }[];
    code: number;
    message: string;
  };
}

/** The body Google sends (HTTP 404) when the cell towers and access points cannot be located. */
export function googleNotFound(): GoogleErrorBody {
  return { error: { errors: [{ domain: 'geolocation', reason: 'notFound', message: 'Not Found' }], code: 404, message: 'Not Found' } };
}

/** The body Google sends (HTTP 400) when the request body is not valid JSON or not a request object. */
export function googleParseError(): GoogleErrorBody {
  return { error: { errors: [{ domain: 'global', reason: 'parseError', message: 'Parse Error' }], code: 400, message: 'Parse Error' } };
}

export type GoogleRequestResult =
  | { ok: true; observations: Array<CellObservation | WifiObservation> }
  | { ok: false; status: 400; body: GoogleErrorBody; problem: string };

function age(now: number, value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? now - value : undefined;
}

/**
 * A Geolocation API request body into our observations (cells first, then access points, in
 * request order, so a rejection's index maps back: index < cellTowers.length is a tower).
 * Field values are checked later, per observation, like any other; only a body that is not a
 * request object at all fails here (with Google's parseError body).
 */
export function fromGoogleRequest(body: unknown, now: number): GoogleRequestResult {
  const fail = (problem: string): GoogleRequestResult => ({ ok: false, status: 400, body: googleParseError(), problem });
  if (body === undefined || body === null) return { ok: true, observations: [] };
  if (typeof body !== 'object' || Array.isArray(body)) return fail('the body must be a JSON object');
  const req = body as Record<string, unknown>;
  if (req.cellTowers !== undefined && !Array.isArray(req.cellTowers)) return fail('cellTowers must be an array');
  if (req.wifiAccessPoints !== undefined && !Array.isArray(req.wifiAccessPoints)) return fail('wifiAccessPoints must be an array');
  const radioType = req.radioType === undefined ? 'gsm' : req.radioType;
  const radio = parseRadioType(radioType);
  if (radio === null) return fail(`radioType "${String(req.radioType)}" is not one of gsm, cdma, wcdma, lte, nr`);
  const observations: Array<CellObservation | WifiObservation> = [];
  for (const raw of (req.cellTowers ?? []) as unknown[]) {
    const t = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const cell: CellObservation = {
      type: 'cell',
      radio,
      mcc: (t.mobileCountryCode ?? req.homeMobileCountryCode) as number,
      mnc: (t.mobileNetworkCode ?? req.homeMobileNetworkCode) as number,
      lac: t.locationAreaCode as number,
      cellId: (radio === 'NR' ? t.newRadioCellId ?? t.cellId : t.cellId) as number,
    };
    if (typeof t.signalStrength === 'number') cell.signal = t.signalStrength;
    const seen = age(now, t.age);
    if (seen !== undefined) cell.time = seen;
    observations.push(cell);
  }
  for (const raw of (req.wifiAccessPoints ?? []) as unknown[]) {
    const a = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const ap: WifiObservation = { type: 'wifi', macAddress: a.macAddress as string };
    if (typeof a.signalStrength === 'number') ap.signal = a.signalStrength;
    const seen = age(now, a.age);
    if (seen !== undefined) ap.time = seen;
    observations.push(ap);
  }
  return { ok: true, observations };
}

/**
 * Our answer as the Geolocation API's response: { status: 200, body } with the accuracy converted
 * to 68 % confidence, or Google's 404 body when there is no fix. `datum` CRS84 by default
 * (Google answers WGS84); GCJ02 for apps drawing on AMap or Tencent maps.
 */
export function toGoogleResponse(answer: PositionAnswer, datum: Datum = 'CRS84'):
  { status: 200; body: GoogleGeolocationResponse } | { status: 404; body: GoogleErrorBody } {
  const fix = answer.fix;
  if (fix === null) return { status: 404, body: googleNotFound() };
  if (fix.crs !== 'CRS84') throw new Error(`toGoogleResponse: give the CRS84 answer (this one is in ${fix.crs}) and the datum wanted`);
  const [lng, lat] = lonLatIn(datum, fix.lon, fix.lat);
  return { status: 200, body: { location: { lat, lng }, accuracy: convertRadius(fix.accuracy, fix.confidence, GOOGLE_CONFIDENCE) } };
}
