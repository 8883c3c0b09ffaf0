import { sql, type Kysely } from 'kysely';
import type { Geometry } from 'geojson';
import type { Database } from './schema.ts';

/** One version as the in-memory indexes (tiles, nearest assets) take it. */
export interface ScannedVersion {
  featureId: string;
  geometry: Geometry | null;
  attributes: Record<string, unknown>;
  /** Epoch milliseconds. */
  validFrom: number;
  /** Epoch milliseconds, or null while the version is current. */
  validTo: number | null;
}

/**
 * Every version of a layer (or only the current ones) from one snapshot, so that a concurrent
 * import is either all in or all out, a page at a time by version id; returns the layer's
 * revision in that snapshot, which is what an index built from these rows holds.
 */
export async function scanLayer(
  db: Kysely<Database>,
  layerId: string,
  options: { currentOnly: boolean; decimals: number; pageSize?: number },
  onVersion: (v: ScannedVersion) => void,
): Promise<{ revision: number }> {
  const pageSize = options.pageSize ?? 20_000;
  const current = options.currentOnly ? sql`and valid_to is null` : sql``;
  return db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
    const { rows: layerRows } = await sql<{ revision: number }>`select revision::int as revision from layer where id = ${layerId}`.execute(trx);
    let last = 0;
    for (;;) {
      const { rows } = await sql<{ v: number; id: string; g: string | null; a: string; f: number; t: number | null }>`
        select version_id as v, feature_id as id, st_asgeojson(geom, ${options.decimals}::int, 0) as g, attributes::text as a,
               extract(epoch from valid_from) * 1000 as f, extract(epoch from valid_to) * 1000 as t
        from feature_version where layer_id = ${layerId} ${current} and version_id > ${last}
        order by version_id limit ${pageSize}`.execute(trx);
      for (const r of rows) {
        onVersion({ featureId: r.id, geometry: r.g ? JSON.parse(r.g) as Geometry : null, attributes: JSON.parse(r.a) as Record<string, unknown>, validFrom: Number(r.f), validTo: r.t === null ? null : Number(r.t) });
      }
      if (rows.length < pageSize) break;
      last = Number(rows[rows.length - 1]!.v);
    }
    return { revision: layerRows[0]?.revision ?? 0 };
  });
}
