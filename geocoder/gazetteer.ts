import { adminAliases } from './admin-aliases.ts';
import type { AdminNode, DivisionTree } from './divisions.ts';

/**
 * Every name the parser recognises, with what it names: administrative areas nationwide (full
 * names and their short forms) and the served city's roads and compounds from the standard
 * address store. Text is matched by forward maximum matching (the longest known name at each
 * position, as Chinese word segmentation does), so 中山路 is a road and not 中山市 followed by 路.
 */

export type NameKind = 'admin' | 'road' | 'poi';

export interface NameEntry {
  kind: NameKind;
  /** The canonical name (鲤城区 for the alias 鲤城). */
  name: string;
  /** A short form rather than the full name. */
  alias: boolean;
  admin?: AdminNode;
}

export interface Mention {
  start: number;
  end: number;
  text: string;
  entries: NameEntry[];
  fuzzy: boolean;
  /** For a fuzzy mention, the other names as close to the text (聚梅巷: 聚厝巷 or 福梅巷). */
  alternatives?: string[];
}

// A short form right before one of these is the start of another name: 中山路, 福州街, 泉州湾.
const ALIAS_BLOCKERS = new Set([...'路街巷道弄里桥湾港村庄岛屿园苑城坊']);

export class Gazetteer {
  readonly #names = new Map<string, NameEntry[]>();
  /** For each first character, the name lengths that start with it, longest first. */
  readonly #lengths = new Map<string, number[]>();
  /** Single-deletion keys of the local names, for names typed with one character wrong. */
  readonly #deletions = new Map<string, Set<string>>();

  static fromDivisions(tree: DivisionTree): Gazetteer {
    const g = new Gazetteer();
    for (const node of tree.nodes) {
      if (node.placeholder) continue;
      g.add(node.name, { kind: 'admin', name: node.name, alias: false, admin: node });
      for (const alias of adminAliases(node)) g.add(alias, { kind: 'admin', name: node.name, alias: true, admin: node });
    }
    return g;
  }

  /** A copy to which a city's local names are added, leaving the nationwide one untouched. */
  clone(): Gazetteer {
    const g = new Gazetteer();
    for (const [k, v] of this.#names) g.#names.set(k, [...v]);
    for (const [k, v] of this.#lengths) g.#lengths.set(k, [...v]);
    for (const [k, v] of this.#deletions) g.#deletions.set(k, new Set(v));
    return g;
  }

  add(text: string, entry: NameEntry, options: { fuzzy?: boolean } = {}): void {
    if (text.length < 2) return;
    let list = this.#names.get(text);
    if (!list) {
      list = [];
      this.#names.set(text, list);
      const first = text[0]!;
      const lengths = this.#lengths.get(first) ?? [];
      if (!lengths.includes(text.length)) {
        lengths.push(text.length);
        lengths.sort((a, b) => b - a);
      }
      this.#lengths.set(first, lengths);
    }
    if (!list.some((e) => e.kind === entry.kind && e.name === entry.name && e.admin === entry.admin)) list.push(entry);
    if (options.fuzzy && text.length >= 3) {
      // The name itself is a key too: a query with one character too many (刺桐北路) deletes down to it.
      for (const key of [text, ...deletions(text)]) {
        let set = this.#deletions.get(key);
        if (!set) this.#deletions.set(key, (set = new Set()));
        set.add(text);
      }
    }
  }

  lookup(text: string): readonly NameEntry[] {
    return this.#names.get(text) ?? [];
  }

  /** Known names in `s`, left to right, longest first at each position, not overlapping. */
  scan(s: string): Mention[] {
    const out: Mention[] = [];
    let i = 0;
    while (i < s.length) {
      const found = this.longestAt(s, i);
      if (found) {
        out.push(found);
        i = found.end;
      } else {
        i++;
      }
    }
    return out;
  }

  longestAt(s: string, i: number): Mention | null {
    const lengths = this.#lengths.get(s[i]!);
    if (!lengths) return null;
    for (const len of lengths) {
      if (i + len > s.length) continue;
      const text = s.slice(i, i + len);
      const list = this.#names.get(text);
      if (!list) continue;
      const next = s[i + len];
      const entries = next !== undefined && ALIAS_BLOCKERS.has(next) ? list.filter((e) => !e.alias) : list;
      if (entries.length > 0) return { start: i, end: i + len, text, entries, fuzzy: false };
    }
    return null;
  }

  /**
   * Local names within one edit (substitution, insertion, deletion) of a substring of `s`
   * starting at `i`, longest first; for 中山璐 or 笋吾新村 where nothing matched exactly.
   */
  fuzzyAt(s: string, i: number, maxLength = 12): Mention | null {
    for (let len = Math.min(maxLength, s.length - i); len >= 3; len--) {
      const q = s.slice(i, i + len);
      const found = new Set<string>();
      for (const key of [q, ...deletions(q)]) {
        for (const name of this.#deletions.get(key) ?? []) {
          if (found.has(name) || Math.abs(name.length - len) > 1 || editDistance(q, name, 1) > 1) continue;
          // The typo is inside the name, not in its first character and its suffix both.
          if (q[0] !== name[0] && q[len - 1] !== name[name.length - 1]) continue;
          if (this.#names.get(name)!.some((e) => e.kind !== 'admin' || !e.alias)) found.add(name);
        }
      }
      if (found.size > 0) {
        // Roads and compounds first: 泉秀街10号 is 泉秀路 before it is 泉秀街道.
        const local = (n: string) => (this.#names.get(n)!.some((e) => e.kind !== 'admin') ? 0 : 1);
        const [name, ...alternatives] = [...found].sort((a, b) => local(a) - local(b) || (a < b ? -1 : 1));
        const entries = this.#names.get(name!)!.filter((e) => e.kind !== 'admin' || !e.alias);
        return { start: i, end: i + len, text: name!, entries, fuzzy: true, alternatives };
      }
    }
    return null;
  }
}

function deletions(s: string): string[] {
  const out: string[] = [];
  for (let k = 0; k < s.length; k++) out.push(s.slice(0, k) + s.slice(k + 1));
  return out;
}

/** Levenshtein distance, giving up (returning max + 1) once it exceeds `max`. */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    prev = cur;
  }
  return prev[b.length]!;
}
