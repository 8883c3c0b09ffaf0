import Koa from 'koa';
import Router from '@koa/router';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { RequestState, Services } from './context.ts';
import { errorMiddleware } from './errors.ts';
import { authMiddleware } from './auth.ts';
import { registerOgcRoutes } from './routes/ogc.ts';
import { registerCollectionRoutes } from './routes/collections.ts';
import { registerImportRoutes } from './routes/imports.ts';
import { registerTileRoutes } from './routes/tiles.ts';
import { registerWebRoutes } from './routes/web.ts';
import { registerDeviceRoutes } from './routes/devices.ts';
import { registerPositionRoutes } from './routes/position.ts';
import { registerAssetRoutes } from './routes/assets.ts';
import { registerCoordsRoutes } from './routes/coords.ts';
import { registerChangeRoutes } from './routes/changes.ts';
import { registerOverlayRoutes } from './routes/analysis-overlay.ts';
import { registerStatsRoutes } from './routes/analysis-stats.ts';
import { registerAnalysisFieldRoutes } from './routes/analysis-field.ts';
import { registerGeocodeRoutes } from './routes/geocode.ts';
import { ImportQueue } from '../data-import/import-queue.ts';

/** API keys passed in the URL (map clients that cannot send headers) stay out of the logs. */
export function redactKey(url: string): string {
  return url.replace(/([?&]api_key=)[^&#]*/gi, '$1***');
}

/** The import queue of a server: caches refreshed after each commit, business registers placed by the live geocoder. */
export function importQueueFor(services: Services): ImportQueue {
  return new ImportQueue(services.store.db, services.log, (id) => services.catalog.refresh(id), async () => {
    const geocoder = await services.geocoder.get();
    return (address) => geocoder.locate(address);
  });
}

export function createApp(services: Services, queue = importQueueFor(services)): Koa<RequestState> {
  const app = new Koa<RequestState>();
  if (services.config.publicUrl) app.proxy = true;
  const router = new Router<RequestState>();
  registerOgcRoutes(router, services);
  registerCollectionRoutes(router, services);
  registerImportRoutes(router, services, queue);
  registerTileRoutes(router, services);
  registerWebRoutes(router, services);
  registerDeviceRoutes(router, services);
  registerPositionRoutes(router, services);
  registerAssetRoutes(router, services);
  registerGeocodeRoutes(router, services);
  registerCoordsRoutes(router, services);
  registerChangeRoutes(router, services);
  registerOverlayRoutes(router, services);
  registerStatsRoutes(router, services);
  registerAnalysisFieldRoutes(router, services);

  app.use(async (ctx, next) => {
    const started = performance.now();
    ctx.state.requestId = ctx.get('X-Request-Id') || randomUUID();
    ctx.set('X-Request-Id', ctx.state.requestId);
    try {
      await next();
    } finally {
      services.log.info({ requestId: ctx.state.requestId, method: ctx.method, url: redactKey(ctx.url), status: ctx.status, ms: Math.round(performance.now() - started) }, 'request');
    }
  });
  app.use(errorMiddleware(services.log));
  app.use(async (ctx, next) => {
    // The API is read by web maps on other origins.
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.set('Access-Control-Expose-Headers', 'X-Request-Id');
    await next();
  });
  app.use(authMiddleware(services));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

/**
 * The HTTP server for the app. Node refuses request heads over 16 KiB with a bare 431; a long
 * GET (an address of a few thousand characters, percent-encoded three bytes a character) should
 * instead reach the routes and get a JSON 400 that says what is wrong.
 */
export const MAX_HEADER_BYTES = 64 * 1024;

export function createHttpServer(app: Koa<RequestState>): Server {
  return createServer({ maxHeaderSize: MAX_HEADER_BYTES }, app.callback());
}
