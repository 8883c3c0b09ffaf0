/**
 * Statistics of a layer per administrative area (区县, 街道/乡镇, 社区/村) or per cell of the unified
 * square grid (统一网格), as of an instant.
 *
 * What counts where:
 * - count: the features that intersect the area or cell (PostGIS ST_Intersects). A point counts in
 *   the area that contains it (one on a shared boundary counts in both; on the grid a point goes to
 *   the cell of floor(x / cell), floor(y / cell), so exactly one); a road or a parcel that crosses a
 *   boundary counts in each area it enters.
 * - lengthM, areaM2: the parts of lines and polygons clipped to the area or cell, so that they add
 *   up over a partition to the layer's total inside it.
 *
 * Lengths and areas are geodesic on the CGCS2000 ellipsoid (geography), as in analysis/overlay.ts.
 * The grid is square in the CGCS2000 3° Gauss-Krüger zone CM 120°E (EPSG:4549), the projection of
 * Quanzhou's survey data, its lines at multiples of the cell size (ST_SquareGrid's alignment):
 * cell (i, j) spans easting i·cell … (i+1)·cell and northing j·cell … (j+1)·cell. Pieces are cut on
 * that plane and measured on the ellipsoid.
 */

import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Layer } from '../store/layers.ts';
import { findCrs, fromCgcs2000, toCgcs2000 } from '../data-import/crs/index.ts';
import { asOf } from './overlay.ts';

export const STATS_BY = ['district', 'town', 'community', 'grid'] as const;
export type StatsBy = (typeof STATS_BY)[number];
export const ADMIN_LAYER: Record<Exclude<StatsBy, 'grid'>, string> = { district: 'districts', town: 'towns', community: 'communities' };

export const GRID_SRID = 4549;
export const MIN_CELL_M = 10;
export const MAX_CELL_M = 100_000;
/** A city at 10 m would be millions of cells; the answer is for a map, a few hundred thousand at most. */
export const MAX_CELLS = 250_000;

export interface Measures { count: number; lengthM: number; areaM2: number }
export interface AreaStats extends Measures { featureId: string; code: string | null; name: string | null }
export interface CellStats extends Measures {
  id: string; i: number; j: number;
  /** South-west corner, EPSG:4549 metres. */
  x: number; y: number;
  /** The cell's corners in CRS84 (a GeoJSON Polygon ring), for drawing it. */
  ring: number[][];
}

const round = (x: number, decimals: number) => Math.round(x * 10 ** decimals) / 10 ** decimals;
const measures = (r: { n: number; length_m: number; area_m2: number }): Measures =>
  ({ count: r.n, lengthM: round(r.length_m, 3), areaM2: round(r.area_m2, 2) });

/** The layer's whole (as of `at`), for comparing with what the areas hold. */
export async function layerTotals(db: Kysely<Database>, layer: Layer, at: Date | null): Promise<Measures> {
  const { rows } = await sql<{ n: number; length_m: number; area_m2: number }>`
    select count(*)::int as n,
      coalesce(sum(case when st_dimension(geom) = 1 then st_length(geom::geography) end), 0)::float8 as length_m,
      coalesce(sum(case when st_dimension(geom) = 2 then st_area(geom::geography) end), 0)::float8 as area_m2
    from feature_version f where layer_id = ${layer.id} and ${asOf('f.validity', at)} and geom is not null`.execute(db);
  return measures(rows[0]!);
}

/** Per area of `areas` (as of `at`, in code order), the features of `layer` in it. */
export async function statsByArea(db: Kysely<Database>, layer: Layer, areas: Layer, at: Date | null): Promise<AreaStats[]> {
  // A feature wholly inside the area is measured whole; only those crossing its boundary are cut.
  const clipped = (fn: 'st_length' | 'st_area') => sql`case when st_coveredby(f.geom, a.geom) then ${sql.raw(fn)}(f.geom::geography)
    else ${sql.raw(fn)}(st_intersection(st_force2d(f.geom), a.geom)::geography) end`;
  const { rows } = await sql<{ feature_id: string; code: string | null; name: string | null; n: number; length_m: number; area_m2: number }>`
    select a.feature_id, a.attributes->>'code' as code, a.attributes->>'name' as name, count(f.feature_id)::int as n,
      coalesce(sum(case when st_dimension(f.geom) = 1 then ${clipped('st_length')} end), 0)::float8 as length_m,
      coalesce(sum(case when st_dimension(f.geom) = 2 then ${clipped('st_area')} end), 0)::float8 as area_m2
    from feature_version a
    left join feature_version f on f.layer_id = ${layer.id} and ${asOf('f.validity', at)} and st_intersects(f.geom, a.geom)
    where a.layer_id = ${areas.id} and ${asOf('a.validity', at)} and a.geom is not null
    group by a.feature_id, a.attributes
    order by code, a.feature_id`.execute(db);
  return rows.map((r) => ({ featureId: r.feature_id, code: r.code, name: r.name, ...measures(r) }));
}

/** How many cells of `cellM` the layer's extent spans on the grid, to refuse a grid too fine. */
export function cellsSpanned(extent: readonly [number, number, number, number], cellM: number): number {
  const toGrid = fromCgcs2000(findCrs(`EPSG:${GRID_SRID}`)!);
  const corners = [[extent[0], extent[1]], [extent[0], extent[3]], [extent[2], extent[1]], [extent[2], extent[3]]].map(([lon, lat]) => toGrid(lon!, lat!));
  const xs = corners.map((c) => c[0]);
  const ys = corners.map((c) => c[1]);
  const w = Math.floor(Math.max(...xs) / cellM) - Math.floor(Math.min(...xs) / cellM) + 1;
  const h = Math.floor(Math.max(...ys) / cellM) - Math.floor(Math.min(...ys) / cellM) + 1;
  return Number.isFinite(w * h) ? w * h : Infinity;
}

/** Per non-empty grid cell, the features of `layer` in it. */
export async function statsByGrid(db: Kysely<Database>, layer: Layer, cellM: number, at: Date | null): Promise<CellStats[]> {
  const cell = sql`${cellM}::float8`;
  const { rows } = await sql<{ i: number; j: number; n: number; length_m: number; area_m2: number }>`
    with f as (
      select feature_id, st_dimension(geom) as dim, st_transform(st_force2d(geom), ${GRID_SRID}::int) as g
      from feature_version f where layer_id = ${layer.id} and ${asOf('f.validity', at)} and geom is not null),
    c as (
      select f.feature_id, f.dim, s.i, s.j,
        case when f.dim = 1 then st_length(st_transform(st_intersection(f.g, s.geom), 4490)::geography)
             when f.dim = 2 then st_area(st_transform(st_intersection(f.g, s.geom), 4490)::geography) else 0 end as m
      from f cross join lateral st_squaregrid(${cell}, f.g) s
      where f.dim > 0 and st_intersects(s.geom, f.g)
      union all
      select distinct f.feature_id, 0, floor(st_x(d.geom) / ${cell})::int, floor(st_y(d.geom) / ${cell})::int, 0::float8
      from f cross join lateral st_dumppoints(f.g) d where f.dim = 0)
    select i, j, count(distinct feature_id)::int as n,
      coalesce(sum(m) filter (where dim = 1), 0)::float8 as length_m, coalesce(sum(m) filter (where dim = 2), 0)::float8 as area_m2
    from c group by i, j order by j, i`.execute(db);
  const toLonLat = toCgcs2000(findCrs(`EPSG:${GRID_SRID}`)!);
  const r8 = (v: number) => round(v, 8);
  return rows.map((r) => {
    const x = r.i * cellM;
    const y = r.j * cellM;
    const ring = [[x, y], [x + cellM, y], [x + cellM, y + cellM], [x, y + cellM], [x, y]].map(([e, n]) => toLonLat(e!, n!).slice(0, 2).map(r8));
    return { id: `${GRID_SRID}-${cellM}-${r.i}-${r.j}`, i: r.i, j: r.j, x, y, ring, ...measures(r) };
  });
}
