import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
import { PglitePool } from './pglite-pool.ts';
import { migrationProvider } from './migrations.ts';
import type { Database } from './schema.ts';

export type DriverName = 'postgres' | 'pglite';

export interface StoreOptions {
  /** A PostgreSQL URL; when absent the embedded PGlite with PostGIS is used. */
  databaseUrl?: string;
  /** PGlite's data directory (kept on disk so that a restart keeps what was loaded). */
  dataDir: string;
  statementTimeoutMs: number;
  poolSize?: number;
}

export interface Store {
  db: Kysely<Database>;
  driver: DriverName;
  /**
   * Calls `onPayload` for every NOTIFY on `channel` (delivered at commit), and with null after a
   * lost connection is back, when notifications may have been missed. Resolves once listening.
   */
  listen(channel: string, onPayload: (payload: string | null) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

// PostgreSQL's int8 (counts, revisions, version ids) arrives as text from pg; numbers that fit are
// what every caller wants, and PGlite already returns them that way.
pg.types.setTypeParser(20, (value: string) => {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
});

/**
 * Timestamps leave the database as text inside GeoJSON; UTC keeps them unambiguous.
 * Parallel workers are off: starting them cost ~20 ms per query against ~10 ms of work for a
 * 1,000-feature page (EXPLAIN ANALYZE, scale 10), and a busy server parallelises across requests.
 */
export const SESSION_OPTIONS = '-c TimeZone=UTC -c max_parallel_workers_per_gather=0';

/**
 * The pg clients of this process's pools by backend process id. Kysely has no COPY, so a bulk load
 * holding a Kysely transaction finds the transaction's own connection here (by asking PostgreSQL
 * for its pid) and streams COPY data through it.
 */
const clientsByBackend = new Map<number, pg.PoolClient>();

/** The pool client connected to this backend, or undefined (PGlite, or a connection not from a pool of ours). */
export async function pgClientOf(db: Kysely<Database>): Promise<pg.PoolClient | undefined> {
  if (clientsByBackend.size === 0) return undefined;
  const { rows } = await sql<{ pid: number; database: string; port: number | null }>`
    select pg_backend_pid() as pid, current_database() as database, inet_server_port() as port`.execute(db);
  const me = rows[0];
  const client = me ? clientsByBackend.get(me.pid) : undefined;
  // Pids are only unique per server: the same pid on another server (or PGlite's) is not ours.
  if (!client || client.database !== me!.database || (me!.port !== null && client.port !== me!.port)) return undefined;
  return client;
}

export async function openStore(options: StoreOptions): Promise<Store> {
  const store = options.databaseUrl ? openPostgres(options) : await openPglite(options);
  try {
    await migrate(store.db);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

function openPostgres(options: StoreOptions): Store {
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.poolSize ?? 10,
    statement_timeout: options.statementTimeoutMs,
    application_name: 'onemap',
    options: SESSION_OPTIONS,
  });
  pool.on('connect', (client) => {
    const pid = (client as pg.PoolClient & { processID?: number }).processID;
    if (pid === undefined) return;
    clientsByBackend.set(pid, client);
    client.once('end', () => { if (clientsByBackend.get(pid) === client) clientsByBackend.delete(pid); });
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const listeners = new Set<{ close(): Promise<void> }>();
  return {
    db,
    driver: 'postgres',
    async listen(channel, onPayload) {
      const listener = await listenPostgres(options.databaseUrl!, channel, onPayload);
      listeners.add(listener);
      return async () => { listeners.delete(listener); await listener.close(); };
    },
    async close() {
      await Promise.all([...listeners].map((l) => l.close()));
      await db.destroy();
    },
  };
}

/**
 * LISTEN needs a connection of its own that stays open; when it drops, it is opened again (after
 * a second, then longer) and the caller hears null, meaning "re-read what you cache".
 */
async function listenPostgres(url: string, channel: string, onPayload: (payload: string | null) => void): Promise<{ close(): Promise<void> }> {
  let closed = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let delay = 1000;
  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url, application_name: 'onemap-listen' });
    c.on('notification', (n) => { if (n.channel === channel) onPayload(n.payload ?? ''); });
    c.on('error', () => undefined);
    c.on('end', () => {
      if (closed || client !== c) return;
      client = undefined;
      retry = setTimeout(reconnect, delay);
      retry.unref();
    });
    await c.connect();
    await c.query(`listen ${pg.escapeIdentifier(channel)}`);
    client = c;
  };
  const reconnect = (): void => {
    connect().then(() => { delay = 1000; onPayload(null); }, () => {
      delay = Math.min(delay * 2, 30_000);
      if (!closed) { retry = setTimeout(reconnect, delay); retry.unref(); }
    });
  };
  await connect();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      await client?.end().catch(() => undefined);
    },
  };
}

async function openPglite(options: StoreOptions): Promise<Store> {
  // Loaded lazily: the WASM build is large and the pg driver never needs it.
  const [{ PGlite }, { postgis }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-postgis'),
  ]);
  mkdirSync(options.dataDir, { recursive: true });
  const pglite = await PGlite.create({ dataDir: options.dataDir, extensions: { postgis } });
  await pglite.exec(`set statement_timeout = ${Math.trunc(options.statementTimeoutMs)}; set timezone = 'UTC'`);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new PglitePool(pglite) as never }) });
  return {
    db,
    driver: 'pglite',
    async listen(channel, onPayload) {
      return pglite.listen(channel, (payload) => onPayload(payload));
    },
    close: () => db.destroy(),
  };
}

export async function migrate(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String((error as Error).message ?? error)}`, { cause: error });
  }
}

export async function postgisVersion(db: Kysely<Database>): Promise<string> {
  const { rows } = await sql<{ v: string }>`select postgis_lib_version() as v`.execute(db);
  return rows[0]?.v ?? 'unknown';
}
