import type { AddressIndex, MatchLevel } from './address-index.ts';

/**
 * Prefix autocomplete over what people start typing: a road (中山路), a road and door
 * (中山路3 → 中山路3号, 中山路30号 …), a compound (笋浯新村), a district or town and what follows,
 * or the whole standard address. One sorted array of keys, binary-searched: 28,000 addresses
 * give ~200,000 keys and a lookup is a few microseconds.
 */

export interface Suggestion {
  text: string;
  level: MatchLevel;
  code: string | null;
  lon: number;
  lat: number;
}

// Roads first, then compounds, doors, buildings: the shorter answer to a shorter prefix.
const RANK: Partial<Record<MatchLevel, number>> = { 道路: 0, 兴趣点: 1, 门牌号: 2, 楼栋: 3, 单元: 4, 户室: 5 };
const SCAN_LIMIT = 4_000;

export class SuggestIndex {
  readonly #keys: string[];
  readonly #targets: Int32Array;
  readonly #entries: Suggestion[] = [];

  constructor(index: AddressIndex) {
    const pairs: Array<[string, number]> = [];
    const entry = (s: Suggestion, keys: Array<string | null | undefined>) => {
      const id = this.#entries.length;
      this.#entries.push(s);
      for (const k of new Set(keys)) if (k) pairs.push([k, id]);
    };
    for (const road of index.roads.values()) {
      const districts = [...road.districts];
      entry({ text: road.name, level: '道路', code: null, lon: road.middle[0]!, lat: road.middle[1]! }, [road.name, ...districts.map((d) => d + road.name)]);
      for (const [roadNumber, list] of road.doors) {
        const a = list[0]!;
        entry({ text: `${road.name}${roadNumber}${a.poi ?? ''}`, level: '门牌号', code: a.id, lon: a.lon, lat: a.lat }, [road.name + roadNumber, a.district ? a.district + road.name + roadNumber : null]);
      }
    }
    for (const [name, list] of index.pois) {
      const a = list[0]!;
      entry({ text: name, level: '兴趣点', code: a.id, lon: a.lon, lat: a.lat }, [name, a.district ? a.district + name : null]);
    }
    for (const a of index.addresses) {
      if (!a.building && !a.unit && !a.room) continue;
      const local = `${a.road ?? ''}${a.roadNumber ?? ''}${a.poi ?? ''}${a.building ?? ''}${a.unit ?? ''}${a.room ?? ''}`;
      const tail = `${a.building ?? ''}${a.unit ?? ''}${a.room ?? ''}`;
      entry({ text: a.text, level: a.level, code: a.id, lon: a.lon, lat: a.lat }, [
        a.text, local, a.poi ? a.poi + tail : null,
        a.district ? a.text.slice(a.text.indexOf(a.district)) : null,
        a.town && a.text.includes(a.town) ? a.text.slice(a.text.indexOf(a.town)) : null,
      ]);
    }
    pairs.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] - y[1]));
    this.#keys = pairs.map((p) => p[0]);
    this.#targets = Int32Array.from(pairs, (p) => p[1]);
  }

  get size(): number {
    return this.#keys.length;
  }

  suggest(prefix: string, limit = 10): Suggestion[] {
    if (prefix === '') return [];
    let lo = 0, hi = this.#keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#keys[mid]! < prefix) lo = mid + 1; else hi = mid;
    }
    // The best `limit` by (key length, level, text), kept sorted while scanning: a short prefix
    // spans thousands of keys, and sorting them all cost a millisecond a query.
    const best: Array<{ id: number; len: number }> = [];
    const seen = new Set<number>();
    const before = (a: { id: number; len: number }, b: { id: number; len: number }) => {
      if (a.len !== b.len) return a.len < b.len;
      const ea = this.#entries[a.id]!, eb = this.#entries[b.id]!;
      const ra = RANK[ea.level] ?? 9, rb = RANK[eb.level] ?? 9;
      return ra !== rb ? ra < rb : ea.text < eb.text;
    };
    for (let i = lo; i < this.#keys.length && i - lo < SCAN_LIMIT; i++) {
      const key = this.#keys[i]!;
      if (!key.startsWith(prefix)) break;
      const id = this.#targets[i]!;
      const item = { id, len: key.length };
      if (best.length === limit && !before(item, best[best.length - 1]!)) continue;
      if (seen.has(id)) {
        // Keep the entry's shortest key.
        const at = best.findIndex((b) => b.id === id);
        if (at < 0 || !before(item, best[at]!)) continue;
        best.splice(at, 1);
      }
      let at = best.length;
      while (at > 0 && before(item, best[at - 1]!)) at--;
      best.splice(at, 0, item);
      seen.add(id);
      if (best.length > limit) seen.delete(best.pop()!.id);
    }
    return best.map((b) => this.#entries[b.id]!);
  }
}
