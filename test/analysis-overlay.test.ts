import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { Geometry, LineString, Polygon } from 'geojson';
import type { TestStore } from './helpers/stores.ts';
import { openDemoServer, type DemoServer } from './helpers/demo-server.ts';
import type { RunningServer } from './helpers/server.ts';
import { generateDemoCity, type DemoCity } from '../fixtures/demo-city/index.ts';
import { createApiKey } from '../store/access.ts';
import { GeometryInputError, readRequestGeometry, type GeometryInputReason } from '../analysis/geometry-input.ts';
import { findCrs, fromCgcs2000 } from '../data-import/crs/index.ts';
import { metresPerDegreeLat, metresPerDegreeLon } from '../position/asset-geodesy.ts';

const SEED = 20260101;
const SCALE = 0.05;
const LON = 118.59;
const LAT = 24.91;

/** A rectangle `w` × `h` metres with its south-west corner `east`, `north` metres from (lon, lat). */
function rect(lon: number, lat: number, east: number, north: number, w: number, h: number): Polygon {
  const kx = metresPerDegreeLon(lat);
  const ky = metresPerDegreeLat(lat);
  const p = (e: number, n: number) => [lon + e / kx, lat + n / ky];
  return { type: 'Polygon', coordinates: [[p(east, north), p(east + w, north), p(east + w, north + h), p(east, north + h), p(east, north)]] };
}

function reasonOf(input: unknown, crs?: string): GeometryInputReason | 'ok' {
  try {
    readRequestGeometry(input, { crs });
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof GeometryInputError, String(err));
    return err.reason;
  }
}

describe('request geometry validation (analysis/geometry-input.ts)', () => {
  const square = rect(LON, LAT, 0, 0, 100, 100);

  it('accepts valid geometries, a Feature, a polygon with a hole, and returns CRS84 in 2D', () => {
    assert.equal(reasonOf(square), 'ok');
    assert.equal(reasonOf({ type: 'Feature', properties: {}, geometry: square }), 'ok');
    assert.equal(reasonOf({ type: 'Point', coordinates: [LON, LAT, 5] }), 'ok');
    assert.equal(reasonOf({ type: 'LineString', coordinates: [[LON, LAT], [LON + 0.001, LAT], [LON + 0.001, LAT + 0.001], [LON + 0.0005, LAT - 0.001]] }), 'ok', 'a line may cross itself');
    const hole = rect(LON, LAT, 20, 20, 30, 30).coordinates[0]!.reverse();
    assert.equal(reasonOf({ type: 'Polygon', coordinates: [square.coordinates[0], hole] }), 'ok');
    assert.equal(reasonOf({ type: 'MultiPolygon', coordinates: [square.coordinates, rect(LON, LAT, 200, 0, 50, 50).coordinates] }), 'ok');
    const p = readRequestGeometry({ type: 'Point', coordinates: [LON, LAT, 5] });
    assert.deepEqual(p, { type: 'Point', coordinates: [LON, LAT] });
  });

  it('converts from the CRS given: Gauss-Krüger metres land where the lon/lat square is', () => {
    const toGk = fromCgcs2000(findCrs('EPSG:4549')!);
    const gk = { type: 'Polygon', coordinates: [square.coordinates[0]!.map(([lon, lat]) => toGk(lon!, lat!))] };
    const back = readRequestGeometry(gk, { crs: 'EPSG:4549' }) as Polygon;
    back.coordinates[0]!.forEach((c, i) => {
      assert.ok(Math.abs(c[0]! - square.coordinates[0]![i]![0]!) < 1e-9 && Math.abs(c[1]! - square.coordinates[0]![i]![1]!) < 1e-9);
    });
  });

  it('refuses each kind of bad geometry with its reason', () => {
    const ring = square.coordinates[0]!;
    const cases: Array<[unknown, GeometryInputReason, string?]> = [
      [undefined, 'missing'],
      [{ type: 'GeometryCollection', geometries: [] }, 'type'],
      [[LON, LAT], 'type'],
      [{ type: 'Polygon', coordinates: [] }, 'empty'],
      [{ type: 'Point', coordinates: [] }, 'empty'],
      [{ type: 'LineString', coordinates: [[LON, LAT], [LON, 'x']] }, 'coordinates'],
      [{ type: 'Point', coordinates: [LON, Number.NaN] }, 'coordinates'],
      [{ type: 'Point', coordinates: [LON, LAT] }, 'crs', 'EPSG:2437'],
      // Survey metres sent as CRS84, and degrees sent as a zone-prefixed Gauss-Krüger zone.
      [{ type: 'Point', coordinates: [358546, 2755704] }, 'out-of-range'],
      [{ type: 'Point', coordinates: [LON, LAT] }, 'out-of-range', 'EPSG:4528'],
      [{ type: 'Point', coordinates: [LAT, 118.59] }, 'out-of-range'],
      [{ type: 'LineString', coordinates: [[LON, LAT], [LON, LAT]] }, 'degenerate'],
      [{ type: 'Polygon', coordinates: [ring.slice(0, 4)] }, 'unclosed-ring'],
      [{ type: 'Polygon', coordinates: [[ring[0], ring[1], ring[0], ring[0]]] }, 'degenerate'],
      // The bow tie: two triangles meeting where the edges cross.
      [{ type: 'Polygon', coordinates: [[ring[0], ring[1], ring[3], ring[2], ring[0]]] }, 'self-intersection'],
      [{ type: 'Polygon', coordinates: [ring, rect(LON, LAT, 50, 50, 100, 100).coordinates[0]] }, 'self-intersection'],
      [{ type: 'Polygon', coordinates: [ring, rect(LON, LAT, 300, 300, 10, 10).coordinates[0]] }, 'ring-outside'],
      [{ type: 'MultiPolygon', coordinates: [square.coordinates, rect(LON, LAT, 10, 10, 20, 20).coordinates] }, 'self-intersection'],
      [{ type: 'MultiPolygon', coordinates: [square.coordinates, rect(LON, LAT, 50, 50, 100, 100).coordinates] }, 'self-intersection'],
      [rect(LON, LAT, 0, 0, 6000, 6000), 'too-large'],
      [{ type: 'LineString', coordinates: [[LON, LAT], [LON + 0.5, LAT]] }, 'too-large'],
      [{ type: 'MultiPoint', coordinates: Array.from({ length: 10_001 }, (_, i) => [LON + i * 1e-6, LAT]) }, 'too-many-vertices'],
    ];
    for (const [input, reason, crs] of cases) assert.equal(reasonOf(input, crs), reason, JSON.stringify(input)?.slice(0, 120));
  });
});

describe(`overlay on postgres (demo city scale ${SCALE})`, () => {
  let store: TestStore;
  let demo: DemoServer;
  let server: RunningServer;
  let city: DemoCity;
  let dir: string;
  const keys: Record<string, string> = {};

  before(async () => {
    demo = await openDemoServer({ seed: SEED, scale: SCALE });
    ({ store, server, dir } = demo);
    city = generateDemoCity({ seed: SEED, scale: SCALE });
    keys.gas = (await createApiKey(store.db, { name: 'gas crew', role: 'field', clearances: ['gas-pipes'] })).key;
  });
  after(async () => {
    await demo?.close();
  });

  async function post(body: unknown, key?: string) {
    const res = await fetch(`${server.url}/analysis/overlay`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', ...(key ? { 'X-API-Key': key } : {}) }, body: JSON.stringify(body),
    });
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.json() as any };
  }

  /** The same overlay as one PostGIS query, without the bounding-box prefilter the service adds. */
  async function postgisOverlay(layer: string, geometry: Geometry, distance: number, at = 'now()') {
    const g = sql`st_setsrid(st_geomfromgeojson(${JSON.stringify(geometry)}), 4490)`;
    const region = distance === 0 ? g : sql`st_setsrid(st_buffer(${g}::geography, ${distance}::float8, 'quad_segs=16')::geometry, 4490)`;
    const { rows } = await sql<{ n: number; length_m: number; area_m2: number; inside_length_m: number; inside_area_m2: number; ids: string[] }>`
      select count(*)::int as n,
        coalesce(sum(st_length(geom::geography)) filter (where st_dimension(geom) = 1), 0)::float8 as length_m,
        coalesce(sum(st_area(geom::geography)) filter (where st_dimension(geom) = 2), 0)::float8 as area_m2,
        coalesce(sum(st_length(st_intersection(st_force2d(geom), ${region})::geography)) filter (where st_dimension(geom) = 1), 0)::float8 as inside_length_m,
        coalesce(sum(st_area(st_intersection(st_force2d(geom), ${region})::geography)) filter (where st_dimension(geom) = 2), 0)::float8 as inside_area_m2,
        coalesce(array_agg(feature_id order by feature_id), '{}') as ids
      from feature_version
      where layer_id = ${layer} and validity @> ${sql.raw(at === 'now()' ? 'now()' : `'${at}'::timestamptz`)}
        and st_dwithin(geom::geography, ${g}::geography, ${distance}::float8)`.execute(store.db);
    return rows[0]!;
  }

  async function aRoad(): Promise<LineString> {
    const { rows } = await sql<{ g: string }>`select st_asgeojson(geom) as g from feature_version
      where layer_id = 'roads' and validity @> now() and st_length(geom::geography) > 150 order by feature_id limit 1`.execute(store.db);
    return JSON.parse(rows[0]!.g) as LineString;
  }

  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)) + 0.01, `${what}: ${a} vs PostGIS ${b}`);

  function compare(body: any, oracle: Awaited<ReturnType<typeof postgisOverlay>>) {
    assert.equal(body.summary.count, oracle.n);
    close(body.summary.lengthM, oracle.length_m, 'lengthM');
    close(body.summary.areaM2, oracle.area_m2, 'areaM2');
    close(body.summary.insideLengthM, oracle.inside_length_m, 'insideLengthM');
    close(body.summary.insideAreaM2, oracle.inside_area_m2, 'insideAreaM2');
  }

  it('finds what lies within 50 m of a planned road: the same features, lengths and areas as PostGIS', async () => {
    const road = await aRoad();
    for (const layer of ['buildings', 'water-supply-pipes', 'land-parcels', 'water-supply-points']) {
      const res = await post({ layer, geometry: road, distance: 50, limit: 10000 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.match(res.type, /geo\+json/);
      const oracle = await postgisOverlay(layer, road, 50);
      assert.ok(oracle.n > 0, `${layer}: the road has something near it`);
      compare(res.body, oracle);
      assert.deepEqual(res.body.features.map((f: { id: string }) => f.id).sort(), oracle.ids);
      const distances = res.body.features.map((f: { overlay: { distanceM: number } }) => f.overlay.distanceM);
      assert.deepEqual([...distances].sort((a, b) => a - b), distances, 'nearest first');
      assert.ok(distances.every((d: number) => d <= 50.001));
    }
  });

  it('intersects a polygon (distance 0), as of a past date, and takes it in Gauss-Krüger metres too', async () => {
    const h = city.history;
    const { rows } = await sql<{ lon: number; lat: number }>`select st_x(c) as lon, st_y(c) as lat from
      (select st_centroid(st_collect(geom)) as c from feature_version where layer_id = 'buildings' and feature_id = any(${h.rebuiltBuildingIds}::text[])) x`.execute(store.db);
    const area = rect(rows[0]!.lon, rows[0]!.lat, -150, -150, 300, 300);
    for (const at of ['2020-06-01T00:00:00Z', '2022-06-01T00:00:00Z']) {
      const res = await post({ layer: 'buildings', geometry: area, datetime: at, limit: 10000 });
      assert.equal(res.status, 200);
      const oracle = await postgisOverlay('buildings', area, 0, at);
      compare(res.body, oracle);
      assert.deepEqual(res.body.features.map((f: { id: string }) => f.id).sort(), oracle.ids);
    }
    const before = await post({ layer: 'buildings', geometry: area, datetime: '2020-06-01T00:00:00Z', summaryOnly: true });
    const after = await post({ layer: 'buildings', geometry: area, datetime: '2022-06-01T00:00:00Z', summaryOnly: true });
    assert.notDeepEqual(before.body.summary, after.body.summary, 'the rebuilt block changed what lies there');
    assert.deepEqual(after.body.features, []);
    assert.equal(after.body.numberReturned, 0);

    const toGk = fromCgcs2000(findCrs('EPSG:4549')!);
    const gk = { type: 'Polygon', coordinates: [area.coordinates[0]!.map(([lon, lat]) => toGk(lon!, lat!))] };
    const viaGk = await post({ layer: 'buildings', geometry: gk, crs: 'EPSG:4549', datetime: '2022-06-01T00:00:00Z', summaryOnly: true });
    assert.deepEqual(viaGk.body.summary, after.body.summary);
  });

  it('overlays one layer on another: buildings within 15 m of a gas pipe, for a key cleared for gas', async () => {
    const body = { layer: 'buildings', against: { layer: 'gas-pipes' }, distance: 15, summaryOnly: true };
    assert.equal((await post(body)).status, 401);
    const res = await post(body, keys.gas);
    assert.equal(res.status, 200);
    const { rows } = await sql<{ n: number; area_m2: number }>`
      select count(*)::int as n, coalesce(sum(st_area(b.geom::geography)), 0)::float8 as area_m2 from feature_version b
      where b.layer_id = 'buildings' and b.validity @> now() and exists (
        select 1 from feature_version g where g.layer_id = 'gas-pipes' and g.validity @> now() and st_dwithin(b.geom::geography, g.geom::geography, 15))`.execute(store.db);
    assert.ok(rows[0]!.n > 0, 'the pipes run under roads, a street\'s width from the houses');
    assert.equal(res.body.summary.count, rows[0]!.n);
    close(res.body.summary.areaM2, rows[0]!.area_m2, 'areaM2');
    assert.equal(res.body.summary.insideAreaM2, null);
    // Pipes that cross a road, and a layer against itself leaves each feature's own match out.
    const crossing = await post({ layer: 'water-supply-pipes', against: { layer: 'water-supply-pipes', ids: [city.layers.find((l) => l.meta.id === 'water-supply-pipes')!.versions[0]!.featureId] }, limit: 100 });
    assert.equal(crossing.status, 200);
    const self = crossing.body.against.ids[0];
    assert.ok(!crossing.body.features.some((f: { id: string }) => f.id === self));
    const { rows: touching } = await sql<{ n: number }>`select count(*)::int as n from feature_version a, feature_version b
      where a.layer_id = 'water-supply-pipes' and b.layer_id = 'water-supply-pipes' and b.feature_id = ${self}
        and a.validity @> now() and b.validity @> now() and a.feature_id <> b.feature_id and st_intersects(a.geom, b.geom)`.execute(store.db);
    assert.equal(crossing.body.summary.count, touching[0]!.n);
  });

  it('answers bad requests with a clear 400 (the geometry ones with their reason), unknown layers with a 404', async () => {
    const square = rect(LON, LAT, 0, 0, 100, 100);
    const ring = square.coordinates[0]!;
    const cases: Array<[Record<string, unknown>, string, string?]> = [
      [{ layer: 'buildings', geometry: { type: 'Polygon', coordinates: [[ring[0], ring[1], ring[3], ring[2], ring[0]]] } }, 'geometry', 'self-intersection'],
      [{ layer: 'buildings', geometry: { type: 'Polygon', coordinates: [] } }, 'geometry', 'empty'],
      [{ layer: 'buildings', geometry: rect(LON, LAT, 0, 0, 8000, 8000) }, 'geometry', 'too-large'],
      [{ layer: 'buildings', geometry: { type: 'Point', coordinates: [358546, 2755704] } }, 'geometry', 'out-of-range'],
      [{ layer: 'buildings', geometry: square, crs: 'EPSG:1234' }, 'geometry', 'crs'],
      [{ layer: 'buildings' }, 'geometry'],
      [{ layer: 'buildings', geometry: square, against: { layer: 'roads' } }, 'geometry'],
      [{ geometry: square }, 'layer'],
      [{ layer: 'buildings', geometry: square, distance: -1 }, 'distance'],
      [{ layer: 'buildings', geometry: square, distance: 'near' }, 'distance'],
      [{ layer: 'buildings', geometry: square, distance: 50_000 }, 'distance'],
      [{ layer: 'buildings', geometry: square, datetime: 'last year' }, 'datetime'],
      [{ layer: 'buildings', geometry: square, limit: 0 }, 'limit'],
      [{ layer: 'buildings', geometry: square, summaryOnly: 'yes' }, 'summaryOnly'],
      [{ layer: 'buildings', geometry: square, radius: 5 }, 'radius'],
      [{ layer: 'buildings', against: { layer: 'roads', ids: [] } }, 'against.ids'],
    ];
    for (const [body, parameter, reason] of cases) {
      const res = await post(body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 100));
      assert.equal(res.body.error.details.parameter, parameter, res.body.error.message);
      if (reason) assert.equal(res.body.error.details.reason, reason, res.body.error.message);
    }
    const unknown = await post({ layer: 'nope', geometry: square });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.details.parameter, 'layer');
    assert.equal((await post({ layer: 'buildings', against: { layer: 'nope' } })).body.error.details.parameter, 'against.layer');
    const notJson = await fetch(`${server.url}/analysis/overlay`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"layer":' });
    assert.equal(notJson.status, 400);
  });
});
