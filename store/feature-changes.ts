import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

/**
 * What changed in a layer between two instants, as the difference of the layer's two states: the
 * versions valid at `from` and at `to` (validity is '[)', so a version opened exactly at `to`
 * counts and one opened at `from` does not: the changes of (from, to]).
 *
 * - added: no version at `from`, one at `to`;
 * - changed: another version at `to` than at `from` (however many came in between);
 * - retired: a version at `from`, none at `to`; shown in its last state before `to`.
 *
 * A feature that came and went within the interval is in neither state and is not reported: the
 * answer is what a planner sees comparing the map of one date with the map of another.
 */

export type ChangeKind = 'added' | 'changed' | 'retired';
export const CHANGE_KINDS: readonly ChangeKind[] = ['added', 'changed', 'retired'];

export interface ChangeQuery {
  from: Date;
  to: Date;
  limit: number;
  offset: number;
}

export interface ChangePage {
  counts: Record<ChangeKind, number>;
  numberMatched: number;
  numberReturned: number;
  /** A JSON array of GeoJSON features, as text. */
  featuresJson: string;
  featureIds: string[];
}

interface ChangeRow {
  feature_id: string;
  change: ChangeKind;
  g: string | null;
  p: string;
  shown: string;
  previous: string | null;
}

const DECIMALS = 8;

/** The state diff of a layer as SQL, so that tests and benches can run exactly what the API runs. */
export function changedFeaturesSql(layerId: string, q: { from: Date; to: Date }) {
  const from = q.from.toISOString();
  const to = q.to.toISOString();
  return sql`
    select coalesce(b.feature_id, a.feature_id) as feature_id,
      case when a.version_id is null then 'added' when b.version_id is null then 'retired' else 'changed' end as change,
      a.version_id as before_id, a.valid_from as before_from, a.valid_to as before_to
    from (select feature_id, version_id, valid_from, valid_to from feature_version
          where layer_id = ${layerId} and validity @> ${from}::timestamptz) a
    full join (select feature_id, version_id from feature_version
          where layer_id = ${layerId} and validity @> ${to}::timestamptz) b
      on a.feature_id = b.feature_id
    where a.version_id is distinct from b.version_id`;
}

const versionJson = (id: unknown, from: unknown, to: unknown) =>
  sql`json_build_object('versionId', ${id}, 'validFrom', ${from}, 'validTo', ${to})::text`;

export async function featureChanges(db: Kysely<Database>, layerId: string, q: ChangeQuery): Promise<ChangePage> {
  const diff = changedFeaturesSql(layerId, q);
  const to = q.to.toISOString();
  const [counts, page] = await Promise.all([
    sql<{ change: ChangeKind; n: number }>`select change, count(*)::int as n from (${diff}) d group by change`.execute(db),
    // The version shown: the one valid at `to`, or for a retired feature the last one before it.
    sql<ChangeRow>`
      select d.feature_id, d.change, st_asgeojson(v.geom, ${sql.lit(DECIMALS)}, 0) as g, v.attributes::text as p,
        ${versionJson(sql`v.version_id`, sql`v.valid_from`, sql`v.valid_to`)} as shown,
        case when d.before_id is null then null else ${versionJson(sql`d.before_id`, sql`d.before_from`, sql`d.before_to`)} end as previous
      from (${diff} order by 1 limit ${q.limit} offset ${q.offset}) d
      cross join lateral (
        select version_id, geom, attributes, valid_from, valid_to from feature_version
        where layer_id = ${layerId} and feature_id = d.feature_id and valid_from <= ${to}::timestamptz
        order by valid_from desc limit 1) v
      order by d.feature_id`.execute(db),
  ]);
  const byKind = { added: 0, changed: 0, retired: 0 } as Record<ChangeKind, number>;
  for (const r of counts.rows) byKind[r.change] = r.n;
  return {
    counts: byKind,
    numberMatched: byKind.added + byKind.changed + byKind.retired,
    numberReturned: page.rows.length,
    featuresJson: `[${page.rows.map(changeFeatureText).join(',')}]`,
    featureIds: page.rows.map((r) => r.feature_id),
  };
}

/**
 * `change` goes into the properties, where map clients can style by it (it wins over an attribute
 * of that name); the versions compared are foreign members beside them.
 */
function changeFeatureText(r: ChangeRow): string {
  const props = r.p === '{}' ? `{"change":"${r.change}"}` : `${r.p.slice(0, -1)},"change":"${r.change}"}`;
  const shown = JSON.parse(r.shown) as { validFrom: string; validTo: string | null };
  return `{"type":"Feature","id":${JSON.stringify(r.feature_id)},"geometry":${r.g ?? 'null'},"properties":${props},`
    + `"time":{"interval":[${JSON.stringify(shown.validFrom)},${shown.validTo === null ? '".."' : JSON.stringify(shown.validTo)}]},`
    + `"change":"${r.change}","version":${r.shown},"previousVersion":${r.previous ?? 'null'}}`;
}
