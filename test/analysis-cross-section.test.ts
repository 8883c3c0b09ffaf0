import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { LineString } from 'geojson';
import type { TestStore } from './helpers/stores.ts';
import { openDemoServer, postJson, type DemoServer } from './helpers/demo-server.ts';
import { startServer } from './helpers/server.ts';
import { createApiKey } from '../store/access.ts';
import { sectionCrossings } from '../analysis/cross-section.ts';
import { sectionSvg } from '../analysis/section-svg.ts';
import { metresPerDegreeLat, metresPerDegreeLon } from '../position/asset-geodesy.ts';
import { at, line } from './helpers/local-frame.ts';


describe('cross-section on hand-made pipes (analysis/cross-section.ts)', () => {
  const pipes = [
    { layerId: 'p', featureId: 'water', geometry: line([-50, 3], [50, 3]), attributes: { pipe_class: 'JS', diameter_mm: 300, start_depth_m: 1.0, end_depth_m: 2.0 } },
    { layerId: 'p', featureId: 'sewer', geometry: line([-50, -4], [50, -4]), attributes: { pipe_class: 'PS', sub_type: 'WS', diameter_mm: 600, start_depth_m: 3.0, end_depth_m: 3.0 } },
    { layerId: 'p', featureId: 'zigzag', geometry: line([-20, -10], [-10, 10], [0, -10]), attributes: { pipe_class: 'TX', section_size: '400x300', start_depth_m: 0.8, end_depth_m: 0.8 } },
    { layerId: 'p', featureId: 'elsewhere', geometry: line([100, 0], [120, 0]), attributes: { pipe_class: 'DL' } },
  ];

  it('orders the crossings along the line, with offsets in metres and interpolated depths; a pipe crossed twice appears twice', () => {
    // South to north along x = -15 … then the line turns east.
    const r = sectionCrossings(line([-15, -20], [-15, 20], [5, 20]), pipes);
    assert.deepEqual(r.crossings.map((c) => c.featureId), ['sewer', 'zigzag', 'water']);
    assert.ok(Math.abs(r.lengthM - 60) < 1e-3, String(r.lengthM));
    const [sewer, zigzag, water] = r.crossings;
    assert.ok(Math.abs(sewer!.offsetM - 16) < 1e-3 && Math.abs(zigzag!.offsetM - 20) < 1e-3 && Math.abs(water!.offsetM - 23) < 1e-3);
    assert.ok(Math.abs(water!.depthM! - 1.35) < 1e-6, String(water!.depthM));
    assert.equal(sewer!.typeName, '排水');
    assert.equal(sewer!.subTypeName, '污水');
    const twice = sectionCrossings(line([-25, 0], [5, 0]), pipes);
    assert.deepEqual(twice.crossings.map((c) => c.featureId), ['zigzag', 'zigzag']);
    assert.ok(Math.abs(twice.crossings[0]!.offsetM - 10) < 1e-3 && Math.abs(twice.crossings[1]!.offsetM - 20) < 1e-3);
  });

  it('through a pipe vertex: one crossing, not two; no pipe crossed: an empty section', () => {
    const r = sectionCrossings(line([-10, -5], [-10, 15]), pipes);
    assert.equal(r.crossings.filter((c) => c.featureId === 'zigzag').length, 1);
    assert.deepEqual(sectionCrossings(line([200, 0], [210, 0]), pipes).crossings, []);
  });

  it('draws circles sized by diameter at depth, rectangles for duct banks, a ground line and escaped labels', () => {
    const hostile = { layerId: 'p', featureId: '<x&y>', geometry: line([-50, 8], [50, 8]), attributes: { pipe_class: '<b>', diameter_mm: 100, start_depth_m: 1, end_depth_m: 1 } };
    const svg = sectionSvg(sectionCrossings(line([-15, -20], [-15, 20]), [...pipes, hostile]));
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /class="ground"/);
    assert.equal((svg.match(/<circle class="pipe"/g) ?? []).length, 3);
    assert.equal((svg.match(/<rect class="pipe"/g) ?? []).length, 1, 'the 400x300 duct bank');
    assert.ok(!svg.includes('<x&y>') && !svg.includes('<b>'));
    assert.ok(svg.includes('&lt;x&amp;y&gt;'));
    assert.match(svg, /给水 DN300 1\.\d\dm/);
    // The sewer (DN600) is drawn twice the radius of the water main (DN300).
    const radii = [...svg.matchAll(/<circle class="pipe" data-id="p\/(\w+)" cx="[\d.]+" cy="[\d.]+" r="([\d.]+)"/g)].map((m) => [m[1], Number(m[2])]);
    const r = Object.fromEntries(radii);
    assert.ok(Math.abs((r.sewer as number) / (r.water as number) - 2) < 0.02, JSON.stringify(r));
  });
});

const PIPE_LAYERS = ['drainage-pipes', 'gas-pipes', 'heat-pipes', 'power-cables', 'telecom-cables', 'water-supply-pipes'];

describe('cross-section on the demo city against PostGIS', () => {
  let store: TestStore;
  let demo: DemoServer;
  let server: Awaited<ReturnType<typeof startServer>>;
  let dir: string;
  let admin = '';

  before(async () => {
    demo = await openDemoServer({ seed: 20260101, scale: 0.1 });
    ({ store, server, dir } = demo);
    admin = (await createApiKey(store.db, { name: 'admin', role: 'admin' })).key;
  });
  after(async () => {
    await demo?.close();
  });

  const post = (body: unknown, key?: string, query = '', accept = 'application/json') => postJson(`${server.url}/analysis/cross-section${query}`, body, { key, accept });

  /** Section lines across roads: perpendicular to a road segment at its middle, 60 m long, some with a bend. */
  async function sectionLines(n: number): Promise<LineString[]> {
    const { rows } = await sql<{ g: string }>`
      select st_asgeojson(geom) as g from feature_version where layer_id = 'roads' and validity @> now()
      order by md5(feature_id) limit ${n}`.execute(store.db);
    return rows.map((r, i) => {
      const c = (JSON.parse(r.g) as LineString).coordinates;
      const [a, b] = [c[0]!, c[c.length - 1]!];
      const lat = (a[1]! + b[1]!) / 2;
      const kx = metresPerDegreeLon(lat); const ky = metresPerDegreeLat(lat);
      const ex = (b[0]! - a[0]!) * kx; const ey = (b[1]! - a[1]!) * ky;
      const len = Math.hypot(ex, ey);
      const [nx, ny] = [-ey / len, ex / len];
      const [mx, my] = [(a[0]! + b[0]!) / 2, lat];
      const p = (s: number, along = 0) => [mx + (s * nx + along * ex / len) / kx, my + (s * ny + along * ey / len) / ky];
      return { type: 'LineString', coordinates: i % 2 ? [p(-30), p(30)] : [p(-30), p(0, 3), p(30, 1)] } as LineString;
    });
  }

  it('the same crossings as ST_Intersection, in the same order, offsets within 1 cm (ST_LineLocatePoint), depths within 1 mm', async () => {
    let compared = 0;
    for (const [i, section] of (await sectionLines(8)).entries()) {
      const r = await post({ geometry: section }, admin);
      assert.equal(r.status, 200, r.text);
      const g = JSON.stringify(section);
      const { rows } = await sql<{ layer_id: string; feature_id: string; off: number; depth: number | null }>`
        with s as (select st_setsrid(st_geomfromgeojson(${g}), 4490) as s)
        select layer_id, feature_id,
          st_length(st_linesubstring(s.s, 0, st_linelocatepoint(s.s, (x).geom))::geography) as off,
          (attributes->>'start_depth_m')::float8 + ((attributes->>'end_depth_m')::float8 - (attributes->>'start_depth_m')::float8)
            * st_linelocatepoint(geom, (x).geom) as depth
        from (select p.*, st_dumppoints(st_intersection(p.geom, s.s)) as x from feature_version p, s
              where p.layer_id = any(${PIPE_LAYERS}::text[]) and p.validity @> now() and st_intersects(p.geom, s.s)) q, s
        order by off, layer_id, feature_id`.execute(store.db);
      assert.equal(r.body.crossings.length, rows.length, `section ${i}: ${r.body.crossings.length} crossings, PostGIS ${rows.length}`);
      assert.ok(rows.length >= 5, `section ${i} crosses the road's pipes (${rows.length})`);
      rows.forEach((e, k) => {
        const c = r.body.crossings[k];
        assert.equal(`${c.layer}/${c.featureId}`, `${e.layer_id}/${e.feature_id}`, `section ${i} #${k}`);
        assert.ok(Math.abs(c.offset - e.off) <= 0.01, `section ${i} #${k}: offset ${c.offset} vs ${e.off}`);
        assert.ok(Math.abs(c.depth - e.depth!) <= 0.001, `section ${i} #${k}: depth ${c.depth} vs ${e.depth}`);
        compared++;
      });
      assert.ok(Math.abs(r.body.length - (await sql<{ l: number }>`select st_length(st_setsrid(st_geomfromgeojson(${g}), 4490)::geography) as l`.execute(store.db)).rows[0]!.l) < 0.01);
    }
    assert.ok(compared > 40, `${compared} crossings compared`);
  });

  it('SVG with ?f=svg or Accept: image/svg+xml, one shape per crossing', async () => {
    const [section] = await sectionLines(1);
    const json = await post({ geometry: section }, admin);
    for (const [query, accept] of [['?f=svg', 'application/json'], ['', 'image/svg+xml']] as const) {
      const r = await post({ geometry: section }, admin, query, accept);
      assert.equal(r.status, 200);
      assert.match(r.type, /image\/svg\+xml/);
      assert.equal((r.text.match(/class="pipe"/g) ?? []).length, json.body.crossings.length);
    }
  });

  it('restricted networks are left out without clearance and named as withheld', async () => {
    const [section] = await sectionLines(1);
    const r = await post({ geometry: section });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.withheld, ['gas-pipes', 'power-cables']);
    assert.ok(r.body.crossings.every((c: any) => c.layer !== 'gas-pipes' && c.layer !== 'power-cables'));
    assert.equal((await post({ geometry: section, layers: ['power-cables'] })).status, 401);
  });

  it('bad lines are a 400', async () => {
    const cases: Array<[string, unknown]> = [
      ['a polygon', { geometry: { type: 'Polygon', coordinates: [[[118.6, 24.9], [118.601, 24.9], [118.6, 24.901], [118.6, 24.9]]] } }],
      ['one position', { geometry: { type: 'LineString', coordinates: [[118.6, 24.9]] } }],
      ['repeated position only', { geometry: { type: 'LineString', coordinates: [[118.6, 24.9], [118.6, 24.9]] } }],
      ['empty', { geometry: { type: 'LineString', coordinates: [] } }],
      ['too long', { geometry: { type: 'LineString', coordinates: [[118.5, 24.9], [118.7, 24.9]] } }],
      ['metres', { geometry: { type: 'LineString', coordinates: [[560000, 2755000], [560050, 2755000]] } }],
      ['a width', { geometry: { type: 'LineString', coordinates: [[118.6, 24.9], [118.601, 24.9]] }, width: 3 }],
    ];
    for (const [label, body] of cases) {
      const r = await post(body);
      assert.equal(r.status, 400, `${label}: ${r.text}`);
    }
  });
});
