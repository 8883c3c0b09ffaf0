import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Layer } from '../store/layers.ts';
import type { Domain } from '../store/layer-meta.ts';
import type { ChangeFeed } from '../store/changes.ts';
import type { LayerCatalog } from '../store/layer-catalog.ts';
import { AssetIndexBuilder, type AssetHit, type AssetIndex } from './asset-index.ts';

/**
 * Nearest assets over the store: one AssetIndex per layer holding the layer's current versions,
 * built from one snapshot at start-up (`warm`) and again when the layer's revision moves on, as
 * the tile service does with its indexes. A query runs in memory over the layers asked for and
 * merges their answers.
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
  revision: number;
  index: Promise<AssetIndex>;
  built?: { features: number; memoryBytes: number; ms: number };
}

export class AssetService {
  readonly #db: Kysely<Database>;
  readonly #log: Log | undefined;
  readonly #pageSize: number;
  readonly #states = new Map<string, LayerState>();
  /** Builds run one at a time: each holds a connection (on PGlite, the only one) for its snapshot. */
  #builds: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(db: Kysely<Database>, options: { log?: Log; pageSize?: number } = {}) {
    this.#db = db;
    this.#log = options.log;
    this.#pageSize = options.pageSize ?? 20_000;
  }

  /** The layer's index at the catalog's revision, built (once, shared by concurrent requests) when missing or stale. */
  index(layer: Layer): Promise<AssetIndex> {
    const existing = this.#states.get(layer.id);
    if (existing && existing.revision >= layer.revision) return existing.index;
    const started = performance.now();
    const building = this.#builds.catch(() => undefined).then(() => {
      if (this.#closed) throw new Error('the asset service is closed');
      return loadAssetIndex(this.#db, layer.id, this.#pageSize);
    });
    this.#builds = building;
    const state: LayerState = { revision: layer.revision, index: building.then((b) => b.index) };
    this.#states.set(layer.id, state);
    building.then((b) => {
      state.built = { features: b.index.size, memoryBytes: b.index.memoryBytes(), ms: performance.now() - started };
      // The snapshot may already be newer than the catalog said; remember what it holds.
      state.revision = Math.max(state.revision, b.revision);
      this.#log?.info({ layer: layer.id, revision: state.revision, features: b.index.size, skipped: b.index.skipped, ms: Math.round(state.built.ms) }, 'asset index built');
    }, () => {
      if (this.#states.get(layer.id) === state) this.#states.delete(layer.id);
    });
    return state.index;
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
      if (change.kind === 'keys' || this.#closed) return;
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

  /** The k nearest assets over `layers`, nearest first. */
  async nearest(layers: readonly Layer[], lon: number, lat: number, query: NearestAssetsQuery): Promise<NearestAssetsAnswer> {
    const indexes = await Promise.all(layers.map((l) => this.index(l)));
    const seenTypes = new Set<string>();
    let merged: NearestAsset[] = [];
    let bound = query.maxDistance ?? Infinity;
    for (let i = 0; i < layers.length; i++) {
      const index = indexes[i]!;
      const types = query.types ? index.typeMask(query.types) : null;
      if (types) for (const t of types.found) seenTypes.add(t);
      // A layer can only contribute what is nearer than the k-th found so far.
      const hits = index.nearest(lon, lat, { k: query.k, maxDistance: bound, types });
      if (hits.length === 0) continue;
      merged = merged.concat(hits.map((hit) => ({ layer: layers[i]!, index, hit })));
      merged.sort((a, b) => a.hit.distance - b.hit.distance);
      if (merged.length >= query.k) {
        merged.length = query.k;
        bound = Math.min(bound, merged[query.k - 1]!.hit.distance);
      }
    }
    return { assets: merged, unknownTypes: (query.types ?? []).filter((t) => !seenTypes.has(t)) };
  }

  stats(): Array<{ id: string; revision: number; features?: number; memoryBytes?: number; buildMs?: number }> {
    return [...this.#states].map(([id, s]) => ({ id, revision: s.revision, features: s.built?.features, memoryBytes: s.built?.memoryBytes, buildMs: s.built?.ms }));
  }

  /** Waits for the build in progress (so that the store can be closed after) and starts no other. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#builds.catch(() => undefined);
  }
}

/**
 * Reads the current version of every feature of a layer from one snapshot (a concurrent import
 * is either all in or all out), a page at a time by version id, straight into the builder.
 * Nine decimals of a degree (0.1 mm) keep the distances as PostGIS measures them.
 */
export async function loadAssetIndex(db: Kysely<Database>, layerId: string, pageSize = 20_000): Promise<{ index: AssetIndex; revision: number }> {
  return db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
    const { rows: layerRows } = await sql<{ revision: number }>`select revision::int as revision from layer where id = ${layerId}`.execute(trx);
    const builder = new AssetIndexBuilder();
    let last = 0;
    for (;;) {
      const { rows } = await sql<{ v: string; id: string; g: string | null; a: string }>`
        select version_id as v, feature_id as id, st_asgeojson(geom, 9, 0) as g, attributes::text as a
        from feature_version where layer_id = ${layerId} and valid_to is null and version_id > ${last}
        order by version_id limit ${pageSize}`.execute(trx);
      for (const r of rows) builder.add(r.id, r.g ? JSON.parse(r.g) : null, JSON.parse(r.a));
      if (rows.length < pageSize) break;
      last = Number(rows[rows.length - 1]!.v);
    }
    return { index: builder.finish(), revision: layerRows[0]?.revision ?? 0 };
  });
}
