import pino from 'pino';
import path from 'node:path';
import { ConfigError, loadConfig } from './config.ts';
import { openStore } from '../store/db.ts';
import { listLayers } from '../store/layers.ts';
import { failInterruptedJobs } from '../store/import-jobs.ts';
import { createHttpServer, createApp } from './app.ts';
import { openServices } from './services.ts';
import { loadDemoCity } from '../fixtures/load-demo-city.ts';

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const log = pino({ level: config.logLevel });
  const started = performance.now();
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    dataDir: path.join(config.dataDir, 'pglite'),
    statementTimeoutMs: config.statementTimeoutMs,
  });
  log.info({ driver: store.driver, ms: Math.round(performance.now() - started) }, 'store open, migrations applied');

  if (config.loadDemo && (await listLayers(store.db)).length === 0) {
    log.info({ scale: config.demoScale }, 'empty store: loading the demo city (first start only)');
    const report = await loadDemoCity(store.db, {
      dir: path.join(config.dataDir, 'demo-city'),
      seed: config.demoSeed,
      scale: config.demoScale,
      onDelivery: (f, r) => log.info({ file: f.file, layer: f.layer, mode: r.mode, inserted: r.inserted, updated: r.updated, retired: r.retired, ms: r.durationMs }, 'demo delivery imported'),
    });
    log.info({ generateMs: Math.round(report.generateMs), loadMs: Math.round(report.loadMs) }, 'demo city loaded');
  }

  const interrupted = await failInterruptedJobs(store.db);
  if (interrupted > 0) log.warn({ jobs: interrupted }, 'imports interrupted by the last stop were marked failed; nothing of them was kept');

  const services = await openServices(config, store, log);
  const app = createApp(services);
  const server = createHttpServer(app).listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = config.publicUrl ?? `http://localhost:${port}`;
    log.info({ url, driver: store.driver, startupMs: Math.round(performance.now() - started) }, 'OneMap is serving');
    console.log(`OneMap 一张图 is serving at ${url}  (driver: ${store.driver}; started in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
    if (!config.tileWarmup) return;
    const warming = performance.now();
    services.tiles.warm(services.catalog.all()).then(
      () => log.info({ ms: Math.round(performance.now() - warming), layers: services.tiles.stats().layers.length }, 'tile indexes built'),
      (err: unknown) => log.warn({ err }, 'building the tile indexes failed; they are built on first request'),
    );
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    server.close();
    server.closeAllConnections();
    await services.close();
    // PGlite must close cleanly to flush its data directory.
    await store.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  console.error('OneMap failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
