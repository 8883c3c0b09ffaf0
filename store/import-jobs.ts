import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface ImportJob {
  id: string;
  status: JobStatus;
  layerId: string;
  fileName: string;
  options: Record<string, unknown>;
  progress: Record<string, unknown>;
  report: Record<string, unknown> | null;
  error: Record<string, unknown> | null;
  keyId: number | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export async function createJob(db: Kysely<Database>, job: { id: string; layerId: string; fileName: string; options: Record<string, unknown>; keyId: number | null }): Promise<void> {
  await db.insertInto('import_job').values({
    id: job.id, status: 'queued', layer_id: job.layerId, file_name: job.fileName, options: JSON.stringify(job.options), key_id: job.keyId,
  }).execute();
}

export async function updateJob(db: Kysely<Database>, id: string, change: { status?: JobStatus; progress?: unknown; report?: unknown; error?: unknown; started?: boolean; finished?: boolean }): Promise<void> {
  await db.updateTable('import_job').set({
    ...(change.status ? { status: change.status } : {}),
    ...(change.progress !== undefined ? { progress: JSON.stringify(change.progress) } : {}),
    ...(change.report !== undefined ? { report: JSON.stringify(change.report) } : {}),
    ...(change.error !== undefined ? { error: JSON.stringify(change.error) } : {}),
    ...(change.started ? { started_at: sql<Date>`now()` as never } : {}),
    ...(change.finished ? { finished_at: sql<Date>`now()` as never } : {}),
  }).where('id', '=', id).execute();
}

export async function getJob(db: Kysely<Database>, id: string): Promise<ImportJob | undefined> {
  const r = await db.selectFrom('import_job').selectAll().where('id', '=', id).executeTakeFirst();
  if (!r) return undefined;
  return {
    id: r.id, status: r.status, layerId: r.layer_id, fileName: r.file_name, options: r.options, progress: r.progress,
    report: r.report, error: r.error, keyId: r.key_id, createdAt: r.created_at, startedAt: r.started_at, finishedAt: r.finished_at,
  };
}

/** Jobs a previous process left unfinished: their transactions died with it, so nothing of them was kept. */
export async function failInterruptedJobs(db: Kysely<Database>): Promise<number> {
  const r = await db.updateTable('import_job')
    .set({ status: 'failed', error: JSON.stringify({ code: 'Interrupted', message: 'the service stopped during this import; nothing of it was kept. Upload the file again.' }), finished_at: new Date() })
    .where('status', 'in', ['queued', 'running'])
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}
