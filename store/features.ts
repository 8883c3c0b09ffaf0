import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Geometry } from 'geojson';
import type { Database } from './schema.ts';
import type { FeatureVersionInput } from './layer-meta.ts';
import { bumpRevision } from './layers.ts';
import { toEwkbHex } from './ewkb.ts';

type Db = Kysely<Database> | Transaction<Database>;

/** [minLon, minLat, maxLon, maxLat] in CRS84 / EPSG:4490 degrees. minLon > maxLon crosses the antimeridian. */
export type BBox = [number, number, number, number];

/** Which versions a read sees: those valid at an instant, or those overlapping an interval. */
export type TimeFilter =
  | { kind: 'instant'; at: Date }
  | { kind: 'interval'; start: Date | null; end: Date | null };

export const NOW: TimeFilter = Object.freeze({ kind: 'instant', at: new Date(NaN) }) as TimeFilter;

export class VersionConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VersionConflictError';
  }
}

/** Coordinates leave the store with 8 decimals (about 1 mm), enough for survey-grade pipelines. */
const DECIMALS = 8;

function timeCondition(time: TimeFilter): RawBuilder<boolean> {
  if (time.kind === 'instant') {
    return Number.isNaN(time.at.getTime())
      ? sql<boolean>`validity @> now()`
      : sql<boolean>`validity @> ${time.at.toISOString()}::timestamptz`;
  }
  const start = time.start ? time.start.toISOString() : null;
  const end = time.end ? time.end.toISOString() : null;
  return sql<boolean>`validity && tstzrange(${start}::timestamptz, ${end}::timestamptz, '[]')`;
}

function bboxCondition(bbox: BBox | undefined): RawBuilder<boolean> {
  if (!bbox) return sql<boolean>`true`;
  const [minx, miny, maxx, maxy] = bbox;
  if (minx <= maxx) {
    return sql<boolean>`st_intersects(geom, st_makeenvelope(${minx}, ${miny}, ${maxx}, ${maxy}, 4490))`;
  }
  return sql<boolean>`(st_intersects(geom, st_makeenvelope(${minx}, ${miny}, 180, ${maxy}, 4490))
    or st_intersects(geom, st_makeenvelope(-180, ${miny}, ${maxx}, ${maxy}, 4490)))`;
}

/**
 * The columns of one feature as text, straight from PostGIS: the geometry and attributes are never
 * parsed into JS objects on the way out, which is most of the cost of a page (bench/features.ts).
 */
function featureColumns(properties: string[] | undefined) {
  const props = properties
    ? sql`coalesce((select jsonb_object_agg(key, value) from jsonb_each(attributes) where key = any(${properties}::text[])), '{}'::jsonb)`
    : sql`attributes`;
  return sql`feature_id, st_asgeojson(geom, ${sql.lit(DECIMALS)}, 0) as g, (${props})::text as p,
    to_json(valid_from)::text as vf, to_json(valid_to)::text as vt`;
}

interface FeatureRow { feature_id: string; g: string; p: string; vf: string; vt: string | null }

/**
 * A GeoJSON Feature assembled by concatenation (measured faster than building it in SQL with
 * string_agg, and than parsing and re-serialising). `time` is the JSON-FG member carrying the
 * version's validity.
 */
function featureText(r: FeatureRow): string {
  return `{"type":"Feature","id":${JSON.stringify(r.feature_id)},"geometry":${r.g},"properties":${r.p},"time":{"interval":[${r.vf},${r.vt ?? '".."'}]}}`;
}

export interface FeatureQuery {
  bbox?: BBox;
  time: TimeFilter;
  limit: number;
  offset: number;
  properties?: string[];
}

export interface FeaturePage {
  numberMatched: number;
  numberReturned: number;
  /** A JSON array of GeoJSON features, as text. */
  featuresJson: string;
  featureIds: string[];
}

/** The page query on its own, so that tests can EXPLAIN exactly what the API runs. */
export function featurePageSql(layerId: string, q: FeatureQuery) {
  const where = sql`layer_id = ${layerId} and ${timeCondition(q.time)} and ${bboxCondition(q.bbox)}`;
  return {
    // The page is chosen first and only its rows are turned into GeoJSON, however deep the offset.
    page: sql<FeatureRow>`
      select ${featureColumns(q.properties)}
      from (select * from feature_version where ${where} order by feature_id, valid_from limit ${q.limit} offset ${q.offset}) page
      order by feature_id, valid_from`,
    count: sql<{ n: number }>`select count(*)::int as n from feature_version where ${where}`,
  };
}

export async function queryFeatures(db: Db, layerId: string, q: FeatureQuery): Promise<FeaturePage> {
  const { page: pageQuery, count: countQuery } = featurePageSql(layerId, q);
  const [page, count] = await Promise.all([pageQuery.execute(db), countQuery.execute(db)]);
  return {
    numberMatched: count.rows[0]?.n ?? 0,
    numberReturned: page.rows.length,
    featuresJson: `[${page.rows.map(featureText).join(',')}]`,
    featureIds: page.rows.map((r) => r.feature_id),
  };
}

/** The version of one feature valid at the instant (default now), as GeoJSON text. */
export async function getFeatureJson(db: Db, layerId: string, featureId: string, time: TimeFilter = NOW): Promise<string | undefined> {
  const { rows } = await sql<FeatureRow>`
    select ${featureColumns(undefined)} from feature_version
    where layer_id = ${layerId} and feature_id = ${featureId} and ${timeCondition(time)}
    order by valid_from desc limit 1`.execute(db);
  return rows[0] ? featureText(rows[0]) : undefined;
}

export interface VersionRecord {
  versionId: number;
  validFrom: Date;
  validTo: Date | null;
  recordedAt: Date;
  /** GeoJSON Feature text of this version. */
  featureJson: string;
}

/** Every version of a feature, oldest first; empty when the feature never existed. */
export async function featureHistory(db: Db, layerId: string, featureId: string): Promise<VersionRecord[]> {
  const { rows } = await sql<FeatureRow & { version_id: number; valid_from: Date; valid_to: Date | null; recorded_at: Date }>`
    select version_id, valid_from, valid_to, recorded_at, ${featureColumns(undefined)}
    from feature_version where layer_id = ${layerId} and feature_id = ${featureId}
    order by valid_from`.execute(db);
  return rows.map((r) => ({
    versionId: Number(r.version_id),
    validFrom: r.valid_from,
    validTo: r.valid_to,
    recordedAt: r.recorded_at,
    featureJson: featureText(r),
  }));
}

const BATCH = 5000;

/**
 * Bulk-writes versions as given (a delivery's history, the demo city), then bumps the layer
 * revision once. Batches travel as one JSON document with hex EWKB geometry, as in
 * store/bulk-load.ts (measured there). The unique index on current versions rejects a second
 * open version of a feature.
 */
export async function insertVersions(db: Db, layerId: string, versions: Iterable<FeatureVersionInput>): Promise<number> {
  let count = 0;
  let batch: FeatureVersionInput[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const doc = JSON.stringify(batch.map((v) => [v.featureId, toEwkbHex(v.geometry), v.attributes, v.validFrom, v.validTo]));
    await sql`insert into feature_version (layer_id, feature_id, geom, attributes, valid_from, valid_to)
      select ${layerId}, e->>0, (e->>1)::geometry, e->2, (e->>3)::timestamptz, (e->>4)::timestamptz
      from jsonb_array_elements(${doc}::jsonb) e`.execute(db);
    count += batch.length;
    batch = [];
  };
  for (const v of versions) {
    batch.push(v);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  await bumpRevision(db, layerId);
  return count;
}

async function inTransaction<T>(db: Db, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db as Transaction<Database>) : (db as Kysely<Database>).transaction().execute(fn);
}

interface CurrentVersion { version_id: number; valid_from: Date }

async function lockCurrent(trx: Transaction<Database>, layerId: string, featureId: string): Promise<CurrentVersion | undefined> {
  const { rows } = await sql<CurrentVersion>`
    select version_id::int8 as version_id, valid_from from feature_version
    where layer_id = ${layerId} and feature_id = ${featureId} and valid_to is null
    for update`.execute(trx);
  return rows[0];
}

function assertAfter(current: CurrentVersion, at: Date, featureId: string): void {
  if (!(at.getTime() > current.valid_from.getTime())) {
    throw new VersionConflictError(
      `feature ${featureId}: the change at ${at.toISOString()} is not after its current version's start ${current.valid_from.toISOString()}`,
    );
  }
}

/** Opens the first version of a new feature. */
export async function createFeature(db: Db, layerId: string, featureId: string, geometry: Geometry, attributes: Record<string, unknown>, at: Date): Promise<void> {
  await inTransaction(db, async (trx) => {
    if (await lockCurrent(trx, layerId, featureId)) {
      throw new VersionConflictError(`feature ${featureId} already exists in layer ${layerId}`);
    }
    await insertVersionRow(trx, layerId, featureId, geometry, attributes, at);
    await bumpRevision(trx, layerId);
  });
}

/**
 * Closes the feature's current version at `at` and opens a new one from `at`; whatever the change
 * leaves out (geometry or attributes) is carried over. Nothing is overwritten.
 */
export async function updateFeature(
  db: Db, layerId: string, featureId: string,
  change: { geometry?: Geometry; attributes?: Record<string, unknown> }, at: Date,
): Promise<void> {
  await inTransaction(db, async (trx) => {
    const current = await lockCurrent(trx, layerId, featureId);
    if (!current) throw new VersionConflictError(`feature ${featureId} has no current version in layer ${layerId}`);
    assertAfter(current, at, featureId);
    await sql`update feature_version set valid_to = ${at.toISOString()}::timestamptz where version_id = ${current.version_id}`.execute(trx);
    const geom = change.geometry
      ? sql`st_setsrid(st_geomfromgeojson(${JSON.stringify(change.geometry)}), 4490)`
      : sql`geom`;
    const attrs = change.attributes ? sql`${JSON.stringify(change.attributes)}::jsonb` : sql`attributes`;
    await sql`insert into feature_version (layer_id, feature_id, geom, attributes, valid_from)
      select layer_id, feature_id, ${geom}, ${attrs}, ${at.toISOString()}::timestamptz
      from feature_version where version_id = ${current.version_id}`.execute(trx);
    await bumpRevision(trx, layerId);
  });
}

/** Closes the feature's current version; the feature stays readable as of earlier instants. */
export async function retireFeature(db: Db, layerId: string, featureId: string, at: Date): Promise<void> {
  await inTransaction(db, async (trx) => {
    const current = await lockCurrent(trx, layerId, featureId);
    if (!current) throw new VersionConflictError(`feature ${featureId} has no current version in layer ${layerId}`);
    assertAfter(current, at, featureId);
    await sql`update feature_version set valid_to = ${at.toISOString()}::timestamptz where version_id = ${current.version_id}`.execute(trx);
    await bumpRevision(trx, layerId);
  });
}

async function insertVersionRow(trx: Db, layerId: string, featureId: string, geometry: Geometry, attributes: Record<string, unknown>, at: Date): Promise<void> {
  await sql`insert into feature_version (layer_id, feature_id, geom, attributes, valid_from)
    values (${layerId}, ${featureId}, st_setsrid(st_geomfromgeojson(${JSON.stringify(geometry)}), 4490),
            ${JSON.stringify(attributes)}::jsonb, ${at.toISOString()}::timestamptz)`.execute(trx);
}
