import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { notifyChange } from './changes.ts';

/**
 * Removes every layer with all its versions, keys and audit entries: for test and benchmark
 * databases only. Layer partitions are dropped, not truncated, because their names come from the
 * layer keys that the truncate restarts.
 */
export async function emptyStore(db: Kysely<Database>): Promise<void> {
  const { rows } = await sql<{ name: string }>`
    select inhrelid::regclass::text as name from pg_inherits where inhparent = 'feature_version'::regclass`.execute(db);
  for (const { name } of rows) await sql`drop table ${sql.table(name)}`.execute(db);
  await sql`truncate import_job, audit_log, api_key, layer, device_fix, radio_cell, radio_wifi restart identity cascade`.execute(db);
  await notifyChange(db, { kind: 'resync' });
}

/** Removes one layer, its partition and its audit entries (benchmarks clean up after themselves). */
export async function dropLayer(db: Kysely<Database>, layerId: string): Promise<void> {
  const row = await db.selectFrom('layer').select('key').where('id', '=', layerId).executeTakeFirst();
  if (!row) return;
  await sql`drop table if exists ${sql.table(`feature_version_${row.key}`)}`.execute(db);
  await sql`delete from audit_log where layer_id = ${layerId}`.execute(db);
  await sql`delete from layer where id = ${layerId}`.execute(db);
  await notifyChange(db, { kind: 'layer', layerId });
}
