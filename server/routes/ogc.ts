import type Router from '@koa/router';
import { listLayers } from '../../store/layers.ts';
import { postgisVersion } from '../../store/db.ts';
import { baseUrl, type Ctx, type RequestState, type Services } from '../context.ts';
import { readParams } from '../params.ts';
import { openApiDocument } from '../openapi.ts';
import { COMMON_PARAMS } from './collections.ts';

export const CONFORMANCE = [
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30',
];

export function registerOgcRoutes(router: Router<RequestState>, services: Services): void {
  router.get('/', async (ctx: Ctx) => {
    const q = readParams(ctx.query, COMMON_PARAMS);
    const base = baseUrl(ctx, services);
    // A browser (Accept prefers text/html) is sent to the web map; API clients, which send */* or
    // application/json, and anyone asking f=json, get the landing page.
    ctx.vary('Accept');
    if (!q.f && ctx.accepts('json', 'html') === 'html') {
      ctx.status = 303;
      ctx.redirect(`${base}/map`);
      return;
    }
    ctx.body = {
      title: 'OneMap 一张图',
      description: '泉州城市资源一张图: pipelines, buildings, land, water, roads and green space in one space-time store (CGCS2000).',
      links: [
        { rel: 'self', type: 'application/json', title: 'This document', href: `${base}/` },
        { rel: 'service-desc', type: 'application/vnd.oai.openapi+json;version=3.0', title: 'OpenAPI definition', href: `${base}/api` },
        { rel: 'conformance', type: 'application/json', title: 'Conformance classes', href: `${base}/conformance` },
        { rel: 'data', type: 'application/json', title: 'Collections', href: `${base}/collections` },
        { rel: 'alternate', type: 'text/html', title: '一张图 web map', href: `${base}/map` },
      ],
    };
  });

  router.get('/conformance', async (ctx: Ctx) => {
    readParams(ctx.query, COMMON_PARAMS);
    ctx.body = { conformsTo: CONFORMANCE };
  });

  router.get('/api', async (ctx: Ctx) => {
    readParams(ctx.query, COMMON_PARAMS);
    ctx.type = 'application/vnd.oai.openapi+json;version=3.0';
    ctx.body = JSON.stringify(openApiDocument(baseUrl(ctx, services)));
  });

  router.get('/health', async (ctx: Ctx) => {
    readParams(ctx.query, []);
    const db = services.store.db;
    const [postgis, layers] = await Promise.all([postgisVersion(db), listLayers(db)]);
    ctx.body = { status: 'ok', driver: services.store.driver, postgis, layers: layers.length };
  });
}
