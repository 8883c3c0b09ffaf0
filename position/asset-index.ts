import type { Geometry, Position } from 'geojson';
import { localDistance, metresPerDegreeLat, metresPerDegreeLon } from './asset-geodesy.ts';
import { AssetTree } from './asset-tree.ts';

/**
 * The nearest-asset index of one layer: the current version of every feature, held as flat typed
 * arrays of vertices and dictionary-coded attributes. Its search items are the points, the
 * segments (of lines and of polygon rings) and each polygon's area (for "inside: distance 0");
 * an AssetTree (asset-tree.ts) holds them in a Flatbush R-tree and runs the search, on this
 * layer alone or over several layers at once. Distances are exact point-to-segment distances in a
 * local metric frame at the query's latitude (asset-geodesy.ts), never box distances.
 *
 * Built once from a snapshot and never mutated; rebuild it when the layer changes. A query is
 * synchronous and uses per-index scratch arrays, so an index serves one query at a time (as it
 * does on Node's single thread).
 */

const POINT = 0;
const SEGMENT = 1;
const AREA = 2;

/** What a feature's geometry is, for what a hit can say about it. */
const FEATURE_POINT = 1;
const FEATURE_LINE = 2;
const FEATURE_POLYGON = 3;
const FEATURE_MIXED = 4;

export interface AssetIndexOptions {
  /** Attributes whose values `types` matches: pipe class and sub-type codes, pipe point features, building uses. */
  typeAttributes?: readonly string[];
  /** Depth attributes (metres): at a line's first and last vertex, and at a point asset. */
  depthAttributes?: { start: string; end: string; point: string };
}

/** CJJ 61 codes (JS, PS, YS …), their 8-digit feature codes, point features (阀门 …) and building uses (住宅 …). */
export const DEFAULT_TYPE_ATTRIBUTES = ['pipe_class', 'sub_type', 'feature', 'feature_code', 'use'] as const;
export const DEFAULT_DEPTH_ATTRIBUTES = { start: 'start_depth_m', end: 'end_depth_m', point: 'depth_m' } as const;

export interface AssetSkips {
  /** No geometry, an empty one, or a line with fewer than two positions. */
  noGeometry: number;
  /** Coordinates that are not finite, or latitudes beyond ±90°. */
  badCoordinates: number;
}

/** One nearest asset. */
export interface AssetHit {
  /** The feature's number in its index (for `attributes`, `depth`). */
  feature: number;
  featureId: string;
  /** Metres from the query point to the nearest point of the asset; 0 inside a polygon. */
  distance: number;
  /** The nearest point of the asset (lon, lat in the index's datum). */
  lon: number;
  lat: number;
  /** For line assets: where the nearest point lies along the line, 0 at its first vertex and 1 at its last, by length. */
  fraction: number | null;
}

/** Which features a query may return, from `typeMask`. */
export interface TypeMask {
  /** One flag per distinct attribute value of the index. */
  readonly values: Uint8Array;
  /** The requested types that occur in this index. */
  readonly found: readonly string[];
}

export interface NearestQuery {
  k: number;
  /** Metres; features farther away are not returned. */
  maxDistance?: number;
  types?: TypeMask | null;
}

class Growable<T extends Float64Array | Float32Array | Uint32Array | Uint8Array> {
  array: T;
  length = 0;
  constructor(readonly make: (n: number) => T, capacity = 1024) {
    this.array = make(capacity);
  }
  push(v: number): void {
    if (this.length === this.array.length) {
      const next = this.make(this.array.length * 2);
      next.set(this.array);
      this.array = next;
    }
    this.array[this.length++] = v;
  }
  trimmed(): T {
    return this.array.slice(0, this.length) as T;
  }
}

const f64 = (n: number) => new Float64Array(n);
const f32 = (n: number) => new Float32Array(n);
const u32 = (n: number) => new Uint32Array(n);
const u8 = (n: number) => new Uint8Array(n);

function valueKey(v: unknown): string {
  switch (typeof v) {
    case 'string': return `s${v}`;
    case 'number': return `n${v}`;
    case 'boolean': return v ? 't' : 'f';
    default: return v === null || v === undefined ? 'z' : `j${JSON.stringify(v)}`;
  }
}

function numeric(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') return Number(v);
  return NaN;
}

/** Accumulates features one at a time (a loader adds them as the rows arrive), then `finish()`. */
export class AssetIndexBuilder {
  readonly #options: Required<AssetIndexOptions>;
  readonly #coords = new Growable(f64, 4096);
  readonly #measure = new Growable(f32, 2048);
  readonly #itemKind = new Growable(u8, 2048);
  readonly #itemRef = new Growable(u32, 2048);
  readonly #itemFeature = new Growable(u32, 2048);
  /**
   * Area a owns rings areaRings[a] … areaRings[a + 1] - 1; ring r owns vertices rings[2r] … rings[2r + 1] - 1
   * (explicit ends: another feature's vertices may follow a ring).
   */
  readonly #areaRings = new Growable(u32);
  readonly #rings = new Growable(u32);
  readonly #featureKind = new Growable(u8);
  readonly #featureProps = new Growable(u32);
  readonly #props = new Growable(u32, 4096);
  readonly #featureIds: string[] = [];
  readonly #keys = new Map<string, number>();
  readonly #values = new Map<string, number>();
  readonly #valueList: unknown[] = [];
  readonly #skipped: AssetSkips = { noGeometry: 0, badCoordinates: 0 };
  #finished = false;

  constructor(options: AssetIndexOptions = {}) {
    this.#options = {
      typeAttributes: options.typeAttributes ?? DEFAULT_TYPE_ATTRIBUTES,
      depthAttributes: options.depthAttributes ?? DEFAULT_DEPTH_ATTRIBUTES,
    };
  }

  /** Adds one feature; false (and counted in `skipped`) when its geometry cannot be indexed. */
  add(featureId: string, geometry: Geometry | null, attributes: Record<string, unknown> | null): boolean {
    if (this.#finished) throw new Error('AssetIndexBuilder: add() after finish(); start a new builder');
    if (!geometry) { this.#skipped.noGeometry++; return false; }
    const check = validate(geometry);
    if (check !== 'ok') { this.#skipped[check]++; return false; }
    const feature = this.#featureIds.length;
    const kinds = new Set<number>();
    this.#addGeometry(feature, geometry, kinds);
    if (kinds.size === 0) { this.#skipped.noGeometry++; return false; }
    this.#featureIds.push(featureId);
    this.#featureKind.push(kinds.size > 1 ? FEATURE_MIXED : [...kinds][0]!);
    this.#featureProps.push(this.#props.length / 2);
    if (attributes) {
      for (const [key, value] of Object.entries(attributes)) {
        let k = this.#keys.get(key);
        if (k === undefined) { k = this.#keys.size; this.#keys.set(key, k); }
        const vk = valueKey(value);
        let v = this.#values.get(vk);
        if (v === undefined) { v = this.#valueList.length; this.#values.set(vk, v); this.#valueList.push(value ?? null); }
        this.#props.push(k);
        this.#props.push(v);
      }
    }
    return true;
  }

  #vertex(lon: number, lat: number, measure: number): number {
    const v = this.#coords.length / 2;
    this.#coords.push(lon);
    this.#coords.push(lat);
    this.#measure.push(measure);
    return v;
  }

  #item(kind: number, ref: number, feature: number): void {
    this.#itemKind.push(kind);
    this.#itemRef.push(ref);
    this.#itemFeature.push(feature);
  }

  #addGeometry(feature: number, g: Geometry, kinds: Set<number>): void {
    switch (g.type) {
      case 'Point':
        this.#item(POINT, this.#vertex(g.coordinates[0]!, g.coordinates[1]!, 0), feature);
        kinds.add(FEATURE_POINT);
        return;
      case 'MultiPoint':
        for (const p of g.coordinates) { this.#item(POINT, this.#vertex(p[0]!, p[1]!, 0), feature); kinds.add(FEATURE_POINT); }
        return;
      case 'LineString':
        if (this.#addLines(feature, [g.coordinates])) kinds.add(FEATURE_LINE);
        return;
      case 'MultiLineString':
        if (this.#addLines(feature, g.coordinates)) kinds.add(FEATURE_LINE);
        return;
      case 'Polygon':
        if (this.#addPolygon(feature, g.coordinates)) kinds.add(FEATURE_POLYGON);
        return;
      case 'MultiPolygon':
        for (const p of g.coordinates) if (this.#addPolygon(feature, p)) kinds.add(FEATURE_POLYGON);
        return;
      case 'GeometryCollection':
        for (const member of g.geometries) this.#addGeometry(feature, member, kinds);
        return;
    }
  }

  /** The parts of one line feature, measured together: fraction 0 at the first vertex, 1 at the last. */
  #addLines(feature: number, parts: Position[][]): boolean {
    const usable = parts.filter((p) => p.length >= 2);
    if (usable.length === 0) return false;
    const lat0 = usable[0]![0]![1]!;
    const kx = metresPerDegreeLon(lat0);
    const ky = metresPerDegreeLat(lat0);
    let total = 0;
    for (const part of usable) {
      for (let i = 1; i < part.length; i++) total += Math.hypot((part[i]![0]! - part[i - 1]![0]!) * kx, (part[i]![1]! - part[i - 1]![1]!) * ky);
    }
    let run = 0;
    for (const part of usable) {
      for (let i = 0; i < part.length; i++) {
        if (i > 0) run += Math.hypot((part[i]![0]! - part[i - 1]![0]!) * kx, (part[i]![1]! - part[i - 1]![1]!) * ky);
        // A line of zero length is all at its start.
        const v = this.#vertex(part[i]![0]!, part[i]![1]!, total > 0 ? run / total : 0);
        if (i > 0) this.#item(SEGMENT, v - 1, feature);
      }
    }
    return true;
  }

  #addPolygon(feature: number, rings: Position[][]): boolean {
    const usable = rings.filter((r) => r.length >= 3);
    if (usable.length === 0) return false;
    const area = this.#areaRings.length;
    this.#areaRings.push(this.#rings.length / 2);
    for (const ring of usable) {
      this.#rings.push(this.#coords.length / 2);
      for (let i = 0; i < ring.length; i++) {
        const v = this.#vertex(ring[i]![0]!, ring[i]![1]!, 0);
        if (i > 0) this.#item(SEGMENT, v - 1, feature);
      }
      const first = ring[0]!;
      const last = ring[ring.length - 1]!;
      if (first[0] !== last[0] || first[1] !== last[1]) {
        // An unclosed ring (GeoJSON requires them closed, not every writer does): close it.
        const v = this.#vertex(first[0]!, first[1]!, 0);
        this.#item(SEGMENT, v - 1, feature);
      }
      this.#rings.push(this.#coords.length / 2);
    }
    this.#item(AREA, area, feature);
    return true;
  }

  get skipped(): Readonly<AssetSkips> {
    return this.#skipped;
  }

  finish(): AssetIndex {
    if (this.#finished) throw new Error('AssetIndexBuilder: finish() was already called');
    this.#finished = true;
    this.#areaRings.push(this.#rings.length / 2);
    this.#featureProps.push(this.#props.length / 2);
    const keyNames = [...this.#keys.keys()];
    const typeKeys = new Set(this.#options.typeAttributes.map((k) => this.#keys.get(k)).filter((k): k is number => k !== undefined));
    const props = this.#props.trimmed();
    // Type values by their text, so that types=51042204 finds a code stored as text or as a number.
    const typeValues = new Map<string, number[]>();
    const seen = new Uint8Array(this.#valueList.length);
    for (let i = 0; i < props.length; i += 2) {
      const v = props[i + 1]!;
      if (!typeKeys.has(props[i]!) || seen[v]) continue;
      seen[v] = 1;
      const value = this.#valueList[v];
      if (typeof value !== 'string' && typeof value !== 'number') continue;
      const text = String(value);
      typeValues.set(text, [...(typeValues.get(text) ?? []), v]);
    }
    const depth = this.#options.depthAttributes;
    const keyOf = (name: string) => this.#keys.get(name) ?? -1;
    return new AssetIndex({
      coords: this.#coords.trimmed(),
      measure: this.#measure.trimmed(),
      itemKind: this.#itemKind.trimmed(),
      itemRef: this.#itemRef.trimmed(),
      itemFeature: this.#itemFeature.trimmed(),
      areaRings: this.#areaRings.trimmed(),
      rings: this.#rings.trimmed(),
      featureKind: this.#featureKind.trimmed(),
      featureProps: this.#featureProps.trimmed(),
      props,
      featureIds: this.#featureIds,
      keyNames,
      values: this.#valueList,
      typeKeys: Uint8Array.from(keyNames, (_, k) => (typeKeys.has(k) ? 1 : 0)),
      typeValues,
      depthKeys: { start: keyOf(depth.start), end: keyOf(depth.end), point: keyOf(depth.point) },
      skipped: { ...this.#skipped },
    });
  }
}

function validate(g: Geometry): 'ok' | keyof AssetSkips {
  let any = false;
  let bad = false;
  const visit = (c: unknown): void => {
    if (!Array.isArray(c)) return;
    if (typeof c[0] === 'number') {
      any = true;
      const [lon, lat] = c as number[];
      if (!Number.isFinite(lon) || !Number.isFinite(lat) || Math.abs(lat!) > 90) bad = true;
      return;
    }
    for (const x of c) visit(x);
  };
  const walk = (x: Geometry): void => {
    if (x.type === 'GeometryCollection') x.geometries.forEach(walk);
    else visit(x.coordinates);
  };
  walk(g);
  if (bad) return 'badCoordinates';
  return any ? 'ok' : 'noGeometry';
}

interface AssetIndexParts {
  coords: Float64Array;
  measure: Float32Array;
  itemKind: Uint8Array;
  itemRef: Uint32Array;
  itemFeature: Uint32Array;
  areaRings: Uint32Array;
  rings: Uint32Array;
  featureKind: Uint8Array;
  featureProps: Uint32Array;
  props: Uint32Array;
  featureIds: string[];
  keyNames: string[];
  values: unknown[];
  typeKeys: Uint8Array;
  typeValues: Map<string, number[]>;
  depthKeys: { start: number; end: number; point: number };
  skipped: AssetSkips;
}

export class AssetIndex {
  /** Number of indexed features. */
  readonly size: number;
  /** Number of tree items: points, segments and polygon areas. */
  readonly itemCount: number;
  readonly skipped: Readonly<AssetSkips>;
  /** [minLon, minLat, maxLon, maxLat] of every vertex, or null when empty. */
  readonly bounds: readonly [number, number, number, number] | null;
  readonly #p: AssetIndexParts;
  /** This layer's own tree (a composite over several layers is built with AssetTree too). */
  readonly tree: AssetTree;

  // Per-query scratch: squared distance and item of each feature's best so far (Infinity when not
  // measured), the features measured, and the query in the metric frame.
  readonly #best: Float64Array;
  readonly #bestItem: Uint32Array;
  readonly #touched: Uint32Array;
  #nTouched = 0;
  #qLon = 0;
  #qLat = 0;
  #kx = 0;
  #ky = 0;
  #mask: Uint8Array | null = null;

  /** @internal built by AssetIndexBuilder.finish() */
  constructor(parts: AssetIndexParts) {
    this.#p = parts;
    this.size = parts.featureIds.length;
    this.itemCount = parts.itemKind.length;
    this.skipped = parts.skipped;
    this.#best = new Float64Array(this.size).fill(Infinity);
    this.#bestItem = new Uint32Array(this.size);
    this.#touched = new Uint32Array(this.size);
    const c = parts.coords;
    let minX = Infinity; let minY = Infinity; let maxX = -Infinity; let maxY = -Infinity;
    for (let i = 0; i < c.length; i += 2) {
      if (c[i]! < minX) minX = c[i]!;
      if (c[i]! > maxX) maxX = c[i]!;
      if (c[i + 1]! < minY) minY = c[i + 1]!;
      if (c[i + 1]! > maxY) maxY = c[i + 1]!;
    }
    this.bounds = this.itemCount > 0 ? [minX, minY, maxX, maxY] : null;
    this.tree = new AssetTree([this]);
  }

  /**
   * The k nearest features to (lon, lat), nearest first (ties by feature order), each at most
   * `maxDistance` metres away; fewer when the layer holds fewer.
   */
  nearest(lon: number, lat: number, query: NearestQuery): AssetHit[] {
    return this.tree.nearest(lon, lat, { k: query.k, maxDistance: query.maxDistance, masks: [query.types ?? null] }).map((h) => h.hit);
  }

  // The primitives AssetTree searches with, one query at a time: begin, then measure items, then
  // gather (which ends the query). A query is synchronous, so one set of scratch arrays serves.

  /** @internal Sets the query point, its metric frame (metres per degree) and the type filter. */
  begin(lon: number, lat: number, kx: number, ky: number, mask: Uint8Array | null): void {
    this.#qLon = lon;
    this.#qLat = lat;
    this.#kx = kx;
    this.#ky = ky;
    this.#mask = mask;
  }

  /** @internal Whether the item's feature passes the type filter. */
  accepts(item: number): boolean {
    return this.#mask === null || this.#matches(this.#p.itemFeature[item]!);
  }

  /** @internal Measures the item exactly and keeps its feature's best. */
  measure(item: number): void {
    const p = this.#p;
    const f = p.itemFeature[item]!;
    const best = this.#best;
    const previous = best[f]!;
    if (previous === 0) return;
    const c = p.coords;
    const r = p.itemRef[item]!;
    const kind = p.itemKind[item]!;
    let d2: number;
    if (kind === SEGMENT) {
      const kx = this.#kx; const ky = this.#ky;
      const ax = (c[2 * r]! - this.#qLon) * kx;
      const ay = (c[2 * r + 1]! - this.#qLat) * ky;
      const ex = (c[2 * r + 2]! - this.#qLon) * kx - ax;
      const ey = (c[2 * r + 3]! - this.#qLat) * ky - ay;
      const len2 = ex * ex + ey * ey;
      let t = len2 > 0 ? -(ax * ex + ay * ey) / len2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const px = ax + t * ex;
      const py = ay + t * ey;
      d2 = px * px + py * py;
    } else if (kind === POINT) {
      const dx = (c[2 * r]! - this.#qLon) * this.#kx;
      const dy = (c[2 * r + 1]! - this.#qLat) * this.#ky;
      d2 = dx * dx + dy * dy;
    } else {
      d2 = this.#inside(r) ? 0 : Infinity;
    }
    if (d2 < previous) {
      if (previous === Infinity) this.#touched[this.#nTouched++] = f;
      best[f] = d2;
      this.#bestItem[f] = item;
    }
  }

  /** @internal Appends the squared distance of every feature measured so far. */
  measured(out: number[]): void {
    for (let i = 0; i < this.#nTouched; i++) out.push(this.#best[this.#touched[i]!]!);
  }

  /**
   * @internal Appends the measured features within the squared distance (tagged with `member`)
   * to the candidate arrays, then clears the scratch.
   */
  gather(bound2: number, member: number, members: number[], features: number[], d2s: number[]): void {
    const best = this.#best;
    for (let i = 0; i < this.#nTouched; i++) {
      const f = this.#touched[i]!;
      if (best[f]! <= bound2) { members.push(member); features.push(f); d2s.push(best[f]!); }
      best[f] = Infinity;
    }
    this.#nTouched = 0;
    this.#mask = null;
  }

  /** @internal The item's box in lon/lat: [minLon, minLat, maxLon, maxLat] into `out`. */
  itemBox(item: number, out: Float64Array): void {
    const { coords: c, itemKind, itemRef, areaRings, rings } = this.#p;
    const kind = itemKind[item]!;
    const r = itemRef[item]!;
    if (kind === POINT) {
      out[0] = out[2] = c[2 * r]!;
      out[1] = out[3] = c[2 * r + 1]!;
    } else if (kind === SEGMENT) {
      out[0] = Math.min(c[2 * r]!, c[2 * r + 2]!); out[2] = Math.max(c[2 * r]!, c[2 * r + 2]!);
      out[1] = Math.min(c[2 * r + 1]!, c[2 * r + 3]!); out[3] = Math.max(c[2 * r + 1]!, c[2 * r + 3]!);
    } else {
      // The exterior ring bounds the polygon.
      const ring = areaRings[r]!;
      out[0] = out[1] = Infinity; out[2] = out[3] = -Infinity;
      for (let v = rings[2 * ring]!; v < rings[2 * ring + 1]!; v++) {
        const x = c[2 * v]!; const y = c[2 * v + 1]!;
        if (x < out[0]!) out[0] = x;
        if (x > out[2]!) out[2] = x;
        if (y < out[1]!) out[1] = y;
        if (y > out[3]!) out[3] = y;
      }
    }
  }

  /** Even-odd crossings over the area's rings (holes included): inside a hole is outside. */
  #inside(area: number): boolean {
    const { coords: c, areaRings, rings } = this.#p;
    const x = this.#qLon;
    const y = this.#qLat;
    let inside = false;
    for (let ring = areaRings[area]!; ring < areaRings[area + 1]!; ring++) {
      const end = rings[2 * ring + 1]!;
      for (let v = rings[2 * ring]!; v + 1 < end; v++) {
        const x1 = c[2 * v]!; const y1 = c[2 * v + 1]!; const x2 = c[2 * v + 2]!; const y2 = c[2 * v + 3]!;
        if ((y1 > y) !== (y2 > y) && x < ((x2 - x1) * (y - y1)) / (y2 - y1) + x1) inside = !inside;
      }
    }
    return inside;
  }

  #matches(f: number): boolean {
    const { featureProps, props, typeKeys } = this.#p;
    const mask = this.#mask!;
    for (let i = featureProps[f]! * 2, end = featureProps[f + 1]! * 2; i < end; i += 2) {
      if (typeKeys[props[i]!] && mask[props[i + 1]!]) return true;
    }
    return false;
  }

  /**
   * @internal The hit for a feature just measured (before the next query): its nearest point, the
   * fraction along a line, and the distance re-measured at the mean latitude (asset-geodesy.ts).
   */
  hit(f: number): AssetHit {
    const p = this.#p;
    const item = this.#bestItem[f]!;
    const kind = p.itemKind[item]!;
    const r = p.itemRef[item]!;
    const c = p.coords;
    let lon = this.#qLon;
    let lat = this.#qLat;
    let fraction: number | null = null;
    if (kind === POINT) {
      lon = c[2 * r]!; lat = c[2 * r + 1]!;
    } else if (kind === SEGMENT) {
      const kx = this.#kx; const ky = this.#ky;
      const ax = (c[2 * r]! - this.#qLon) * kx;
      const ay = (c[2 * r + 1]! - this.#qLat) * ky;
      const ex = (c[2 * r + 2]! - c[2 * r]!) * kx;
      const ey = (c[2 * r + 3]! - c[2 * r + 1]!) * ky;
      const len2 = ex * ex + ey * ey;
      let t = len2 > 0 ? -(ax * ex + ay * ey) / len2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      lon = c[2 * r]! + t * (c[2 * r + 2]! - c[2 * r]!);
      lat = c[2 * r + 1]! + t * (c[2 * r + 3]! - c[2 * r + 1]!);
      if (p.featureKind[f] === FEATURE_LINE) fraction = p.measure[r]! + t * (p.measure[r + 1]! - p.measure[r]!);
    }
    const distance = kind === AREA ? 0 : localDistance(this.#qLon, this.#qLat, lon, lat);
    return { feature: f, featureId: p.featureIds[f]!, distance, lon, lat, fraction };
  }

  /** The feature's attributes, as they were given. */
  attributes(feature: number): Record<string, unknown> {
    const { featureProps, props, keyNames, values } = this.#p;
    const out: Record<string, unknown> = {};
    for (let i = featureProps[feature]! * 2, end = featureProps[feature + 1]! * 2; i < end; i += 2) out[keyNames[props[i]!]!] = values[props[i + 1]!];
    return out;
  }

  #attribute(feature: number, key: number): unknown {
    if (key < 0) return undefined;
    const { featureProps, props, values } = this.#p;
    for (let i = featureProps[feature]! * 2, end = featureProps[feature + 1]! * 2; i < end; i += 2) {
      if (props[i] === key) return values[props[i + 1]!];
    }
    return undefined;
  }

  /**
   * Depth (metres) at the hit's nearest point: on a line, interpolated by its fraction between the
   * start and end depths (CJJ 61 起点埋深/终点埋深, both needed); at a point asset, its depth; else null.
   */
  depth(hit: AssetHit): number | null {
    const keys = this.#p.depthKeys;
    if (hit.fraction !== null) {
      const start = numeric(this.#attribute(hit.feature, keys.start));
      const end = numeric(this.#attribute(hit.feature, keys.end));
      return Number.isFinite(start) && Number.isFinite(end) ? start + hit.fraction * (end - start) : null;
    }
    if (this.#p.featureKind[hit.feature] === FEATURE_POINT) {
      const d = numeric(this.#attribute(hit.feature, keys.point));
      return Number.isFinite(d) ? d : null;
    }
    return null;
  }

  /** Flags for the features whose type attributes hold one of `types` (exact text, e.g. JS, 阀门, 51042204). */
  typeMask(types: readonly string[]): TypeMask {
    const values = new Uint8Array(this.#p.values.length);
    const found: string[] = [];
    for (const t of types) {
      const ids = this.#p.typeValues.get(t);
      if (!ids) continue;
      found.push(t);
      for (const v of ids) values[v] = 1;
    }
    return { values, found };
  }

  /** The distinct values of the type attributes, sorted. */
  types(): string[] {
    return [...this.#p.typeValues.keys()].sort();
  }

  /** Bytes held by the typed arrays and the layer's tree (attribute values not counted). */
  memoryBytes(): number {
    const p = this.#p;
    const arrays = [p.coords, p.measure, p.itemKind, p.itemRef, p.itemFeature, p.areaRings, p.rings, p.featureKind, p.featureProps, p.props, this.#best, this.#bestItem, this.#touched];
    return arrays.reduce((s, a) => s + a.byteLength, 0) + this.tree.memoryBytes();
  }
}

/** Builds an index from features held in memory (tests, small layers). */
export function buildAssetIndex(
  features: Iterable<{ featureId: string; geometry: Geometry | null; attributes?: Record<string, unknown> | null }>,
  options?: AssetIndexOptions,
): AssetIndex {
  const builder = new AssetIndexBuilder(options);
  for (const f of features) builder.add(f.featureId, f.geometry, f.attributes ?? null);
  return builder.finish();
}
