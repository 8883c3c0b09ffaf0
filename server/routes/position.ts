import type Router from '@koa/router';
import { fromGoogleRequest, googleParseError, gnssObservationsFromNmea, readPositionRequest, toDatum, toGoogleResponse, type PositionAnswer } from '../../position/fuse.ts';
import { parseNmeaLog } from '../../position/nmea.ts';
import { appendTrack } from '../../store/tracks.ts';
import { principalForKey } from '../../store/access.ts';
import { AppError, badParameter } from '../errors.ts';
import type { Ctx, RequestState, Services } from '../context.ts';
import { apiKeyParam, crsParam, integerParam, readParams, type ParamSpec } from '../params.ts';
import { readBody } from '../body.ts';
import { deviceIdParam } from './devices.ts';
import { MAX_K, nearestAssetsJson, searchedLayers } from './assets.ts';

const BODY_LIMIT = 4 * 1024 * 1024;

const deviceQueryParam: ParamSpec<string, 'deviceId'> = {
  ...deviceIdParam,
  description: 'The device, when the body is NMEA text (a JSON body names it itself).',
};

export const POSITION_PARAMS = [
  deviceQueryParam,
  integerParam('nearest', `Also the k nearest buried assets (pipes, pipe points, buildings the key may read) to the fused position, as GET /assets/nearest answers: 1 to ${MAX_K}.`, 1, MAX_K, false),
  crsParam, apiKeyParam,
] as const;

/**
 * A device's observations → its fused position. The filter state per device lives in memory;
 * fixes that rest on an observation of this request are appended to the device's track.
 */
export function registerPositionRoutes(router: Router<RequestState>, services: Services): void {
  router.post('/position', async (ctx: Ctx) => {
    const q = readParams(ctx.query, POSITION_PARAMS);
    // A device's filter and track are its owner's: callers are known by their key.
    if (ctx.state.principal.keyId === null) throw new AppError(401, 'ApiKeyRequired', 'POST /position needs an API key');
    const type = (ctx.get('Content-Type').split(';')[0] ?? '').trim().toLowerCase();
    let deviceId: string;
    let observations: readonly unknown[];
    let datum = q.crs ?? 'CRS84';
    if (type === 'text/plain') {
      if (!q.deviceId) throw badParameter('deviceId', 'name the device (?deviceId=) when posting NMEA text');
      deviceId = q.deviceId;
      const log = parseNmeaLog(await readBody(ctx, { limit: BODY_LIMIT, types: ['text/plain'] }));
      observations = gnssObservationsFromNmea(log.fixes);
    } else {
      const raw = await readBody(ctx, { limit: BODY_LIMIT, types: ['application/json'] });
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        throw new AppError(400, 'InvalidJson', `the body is not JSON: ${(err as Error).message}`);
      }
      const parsed = readPositionRequest(body);
      if (!parsed.ok) throw new AppError(400, 'InvalidParameterValue', `${parsed.field}: ${parsed.message}`, { parameter: parsed.field });
      deviceId = parsed.request.deviceId;
      observations = parsed.request.observations;
      if (!q.crs) datum = parsed.request.datum;
    }
    const answer: PositionAnswer = services.fuser.fuse(deviceId, observations, Date.now());
    if (answer.fix && answer.sources.length > 0) {
      await appendTrack(services.store.db, deviceId, [{
        time: new Date(answer.fix.time), source: 'fused', lon: answer.fix.lon, lat: answer.fix.lat,
        accuracyM: answer.fix.accuracy, confidence: answer.fix.confidence, sources: [...new Set(answer.sources.map((s) => s.type))],
      }]);
    }
    const body: Record<string, unknown> = { ...toDatum(answer, datum) };
    if (q.nearest !== undefined && answer.fix) {
      // A field worker's question: what is buried around me, right now.
      body.nearest = await nearestAssetsJson(ctx, services, searchedLayers(ctx, services, undefined), answer.fix.lon, answer.fix.lat,
        { k: q.nearest, crs: datum, asked: [answer.fix.lon, answer.fix.lat] });
    }
    ctx.body = body;
  });

  /**
   * Google's Geolocation API, request and answer as Google defines them (errors included), so
   * that existing clients only change the host. The key may come as Google's `key=`.
   */
  router.post('/geolocation/v1/geolocate', async (ctx: Ctx) => {
    const key = typeof ctx.query.key === 'string' ? ctx.query.key : undefined;
    if (key && !(await principalForKey(services.store.db, key))) {
      ctx.status = 400;
      ctx.body = { error: { code: 400, message: 'API key not valid. Please pass a valid API key.', errors: [{ domain: 'global', reason: 'badRequest', message: 'API key not valid. Please pass a valid API key.' }] } };
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse((await readBody(ctx, { limit: BODY_LIMIT, types: ['application/json', ''] })).toString('utf8') || '{}');
    } catch (err) {
      if (err instanceof AppError && err.status !== 400) throw err;
      ctx.status = 400;
      ctx.body = googleParseError();
      return;
    }
    const request = fromGoogleRequest(body, Date.now());
    if (!request.ok) {
      ctx.status = request.status;
      ctx.body = request.body;
      return;
    }
    const result = toGoogleResponse(services.fuser.locate(request.observations, Date.now()));
    ctx.status = result.status;
    ctx.body = result.body;
  });
}
