/**
 * bench:nearest — the k assets nearest to 10,000 seeded random points over the demo city
 * (scale 10), over every pipeline and building layer (13 layers, restricted ones included).
 *
 * 1. In process, the same points and k, in one run:
 *    - OneMap: AssetService.nearest (what GET /assets/nearest calls) on its combined tree, and
 *      the same indexes searched layer by layer (nearestLayerByLayer), for comparison;
 *    - PostGIS, KNN refined by the geodesic distance, as one prepared statement on one connection:
 *        with c as (
 *          select layer_id, feature_id, geom <-> P as planar,
 *                 st_distance(geom::geography, P::geography) as d
 *          from feature_version where layer_id = any($layers) and valid_to is null
 *          order by geom <-> P limit 4k)              -- index-assisted KNN, planar degrees
 *        select layer_id || '/' || feature_id, d, (select max(planar) from c) from c
 *        order by d limit k                            -- refined on the spheroid
 *      with P = st_setsrid(st_makepoint($lon, $lat), 4490). The KNN orders by degrees, in which
 *      a degree of longitude is 10 % shorter than one of latitude here, so the geodesic k nearest
 *      are not always among the planar 4k nearest (alone, this query was wrong on 9 % of the
 *      points). When the k-th distance d exceeds what the farthest candidate's planar distance
 *      guarantees, a second statement takes every asset in the box of d around P (`geom &&
 *      st_expand(P, dx, dy)`, the GiST index) ordered by ST_Distance on geography, limit k;
 *      its time counts. PostGIS's answer is then exact too.
 *    Queries/s, median and p95, the ratio, and whether the answers agree: the same assets up to
 *    ties, distances within 1 cm + 10⁻⁵ of the distance (test/assets-nearest.test.ts says why).
 * 2. Over HTTP: the server as a child process, autocannon on /assets/nearest for the same points
 *    (anonymous: the public layers): requests/s, p50 and p99.
 *
 *   npm run bench:nearest -- [--scale 10] [--points 10000] [--k 5] [--duration 10] [--db postgres://...]
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import autocannon from 'autocannon';
import { sql } from 'kysely';
import { SESSION_OPTIONS } from '../store/db.ts';
import { listLayers } from '../store/layers.ts';
import { createApiKey, revokeApiKey } from '../store/access.ts';
import { AssetService, isAssetLayer, nearestLayerByLayer } from '../position/asset-service.ts';
import { metresPerDegreeLat, metresPerDegreeLon } from '../position/asset-geodesy.ts';
import { rngFor } from '../fixtures/demo-city/random.ts';
import { openDemoStore } from './demo-store.ts';
import { startServerProcess } from './server-process.ts';
import { summarize } from './stats.ts';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '10' },
    points: { type: 'string', default: '10000' },
    k: { type: 'string', default: '5' },
    duration: { type: 'string', default: '10' },
    db: { type: 'string', default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/onemap_bench' },
  },
});
const scale = Number(values.scale);
const count = Number(values.points);
const k = Number(values.k);
const url = values.db!;
const CANDIDATES = 4;
/** Our distance may be shorter than PostGIS's, never longer (test/assets-nearest.test.ts explains why). */
const tolerance = (d: number) => 0.01 + 1e-5 * d;

interface Answer { key: string; d: number }

type Verdict = 'same' | 'ties' | 'postgis-missed' | 'ours-wrong';

/** Same assets in the same order up to ties; else who is wrong: the one whose i-th is farther. */
function compare(ours: Answer[], theirs: Answer[]): Verdict {
  let verdict: Verdict = 'same';
  for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
    const o = ours[i];
    const t = theirs[i];
    if (!o || !t) return 'ours-wrong';
    if (o.d > t.d + 0.001) return 'ours-wrong';
    if (t.d - o.d > tolerance(t.d)) verdict = 'postgis-missed';
    else if (o.key !== t.key && verdict === 'same') verdict = 'ties';
  }
  return verdict;
}

const rate = (n: number, ms: number) => (n / ms) * 1000;

async function main() {
  const store = await openDemoStore(url, scale);
  const layers = (await listLayers(store.db)).filter(isAssetLayer);
  const ids = layers.map((l) => l.id);
  console.log(`\nbench:nearest  demo city scale ${scale}, ${count} seeded random points, k = ${k}, ${layers.length} layers: ${ids.join(', ')}\n`);

  // Index builds, one layer at a time, as the service does at start-up.
  const service = new AssetService(store.db);
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const builds: Array<{ id: string; features: number; ms: number; memoryBytes: number }> = [];
  for (const layer of layers) {
    const s = performance.now();
    const index = await service.index(layer);
    builds.push({ id: layer.id, features: index.size, ms: performance.now() - s, memoryBytes: index.memoryBytes() });
  }
  const buildMs = performance.now() - t0;
  const features = builds.reduce((a, b) => a + b.features, 0);
  const arrays = builds.reduce((a, b) => a + b.memoryBytes, 0);
  const heap = process.memoryUsage().heapUsed - heapBefore;
  console.log(`indexes: ${features} current features built in ${(buildMs / 1000).toFixed(1)} s (${(rate(features, buildMs) / 1000).toFixed(0)}k features/s); `
    + `typed arrays and trees ${(arrays / 2 ** 20).toFixed(0)} MiB, heap growth ${(heap / 2 ** 20).toFixed(0)} MiB (attributes included)`);
  for (const b of builds) console.log(`  ${b.id.padEnd(20)} ${String(b.features).padStart(8)} features ${(b.ms / 1000).toFixed(1).padStart(5)} s ${(b.memoryBytes / 2 ** 20).toFixed(1).padStart(6)} MiB`);

  const { rows: ext } = await sql<{ b: number[] }>`select array[st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e)] as b
    from (select st_extent(geom)::geometry as e from feature_version where layer_id = 'buildings' and valid_to is null) x`.execute(store.db);
  const [x0, y0, x1, y1] = ext[0]!.b as [number, number, number, number];
  const rng = rngFor(20260101, 'bench-nearest');
  const points = Array.from({ length: count }, () => [x0 + rng.next() * (x1 - x0), y0 + rng.next() * (y1 - y0)] as [number, number]);
  console.log(`points: uniform over the buildings' extent [${[x0, y0, x1, y1].map((v) => v.toFixed(4)).join(', ')}]`);

  // 1a. Ours, in process: warm up, then every point once; then layer by layer.
  await service.settled();
  const combinedStats = service.stats().combined;
  if (combinedStats) console.log(`combined tree over ${combinedStats.layers} layers built in ${(combinedStats.buildMs / 1000).toFixed(1)} s, ${(combinedStats.memoryBytes / 2 ** 20).toFixed(0)} MiB`);
  // In process the indexes are ready, so the synchronous call (what the HTTP route awaits).
  for (let i = 0; i < 1000; i++) service.nearestNow(layers, ...points[i % count]!, { k });
  const oursMs: number[] = [];
  const oursAnswers: Answer[][] = [];
  for (const [lon, lat] of points) {
    const s = performance.now();
    const { assets } = service.nearestNow(layers, lon, lat, { k })!;
    oursMs.push(performance.now() - s);
    oursAnswers.push(assets.map((a) => ({ key: `${a.layer.id}/${a.hit.featureId}`, d: a.hit.distance })));
  }
  const indexes = await Promise.all(layers.map((l) => service.index(l)));
  const noMasks = layers.map(() => null);
  for (let i = 0; i < 1000; i++) nearestLayerByLayer(layers, indexes, noMasks, ...points[i % count]!, k);
  const byLayerMs: number[] = [];
  let byLayerDiffer = 0;
  points.forEach(([lon, lat], i) => {
    const s = performance.now();
    const assets = nearestLayerByLayer(layers, indexes, noMasks, lon, lat, k);
    byLayerMs.push(performance.now() - s);
    if (assets.some((a, j) => Math.abs(a.hit.distance - oursAnswers[i]![j]!.d) > 1e-9)) byLayerDiffer++;
  });

  // 1b. PostGIS: the same points and k, one prepared statement on one connection.
  const client = new pg.Client({ connectionString: url, options: SESSION_OPTIONS });
  await client.connect();
  const statement = {
    name: 'bench-nearest-knn',
    text: `with c as (
        select layer_id, feature_id, geom <-> st_setsrid(st_makepoint($1, $2), 4490) as planar,
               st_distance(geom::geography, st_setsrid(st_makepoint($1, $2), 4490)::geography) as d
        from feature_version where layer_id = any($3) and valid_to is null
        order by geom <-> st_setsrid(st_makepoint($1, $2), 4490) limit $4)
      select layer_id || '/' || feature_id as key, d, (select max(planar) from c) as reach from c order by d limit $5`,
  };
  // When the candidates do not prove the answer, the k-th distance found bounds it: every asset
  // within that distance lies in a box around P, which the GiST index finds.
  const within = {
    name: 'bench-nearest-box',
    text: `select layer_id || '/' || feature_id as key, st_distance(geom::geography, st_setsrid(st_makepoint($1, $2), 4490)::geography) as d
      from feature_version where layer_id = any($3) and valid_to is null
        and geom && st_expand(st_setsrid(st_makepoint($1, $2), 4490), $4, $5)
      order by d limit $6`,
  };
  let boxed = 0;
  const firstMs: number[] = [];
  const knn = async (lon: number, lat: number): Promise<Answer[]> => {
    const started = performance.now();
    const { rows } = await client.query<{ key: string; d: number; reach: number }>({ ...statement, values: [lon, lat, ids, CANDIDATES * k, k] });
    firstMs.push(performance.now() - started);
    const answer = rows.map((r) => ({ key: r.key, d: Number(r.d) }));
    const reach = rows.length ? Number(rows[0]!.reach) : 0;
    // An asset that is not a candidate is at least `reach` degrees away in the plane, so at least
    // reach × (metres per degree of longitude, the shorter one, beyond it) on the spheroid.
    if (rows.length < k || answer[k - 1]!.d <= reach * metresPerDegreeLon(Math.abs(lat) + reach) * 0.999) return answer;
    boxed++;
    const d = answer[k - 1]!.d * 1.001;
    const dx = d / metresPerDegreeLon(Math.abs(lat) + d / 1e5);
    const dy = d / metresPerDegreeLat(0);
    const box = await client.query<{ key: string; d: number }>({ ...within, values: [lon, lat, ids, dx, dy, k] });
    return box.rows.map((r) => ({ key: r.key, d: Number(r.d) }));
  };
  for (let i = 0; i < 500; i++) await knn(...points[i % count]!);
  boxed = 0;
  firstMs.length = 0;
  const pgMs: number[] = [];
  const pgAnswers: Answer[][] = [];
  for (const [lon, lat] of points) {
    const s = performance.now();
    pgAnswers.push(await knn(lon, lat));
    pgMs.push(performance.now() - s);
  }
  await client.end();

  const verdicts: Record<Verdict, number> = { same: 0, ties: 0, 'postgis-missed': 0, 'ours-wrong': 0 };
  let worst = 0;
  oursAnswers.forEach((o, i) => {
    verdicts[compare(o, pgAnswers[i]!)]++;
    o.forEach((a, j) => { if (pgAnswers[i]![j]) worst = Math.max(worst, Math.abs(pgAnswers[i]![j]!.d - a.d)); });
  });
  const a = summarize(oursMs);
  const c = summarize(byLayerMs);
  const b = summarize(pgMs);
  const oursRate = rate(count, oursMs.reduce((x, y) => x + y, 0));
  const byLayerRate = rate(count, byLayerMs.reduce((x, y) => x + y, 0));
  const pgRate = rate(count, pgMs.reduce((x, y) => x + y, 0));
  const first = summarize(firstMs);
  const firstRate = rate(count, firstMs.reduce((x, y) => x + y, 0));
  const row = (name: string, r: number, st: { median: number; p95: number }) => console.log(`  ${name.padEnd(56)} ${r.toFixed(0).padStart(10)} ${(st.median * 1000).toFixed(1).padStart(10)} ${(st.p95 * 1000).toFixed(1).padStart(8)}`);
  console.log(`\nin process, ${count} queries each (after a warm-up):`);
  console.log(`  ${'contender'.padEnd(56)} ${'queries/s'.padStart(10)} ${'median µs'.padStart(10)} ${'p95 µs'.padStart(8)}`);
  row('OneMap, one tree over the 13 layers (AssetService)', oursRate, a);
  row('OneMap, the 13 layers\' trees one by one', byLayerRate, c);
  row(`PostGIS KNN <-> limit ${CANDIDATES}k + box query when needed: exact`, pgRate, b);
  row(`  of which the KNN statement alone (not proven exact)`, firstRate, first);
  console.log(`  ratio OneMap / PostGIS exact (queries/s): ${(oursRate / pgRate).toFixed(1)}× (layer by layer: ${(byLayerRate / pgRate).toFixed(1)}×); `
    + `OneMap / the KNN statement alone: ${(oursRate / firstRate).toFixed(1)}×`);
  console.log(`  PostGIS: the ${CANDIDATES}k candidates proved the answer for ${count - boxed} points; ${boxed} needed the box query too; layer by layer differs from the combined tree on ${byLayerDiffer} points`);
  console.log(`  agreement with PostGIS: ${verdicts.same} identical, ${verdicts.ties} equal up to ties, ${verdicts['postgis-missed']} where PostGIS found a farther asset, `
    + `${verdicts['ours-wrong']} where ours is farther; largest distance difference ${(worst * 1000).toFixed(1)} mm`);

  // 2. HTTP. A throw-away admin key makes one request wait for every layer's index, so that the
  // measurement does not share the CPU with start-up builds.
  const server = await startServerProcess(url);
  let serverExit: string | undefined;
  server.child.on('exit', (code, signal) => { serverExit = `code ${code}, signal ${signal}`; });
  const key = await createApiKey(store.db, { name: 'bench:nearest warm-up (revoked at once)', role: 'admin' });
  const warmStarted = performance.now();
  const warm = await fetch(`${server.base}/assets/nearest?lon=${points[0]![0]}&lat=${points[0]![1]}&k=${k}`, { headers: { 'X-API-Key': key.key } });
  if (warm.status !== 200) throw new Error(`warm-up request: ${warm.status} ${await warm.text()}`);
  await revokeApiKey(store.db, key.prefix);
  console.log(`\nserver process: asset indexes ready ${((performance.now() - warmStarted) / 1000).toFixed(1)} s after it began serving`);
  const paths = points.map(([lon, lat]) => `/assets/nearest?lon=${lon.toFixed(7)}&lat=${lat.toFixed(7)}&k=${k}`);
  for (const p of paths.slice(0, 500)) {
    const r = await fetch(server.base + p);
    if (r.status !== 200) throw new Error(`${p}: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  }
  const duration = Number(values.duration);
  const http = await autocannon({ url: server.base, connections: 32, duration, requests: paths.map((path) => ({ method: 'GET', path })) });
  const ok = http['2xx'];
  console.log(`HTTP GET /assets/nearest (anonymous: the ${layers.filter((l) => l.accessClass === 'public').length} public layers; autocannon, 32 connections, ${duration} s, ${paths.length} distinct points, request logs at warn):`);
  console.log(`  ${(ok / duration).toFixed(0)} requests/s (2xx), latency p50 ${http.latency.p50} ms, p99 ${http.latency.p99} ms, non-2xx ${http.non2xx}, errors ${http.errors}, timeouts ${http.timeouts}`);
  if (serverExit) console.log(`  the server process exited during the run (${serverExit})`);
  server.child.kill('SIGTERM');

  mkdirSync('bench/out', { recursive: true });
  writeFileSync('bench/out/nearest.json', JSON.stringify({
    scale, points: count, k, at: new Date().toISOString(), layers: ids,
    build: { ms: buildMs, features, arrayBytes: arrays, heapBytes: heap, layers: builds },
    ours: { ...a, queriesPerSecond: oursRate }, layerByLayer: { ...c, queriesPerSecond: byLayerRate }, postgis: { ...b, queriesPerSecond: pgRate, candidates: CANDIDATES * k, boxQueries: boxed, knnStatementAlone: { ...first, queriesPerSecond: firstRate } },
    ratio: oursRate / pgRate, agreement: verdicts, worstDifferenceM: worst,
    http: { requestsPerSecond: ok / duration, p50: http.latency.p50, p99: http.latency.p99, non2xx: http.non2xx, errors: http.errors },
  }, null, 2));
  await service.close();
  await store.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
