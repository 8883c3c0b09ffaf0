import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import pino from 'pino';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import type { Store } from '../../store/db.ts';

export interface RunningServer { url: string; close(): Promise<void> }

/** The real Koa app on an ephemeral port; tests talk to it over HTTP with fetch. */
export async function startServer(store: Store): Promise<RunningServer> {
  const config = loadConfig({ PORT: '0', ONEMAP_LOG_LEVEL: 'silent' });
  const app = createApp({ config, store, log: pino({ level: 'silent' }) });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export async function getJson(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: any;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, type: res.headers.get('content-type') ?? '', body };
}
