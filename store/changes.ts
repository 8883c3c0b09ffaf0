import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

/**
 * What other parts of the service cache (layer indexes, tiles, the catalog, API keys) learn about
 * writes through PostgreSQL NOTIFY on one channel: the notification is sent when the writing
 * transaction commits, to every process on the database, and never for a rolled-back write.
 */
export const CHANGE_CHANNEL = 'onemap_changes';

export type Change =
  | { kind: 'layer'; layerId: string }
  | { kind: 'keys' }
  /** The cell tower or Wi-Fi tables changed. */
  | { kind: 'radio' }
  /** Notifications may have been missed (the listening connection was lost): re-read everything. */
  | { kind: 'resync' };

export function encodeChange(change: Change): string {
  return change.kind === 'layer' ? `layer:${change.layerId}` : change.kind;
}

export function decodeChange(payload: string | null): Change | undefined {
  if (payload === null || payload === 'resync') return { kind: 'resync' };
  if (payload === 'keys') return { kind: 'keys' };
  if (payload === 'radio') return { kind: 'radio' };
  if (payload.startsWith('layer:')) return { kind: 'layer', layerId: payload.slice(6) };
  return undefined;
}

/** Announces a change when (and only if) the caller's transaction commits. */
export async function notifyChange(db: Kysely<Database>, change: Change): Promise<void> {
  await sql`select pg_notify(${CHANGE_CHANNEL}, ${encodeChange(change)})`.execute(db);
}

export type ChangeListener = (change: Change) => void;

/** Fans one LISTEN connection out to in-process subscribers. */
export class ChangeFeed {
  readonly #listeners = new Set<ChangeListener>();
  #stop: (() => Promise<void>) | undefined;

  static async open(store: { listen(channel: string, onPayload: (payload: string | null) => void): Promise<() => Promise<void>> }): Promise<ChangeFeed> {
    const feed = new ChangeFeed();
    feed.#stop = await store.listen(CHANGE_CHANNEL, (payload) => {
      const change = decodeChange(payload);
      if (change) feed.emit(change);
    });
    return feed;
  }

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  /** Delivers a change to this process's subscribers now (NOTIFY brings it again, harmlessly). */
  emit(change: Change): void {
    for (const l of this.#listeners) l(change);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    await this.#stop?.().catch(() => undefined);
  }
}
