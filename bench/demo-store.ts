import path from 'node:path';
import { sql } from 'kysely';
import { openStore, type Store } from '../store/db.ts';
import { getLayer } from '../store/layers.ts';
import { emptyStore } from '../store/maintenance.ts';
import { loadDemoCity } from '../fixtures/load-demo-city.ts';
import { ensureDatabase } from './database.ts';

/**
 * The benchmark database with the demo city at `scale` loaded (through the importer, as on a
 * first start); loaded once, reused by later runs while the buildings count fits the scale.
 */
export async function openDemoStore(url: string, scale: number): Promise<Store> {
  await ensureDatabase(url);
  const store = await openStore({ databaseUrl: url, dataDir: '', statementTimeoutMs: 600_000 });
  const expected = 20_000 * scale * 0.9;
  const buildings = await getLayer(store.db, 'buildings');
  const { rows: have } = buildings
    ? await sql<{ n: number }>`select count(*)::int as n from feature_version where layer_id = 'buildings' and valid_to is null`.execute(store.db)
    : { rows: [{ n: 0 }] };
  if ((have[0]?.n ?? 0) < expected || (have[0]?.n ?? 0) > expected * 2) {
    console.log(`loading the demo city at scale ${scale} into ${url} (once; later runs reuse it)…`);
    await emptyStore(store.db);
    const report = await loadDemoCity(store.db, { dir: path.resolve('data', `demo-city-x${scale}`), seed: 20260101, scale });
    console.log(`  generated in ${(report.generateMs / 1000).toFixed(1)} s, loaded in ${(report.loadMs / 1000).toFixed(1)} s`);
    await sql`analyze`.execute(store.db);
  }
  return store;
}
