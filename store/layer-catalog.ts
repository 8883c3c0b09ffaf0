import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { getLayer, listLayers, type Layer } from './layers.ts';
import type { ChangeFeed } from './changes.ts';

/**
 * The layer catalog held in memory, for the paths that cannot afford a query per request (a
 * cached tile is answered in microseconds). It follows the change feed: a layer is re-read when
 * its change is announced, everything when notifications may have been lost. A writer in this
 * process awaits `refresh` after committing, so its own next request already sees the new state.
 */
export class LayerCatalog {
  readonly #db: Kysely<Database>;
  #layers = new Map<string, Layer>();
  #unsubscribe: (() => void) | undefined;
  readonly #pending = new Map<string, Promise<void>>();

  private constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  static async open(db: Kysely<Database>, feed?: ChangeFeed): Promise<LayerCatalog> {
    const catalog = new LayerCatalog(db);
    await catalog.refresh();
    catalog.#unsubscribe = feed?.subscribe((change) => {
      if (change.kind === 'layer') void catalog.refresh(change.layerId).catch(() => undefined);
      else if (change.kind === 'resync') void catalog.refresh().catch(() => undefined);
    });
    return catalog;
  }

  get(id: string): Layer | undefined {
    return this.#layers.get(id);
  }

  all(): Layer[] {
    return [...this.#layers.values()];
  }

  /** Re-reads one layer (gone from the store → gone from here), or the whole catalog. */
  refresh(id?: string): Promise<void> {
    const key = id ?? '*';
    // Refreshes of one layer run one after the other, so an older read never lands last.
    const previous = this.#pending.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(async () => {
      if (id === undefined) {
        this.#layers = new Map((await listLayers(this.#db)).map((l) => [l.id, l]));
        return;
      }
      const layer = await getLayer(this.#db, id);
      if (layer) this.#layers.set(id, layer);
      else this.#layers.delete(id);
    });
    this.#pending.set(key, next);
    void next.finally(() => { if (this.#pending.get(key) === next) this.#pending.delete(key); }).catch(() => undefined);
    return next;
  }

  close(): void {
    this.#unsubscribe?.();
  }
}
