import type Router from '@koa/router';
import { parseNmeaLog, type NmeaFix } from '../../position/nmea.ts';
import { lonLatIn, type Datum } from '../../position/datum.ts';
import { appendTrack, deleteTrack, readTrack, type TrackFix } from '../../store/tracks.ts';
import { AppError, badParameter } from '../errors.ts';
import type { Ctx, RequestState, Services } from '../context.ts';
import { apiKeyParam, crsParam, integerParam, readParams, timeParam, type ParamSpec } from '../params.ts';
import { readBody } from '../body.ts';

const NMEA_LIMIT = 32 * 1024 * 1024;

export const deviceIdParam: ParamSpec<string, 'deviceId'> = {
  name: 'deviceId',
  description: 'Store the fixes as this device\'s track (needs an API key).',
  schema: { type: 'string', maxLength: 128 },
  parse(raw) {
    if (!/^[\w.:@-]{1,128}$/.test(raw)) throw badParameter('deviceId', '1 to 128 letters, digits or . _ : @ -', raw);
    return raw;
  },
};

export const NMEA_PARAMS = [deviceIdParam, crsParam, apiKeyParam] as const;
export const TRACK_PARAMS = [
  timeParam('from', 'Start of the period (inclusive).', false),
  timeParam('to', 'End of the period (exclusive).', false),
  integerParam('limit', 'Most fixes returned (oldest first).', 1, 100_000, true),
  crsParam, apiKeyParam,
] as const;
const DELETE_PARAMS = [TRACK_PARAMS[0], TRACK_PARAMS[1], apiKeyParam] as const;

/** Tracks say where a person was: keys only, and only field crews' and admins' keys read or delete them. */
function requireTrackRole(ctx: Ctx, action: string): void {
  const { role, keyId } = ctx.state.principal;
  if (keyId === null) throw new AppError(401, 'ApiKeyRequired', `${action} needs an API key`);
  if (role !== 'field' && role !== 'admin') throw new AppError(403, 'Forbidden', `role ${role} cannot ${action}; field and admin keys can`);
}

function fixJson(f: NmeaFix, datum: Datum) {
  const position = f.lat !== undefined && f.lon !== undefined ? lonLatIn(datum, f.lon, f.lat) : undefined;
  return {
    time: f.time, lat: position?.[1] ?? null, lon: position?.[0] ?? null, altMSL: f.altMSL ?? null, altHAE: f.altHAE ?? null,
    mode: f.mode, status: f.status, satellitesUsed: f.satellitesUsed ?? null, hdop: f.hdop ?? null,
    ...(f.speed !== undefined ? { speed: f.speed } : {}), ...(f.course !== undefined ? { course: f.course } : {}),
    ...(f.errors ? { errors: f.errors } : {}),
  };
}

const instant = (t: { kind: string; at?: Date } | undefined) => (t?.kind === 'instant' ? t.at : undefined);

export function registerDeviceRoutes(router: Router<RequestState>, services: Services): void {
  router.post('/position/nmea', async (ctx: Ctx) => {
    const q = readParams(ctx.query, NMEA_PARAMS);
    if (q.deviceId) requireTrackRole(ctx, 'store a track');
    const body = await readBody(ctx, { limit: NMEA_LIMIT, types: ['text/plain', 'application/octet-stream'] });
    const log = parseNmeaLog(body);
    const datum = q.crs ?? 'CRS84';
    let stored = 0;
    if (q.deviceId) {
      const track: TrackFix[] = log.fixes.filter((f) => f.mode >= 2 && f.lat !== undefined && f.lon !== undefined).map((f) => ({
        time: new Date(f.timeMs), source: 'nmea', lon: f.lon!, lat: f.lat!, altMSL: f.altMSL ?? null, mode: f.mode, status: f.status,
        satellites: f.satellitesUsed ?? null, hdop: f.hdop ?? null,
      }));
      stored = await appendTrack(services.store.db, q.deviceId, track);
    }
    ctx.body = {
      crs: datum,
      sentences: log.sentences,
      fixes: log.fixes.map((f) => fixJson(f, datum)),
      rejected: log.rejected.map((r) => ({ line: r.line, reason: r.reason, message: r.message })),
      ...(q.deviceId ? { deviceId: q.deviceId, stored } : {}),
    };
  });

  router.get('/devices/:id/track', async (ctx: Ctx) => {
    const q = readParams(ctx.query, TRACK_PARAMS);
    requireTrackRole(ctx, 'read a track');
    const datum = q.crs ?? 'CRS84';
    const fixes = await readTrack(services.store.db, ctx.params.id!, { from: instant(q.from), to: instant(q.to), limit: q.limit ?? 10_000 });
    ctx.type = 'application/geo+json';
    ctx.body = {
      type: 'FeatureCollection',
      deviceId: ctx.params.id,
      crs: datum,
      numberReturned: fixes.length,
      features: fixes.map((f) => ({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: lonLatIn(datum, f.lon, f.lat) },
        properties: {
          time: f.time.toISOString(), source: f.source, accuracy: f.accuracyM ?? null, confidence: f.confidence ?? null,
          altMSL: f.altMSL ?? null, mode: f.mode ?? null, status: f.status ?? null, satellites: f.satellites ?? null, hdop: f.hdop ?? null,
          sources: f.sources ?? null,
        },
      })),
    };
  });

  router.delete('/devices/:id/track', async (ctx: Ctx) => {
    const q = readParams(ctx.query, DELETE_PARAMS);
    requireTrackRole(ctx, 'delete a track');
    const deleted = await deleteTrack(services.store.db, ctx.params.id!, { from: instant(q.from), to: instant(q.to) });
    ctx.body = { deviceId: ctx.params.id, deleted };
  });
}
