import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { emptyStore } from '../../store/maintenance.ts';
import { openStore, type DriverName, type Store } from '../../store/db.ts';

export const POSTGIS_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/onemap_test';

/**
 * Real PostGIS is required, never skipped: when it is missing the tests fail and say how to fix it.
 */
export async function requirePostgis(): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGIS_URL });
  try {
    await client.connect();
    await client.query('select postgis_lib_version()');
  } catch (err) {
    throw new Error(
      `The tests need PostgreSQL with PostGIS at ${POSTGIS_URL} (set DATABASE_URL). `
      + `Run "bash scripts/test-db.sh" (npm test does) to install and prepare it. Cause: ${(err as Error).message}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface TestStore extends Store { cleanup(): Promise<void> }

export async function openTestStore(driver: DriverName): Promise<TestStore> {
  if (driver === 'postgres') {
    await requirePostgis();
    const store = await openStore({ databaseUrl: POSTGIS_URL, dataDir: '', statementTimeoutMs: 120_000 });
    return { ...store, cleanup: () => store.close() };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'onemap-pglite-'));
  const store = await openStore({ dataDir: dir, statementTimeoutMs: 120_000 });
  return {
    ...store,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Empties the store so that a suite starts from nothing (only in the test database). */
export async function resetStore(store: Store): Promise<void> {
  await emptyStore(store.db);
}

export const DRIVERS: DriverName[] = ['postgres', 'pglite'];
