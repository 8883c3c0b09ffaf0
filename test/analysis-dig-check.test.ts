import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { LineString, Point, Polygon } from 'geojson';
import type { TestStore } from './helpers/stores.ts';
import { openDemoServer, postJson, type DemoServer } from './helpers/demo-server.ts';
import { startServer } from './helpers/server.ts';
import { createApiKey } from '../store/access.ts';
import { checkPipes, digCheckHtml, escapeHtml, Footprint, type DigFootprintInput } from '../analysis/dig-check.ts';
import { clearanceFor, MAX_CLEARANCE_M, VERTICAL_MARGIN_M } from '../analysis/clearances.ts';
import { metresPerDegreeLat, metresPerDegreeLon } from '../position/asset-geodesy.ts';
import { at, line } from './helpers/local-frame.ts';

const square = (e: number, n: number, size: number): Polygon => ({ type: 'Polygon', coordinates: [[at(e, n), at(e + size, n), at(e + size, n + size), at(e, n + size), at(e, n)]] });
const pipe = (featureId: string, geometry: LineString, attributes: Record<string, unknown>) => ({ layerId: 'test-pipes', featureId, geometry, attributes });

describe('dig check geometry on hand-made pipes (analysis/dig-check.ts)', () => {
  const water = { pipe_class: 'JS', diameter_mm: 300, start_depth_m: 1.0, end_depth_m: 2.0, owner: '自来水公司' };

  it('a polygon: a pipe through it is a strike at its shallowest point inside, one 2 m off is near, one 4 m off is not reported', () => {
    const fp = new Footprint({ geometry: square(45, -5, 10) });
    const r = checkPipes(fp, [
      pipe('through', line([0, 0], [100, 0]), water),
      pipe('beside', line([0, 7], [100, 7]), water),
      pipe('far', line([0, 9], [100, 9]), water),
    ], null);
    assert.deepEqual(r.hits.map((h) => [h.featureId, h.risk]), [['through', 'strike'], ['beside', 'near']]);
    const [through, beside] = r.hits;
    assert.ok(Math.abs(through!.fraction - 0.45) < 1e-9 && Math.abs(through!.depthM! - 1.45) < 1e-9, `${through!.fraction} ${through!.depthM}`);
    assert.equal(through!.distanceM, 0);
    assert.ok(Math.abs(beside!.distanceM - 2) < 1e-3, String(beside!.distanceM));
    assert.equal(beside!.clearanceM, 3.0, 'water over 200 mm: 3.0 m (GB 50289-2016 Table 4.1.9)');
  });

  it('the depth given is the shallowest inside, also when the pipe rises towards its start', () => {
    const fp = new Footprint({ geometry: square(45, -5, 10) });
    const r = checkPipes(fp, [pipe('rising', line([0, 0], [100, 0]), { ...water, start_depth_m: 2.0, end_depth_m: 1.0 })], null);
    assert.ok(Math.abs(r.hits[0]!.fraction - 0.55) < 1e-9 && Math.abs(r.hits[0]!.depthM! - 1.45) < 1e-9);
  });

  it('a pit: the circle is exact (no polygon approximation), and the dig depth separates strike from below', () => {
    const pit: DigFootprintInput = { geometry: { type: 'Point', coordinates: at(50, 0) } as Point, radius: 5 };
    const shallow = pipe('shallow', line([0, 4.999], [100, 4.999]), { ...water, start_depth_m: 1.0, end_depth_m: 1.0 });
    const deep = pipe('deep', line([0, -3], [100, -3]), { ...water, start_depth_m: 3.0, end_depth_m: 3.0 });
    const unknownDepth = pipe('unknown', line([0, 2], [100, 2]), { pipe_class: 'JS', diameter_mm: 100 });
    const r = checkPipes(new Footprint(pit), [shallow, deep, unknownDepth], 2.0);
    const risk = Object.fromEntries(r.hits.map((h) => [h.featureId, h.risk]));
    assert.deepEqual(risk, { shallow: 'strike', deep: 'below', unknown: 'strike' });
    assert.equal(r.counts.strike, 2);
    // The chord of the circle at 3 m from its centre runs ±4 m: the pipe enters at x = 46.
    assert.ok(Math.abs(r.hits.find((h) => h.featureId === 'deep')!.fraction - 0.46) < 1e-6);
    // Just inside the margin below the floor is still a strike.
    const margin = checkPipes(new Footprint(pit), [pipe('m', line([0, 0], [100, 0]), { ...water, start_depth_m: 2.0 + VERTICAL_MARGIN_M - 0.01, end_depth_m: 2.0 + VERTICAL_MARGIN_M - 0.01 })], 2.0);
    assert.equal(margin.hits[0]!.risk, 'strike');
  });

  it('a trench: a round-ended buffer of half its width', () => {
    const trench: DigFootprintInput = { geometry: line([0, 0], [20, 0]), width: 2 };
    const power = { pipe_class: 'DL', start_depth_m: 0.8, end_depth_m: 0.8 };
    const r = checkPipes(new Footprint(trench), [
      pipe('crosses', line([10, -10], [10, 10]), power),
      pipe('past-the-end', line([21.5, -10], [21.5, 10]), power), // 1.5 m from the end point, 0.5 m from the rounded end
      pipe('too-far', line([21.7, -10], [21.7, 10]), power), // 0.7 m from the round end: beyond power's 0.6 m
    ], null);
    assert.deepEqual(r.hits.map((h) => [h.featureId, h.risk]), [['crosses', 'strike'], ['past-the-end', 'near']]);
    assert.ok(Math.abs(r.hits[1]!.distanceM - 0.5) < 1e-3, String(r.hits[1]!.distanceM));
    assert.ok(Math.abs(r.hits[0]!.fraction - 0.45) < 1e-9, 'enters the 2 m wide trench at y = -1');
  });

  it('clearances follow the table: diameter, pressure class and burial method matter; unknowns take the larger value', () => {
    assert.equal(clearanceFor({ pipeClass: 'JS', diameterMm: 200, pressureClass: null, burialMethod: null }).metres, 1.0);
    assert.equal(clearanceFor({ pipeClass: 'JS', diameterMm: null, pressureClass: null, burialMethod: null }).metres, 3.0);
    assert.equal(clearanceFor({ pipeClass: 'RQ', diameterMm: 200, pressureClass: '中压B', burialMethod: null }).metres, 1.0);
    assert.equal(clearanceFor({ pipeClass: 'RQ', diameterMm: 200, pressureClass: '次高压A', burialMethod: null }).metres, MAX_CLEARANCE_M);
    assert.equal(clearanceFor({ pipeClass: 'TX', diameterMm: null, pressureClass: null, burialMethod: 'ZM' }).metres, 1.0);
    assert.equal(clearanceFor({ pipeClass: 'TX', diameterMm: null, pressureClass: null, burialMethod: 'GK' }).metres, 1.5);
    assert.equal(clearanceFor({ pipeClass: 'PS', diameterMm: 600, pressureClass: null, burialMethod: null }).metres, 2.5);
    assert.equal(clearanceFor({ pipeClass: null, diameterMm: null, pressureClass: null, burialMethod: null }).metres, 3.0);
  });

  it('the HTML summary escapes whatever the data holds', () => {
    const hostile = '<script>alert("x")</script> & \'q\'';
    const r = checkPipes(new Footprint({ geometry: square(45, -5, 10) }), [pipe(hostile, line([0, 0], [100, 0]), { ...water, owner: hostile, material: hostile })], null);
    const html = digCheckHtml(r, { layers: ['<b>layer</b>'], withheld: ['gas"pipes'], generatedAt: new Date('2026-01-01T00:00:00Z') });
    assert.ok(!html.includes('<script>') && !html.includes('<b>layer'), 'markup from the data is not markup');
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;'));
    assert.ok(html.includes('gas&quot;pipes'));
    assert.equal(escapeHtml('a<b>&"\''), 'a&lt;b&gt;&amp;&quot;&#39;');
  });
});

// ---------------------------------------------------------------------------------------------
// Against PostGIS on the demo city.

const PIPE_LAYERS = ['drainage-pipes', 'gas-pipes', 'heat-pipes', 'power-cables', 'telecom-cables', 'water-supply-pipes'];

interface Expected { key: string; crossing: boolean; d: number; fmin: number | null; fmax: number | null; a: Record<string, unknown> }

describe('dig check on the demo city against PostGIS', () => {
  let store: TestStore;
  let demo: DemoServer;
  let server: Awaited<ReturnType<typeof startServer>>;
  let dir: string;
  const keys: Record<string, string> = {};

  before(async () => {
    demo = await openDemoServer({ seed: 20260101, scale: 0.1 });
    ({ store, server, dir } = demo);
    keys.admin = (await createApiKey(store.db, { name: 'admin', role: 'admin' })).key;
    keys.viewer = (await createApiKey(store.db, { name: 'viewer', role: 'viewer' })).key;
  });
  after(async () => {
    await demo?.close();
  });

  const post = (body: unknown, key?: string, query = '', accept = 'application/json') => postJson(`${server.url}/analysis/dig-check${query}`, body, { key, accept });

  /**
   * The same check done by PostGIS: geography distances to the exact shape (to the centre or the
   * axis minus the radius or half width), and the entry/exit fractions from ST_Intersection with
   * a 256-gon buffer (within a millimetre of the circle at these radii).
   */
  async function postgisCheck(fp: { geometry: object; radius?: number; width?: number }): Promise<Expected[]> {
    const g = JSON.stringify(fp.geometry);
    const offset = fp.radius ?? (fp.width !== undefined ? fp.width / 2 : 0);
    const shape = fp.radius !== undefined || fp.width !== undefined
      ? sql`st_buffer(st_setsrid(st_geomfromgeojson(${g}), 4490)::geography, ${offset}, 'quad_segs=64')::geometry`
      : sql`st_setsrid(st_geomfromgeojson(${g}), 4490)`;
    const { rows } = await sql<{ layer_id: string; feature_id: string; d: number; fmin: number | null; fmax: number | null; a: Record<string, unknown> }>`
      with fp as (select st_setsrid(st_geomfromgeojson(${g}), 4490) as core, st_setsrid(${shape}, 4490) as area)
      select p.layer_id, p.feature_id, p.attributes as a,
        greatest(0, st_distance(p.geom::geography, fp.core::geography) - ${offset}) as d,
        (select min(st_linelocatepoint(p.geom, (x).geom)) from st_dumppoints(st_intersection(p.geom, fp.area)) x) as fmin,
        (select max(st_linelocatepoint(p.geom, (x).geom)) from st_dumppoints(st_intersection(p.geom, fp.area)) x) as fmax
      from feature_version p, fp
      where p.layer_id = any(${PIPE_LAYERS}::text[]) and p.validity @> now()
        and st_dwithin(p.geom::geography, fp.core::geography, ${offset + MAX_CLEARANCE_M + 1})`.execute(store.db);
    return rows.map((r) => ({ key: `${r.layer_id}/${r.feature_id}`, crossing: r.d === 0, d: r.d, fmin: r.fmin, fmax: r.fmax, a: r.a }));
  }

  const depthOf = (a: Record<string, unknown>, f: number) => (a.start_depth_m as number) + ((a.end_depth_m as number) - (a.start_depth_m as number)) * f;

  const seen: Record<string, number> = { strike: 0, below: 0, near: 0 };

  async function compare(fp: { geometry: object; radius?: number; width?: number }, digDepth: number | null, label: string) {
    const r = await post({ ...fp, ...(digDepth === null ? {} : { depth: digDepth }) }, keys.admin);
    assert.equal(r.status, 200, `${label}: ${r.text}`);
    const expected = await postgisCheck(fp);
    const got = new Map<string, any>(r.body.features.map((f: any) => [f.id, f.properties]));
    let compared = 0;
    for (const e of expected) {
      const clearance = clearanceFor({
        pipeClass: (e.a.pipe_class as string) ?? null, diameterMm: (e.a.diameter_mm as number) ?? null,
        pressureClass: (e.a.pressure_class as string) ?? null, burialMethod: (e.a.burial_method as string) ?? null,
      }).metres;
      // Ties at the clearance or at the footprint's edge could go either way by a millimetre.
      if (Math.abs(e.d - clearance) < 0.01 || (e.d > 0 && e.d < 0.01)) { got.delete(e.key); continue; }
      const g = got.get(e.key);
      got.delete(e.key);
      if (e.d > clearance) { assert.equal(g, undefined, `${label}: ${e.key} is ${e.d} m away, beyond ${clearance} m`); continue; }
      assert.ok(g, `${label}: PostGIS finds ${e.key} at ${e.d} m (clearance ${clearance}), the API does not`);
      assert.ok(Math.abs(g.distance - e.d) <= 0.01, `${label}: ${e.key} distance ${g.distance} vs PostGIS ${e.d}`);
      if (e.crossing) {
        assert.ok(e.fmin !== null, `${label}: ${e.key} crosses but PostGIS finds no intersection`);
        const f = (e.a.end_depth_m as number) < (e.a.start_depth_m as number) ? e.fmax! : e.fmin!;
        const depth = depthOf(e.a, f);
        assert.ok(Math.abs(g.depth - depth) <= 0.001, `${label}: ${e.key} depth ${g.depth} vs PostGIS ${depth}`);
        const risk = digDepth === null || depth < digDepth + VERTICAL_MARGIN_M ? 'strike' : 'below';
        assert.equal(g.risk, risk, `${label}: ${e.key}`);
      } else {
        assert.equal(g.risk, 'near');
        // The depth is the pipe's own at the reported nearest point, and that point is at the reported distance.
        const { rows } = await sql<{ f: number; d: number }>`
          select st_linelocatepoint(p.geom, pt) as f,
            greatest(0, st_distance(pt::geography, st_setsrid(st_geomfromgeojson(${JSON.stringify(fp.geometry)}), 4490)::geography) - ${fp.radius ?? (fp.width ?? 0) / 2}) as d
          from feature_version p, (select st_setsrid(st_point(${g.depthAt[0]}, ${g.depthAt[1]}), 4490) as pt) x
          where p.layer_id = ${g.layer} and p.feature_id = ${g.featureId} and p.validity @> now()`.execute(store.db);
        assert.ok(Math.abs(depthOf(e.a, rows[0]!.f) - g.depth) <= 0.001, `${label}: ${e.key} depth at the nearest point`);
        assert.ok(Math.abs(rows[0]!.d - e.d) <= 0.01, `${label}: ${e.key} the reported point is ${rows[0]!.d} m away, PostGIS's nearest ${e.d}`);
      }
      seen[g.risk]++;
      compared++;
    }
    assert.deepEqual([...got.keys()], [], `${label}: the API reports utilities PostGIS does not find`);
    return compared;
  }

  async function crossings(n: number) {
    const { rows } = await sql<{ lon: number; lat: number }>`
      select st_x(p) as lon, st_y(p) as lat from (
        select st_startpoint(geom) as p from feature_version where layer_id = 'water-supply-pipes' and validity @> now()
        order by md5(feature_id) limit ${n}) x`.execute(store.db);
    return rows;
  }

  it('pits, trenches and polygons over road crossings: the same utilities, distances within 1 cm, depths within 1 mm', async () => {
    const spots = await crossings(6);
    let compared = 0;
    for (const [i, s] of spots.entries()) {
      const kx = metresPerDegreeLon(s.lat); const ky = metresPerDegreeLat(s.lat);
      const p = (e: number, n: number) => [s.lon + e / kx, s.lat + n / ky];
      const pit = { geometry: { type: 'Point', coordinates: p(3 + i, -2) }, radius: 4 + i };
      const trench = { geometry: { type: 'LineString', coordinates: [p(-25, -6 - i), p(-3, 2), p(20, 9 + i)] }, width: 1.2 };
      const poly = { geometry: { type: 'Polygon', coordinates: [[p(-8, -8), p(12, -6), p(4, 0), p(10, 14), p(-9, 6), p(-8, -8)]] } };
      compared += await compare(pit, i % 2 ? 1.5 : null, `pit ${i}`);
      compared += await compare(trench, 1.2, `trench ${i}`);
      compared += await compare(poly, i % 2 ? null : 2.0, `polygon ${i}`);
    }
    assert.ok(compared > 100, `${compared} utilities compared`);
    assert.ok(seen.strike > 10 && seen.below > 5 && seen.near > 10, `every risk class is compared: ${JSON.stringify(seen)}`);
  });

  it('restricted networks need clearance: without it they are listed as withheld; naming one is a 401/403', async () => {
    const [s] = await crossings(1);
    const fp = { geometry: { type: 'Point', coordinates: [s!.lon, s!.lat] }, radius: 12 };
    const anonymous = await post(fp);
    assert.equal(anonymous.status, 200);
    assert.deepEqual(anonymous.body.withheld, ['gas-pipes', 'power-cables']);
    assert.ok(anonymous.body.features.every((f: any) => !['gas-pipes', 'power-cables'].includes(f.properties.layer)));
    const admin = await post(fp, keys.admin);
    assert.deepEqual(admin.body.withheld, []);
    assert.ok(admin.body.features.some((f: any) => f.properties.layer === 'gas-pipes'));
    assert.equal((await post({ ...fp, layers: ['gas-pipes'] })).status, 401);
    assert.equal((await post({ ...fp, layers: ['gas-pipes'] }, keys.viewer)).status, 403);
    assert.equal((await post({ ...fp, layers: ['no-such-layer'] })).status, 404);
    assert.equal((await post({ ...fp, layers: ['buildings'] })).status, 400);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from audit_log where layer_id = 'gas-pipes' and route = '/analysis/dig-check'`.execute(store.db);
    assert.ok(rows[0]!.n >= 1, 'a restricted read is audited');
  });

  it('GeoJSON by default; a printable HTML summary with ?f=html or Accept: text/html', async () => {
    const [s] = await crossings(1);
    const fp = { geometry: { type: 'Point', coordinates: [s!.lon, s!.lat] }, radius: 10, depth: 1.5 };
    const json = await post(fp, keys.admin);
    assert.match(json.type, /application\/geo\+json/);
    assert.equal(json.body.type, 'FeatureCollection');
    assert.ok(json.body.features.length > 3);
    const f = json.body.features[0].properties;
    for (const k of ['risk', 'distance', 'depth', 'typeName', 'owner', 'material', 'diameterMm', 'clearance']) assert.ok(k in f, k);
    assert.match(json.body.rules.clearanceSource, /GB 50289-2016/);
    for (const [query, accept] of [['?f=html', 'application/json'], ['', 'text/html,application/xhtml+xml']] as const) {
      const html = await post(fp, keys.admin, query, accept);
      assert.equal(html.status, 200);
      assert.match(html.type, /text\/html/);
      assert.match(html.text, /<!doctype html>/);
      assert.equal((html.text.match(/<tr class="(strike|below|near)">/g) ?? []).length, json.body.features.length);
    }
    assert.equal((await post(fp, keys.admin, '?f=xml')).status, 400);
  });

  it('bad footprints are a 400 that says what is wrong', async () => {
    const [s] = await crossings(1);
    const { lon, lat } = s!;
    const cases: Array<[string, unknown, RegExp]> = [
      ['self-intersecting', { geometry: { type: 'Polygon', coordinates: [[[lon, lat], [lon + 1e-4, lat + 1e-4], [lon + 1e-4, lat], [lon, lat + 1e-4], [lon, lat]]] } }, /cross/],
      ['empty', { geometry: { type: 'Polygon', coordinates: [] } }, /empty/],
      ['enormous', { geometry: { type: 'Polygon', coordinates: [[[lon, lat], [lon + 0.1, lat], [lon + 0.1, lat + 0.1], [lon, lat]]] } }, /limit/],
      ['projected metres', { geometry: { type: 'Point', coordinates: [560000, 2755000] }, radius: 5 }, /projected metres/],
      ['latitude out of range', { geometry: { type: 'Point', coordinates: [lon, 95] }, radius: 5 }, /longitude and latitude/],
      ['unknown crs', { geometry: { type: 'Point', coordinates: [lon, lat] }, radius: 5, crs: 'EPSG:99999' }, /CRS/],
      ['no radius', { geometry: { type: 'Point', coordinates: [lon, lat] } }, /radius/],
      ['no width', { geometry: { type: 'LineString', coordinates: [[lon, lat], [lon + 1e-4, lat]] } }, /width/],
      ['radius on a polygon', { geometry: { type: 'Polygon', coordinates: [[[lon, lat], [lon + 1e-4, lat], [lon, lat + 1e-4], [lon, lat]]] }, radius: 3 }, /radius/],
      ['negative radius', { geometry: { type: 'Point', coordinates: [lon, lat] }, radius: -1 }, /radius/],
      ['huge radius', { geometry: { type: 'Point', coordinates: [lon, lat] }, radius: 5000 }, /radius/],
      ['depth not a number', { geometry: { type: 'Point', coordinates: [lon, lat] }, radius: 3, depth: 'deep' }, /depth/],
      ['unknown member', { geometry: { type: 'Point', coordinates: [lon, lat] }, radius: 3, radus: 4 }, /unknown member/],
      ['a MultiPoint', { geometry: { type: 'MultiPoint', coordinates: [[lon, lat]] }, radius: 3 }, /type/],
      ['no geometry', { radius: 3 }, /geometry/],
    ];
    for (const [label, body, message] of cases) {
      const r = await post(body);
      assert.equal(r.status, 400, `${label}: ${r.text}`);
      assert.match(r.body.error.message, message, label);
    }
    const notJson = await fetch(`${server.url}/analysis/dig-check`, { method: 'POST', body: '{', headers: { 'Content-Type': 'application/json' } });
    assert.equal(notJson.status, 400);
  });

  it('a footprint given in Gauss-Krüger metres (crs EPSG:4549) finds what its CRS84 twin finds', async () => {
    const [s] = await crossings(1);
    const { rows } = await sql<{ x: number; y: number }>`select st_x(p) as x, st_y(p) as y from (select st_transform(st_setsrid(st_point(${s!.lon}, ${s!.lat}), 4490), 4549) as p) t`.execute(store.db);
    const gk = await post({ geometry: { type: 'Point', coordinates: [rows[0]!.x, rows[0]!.y] }, crs: 'EPSG:4549', radius: 8 }, keys.admin);
    const ll = await post({ geometry: { type: 'Point', coordinates: [s!.lon, s!.lat] }, radius: 8 }, keys.admin);
    assert.equal(gk.status, 200, gk.text);
    assert.deepEqual(gk.body.features.map((f: any) => f.id), ll.body.features.map((f: any) => f.id));
  });
});
