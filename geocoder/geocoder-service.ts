import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../store/schema.ts';
import type { ChangeFeed } from '../store/changes.ts';
import type { LayerCatalog } from '../store/layer-catalog.ts';
import { Geocoder, type GeocoderOptions } from './geocoder.ts';
import { GEOCODER_DOMAINS, loadGeocoderInput } from './store-source.ts';

/**
 * The geocoder the server answers with: built from the store at start, rebuilt in the background
 * when an address or road layer changes (requests meanwhile get the previous one, whole), and
 * once more if another change lands during a rebuild.
 */
export class GeocoderService {
  readonly #db: Kysely<Database>;
  readonly #log: Logger;
  readonly #options: GeocoderOptions;
  #current: Promise<Geocoder> | null = null;
  #latest: Geocoder | null = null;
  #rebuilding: Promise<void> | null = null;
  #again = false;
  #layers = new Map<string, number>();
  #unsubscribe: (() => void) | undefined;

  constructor(db: Kysely<Database>, log: Logger, options: GeocoderOptions = {}) {
    this.#db = db;
    this.#log = log;
    this.#options = options;
  }

  /** The current geocoder; the first call waits for the first build. */
  get(): Promise<Geocoder> {
    if (this.#latest) return Promise.resolve(this.#latest);
    this.#current ??= this.#build().catch((err: unknown) => {
      this.#current = null;
      throw err;
    });
    return this.#current;
  }

  follow(changes: ChangeFeed, catalog: LayerCatalog): void {
    this.#unsubscribe = changes.subscribe((change) => {
      if (change.kind === 'resync') this.rebuild();
      else if (change.kind === 'layer') {
        if (this.#layers.has(change.layerId)) {
          this.rebuild();
          return;
        }
        const known = catalog.get(change.layerId);
        if (known) {
          if (GEOCODER_DOMAINS.has(known.domain)) this.rebuild();
          return;
        }
        // Only a layer new to this process is read first: it may not be in the catalog yet.
        void catalog.refresh(change.layerId).then(() => {
          const layer = catalog.get(change.layerId);
          if (layer && GEOCODER_DOMAINS.has(layer.domain)) this.rebuild();
        }, (err: unknown) => this.#log.warn({ err }, 'reading a changed layer failed; the geocoder keeps its index'));
      }
    });
  }

  rebuild(): void {
    if (this.#rebuilding) {
      this.#again = true;
      return;
    }
    this.#rebuilding = this.#build().then(() => undefined, (err: unknown) => this.#log.warn({ err }, 'rebuilding the geocoder failed; still answering with the previous one'))
      .finally(() => {
        this.#rebuilding = null;
        if (this.#again) {
          this.#again = false;
          this.rebuild();
        }
      });
  }

  /** Resolves when no rebuild is running (tests, and a writer that wants its change answered). */
  async settled(): Promise<void> {
    while (this.#rebuilding) await this.#rebuilding;
  }

  async #build(): Promise<Geocoder> {
    const started = performance.now();
    // Wait for a catalog refresh racing this change to land: the layer rows are read here anyway.
    const input = await loadGeocoderInput(this.#db);
    const geocoder = Geocoder.build(input, this.#options);
    this.#layers = input.layers;
    this.#latest = geocoder;
    this.#log.info({ ...geocoder.stats, ms: Math.round(performance.now() - started) }, 'geocoder built');
    return geocoder;
  }

  close(): void {
    this.#unsubscribe?.();
  }
}
