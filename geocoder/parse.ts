import { normaliseAddress } from './normalise.ts';
import { editDistance, type Gazetteer, type Mention, type NameEntry } from './gazetteer.ts';
import { isAncestor, lineage, type AdminNode, type DivisionTree } from './divisions.ts';

/**
 * An address string → its components, by the gazetteer (names) and the address grammar (what
 * follows a road: door number, compound, building, unit, floor, room). Works with levels missing,
 * out of order or repeated, and with text around the address (names, phone numbers, "附近").
 *
 * Administrative areas are resolved nationwide: each name narrows the set of areas the address
 * can lie in (鼓楼区 alone is one of four; 福建省 before it leaves 福州's), a name that contradicts
 * what came before is taken as part of some other name (新疆伊宁市上海城 is not in Shanghai), and
 * what stays ambiguous is broken towards the served city, then the lowest code (朝阳区 → 北京).
 */

export const COMPONENT_NAMES = ['province', 'city', 'district', 'devzone', 'town', 'community', 'road', 'roadNumber', 'poi', 'building', 'unit', 'floor', 'room'] as const;
export type ComponentName = (typeof COMPONENT_NAMES)[number];
export type Components = Partial<Record<ComponentName, string>>;

export interface NamedPart {
  name: string;
  /** Found with one character wrong (璐 for 路). */
  fuzzy: boolean;
  /** A road or compound of the served city's standard address store. */
  local: boolean;
  /** Other names a fuzzy reading fits as well; the matcher decides by what the register holds. */
  alternatives?: string[];
}

export interface ParsedAddress {
  input: string;
  normalised: string;
  components: Components;
  /** The most specific administrative area named (or implied), resolved nationwide. */
  admin: AdminNode | null;
  /** Areas as consistent with the text as `admin` (鼓楼区 alone): the tie was broken. */
  adminAlternatives: AdminNode[];
  /** Which administrative components the text wrote (the rest were filled in from `admin`). */
  written: Set<ComponentName>;
  road: NamedPart | null;
  /** The second road of an intersection (A路与B路交叉口). */
  crossRoad: NamedPart | null;
  poi: NamedPart | null;
  /** Text nothing could place. */
  unparsed: string;
}

// Phone numbers (mobile, landline), as delivery addresses carry them.
const PHONE = /(?:\+?86)?1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\d{11,}/g;
const INTERSECTION_JOIN = /^(与|和|同|跟|及|、|\/|&|交)?/;
const INTERSECTION_END = /^(交叉路口|交叉口|交汇处|交界处|交接处|十字路口|丁字路口|路口|口)/;
const UNKNOWN_ROAD = /^[\u4e00-\u9fff]{1,10}?(大道|大街|路|街|巷|弄|胡同|里)([东南西北中]段)?(?=\d|$)/u;
const UNKNOWN_DEVZONE = /^[\u4e00-\u9fff]{0,8}?(高新区|开发区|工业园区|工业区|科技园|产业园|园区|新区|新城)/u;
const ADMIN_SUFFIX = /^[\u4e00-\u9fff]{1,8}?(自治县|新区|区|县|市|旗|街道|镇|乡)/u;
const MUNICIPALITIES = new Set(['110000', '120000', '310000', '500000']);
const CJK = /[\u4e00-\u9fff]/u;

export interface ParserOptions {
  /** The served city (泉州市, 350500): ambiguous names are read as its own first. */
  homeCode?: string;
}

export class AddressParser {
  readonly #gazetteer: Gazetteer;
  readonly #tree: DivisionTree;
  readonly #home: AdminNode | null;

  constructor(gazetteer: Gazetteer, tree: DivisionTree, options: ParserOptions = {}) {
    this.#gazetteer = gazetteer;
    this.#tree = tree;
    this.#home = options.homeCode ? tree.byCode.get(options.homeCode) ?? null : null;
  }

  get home(): AdminNode | null {
    return this.#home;
  }

  parse(input: string): ParsedAddress {
    const normalised = normaliseAddress(input).replace(PHONE, '');
    const parsed: ParsedAddress = {
      input, normalised, components: {}, admin: null, adminAlternatives: [], written: new Set(), road: null, crossRoad: null, poi: null, unparsed: '',
    };
    if (normalised === '') return parsed;
    const mentions = this.#mentions(normalised);

    // Administrative areas first: they decide which of several same-named roads is meant.
    let candidates: AdminNode[] = [];
    let adminEnd = 0;
    const used = new Set<Mention>();
    for (const m of mentions) {
      const nodes = m.entries.flatMap((e) => (e.kind === 'admin' && e.admin ? [e.admin] : []));
      if (nodes.length === 0) continue;
      const next = narrow(candidates, nodes);
      if (next) {
        // The address goes on after the run of area names at its head; the same names later
        // (律师事务所(成都)) are repeats inside other names.
        if (used.size === 0 || !CJK.test(normalised.slice(adminEnd, m.start))) adminEnd = m.end;
        candidates = next;
        used.add(m);
      }
    }
    candidates = this.#unknownBelow(normalised, adminEnd, candidates, (end) => { adminEnd = end; });
    const ranked = this.#rank(candidates);
    parsed.admin = ranked[0] ?? null;
    parsed.adminAlternatives = ranked.slice(1);
    if (parsed.admin) {
      for (const n of lineage(parsed.admin)) {
        const key = componentOf(n);
        parsed.components[key] = n.name;
      }
      for (const m of used) {
        for (const e of m.entries) if (e.admin && (e.admin === parsed.admin || isAncestor(e.admin, parsed.admin))) parsed.written.add(componentOf(e.admin));
      }
    }

    // Then the road, its door number, the compound and what is inside it.
    const locals = mentions.filter((m) => !used.has(m) && m.entries.some((e) => e.kind !== 'admin'));
    const roadMention = locals.find((m) => m.entries.some((e) => e.kind === 'road'));
    let cursor = adminEnd;
    const unparsed: string[] = [];
    if (roadMention) {
      parsed.road = { name: nameOf(roadMention, 'road'), fuzzy: roadMention.fuzzy, local: true, alternatives: roadMention.alternatives };
      cursor = roadMention.end;
      // A路与B路交叉口
      const join = INTERSECTION_JOIN.exec(normalised.slice(cursor))![0];
      const second = locals.find((m) => m.start === cursor + join.length && m.entries.some((e) => e.kind === 'road'));
      if (second) {
        const end = INTERSECTION_END.exec(normalised.slice(second.end));
        if (end || join) {
          parsed.crossRoad = { name: nameOf(second, 'road'), fuzzy: second.fuzzy, local: true };
          cursor = second.end + (end ? end[0].length : 0);
        }
      }
    } else {
      const zone = parsed.components.devzone === undefined ? UNKNOWN_DEVZONE.exec(normalised.slice(cursor)) : null;
      if (zone && !locals.some((m) => m.start < cursor + zone[0].length && m.end > cursor)) {
        parsed.components.devzone = zone[0];
        cursor += zone[0].length;
      }
      const tail = normalised.slice(cursor);
      const unknown = UNKNOWN_ROAD.exec(tail);
      if (unknown && !locals.some((m) => m.start < cursor + unknown[0].length && m.end > cursor)) {
        parsed.road = { name: unknown[0], fuzzy: false, local: false };
        cursor += unknown[0].length;
      }
    }
    if (parsed.road) parsed.components.road = parsed.road.name;
    if (parsed.crossRoad) parsed.components.road = `${parsed.road!.name}与${parsed.crossRoad.name}交叉口`;

    const poiMention = locals.find((m) => m.start >= (roadMention ? roadMention.end : 0) && m.entries.some((e) => e.kind === 'poi'))
      ?? locals.find((m) => m.entries.some((e) => e.kind === 'poi'));
    if (poiMention) parsed.poi = { name: nameOf(poiMention, 'poi'), fuzzy: poiMention.fuzzy, local: true, alternatives: poiMention.alternatives };
    // The compound and building may come before the road (环山华庭3幢刺桐路264号).
    if (roadMention && roadMention.start > adminEnd) this.#grammar(normalised, adminEnd, roadMention.start, false, parsed, poiMention ?? null, unparsed);
    if (!parsed.crossRoad) this.#grammar(normalised, cursor, normalised.length, true, parsed, poiMention ?? null, unparsed);
    if (parsed.poi) parsed.components.poi = parsed.poi.name;
    parsed.unparsed = unparsed.join('');
    return parsed;
  }

  /** Exact names; where none of the served city's roads or compounds is found, names with one character wrong. */
  #mentions(s: string): Mention[] {
    const exact = this.#gazetteer.scan(s);
    if (exact.some((m) => m.entries.some((e) => e.kind !== 'admin'))) return exact;
    // A name one character off wins over a shorter exact one inside it (中山璐: not 中山市).
    const out: Mention[] = [];
    for (let i = 0; i < s.length;) {
      const hit = this.#gazetteer.longestAt(s, i);
      // Names are Chinese characters: a typo'd name does not run into the door number (泉秀街10号 is not 泉秀街道).
      let run = i;
      while (run < s.length && CJK.test(s[run]!)) run++;
      const near = run > i ? this.#gazetteer.fuzzyAt(s, i, run - i) : null;
      const useful = near && near.entries.some((e) => e.kind !== 'admin' || e.admin?.level === 'town' || e.admin?.level === 'community');
      // Only a road or compound outbids an exact name; a fuzzy village does not (湖北神农架 is not 湖北村).
      const pick = useful && (!hit || (near.end > hit.end && near.entries.some((e) => e.kind !== 'admin'))) ? near : hit;
      if (pick) {
        out.push(pick);
        i = pick.end;
      } else {
        i++;
      }
    }
    return out;
  }

  /**
   * What follows the last recognised area when it looks like the next level down: a district
   * typed with a character missing (南京市雨花区 for 雨花台区), or a district of a municipality that
   * has since been merged (天津大港区, in 滨海新区 since 2009: the address is in 天津's 市辖区).
   */
  #unknownBelow(s: string, at: number, candidates: AdminNode[], moveTo: (end: number) => void): AdminNode[] {
    if (candidates.length !== 1) return candidates;
    const node = candidates[0]!;
    const m = ADMIN_SUFFIX.exec(s.slice(at));
    if (!m) return candidates;
    const text = m[0];
    const children = this.#tree.children.get(node) ?? [];
    const close = children.filter((c) => editDistance(c.name, text, 1) <= 1 && c.name[0] === text[0]);
    if (close.length === 1) {
      moveTo(at + text.length);
      return close;
    }
    if (MUNICIPALITIES.has(node.code) && /区$/.test(text)) {
      const urban = this.#tree.byCode.get(`${node.code.slice(0, 2)}0100`);
      if (urban) {
        moveTo(at + text.length);
        return [urban];
      }
    }
    return candidates;
  }

  /** Best first: the served city's own, then its province's, then the shallower, then the lowest code. */
  #rank(candidates: AdminNode[]): AdminNode[] {
    // 淮安 is both 淮安市 and its 淮安区: with nothing below it, the city.
    const kept = candidates.filter((c) => !candidates.some((o) => o !== c && isAncestor(o, c)));
    const home = this.#home;
    const affinity = (n: AdminNode): number => (home && (n === home || isAncestor(home, n)) ? 0 : home?.parent && isAncestor(home.parent, n) ? 1 : 2);
    return [...new Set(kept)].sort((a, b) => affinity(a) - affinity(b) || a.code.localeCompare(b.code));
  }

  /** Numbers and what they number in s[from, to); `door`: a door number may be among them (after the road). */
  #grammar(s: string, from: number, to: number, door: boolean, parsed: ParsedAddress, poiMention: Mention | null, unparsed: string[]): void {
    const c = parsed.components;
    const token = /(\d+(?:-\d+)?|[A-Za-z](?=座|栋|幢|号楼|单元))(号楼|号院|幢|栋|座|单元|层|楼|室|房|户|号|F|f)?/g;
    token.lastIndex = from;
    let text = '';
    let textStart = from;
    const flushText = (end: number) => {
      text = s.slice(textStart, end);
      // A compound the store does not know (潮华雅居) sits between the door number and the building.
      if (poiMention && poiMention.start >= textStart && poiMention.end <= end) {
        const before = s.slice(textStart, poiMention.start);
        const after = s.slice(poiMention.end, end);
        if (before) unparsed.push(before);
        if (after) unparsed.push(after);
      } else if (text) {
        if (!parsed.poi && CJK.test(text) && [...text].length >= 2 && !c.building) parsed.poi = { name: text, fuzzy: false, local: false };
        else unparsed.push(text);
      }
    };
    for (let m = token.exec(s); m && m.index < to; m = token.exec(s)) {
      flushText(m.index);
      textStart = token.lastIndex;
      const [, num, unit] = m as unknown as [string, string, string | undefined];
      const n = /^[a-z]$/i.test(num) ? num.toUpperCase() : num;
      const after = c.building !== undefined || c.unit !== undefined;
      switch (unit) {
        case '号':
          if (door && parsed.road && c.roadNumber === undefined && !after && (!poiMention || m.index < poiMention.start || poiMention.end <= from)) c.roadNumber = `${n}号`;
          else if (after) c.room ??= n;
          else if (parsed.poi || !parsed.road) c.building ??= `${n}幢`;
          else c.room ??= n;
          break;
        case '号楼': case '幢': case '栋': case '座':
          c.building ??= `${n}幢`;
          break;
        case '号院':
          c.roadNumber ??= `${n}号`;
          break;
        case '单元':
          c.unit ??= `${n}单元`;
          break;
        case '层': case 'F': case 'f':
          c.floor ??= `${n}层`;
          break;
        case '楼':
          if (c.building === undefined && c.unit === undefined) c.building = `${n}幢`;
          else c.floor ??= `${n}层`;
          break;
        case '室': case '房': case '户':
          c.room ??= n;
          break;
        default:
          // A bare number: the door number right after a road (中山路32), a room after a unit (2单元401).
          if (door && parsed.road && c.roadNumber === undefined && !after && (!poiMention || m.index < poiMention.start || poiMention.end <= from)) c.roadNumber = `${n}号`;
          else if (after) c.room ??= n;
          else unparsed.push(num);
      }
    }
    flushText(Math.max(textStart, to));
  }
}

/** Narrows the candidate areas by one more name, or null when the name contradicts them. */
function narrow(current: AdminNode[], named: AdminNode[]): AdminNode[] | null {
  if (current.length === 0) return named;
  const deeper = named.filter((n) => current.some((c) => c === n || isAncestor(c, n)));
  if (deeper.length > 0) return deeper;
  // A wider area written after a narrower one (和林格尔 … 内蒙古).
  const under = current.filter((c) => named.some((n) => isAncestor(n, c)));
  return under.length > 0 ? under : null;
}

function componentOf(n: AdminNode): ComponentName {
  if (n.devzone) return 'devzone';
  return n.level;
}

function nameOf(m: Mention, kind: NameEntry['kind']): string {
  return m.entries.find((e) => e.kind === kind)!.name;
}
