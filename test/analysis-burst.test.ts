import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type Kysely } from 'kysely';
import type { LineString } from 'geojson';
import { openTestStore, resetStore, type TestStore } from './helpers/stores.ts';
import { openDemoServer, postJson, type DemoServer } from './helpers/demo-server.ts';
import { startServer } from './helpers/server.ts';
import { demoLayerMetas } from '../fixtures/demo-city/layers.ts';
import { createApiKey } from '../store/access.ts';
import { bumpRevision, upsertLayer } from '../store/layers.ts';
import type { Database } from '../store/schema.ts';
import { importLayerFile } from '../data-import/import-file.ts';
import { isolate, loadPipeNetwork, valvesFromPointNumbers, SERVICE_REACH_M } from '../analysis/burst-isolation.ts';
import { metresPerDegreeLat } from '../position/asset-geodesy.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const NANAIMO = path.resolve(here, '../../shared/conformance/nanaimo-water/pipes.shp');
const VALVES = ['阀门', '阀门井'];

/**
 * The isolation computed by PostgreSQL alone: a recursive walk over the segments' start/end point
 * numbers that never passes through a valve node. `valves` is a query of valve point numbers.
 */
async function recursiveIsolation(db: Kysely<Database>, layer: string, start: string, valves: ReturnType<typeof sql>) {
  const { rows } = await sql<{ id: string }>`
    with recursive edges as materialized (
      select feature_id as id, attributes->>'start_point' as a, attributes->>'end_point' as b
      from feature_version where layer_id = ${layer} and validity @> now()),
    valve as materialized (${valves}),
    walk(id) as (
      select id from edges where id = ${start}
      union
      select e2.id from walk w
        join edges e1 on e1.id = w.id
        cross join lateral (values (e1.a), (e1.b)) v(node)
        join edges e2 on e2.a = v.node or e2.b = v.node
      where v.node not in (select n from valve))
    select id from walk order by id`.execute(db);
  const segments = rows.map((r) => r.id);
  const { rows: closed } = await sql<{ n: string }>`
    with valve as materialized (${valves})
    select distinct n from (
      select attributes->>'start_point' as n from feature_version where layer_id = ${layer} and validity @> now() and feature_id = any(${segments}::text[])
      union all select attributes->>'end_point' from feature_version where layer_id = ${layer} and validity @> now() and feature_id = any(${segments}::text[])) x
    where n in (select n from valve) order by n`.execute(db);
  return { segments, valves: closed.map((r) => r.n) };
}

const pointValves = (layer: string) => sql`select attributes->>'point_no' as n from feature_version
  where layer_id = ${layer} and validity @> now() and attributes->>'feature' = any(${VALVES}::text[])`;

describe('burst isolation on the demo city against PostgreSQL', () => {
  let store: TestStore;
  let demo: DemoServer;
  let server: Awaited<ReturnType<typeof startServer>>;
  let dir: string;
  const keys: Record<string, string> = {};

  before(async () => {
    demo = await openDemoServer({ seed: 20260101, scale: 0.1 });
    ({ store, server, dir } = demo);
    // The water network again without point numbers: its graph must come from coordinates.
    const metas = demoLayerMetas(20260101, 0.1);
    await upsertLayer(store.db, { ...metas['water-supply-pipes'], id: 'nameless-pipes', titleEn: 'Water pipes without point numbers' });
    await upsertLayer(store.db, { ...metas['water-supply-points'], id: 'nameless-points', titleEn: 'Water points without point numbers' });
    await sql`insert into feature_version (layer_id, feature_id, geom, attributes, valid_from, valid_to)
      select 'nameless-pipes', feature_id, geom, attributes - 'start_point' - 'end_point', valid_from, valid_to
      from feature_version where layer_id = 'water-supply-pipes'`.execute(store.db);
    await sql`insert into feature_version (layer_id, feature_id, geom, attributes, valid_from, valid_to)
      select 'nameless-points', feature_id, geom, attributes - 'point_no', valid_from, valid_to
      from feature_version where layer_id = 'water-supply-points'`.execute(store.db);
    await bumpRevision(store.db, 'nameless-pipes');
    await bumpRevision(store.db, 'nameless-points');
    keys.admin = (await createApiKey(store.db, { name: 'admin', role: 'admin' })).key;
    keys.gasPipesOnly = (await createApiKey(store.db, { name: 'gas crew', role: 'field', clearances: ['gas-pipes'] })).key;
    keys.gas = (await createApiKey(store.db, { name: 'gas office', role: 'field', clearances: ['gas-pipes', 'gas-points'] })).key;
  });
  after(async () => {
    await demo?.close();
  });

  const post = (body: unknown, key?: string) => postJson(`${server.url}/analysis/burst-isolation`, body, { key });

  const someSegments = async (layer: string, n: number) => (await sql<{ id: string }>`
    select feature_id as id from feature_version where layer_id = ${layer} and validity @> now() order by md5(feature_id) limit ${n}`.execute(store.db)).rows.map((r) => r.id);

  it('water and gas: the same isolated segments and valves as a recursive PostgreSQL walk that stops at valves', async () => {
    let nontrivial = 0;
    for (const [layer, points, key] of [['water-supply-pipes', 'water-supply-points', undefined], ['gas-pipes', 'gas-points', keys.gas]] as const) {
      for (const segment of await someSegments(layer, 8)) {
        const r = await post({ layer, segment }, key);
        assert.equal(r.status, 200, r.text);
        const expected = await recursiveIsolation(store.db, layer, segment, pointValves(points));
        assert.deepEqual([...r.body.isolated.segments].sort(), expected.segments, `${layer} ${segment}`);
        assert.deepEqual(r.body.valves.map((v: any) => v.pointNo).sort(), expected.valves, `${layer} ${segment} valves`);
        assert.equal(r.body.isolated.segments[0], segment, 'the burst segment first');
        assert.equal(r.body.wholeComponent, expected.valves.length === 0);
        assert.equal(r.body.network.nodesFrom, 'point-numbers');
        assert.equal(r.body.valveSource.layer, points);
        for (const v of r.body.valves) assert.ok(VALVES.includes(v.feature) && v.featureId && v.coordinates.length === 2);
        if (expected.segments.length > 1 && expected.valves.length > 1) nontrivial++;
      }
    }
    assert.ok(nontrivial >= 6, `${nontrivial} isolations of several segments between several valves`);
  });

  it('a network without valves: the whole connected component, and it says so', async () => {
    const [segment] = await someSegments('telecom-cables', 1);
    const r = await post({ layer: 'telecom-cables', segment });
    assert.equal(r.status, 200, r.text);
    const expected = await recursiveIsolation(store.db, 'telecom-cables', segment!, sql`select null::text as n where false`);
    assert.equal(r.body.wholeComponent, true);
    assert.match(r.body.message, /whole connected network/);
    assert.deepEqual(r.body.valves, []);
    assert.deepEqual([...r.body.isolated.segments].sort(), expected.segments);
    assert.ok(expected.segments.length > 20);
  });

  it('buildings and addresses that lose supply: those whose nearest water segment within 50 m is isolated (as PostGIS finds them)', async () => {
    let found = 0;
    for (const segment of await someSegments('water-supply-pipes', 4)) {
      const r = await post({ layer: 'water-supply-pipes', segment });
      const iso: string[] = r.body.isolated.segments;
      for (const target of ['addresses', 'buildings']) {
        const { rows } = await sql<{ id: string }>`
          select c.feature_id as id from feature_version c
          cross join lateral (
            select p.feature_id, st_distance(p.geom::geography, c.geom::geography) as d from feature_version p
            where p.layer_id = 'water-supply-pipes' and p.validity @> now() and st_dwithin(p.geom::geography, c.geom::geography, ${SERVICE_REACH_M})
            order by d, p.feature_id limit 1) n
          where c.layer_id = ${target} and c.validity @> now()
            and c.geom && (select st_expand(st_extent(geom)::geometry, 0.002) from feature_version where layer_id = 'water-supply-pipes' and feature_id = any(${iso}::text[]) and validity @> now())
            and n.feature_id = any(${iso}::text[])
          order by c.feature_id`.execute(store.db);
        const got = r.body.lossOfSupply.layers.find((l: any) => l.layer === target);
        assert.deepEqual(got.features.map((f: any) => f.featureId), rows.map((x) => x.id), `${segment} ${target}`);
        assert.equal(got.count, rows.length);
        found += rows.length;
        if (target === 'addresses') for (const f of got.features) assert.equal(typeof f.address, 'string');
      }
    }
    assert.ok(found > 20, `${found} buildings and addresses compared`);
  });

  it('a point snaps to the nearest water or gas segment it may read', async () => {
    const { rows } = await sql<{ id: string; g: string }>`select feature_id as id, st_asgeojson(geom) as g from feature_version
      where layer_id = 'water-supply-pipes' and validity @> now() order by md5(feature_id) limit 1`.execute(store.db);
    const [a, b] = (JSON.parse(rows[0]!.g) as LineString).coordinates;
    const lat = (a![1]! + b![1]!) / 2;
    // 1.5 m north of the middle (the mains run beside the kerb, so this stays nearest to it).
    const point = [(a![0]! + b![0]!) / 2, lat + 1.5 / metresPerDegreeLat(lat)];
    const byPoint = await post({ point });
    assert.equal(byPoint.status, 200, byPoint.text);
    const { rows: nearest } = await sql<{ layer_id: string; id: string; d: number }>`
      select layer_id, feature_id as id, st_distance(geom::geography, st_setsrid(st_point(${point[0]!}, ${point[1]!}), 4490)::geography) as d
      from feature_version where layer_id = 'water-supply-pipes' and validity @> now() order by d limit 1`.execute(store.db);
    assert.equal(byPoint.body.burst.segment, nearest[0]!.id);
    assert.ok(Math.abs(byPoint.body.burst.snapped.distance - nearest[0]!.d) < 0.001);
    const byId = await post({ layer: 'water-supply-pipes', segment: nearest[0]!.id });
    assert.deepEqual(byPoint.body.isolated, byId.body.isolated);
    // GeoJSON point, and the point in Gauss-Krüger metres.
    const gj = await post({ point: { type: 'Point', coordinates: point } });
    assert.equal(gj.body.burst.segment, nearest[0]!.id);
    const { rows: gk } = await sql<{ x: number; y: number }>`select st_x(p) as x, st_y(p) as y from (select st_transform(st_setsrid(st_point(${point[0]!}, ${point[1]!}), 4490), 4549) as p) t`.execute(store.db);
    const byGk = await post({ point: [gk[0]!.x, gk[0]!.y], crs: 'EPSG:4549' });
    assert.equal(byGk.body.burst.segment, nearest[0]!.id);
    // Far from every main: a 404 that says how far was searched.
    const far = await post({ point: [point[0]! + 0.5, point[1]!], maxDistance: 20 });
    assert.equal(far.status, 404);
    assert.match(far.body.error.message, /within 20 m/);
  });

  it('without point numbers the graph comes from coordinates snapped within 5 cm, and gives the same isolations', async () => {
    for (const segment of await someSegments('water-supply-pipes', 6)) {
      const named = await post({ layer: 'water-supply-pipes', segment });
      const nameless = await post({ layer: 'nameless-pipes', segment });
      assert.equal(nameless.status, 200, nameless.text);
      assert.equal(nameless.body.network.nodesFrom, 'coordinates');
      assert.equal(nameless.body.network.snapTolerance, 0.05);
      assert.equal(nameless.body.network.nodes, named.body.network.nodes);
      assert.deepEqual([...nameless.body.isolated.segments].sort(), [...named.body.isolated.segments].sort());
      assert.deepEqual(nameless.body.valves.map((v: any) => v.featureId).sort(), named.body.valves.map((v: any) => v.featureId).sort());
    }
  });

  it('valves given by the caller replace the points layer; unknown ones are refused', async () => {
    const [segment] = await someSegments('water-supply-pipes', 1);
    const { rows } = await sql<{ a: string; b: string }>`select attributes->>'start_point' as a, attributes->>'end_point' as b
      from feature_version where layer_id = 'water-supply-pipes' and feature_id = ${segment!} and validity @> now()`.execute(store.db);
    const r = await post({ layer: 'water-supply-pipes', segment, valves: [rows[0]!.a, rows[0]!.b] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.isolated.segments, [segment]);
    assert.deepEqual(r.body.valves.map((v: any) => v.pointNo).sort(), [rows[0]!.a, rows[0]!.b].sort());
    assert.equal(r.body.valveSource.kind, 'request');
    const bad = await post({ layer: 'water-supply-pipes', segment, valves: ['NO-SUCH-POINT'] });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /NO-SUCH-POINT/);
    assert.equal((await post({ layer: 'nameless-pipes', segment, valves: ['X'] })).status, 400);
  });

  it('errors: unknown segment or layer 404; restricted networks and their valves need clearance; malformed bodies 400', async () => {
    const [gas] = await someSegments('gas-pipes', 1);
    assert.equal((await post({ layer: 'water-supply-pipes', segment: 'NO-SUCH-SEGMENT' })).status, 404);
    assert.equal((await post({ layer: 'no-such-layer', segment: 'x' })).status, 404);
    assert.equal((await post({ layer: 'gas-pipes', segment: gas })).status, 401);
    const noValves = await post({ layer: 'gas-pipes', segment: gas }, keys.gasPipesOnly);
    assert.equal(noValves.status, 403);
    assert.match(noValves.body.error.message, /gas-points/);
    assert.equal((await post({ layer: 'gas-pipes', segment: gas }, keys.gas)).status, 200);
    for (const body of [
      {}, { layer: 'water-supply-pipes' }, { segment: 'x' }, { layer: 'buildings', segment: 'x' },
      { layer: 'water-supply-pipes', segment: 'x', point: [118.6, 24.9] }, { point: [118.6] }, { point: [560000, 2755000] },
      { point: [118.6, 24.9], maxDistance: 10_000 }, { layer: 'water-supply-pipes', segment: 'x', valves: [] }, { layer: 'water-supply-pipes', segment: 'x', bogus: 1 },
    ]) {
      const r = await post(body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    }
  });
});

describe('burst isolation on the real Nanaimo network (STARTID/ENDID, synthetic valves at every node of degree ≥ 3)', () => {
  let store: TestStore;
  let server: Awaited<ReturnType<typeof startServer>>;
  const LAYER = 'nanaimo-pipes';
  /** Point numbers met by three or more pipe ends. */
  const junctions = sql`select n from (
      select attributes->>'start_point' as n from feature_version where layer_id = ${LAYER} and validity @> now()
      union all select attributes->>'end_point' from feature_version where layer_id = ${LAYER} and validity @> now()) x
    where n is not null group by n having count(*) >= 3`;

  before(async () => {
    assert.ok(existsSync(NANAIMO), `missing conformance data ${NANAIMO} (../shared/conformance/nanaimo-water)`);
    store = await openTestStore('postgres');
    await resetStore(store);
    const r = await importLayerFile(store.db, { file: NANAIMO, layer: LAYER, domain: 'pipeline', accessClass: 'public', validFrom: new Date('2020-01-01T00:00:00Z') });
    assert.equal(r.inserted, 17_755);
    server = await startServer(store);
  });
  after(async () => {
    await server?.close();
    await store?.cleanup();
  });

  it('isolations equal the recursive PostgreSQL walk for twenty starting segments', async () => {
    const layer = server.services.catalog.get(LAYER)!;
    // STARTID/ENDID alone, as the recursive query reads them: an end without an id is a dead end.
    const network = await loadPipeNetwork(store.db, LAYER, layer.revision, 'point-numbers');
    assert.equal(network.nodesFrom, 'point-numbers');
    assert.equal(network.unnumberedEnds, 1803);
    assert.equal(network.graph.edgeCount, 17_755);
    const { rows: valveRows } = await sql<{ n: string }>`${junctions}`.execute(store.db);
    const { valves, unknown } = valvesFromPointNumbers(network, valveRows.map((r) => r.n));
    assert.deepEqual(unknown, []);
    assert.ok(valves.length > 1000, `${valves.length} junction valves`);
    const { rows: starts } = await sql<{ id: string }>`
      select feature_id as id from feature_version where layer_id = ${LAYER} and validity @> now() order by md5(feature_id) limit 20`.execute(store.db);
    let longest = 0;
    for (const { id } of starts) {
      const t0 = performance.now();
      const got = isolate(network, id, valves);
      const ms = performance.now() - t0;
      const expected = await recursiveIsolation(store.db, LAYER, id, junctions);
      assert.deepEqual([...got.segments].sort(), expected.segments, id);
      assert.deepEqual(got.valves.map((v) => v.pointNo).sort(), expected.valves, `${id} valves`);
      assert.ok(ms < 50, `a trace took ${ms} ms`);
      longest = Math.max(longest, got.segments.length);
    }
    assert.ok(longest > 2, `some isolation spans a chain of segments (${longest})`);
  });

  it('over HTTP, with the valves given as point numbers', async () => {
    const { rows: valveRows } = await sql<{ n: string }>`${junctions}`.execute(store.db);
    const [start] = (await sql<{ id: string }>`select feature_id as id from feature_version where layer_id = ${LAYER} order by md5(feature_id) desc limit 1`.execute(store.db)).rows;
    const res = await fetch(`${server.url}/analysis/burst-isolation`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ layer: LAYER, segment: start!.id, valves: valveRows.map((r) => r.n), connectivity: 'point-numbers' }),
    });
    const body = await res.json() as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const expected = await recursiveIsolation(store.db, LAYER, start!.id, junctions);
    assert.deepEqual([...body.isolated.segments].sort(), expected.segments);
    assert.equal(body.valveSource.kind, 'request');
    // Without valves (the delivery has none) the answer is the whole connected network, said so.
    const none = await fetch(`${server.url}/analysis/burst-isolation`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ layer: LAYER, segment: start!.id }),
    });
    const noneBody = await none.json() as any;
    assert.equal(noneBody.valveSource.kind, 'none');
    assert.equal(noneBody.wholeComponent, true);
    assert.ok(noneBody.isolated.count > expected.segments.length);
  });

  it('by default, ends without an id join the pipe ends they touch (within 5 cm), which only merges what the ids alone keep apart', async () => {
    const layer = server.services.catalog.get(LAYER)!;
    const strict = await loadPipeNetwork(store.db, LAYER, layer.revision, 'point-numbers');
    const auto = await loadPipeNetwork(store.db, LAYER, layer.revision, 'auto');
    assert.equal(auto.nodesFrom, 'point-numbers+coordinates');
    // 1,720 of the 1,803 ends without an id touch another end; two such ends touching make one join.
    assert.ok(auto.joinedByPosition >= 1000 && auto.joinedByPosition <= 1720, String(auto.joinedByPosition));
    assert.ok(auto.graph.nodeCount < strict.graph.nodeCount);
    // Without valves each isolation is a connected component; joining ends only merges components.
    for (const id of strict.featureIds.filter((_, i) => i % 1777 === 0)) {
      const s = new Set(isolate(strict, id, []).segments);
      const a = new Set(isolate(auto, id, []).segments);
      for (const x of s) assert.ok(a.has(x), `${id}: ${x} is connected by ids but not in the default graph`);
    }
  });
});
