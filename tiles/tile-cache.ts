/**
 * An LRU of encoded tiles bounded by bytes, not entries: a z12 composite can be a thousand times
 * the size of an empty z18 tile, so a count bound says nothing about memory.
 *
 * Keys come from tileCacheKey (they name each layer's index build and epoch, so stale tiles are
 * never served after a rebuild); invalidateLayer frees a layer's tiles at once instead of letting
 * them age out.
 */

/** Bytes charged per entry beyond the tile itself: the key string, the Map entry, the record. */
const ENTRY_OVERHEAD = 160;

export interface TileCacheStats {
  readonly entries: number;
  readonly bytes: number;
  readonly maxBytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
}

interface Entry<T> {
  value: T;
  size: number;
  layers: readonly string[];
}

export class TileCache<T extends { readonly bytes: Uint8Array; readonly gzip?: Uint8Array } = { readonly bytes: Uint8Array }> {
  readonly #maxBytes: number;
  // Map iteration order is insertion order: re-inserting on a hit makes the first key the least recently used.
  readonly #entries = new Map<string, Entry<T>>();
  readonly #byLayer = new Map<string, Set<string>>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(maxBytes: number) {
    if (!(Number.isFinite(maxBytes) && maxBytes >= 0)) throw new RangeError(`TileCache: maxBytes must be a non-negative number, got ${maxBytes}`);
    this.#maxBytes = maxBytes;
  }

  get(key: string): T | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e.value;
  }

  /**
   * Stores a tile under `key`, remembering which layers it was cut from for invalidateLayer.
   * A tile larger than the whole budget is not stored.
   */
  set(key: string, value: T, layers: readonly string[]): void {
    this.#remove(key);
    const size = value.bytes.byteLength + (value.gzip?.byteLength ?? 0) + 2 * key.length + ENTRY_OVERHEAD;
    if (size > this.#maxBytes) return;
    this.#entries.set(key, { value, size, layers });
    this.#bytes += size;
    for (const layer of layers) {
      let keys = this.#byLayer.get(layer);
      if (keys === undefined) this.#byLayer.set(layer, (keys = new Set()));
      keys.add(key);
    }
    for (const oldest of this.#entries.keys()) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#remove(oldest);
      this.#evictions++;
    }
  }

  /** Drops every tile cut from this layer (alone or in a composite). Returns how many. */
  invalidateLayer(layer: string): number {
    const keys = this.#byLayer.get(layer);
    if (keys === undefined) return 0;
    const n = keys.size;
    for (const key of [...keys]) this.#remove(key);
    this.#byLayer.delete(layer);
    return n;
  }

  clear(): void {
    this.#entries.clear();
    this.#byLayer.clear();
    this.#bytes = 0;
  }

  stats(): TileCacheStats {
    return {
      entries: this.#entries.size, bytes: this.#bytes, maxBytes: this.#maxBytes,
      hits: this.#hits, misses: this.#misses, evictions: this.#evictions,
    };
  }

  #remove(key: string): void {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= e.size;
    for (const layer of e.layers) {
      const keys = this.#byLayer.get(layer);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.#byLayer.delete(layer);
    }
  }
}
