import { AddressIndex, type AreaInput, type FormerAddressInput, type MatchLevel, type RoadInput, type StandardAddressInput } from './address-index.ts';
import { isAncestor, lineage, loadDivisions, type AdminNode, type DivisionTree } from './divisions.ts';
import { Gazetteer } from './gazetteer.ts';
import { matchParsed, type GeocodeResult } from './match.ts';
import { AddressParser, type Components, type ParsedAddress } from './parse.ts';
import { SuggestIndex, type Suggestion } from './suggest.ts';
import { normaliseAddress } from './normalise.ts';

/**
 * The geocoder: the nationwide gazetteer, the served city's standard addresses, and what is
 * asked of them (parse, geocode, reverse, suggest). Immutable once built; a change to the
 * register builds a new one, which replaces this one whole.
 */

export interface GeocoderInput {
  addresses: Iterable<StandardAddressInput>;
  roads: Iterable<RoadInput>;
  areas: Iterable<AreaInput>;
  /** Earlier states of standard addresses (renamed roads, re-assigned numbers). */
  former?: Iterable<FormerAddressInput>;
}

export interface GeocoderOptions {
  /** The served city's division code; 泉州市 by default. */
  homeCode?: string;
  /** Province or city code prefixes whose communities (社区/村) are loaded; Fujian by default. */
  communityPrefixes?: string[];
}

export interface GeocodeAnswer {
  query: string;
  normalised: string;
  parsed: Components;
  /** Best first; more than one when the text fits several places about equally. */
  results: GeocodeResult[];
  ambiguous: boolean;
}

export interface ReverseAnswer {
  /** The nearest standard address, with its distance in metres. */
  address: { text: string; code: string; level: MatchLevel; lon: number; lat: number; distance: number } | null;
  nearby: Array<{ text: string; code: string; distance: number }>;
  road: { name: string; distance: number; lon: number; lat: number } | null;
  /** From the province down to the community, as far as the store's outlines say. */
  divisions: Array<{ level: AdminNode['level']; code: string; name: string }>;
  /** 福建省泉州市鲤城区海滨街道 江滨北路1号 … in one line. */
  description: string;
}

let nationwide: { tree: DivisionTree; gazetteer: Gazetteer; key: string } | undefined;

function divisionsFor(prefixes: string[]): { tree: DivisionTree; gazetteer: Gazetteer } {
  const key = [...prefixes].sort().join(',');
  if (nationwide?.key !== key) {
    const tree = loadDivisions(prefixes);
    nationwide = { tree, gazetteer: Gazetteer.fromDivisions(tree), key };
  }
  return nationwide;
}

export class Geocoder {
  readonly index: AddressIndex;
  readonly tree: DivisionTree;
  readonly parser: AddressParser;
  readonly #suggest: SuggestIndex;
  readonly home: AdminNode | null;

  private constructor(index: AddressIndex, tree: DivisionTree, parser: AddressParser) {
    this.index = index;
    this.tree = tree;
    this.parser = parser;
    this.home = parser.home;
    this.#suggest = new SuggestIndex(index);
  }

  static build(input: GeocoderInput, options: GeocoderOptions = {}): Geocoder {
    const { tree, gazetteer: base } = divisionsFor(options.communityPrefixes ?? ['35']);
    const index = new AddressIndex(input);
    const gazetteer = base.clone();
    for (const name of index.roads.keys()) gazetteer.add(name, { kind: 'road', name, alias: false }, { fuzzy: true });
    for (const key of index.formerDoors.keys()) {
      const name = key.slice(0, key.indexOf('|'));
      if (!index.roads.has(name)) gazetteer.add(name, { kind: 'road', name, alias: false });
    }
    for (const name of index.pois.keys()) gazetteer.add(name, { kind: 'poi', name, alias: false }, { fuzzy: true });
    const homeCode = options.homeCode ?? '350500';
    const home = tree.byCode.get(homeCode);
    // The served city's own towns and communities tolerate a typo too (笋吾社区).
    if (home) {
      for (const n of tree.nodes) {
        if ((n.level === 'town' || n.level === 'community' || n.level === 'district') && !n.placeholder && isAncestor(home, n)) {
          gazetteer.add(n.name, { kind: 'admin', name: n.name, alias: false, admin: n }, { fuzzy: true });
        }
      }
    }
    return new Geocoder(index, tree, new AddressParser(gazetteer, tree, { homeCode }));
  }

  parse(text: string): ParsedAddress {
    return this.parser.parse(text);
  }

  /** `city` (a name or a division code) places an address that names no area itself. */
  geocode(text: string, options: { limit?: number; city?: string } = {}): GeocodeAnswer {
    const parsed = this.parse(text);
    if (options.city) {
      const context = /^\d{6}$/.test(options.city) ? this.tree.byCode.get(options.city) ?? null : this.parse(options.city).admin;
      if (context) {
        if (!parsed.admin) {
          parsed.admin = context;
          for (const n of lineage(context)) parsed.components[n.devzone ? 'devzone' : n.level] = n.name;
        } else if (parsed.adminAlternatives.length > 0) {
          const all = [parsed.admin, ...parsed.adminAlternatives];
          const inside = all.filter((n) => n === context || isAncestor(context, n));
          if (inside.length > 0) {
            parsed.admin = inside[0]!;
            parsed.adminAlternatives = inside.slice(1);
          }
        }
      }
    }
    const results = matchParsed(parsed, { index: this.index, home: this.home }, options.limit ?? 5);
    const ambiguous = results.length > 1 && results[1]!.score >= results[0]!.score - 5;
    return { query: text, normalised: parsed.normalised, parsed: parsed.components, results, ambiguous };
  }

  /** The best standard address for an address, or null: what an import places a record with. */
  locate(address: string): GeocodeResult | null {
    return this.geocode(address, { limit: 1 }).results[0] ?? null;
  }

  reverse(lon: number, lat: number, options: { radius?: number } = {}): ReverseAnswer {
    const p = [lon, lat];
    const radius = options.radius ?? 1_000;
    const near = this.index.nearestAddresses(p, 5, radius);
    const road = this.index.nearestRoad(p, radius);
    const areas = this.index.areasAt(p);
    const deepest = areas[areas.length - 1];
    const node = deepest ? this.tree.byCode.get(deepest.code) : near[0]?.address.communityCode ? this.tree.byCode.get(near[0].address.communityCode) : undefined;
    const divisions = node ? lineage(node).map((n) => ({ level: n.level, code: n.code, name: n.name })) : [];
    const first = near[0];
    const description = first
      ? `${first.address.text}${first.distance >= 1 ? `附近${Math.round(first.distance)}米` : ''}`
      : road ? `${divisions.map((d) => d.name).join('')}${road.road.name}附近${Math.round(road.distance)}米` : divisions.map((d) => d.name).join('');
    return {
      address: first ? { text: first.address.text, code: first.address.id, level: first.address.level, lon: first.address.lon, lat: first.address.lat, distance: round(first.distance) } : null,
      nearby: near.slice(1).map((r) => ({ text: r.address.text, code: r.address.id, distance: round(r.distance) })),
      road: road ? { name: road.road.name, distance: round(road.distance), lon: road.point[0]!, lat: road.point[1]! } : null,
      divisions,
      description,
    };
  }

  suggest(prefix: string, limit = 10): Suggestion[] {
    return this.#suggest.suggest(normaliseAddress(prefix), limit);
  }

  get stats(): { addresses: number; roads: number; pois: number; areas: number; suggestKeys: number } {
    return { addresses: this.index.addresses.length, roads: this.index.roads.size, pois: this.index.pois.size, areas: this.index.areas.length, suggestKeys: this.#suggest.size };
  }
}

function round(m: number): number {
  return Math.round(m * 10) / 10;
}

export type { GeocodeResult, Suggestion, StandardAddressInput, RoadInput, AreaInput, MatchLevel };
