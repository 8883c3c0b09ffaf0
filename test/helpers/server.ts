import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import pino from 'pino';
import { createApp, createHttpServer, importQueueFor } from '../../server/app.ts';
import { openServices } from '../../server/services.ts';
import type { Services } from '../../server/context.ts';
import { loadConfig } from '../../server/config.ts';
import type { Store } from '../../store/db.ts';
import type { ImportQueue } from '../../data-import/import-queue.ts';

export interface RunningServer { url: string; close(): Promise<void> }

/** The real Koa app on an ephemeral port; tests talk to it over HTTP with fetch. */
export async function startServer(store: Store, env: Record<string, string> = {}): Promise<RunningServer & { queue: ImportQueue; services: Services }> {
  const config = loadConfig({ PORT: '0', ONEMAP_LOG_LEVEL: 'silent', ...env });
  const log = pino({ level: 'silent' });
  const services = await openServices(config, store, log);
  const queue = importQueueFor(services);
  const app = createApp(services, queue);
  const server: Server = await new Promise((resolve) => {
    const s = createHttpServer(app).listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    queue,
    url: `http://127.0.0.1:${port}`,
    services,
    async close() {
      await new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
      await services.close();
    },
  };
}

export async function getJson(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: any;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, type: res.headers.get('content-type') ?? '', body };
}
