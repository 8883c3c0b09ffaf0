import Koa from 'koa';
import Router from '@koa/router';
import { randomUUID } from 'node:crypto';
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
import { ImportQueue } from '../data-import/import-queue.ts';

/** API keys passed in the URL (map clients that cannot send headers) stay out of the logs. */
export function redactKey(url: string): string {
  return url.replace(/([?&]api_key=)[^&#]*/gi, '$1***');
}

export function createApp(services: Services, queue = new ImportQueue(services.store.db, services.log, (id) => services.catalog.refresh(id))): Koa<RequestState> {
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
