import type Router from '@koa/router';
import { canRead, recordAudit } from '../../store/access.ts';
import type { Layer } from '../../store/layers.ts';
import { isAssetLayer } from '../../position/asset-service.ts';
import { lonLatFrom, lonLatIn, type Datum } from '../../position/datum.ts';
import { AppError, badParameter, notFound } from '../errors.ts';
import { baseUrl, type Ctx, type RequestState, type Services } from '../context.ts';
import { apiKeyParam, crsParam, integerParam, numberParam, readParams, type ParamSpec } from '../params.ts';

const MAX_LAYERS = 32;
const MAX_TYPES = 32;
export const MAX_K = 100;
/** A nearest-asset answer is about what is around someone; 100 km is the whole of Quanzhou's urban area and then some. */
export const MAX_DISTANCE_M = 100_000;

function listParam<N extends string>(name: N, description: string, max: number): ParamSpec<string[], N> {
  return {
    name,
    description,
    schema: { type: 'array', items: { type: 'string' }, maxItems: max },
    style: 'form',
    explode: false,
    parse(raw) {
      const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
      if (items.length === 0) throw badParameter(name, 'name at least one', raw);
      if (items.length > max) throw badParameter(name, `at most ${max}`, raw);
      if (new Set(items).size !== items.length) throw badParameter(name, 'a value is named twice', raw);
      return items;
    },
  };
}

export const NEAREST_PARAMS = [
  numberParam('lon', 'Longitude of the query point (required), in crs.', -180, 180),
  numberParam('lat', 'Latitude of the query point (required), in crs.', -90, 90),
  integerParam('k', `How many assets, nearest first: 1 to ${MAX_K}; default 5.`, 1, MAX_K, false),
  listParam('layers', `Comma-separated layer ids to search (at most ${MAX_LAYERS}; any layer). Default: every pipeline and building layer the key may read (restricted ones without clearance are left out). A named layer that does not exist is a 404; a named restricted layer without clearance is a 401 (no key) or 403.`, MAX_LAYERS),
  listParam('types', `Comma-separated asset types (at most ${MAX_TYPES}): an asset matches when its pipe_class (CJJ 61 class: JS, PS, RQ, RL, DL, TX …), sub_type (JP, YS, WS, TR, GD …), feature (pipe point: 阀门, 消防栓, 检修井 …), feature_code (8-digit YSDM, e.g. 51042204) or use (building: 住宅, 商业 …) is one of them, exactly. A type that no asset of the searched layers has is a 400 that lists the types they have.`, MAX_TYPES),
  numberParam('maxDistance', `Metres: assets farther away are not returned (0 to ${MAX_DISTANCE_M}; default: no limit).`, 0, MAX_DISTANCE_M, ' metres'),
  crsParam,
  apiKeyParam,
] as const;

/**
 * The layers to search: those named (unknown: 404; restricted without clearance: 401/403, before
 * anything is read, as for tiles), else every asset layer the caller may read.
 */
export function searchedLayers(ctx: Ctx, services: Services, named: readonly string[] | undefined): Layer[] {
  if (!named) {
    return services.catalog.all()
      .filter((l) => isAssetLayer(l) && canRead(ctx.state.principal, l.accessClass, l.id))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }
  const layers = named.map((id) => services.catalog.get(id));
  const unknown = named.filter((_, i) => !layers[i]);
  if (unknown.length) throw notFound(`no layer ${unknown.map((u) => `"${u}"`).join(', ')}`, { parameter: 'layers', value: unknown });
  if ((layers as Layer[]).some((l) => !canRead(ctx.state.principal, l.accessClass, l.id))) {
    if (ctx.state.principal.keyId === null) throw new AppError(401, 'ApiKeyRequired', 'a layer of this request needs an API key with clearance; send X-API-Key or api_key=');
    throw new AppError(403, 'NotCleared', 'the API key is not cleared for a layer of this request; nothing was searched');
  }
  return layers as Layer[];
}

const round = (x: number, decimals: number) => Math.round(x * 10 ** decimals) / 10 ** decimals;

/**
 * The k nearest assets of `layers` to a point on the store's datum, as the API answers them (in
 * `crs`), restricted reads audited. Shared by GET /assets/nearest and POST /position?nearest=k.
 */
export async function nearestAssetsJson(ctx: Ctx, services: Services, layers: readonly Layer[], lon: number, lat: number,
  q: { k: number; crs: Datum; maxDistance?: number; types?: string[]; asked: [number, number] }) {
  const answer = await services.assets.nearest(layers, lon, lat, { k: q.k, maxDistance: q.maxDistance, types: q.types });
  if (answer.unknownTypes.length) {
    const known = [...new Set((await Promise.all(layers.map((l) => services.assets.index(l)))).flatMap((i) => i.types()))].sort();
    throw new AppError(400, 'InvalidParameterValue', `types: no asset of the searched layers has type ${answer.unknownTypes.join(', ')}`, {
      parameter: 'types', value: answer.unknownTypes, known: known.slice(0, 200),
    });
  }
  for (const layer of layers.filter((l) => l.accessClass === 'restricted')) {
    await recordAudit(services.store.db, {
      keyId: ctx.state.principal.keyId, route: ctx.path, layerId: layer.id, bbox: [lon, lat, lon, lat],
      featureIds: answer.assets.filter((a) => a.layer.id === layer.id).map((a) => a.hit.featureId),
      query: { lon: q.asked[0], lat: q.asked[1], crs: q.crs, k: q.k, maxDistance: q.maxDistance, types: q.types },
    });
  }
  const base = baseUrl(ctx, services);
  return answer.assets.map(({ layer, index, hit }) => {
    const depth = index.depth(hit);
    return {
      layer: layer.id,
      featureId: hit.featureId,
      distance: round(hit.distance, 3),
      nearest: lonLatIn(q.crs, hit.lon, hit.lat).map((c) => round(c, 8)),
      fraction: hit.fraction === null ? null : round(hit.fraction, 6),
      depth: depth === null ? null : round(depth, 3),
      attributes: index.attributes(hit.feature),
      href: `${base}/collections/${encodeURIComponent(layer.id)}/items/${encodeURIComponent(hit.featureId)}`,
    };
  });
}

export function registerAssetRoutes(router: Router<RequestState>, services: Services): void {
  router.get('/assets/nearest', async (ctx: Ctx) => {
    const q = readParams(ctx.query, NEAREST_PARAMS);
    if (q.lon === undefined) throw badParameter('lon', 'required: the longitude of the query point');
    if (q.lat === undefined) throw badParameter('lat', 'required: the latitude of the query point');
    const crs = q.crs ?? 'CRS84';
    const k = q.k ?? 5;
    const layers = searchedLayers(ctx, services, q.layers);
    const [lon, lat] = lonLatFrom(crs, q.lon, q.lat);

    const assets = await nearestAssetsJson(ctx, services, layers, lon, lat, { k, crs, maxDistance: q.maxDistance, types: q.types, asked: [q.lon, q.lat] });
    ctx.set('Cache-Control', layers.every((l) => l.accessClass === 'public') ? 'public, no-cache' : 'private, no-cache');
    ctx.set('Vary', 'X-API-Key, Authorization');
    ctx.body = { crs, point: [q.lon, q.lat], k, layers: layers.map((l) => l.id), assets };
  });
}
