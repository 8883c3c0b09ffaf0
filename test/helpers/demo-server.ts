import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDemoCity } from '../../fixtures/load-demo-city.ts';
import { openTestStore, resetStore, type TestStore } from './stores.ts';
import { startServer } from './server.ts';
import type { DriverName } from '../../store/db.ts';

export interface DemoServer {
  store: TestStore;
  server: Awaited<ReturnType<typeof startServer>>;
  /** Where the demo city's deliveries were written. */
  dir: string;
  close(): Promise<void>;
}

/** A fresh test store with the demo city loaded through the importer (as on a first start), and the app serving it. */
export async function openDemoServer(options: { scale: number; seed?: number; driver?: DriverName }): Promise<DemoServer> {
  const store = await openTestStore(options.driver ?? 'postgres');
  await resetStore(store);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'onemap-demo-'));
  await loadDemoCity(store.db, { dir, seed: options.seed ?? 20260101, scale: options.scale });
  const server = await startServer(store);
  return {
    store, server, dir,
    async close() {
      await server.close();
      await store.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** POSTs JSON: the status, content type, raw text and parsed body (undefined when the answer is not JSON). */
export async function postJson(url: string, body: unknown, options: { key?: string; accept?: string } = {}) {
  const res = await fetch(url, {
    method: 'POST', body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', Accept: options.accept ?? 'application/json', ...(options.key ? { 'X-API-Key': options.key } : {}) },
  });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, body: json };
}
