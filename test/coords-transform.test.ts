import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openTestStore, type TestStore } from './helpers/stores.ts';
import { startServer, getJson, type RunningServer } from './helpers/server.ts';
import { CoordsInputError, MAX_POINTS, parsePointList, readPoints, transformCrs, transformPoints, type Point } from '../analysis/coords.ts';

const convert = (from: string, to: string, points: Point[]) => transformPoints(transformCrs(from, 'from'), transformCrs(to, 'to'), readPoints(points, transformCrs(from, 'from')));

/** A seeded grid over Fujian (115.8–120.7°E, 23.5–28.3°N), corners and edges included. */
function fujianPoints(): Array<[number, number]> {
  const pts: Array<[number, number]> = [];
  for (let i = 0; i <= 7; i++) for (let j = 0; j <= 6; j++) pts.push([115.8 + (i * 4.9) / 7, 23.5 + (j * 4.8) / 6]);
  pts.push([118.6, 24.9], [118.5873, 24.9089]);
  return pts;
}

describe('coordinate conversion (analysis/coords.ts)', () => {
  it('reproduces the published GCJ-02 vector WGS84 (31.1774276, 121.5272106) → (31.17530398364597, 121.531541859215) to 1e-6°', () => {
    const [[lon, lat]] = convert('EPSG:4326', 'GCJ02', [[121.5272106, 31.1774276]]) as [[number, number]];
    assert.ok(Math.abs(lon - 121.531541859215) < 1e-6, `${lon}`);
    assert.ok(Math.abs(lat - 31.17530398364597) < 1e-6, `${lat}`);
    // And back: the inverse iterates to below a millimetre, not the one-step approximation.
    const [[wLon, wLat]] = convert('GCJ02', 'CRS84', [[121.531541859215, 31.17530398364597]]) as [[number, number]];
    assert.ok(Math.abs(wLon - 121.5272106) < 1e-7 && Math.abs(wLat - 31.1774276) < 1e-7, `${wLon} ${wLat}`);
  });

  it('reproduces the published BD-09 vectors (wandergis/coordtransform): GCJ-02 (116.404, 39.915) → BD-09 (116.41036949371029, 39.92133699351021)', () => {
    const [[lon, lat]] = convert('GCJ02', 'BD09', [[116.404, 39.915]]) as [[number, number]];
    assert.ok(Math.abs(lon - 116.41036949371029) < 1e-9 && Math.abs(lat - 39.92133699351021) < 1e-9, `${lon} ${lat}`);
    const [[gLon, gLat]] = convert('WGS84', 'GCJ02', [[116.404, 39.915]]) as [[number, number]];
    assert.ok(Math.abs(gLon - 116.41024449916938) < 1e-9 && Math.abs(gLat - 39.91640428150164) < 1e-9, `${gLon} ${gLat}`);
    // WGS84 → BD-09 is the two steps in one.
    const [[bLon, bLat]] = convert('CRS84', 'BD09', [[116.404, 39.915]]) as [[number, number]];
    const [[b2Lon, b2Lat]] = convert('GCJ02', 'BD09', [[gLon, gLat]]) as [[number, number]];
    assert.ok(Math.abs(bLon - b2Lon) < 1e-12 && Math.abs(bLat - b2Lat) < 1e-12);
  });

  it('round-trips every pair of systems over Fujian to a millimetre, and passes a third coordinate through', () => {
    const systems = ['CRS84', 'EPSG:4490', 'EPSG:4549', 'EPSG:4548', 'EPSG:4527', 'EPSG:4498', 'EPSG:32650', 'EPSG:3857', 'GCJ02', 'BD09'];
    const start = fujianPoints().filter(([lon]) => lon >= 116 && lon <= 120.5);
    for (const from of systems) {
      const there = convert('EPSG:4490', from, start);
      for (const to of systems) {
        const back = convert(to, 'EPSG:4490', convert(from, to, there));
        back.forEach((p, i) => {
          const dx = (p[0] - start[i]![0]) * 101_000;
          const dy = (p[1] - start[i]![1]) * 111_000;
          assert.ok(Math.hypot(dx, dy) < 0.001, `${from} → ${to} → 4490 at ${start[i]}: ${Math.hypot(dx, dy)} m`);
        });
      }
    }
    assert.deepEqual(convert('CRS84', 'CRS84', [[118.6, 24.9, -2.5]]), [[118.6, 24.9, -2.5]]);
    assert.equal(convert('CRS84', 'EPSG:4549', [[118.6, 24.9, -2.5]])[0]![2], -2.5);
  });

  it('refuses unknown systems, too many points, non-numbers and out-of-range coordinates, saying which', () => {
    const code = (fn: () => unknown) => {
      try { fn(); } catch (err) { assert.ok(err instanceof CoordsInputError); return err.parameter; }
      assert.fail('expected a CoordsInputError');
    };
    assert.equal(code(() => transformCrs('EPSG:2437', 'from')), 'from');
    assert.equal(code(() => transformCrs('', 'to')), 'to');
    const crs = transformCrs('CRS84', 'from');
    assert.equal(code(() => readPoints(Array.from({ length: MAX_POINTS + 1 }, () => [118, 24]), crs)), 'points');
    assert.equal(code(() => readPoints([], crs)), 'points');
    assert.equal(code(() => readPoints([[118, 24], [118, '24']], crs)), 'points[1]');
    assert.equal(code(() => readPoints([[118, Number.NaN]], crs)), 'points[0]');
    assert.equal(code(() => readPoints([[24.9, 118.6]], crs)), 'points[0]', 'lat/lon swapped');
    assert.equal(code(() => readPoints([[500000, 2750000]], crs)), 'points[0]', 'metres as degrees');
    assert.equal(code(() => readPoints([[440000, 2755000]], transformCrs('EPSG:4528', 'from'))), 'points[0]', 'an easting without the zone prefix');
    assert.equal(code(() => convert('CRS84', 'EPSG:4549', [[10, 50]])), 'points[0]', 'far outside the zone');
    assert.equal(code(() => parsePointList('118.6,24.9;118.7')), 'points[1]');
    assert.equal(code(() => parsePointList('118.6,NaN')), 'points[0]');
    assert.equal(readPoints(Array.from({ length: MAX_POINTS }, () => [118, 24]), crs).length, MAX_POINTS);
  });
});

describe('coordinate conversion against PostGIS ST_Transform and over HTTP', () => {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await openTestStore('postgres');
    server = await startServer(store);
  });
  after(async () => {
    await server?.close();
    await store?.cleanup();
  });

  async function postgisTransform(points: Array<[number, number]>, fromSrid: number, toSrid: number): Promise<Array<[number, number]>> {
    const { rows } = await sql<{ x: number; y: number }>`
      select st_x(p) as x, st_y(p) as y
      from jsonb_array_elements(${JSON.stringify(points)}::jsonb) with ordinality as e(c, i)
      cross join lateral st_transform(st_setsrid(st_makepoint((c->>0)::float8, (c->>1)::float8), ${fromSrid}::int), ${toSrid}::int) as p
      order by i`.execute(store.db);
    return rows.map((r) => [r.x, r.y]);
  }

  it('agrees with ST_Transform within 1 cm for Gauss-Krüger zones, UTM and Web Mercator, both ways, across Fujian', async () => {
    const lonLat = fujianPoints();
    // Fujian's zones: 3° CM 117E/120E with and without the zone prefix, 6° zone 20 and CM 117E, UTM 50N.
    for (const srid of [4548, 4549, 4527, 4528, 4498, 4509, 32650, 3857]) {
      const ours = convert('EPSG:4490', `EPSG:${srid}`, lonLat);
      const theirs = await postgisTransform(lonLat, 4490, srid);
      ours.forEach((p, i) => {
        const d = Math.hypot(p[0] - theirs[i]![0], p[1] - theirs[i]![1]);
        assert.ok(d < 0.01, `EPSG:${srid} at ${lonLat[i]}: ${d} m from PostGIS`);
      });
      const back = convert(`EPSG:${srid}`, 'EPSG:4490', theirs);
      const theirsBack = await postgisTransform(theirs, srid, 4490);
      back.forEach((p, i) => {
        const d = Math.hypot((p[0] - theirsBack[i]![0]) * 101_000, (p[1] - theirsBack[i]![1]) * 111_000);
        assert.ok(d < 0.01, `EPSG:${srid} → 4490 at ${lonLat[i]}: ${d} m from PostGIS`);
      });
    }
  });

  it('POST and GET /coords/transform answer the same, easting first', async () => {
    const res = await fetch(`${server.url}/coords/transform`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ from: 'CRS84', to: 'EPSG:4549', points: [[118.6, 24.9], [118.61, 24.91, 3]] }),
    });
    assert.equal(res.status, 200);
    const posted = await res.json() as { from: string; to: string; points: number[][] };
    assert.equal(posted.from, 'CRS84');
    assert.equal(posted.to, 'EPSG:4549');
    const theirs = await postgisTransform([[118.6, 24.9]], 4490, 4549);
    assert.ok(Math.hypot(posted.points[0]![0]! - theirs[0]![0], posted.points[0]![1]! - theirs[0]![1]) < 0.01);
    assert.ok(posted.points[0]![0]! < 500_000, 'west of 120°E the easting is below the false easting');
    assert.equal(posted.points[1]![2], 3);
    const got = await getJson(`${server.url}/coords/transform?from=CRS84&to=EPSG:4549&points=118.6,24.9;118.61,24.91,3`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body.points, posted.points);
    const gcj = await getJson(`${server.url}/coords/transform?from=wgs84&to=gcj-02&points=121.5272106,31.1774276`);
    assert.ok(Math.abs(gcj.body.points[0][1] - 31.17530398364597) < 1e-6);
  });

  it('answers bad requests with a 400 naming the parameter', async () => {
    const post = async (body: unknown) => {
      const res = await fetch(`${server.url}/coords/transform`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: await res.json() as { error: { code: string; message: string; details: { parameter?: string } } } };
    };
    const cases: Array<[unknown, string]> = [
      [{ from: 'EPSG:9999', to: 'CRS84', points: [[1, 2]] }, 'from'],
      [{ from: 'CRS84', to: 'BD-10', points: [[1, 2]] }, 'to'],
      [{ from: 'CRS84', to: 'GCJ02', points: Array.from({ length: MAX_POINTS + 1 }, () => [118, 24]) }, 'points'],
      [{ from: 'CRS84', to: 'GCJ02', points: [[118, 24], ['118', 24]] }, 'points[1]'],
      [{ from: 'CRS84', to: 'GCJ02', points: [[118, 95]] }, 'points[0]'],
      [{ from: 'CRS84', to: 'GCJ02', points: 'nope' }, 'points'],
      [{ from: 'CRS84', to: 'GCJ02', points: [[118, 24]], extra: 1 }, 'extra'],
    ];
    for (const [body, parameter] of cases) {
      const r = await post(body);
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
      assert.equal(r.body.error.details.parameter, parameter, r.body.error.message);
    }
    // NaN cannot be written in JSON; in a query string it is refused as a non-number.
    const nan = await getJson(`${server.url}/coords/transform?from=CRS84&to=GCJ02&points=118,NaN`);
    assert.equal(nan.status, 400);
    assert.equal(nan.body.error.details.parameter, 'points[0]');
    const missing = await getJson(`${server.url}/coords/transform?from=CRS84&points=118,24`);
    assert.equal(missing.body.error.details.parameter, 'to');
    const unknown = await getJson(`${server.url}/coords/transform?from=CRS84&to=GCJ02&points=118,24&srs=x`);
    assert.equal(unknown.body.error.details.parameter, 'srs');
  });
});
