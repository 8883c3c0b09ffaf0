import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../store/schema.ts';
import { createJob, updateJob } from '../store/import-jobs.ts';
import { importLayerFile, ImportError, type ImportOptions } from './import-file.ts';

export type QueuedImport = Omit<ImportOptions, 'onProgress'> & { keyId: number | null };

/**
 * Runs uploaded imports one at a time, in order. One at a time because two loads of the same layer
 * would race for its current versions, and the embedded database runs one transaction anyway.
 * Each job's state lives in the import_job table so that GET /imports/{id} works from any
 * process and survives a restart (an interrupted job is marked failed; its transaction died).
 */
export class ImportQueue {
  #db: Kysely<Database>;
  #log: Logger;
  #tail: Promise<void> = Promise.resolve();
  #live = new Map<string, Record<string, unknown>>();

  readonly #afterCommit: (layerId: string) => Promise<void>;

  /**
   * `afterCommit` runs once a job's data is committed and before the job reads as succeeded, so
   * that whoever sees "succeeded" also sees the new data in every cache (the layer catalog, tiles).
   */
  readonly #geocoder: ImportOptions['geocoder'];

  /** `geocoder` places a business register's address-only rows (the server's live geocoder). */
  constructor(db: Kysely<Database>, log: Logger, afterCommit: (layerId: string) => Promise<void> = async () => undefined, geocoder?: ImportOptions['geocoder']) {
    this.#db = db;
    this.#log = log;
    this.#afterCommit = afterCommit;
    this.#geocoder = geocoder;
  }

  async submit(job: QueuedImport, options: { deleteFileAfter: boolean }): Promise<string> {
    const id = randomUUID();
    const { keyId, ...importOptions } = job;
    const recorded = { ...importOptions, file: undefined, validFrom: importOptions.validFrom?.toISOString() };
    await createJob(this.#db, { id, layerId: job.layer, fileName: job.displayName ?? job.file, options: recorded, keyId });
    this.#tail = this.#tail.then(() => this.#run(id, importOptions, options.deleteFileAfter));
    return id;
  }

  /**
   * Progress of a job running in this process. Kept in memory as well as written to the table
   * because on the embedded database the import's transaction holds the only connection.
   */
  liveProgress(id: string): Record<string, unknown> | undefined {
    return this.#live.get(id);
  }

  /** Resolves when every job submitted so far has finished (for tests and shutdown). */
  idle(): Promise<void> {
    return this.#tail;
  }

  async #run(id: string, options: ImportOptions, deleteFileAfter: boolean): Promise<void> {
    let lastWrite = 0;
    try {
      await updateJob(this.#db, id, { status: 'running', started: true });
      const report = await importLayerFile(this.#db, {
        ...options,
        geocoder: this.#geocoder,
        onProgress: (p) => {
          this.#live.set(id, { ...p });
          // Progress is written at most once a second, outside the import's transaction.
          if (p.elapsedMs - lastWrite < 1000) return;
          lastWrite = p.elapsedMs;
          void updateJob(this.#db, id, { progress: p }).catch(() => undefined);
        },
      });
      if (!report.dryRun) await this.#afterCommit(options.layer).catch((err: unknown) => this.#log.warn({ err, job: id }, 'caches not refreshed after the import'));
      await updateJob(this.#db, id, { status: 'succeeded', report, progress: { read: report.read, rejected: report.rejectedCount, elapsedMs: report.durationMs }, finished: true });
    } catch (err) {
      const error = err instanceof ImportError
        ? { code: 'ImportRejected', message: err.message, details: err.where }
        : { code: 'InternalError', message: 'the import failed unexpectedly; nothing of it was kept' };
      if (!(err instanceof ImportError)) this.#log.error({ err, job: id }, 'import failed');
      await updateJob(this.#db, id, { status: 'failed', error, finished: true }).catch((e) => this.#log.error({ err: e, job: id }, 'could not record the failed import'));
    } finally {
      this.#live.delete(id);
      if (deleteFileAfter) await rm(options.file, { force: true }).catch(() => undefined);
    }
  }
}
