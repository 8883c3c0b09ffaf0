import type Router from '@koa/router';
import { recordAudit, canRead } from '../../store/access.ts';
import { featureHistory, getFeatureJson, NOW, queryFeatures } from '../../store/features.ts';
import { getLayer, listLayers, type Layer } from '../../store/layers.ts';
import { badParameter, notFound } from '../errors.ts';
import { baseUrl, type Ctx, type RequestState, type Services } from '../context.ts';
import {
  apiKeyParam, bboxParam, datetimeParam, formatParam, limitParam, offsetParam, propertiesParam, readParams, timeParam,
} from '../params.ts';

export const COMMON_PARAMS = [formatParam, apiKeyParam] as const;
export const ITEMS_PARAMS = [bboxParam, datetimeParam, limitParam, offsetParam, propertiesParam, ...COMMON_PARAMS] as const;
export const ITEM_PARAMS = [
  timeParam('datetime', 'Read the version valid at this instant (default: now).', false),
  ...COMMON_PARAMS,
] as const;

const GEOJSON = 'application/geo+json';
const DEFAULT_LIMIT = 10;

/**
 * The one gate for every collection route: a layer the caller may not read does not exist for
 * them (404, the same answer as an unknown id, so restricted names do not leak), and every read
 * of a restricted layer is written to the audit log.
 */
async function readableLayer(ctx: Ctx, services: Services, id: string): Promise<Layer> {
  const layer = await getLayer(services.store.db, id);
  if (!layer || !canRead(ctx.state.principal, layer.accessClass, layer.id)) {
    throw notFound(`collection "${id}" not found`, { parameter: 'collectionId', value: id });
  }
  return layer;
}

async function audit(ctx: Ctx, services: Services, layer: Layer, extra: { bbox?: number[]; featureIds?: string[] } = {}) {
  if (layer.accessClass !== 'restricted') return;
  await recordAudit(services.store.db, {
    keyId: ctx.state.principal.keyId,
    route: ctx.routerPath ?? ctx.path,
    layerId: layer.id,
    bbox: extra.bbox ?? null,
    featureIds: extra.featureIds ?? null,
    query: { ...ctx.query, api_key: undefined },
  });
}

export function collectionJson(layer: Layer, base: string) {
  const self = `${base}/collections/${encodeURIComponent(layer.id)}`;
  return {
    id: layer.id,
    title: layer.titleZh,
    description: `${layer.titleEn}. ${layer.source}`.trim(),
    itemType: 'feature',
    crs: ['http://www.opengis.net/def/crs/OGC/1.3/CRS84'],
    storageCrs: 'http://www.opengis.net/def/crs/EPSG/0/4490',
    extent: {
      spatial: { bbox: layer.extent ? [layer.extent] : [], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84' },
      temporal: {
        interval: layer.timeExtent ? [[layer.timeExtent[0].toISOString(), layer.timeExtent[1]?.toISOString() ?? null]] : [],
        trs: 'http://www.opengis.net/def/uom/ISO-8601/0/Gregorian',
      },
    },
    // OneMap's own description of the layer, beside the standard members.
    titleEn: layer.titleEn,
    domain: layer.domain,
    geometryType: layer.geometryType,
    accessClass: layer.accessClass,
    revision: layer.revision,
    attributes: layer.attributeSchema,
    links: [
      { rel: 'self', type: 'application/json', title: 'This collection', href: self },
      { rel: 'items', type: GEOJSON, title: 'Features', href: `${self}/items` },
    ],
  };
}

export function registerCollectionRoutes(router: Router<RequestState>, services: Services): void {
  router.get('/collections', async (ctx: Ctx) => {
    readParams(ctx.query, COMMON_PARAMS);
    const base = baseUrl(ctx, services);
    const layers = (await listLayers(services.store.db)).filter((l) => canRead(ctx.state.principal, l.accessClass, l.id));
    for (const layer of layers) await audit(ctx, services, layer);
    ctx.body = {
      links: [{ rel: 'self', type: 'application/json', title: 'Collections', href: `${base}/collections` }],
      collections: layers.map((l) => collectionJson(l, base)),
    };
  });

  router.get('/collections/:collectionId', async (ctx: Ctx) => {
    readParams(ctx.query, COMMON_PARAMS);
    const layer = await readableLayer(ctx, services, ctx.params.collectionId!);
    await audit(ctx, services, layer);
    ctx.body = collectionJson(layer, baseUrl(ctx, services));
  });

  router.get('/collections/:collectionId/items', async (ctx: Ctx) => {
    const p = readParams(ctx.query, ITEMS_PARAMS);
    const layer = await readableLayer(ctx, services, ctx.params.collectionId!);
    if (p.properties) {
      const unknown = p.properties.filter((name) => !(name in layer.attributeSchema));
      if (unknown.length > 0) {
        throw badParameter('properties', `unknown in collection ${layer.id}: ${unknown.join(', ')}`, ctx.query.properties);
      }
    }
    const limit = p.limit ?? DEFAULT_LIMIT;
    const offset = p.offset ?? 0;
    const page = await queryFeatures(services.store.db, layer.id, {
      bbox: p.bbox, time: p.datetime ?? NOW, limit, offset, properties: p.properties,
    });
    await audit(ctx, services, layer, { bbox: p.bbox, featureIds: page.featureIds });

    const base = baseUrl(ctx, services);
    const pageUrl = (o: number) => {
      const q = new URLSearchParams(ctx.querystring);
      q.set('offset', String(o));
      q.set('limit', String(limit));
      q.delete('api_key');
      return `${base}/collections/${encodeURIComponent(layer.id)}/items?${q}`;
    };
    const links: Array<Record<string, string>> = [
      { rel: 'self', type: GEOJSON, title: 'This page', href: pageUrl(offset) },
      { rel: 'collection', type: 'application/json', title: layer.titleZh, href: `${base}/collections/${encodeURIComponent(layer.id)}` },
    ];
    if (offset + page.numberReturned < page.numberMatched) links.push({ rel: 'next', type: GEOJSON, title: 'Next page', href: pageUrl(offset + limit) });
    if (offset > 0) links.push({ rel: 'prev', type: GEOJSON, title: 'Previous page', href: pageUrl(Math.max(0, offset - limit)) });

    // The features arrive as JSON text from PostGIS; only the envelope is serialised here.
    ctx.type = GEOJSON;
    ctx.body = `{"type":"FeatureCollection","numberMatched":${page.numberMatched},"numberReturned":${page.numberReturned},`
      + `"timeStamp":${JSON.stringify(new Date().toISOString())},"links":${JSON.stringify(links)},"features":${page.featuresJson}}`;
  });

  router.get('/collections/:collectionId/items/:featureId', async (ctx: Ctx) => {
    const p = readParams(ctx.query, ITEM_PARAMS);
    const layer = await readableLayer(ctx, services, ctx.params.collectionId!);
    const featureId = ctx.params.featureId!;
    const feature = await getFeatureJson(services.store.db, layer.id, featureId, p.datetime ?? NOW);
    await audit(ctx, services, layer, { featureIds: [featureId] });
    if (!feature) {
      throw notFound(`feature "${featureId}" not found in collection ${layer.id}${p.datetime ? ' at that datetime' : ''}`, { parameter: 'featureId', value: featureId });
    }
    const base = baseUrl(ctx, services);
    const self = `${base}/collections/${encodeURIComponent(layer.id)}/items/${encodeURIComponent(featureId)}`;
    const links = [
      { rel: 'self', type: GEOJSON, href: self },
      { rel: 'collection', type: 'application/json', href: `${base}/collections/${encodeURIComponent(layer.id)}` },
      { rel: 'version-history', type: GEOJSON, href: `${self}/history` },
    ];
    ctx.type = GEOJSON;
    ctx.body = `${feature.slice(0, -1)},"links":${JSON.stringify(links)}}`;
  });

  router.get('/collections/:collectionId/items/:featureId/history', async (ctx: Ctx) => {
    readParams(ctx.query, COMMON_PARAMS);
    const layer = await readableLayer(ctx, services, ctx.params.collectionId!);
    const featureId = ctx.params.featureId!;
    const versions = await featureHistory(services.store.db, layer.id, featureId);
    await audit(ctx, services, layer, { featureIds: [featureId] });
    if (versions.length === 0) throw notFound(`feature "${featureId}" not found in collection ${layer.id}`, { parameter: 'featureId', value: featureId });
    const features = versions.map((v) => {
      const version = { versionId: v.versionId, validFrom: v.validFrom.toISOString(), validTo: v.validTo?.toISOString() ?? null, recordedAt: v.recordedAt.toISOString() };
      return `${v.featureJson.slice(0, -1)},"version":${JSON.stringify(version)}}`;
    });
    ctx.type = GEOJSON;
    ctx.body = `{"type":"FeatureCollection","featureId":${JSON.stringify(featureId)},"numberReturned":${versions.length},"features":[${features.join(',')}]}`;
  });
}
