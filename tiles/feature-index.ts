import Flatbush from 'flatbush';
import type { Geometry, Position } from 'geojson';
import { latToY, lonToX, xToLon, yToLat } from './tile-math.ts';

/**
 * The in-memory index a layer's tiles are cut from: every version of every feature (not only the
 * current ones, so that a tile can be cut for any instant), projected once to the mercator unit
 * square and held in flat typed arrays, with a Flatbush R-tree over the versions' boxes and the
 * attribute values pre-encoded as MVT `Value` messages. Cutting a tile then touches no GeoJSON, no
 * JSON and no strings: it reads numbers and copies bytes.
 *
 * Built once per layer revision and never mutated; rebuild it when the layer changes.
 */

/** One version of a feature, as the store keeps it. */
export interface TileFeatureVersion {
  featureId: string;
  /** Lon/lat (EPSG:4490, taken as WGS 84). Null or empty geometries are skipped. */
  geometry: Geometry | null;
  attributes: Record<string, unknown> | null;
  /** Epoch milliseconds; the version is visible at t when validFrom ≤ t < validTo. */
  validFrom: number;
  /** Epoch milliseconds, or null while the version is current. */
  validTo: number | null;
}

export interface FeatureIndexOptions {
  /**
   * Name of the tile property that carries the feature id (default `feature_id`), so that a client
   * can fetch the feature from the items endpoint; null leaves it out. An attribute of the same name
   * is shadowed by it.
   */
  idProperty?: string | null;
}

export const POINT = 1;
export const LINE = 2;
export const POLYGON = 3;
export type GeomKind = typeof POINT | typeof LINE | typeof POLYGON;

/** Why versions were left out of the index; every count is of versions. */
export interface IndexSkips {
  /** No geometry, an empty one, or a GeometryCollection (MVT features carry one type). */
  noGeometry: number;
  /** Coordinates that are not finite numbers. */
  badCoordinates: number;
  /** validFrom not finite, or validTo not after validFrom: visible at no instant. */
  emptyValidity: number;
}

let nextIndexId = 1;

export class FeatureIndex {
  /** Unique per built index in this process: a rebuilt layer never shares cache keys with its predecessor. */
  readonly id = nextIndexId++;
  /** Number of indexed versions ("items"); item i is in Hilbert order of its box centre. */
  readonly size: number;
  readonly skipped: Readonly<IndexSkips>;

  // Layout, read directly by the tile cutter. Item i owns rings itemRings[i] … itemRings[i + 1] - 1;
  // ring r owns vertices ringStarts[r] … ringStarts[r + 1] - 1 at coords[2v], coords[2v + 1].
  // A point item has one "ring" holding all its points; a line item one per line string; a polygon
  // item one per ring, ringExterior[r] = 1 on each polygon's outer ring. Polygon rings are closed.
  readonly kinds: Uint8Array;
  readonly itemRings: Uint32Array;
  readonly ringStarts: Uint32Array;
  readonly ringExterior: Uint8Array;
  readonly coords: Float64Array;
  /** minX, minY, maxX, maxY per item, unit square. */
  readonly boxes: Float64Array;
  readonly validFrom: Float64Array;
  /** +Infinity while current. */
  readonly validTo: Float64Array;
  /** The feature id as an MVT id when it is a decimal integer (≤ 2^53), else -1. */
  readonly numericIds: Float64Array;
  /** Item i's properties are pairs (key, value) at props[2k], props[2k + 1] for k in itemProps[i] … itemProps[i + 1] - 1. */
  readonly itemProps: Uint32Array;
  readonly props: Uint32Array;
  /** UTF-8 of each key. */
  readonly keyBytes: readonly Uint8Array[];
  readonly keyNames: readonly string[];
  /** Key number of the id property, or -1. */
  readonly idKey: number;
  /** Each distinct value's MVT `Value` message body, back to back. */
  readonly valueBytes: Uint8Array;
  readonly valueStarts: Uint32Array;
  /** Sorted distinct validity boundaries, for epochAt. */
  readonly boundaries: Float64Array;
  readonly tree: Flatbush | null;

  /** Scratch for the encoder: tile-local key and value numbers, -1 when unused (reset after each layer). */
  readonly keyScratch: Int32Array;
  readonly valueScratch: Int32Array;

  /** @internal built by buildFeatureIndex */
  constructor(parts: Omit<FeatureIndex, 'id' | 'keyScratch' | 'valueScratch' | 'query' | 'epochAt' | 'memoryBytes' | 'bounds' | 'keyNumber'>) {
    this.size = parts.size;
    this.skipped = parts.skipped;
    this.kinds = parts.kinds;
    this.itemRings = parts.itemRings;
    this.ringStarts = parts.ringStarts;
    this.ringExterior = parts.ringExterior;
    this.coords = parts.coords;
    this.boxes = parts.boxes;
    this.validFrom = parts.validFrom;
    this.validTo = parts.validTo;
    this.numericIds = parts.numericIds;
    this.itemProps = parts.itemProps;
    this.props = parts.props;
    this.keyBytes = parts.keyBytes;
    this.keyNames = parts.keyNames;
    this.idKey = parts.idKey;
    this.valueBytes = parts.valueBytes;
    this.valueStarts = parts.valueStarts;
    this.boundaries = parts.boundaries;
    this.tree = parts.tree;
    this.keyScratch = new Int32Array(this.keyNames.length).fill(-1);
    this.valueScratch = new Int32Array(this.valueStarts.length - 1).fill(-1);
  }

  /**
   * Items whose box meets [minX, minY, maxX, maxY] (unit square), visible at `atMs`, and — lines
   * and polygons only — whose box has a side of at least `minSize` units. In ascending item order.
   */
  query(minX: number, minY: number, maxX: number, maxY: number, atMs: number, minSize = 0): Uint32Array {
    if (this.tree === null) return new Uint32Array(0);
    const { validFrom, validTo, kinds } = this;
    const found = this.tree.search(minX, minY, maxX, maxY, (i, x0, y0, x1, y1) =>
      validFrom[i]! <= atMs && atMs < validTo[i]! && (kinds[i] === POINT || x1 - x0 >= minSize || y1 - y0 >= minSize));
    // Ascending item order is Hilbert order: neighbouring features are encoded together, and the
    // same features come out in the same order whatever the query box.
    return Uint32Array.from(found).sort();
  }

  #keyNumbers: Map<string, number> | undefined;

  /** The key number of an attribute name, or -1 when no version has it. */
  keyNumber(name: string): number {
    this.#keyNumbers ??= new Map(this.keyNames.map((k, i) => [k, i]));
    return this.#keyNumbers.get(name) ?? -1;
  }

  /**
   * A number that changes exactly when the set of versions visible at the instant changes: two
   * instants with the same epoch give the same tiles, so the epoch (not the instant) goes into cache
   * keys and "now" keeps hitting the cache until a version starts or ends.
   */
  epochAt(atMs: number): number {
    const b = this.boundaries;
    let lo = 0;
    let hi = b.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (b[mid]! <= atMs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Bytes held by this index (typed arrays, the tree, keys); the per-item JS overhead is nil. */
  memoryBytes(): number {
    const arrays = [
      this.kinds, this.itemRings, this.ringStarts, this.ringExterior, this.coords, this.boxes, this.validFrom,
      this.validTo, this.numericIds, this.itemProps, this.props, this.valueBytes, this.valueStarts, this.boundaries,
      this.keyScratch, this.valueScratch,
    ];
    let bytes = arrays.reduce((sum, a) => sum + a.byteLength, 0);
    bytes += this.tree ? this.tree.data.byteLength : 0;
    for (let k = 0; k < this.keyNames.length; k++) bytes += this.keyBytes[k]!.byteLength + 2 * this.keyNames[k]!.length;
    return bytes;
  }

  /** [west, south, east, north] in degrees over all versions, or null for an empty index (for TileJSON). */
  bounds(): [number, number, number, number] | null {
    if (this.tree === null) return null;
    const t = this.tree;
    return [xToLon(t.minX), yToLat(t.maxY), xToLon(t.maxX), yToLat(t.minY)];
  }
}

// ---- building ------------------------------------------------------------------------------------

class F64 {
  a = new Float64Array(1024);
  n = 0;
  push(v: number) {
    if (this.n === this.a.length) this.grow();
    this.a[this.n++] = v;
  }
  grow() {
    const b = new Float64Array(this.a.length * 2);
    b.set(this.a);
    this.a = b;
  }
  done() { return this.a.slice(0, this.n); }
}

class U32 {
  a = new Uint32Array(1024);
  n = 0;
  push(v: number) {
    if (this.n === this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  done() { return this.a.slice(0, this.n); }
}

class Bytes {
  a = new Uint8Array(4096);
  n = 0;
  ensure(extra: number) {
    if (this.n + extra <= this.a.length) return;
    let len = this.a.length * 2;
    while (len < this.n + extra) len *= 2;
    const b = new Uint8Array(len);
    b.set(this.a.subarray(0, this.n));
    this.a = b;
  }
  byte(v: number) {
    this.ensure(1);
    this.a[this.n++] = v;
  }
  /** Varint of a non-negative integer up to 2^53. */
  varint(v: number) {
    this.ensure(10);
    while (v >= 128) {
      this.a[this.n++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.a[this.n++] = v;
  }
  /** Length-prefixed UTF-8, written by hand: TextEncoder allocates an array per string. */
  utf8(s: string) {
    // Short strings (the usual attribute) fit a one-byte length: write first, fill the length in after.
    if (s.length * 3 < 128) {
      this.ensure(1 + s.length * 3);
      const at = this.n++;
      this.#utf8Body(s);
      this.a[at] = this.n - at - 1;
      return;
    }
    let len = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) len += 1;
      else if (c < 0x800) len += 2;
      else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { len += 4; i++; }
      else len += 3;
    }
    this.varint(len);
    this.ensure(len);
    this.#utf8Body(s);
  }

  #utf8Body(s: string) {
    const a = this.a;
    let n = this.n;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) { a[n++] = c; continue; }
      if (c < 0x800) { a[n++] = 0xc0 | (c >> 6); a[n++] = 0x80 | (c & 0x3f); continue; }
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
        a[n++] = 0xf0 | (c >> 18); a[n++] = 0x80 | ((c >> 12) & 0x3f); a[n++] = 0x80 | ((c >> 6) & 0x3f); a[n++] = 0x80 | (c & 0x3f);
        continue;
      }
      // Lone surrogates become U+FFFD, as TextEncoder does.
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
      a[n++] = 0xe0 | (c >> 12); a[n++] = 0x80 | ((c >> 6) & 0x3f); a[n++] = 0x80 | (c & 0x3f);
    }
    this.n = n;
  }

  double(v: number) {
    this.ensure(8);
    scratchView.setFloat64(0, v, true);
    for (let i = 0; i < 8; i++) this.a[this.n++] = scratchBytes[i]!;
  }
}

const encoder = new TextEncoder();
const scratchBytes = new Uint8Array(8);
const scratchView = new DataView(scratchBytes.buffer);
const NUMERIC_ID = /^(0|[1-9][0-9]{0,15})$/;

type Scalar = string | number | boolean;

/** Attribute → MVT value, following vt-pbf so both encoders agree: objects and arrays become JSON text. */
function scalarOf(v: unknown): Scalar | undefined {
  switch (typeof v) {
    case 'string': case 'number': case 'boolean': return v;
    case 'bigint': return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    case 'object': return v === null ? undefined : JSON.stringify(v);
    default: return undefined;
  }
}

/** MVT `Value` body: string 1, double 3, uint 5, sint 6, bool 7 (the same choices as vt-pbf). */
function encodeValue(out: Bytes, v: Scalar) {
  if (typeof v === 'string') {
    out.byte(0x0a);
    out.utf8(v);
  } else if (typeof v === 'boolean') {
    out.byte(0x38);
    out.byte(v ? 1 : 0);
  } else if (Number.isSafeInteger(v)) {
    if (v >= 0) {
      out.byte(0x28);
      out.varint(v);
    } else {
      out.byte(0x30);
      out.varint(-2 * v - 1);
    }
  } else {
    out.byte(0x19);
    out.double(v);
  }
}

/**
 * Distinct attribute values, deduplicated by their encoded bytes (so 1 and "1" stay apart and
 * 1.0 and 1 do not) in an open-addressing table over typed arrays: a JS Map of a million strings
 * spent most of the build in hashing and growing, and its garbage in the collector.
 */
class ValueDictionary {
  readonly bytes = new Bytes();
  readonly starts = new U32();
  readonly hashes = new U32();
  /** Pairs (value number, hash); -1 marks an empty slot. The hash beside the number saves a cache miss per probe. */
  table = new Int32Array(2 << 12).fill(-1);

  constructor() {
    this.starts.push(0);
  }

  get size(): number {
    return this.hashes.n;
  }

  /** The value's number, adding it when new. */
  add(v: Scalar): number {
    const out = this.bytes;
    const mark = out.n;
    encodeValue(out, v);
    const end = out.n;
    const a = out.a;
    let h = 0x811c9dc5; // FNV-1a
    for (let i = mark; i < end; i++) h = Math.imul(h ^ a[i]!, 0x01000193);
    h >>>= 0;
    const table = this.table, mask = (table.length >> 1) - 1, starts = this.starts.a;
    const hs = h | 0;
    let slot = h & mask;
    for (;;) {
      const id = table[2 * slot]!;
      if (id < 0) break;
      if (table[2 * slot + 1] === hs) {
        const s0 = starts[id]!, len = starts[id + 1]! - s0;
        if (len === end - mark) {
          let same = true;
          for (let i = 0; i < len; i++) if (a[s0 + i] !== a[mark + i]) { same = false; break; }
          if (same) {
            out.n = mark; // drop the duplicate just written
            return id;
          }
        }
      }
      slot = (slot + 1) & mask;
    }
    const id = this.hashes.n;
    table[2 * slot] = id;
    table[2 * slot + 1] = hs;
    this.hashes.push(h);
    this.starts.push(end);
    if (2 * this.hashes.n > table.length >> 1) this.#grow();
    return id;
  }

  #grow(): void {
    const table = new Int32Array(this.table.length * 2).fill(-1);
    const mask = (table.length >> 1) - 1, hashes = this.hashes.a;
    for (let id = 0; id < this.hashes.n; id++) {
      let slot = hashes[id]! & mask;
      while (table[2 * slot] !== -1) slot = (slot + 1) & mask;
      table[2 * slot] = id;
      table[2 * slot + 1] = hashes[id]! | 0;
    }
    this.table = table;
  }
}

function hilbert(x: number, y: number): number {
  // From flatbush (ISC, Vladimir Agafonkin), after Rawrunprotected's public-domain algorithm.
  let a = x ^ y;
  let b = 0xffff ^ a;
  let c = 0xffff ^ (x | y);
  let d = x & (y ^ 0xffff);
  let A = a | (b >> 1);
  let B = (a >> 1) ^ a;
  let C = c ^ ((c >> 1) ^ (b & (d >> 1)));
  let D = d ^ ((a & (c >> 1)) ^ (d >> 1));
  a = (A & (A >> 2)) ^ (B & (B >> 2));
  b = (A & (B >> 2)) ^ (B & ((A ^ B) >> 2));
  c = C ^ ((A & (C >> 2)) ^ (B & (D >> 2)));
  d = D ^ ((B & (C >> 2)) ^ ((A ^ B) & (D >> 2)));
  A = (a & (a >> 4)) ^ (b & (b >> 4));
  B = (a & (b >> 4)) ^ (b & ((a ^ b) >> 4));
  C = c ^ ((a & (c >> 4)) ^ (b & (d >> 4)));
  D = d ^ ((b & (c >> 4)) ^ ((a ^ b) & (d >> 4)));
  c = C ^ ((A & (C >> 8)) ^ (B & (D >> 8)));
  d = D ^ ((B & (C >> 8)) ^ ((A ^ B) & (D >> 8)));
  c ^= c >> 1;
  d ^= d >> 1;
  a = x ^ y;
  b = d | (0xffff ^ (a | c));
  a = (a | (a << 8)) & 0x00ff00ff;
  a = (a | (a << 4)) & 0x0f0f0f0f;
  a = (a | (a << 2)) & 0x33333333;
  a = (a | (a << 1)) & 0x55555555;
  b = (b | (b << 8)) & 0x00ff00ff;
  b = (b | (b << 4)) & 0x0f0f0f0f;
  b = (b | (b << 2)) & 0x33333333;
  b = (b | (b << 1)) & 0x55555555;
  return ((b << 1) | a) >>> 0;
}

/**
 * Builds a layer's index one version at a time, in any order: items are re-sorted in Hilbert order
 * of their box centres at finish(), so input order costs nothing. Feed it pages of database rows as
 * they arrive; only typed arrays and the value dictionary are kept. Versions it cannot index are
 * counted in `skipped`, not thrown.
 */
export class FeatureIndexBuilder {
  readonly #idProperty: string | null;
  readonly #skipped: IndexSkips = { noGeometry: 0, badCoordinates: 0, emptyValidity: 0 };
  #finished = false;

  // Input order, re-sorted at finish.
  readonly #kinds = new Bytes();
  readonly #itemRings = new U32();
  readonly #ringStarts = new U32();
  readonly #ringExterior = new Bytes();
  readonly #coords = new F64();
  readonly #boxes = new F64();
  readonly #validFrom = new F64();
  readonly #validTo = new F64();
  readonly #numericIds = new F64();
  readonly #itemProps = new U32();
  readonly #props = new U32();

  readonly #keyNumbers = new Map<string, number>();
  readonly #keyNames: string[] = [];
  readonly #values = new ValueDictionary();
  readonly #boundaries = new Set<number>();
  readonly #idKey: number;

  // The version being read.
  #minX = 0; #minY = 0; #maxX = 0; #maxY = 0; #bad = false;

  constructor(options: FeatureIndexOptions = {}) {
    this.#idProperty = options.idProperty === undefined ? 'feature_id' : options.idProperty;
    this.#itemRings.push(0);
    this.#ringStarts.push(0);
    this.#itemProps.push(0);
    this.#idKey = this.#idProperty === null ? -1 : this.#keyOf(this.#idProperty);
  }

  /** Versions added so far that will be indexed. */
  get size(): number {
    return this.#validFrom.n;
  }

  add(v: TileFeatureVersion): void {
    if (this.#finished) throw new Error('FeatureIndexBuilder: add() after finish(); start a new builder');
    const g = v.geometry;
    const to = v.validTo ?? Infinity;
    if (!Number.isFinite(v.validFrom) || !(to > v.validFrom)) {
      this.#skipped.emptyValidity++;
      return;
    }
    if (!g || g.type === 'GeometryCollection') {
      this.#skipped.noGeometry++;
      return;
    }
    const markCoords = this.#coords.n, markRings = this.#ringStarts.n, markExterior = this.#ringExterior.n;
    this.#minX = Infinity; this.#minY = Infinity; this.#maxX = -Infinity; this.#maxY = -Infinity; this.#bad = false;
    let kind: GeomKind;
    switch (g.type) {
      case 'Point':
        kind = POINT;
        this.#ring([g.coordinates], false, false);
        break;
      case 'MultiPoint':
        kind = POINT;
        if (g.coordinates.length) this.#ring(g.coordinates, false, false);
        break;
      case 'LineString':
        kind = LINE;
        if (g.coordinates.length) this.#ring(g.coordinates, false, false);
        break;
      case 'MultiLineString':
        kind = LINE;
        for (const l of g.coordinates) if (l.length) this.#ring(l, false, false);
        break;
      case 'Polygon':
        kind = POLYGON;
        this.#polygon(g.coordinates);
        break;
      case 'MultiPolygon':
        kind = POLYGON;
        for (const p of g.coordinates) this.#polygon(p);
        break;
      default:
        kind = POINT;
        this.#bad = true;
    }
    if (this.#bad || this.#ringStarts.n === markRings) {
      // Roll back what this version wrote.
      this.#coords.n = markCoords;
      this.#ringStarts.n = markRings;
      this.#ringExterior.n = markExterior;
      if (this.#bad) this.#skipped.badCoordinates++;
      else this.#skipped.noGeometry++;
      return;
    }
    this.#kinds.byte(kind);
    this.#itemRings.push(this.#ringStarts.n - 1);
    const boxes = this.#boxes;
    boxes.push(this.#minX); boxes.push(this.#minY); boxes.push(this.#maxX); boxes.push(this.#maxY);
    this.#validFrom.push(v.validFrom);
    this.#validTo.push(to);
    this.#boundaries.add(v.validFrom);
    if (to !== Infinity) this.#boundaries.add(to);
    this.#numericIds.push(NUMERIC_ID.test(v.featureId) && Number(v.featureId) <= Number.MAX_SAFE_INTEGER ? Number(v.featureId) : -1);
    const props = this.#props;
    if (this.#idKey >= 0) {
      props.push(this.#idKey);
      props.push(this.#values.add(v.featureId));
    }
    const attrs = v.attributes;
    if (attrs) {
      for (const k in attrs) {
        if (k === this.#idProperty || !Object.hasOwn(attrs, k)) continue;
        const s = scalarOf(attrs[k]);
        if (s === undefined) continue;
        props.push(this.#keyOf(k));
        props.push(this.#values.add(s));
      }
    }
    this.#itemProps.push(props.n / 2);
  }

  #keyOf(k: string): number {
    let n = this.#keyNumbers.get(k);
    if (n === undefined) {
      n = this.#keyNames.length;
      this.#keyNumbers.set(k, n);
      this.#keyNames.push(k);
    }
    return n;
  }

  #vertex(p: Position): void {
    const lon = p[0], lat = p[1];
    if (typeof lon !== 'number' || typeof lat !== 'number' || !Number.isFinite(lon) || !Number.isFinite(lat)) {
      this.#bad = true;
      return;
    }
    const x = lonToX(lon), y = latToY(lat);
    this.#coords.push(x);
    this.#coords.push(y);
    if (x < this.#minX) this.#minX = x;
    if (x > this.#maxX) this.#maxX = x;
    if (y < this.#minY) this.#minY = y;
    if (y > this.#maxY) this.#maxY = y;
  }

  #ring(positions: Position[], closed: boolean, exterior: boolean): void {
    for (let i = 0; i < positions.length; i++) this.#vertex(positions[i]!);
    if (closed) {
      const first = positions[0]!, last = positions[positions.length - 1]!;
      if (first[0] !== last[0] || first[1] !== last[1]) this.#vertex(first);
    }
    this.#ringStarts.push(this.#coords.n / 2);
    this.#ringExterior.byte(exterior ? 1 : 0);
  }

  #polygon(rings: Position[][]): void {
    if (!rings.length || !rings[0]!.length) return;
    let first = true;
    for (const r of rings) {
      if (!r.length) continue;
      this.#ring(r, true, first);
      first = false;
    }
  }

  /** The index. The builder cannot be used afterwards (its arrays are handed over or dropped). */
  finish(): FeatureIndex {
    if (this.#finished) throw new Error('FeatureIndexBuilder: finish() called twice');
    this.#finished = true;
    return finishIndex({
      skipped: this.#skipped, kinds: this.#kinds, itemRings: this.#itemRings, ringStarts: this.#ringStarts,
      ringExterior: this.#ringExterior, coords: this.#coords, boxes: this.#boxes, validFrom: this.#validFrom,
      validTo: this.#validTo, numericIds: this.#numericIds, itemProps: this.#itemProps, props: this.#props,
      keyNames: this.#keyNames, idKey: this.#idKey, values: this.#values.bytes, valueStarts: this.#values.starts,
      boundaries: this.#boundaries,
    });
  }
}

/** Builds an index from an iterable of versions in one go (see FeatureIndexBuilder). */
export function buildFeatureIndex(versions: Iterable<TileFeatureVersion>, options: FeatureIndexOptions = {}): FeatureIndex {
  const builder = new FeatureIndexBuilder(options);
  for (const v of versions) builder.add(v);
  return builder.finish();
}

interface Collected {
  skipped: IndexSkips;
  kinds: Bytes;
  itemRings: U32;
  ringStarts: U32;
  ringExterior: Bytes;
  coords: F64;
  boxes: F64;
  validFrom: F64;
  validTo: F64;
  numericIds: F64;
  itemProps: U32;
  props: U32;
  keyNames: string[];
  idKey: number;
  values: Bytes;
  valueStarts: U32;
  boundaries: Set<number>;
}

function finishIndex(c: Collected): FeatureIndex {
  const { skipped, keyNames, idKey, ringStarts, ringExterior, coords, itemRings, itemProps, props, values, valueStarts } = c;
  const n = c.validFrom.n;
  const boundaries = Float64Array.from(c.boundaries).sort();
  const valueBytes = values.a.subarray(0, values.n);
  const valueStartsArr = valueStarts.a;
  const keyBytes = keyNames.map((k) => encoder.encode(k));
  if (n === 0) {
    return new FeatureIndex({
      size: 0, skipped, kinds: new Uint8Array(0), itemRings: new Uint32Array(1), ringStarts: new Uint32Array(1),
      ringExterior: new Uint8Array(0), coords: new Float64Array(0), boxes: new Float64Array(0), validFrom: new Float64Array(0),
      validTo: new Float64Array(0), numericIds: new Float64Array(0), itemProps: new Uint32Array(1), props: new Uint32Array(0),
      keyBytes, keyNames, idKey, valueBytes: valueBytes.slice(), valueStarts: valueStarts.done(), boundaries, tree: null,
    });
  }

  // Hilbert order of box centres over the layer's extent, so a tile's features sit together in memory.
  const bx = c.boxes.a;
  let eMinX = Infinity, eMinY = Infinity, eMaxX = -Infinity, eMaxY = -Infinity;
  for (let i = 0; i < n; i++) {
    if (bx[4 * i]! < eMinX) eMinX = bx[4 * i]!;
    if (bx[4 * i + 1]! < eMinY) eMinY = bx[4 * i + 1]!;
    if (bx[4 * i + 2]! > eMaxX) eMaxX = bx[4 * i + 2]!;
    if (bx[4 * i + 3]! > eMaxY) eMaxY = bx[4 * i + 3]!;
  }
  const sx = 0xffff / ((eMaxX - eMinX) || 1);
  const sy = 0xffff / ((eMaxY - eMinY) || 1);
  const order = new Uint32Array(n);
  if (n < 2 ** 21) {
    // hilbert · 2^21 + i is exact in a double (32 + 21 bits): one native numeric sort, no comparator.
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const h = hilbert((sx * ((bx[4 * i]! + bx[4 * i + 2]!) / 2 - eMinX)) | 0, (sy * ((bx[4 * i + 1]! + bx[4 * i + 3]!) / 2 - eMinY)) | 0);
      keys[i] = h * 2 ** 21 + i;
    }
    keys.sort();
    for (let i = 0; i < n; i++) order[i] = keys[i]! % 2 ** 21;
  } else {
    const h = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      h[i] = hilbert((sx * ((bx[4 * i]! + bx[4 * i + 2]!) / 2 - eMinX)) | 0, (sy * ((bx[4 * i + 1]! + bx[4 * i + 3]!) / 2 - eMinY)) | 0);
      order[i] = i;
    }
    order.sort((a, b) => h[a]! - h[b]! || a - b);
  }

  // Permute everything into that order.
  const oKinds = new Uint8Array(n);
  const oItemRings = new Uint32Array(n + 1);
  const oRingStarts = new Uint32Array(ringStarts.n);
  const oRingExterior = new Uint8Array(ringExterior.n);
  const oCoords = new Float64Array(coords.n);
  const oBoxes = new Float64Array(4 * n);
  const oFrom = new Float64Array(n);
  const oTo = new Float64Array(n);
  const oIds = new Float64Array(n);
  const oItemProps = new Uint32Array(n + 1);
  const oProps = new Uint32Array(props.n);
  const rs = ringStarts.a, ir = itemRings.a, ip = itemProps.a, pa = props.a, ca = coords.a;
  let ringOut = 0, vertexOut = 0, propOut = 0;
  const valueRenumber = new Int32Array(valueStarts.n - 1).fill(-1);
  let nextValue = 0;
  const tree = new Flatbush(n);
  for (let j = 0; j < n; j++) {
    const i = order[j]!;
    oKinds[j] = c.kinds.a[i]!;
    for (let r = ir[i]!; r < ir[i + 1]!; r++) {
      const v0 = rs[r]!, v1 = rs[r + 1]!;
      for (let k = 2 * v0, o = 2 * vertexOut; k < 2 * v1; k++, o++) oCoords[o] = ca[k]!;
      vertexOut += v1 - v0;
      oRingExterior[ringOut] = ringExterior.a[r]!;
      oRingStarts[++ringOut] = vertexOut;
    }
    oItemRings[j + 1] = ringOut;
    for (let k = 0; k < 4; k++) oBoxes[4 * j + k] = bx[4 * i + k]!;
    oFrom[j] = c.validFrom.a[i]!;
    oTo[j] = c.validTo.a[i]!;
    oIds[j] = c.numericIds.a[i]!;
    // Values are renumbered in order of first use, so that a tile's values sit together in
    // valueBytes (one tile's encoding then reads a few cache lines, not the whole dictionary).
    for (let p = ip[i]!; p < ip[i + 1]!; p++, propOut++) {
      oProps[2 * propOut] = pa[2 * p]!;
      const v = pa[2 * p + 1]!;
      let nv = valueRenumber[v]!;
      if (nv < 0) nv = valueRenumber[v] = nextValue++;
      oProps[2 * propOut + 1] = nv;
    }
    oItemProps[j + 1] = propOut;
    tree.add(oBoxes[4 * j]!, oBoxes[4 * j + 1]!, oBoxes[4 * j + 2]!, oBoxes[4 * j + 3]!);
  }
  tree.finish();

  // Every value was added for an indexed version, so all are renumbered; unused ones would be dropped.
  const oValueStarts = new Uint32Array(nextValue + 1);
  const oValueBytes = new Uint8Array(valueBytes.length);
  const byNew = new Uint32Array(nextValue);
  for (let v = 0; v < valueRenumber.length; v++) if (valueRenumber[v]! >= 0) byNew[valueRenumber[v]!] = v;
  for (let nv = 0, at = 0; nv < byNew.length; nv++) {
    const v = byNew[nv]!;
    const s0 = valueStartsArr[v]!, s1 = valueStartsArr[v + 1]!;
    for (let k = s0; k < s1; k++) oValueBytes[at++] = valueBytes[k]!;
    oValueStarts[nv + 1] = at;
  }

  return new FeatureIndex({
    size: n, skipped, kinds: oKinds, itemRings: oItemRings, ringStarts: oRingStarts, ringExterior: oRingExterior,
    coords: oCoords, boxes: oBoxes, validFrom: oFrom, validTo: oTo, numericIds: oIds, itemProps: oItemProps, props: oProps,
    keyBytes, keyNames, idKey, valueBytes: oValueBytes.slice(0, oValueStarts[nextValue]), valueStarts: oValueStarts, boundaries, tree,
  });
}
