import { sql, type Kysely, type Transaction } from 'kysely';
import { notifyChange } from './changes.ts';
import type { Database } from './schema.ts';
import type { AccessClass, AttributeDef, Domain, GeometryType, LayerMeta } from './layer-meta.ts';

export interface Layer extends LayerMeta {
  revision: number;
  /** [minLon, minLat, maxLon, maxLat] of every version ever stored, or null when empty. */
  extent: [number, number, number, number] | null;
  /** Earliest valid_from and latest valid_from/valid_to, or null when empty. */
  timeExtent: [Date, Date | null] | null;
  updatedAt: Date;
}

type Db = Kysely<Database> | Transaction<Database>;

function toLayer(row: Awaited<ReturnType<typeof selectLayers>>[number]): Layer {
  const e = row.extent;
  const t = row.time_extent;
  return {
    id: row.id,
    titleZh: row.title_zh,
    titleEn: row.title_en,
    domain: row.domain as Domain,
    geometryType: row.geometry_type as GeometryType,
    attributeSchema: row.attribute_schema as Record<string, AttributeDef>,
    accessClass: row.access_class as AccessClass,
    source: row.source,
    revision: Number(row.revision),
    extent: e && e.length === 4 ? [e[0], e[1], e[2], e[3]] : null,
    timeExtent: t && t.length === 2 && t[0] ? [new Date(t[0]), t[1] ? new Date(t[1]) : null] : null,
    updatedAt: row.updated_at,
  };
}

function selectLayers(db: Db) {
  return db.selectFrom('layer').selectAll().orderBy('domain').orderBy('id').execute();
}

export async function listLayers(db: Db): Promise<Layer[]> {
  return (await selectLayers(db)).map(toLayer);
}

export async function getLayer(db: Db, id: string): Promise<Layer | undefined> {
  const row = await db.selectFrom('layer').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toLayer(row) : undefined;
}

/**
 * Creates the layer or updates its description; either way its revision moves on. The layer's
 * partition of feature_version is created with it unless the caller will bring its own
 * (a bulk load builds the table first and attaches it with its indexes, see store/bulk-load.ts).
 */
export async function upsertLayer(db: Db, meta: LayerMeta, options: { partition?: boolean } = {}): Promise<void> {
  const values = {
    id: meta.id,
    title_zh: meta.titleZh,
    title_en: meta.titleEn,
    domain: meta.domain,
    geometry_type: meta.geometryType,
    attribute_schema: JSON.stringify(meta.attributeSchema),
    access_class: meta.accessClass,
    source: meta.source,
  };
  await db
    .insertInto('layer')
    .values(values)
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({
        ...values,
        revision: sql`layer.revision + 1`,
        updated_at: sql`now()`,
      } as never),
    )
    .execute();
  await notifyChange(db, { kind: 'layer', layerId: meta.id });
  if (options.partition === false) return;
  const { key } = await db.selectFrom('layer').select('key').where('id', '=', meta.id).executeTakeFirstOrThrow();
  // DDL takes no bound parameters; the id is a literal that the layer table's check constraint
  // has just accepted as a slug, and the table name is built from an integer.
  await sql`create table if not exists ${sql.table(`feature_version_${key}`)}
    partition of feature_version for values in (${sql.lit(meta.id)})`.execute(db);
}

/** The name of the layer's partition of feature_version. */
export async function partitionName(db: Db, layerId: string): Promise<string> {
  const { key } = await db.selectFrom('layer').select('key').where('id', '=', layerId).executeTakeFirstOrThrow();
  return `feature_version_${key}`;
}

/**
 * Creates the layer when it is new (without its partition: the caller's bulk load attaches one);
 * for an existing layer adds attributes it did not list yet and
 * keeps everything else (title, access class) as the catalog has it. Bumps no revision: the
 * write that follows does, once.
 */
export async function ensureLayer(db: Db, meta: LayerMeta): Promise<{ created: boolean; layer: Layer }> {
  const existing = await getLayer(db, meta.id);
  if (!existing) {
    await upsertLayer(db, meta, { partition: false });
    return { created: true, layer: (await getLayer(db, meta.id))! };
  }
  const added = Object.fromEntries(Object.entries(meta.attributeSchema).filter(([k]) => !(k in existing.attributeSchema)));
  if (Object.keys(added).length > 0) {
    await sql`update layer set attribute_schema = attribute_schema || ${JSON.stringify(added)}::jsonb, updated_at = now()
      where id = ${meta.id}`.execute(db);
    await notifyChange(db, { kind: 'layer', layerId: meta.id });
  }
  return { created: false, layer: (await getLayer(db, meta.id))! };
}

/** Widens the layer's declared geometry type when a write brought in other kinds of geometry. */
export async function setGeometryType(db: Db, layerId: string, geometryType: string): Promise<void> {
  await sql`update layer set geometry_type = ${geometryType} where id = ${layerId}`.execute(db);
}

/**
 * Marks a change to the layer's features: caches keyed on the revision become stale, and the
 * stored extents are recomputed (one index-assisted aggregate per write batch, not per request).
 */
export async function bumpRevision(db: Db, layerId: string): Promise<number> {
  const { rows } = await sql<{ revision: number }>`
    update layer set
      revision = revision + 1,
      updated_at = now(),
      extent = (
        select array[st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e)]
        from (select st_extent(geom)::geometry as e from feature_version where layer_id = ${layerId}) x
        where e is not null),
      time_extent = (
        select array[min(valid_from), greatest(max(valid_from), max(valid_to))]
        from feature_version where layer_id = ${layerId} having count(*) > 0)
    where id = ${layerId}
    returning revision::int as revision`.execute(db);
  await notifyChange(db, { kind: 'layer', layerId });
  return rows[0]?.revision ?? 0;
}
