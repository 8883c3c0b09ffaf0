import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { TestStore } from './helpers/stores.ts';
import { openDemoServer, type DemoServer } from './helpers/demo-server.ts';
import { getJson, type RunningServer } from './helpers/server.ts';
import { createApiKey } from '../store/access.ts';
import { cellsSpanned } from '../analysis/stats.ts';

const SEED = 20260101;
const SCALE = 0.05;

interface Row { key: string; n: number; length_m: number; area_m2: number }

describe(`statistics per area and per grid cell on postgres (demo city scale ${SCALE})`, () => {
  let store: TestStore;
  let demo: DemoServer;
  let server: RunningServer;
  let dir: string;
  const keys: Record<string, string> = {};

  before(async () => {
    demo = await openDemoServer({ seed: SEED, scale: SCALE });
    ({ store, server, dir } = demo);
    keys.gas = (await createApiKey(store.db, { name: 'gas crew', role: 'field', clearances: ['gas-pipes'] })).key;
  });
  after(async () => {
    await demo?.close();
  });

  const stats = (query: string, key?: string) => getJson(`${server.url}/analysis/stats?${query}`, key ? { 'X-API-Key': key } : {});
  const at = (datetime?: string) => sql.raw(datetime ? `'${new Date(datetime).toISOString()}'::timestamptz` : 'now()');

  /** Per area, the plain definition: every intersecting feature cut by the area and measured on the ellipsoid. */
  async function postgisByArea(layer: string, areas: string, datetime?: string): Promise<Row[]> {
    const { rows } = await sql<Row>`
      select a.feature_id as key, count(f.feature_id)::int as n,
        coalesce(sum(st_length(st_intersection(st_force2d(f.geom), a.geom)::geography)) filter (where st_dimension(f.geom) = 1), 0)::float8 as length_m,
        coalesce(sum(st_area(st_intersection(st_force2d(f.geom), a.geom)::geography)) filter (where st_dimension(f.geom) = 2), 0)::float8 as area_m2
      from feature_version a left join feature_version f
        on f.layer_id = ${layer} and f.validity @> ${at(datetime)} and st_intersects(f.geom, a.geom)
      where a.layer_id = ${areas} and a.validity @> ${at(datetime)}
      group by a.feature_id order by a.feature_id`.execute(store.db);
    return rows;
  }

  /**
   * Per grid cell, built independently of ST_SquareGrid: the cells of the layer's extent in
   * EPSG:4549 from generate_series, a point in the cell whose half-open square holds it.
   */
  async function postgisByGrid(layer: string, cell: number, datetime?: string): Promise<Row[]> {
    const { rows } = await sql<Row>`
      with f as (select feature_id, st_dimension(geom) as dim, st_transform(st_force2d(geom), 4549) as g
                 from feature_version where layer_id = ${layer} and validity @> ${at(datetime)}),
      e as (select st_extent(g) as b from f),
      cells as (
        select i, j, st_makeenvelope(i * ${cell}::float8, j * ${cell}::float8, (i + 1) * ${cell}::float8, (j + 1) * ${cell}::float8, 4549) as c
        from e, generate_series(floor(st_xmin(e.b) / ${cell})::int, floor(st_xmax(e.b) / ${cell})::int) i,
                generate_series(floor(st_ymin(e.b) / ${cell})::int, floor(st_ymax(e.b) / ${cell})::int) j)
      select i || ',' || j as key, count(f.feature_id)::int as n,
        coalesce(sum(st_length(st_transform(st_intersection(f.g, c), 4490)::geography)) filter (where f.dim = 1), 0)::float8 as length_m,
        coalesce(sum(st_area(st_transform(st_intersection(f.g, c), 4490)::geography)) filter (where f.dim = 2), 0)::float8 as area_m2
      from cells join f on case when f.dim = 0
        then st_x(f.g) >= i * ${cell}::float8 and st_x(f.g) < (i + 1) * ${cell}::float8 and st_y(f.g) >= j * ${cell}::float8 and st_y(f.g) < (j + 1) * ${cell}::float8
        else st_intersects(f.g, c) end
      group by i, j order by j, i`.execute(store.db);
    return rows;
  }

  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-6 * Math.abs(b) + 0.01, `${what}: ${a} vs PostGIS ${b}`);

  function compare(ours: Array<{ key: string; count: number; lengthM: number; areaM2: number }>, theirs: Row[], what: string) {
    assert.deepEqual(ours.map((o) => o.key).sort(), theirs.map((t) => t.key).sort(), `${what}: the same groups`);
    const byKey = new Map(theirs.map((t) => [t.key, t]));
    for (const o of ours) {
      const t = byKey.get(o.key)!;
      assert.equal(o.count, t.n, `${what} ${o.key}: count`);
      close(o.lengthM, t.length_m, `${what} ${o.key}: lengthM`);
      close(o.areaM2, t.area_m2, `${what} ${o.key}: areaM2`);
    }
  }

  it('counts and measures per district, town and community as PostGIS does, for points, lines and polygons', async () => {
    for (const [by, areas] of [['district', 'districts'], ['town', 'towns'], ['community', 'communities']] as const) {
      for (const layer of ['addresses', 'water-supply-pipes', 'buildings']) {
        const res = await stats(`layer=${layer}&by=${by}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.areas, areas);
        const groups = res.body.groups.map((g: { featureId: string; count: number; lengthM: number; areaM2: number }) => ({ ...g, key: g.featureId }));
        compare(groups, await postgisByArea(layer, areas), `${layer} by ${by}`);
        assert.ok(groups.some((g: { count: number }) => g.count > 0), `${layer} by ${by}: something counted`);
        assert.ok(res.body.groups.every((g: { code: string | null; name: string | null }) => g.code && g.name));
      }
    }
    // The pieces add up: over a partition, the clipped lengths are the layer's length inside it.
    const byTown = (await stats('layer=water-supply-pipes&by=town')).body;
    const byDistrict = (await stats('layer=water-supply-pipes&by=district')).body;
    const sum = (b: { groups: Array<{ lengthM: number }> }) => b.groups.reduce((s, g) => s + g.lengthM, 0);
    close(sum(byTown), sum(byDistrict), 'towns and districts hold the same pipes');
    assert.ok(sum(byDistrict) <= byDistrict.total.lengthM + 0.01);
  });

  it('counts and measures per grid cell in EPSG:4549, cells aligned to multiples of the size, as PostGIS does', async () => {
    for (const [layer, cell] of [['addresses', 500], ['water-supply-pipes', 250], ['buildings', 1000], ['land-parcels', 333]] as const) {
      const res = await stats(`layer=${layer}&by=grid&cell=${cell}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.gridCrs, 'EPSG:4549');
      const cells = res.body.cells.map((c: { i: number; j: number; x: number; y: number }) => {
        assert.equal(c.x, c.i * cell);
        assert.equal(c.y, c.j * cell);
        return { ...c, key: `${c.i},${c.j}` };
      });
      compare(cells, (await postgisByGrid(layer, cell)).filter((r) => r.n > 0), `${layer} per ${cell} m`);
      if (layer === 'addresses') assert.equal(cells.reduce((s: number, c: { count: number }) => s + c.count, 0), res.body.total.count, 'each point in one cell');
      else close(cells.reduce((s: number, c: { lengthM: number; areaM2: number }) => s + c.lengthM + c.areaM2, 0), res.body.total.lengthM + res.body.total.areaM2, `${layer}: cells add up to the layer`);
      const ring = res.body.cells[0].ring;
      assert.equal(ring.length, 5);
      assert.ok(ring[0][0] > 118 && ring[0][0] < 119.5 && ring[0][1] > 24 && ring[0][1] < 25.5, 'the cell is drawn in CRS84');
    }
  });

  it('reads the layer as of a past date', async () => {
    const then = '2020-06-01T00:00:00Z';
    const past = await stats(`layer=buildings&by=community&datetime=${then}`);
    assert.equal(past.status, 200);
    const groups = past.body.groups.map((g: { featureId: string }) => ({ ...g, key: g.featureId }));
    compare(groups, await postgisByArea('buildings', 'communities', then), 'buildings by community in 2020');
    const now = await stats('layer=buildings&by=community');
    assert.notDeepEqual(past.body.total, now.body.total, 'the rebuilt block changed the buildings');
    const grid = await stats(`layer=buildings&by=grid&cell=500&datetime=${then}`);
    compare(grid.body.cells.map((c: { i: number; j: number }) => ({ ...c, key: `${c.i},${c.j}` })), (await postgisByGrid('buildings', 500, then)).filter((r) => r.n > 0), 'buildings per 500 m in 2020');
  });

  it('keeps restricted layers to cleared keys, and refuses bad parameters with a 400 naming them', async () => {
    assert.equal((await stats('layer=gas-pipes&by=district')).status, 401);
    const gas = await stats('layer=gas-pipes&by=district', keys.gas);
    assert.equal(gas.status, 200);
    assert.ok(gas.body.total.lengthM > 0);
    const bad: Array<[string, string]> = [
      ['by=district', 'layer'],
      ['layer=buildings', 'by'],
      ['layer=buildings&by=county', 'by'],
      ['layer=buildings&by=grid', 'cell'],
      ['layer=buildings&by=grid&cell=5', 'cell'],
      ['layer=buildings&by=grid&cell=abc', 'cell'],
      ['layer=buildings&by=grid&cell=1e6', 'cell'],
      ['layer=buildings&by=district&cell=100', 'cell'],
      ['layer=buildings&by=district&datetime=2020-01-01/2021-01-01', 'datetime'],
      ['layer=buildings&by=district&bbox=1,2,3,4', 'bbox'],
    ];
    for (const [q, parameter] of bad) {
      const res = await stats(q);
      assert.equal(res.status, 400, q);
      assert.equal(res.body.error.details.parameter, parameter, `${q}: ${res.body.error.message}`);
    }
    const unknown = await stats('layer=nope&by=district');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.details.parameter, 'layer');
    assert.ok(cellsSpanned([118.5, 24.8, 118.7, 25.0], 10) > 250_000, 'a city at 10 m is refused');
  });
});
