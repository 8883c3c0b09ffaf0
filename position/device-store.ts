/**
 * Per-device state kept in memory for a while: each entry expires `ttlMs` after it was last
 * written, and past `maxEntries` the least recently written is dropped.
 *
 * A Map keeps insertion order, so re-inserting on every write keeps it sorted by last write: the
 * oldest entries sit at the front, expiry and eviction both take from there, and every operation
 * is O(1) amortised with no timer. Time is passed in, never read from the clock, so the store
 * behaves the same in tests, benchmarks and replays.
 */

export interface DeviceStoreOptions {
  /** How long an entry lives after its last write, ms. */
  ttlMs: number;
  /** Most entries kept; the least recently written goes first. */
  maxEntries: number;
}

interface Entry<T> {
  value: T;
  writtenAt: number;
}

export class DeviceStore<T> {
  private readonly entries = new Map<string, Entry<T>>();
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** Entries dropped so far because they expired, and because the store was full. */
  expired = 0;
  evicted = 0;

  constructor(options: DeviceStoreOptions) {
    if (!(options.ttlMs > 0)) throw new Error(`DeviceStore: ttlMs must be above 0, got ${options.ttlMs}`);
    if (!(Number.isInteger(options.maxEntries) && options.maxEntries > 0)) throw new Error(`DeviceStore: maxEntries must be a whole number above 0, got ${options.maxEntries}`);
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The live value, or undefined when absent or expired (an expired entry is removed). */
  get(id: string, now: number): T | undefined {
    const e = this.entries.get(id);
    if (e === undefined) return undefined;
    if (now - e.writtenAt >= this.ttlMs) {
      this.entries.delete(id);
      this.expired++;
      return undefined;
    }
    return e.value;
  }

  /** Stores or refreshes a value; its TTL starts again. */
  set(id: string, value: T, now: number): void {
    const e = this.entries.get(id);
    if (e !== undefined) {
      this.entries.delete(id);
      e.value = value;
      e.writtenAt = now;
      this.entries.set(id, e);
      return;
    }
    this.sweep(now);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.evicted++;
    }
    this.entries.set(id, { value, writtenAt: now });
  }

  delete(id: string): boolean {
    return this.entries.delete(id);
  }

  /** Removes expired entries (the oldest ones, at the front); returns how many. */
  sweep(now: number): number {
    let n = 0;
    for (const [id, e] of this.entries) {
      if (now - e.writtenAt < this.ttlMs) break;
      this.entries.delete(id);
      n++;
    }
    this.expired += n;
    return n;
  }

  /** Live entries, oldest write first. */
  *live(now: number): IterableIterator<[string, T]> {
    for (const [id, e] of this.entries) if (now - e.writtenAt < this.ttlMs) yield [id, e.value];
  }
}
