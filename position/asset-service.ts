import type { Kysely } from 'kysely';
import { scanLayer } from '../store/layer-scan.ts';
import type { Database } from '../store/schema.ts';
import type { Layer } from '../store/layers.ts';
import type { Domain } from '../store/layer-meta.ts';
import type { ChangeFeed } from '../store/changes.ts';
import type { LayerCatalog } from '../store/layer-catalog.ts';
import { AssetIndexBuilder, type AssetHit, type AssetIndex, type TypeMask } from './asset-index.ts';
import { AssetTree } from './asset-tree.ts';

/**
 * Nearest assets over the store: one AssetIndex per layer holding the layer's current versions,
 * built from one snapshot at start-up (`warm`) and again when the layer's revision moves on, as
 * the tile service does with its indexes.
 *
 * A request usually searches every pipeline and building layer at once. Searched tree by tree,
 * that costs a walk of each layer's tree; so once the asset layers' indexes are built, one
 * combined tree over all of them is built too (from memory, no query), and used whenever every
 * layer a request searches is in it at the same build. Until then, and for other layers, the
 * layers are searched one by one and the answers merged: the same answer, more slowly.
 */

/** The layers searched when a request names none: underground pipelines and buildings. */
export const ASSET_DOMAINS: readonly Domain[] = ['pipeline', 'building'];

export const isAssetLayer = (layer: Layer): boolean => ASSET_DOMAINS.includes(layer.domain);

export interface NearestAsset {
  layer: Layer;
  index: AssetIndex;
  hit: AssetHit;
}

export interface NearestAssetsQuery {
  k: number;
  /** Metres. */
  maxDistance?: number;
  /** Values of the type attributes (asset-index.ts DEFAULT_TYPE_ATTRIBUTES); absent means any. */
  types?: readonly string[];
}

export interface NearestAssetsAnswer {
  assets: NearestAsset[];
  /** Requested types that no asset of the searched layers has. */
  unknownTypes: string[];
}

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

interface LayerState {
  layer: Layer;
  revision: number;
  index: Promise<AssetIndex>;
  /** The index once built, for requests that need not wait. */
  ready?: AssetIndex;
  built?: { features: number; memoryBytes: number; ms: number };
}

interface Combined {
  tree: AssetTree;
  /** Member position of each layer id. */
  position: Map<string, number>;
  ms: number;
}

export class AssetService {
  readonly #db: Kysely<Database>;
  readonly #log: Log | undefined;
  readonly #pageSize: number;
  readonly #states = new Map<string, LayerState>();
  /** Builds run one at a time: each holds a connection (on PGlite, the only one) for its snapshot. */
  #builds: Promise<unknown> = Promise.resolve();
  #combined: Combined | undefined;
  #combineQueued = false;
  #closed = false;

  constructor(db: Kysely<Database>, options: { log?: Log; pageSize?: number } = {}) {
    this.#db = db;
    this.#log = options.log;
    this.#pageSize = options.pageSize ?? 20_000;
  }

  /** The layer's index at the catalog's revision, built (once, shared by concurrent requests) when missing or stale. */
  index(layer: Layer): Promise<AssetIndex> {
    return this.#state(layer).index;
  }

  #state(layer: Layer): LayerState {
    const existing = this.#states.get(layer.id);
    if (existing && existing.revision >= layer.revision) return existing;
    const started = performance.now();
    const building = this.#builds.catch(() => undefined).then(() => {
      if (this.#closed) throw new Error('the asset service is closed');
      return loadAssetIndex(this.#db, layer.id, this.#pageSize);
    });
    this.#builds = building;
    const state: LayerState = { layer, revision: layer.revision, index: building.then((b) => b.index) };
    this.#states.set(layer.id, state);
    building.then((b) => {
      state.ready = b.index;
      state.built = { features: b.index.size, memoryBytes: b.index.memoryBytes(), ms: performance.now() - started };
      // The snapshot may already be newer than the catalog said; remember what it holds.
      state.revision = Math.max(state.revision, b.revision);
      this.#log?.info({ layer: layer.id, revision: state.revision, features: b.index.size, skipped: b.index.skipped, ms: Math.round(state.built.ms) }, 'asset index built');
      if (isAssetLayer(layer)) this.#queueCombine();
    }, () => {
      if (this.#states.get(layer.id) === state) this.#states.delete(layer.id);
    });
    return state;
  }

  /** Starts building the indexes of the asset layers among `layers` (start-up); failures are logged, and retried by the next request. */
  warm(layers: Iterable<Layer>): void {
    for (const layer of layers) if (isAssetLayer(layer)) this.#prepare(layer);
  }

  #prepare(layer: Layer): void {
    this.index(layer).catch((err: unknown) => { if (!this.#closed) this.#log?.warn({ err, layer: layer.id }, 'asset index not built'); });
  }

  /**
   * Rebuilds an index as soon as its layer changes (an import, in this process or another), rather
   * than on the next request; a layer that is gone is forgotten.
   */
  follow(catalog: LayerCatalog, changes: ChangeFeed): void {
    changes.subscribe((change) => {
      if ((change.kind !== 'layer' && change.kind !== 'resync') || this.#closed) return;
      const ids = change.kind === 'layer' ? [change.layerId] : undefined;
      catalog.refresh(ids?.[0]).then(() => {
        for (const id of ids ?? [...new Set([...this.#states.keys(), ...catalog.all().map((l) => l.id)])]) {
          const layer = catalog.get(id);
          if (!layer) this.drop(id);
          else if (this.#states.has(id) || isAssetLayer(layer)) this.#prepare(layer);
        }
      }, () => undefined);
    });
  }

  drop(layerId: string): void {
    this.#states.delete(layerId);
  }

  /** The k nearest assets over `layers`, nearest first (waiting for an index being built). */
  async nearest(layers: readonly Layer[], lon: number, lat: number, query: NearestAssetsQuery): Promise<NearestAssetsAnswer> {
    const states = layers.map((l) => this.#state(l));
    if (states.every((s) => s.ready)) return this.#answer(layers, states.map((s) => s.ready!), lon, lat, query);
    return this.#answer(layers, await Promise.all(states.map((s) => s.index)), lon, lat, query);
  }

  /**
   * The same, without a promise, for callers in this process that cannot wait (a query costs
   * ~18 µs and an await a tenth of that): undefined while an index of `layers` is being built.
   */
  nearestNow(layers: readonly Layer[], lon: number, lat: number, query: NearestAssetsQuery): NearestAssetsAnswer | undefined {
    const indexes: AssetIndex[] = [];
    for (const layer of layers) {
      const ready = this.#state(layer).ready;
      if (!ready) return undefined;
      indexes.push(ready);
    }
    return this.#answer(layers, indexes, lon, lat, query);
  }

  #answer(layers: readonly Layer[], indexes: readonly AssetIndex[], lon: number, lat: number, query: NearestAssetsQuery): NearestAssetsAnswer {
    const masks = indexes.map((index) => (query.types ? index.typeMask(query.types) : null));
    const seen = new Set(masks.flatMap((m) => m?.found ?? []));
    const unknownTypes = (query.types ?? []).filter((t) => !seen.has(t));
    const maxDistance = query.maxDistance ?? Infinity;

    const combined = this.#combined;
    if (layers.length > 1 && combined && layers.every((l, i) => combined.tree.members[combined.position.get(l.id) ?? -1] === indexes[i])) {
      const memberMasks: Array<TypeMask | null | undefined> = new Array(combined.tree.members.length).fill(undefined);
      const layerOf: Layer[] = new Array(combined.tree.members.length);
      layers.forEach((l, i) => { const p = combined.position.get(l.id)!; memberMasks[p] = masks[i]; layerOf[p] = l; });
      const hits = combined.tree.nearest(lon, lat, { k: query.k, maxDistance, masks: memberMasks });
      return { assets: hits.map((h) => ({ layer: layerOf[h.member]!, index: combined.tree.members[h.member]!, hit: h.hit })), unknownTypes };
    }
    return { assets: nearestLayerByLayer(layers, indexes, masks, lon, lat, query.k, maxDistance), unknownTypes };
  }

  /** After the builds queued so far: one tree over every asset layer's current index. */
  #queueCombine(): void {
    if (this.#combineQueued) return;
    this.#combineQueued = true;
    this.#builds = this.#builds.catch(() => undefined).then(() => {
      this.#combineQueued = false;
      if (this.#closed) return;
      const members = [...this.#states.values()].filter((s) => s.ready && isAssetLayer(s.layer)).sort((a, b) => (a.layer.id < b.layer.id ? -1 : 1));
      const current = this.#combined;
      if (current && current.tree.members.length === members.length && members.every((s, i) => current.tree.members[i] === s.ready)) return;
      if (members.length < 2) { this.#combined = undefined; return; }
      const started = performance.now();
      const tree = new AssetTree(members.map((s) => s.ready!));
      this.#combined = { tree, position: new Map(members.map((s, i) => [s.layer.id, i])), ms: performance.now() - started };
      this.#log?.info({ layers: members.length, ms: Math.round(this.#combined.ms) }, 'combined asset tree built');
    });
  }

  stats(): { layers: Array<{ id: string; revision: number; features?: number; memoryBytes?: number; buildMs?: number }>; combined?: { layers: number; memoryBytes: number; buildMs: number } } {
    const c = this.#combined;
    return {
      layers: [...this.#states].map(([id, s]) => ({ id, revision: s.revision, features: s.built?.features, memoryBytes: s.built?.memoryBytes, buildMs: s.built?.ms })),
      ...(c ? { combined: { layers: c.tree.members.length, memoryBytes: c.tree.memoryBytes(), buildMs: c.ms } } : {}),
    };
  }

  /** Resolves once the builds queued so far (and the combined tree after them) are done. */
  async settled(): Promise<void> {
    for (let last: Promise<unknown> | undefined; last !== this.#builds;) {
      last = this.#builds;
      await last.catch(() => undefined);
    }
  }

  /** Waits for the build in progress (so that the store can be closed after) and starts no other. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.settled();
  }
}

/**
 * The k nearest over several layers searched one at a time, merged; a layer can only contribute
 * what is nearer than the k-th found so far. The same answer as one tree over them all.
 */
export function nearestLayerByLayer(layers: readonly Layer[], indexes: readonly AssetIndex[], masks: ReadonlyArray<TypeMask | null>, lon: number, lat: number, k: number, maxDistance = Infinity): NearestAsset[] {
  const merged: NearestAsset[] = [];
  let bound = maxDistance;
  for (let i = 0; i < layers.length; i++) {
    const hits = indexes[i]!.tree.nearest(lon, lat, { k, maxDistance: bound, masks: [masks[i]] });
    if (hits.length === 0) continue;
    for (const h of hits) merged.push({ layer: layers[i]!, index: indexes[i]!, hit: h.hit });
    merged.sort((a, b) => a.hit.distance - b.hit.distance);
    if (merged.length >= k) {
      merged.length = k;
      bound = Math.min(bound, merged[k - 1]!.hit.distance);
    }
  }
  return merged;
}

/**
 * Reads the current version of every feature of a layer from one snapshot (a concurrent import
 * is either all in or all out), a page at a time by version id, straight into the builder.
 * Nine decimals of a degree (0.1 mm) keep the distances as PostGIS measures them.
 */
export async function loadAssetIndex(db: Kysely<Database>, layerId: string, pageSize = 20_000): Promise<{ index: AssetIndex; revision: number }> {
  const builder = new AssetIndexBuilder();
  // Only what is in the ground now; nine decimals keep distances exact to the millimetre.
  const { revision } = await scanLayer(db, layerId, { currentOnly: true, decimals: 9, pageSize }, (v) => builder.add(v.featureId, v.geometry, v.attributes));
  return { index: builder.finish(), revision };
}
