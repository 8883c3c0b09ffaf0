import type Router from '@koa/router';
import { recordAudit } from '../../store/access.ts';
import type { Layer } from '../../store/layers.ts';
import { GeometryInputError, readRequestGeometry, DEFAULT_GEOMETRY_LIMITS } from '../../analysis/geometry-input.ts';
import { MAX_OVERLAY_DISTANCE_M, MAX_OVERLAY_FEATURES, overlay, type OverlayTarget } from '../../analysis/overlay.ts';
import { AppError, badParameter, notFound } from '../errors.ts';
import type { Ctx, RequestState, Services } from '../context.ts';
import { readJsonObject } from '../body.ts';
import { apiKeyParam, readParams, timeParam } from '../params.ts';
import { searchedLayers } from './assets.ts';

const BODY_LIMIT = 2 * 1024 * 1024;
const MAX_IDS = 1000;
const DEFAULT_LIMIT = 1000;

export const OVERLAY_QUERY_PARAMS = [apiKeyParam] as const;

/** The body members, for the OpenAPI document and the "unknown member" message. */
export const OVERLAY_BODY_SCHEMA = {
  type: 'object',
  required: ['layer'],
  properties: {
    layer: { type: 'string', description: 'The layer whose features are returned.' },
    geometry: { type: 'object', description: `GeoJSON Point, LineString, Polygon or their Multi forms (or a Feature). Polygons must not cross themselves; at most ${DEFAULT_GEOMETRY_LIMITS.maxVertices} vertices, ${DEFAULT_GEOMETRY_LIMITS.maxAreaM2 / 1e6} km² and ${DEFAULT_GEOMETRY_LIMITS.maxExtentM / 1000} km across. Either this or against.` },
    crs: { type: 'string', default: 'CRS84', description: 'CRS of the geometry: CRS84, EPSG:4490, a CGCS2000 Gauss-Krüger zone (EPSG:4491–4554), UTM, EPSG:3857, GCJ02 or BD09.' },
    against: {
      type: 'object', required: ['layer'], description: 'Instead of a geometry: the features of another layer (optionally only those ids).',
      properties: { layer: { type: 'string' }, ids: { type: 'array', items: { type: 'string' }, maxItems: MAX_IDS } },
    },
    distance: { type: 'number', minimum: 0, maximum: MAX_OVERLAY_DISTANCE_M, default: 0, description: 'Metres (geodesic); 0 means intersecting.' },
    datetime: { type: 'string', description: 'Both layers as of this instant (default now).' },
    summaryOnly: { type: 'boolean', default: false },
    limit: { type: 'integer', minimum: 1, maximum: MAX_OVERLAY_FEATURES, default: DEFAULT_LIMIT, description: 'Features returned, nearest first; the summary counts them all.' },
  },
} as const;

const datetime = timeParam('datetime', '', false);

function readOverlayBody(ctx: Ctx, services: Services, b: Record<string, unknown>) {
  if (typeof b.layer !== 'string') throw badParameter('layer', 'required: the id of the layer to overlay');
  const distance = b.distance ?? 0;
  if (typeof distance !== 'number' || !(distance >= 0 && distance <= MAX_OVERLAY_DISTANCE_M)) {
    throw badParameter('distance', `must be a number of metres in [0, ${MAX_OVERLAY_DISTANCE_M}]`, b.distance);
  }
  if (b.summaryOnly !== undefined && typeof b.summaryOnly !== 'boolean') throw badParameter('summaryOnly', 'must be true or false', b.summaryOnly);
  const limit = b.limit ?? DEFAULT_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_OVERLAY_FEATURES) {
    throw badParameter('limit', `must be a whole number in [1, ${MAX_OVERLAY_FEATURES}]`, b.limit);
  }
  if (b.datetime !== undefined && typeof b.datetime !== 'string') throw badParameter('datetime', 'must be an RFC 3339 instant as a string', b.datetime);
  const at = b.datetime === undefined ? null : (datetime.parse(b.datetime) as { kind: 'instant'; at: Date }).at;
  if (b.crs !== undefined && typeof b.crs !== 'string') throw badParameter('crs', 'must be a CRS name such as EPSG:4549', b.crs);
  if ((b.geometry === undefined) === (b.against === undefined)) throw badParameter('geometry', 'give either a geometry or against: {"layer"}, not both or neither');

  const against = b.against as { layer?: unknown; ids?: unknown } | undefined;
  for (const [id, parameter] of [[b.layer, 'layer'], [against?.layer, 'against.layer']] as const) {
    if (typeof id === 'string' && !services.catalog.get(id)) throw notFound(`no layer "${id}"`, { parameter, value: id });
  }
  let target: OverlayTarget;
  let layer: Layer;
  if (b.against !== undefined) {
    const a = against!;
    if (typeof a !== 'object' || a === null || typeof a.layer !== 'string') throw badParameter('against', 'must be {"layer": id, "ids"?: [...]}', b.against);
    if (a.ids !== undefined && (!Array.isArray(a.ids) || a.ids.length === 0 || a.ids.length > MAX_IDS || a.ids.some((id) => typeof id !== 'string'))) {
      throw badParameter('against.ids', `must be 1 to ${MAX_IDS} feature ids (strings)`);
    }
    if (b.crs !== undefined) throw badParameter('crs', 'only applies to a geometry');
    const [own, other] = searchedLayers(ctx, services, [b.layer, a.layer]);
    layer = own!;
    target = { kind: 'layer', layer: other!, ids: a.ids as string[] | undefined };
  } else {
    [layer] = searchedLayers(ctx, services, [b.layer]) as [Layer];
    try {
      target = { kind: 'geometry', geometry: readRequestGeometry(b.geometry, { crs: b.crs as string | undefined }) };
    } catch (err) {
      if (err instanceof GeometryInputError) throw new AppError(400, 'InvalidGeometry', err.message, { parameter: err.parameter, reason: err.reason });
      throw err;
    }
  }
  return { layer, target, distanceM: distance, at, limit: b.summaryOnly ? 0 : limit, summaryOnly: b.summaryOnly === true };
}

export function registerOverlayRoutes(router: Router<RequestState>, services: Services): void {
  router.post('/analysis/overlay', async (ctx: Ctx) => {
    readParams(ctx.query, OVERLAY_QUERY_PARAMS);
    const q = readOverlayBody(ctx, services, await readJsonObject(ctx, BODY_LIMIT, Object.keys(OVERLAY_BODY_SCHEMA.properties)));
    const result = await overlay(services.store.db, q);
    const layers: Layer[] = q.target.kind === 'layer' ? [q.layer, q.target.layer] : [q.layer];
    for (const layer of new Set(layers)) {
      if (layer.accessClass !== 'restricted') continue;
      await recordAudit(services.store.db, {
        keyId: ctx.state.principal.keyId, route: ctx.path, layerId: layer.id,
        featureIds: layer === q.layer ? result.featureIds : null, query: { distance: q.distanceM, datetime: q.at?.toISOString() ?? null },
      });
    }
    ctx.set('Cache-Control', 'private, no-store');
    ctx.type = 'application/geo+json';
    const against = q.target.kind === 'layer' ? { layer: q.target.layer.id, ids: q.target.ids ?? null } : null;
    ctx.body = `{"type":"FeatureCollection","layer":${JSON.stringify(q.layer.id)},"against":${JSON.stringify(against)},`
      + `"distance":${q.distanceM},"datetime":${JSON.stringify(q.at?.toISOString() ?? null)},"summary":${JSON.stringify(result.summary)},`
      + `"numberMatched":${result.summary.count},"numberReturned":${result.featureIds.length},"features":${result.featuresJson}}`;
  });
}
