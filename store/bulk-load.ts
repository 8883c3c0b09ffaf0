import { sql, type Transaction } from 'kysely';
import type { Geometry } from 'geojson';
import type { Database } from './schema.ts';
import { bumpRevision } from './layers.ts';

export interface StagedRow {
  row: number;
  featureId: string;
  /** EPSG:4490; null for records awaiting a place (geocoding). */
  geometry: Geometry | null;
  attributes: Record<string, unknown>;
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

const BATCH = 1000;

/**
 * A delivery's rows staged in a temporary table inside the caller's transaction, then versioned
 * against the layer in a few set-based statements: new features inserted, changed ones closed and
 * given one new version, unchanged ones untouched, and (snapshot) absent ones retired. The layer's
 * revision moves once. Nothing is visible to others until the caller commits.
 */
export class StagedLoad {
  #trx: Transaction<Database>;
  #layerId: string;
  #pending: StagedRow[] = [];
  staged = 0;

  private constructor(trx: Transaction<Database>, layerId: string) {
    this.#trx = trx;
    this.#layerId = layerId;
  }

  static async begin(trx: Transaction<Database>, layerId: string): Promise<StagedLoad> {
    await sql`create temporary table import_stage (
      row_no integer not null,
      feature_id text not null primary key,
      geom geometry,
      attributes jsonb not null
    ) on commit drop`.execute(trx);
    return new StagedLoad(trx, layerId);
  }

  async add(row: StagedRow): Promise<void> {
    this.#pending.push(row);
    if (this.#pending.length >= BATCH) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const values = this.#pending.map((r) => sql`(${r.row}, ${r.featureId},
      st_setsrid(st_geomfromgeojson(${r.geometry ? JSON.stringify(r.geometry) : null}), 4490), ${JSON.stringify(r.attributes)}::jsonb)`);
    await sql`insert into import_stage (row_no, feature_id, geom, attributes) values ${sql.join(values)}`.execute(this.#trx);
    this.staged += this.#pending.length;
    this.#pending = [];
  }

  async finish(options: { mode: 'upsert' | 'snapshot'; validFrom: Date }): Promise<LoadOutcome> {
    await this.flush();
    const trx = this.#trx;
    const layer = this.#layerId;
    const validFrom = options.validFrom.toISOString();

    // Invalid geometries are repaired keeping their dimension (a self-intersecting polygon stays
    // areal); what cannot be repaired is refused by row.
    const { rows: invalid } = await sql<{ row_no: number; reason: string }>`
      select row_no, st_isvalidreason(geom) as reason from import_stage where geom is not null and not st_isvalid(geom)`.execute(trx);
    const repaired: LoadRejection[] = invalid.map((r) => ({ row: r.row_no, field: 'geometry', reason: `repaired with ST_MakeValid: ${r.reason}` }));
    if (invalid.length > 0) {
      await sql`update import_stage set geom = st_collectionextract(st_makevalid(geom), st_dimension(geom) + 1)
        where geom is not null and not st_isvalid(geom)`.execute(trx);
    }
    const { rows: emptied } = await sql<{ row_no: number }>`
      delete from import_stage where geom is not null and st_isempty(geom) returning row_no`.execute(trx);
    const rejected: LoadRejection[] = emptied.map((r) => ({ row: r.row_no, field: 'geometry', reason: 'invalid geometry that could not be repaired (nothing of its dimension remains)' }));

    await sql`create temporary table import_diff on commit drop as
      select s.feature_id, s.row_no, c.version_id, c.valid_from,
        case when c.version_id is null then 'new'
             when c.attributes = s.attributes and st_asewkb(c.geom) is not distinct from st_asewkb(s.geom) then 'unchanged'
             else 'changed' end as kind
      from import_stage s
      left join feature_version c on c.layer_id = ${layer} and c.feature_id = s.feature_id and c.valid_to is null`.execute(trx);

    // A change must start after the version it replaces; otherwise history would be rewritten.
    const { rows: late } = await sql<{ row_no: number; valid_from: Date }>`
      delete from import_diff where kind = 'changed' and valid_from >= ${validFrom}::timestamptz returning row_no, valid_from`.execute(trx);
    for (const r of late) {
      rejected.push({ row: r.row_no, reason: `the feature's current version starts ${r.valid_from.toISOString()}, not before --valid-from ${validFrom}` });
    }

    const { rows: counts } = await sql<{ kind: string; n: number }>`select kind, count(*)::int as n from import_diff group by kind`.execute(trx);
    const count = (k: string) => counts.find((c) => c.kind === k)?.n ?? 0;

    await sql`update feature_version f set valid_to = ${validFrom}::timestamptz
      from import_diff d where d.kind = 'changed' and f.layer_id = ${layer} and f.version_id = d.version_id`.execute(trx);
    await sql`insert into feature_version (layer_id, feature_id, geom, attributes, valid_from)
      select ${layer}, s.feature_id, s.geom, s.attributes, ${validFrom}::timestamptz
      from import_stage s join import_diff d on d.feature_id = s.feature_id
      where d.kind in ('new', 'changed')`.execute(trx);

    let retired = 0;
    if (options.mode === 'snapshot') {
      const r = await sql`update feature_version f set valid_to = ${validFrom}::timestamptz
        where f.layer_id = ${layer} and f.valid_to is null and f.valid_from < ${validFrom}::timestamptz
          and not exists (select 1 from import_stage s where s.feature_id = f.feature_id)`.execute(trx);
      retired = Number(r.numAffectedRows ?? 0);
    }
    await bumpRevision(trx, layer);
    return { inserted: count('new'), updated: count('changed'), unchanged: count('unchanged'), retired, repaired, rejected };
  }
}
