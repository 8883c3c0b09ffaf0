import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import type { Geometry, LineString } from 'geojson';
import { openTestStore, resetStore, type TestStore } from './helpers/stores.ts';
import { startServer, getJson } from './helpers/server.ts';
import { loadDemoCity } from '../fixtures/load-demo-city.ts';
import { rngFor } from '../fixtures/demo-city/random.ts';
import { createApiKey } from '../store/access.ts';
import { buildAssetIndex } from '../position/asset-index.ts';
import { AssetTree } from '../position/asset-tree.ts';
import { isAssetLayer, nearestLayerByLayer } from '../position/asset-service.ts';
import { localDistance, metresPerDegreeLat, metresPerDegreeLon } from '../position/asset-geodesy.ts';
import { wgs84ToBd09, wgs84ToGcj02 } from '../data-import/crs/index.ts';
import { LON, LAT, at, line } from './helpers/local-frame.ts';

// ---------------------------------------------------------------------------------------------
// The index on its own: hand-made geometry with known answers, and a brute-force oracle.

const square = (e: number, n: number, size: number): number[][] => [at(e, n), at(e + size, n), at(e + size, n + size), at(e, n + size), at(e, n)];

/**
 * Distance by brute force over every feature, as the index defines it: the nearest point in the
 * query's metric frame, then its distance re-measured at the mean latitude.
 */
function bruteForce(features: Array<{ featureId: string; geometry: Geometry }>, lon: number, lat: number): Array<{ featureId: string; d: number }> {
  const kx = metresPerDegreeLon(lat);
  const ky = metresPerDegreeLat(lat);
  const seg = (a: number[], b: number[]) => {
    const ax = (a[0]! - lon) * kx; const ay = (a[1]! - lat) * ky;
    const ex = (b[0]! - a[0]!) * kx; const ey = (b[1]! - a[1]!) * ky;
    const l2 = ex * ex + ey * ey;
    const t = l2 > 0 ? Math.min(1, Math.max(0, -(ax * ex + ay * ey) / l2)) : 0;
    return localDistance(lon, lat, a[0]! + t * (b[0]! - a[0]!), a[1]! + t * (b[1]! - a[1]!));
  };
  const inside = (rings: number[][][]) => {
    let c = false;
    for (const r of rings) for (let i = 0; i + 1 < r.length; i++) {
      const [x1, y1] = r[i]!; const [x2, y2] = r[i + 1]!;
      if ((y1! > lat) !== (y2! > lat) && lon < ((x2! - x1!) * (lat - y1!)) / (y2! - y1!) + x1!) c = !c;
    }
    return c;
  };
  return features.map((f) => {
    const g = f.geometry;
    let d = Infinity;
    if (g.type === 'Point') d = localDistance(lon, lat, g.coordinates[0]!, g.coordinates[1]!);
    if (g.type === 'LineString') for (let i = 1; i < g.coordinates.length; i++) d = Math.min(d, seg(g.coordinates[i - 1]!, g.coordinates[i]!));
    if (g.type === 'Polygon') {
      if (inside(g.coordinates)) d = 0;
      else for (const r of g.coordinates) for (let i = 1; i < r.length; i++) d = Math.min(d, seg(r[i - 1]!, r[i]!));
    }
    return { featureId: f.featureId, d };
  }).sort((a, b) => a.d - b.d);
}

describe('asset index (position/asset-index.ts)', () => {
  it('answers nothing from an empty index, and refuses a point that is not a longitude and latitude', () => {
    const empty = buildAssetIndex([]);
    assert.equal(empty.size, 0);
    assert.deepEqual(empty.nearest(LON, LAT, { k: 5 }), []);
    const one = buildAssetIndex([{ featureId: 'P', geometry: { type: 'Point', coordinates: at(3, 4) } }]);
    assert.throws(() => one.nearest(LON, 95, { k: 1 }), RangeError);
    assert.throws(() => one.nearest(Number.NaN, LAT, { k: 1 }), RangeError);
  });

  it('measures to the segment, not its box; k beyond the count returns them all, nearest first', () => {
    // A diagonal pipe whose box contains the query point: box distance 0, true distance 7.07 m.
    const index = buildAssetIndex([
      { featureId: 'diagonal', geometry: line([-50, -40], [50, 60]) },
      { featureId: 'valve', geometry: { type: 'Point', coordinates: at(0, 8) } },
      { featureId: 'far', geometry: line([100, 0], [100, 10]) },
    ]);
    const hits = index.nearest(LON, LAT, { k: 10 });
    assert.deepEqual(hits.map((h) => h.featureId), ['diagonal', 'valve', 'far']);
    assert.ok(Math.abs(hits[0]!.distance - 10 / Math.SQRT2) < 1e-4, `${hits[0]!.distance}`);
    assert.ok(Math.abs(hits[1]!.distance - 8) < 1e-4);
    assert.ok(Math.abs(hits[2]!.distance - 100) < 1e-3);
    // The nearest point of the diagonal is the foot of the perpendicular, (-5, 5).
    const [lon, lat] = at(-5, 5);
    assert.ok(Math.abs(hits[0]!.lon - lon) < 1e-9 && Math.abs(hits[0]!.lat - lat) < 1e-9);
    assert.ok(Math.abs(hits[0]!.fraction! - 0.45) < 1e-9);
    assert.deepEqual(index.nearest(LON, LAT, { k: 2, maxDistance: 7.5 }).map((h) => h.featureId), ['diagonal']);
    assert.deepEqual(index.nearest(LON, LAT, { k: 2, maxDistance: 0 }), []);
  });

  it('is 0 inside a polygon and not inside its hole; duplicates tie in feature order', () => {
    const outer = square(-20, -20, 40);
    const hole = square(-5, -5, 10).reverse();
    const index = buildAssetIndex([
      { featureId: 'courtyard-house', geometry: { type: 'Polygon', coordinates: [outer, hole] } },
      { featureId: 'twin-a', geometry: { type: 'Point', coordinates: at(30, 0) } },
      { featureId: 'twin-b', geometry: { type: 'Point', coordinates: at(30, 0) } },
    ]);
    const inHole = index.nearest(LON, LAT, { k: 3 });
    assert.equal(inHole[0]!.featureId, 'courtyard-house');
    assert.ok(Math.abs(inHole[0]!.distance - 5) < 1e-4, 'to the hole\'s edge');
    assert.deepEqual(inHole.slice(1).map((h) => h.featureId), ['twin-a', 'twin-b']);
    const [lon, lat] = at(-12, 3);
    const inside = index.nearest(lon, lat, { k: 1 })[0]!;
    assert.equal(inside.distance, 0);
    assert.equal(inside.lon, lon, 'inside, the nearest point is the query point');
    assert.equal(inside.fraction, null);
  });

  it('interpolates depth along a bent line by length, across the parts of a MultiLineString', () => {
    const attributes = { start_depth_m: 1.0, end_depth_m: 2.0, pipe_class: 'JS' };
    const index = buildAssetIndex([
      // 30 m east, then 10 m north: the middle of the second leg is at 35 of 40 m.
      { featureId: 'bent', geometry: line([0, 0], [30, 0], [30, 10]), attributes },
      { featureId: 'parts', geometry: { type: 'MultiLineString', coordinates: [line([0, 100], [10, 100]).coordinates, line([50, 100], [80, 100]).coordinates] }, attributes },
      { featureId: 'valve', geometry: { type: 'Point', coordinates: at(0, 200) }, attributes: { depth_m: 1.3 } },
      { featureId: 'no-depth', geometry: line([0, 300], [10, 300]) },
    ]);
    const q = (e: number, n: number, k = 1) => index.nearest(...at(e, n), { k })[0]!;
    const bent = q(33, 5);
    assert.equal(bent.featureId, 'bent');
    assert.ok(Math.abs(bent.fraction! - 0.875) < 1e-6, `${bent.fraction}`);
    assert.ok(Math.abs(index.depth(bent)! - 1.875) < 1e-6);
    assert.ok(Math.abs(bent.distance - 3) < 1e-4);
    const parts = q(65, 98);
    assert.equal(parts.featureId, 'parts');
    assert.ok(Math.abs(parts.fraction! - 25 / 40) < 1e-6, `${parts.fraction}`);
    assert.equal(index.depth(q(1, 201)), 1.3);
    assert.equal(index.depth(q(5, 301)), null, 'no depth attributes, no depth');
  });

  it('filters by type values and skips what cannot be indexed', () => {
    const index = buildAssetIndex([
      { featureId: 'water', geometry: line([0, 1], [10, 1]), attributes: { pipe_class: 'JS', sub_type: 'JP' } },
      { featureId: 'gas', geometry: line([0, 5], [10, 5]), attributes: { pipe_class: 'RQ', sub_type: 'TR' } },
      { featureId: 'valve', geometry: { type: 'Point', coordinates: at(0, 9) }, attributes: { pipe_class: 'JS', feature: '阀门', feature_code: 51042204 } },
      { featureId: 'null', geometry: null },
      { featureId: 'nan', geometry: { type: 'Point', coordinates: [Number.NaN, LAT] } },
      { featureId: 'stub', geometry: { type: 'LineString', coordinates: [at(0, 0)] } },
    ]);
    assert.equal(index.size, 3);
    assert.deepEqual(index.skipped, { noGeometry: 2, badCoordinates: 1 });
    const ids = (types: string[]) => index.nearest(LON, LAT, { k: 10, types: index.typeMask(types) }).map((h) => h.featureId);
    assert.deepEqual(ids(['RQ']), ['gas']);
    assert.deepEqual(ids(['JS']), ['water', 'valve']);
    assert.deepEqual(ids(['阀门', 'TR']), ['gas', 'valve']);
    assert.deepEqual(ids(['51042204']), ['valve'], 'a numeric code matches its text');
    assert.deepEqual(ids(['nothing']), []);
    assert.deepEqual(index.typeMask(['JS', 'XX']).found, ['JS']);
    assert.deepEqual(index.types(), ['51042204', 'JP', 'JS', 'RQ', 'TR', '阀门']);
  });

  it('finds exactly the brute-force k nearest over 3,000 random lines, points and polygons', () => {
    const rng = rngFor(7, 'asset-index-oracle');
    const r = (lo: number, hi: number) => lo + rng.next() * (hi - lo);
    const features: Array<{ featureId: string; geometry: Geometry; attributes: Record<string, unknown> }> = [];
    for (let i = 0; i < 3000; i++) {
      const e = r(-2000, 2000); const n = r(-2000, 2000);
      const kind = i % 3;
      // Long thin pipes too: their boxes are poor bounds, which is what the search must survive.
      const geometry: Geometry = kind === 0 ? line([e, n], [e + r(-300, 300), n + r(-300, 300)], [e + r(-300, 300), n + r(-300, 300)])
        : kind === 1 ? { type: 'Point', coordinates: at(e, n) }
        : { type: 'Polygon', coordinates: [square(e, n, r(2, 60))] };
      features.push({ featureId: `F${i}`, geometry, attributes: { pipe_class: i % 4 === 0 ? 'RQ' : 'JS' } });
    }
    const index = buildAssetIndex(features);
    const rq = index.typeMask(['RQ']);
    for (let q = 0; q < 300; q++) {
      const [lon, lat] = at(r(-2600, 2600), r(-2600, 2600));
      const k = 1 + Math.floor(rng.next() * 12);
      const filtered = q % 3 === 0;
      const truth = bruteForce(filtered ? features.filter((f) => f.attributes.pipe_class === 'RQ') : features, lon, lat);
      const maxDistance = q % 5 === 0 ? truth[2]!.d + 0.5 : undefined;
      const expected = truth.filter((t) => maxDistance === undefined || t.d <= maxDistance).slice(0, k);
      const hits = index.nearest(lon, lat, { k, maxDistance, types: filtered ? rq : null });
      assert.equal(hits.length, expected.length, `query ${q}`);
      hits.forEach((h, i) => {
        assert.ok(Math.abs(h.distance - expected[i]!.d) < 1e-9, `query ${q} #${i}: ${h.distance} vs ${expected[i]!.d}`);
        if (h.featureId !== expected[i]!.featureId) assert.ok(Math.abs((truth.find((x) => x.featureId === h.featureId)?.d ?? Infinity) - h.distance) < 1e-9, `query ${q} #${i}: ${h.featureId} vs ${expected[i]!.featureId}`);
      });
    }
  });

  it('searches several layers in one tree as it searches each alone: layers left out, types filtered', () => {
    const rng = rngFor(11, 'asset-tree-oracle');
    const r = (lo: number, hi: number) => lo + rng.next() * (hi - lo);
    const layers = [0, 1, 2].map((l) => Array.from({ length: 800 }, (_, i) => ({
      featureId: `L${l}-${i}`,
      geometry: (l === 0 ? line([r(-900, 900), r(-900, 900)], [r(-900, 900), r(-900, 900)])
        : l === 1 ? { type: 'Point', coordinates: at(r(-900, 900), r(-900, 900)) }
        : { type: 'Polygon', coordinates: [square(r(-900, 900), r(-900, 900), r(3, 40))] }) as Geometry,
      attributes: { pipe_class: i % 3 === 0 ? 'RQ' : 'JS' },
    })));
    const indexes = layers.map((features) => buildAssetIndex(features));
    const tree = new AssetTree(indexes);
    for (let q = 0; q < 300; q++) {
      const [lon, lat] = at(r(-1200, 1200), r(-1200, 1200));
      const k = 1 + (q % 9);
      // Layer 1 left out on a third of the queries; layer 0 filtered to RQ on another third.
      const masks = [q % 3 === 1 ? indexes[0]!.typeMask(['RQ']) : null, q % 3 === 0 ? undefined : null, null];
      const hits = tree.nearest(lon, lat, { k, masks });
      const pool = layers.flatMap((features, l) => (masks[l] === undefined ? [] : features.filter((f) => l !== 0 || masks[0] === null || f.attributes.pipe_class === 'RQ')));
      const truth = bruteForce(pool, lon, lat).slice(0, k);
      assert.deepEqual(hits.map((h) => Math.round(h.hit.distance * 1e6)), truth.map((t) => Math.round(t.d * 1e6)), `query ${q}`);
      hits.forEach((h) => assert.ok(h.hit.featureId.startsWith(`L${h.member}-`), 'each hit names its layer'));
    }
  });

  it('reports distances that agree with the mean-latitude measure of the nearest point', () => {
    const [lon, lat] = at(0, 0);
    const index = buildAssetIndex([{ featureId: 'far', geometry: line([-3000, 6000], [3000, 6000]) }]);
    const hit = index.nearest(lon, lat, { k: 1 })[0]!;
    assert.equal(hit.distance, localDistance(lon, lat, hit.lon, hit.lat));
    assert.ok(Math.abs(hit.distance - 6000) < 1, `${hit.distance}`);
  });
});

// ---------------------------------------------------------------------------------------------
// Against PostGIS and over HTTP, on the demo city.

const SCALE = 0.2;
const PARITY_POINTS = 500;

/**
 * 1 cm, plus 10⁻⁵ of the distance, and one-sided: PostGIS's point-to-line geodesic distance takes
 * the nearest point on a great-circle edge of the sphere and then measures the spheroidal distance
 * to it. On the ellipsoid that point is not the nearest one (the sphere's east/north scale differs
 * from the ellipsoid's by up to e² ≈ 0.67 %), so PostGIS comes out longer, by a few millionths of
 * the distance: 2.6 cm at 6.7 km on the scale-10 city, where PostGIS's own point-to-point distance
 * from the query to our nearest point agreed with ours to 0.05 mm. Ours is never the longer one
 * by more than 1 mm.
 */
const tolerance = (d: number) => 0.01 + 1e-5 * d;

interface Ranked { key: string; d: number }

/**
 * Same assets in the same order, up to ties; distances within tolerance. Where an id differs,
 * ours must stand in PostGIS's list at a distance equal to its own within 1 cm (or, past
 * PostGIS's last, tie with it): equal distances have no order.
 */
function sameUpToTies(ours: Ranked[], theirs: Ranked[], where: string): number {
  assert.equal(ours.length, theirs.length, `${where}: ${ours.length} vs ${theirs.length} assets`);
  let swaps = 0;
  ours.forEach((o, i) => {
    const t = theirs[i]!;
    assert.ok(o.d <= t.d + 0.001 && t.d - o.d <= tolerance(t.d), `${where} #${i}: ${o.key} ${o.d} m, PostGIS ${t.key} ${t.d} m`);
    if (o.key === t.key) return;
    swaps++;
    const same = theirs.find((x) => x.key === o.key);
    const tie = same ? Math.abs(same.d - o.d) : Math.abs(theirs[theirs.length - 1]!.d - o.d);
    assert.ok(tie <= tolerance(o.d), `${where} #${i}: ${o.key} at ${o.d} m is not tied with PostGIS's ${same ? same.d : 'last'} (${t.key})`);
  });
  return swaps;
}

describe(`nearest assets on postgres (demo city scale ${SCALE})`, () => {
  let store: TestStore;
  let server: Awaited<ReturnType<typeof startServer>>;
  let dir: string;
  const keys: Record<string, string> = {};
  let bounds: [number, number, number, number];

  before(async () => {
    store = await openTestStore('postgres');
    await resetStore(store);
    dir = mkdtempSync(path.join(os.tmpdir(), 'onemap-assets-'));
    await loadDemoCity(store.db, { dir, seed: 20260101, scale: SCALE });
    keys.viewer = (await createApiKey(store.db, { name: 'viewer', role: 'viewer' })).key;
    keys.gas = (await createApiKey(store.db, { name: 'gas crew', role: 'field', clearances: ['gas-pipes'] })).key;
    keys.admin = (await createApiKey(store.db, { name: 'admin', role: 'admin' })).key;
    server = await startServer(store);
    const { rows } = await sql<{ b: number[] }>`select array[st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e)] as b
      from (select st_extent(geom)::geometry as e from feature_version where layer_id = 'buildings') x`.execute(store.db);
    bounds = rows[0]!.b as [number, number, number, number];
  });
  after(async () => {
    await server?.close();
    await store?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const nearest = (query: string, key?: string) => getJson(`${server.url}/assets/nearest?${query}`, key ? { 'X-API-Key': key } : {});

  async function aPipe(layer = 'water-supply-pipes') {
    const { rows } = await sql<{ id: string; g: string; a: Record<string, number> }>`
      select feature_id as id, st_asgeojson(geom) as g, attributes as a from feature_version
      where layer_id = ${layer} and valid_to is null and (attributes->>'start_depth_m')::float <> (attributes->>'end_depth_m')::float
        and st_length(geom::geography) > 40
      order by feature_id limit 1`.execute(store.db);
    return { id: rows[0]!.id, line: JSON.parse(rows[0]!.g) as LineString, attributes: rows[0]!.a };
  }

  it(`finds what PostGIS finds (ST_Distance on geography) for ${PARITY_POINTS} random points over the city`, async () => {
    const layers = server.services.catalog.all().filter(isAssetLayer).sort((a, b) => (a.id < b.id ? -1 : 1));
    assert.ok(layers.length >= 13, layers.map((l) => l.id).join(','));
    await server.services.assets.settled();
    assert.equal(server.services.assets.stats().combined?.layers, layers.length, 'one tree over the asset layers is built at start-up');
    const indexes = await Promise.all(layers.map((l) => server.services.assets.index(l)));
    const ids = layers.map((l) => l.id);
    const rng = rngFor(20260101, 'assets-parity');
    const [x0, y0, x1, y1] = bounds;
    let swaps = 0;
    let worst = 0;
    for (let i = 0; i < PARITY_POINTS; i++) {
      const lon = x0 + rng.next() * (x1 - x0);
      const lat = y0 + rng.next() * (y1 - y0);
      const k = [1, 5, 10, 20][i % 4]!;
      const { assets } = await server.services.assets.nearest(layers, lon, lat, { k });
      const ours = assets.map((a) => ({ key: `${a.layer.id}/${a.hit.featureId}`, d: a.hit.distance }));
      const byLayer = nearestLayerByLayer(layers, indexes, layers.map(() => null), lon, lat, k);
      assert.deepEqual(byLayer.map((a) => a.hit.distance), assets.map((a) => a.hit.distance), `point ${i}: layer by layer as in one tree`);
      // Ground truth: every current asset within reach of our k-th answer, measured by PostGIS,
      // in a box (an index scan) that holds everything within that distance.
      let reach = ours[ours.length - 1]!.d * 1.01 + 1;
      let theirs: Ranked[];
      for (;;) {
        const { rows } = await sql<{ key: string; d: number }>`
          with q as (select st_setsrid(st_makepoint(${lon}, ${lat}), 4490) as p)
          select layer_id || '/' || feature_id as key, st_distance(geom::geography, q.p::geography) as d
          from feature_version, q
          where layer_id = any(${ids}::text[]) and valid_to is null
            and geom && st_expand(q.p, ${(reach / metresPerDegreeLon(lat)) * 1.01}, ${(reach / metresPerDegreeLat(lat)) * 1.01})
          order by d, key limit ${k}`.execute(store.db);
        theirs = rows.map((r) => ({ key: r.key, d: Number(r.d) }));
        if (theirs.length === k && theirs[k - 1]!.d <= reach) break;
        assert.ok(reach < 1e5, `point ${i}: PostGIS has fewer than ${k} assets`);
        reach *= 2;
      }
      swaps += sameUpToTies(ours, theirs, `point ${i} (${lon}, ${lat}) k=${k}`);
      for (let j = 0; j < ours.length; j++) worst = Math.max(worst, theirs[j]!.d - ours[j]!.d);
    }
    // Visible when the test runs with --test-reporter=spec; ties are shared pipe ends, a pipe
    // point on them, and so on.
    console.log(`  parity: ${PARITY_POINTS} points, ${swaps} tied swaps, PostGIS longer by at most ${(worst * 1000).toFixed(1)} mm`);
  });

  it('validates lon, lat, k, maxDistance, crs, layers and types, and refuses unknown parameters', async () => {
    const bad = async (q: string, status = 400, parameter?: string) => {
      const r = await nearest(q);
      assert.equal(r.status, status, `${q}: ${JSON.stringify(r.body)}`);
      assert.equal(typeof r.body.error?.message, 'string', q);
      if (parameter) assert.equal(r.body.error.details.parameter, parameter, q);
      return r.body.error;
    };
    await bad('lat=24.9', 400, 'lon');
    await bad('lon=118.6', 400, 'lat');
    await bad('lon=181&lat=24.9', 400, 'lon');
    await bad('lon=118.6&lat=-90.5', 400, 'lat');
    await bad('lon=east&lat=24.9', 400, 'lon');
    await bad('lon=118.6&lon=118.7&lat=24.9', 400, 'lon');
    await bad('lon=118.6&lat=24.9&k=0', 400, 'k');
    await bad('lon=118.6&lat=24.9&k=101', 400, 'k');
    await bad('lon=118.6&lat=24.9&k=2.5', 400, 'k');
    await bad('lon=118.6&lat=24.9&maxDistance=-1', 400, 'maxDistance');
    await bad('lon=118.6&lat=24.9&maxDistance=1e9', 400, 'maxDistance');
    await bad('lon=118.6&lat=24.9&crs=EPSG:3857', 400, 'crs');
    await bad('lon=118.6&lat=24.9&radius=5', 400, 'radius');
    await bad('lon=118.6&lat=24.9&layers=buildings,buildings', 400, 'layers');
    assert.match((await bad('lon=118.6&lat=24.9&layers=no-such-layer,buildings', 404)).message, /no-such-layer/);
    const unknownType = await bad('lon=118.6&lat=24.9&types=JS,NOPE', 400, 'types');
    assert.deepEqual(unknownType.details.value, ['NOPE']);
    assert.ok(unknownType.details.known.includes('JS') && unknownType.details.known.includes('阀门'), 'the refusal lists the types there are');
    assert.ok(!unknownType.details.known.includes('TR'), 'not those of layers the caller may not read (gas)');
  });

  it('restricted layers need clearance; the default set leaves them out without it; reads are audited', async () => {
    const [lon, lat] = (await aPipe('gas-pipes')).line.coordinates[0]!;
    const q = `lon=${lon}&lat=${lat}&k=3`;
    assert.equal((await nearest(`${q}&layers=gas-pipes`)).status, 401);
    assert.equal((await nearest(`${q}&layers=gas-pipes`, keys.viewer)).status, 403);
    assert.equal((await nearest(`${q}&layers=buildings,power-cables`, keys.gas)).status, 403, 'one uncleared layer refuses the request');
    const cleared = await nearest(`${q}&layers=gas-pipes`, keys.gas);
    assert.equal(cleared.status, 200);
    assert.match((await fetch(`${server.url}/assets/nearest?${q}&layers=gas-pipes`, { headers: { 'X-API-Key': keys.gas! } })).headers.get('cache-control')!, /private/);
    assert.ok(cleared.body.assets.length === 3 && cleared.body.assets.every((a: { layer: string }) => a.layer === 'gas-pipes'));
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from audit_log where route = '/assets/nearest' and layer_id = 'gas-pipes'
      and feature_ids @> array[${cleared.body.assets[0].featureId}]::text[]`.execute(store.db);
    assert.ok(rows[0]!.n >= 1, 'the read is in the audit log with the features returned');

    const anonymous = await nearest(q);
    assert.equal(anonymous.status, 200);
    assert.ok(!anonymous.body.layers.includes('gas-pipes') && !anonymous.body.layers.includes('power-cables'), anonymous.body.layers.join());
    assert.ok(anonymous.body.assets.length === 3 && anonymous.body.assets.every((a: { layer: string }) => !/^(gas|power)-/.test(a.layer)), 'nothing of a restricted layer, on the pipe itself');
    assert.ok(anonymous.body.layers.includes('water-supply-pipes') && anonymous.body.layers.includes('buildings'));
    const admin = await nearest(q, keys.admin);
    assert.ok(admin.body.layers.includes('gas-pipes') && admin.body.layers.includes('power-points'));
    assert.equal(admin.body.assets[0].layer.startsWith('gas-'), true, 'standing on a gas pipe end, an admin sees it first');
  });

  it('gives the depth at the nearest point of a pipe, interpolated between its start and end depths', async () => {
    const pipe = await aPipe();
    const [a, b] = [pipe.line.coordinates[0]!, pipe.line.coordinates[pipe.line.coordinates.length - 1]!];
    assert.equal(pipe.line.coordinates.length, 2, 'a CJJ 61 pipe segment runs from one pipe point to the next');
    // 30 % of the way along, 1.5 m to the side.
    const kx = metresPerDegreeLon(a[1]!); const ky = metresPerDegreeLat(a[1]!);
    const ex = (b[0]! - a[0]!) * kx; const ey = (b[1]! - a[1]!) * ky;
    const len = Math.hypot(ex, ey);
    const lon = a[0]! + 0.3 * (b[0]! - a[0]!) + (-ey / len) * 1.5 / kx;
    const lat = a[1]! + 0.3 * (b[1]! - a[1]!) + (ex / len) * 1.5 / ky;
    const r = await nearest(`lon=${lon}&lat=${lat}&k=1&layers=water-supply-pipes`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const hit = r.body.assets[0];
    assert.equal(hit.featureId, pipe.id);
    assert.ok(Math.abs(hit.distance - 1.5) < 0.002, `${hit.distance}`);
    assert.ok(Math.abs(hit.fraction - 0.3) < 1e-4, `${hit.fraction}`);
    const { start_depth_m: s, end_depth_m: e } = pipe.attributes;
    assert.ok(Math.abs(hit.depth - (s! + 0.3 * (e! - s!))) < 0.001, `${hit.depth} between ${s} and ${e}`);
    assert.equal(hit.attributes.pipe_class, 'JS');
    assert.equal(hit.href, `${server.url}/collections/water-supply-pipes/items/${encodeURIComponent(pipe.id)}`);
  });

  it('reads and answers GCJ-02 and BD-09 coordinates', async () => {
    const pipe = await aPipe();
    const [a, b] = pipe.line.coordinates;
    const lon = (a![0]! + b![0]!) / 2 + 0.00002;
    const lat = (a![1]! + b![1]!) / 2;
    const wgs = (await nearest(`lon=${lon}&lat=${lat}&k=3`)).body;
    const [gLon, gLat] = wgs84ToGcj02(lon, lat);
    assert.ok(Math.hypot((gLon - lon) * 1e5, (gLat - lat) * 1e5) > 100, 'GCJ-02 is hundreds of metres off in Quanzhou');
    const gcj = (await nearest(`lon=${gLon}&lat=${gLat}&k=3&crs=GCJ02`)).body;
    assert.equal(gcj.crs, 'GCJ02');
    assert.deepEqual(gcj.point, [gLon, gLat]);
    assert.deepEqual(gcj.assets.map((x: { featureId: string }) => x.featureId), wgs.assets.map((x: { featureId: string }) => x.featureId));
    gcj.assets.forEach((x: { distance: number; nearest: number[] }, i: number) => {
      assert.ok(Math.abs(x.distance - wgs.assets[i].distance) <= 0.001, 'the same distances');
      const expected = wgs84ToGcj02(wgs.assets[i].nearest[0], wgs.assets[i].nearest[1]);
      assert.ok(Math.abs(x.nearest[0]! - expected[0]) < 2e-8 && Math.abs(x.nearest[1]! - expected[1]) < 2e-8, 'nearest points in GCJ-02');
    });
    const [bLon, bLat] = wgs84ToBd09(lon, lat);
    const bd = (await nearest(`lon=${bLon}&lat=${bLat}&k=3&crs=BD09`)).body;
    assert.deepEqual(bd.assets.map((x: { featureId: string }) => x.featureId), wgs.assets.map((x: { featureId: string }) => x.featureId));
  });

  it('filters by types and maxDistance; inside a building the distance is 0', async () => {
    const [x0, y0, x1, y1] = bounds;
    const [lon, lat] = [(x0 + x1) / 2, (y0 + y1) / 2];
    const valves = await nearest(`lon=${lon}&lat=${lat}&k=10&types=阀门`);
    assert.equal(valves.status, 200);
    assert.equal(valves.body.assets.length, 10);
    assert.ok(valves.body.assets.every((a: { attributes: { feature: string } }) => a.attributes.feature === '阀门'));
    const classes = await nearest(`lon=${lon}&lat=${lat}&k=20&types=JS,RQ`, keys.admin);
    const seen = new Set(classes.body.assets.map((a: { attributes: { pipe_class: string } }) => a.attributes.pipe_class));
    assert.ok([...seen].every((c) => c === 'JS' || c === 'RQ') && seen.size === 2, [...seen].join());
    const near = await nearest(`lon=${lon}&lat=${lat}&k=100&maxDistance=40`);
    assert.ok(near.body.assets.length > 0 && near.body.assets.every((a: { distance: number }) => a.distance <= 40));
    assert.deepEqual((await nearest(`lon=118.0&lat=24.0&maxDistance=1000`)).body.assets, [], 'nothing within 1 km of open sea');

    const { rows } = await sql<{ id: string; g: string }>`select feature_id as id, st_asgeojson(st_pointonsurface(geom)) as g
      from feature_version where layer_id = 'buildings' and valid_to is null order by feature_id limit 1`.execute(store.db);
    const [bx, by] = JSON.parse(rows[0]!.g).coordinates as number[];
    const inside = (await nearest(`lon=${bx}&lat=${by}&k=1&layers=buildings`)).body.assets[0];
    assert.equal(inside.featureId, rows[0]!.id);
    assert.equal(inside.distance, 0);
    assert.equal(inside.depth, null);
  });

  it('an import into a layer is reflected on the next request', async () => {
    const [x0, y0, x1, y1] = bounds;
    // Open ground south of the city, so that the new pipe is the nearest thing there.
    const lon = (x0 + x1) / 2;
    const lat = y0 - 0.01;
    const beforeImport = (await nearest(`lon=${lon}&lat=${lat}&k=1&layers=water-supply-pipes`)).body.assets[0];
    assert.ok(beforeImport.distance > 500, `${beforeImport.distance}`);
    const pipe: LineString = { type: 'LineString', coordinates: [[lon - 0.0005, lat + 0.00005], [lon + 0.0005, lat + 0.00005]] };
    const geojson = JSON.stringify({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: { 管线编号: 'JS-NEW-1', 管线类别: 'JS', 起点埋深: 1.2, 终点埋深: 1.6 }, geometry: pipe }] });
    const form = new FormData();
    form.set('layer', 'water-supply-pipes');
    form.set('key', '管线编号');
    form.set('domain', 'pipeline');
    form.set('file', new Blob([geojson], { type: 'application/geo+json' }), 'new-main.geojson');
    const res = await fetch(`${server.url}/imports`, { method: 'POST', body: form, headers: { 'X-API-Key': keys.admin! } });
    assert.equal(res.status, 202, await res.clone().text());
    const { links } = await res.json() as { links: Array<{ href: string }> };
    for (let i = 0; ; i++) {
      const job = await getJson(links[0]!.href, { 'X-API-Key': keys.admin! });
      if (job.body.status === 'succeeded') break;
      assert.notEqual(job.body.status, 'failed', JSON.stringify(job.body.error));
      assert.ok(i < 400, 'the import finishes');
      await new Promise((r) => setTimeout(r, 50));
    }
    const after = (await nearest(`lon=${lon}&lat=${lat}&k=1&layers=water-supply-pipes`)).body.assets[0];
    assert.equal(after.featureId, 'JS-NEW-1');
    assert.ok(Math.abs(after.distance - 0.00005 * metresPerDegreeLat(lat)) < 0.01, `${after.distance}`);
    assert.ok(Math.abs(after.fraction - 0.5) < 1e-3);
    assert.ok(Math.abs(after.depth - 1.4) < 0.001, `depth ${after.depth} from 起点埋深/终点埋深`);
  });
});

describe('nearest assets on the embedded PGlite (demo city scale 0.05)', () => {
  let store: TestStore;
  let server: Awaited<ReturnType<typeof startServer>>;
  let dir: string;

  before(async () => {
    store = await openTestStore('pglite');
    dir = mkdtempSync(path.join(os.tmpdir(), 'onemap-assets-pglite-'));
    await loadDemoCity(store.db, { dir, seed: 20260101, scale: 0.05 });
    server = await startServer(store);
  });
  after(async () => {
    await server?.close();
    await store?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('builds the indexes from the embedded store and answers on a pipe', async () => {
    const { rows } = await sql<{ id: string; g: string }>`select feature_id as id, st_asgeojson(geom) as g from feature_version
      where layer_id = 'water-supply-pipes' and valid_to is null order by feature_id limit 1`.execute(store.db);
    const [a, b] = (JSON.parse(rows[0]!.g) as LineString).coordinates;
    const r = await getJson(`${server.url}/assets/nearest?lon=${(a![0]! + b![0]!) / 2}&lat=${(a![1]! + b![1]!) / 2}&k=3&layers=water-supply-pipes,water-supply-points`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.assets[0].featureId, rows[0]!.id);
    assert.ok(r.body.assets[0].distance < 0.01 && Math.abs(r.body.assets[0].fraction - 0.5) < 1e-3);
    assert.equal(typeof r.body.assets[0].depth, 'number');
  });
});
