import type { PGlite } from '@electric-sql/pglite';

/**
 * PGlite is one embedded backend with one session, so Kysely's PostgresDialect gets a pool of
 * exactly one connection: `connect()` waits until the previous holder releases it. That keeps a
 * transaction's statements together instead of interleaving them with another request's.
 */
export interface PgliteLikeClient {
  query(sql: string, parameters: readonly unknown[]): Promise<{ command: string; rowCount: number; rows: unknown[] }>;
  release(): void;
}

export class PglitePool {
  #db: PGlite;
  #queue: Promise<void> = Promise.resolve();

  constructor(db: PGlite) {
    this.#db = db;
  }

  async connect(): Promise<PgliteLikeClient> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const previous = this.#queue;
    this.#queue = previous.then(() => held);
    await previous;
    const db = this.#db;
    let released = false;
    return {
      async query(sql, parameters) {
        const result = await db.query(sql, parameters as unknown[]);
        // PGlite does not report the command tag; Kysely needs it only to count affected rows
        // and to notice a COMMIT that PostgreSQL turned into a ROLLBACK.
        const command = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '';
        return { command, rowCount: result.affectedRows ?? 0, rows: result.rows };
      },
      release() {
        if (!released) { released = true; release(); }
      },
    };
  }

  async end(): Promise<void> {
    await this.#queue;
    await this.#db.close();
  }
}
