/**
 * Overlay: the features of a layer that intersect a geometry, or lie within a distance of it, or
 * of another layer's features; with counts, lengths and areas.
 *
 * Measures are geodesic on the CGCS2000 ellipsoid (PostGIS geography: ST_Length, ST_Area,
 * ST_Distance, ST_DWithin), as the nearest-asset distances are (position/asset-geodesy.ts is
 * tested against ST_Distance on geography). The survey's own length_m / area_m2 attributes are
 * Gauss-Krüger plane values, larger by the zone's scale factor (about 2.5·10⁻⁴ at Quanzhou,
 * 1.4° west of 120°E); they are shown as delivered and not used here.
 */

import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Layer } from '../store/layers.ts';
import { metresPerDegreeLat, metresPerDegreeLon } from '../position/asset-geodesy.ts';
import type { InputGeometry } from './geometry-input.ts';

/** A planner's "what lies within 50 m"; 5 km is a district's width. */
export const MAX_OVERLAY_DISTANCE_M = 5_000;
export const MAX_OVERLAY_FEATURES = 10_000;

export type OverlayTarget =
  | { kind: 'geometry'; geometry: InputGeometry }
  | { kind: 'layer'; layer: Layer; ids?: readonly string[] };

export interface OverlayQuery {
  layer: Layer;
  target: OverlayTarget;
  /** Metres; 0 means intersecting. */
  distanceM: number;
  /** The city as of this instant; null for now. */
  at: Date | null;
  /** Features returned (the summary always counts them all); 0 for the summary only. */
  limit: number;
}

export interface OverlaySummary {
  count: number;
  /** Whole lengths of the line features that match, m. */
  lengthM: number;
  /** Whole areas of the polygon features that match, m². */
  areaM2: number;
  /** Geometry target only: the parts inside the geometry (or within distanceM of it), m and m²; null for a layer target. */
  insideLengthM: number | null;
  insideAreaM2: number | null;
}

export interface OverlayResult {
  summary: OverlaySummary;
  /** A JSON array of GeoJSON features, as text, nearest first (then by id). */
  featuresJson: string;
  featureIds: string[];
}

export const asOf = (column: string, at: Date | null): RawBuilder<boolean> =>
  at ? sql<boolean>`${sql.ref(column)} @> ${at.toISOString()}::timestamptz` : sql<boolean>`${sql.ref(column)} @> now()`;

/**
 * Degrees that cover `metres` anywhere in the latitudes given (a bounding-box prefilter that the
 * GiST index can use before the exact geodesic test).
 */
export function degreesCovering(metres: number, minLat: number, maxLat: number): { dx: number; dy: number } {
  const lat = Math.min(89, Math.max(Math.abs(minLat), Math.abs(maxLat)));
  return { dx: (metres / metresPerDegreeLon(lat)) * 1.01 + 1e-9, dy: (metres / metresPerDegreeLat(0)) * 1.01 + 1e-9 };
}

function latRange(g: InputGeometry): [number, number] {
  let min = 90; let max = -90;
  const visit = (c: unknown): void => {
    if (typeof (c as number[])[0] === 'number') { const y = (c as number[])[1]!; min = Math.min(min, y); max = Math.max(max, y); } else (c as unknown[]).forEach(visit);
  };
  visit(g.coordinates);
  return [min, max];
}

/** Per matching feature: the measures, and its distance and inside parts for a geometry target. */
function matchesSql(q: OverlayQuery): RawBuilder<unknown> {
  const d = q.distanceM;
  const measures = sql`case when st_dimension(f.geom) = 1 then st_length(f.geom::geography) else 0 end as length_m,
    case when st_dimension(f.geom) = 2 then st_area(f.geom::geography) else 0 end as area_m2`;
  if (q.target.kind === 'geometry') {
    const [minLat, maxLat] = latRange(q.target.geometry);
    const { dx, dy } = degreesCovering(d, minLat, maxLat);
    const near = d === 0 ? sql`st_intersects(f.geom, t.g)` : sql`st_dwithin(f.geom::geography, t.g::geography, ${d}::float8)`;
    // The area that "inside" measures: the geometry itself, or its buffer on geography (PostGIS
    // buffers in a projection suited to the place, which at these distances is within millimetres of geodesic).
    const region = d === 0 ? sql`q.g` : sql`st_setsrid(st_buffer(q.g::geography, ${d}::float8, 'quad_segs=16')::geometry, 4490)`;
    return sql`
      with q as (select st_setsrid(st_geomfromgeojson(${JSON.stringify(q.target.geometry)}), 4490) as g),
      r as (select q.g, ${region} as region from q)
      select f.feature_id, f.geom, f.attributes, f.valid_from, f.valid_to, ${measures},
        st_distance(f.geom::geography, t.g::geography) as distance_m,
        case when st_dimension(f.geom) = 1 then st_length(st_intersection(st_force2d(f.geom), t.region)::geography) else 0 end as inside_length_m,
        case when st_dimension(f.geom) = 2 then st_area(st_intersection(st_force2d(f.geom), t.region)::geography) else 0 end as inside_area_m2
      from feature_version f, r t
      where f.layer_id = ${q.layer.id} and ${asOf('f.validity', q.at)}
        and f.geom && st_expand(t.g, ${dx}::float8, ${dy}::float8) and ${near}`;
  }
  const other = q.target.layer;
  const ext = other.extent ?? q.layer.extent ?? [0, 0, 0, 0];
  const { dx, dy } = degreesCovering(d, Math.min(ext[1], q.layer.extent?.[1] ?? 0), Math.max(ext[3], q.layer.extent?.[3] ?? 0));
  const near = d === 0 ? sql`st_intersects(f.geom, o.geom)` : sql`st_dwithin(f.geom::geography, o.geom::geography, ${d}::float8)`;
  const ids = q.target.ids ? sql`and o.feature_id = any(${[...q.target.ids]}::text[])` : sql``;
  // A layer against itself: every feature intersects itself, which is not an answer.
  const notSelf = other.id === q.layer.id ? sql`and o.feature_id <> f.feature_id` : sql``;
  if (q.target.ids) {
    // A few named features: start from them and find what is near each through the index,
    // rather than testing every feature of the layer against them (646 ms → milliseconds at scale 10).
    return sql`
      select distinct on (f.feature_id) f.feature_id, f.geom, f.attributes, f.valid_from, f.valid_to, ${measures},
        null::float8 as distance_m, null::float8 as inside_length_m, null::float8 as inside_area_m2
      from feature_version o
      join feature_version f on f.layer_id = ${q.layer.id} and ${asOf('f.validity', q.at)}
        and f.geom && st_expand(o.geom, ${dx}::float8, ${dy}::float8) and ${near}
      where o.layer_id = ${other.id} and ${asOf('o.validity', q.at)} ${ids} ${notSelf}
      order by f.feature_id`;
  }
  return sql`
    select f.feature_id, f.geom, f.attributes, f.valid_from, f.valid_to, ${measures},
      null::float8 as distance_m, null::float8 as inside_length_m, null::float8 as inside_area_m2
    from feature_version f
    where f.layer_id = ${q.layer.id} and ${asOf('f.validity', q.at)}
      and exists (select 1 from feature_version o
        where o.layer_id = ${other.id} and ${asOf('o.validity', q.at)} ${ids} ${notSelf}
          and o.geom && st_expand(f.geom, ${dx}::float8, ${dy}::float8) and ${near})`;
}

interface SummaryRow { n: number; length_m: number; area_m2: number; inside_length_m: number | null; inside_area_m2: number | null; page: string; ids: string[] }

export async function overlay(db: Kysely<Database>, q: OverlayQuery): Promise<OverlayResult> {
  const { rows } = await sql<SummaryRow>`
    with m as materialized (${matchesSql(q)}),
    p as (select * from m order by distance_m nulls last, feature_id limit ${q.limit})
    select count(*)::int as n, coalesce(sum(length_m), 0)::float8 as length_m, coalesce(sum(area_m2), 0)::float8 as area_m2,
      sum(inside_length_m)::float8 as inside_length_m, sum(inside_area_m2)::float8 as inside_area_m2,
      (select coalesce(json_agg(json_build_object(
          'type', 'Feature', 'id', feature_id, 'geometry', st_asgeojson(geom, 8, 0)::json, 'properties', attributes,
          'time', json_build_object('interval', json_build_array(valid_from, coalesce(to_json(valid_to), '".."'::json))),
          'overlay', json_build_object('lengthM', round(length_m::numeric, 3), 'areaM2', round(area_m2::numeric, 2),
            'distanceM', round(distance_m::numeric, 3), 'insideLengthM', round(inside_length_m::numeric, 3), 'insideAreaM2', round(inside_area_m2::numeric, 2)))
        order by distance_m nulls last, feature_id), '[]')::text from p) as page,
      (select coalesce(array_agg(feature_id order by distance_m nulls last, feature_id), '{}') from p) as ids
    from m`.execute(db);
  const r = rows[0]!;
  const geometryTarget = q.target.kind === 'geometry';
  return {
    summary: {
      count: r.n,
      lengthM: round(r.length_m, 3),
      areaM2: round(r.area_m2, 2),
      insideLengthM: geometryTarget ? round(r.inside_length_m ?? 0, 3) : null,
      insideAreaM2: geometryTarget ? round(r.inside_area_m2 ?? 0, 2) : null,
    },
    featuresJson: r.page,
    featureIds: r.ids,
  };
}

const round = (x: number, decimals: number) => Math.round(x * 10 ** decimals) / 10 ** decimals;
