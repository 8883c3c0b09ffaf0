import { PbfWriter } from 'pbf';
import { POINT, type FeatureIndex } from './feature-index.ts';
import type { LayerTileConfig } from './layer-tile-config.ts';
import { writeLayer, type PreparedLayer } from './mvt-encode.ts';
import { CommandBuffer, tileFrame, writeItemGeometry } from './tile-geometry.ts';
import { validateTile } from './tile-math.ts';

/**
 * cutTile: one vector tile (one layer or a composite) for an instant, straight from the layers'
 * in-memory indexes. No database, no HTTP: the caller owns both.
 */

export interface TileLayerRequest {
  /** The MVT layer name; unique within a request. */
  readonly name: string;
  readonly index: FeatureIndex;
  readonly config: LayerTileConfig;
  /**
   * Attributes to include; undefined includes all, [] none. The id property is always included.
   * Names no version has are ignored (the caller validates names against the catalog).
   */
  readonly properties?: readonly string[];
}

export interface TileDegradation {
  /** Tolerance used, as a multiple of max(config.simplify, 1); 1 when only features were dropped. */
  readonly simplifyFactor: number;
  /** Features left out to fit the budget, all layers together. */
  readonly droppedFeatures: number;
}

export interface CutTileResult {
  /**
   * The encoded tile. Zero-length when no layer has a feature in it: the HTTP layer should answer
   * 204 No Content (what Martin and pg_tileserv do), and caches can keep it like any tile.
   */
  readonly bytes: Uint8Array;
  /** Features written per requested layer, 0 for layers outside their zoom range. */
  readonly featureCounts: Readonly<Record<string, number>>;
  /** True when the tile would have exceeded the size budget and was simplified harder or thinned. */
  readonly degraded: boolean;
  readonly degradation: TileDegradation | null;
}

/** Thrown for requests that cannot be cut as asked (duplicate layer names, a NaN instant). */
export class TileRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TileRequestError';
  }
}

/**
 * Tolerance multiplier tried before features are dropped: 4 × 3 units is 1.5 px on a 512-px tile,
 * still drawn right; beyond that buildings collapse to triangles, which is worse than thinning.
 */
const DEGRADE_FACTOR = 4;

/** Bytes the geometry commands take, to judge whether simplifying could ever reach the budget. */
function geometryBytes(layer: PreparedLayer): number {
  const c = layer.cmds;
  const end = layer.count ? layer.cmdEnds[layer.count - 1]! : 0;
  let bytes = 0;
  for (let i = 0; i < end; i++) bytes += c[i]! < 0x80 ? 1 : c[i]! < 0x4000 ? 2 : 3;
  return bytes;
}

function allowedKeysOf(req: TileLayerRequest): Uint8Array | null {
  if (req.properties === undefined) return null;
  const allowed = new Uint8Array(req.index.keyNames.length);
  if (req.index.idKey >= 0) allowed[req.index.idKey] = 1;
  for (const name of req.properties) {
    const k = req.index.keyNumber(name);
    if (k >= 0) allowed[k] = 1;
  }
  return allowed;
}

function inZoom(config: LayerTileConfig, z: number): boolean {
  return z >= config.minZoom && z <= config.maxZoom;
}

/**
 * Per-layer working arrays, reused from tile to tile (cutting is synchronous and nothing here
 * escapes into the result): allocating them per tile put megabytes per second through the
 * collector, which showed as latency spikes on the large tiles.
 */
interface LayerScratch {
  cmds: CommandBuffer;
  items: Uint32Array;
  types: Uint8Array;
  cmdEnds: Uint32Array;
  featureBytes: Uint32Array;
}

const scratch: LayerScratch[] = [];

function scratchFor(slot: number, n: number): LayerScratch {
  let s = scratch[slot];
  if (s === undefined) {
    s = { cmds: new CommandBuffer(), items: new Uint32Array(1024), types: new Uint8Array(1024), cmdEnds: new Uint32Array(1024), featureBytes: new Uint32Array(1024) };
    scratch[slot] = s;
  }
  if (s.items.length < n) {
    const len = Math.max(n, 2 * s.items.length);
    s.items = new Uint32Array(len);
    s.types = new Uint8Array(len);
    s.cmdEnds = new Uint32Array(len);
    s.featureBytes = new Uint32Array(len);
  }
  s.cmds.n = 0;
  return s;
}

const EMPTY = { items: new Uint32Array(0), types: new Uint8Array(0), cmdEnds: new Uint32Array(0), cmds: new Uint32Array(0) };

function prepareLayer(req: TileLayerRequest, slot: number, z: number, x: number, y: number, atMs: number, factor: number): PreparedLayer {
  const { index, config } = req;
  if (!inZoom(config, z) || index.size === 0) return { name: req.name, index, allowedKeys: null, count: 0, ...EMPTY };
  const full = z >= config.maxZoom;
  const tolerance = factor > 1 ? Math.max(config.simplify, 1) * factor : full ? 0 : config.simplify;
  const minSize = full ? 0 : config.minFeatureSize;
  const frame = tileFrame(z, x, y, config.buffer, tolerance, minSize);
  const s = frame.scale;
  const candidates = index.query(
    (frame.originX + frame.min) / s, (frame.originY + frame.min) / s,
    (frame.originX + frame.max) / s, (frame.originY + frame.max) / s,
    atMs, minSize / s,
  );
  const n = candidates.length;
  const work = scratchFor(slot, n);
  const { items, types, cmdEnds, cmds } = work;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const item = candidates[i]!;
    const type = writeItemGeometry(index, item, frame, cmds);
    if (type === 0) continue;
    items[count] = item;
    types[count] = type;
    cmdEnds[count] = cmds.n;
    count++;
  }
  return { name: req.name, index, allowedKeys: allowedKeysOf(req), count, items, types, cmdEnds, cmds: cmds.a };
}

interface Encoded {
  bytes: Uint8Array;
  counts: number[];
}

// One write buffer for the process, grown as tiles need and reused (cutting is synchronous): a
// fresh writer would double its way up to a large tile, copying each time.
let writeBuffer = new Uint8Array(1 << 20);

function encode(layers: readonly PreparedLayer[], include: (Uint8Array | null)[] | null, featureBytes: Uint32Array[] | null): Encoded {
  const pbf = new PbfWriter(writeBuffer);
  const counts = layers.map((l, i) => writeLayer(pbf, l, include ? include[i]! : null, featureBytes ? featureBytes[i]! : null));
  // Keep the grown buffer unless it is huge (a runaway tile should not pin its memory).
  if (pbf.buf.length <= 1 << 24) writeBuffer = pbf.buf as Uint8Array<ArrayBuffer>;
  // A compact copy: the writer's buffer is larger than the tile, and caches should hold only the tile.
  return { bytes: pbf.buf.slice(0, pbf.pos), counts };
}

function countsOf(requests: readonly TileLayerRequest[], counts: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  requests.forEach((r, i) => { out[r.name] = counts[i]!; });
  return out;
}

/** A stable pseudo-random order among equals, so thinning is spread over the tile and the same across zooms. */
function hash(i: number): number {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Keeps each layer's largest features (box side; points all tie, so they are thinned evenly) whose
 * encoded bytes add up to `ratio` of the layer's feature bytes.
 */
function thin(layer: PreparedLayer, featureBytes: Uint32Array, order: Uint32Array, ratio: number): Uint8Array {
  let total = 0;
  for (let k = 0; k < layer.count; k++) total += featureBytes[k]!;
  const target = total * ratio;
  const include = new Uint8Array(layer.count);
  let sum = 0;
  for (const k of order) {
    if (sum + featureBytes[k]! > target) break;
    sum += featureBytes[k]!;
    include[k] = 1;
  }
  return include;
}

function rank(layer: PreparedLayer): Uint32Array {
  const { index, items } = layer;
  const b = index.boxes;
  const size = new Float64Array(layer.count);
  const tie = new Uint32Array(layer.count);
  const order = new Uint32Array(layer.count);
  for (let k = 0; k < layer.count; k++) {
    const i = items[k]!;
    size[k] = index.kinds[i] === POINT ? 0 : Math.max(b[4 * i + 2]! - b[4 * i]!, b[4 * i + 3]! - b[4 * i + 1]!);
    tie[k] = hash(i);
    order[k] = k;
  }
  return order.sort((p, q) => size[q]! - size[p]! || tie[p]! - tie[q]!);
}

/**
 * Cuts tile z/x/y for the instant `atMs` (epoch ms; pass Date.now() for "now") with the given
 * layers, in the order given. Throws TileCoordinateError (→ 400) for a z/x/y that names no tile.
 *
 * A layer outside its [minZoom, maxZoom] contributes nothing. If the encoded tile exceeds the
 * smallest sizeBudget among the requested layers, it is cut again with 4× the simplification
 * (when geometry is big enough for that to matter), and if still too large each layer keeps its
 * largest features, in proportion to its share of the bytes, until the tile fits; `degraded`
 * reports it. (Should not even that fit, as with one feature larger than the budget, the tile comes
 * back empty and degraded.)
 *
 * Throws TileRequestError (→ 400) for duplicate or empty layer names and a NaN instant. Not
 * re-entrant (working buffers are shared), which synchronous JavaScript guarantees; each worker
 * thread has its own.
 */
export function cutTile(layers: readonly TileLayerRequest[], z: number, x: number, y: number, atMs: number): CutTileResult {
  const t = validateTile(z, x, y);
  if (Number.isNaN(atMs)) throw new TileRequestError('the instant is not a number; pass epoch milliseconds (Date.now() for now)');
  const names = new Set<string>();
  for (const l of layers) {
    if (l.name === '') throw new TileRequestError('a layer name is empty');
    if (names.has(l.name)) throw new TileRequestError(`layer "${l.name}" is requested twice; each layer may appear once in a tile`);
    names.add(l.name);
  }

  let prepared = layers.map((l, slot) => prepareLayer(l, slot, t.z, t.x, t.y, atMs, 1));
  // Each feature's encoded size is noted as it is written, for thinning should the tile be too big.
  const featureBytes = prepared.map((l, slot) => (l.count ? scratch[slot]!.featureBytes : new Uint32Array(0)));
  let encoded = encode(prepared, null, featureBytes);
  const budget = Math.min(...layers.map((l) => (inZoom(l.config, t.z) ? l.config.sizeBudget : Infinity)));
  if (encoded.bytes.length <= budget) {
    return { bytes: encoded.bytes, featureCounts: countsOf(layers, encoded.counts), degraded: false, degradation: null };
  }

  const before = encoded.counts.reduce((a, b) => a + b, 0);
  const overshoot = encoded.bytes.length - budget;
  let factor = 1;
  // Simplifying can only help when the geometry is more than the overshoot (point layers, and tiles
  // that are big because of their attributes, go straight to thinning).
  if (prepared.reduce((sum, l) => sum + geometryBytes(l), 0) > overshoot) {
    factor = DEGRADE_FACTOR;
    prepared = layers.map((l, slot) => prepareLayer(l, slot, t.z, t.x, t.y, atMs, factor));
    for (let slot = 0; slot < prepared.length; slot++) featureBytes[slot] = prepared[slot]!.count ? scratch[slot]!.featureBytes : new Uint32Array(0);
    encoded = encode(prepared, null, featureBytes);
    if (encoded.bytes.length <= budget) {
      const after = encoded.counts.reduce((a, b) => a + b, 0);
      return {
        bytes: encoded.bytes, featureCounts: countsOf(layers, encoded.counts), degraded: true,
        degradation: { simplifyFactor: factor, droppedFeatures: before - after },
      };
    }
  }

  // Thin: keep a shrinking share of each layer's bytes until the tile fits.
  const orders = prepared.map(rank);
  let ratio = (0.95 * budget) / encoded.bytes.length;
  for (let attempt = 0; attempt < 40; attempt++) {
    const include = prepared.map((l, i) => thin(l, featureBytes[i]!, orders[i]!, ratio));
    encoded = encode(prepared, include, null);
    if (encoded.bytes.length <= budget) break;
    ratio *= Math.min(0.9, (0.95 * budget) / encoded.bytes.length);
  }
  if (encoded.bytes.length > budget) encoded = { bytes: new Uint8Array(0), counts: layers.map(() => 0) };
  const after = encoded.counts.reduce((a, b) => a + b, 0);
  return {
    bytes: encoded.bytes, featureCounts: countsOf(layers, encoded.counts), degraded: true,
    degradation: { simplifyFactor: factor, droppedFeatures: before - after },
  };
}

const fingerprints = new WeakMap<LayerTileConfig, string>();

function fingerprint(config: LayerTileConfig): string {
  let f = fingerprints.get(config);
  if (f === undefined) {
    f = [config.minZoom, config.maxZoom, config.simplify, config.minFeatureSize, config.buffer, config.sizeBudget].join(',');
    fingerprints.set(config, f);
  }
  return f;
}

/**
 * The cache key of the tile cutTile would cut for the same arguments: it names each layer's index
 * build (a rebuilt index never matches an old key) and its epoch at the instant (so every instant
 * with the same visible versions, such as successive "now"s, shares one entry).
 */
export function tileCacheKey(layers: readonly TileLayerRequest[], z: number, x: number, y: number, atMs: number): string {
  const parts: unknown[] = [z, x, y];
  for (const l of layers) {
    parts.push(l.name, l.index.id, l.index.epochAt(atMs), fingerprint(l.config), l.properties ? [...l.properties].sort() : null);
  }
  return JSON.stringify(parts);
}
