import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

/**
 * Removes every layer with all its versions, keys and audit entries: for test and benchmark
 * databases only. Layer partitions are dropped, not truncated, because their names come from the
 * layer keys that the truncate restarts.
 */
export async function emptyStore(db: Kysely<Database>): Promise<void> {
  const { rows } = await sql<{ name: string }>`
    select inhrelid::regclass::text as name from pg_inherits where inhparent = 'feature_version'::regclass`.execute(db);
  for (const { name } of rows) await sql`drop table ${sql.table(name)}`.execute(db);
  await sql`truncate import_job, audit_log, api_key, layer restart identity cascade`.execute(db);
}
