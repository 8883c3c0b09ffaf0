import { sql, type Transaction } from 'kysely';
import type pg from 'pg';
import type { Geometry } from 'geojson';
import type { Database } from './schema.ts';
import { bumpRevision, partitionName } from './layers.ts';
import { toEwkbHex } from './ewkb.ts';
import { pgClientOf } from './db.ts';
import { BinaryCopy } from './copy-binary.ts';

export interface StagedRow {
  row: number;
  featureId: string;
  /** EPSG:4490; null for records awaiting a place (geocoding). */
  geometry: Geometry | null;
  attributes: Record<string, unknown>;
  /** This row's own start of validity, when the delivery carries one (e.g. a buried date). */
  validFrom?: Date | null;
}

export interface LoadRejection { row: number; field?: string; reason: string }

export interface LoadOutcome {
  inserted: number;
  updated: number;
  unchanged: number;
  retired: number;
  /** Rows PostGIS had to repair (ST_MakeValid), with the reason it gave. */
  repaired: LoadRejection[];
  /** Rows refused at this stage: unrepairable geometry, or a change dated before the current version. */
  rejected: LoadRejection[];
}

const BATCH = 5000;
/** The columns a COPY fills, in the order `#addCopy` writes them. */
const PARTITION_COLUMNS = ['layer_id', 'feature_id', 'geom', 'attributes', 'valid_from'];
const STAGE_COLUMNS = ['row_no', 'feature_id', 'geom', 'attributes', 'valid_from'];
/** Geometry types whose validity only PostGIS can judge (ring topology). */
const AREAL_TYPES = new Set(['Polygon', 'MultiPolygon', 'GeometryCollection']);

interface BeginOptions {
  /** The layer was created by this load and has no partition yet. */
  newLayer: boolean;
  /** The validity start of rows that carry none of their own. */
  validFrom: Date;
  /** The source row of a feature id, for messages about rows written without their number. */
  rowOf: (featureId: string) => number;
}

/**
 * A delivery's rows staged in a temporary table inside the caller's transaction, then versioned
 * against the layer in a few set-based statements: new features inserted, changed ones closed and
 * given one new version, unchanged ones untouched, and (snapshot) absent ones retired. The layer's
 * revision moves once. Nothing is visible to others until the caller commits.
 */
export class StagedLoad {
  #trx: Transaction<Database>;
  #layerId: string;
  /** Where rows go: the temporary stage, or (new layer) the layer's future partition itself. */
  #target: string;
  #newLayer: boolean;
  /** Rows already serialised: a row kept as objects until its batch is full outlives V8's young generation, and promoting 5,000 rows' arrays cost more GC than the whole encoding. */
  #pending: string[] = [];
  #areal = false;
  #inflight: Promise<void> = Promise.resolve();
  #validFrom: Date;
  #rowOfFeature: (featureId: string) => number;
  /** On PostgreSQL, rows stream by binary COPY through the transaction's own connection; PGlite takes the JSON path. */
  #copy: BinaryCopy | undefined;
  staged = 0;

  private constructor(trx: Transaction<Database>, layerId: string, target: string, options: BeginOptions, client: pg.PoolClient | undefined) {
    this.#trx = trx;
    this.#layerId = layerId;
    this.#target = target;
    this.#newLayer = options.newLayer;
    this.#validFrom = options.validFrom;
    this.#rowOfFeature = options.rowOf;
    if (client) this.#copy = new BinaryCopy(client, target, options.newLayer ? PARTITION_COLUMNS : STAGE_COLUMNS, { freeze: true });
  }

  /**
   * `newLayer`: the layer was just created without a partition. Every row is then new, so rows
   * are written straight into the partition's table, which is attached at the end: PostgreSQL
   * builds the btrees once over the whole table instead of maintaining them row by row.
   */
  static async begin(trx: Transaction<Database>, layerId: string, options: BeginOptions): Promise<StagedLoad> {
    const client = await pgClientOf(trx);
    if (options.newLayer) {
      const table = await partitionName(trx, layerId);
      const { rows } = await sql<{ seq: string }>`select pg_get_serial_sequence('feature_version', 'version_id') as seq`.execute(trx);
      await sql`create table ${sql.table(table)} (like feature_version including defaults including generated including constraints)`.execute(trx);
      // Version ids from the parent's identity sequence, as inserts through the parent would get
      // them; the check matches the partition bound, so that ATTACH need not scan the rows to prove it.
      await sql`alter table ${sql.table(table)} alter column version_id set default nextval(${sql.lit(rows[0]!.seq)}::regclass),
        add constraint ${sql.id(`${table}_bound`)} check (layer_id = ${sql.lit(layerId)})`.execute(trx);
      // The space-time index grows with the rows: PostgreSQL builds a GiST over (geom, validity) by
      // inserting tuple after tuple anyway (no sorted build for tstzrange), and during the load it
      // does so on its own core while this process reads the file (1.3 s at scale 10, against
      // 2.1 s in ATTACH after the load). ATTACH adopts it as the parent's index. The btrees are
      // cheaper built once from sorted rows, at ATTACH.
      await sql`create index on ${sql.table(table)} using gist (geom, validity)`.execute(trx);
      return new StagedLoad(trx, layerId, table, options, client);
    }
    await sql`create temporary table import_stage (
      row_no integer not null,
      feature_id text not null,
      geom geometry,
      attributes jsonb not null,
      valid_from timestamptz
    ) on commit drop`.execute(trx);
    return new StagedLoad(trx, layerId, 'import_stage', options, client);
  }

  /**
   * Returns a promise only when a batch is handed over (await it then); otherwise nothing, so
   * that the per-row path of a million-row load costs no await.
   */
  add(row: StagedRow): Promise<void> | undefined {
    if (!this.#areal && row.geometry && AREAL_TYPES.has(row.geometry.type)) this.#areal = true;
    if (this.#copy) return this.#addCopy(row, this.#copy);
    this.#pending.push(JSON.stringify([row.row, row.featureId, row.geometry ? toEwkbHex(row.geometry) : null, row.attributes, row.validFrom?.toISOString() ?? null]));
    if (this.#pending.length < BATCH) return undefined;
    const batch = this.#pending;
    this.#pending = [];
    // One batch in flight: the caller reads and converts the next while PostgreSQL writes this one.
    return this.#inflight.then(() => {
      this.#inflight = this.#write(batch);
      this.#inflight.catch(() => undefined);
    });
  }

  #addCopy(row: StagedRow, copy: BinaryCopy): Promise<void> | undefined {
    const rows = copy.rows;
    rows.row(5);
    if (this.#newLayer) rows.text(this.#layerId);
    else rows.int4(row.row);
    rows.text(row.featureId);
    if (row.geometry) rows.geometry(row.geometry);
    else rows.null();
    rows.jsonb(JSON.stringify(row.attributes));
    if (row.validFrom) rows.timestamptz(row.validFrom.getTime());
    else if (this.#newLayer) rows.timestamptz(this.#validFrom.getTime());
    else rows.null();
    return copy.rowDone();
  }

  /** Call when the load will not be finished (its transaction is about to roll back). */
  async abort(): Promise<void> {
    if (this.#copy) await this.#copy.abort('the import was abandoned');
    else await this.#inflight.catch(() => undefined);
  }

  async flush(): Promise<void> {
    if (this.#copy) {
      this.staged += await this.#copy.close();
      return;
    }
    await this.#inflight;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length > 0) await this.#write(batch);
  }

  /**
   * PGlite's path. One JSON document per batch, taken apart by jsonb_array_elements: measured twice as fast as
   * per-column arrays (whose escaping costs the pg driver dearly), and attributes arrive as jsonb
   * without a second parse. Geometry travels as hex EWKB, which PostGIS reads far faster than GeoJSON.
   */
  async #write(batch: string[]): Promise<void> {
    const doc = `[${batch.join(',')}]`;
    if (this.#newLayer) {
      await sql`insert into ${sql.table(this.#target)} (layer_id, feature_id, geom, attributes, valid_from)
        select ${this.#layerId}, e->>1, (e->>2)::geometry, e->3,
               coalesce((e->>4)::timestamptz, ${this.#validFrom.toISOString()}::timestamptz)
        from jsonb_array_elements(${doc}::jsonb) e`.execute(this.#trx);
    } else {
      await sql`insert into import_stage (row_no, feature_id, geom, attributes, valid_from)
        select (e->>0)::int, e->>1, (e->>2)::geometry, e->3, (e->>4)::timestamptz
        from jsonb_array_elements(${doc}::jsonb) e`.execute(this.#trx);
    }
    this.staged += batch.length;
  }

  async finish(options: { mode: 'upsert' | 'snapshot' }): Promise<LoadOutcome> {
    await this.flush();
    const trx = this.#trx;
    const layer = this.#layerId;
    const validFrom = this.#validFrom.toISOString();
    const target = sql.table(this.#target);
    // Rows of a new layer went to its table without row numbers; they are found by feature id.
    const rowNo = this.#newLayer ? sql`0` : sql`row_no`;

    // Invalid geometries are repaired keeping their dimension (a self-intersecting polygon stays
    // areal); what cannot be repaired is refused by row. Points and lines arrive valid (the
    // importer's checks), so only areal rows are asked: ST_IsValid over 180k lines cost 0.25 s.
    const repaired: LoadRejection[] = [];
    const rejected: LoadRejection[] = [];
    if (this.#areal) {
      const { rows: invalid } = await sql<{ row_no: number; feature_id: string; reason: string }>`
        select ${rowNo} as row_no, feature_id, st_isvalidreason(geom) as reason from ${target} where geom is not null and not st_isvalid(geom)`.execute(trx);
      for (const r of invalid) repaired.push({ row: this.#rowOf(r), field: 'geometry', reason: `repaired with ST_MakeValid: ${r.reason}` });
      if (invalid.length > 0) {
        await sql`update ${target} set geom = st_collectionextract(st_makevalid(geom), st_dimension(geom) + 1)
          where geom is not null and not st_isvalid(geom)`.execute(trx);
        const { rows: emptied } = await sql<{ row_no: number; feature_id: string }>`
          delete from ${target} where geom is not null and st_isempty(geom) returning ${rowNo} as row_no, feature_id`.execute(trx);
        for (const r of emptied) rejected.push({ row: this.#rowOf(r), field: 'geometry', reason: 'invalid geometry that could not be repaired (nothing of its dimension remains)' });
      }
    }

    if (this.#newLayer) {
      // Attaching builds the btrees of feature_version on the full table at once; sorting in
      // memory is what makes that fast (64 MB, the default, spills a scale-10 layer to disk).
      await sql`set local maintenance_work_mem = '256MB'`.execute(trx);
      await sql`alter table ${target} alter column version_id drop default`.execute(trx);
      await sql`alter table feature_version attach partition ${target} for values in (${sql.lit(layer)})`.execute(trx);
      await sql`alter table ${target} drop constraint ${sql.id(`${this.#target}_bound`)}`.execute(trx);
      await bumpRevision(trx, layer);
      // Every staged row is in the table but those refused above (all of `rejected` so far).
      return { inserted: this.staged - rejected.length, updated: 0, unchanged: 0, retired: 0, repaired, rejected };
    }

    await sql`create index on import_stage (feature_id)`.execute(trx);
    await sql`analyze import_stage`.execute(trx);
    await sql`create temporary table import_diff on commit drop as
      select s.feature_id, s.row_no, c.version_id, c.valid_from, coalesce(s.valid_from, ${validFrom}::timestamptz) as starts,
        case when c.version_id is null then 'new'
             when c.attributes = s.attributes and st_asewkb(c.geom) is not distinct from st_asewkb(s.geom) then 'unchanged'
             else 'changed' end as kind
      from import_stage s
      left join feature_version c on c.layer_id = ${layer} and c.feature_id = s.feature_id and c.valid_to is null`.execute(trx);

    // A change must start after the version it replaces; otherwise history would be rewritten.
    const { rows: late } = await sql<{ row_no: number; valid_from: Date }>`
      delete from import_diff where kind = 'changed' and valid_from >= starts returning row_no, valid_from, starts`.execute(trx);
    for (const r of late as Array<{ row_no: number; valid_from: Date; starts: Date }>) {
      rejected.push({ row: r.row_no, reason: `the feature's current version starts ${r.valid_from.toISOString()}, not before the change's ${r.starts.toISOString()} (--valid-from)` });
    }

    const { rows: counts } = await sql<{ kind: string; n: number }>`select kind, count(*)::int as n from import_diff group by kind`.execute(trx);
    const count = (k: string) => counts.find((c) => c.kind === k)?.n ?? 0;

    await sql`update feature_version f set valid_to = d.starts
      from import_diff d where d.kind = 'changed' and f.layer_id = ${layer} and f.version_id = d.version_id`.execute(trx);
    await sql`insert into feature_version (layer_id, feature_id, geom, attributes, valid_from)
      select ${layer}, s.feature_id, s.geom, s.attributes, d.starts
      from import_stage s join import_diff d on d.feature_id = s.feature_id
      where d.kind in ('new', 'changed')`.execute(trx);

    let retired = 0;
    if (options.mode === 'snapshot') {
      const r = await sql`update feature_version f set valid_to = ${validFrom}::timestamptz
        where f.layer_id = ${layer} and f.valid_to is null and f.valid_from < ${validFrom}::timestamptz
          and not exists (select 1 from import_stage s where s.feature_id = f.feature_id)`.execute(trx);
      retired = Number(r.numAffectedRows ?? 0);
    }
    // Dropped now rather than at commit: a caller may run several loads in one transaction.
    await sql`drop table import_diff, import_stage`.execute(trx);
    await bumpRevision(trx, layer);
    return { inserted: count('new'), updated: count('changed'), unchanged: count('unchanged'), retired, repaired, rejected };
  }

  #rowOf(r: { row_no: number; feature_id: string }): number {
    return this.#newLayer ? this.#rowOfFeature(r.feature_id) : r.row_no;
  }
}
