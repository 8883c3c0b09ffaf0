/**
 * bench:tiles — vector tiles of the scale-10 demo city's buildings and water pipes, z12–z16.
 *
 * 1. Cold: the same tiles cut by our engine from its in-memory index (tile cache off) and by
 *    PostGIS ST_AsMVT with the query Martin and pg_tileserv run (ST_TileEnvelope, ST_AsMVTGeom
 *    with a 64-unit buffer, attributes as properties), interleaved, in one run: tiles/s and ratio.
 * 2. Warm: the HTTP endpoint with the tile cache filled, under autocannon: tiles/s, p50, p99.
 * 3. Index build time and memory per million features; tile sizes per zoom (max must stay < 500 KiB).
 *
 *   npm run bench:tiles -- [--scale 10] [--per-zoom 150] [--duration 10] [--db postgres://...]
 */
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import autocannon from 'autocannon';
import { SESSION_OPTIONS } from '../store/db.ts';
import { getLayer, type Layer } from '../store/layers.ts';
import { loadLayerIndex } from '../tiles/tile-service.ts';
import { layerTileConfig } from '../tiles/layer-tile-config.ts';
import { cutTile } from '../tiles/cut-tile.ts';
import { tileForLonLat } from '../tiles/tile-math.ts';
import { rngFor } from '../fixtures/demo-city/random.ts';
import { openDemoStore } from './demo-store.ts';
import { summarize } from './stats.ts';
import { startServerProcess } from './server-process.ts';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '10' },
    'per-zoom': { type: 'string', default: '150' },
    duration: { type: 'string', default: '5' },
    db: { type: 'string', default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/onemap_bench' },
  },
});
const scale = Number(values.scale);
const perZoom = Number(values['per-zoom']);
const url = values.db!;
const LAYERS = ['buildings', 'water-supply-pipes'];
const ZOOMS = [12, 13, 14, 15, 16];

interface Tile { z: number; x: number; y: number }

/** Up to perZoom tiles per zoom, seeded, each holding at least one current feature of the layer. */
function sampleTiles(points: Array<[number, number]>, seed: string): Tile[] {
  const rng = rngFor(20260101, seed);
  const out: Tile[] = [];
  for (const z of ZOOMS) {
    const seen = new Map<string, Tile>();
    for (const [lon, lat] of points) {
      const t = tileForLonLat(lon, lat, z);
      seen.set(`${t.x}/${t.y}`, t);
    }
    const all = [...seen.values()];
    for (let i = all.length - 1; i > 0; i--) { const j = Math.floor(rng.next() * (i + 1)); [all[i], all[j]] = [all[j]!, all[i]!]; }
    out.push(...all.slice(0, perZoom));
  }
  return out;
}

/** CPU seconds the process has used (user + system, from /proc). */
function processCpu(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Waits until the process has used under 5% of a core for a second (start-up indexing done). */
async function waitUntilIdle(pid: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const a = processCpu(pid);
    await new Promise((r) => setTimeout(r, 1000));
    if (processCpu(pid) - a < 0.05) return;
  }
}

/** The tile as sent to a browser: gzipped bytes, not inflated (fetch would inflate them). */
function getGzipped(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    }).on('error', reject);
  });
}

async function main() {
  const store = await openDemoStore(url, scale);
  const client = new pg.Client({ connectionString: url, options: SESSION_OPTIONS });
  await client.connect();
  const at = new Date();
  const results: Record<string, unknown> = { scale, at: at.toISOString(), layers: {} };
  console.log(`\nbench:tiles  demo city scale ${scale}, layers ${LAYERS.join(', ')}, z${ZOOMS[0]}–z${ZOOMS.at(-1)}, up to ${perZoom} tiles per zoom\n`);

  let totalItems = 0;
  let totalBytes = 0;
  const allUrls: string[] = [];
  for (const id of LAYERS) {
    const layer = (await getLayer(store.db, id)) as Layer;
    const t0 = performance.now();
    const { index } = await loadLayerIndex(store.db, id);
    const buildMs = performance.now() - t0;
    totalItems += index.size;
    totalBytes += index.memoryBytes();
    const config = layerTileConfig(layer.domain, layer.geometryType);
    const { rows: pts } = await client.query<{ x: number; y: number }>(
      `select st_x(p) as x, st_y(p) as y from (select st_pointonsurface(geom) as p from feature_version where layer_id = $1 and valid_to is null) s`, [id]);
    const tiles = sampleTiles(pts.map((r) => [r.x, r.y]), id).filter((t) => t.z >= config.minZoom);

    // Martin / pg_tileserv: one statement per tile, geometry to 3857, clipped and quantised by
    // ST_AsMVTGeom, attributes (jsonb) as feature properties.
    const sqlText = `select st_asmvt(t, $1, 4096, 'geom') as mvt from (
        select st_asmvtgeom(st_transform(geom, 3857), st_tileenvelope($2, $3, $4), 4096, 64, true) as geom, feature_id, attributes
        from feature_version
        where layer_id = $1 and validity @> $5::timestamptz
          and geom && st_transform(st_tileenvelope($2, $3, $4, margin => 64.0 / 4096), 4490)
      ) t where geom is not null`;
    const ours: number[] = [];
    const postgis: number[] = [];
    const sizesByZoom = new Map<number, number[]>();
    let countDiff = 0;
    const request = [{ name: id, index, config }];
    for (let round = 0; round < 2; round++) {
      // Round 0 warms PostgreSQL's buffers and V8; round 1 is measured.
      for (const t of tiles) {
        let s = performance.now();
        const cut = cutTile(request, t.z, t.x, t.y, at.getTime());
        const ourMs = performance.now() - s;
        s = performance.now();
        const { rows } = await client.query<{ mvt: Buffer }>(sqlText, [id, t.z, t.x, t.y, at.toISOString()]);
        const pgMs = performance.now() - s;
        if (round === 0) continue;
        ours.push(ourMs);
        postgis.push(pgMs);
        const list = sizesByZoom.get(t.z) ?? [];
        list.push(cut.bytes.byteLength);
        sizesByZoom.set(t.z, list);
        if (cut.bytes.byteLength > 0 && rows[0]!.mvt.byteLength === 0) countDiff++;
      }
    }
    const a = summarize(ours);
    const b = summarize(postgis);
    const rateOurs = (tiles.length / ours.reduce((x, y) => x + y, 0)) * 1000;
    const ratePg = (tiles.length / postgis.reduce((x, y) => x + y, 0)) * 1000;
    console.log(`${id}: ${tiles.length} tiles (z${config.minZoom}+), index of ${index.size} versions built in ${(buildMs / 1000).toFixed(1)} s, ${(index.memoryBytes() / 2 ** 20).toFixed(1)} MiB`);
    console.log(`  ${'contender'.padEnd(44)} ${'tiles/s'.padStart(9)} ${'median ms'.padStart(10)} ${'p95 ms'.padStart(8)}`);
    console.log(`  ${'OneMap engine (cold: no tile cache)'.padEnd(44)} ${rateOurs.toFixed(0).padStart(9)} ${a.median.toFixed(2).padStart(10)} ${a.p95.toFixed(2).padStart(8)}`);
    console.log(`  ${'PostGIS ST_AsMVT (Martin/pg_tileserv query)'.padEnd(44)} ${ratePg.toFixed(0).padStart(9)} ${b.median.toFixed(2).padStart(10)} ${b.p95.toFixed(2).padStart(8)}`);
    console.log(`  ratio OneMap / ST_AsMVT (tiles/s): ${(rateOurs / ratePg).toFixed(1)}×${countDiff ? `  (${countDiff} tiles empty in PostGIS but not ours)` : ''}`);
    const sizes = [...sizesByZoom].map(([z, s]) => ({ z, tiles: s.length, medianKiB: summarize(s).median / 1024, maxKiB: Math.max(...s) / 1024 }));
    console.log(`  tile sizes: ${sizes.map((s) => `z${s.z} median ${s.medianKiB.toFixed(1)} KiB, max ${s.maxKiB.toFixed(1)} KiB`).join('; ')}`);
    (results.layers as Record<string, unknown>)[id] = { tiles: tiles.length, buildMs, items: index.size, memoryBytes: index.memoryBytes(), ours: { ...a, tilesPerSecond: rateOurs }, postgis: { ...b, tilesPerSecond: ratePg }, ratio: rateOurs / ratePg, sizes };
    for (const t of tiles) allUrls.push(`/tiles/${id}/${t.z}/${t.x}/${t.y}.mvt`);
  }
  const perMillion = (totalBytes / totalItems) * 1e6 / 2 ** 20;
  console.log(`\nindex memory: ${perMillion.toFixed(0)} MiB per million feature versions (${totalItems} versions, ${(totalBytes / 2 ** 20).toFixed(1)} MiB)`);
  results.indexMiBPerMillion = perMillion;

  // Warm: the whole HTTP path (auth, catalog, cache lookup, ETag) with every tile already cached,
  // the server in a process of its own as in production, autocannon in this one, one zoom at a
  // time (tile sizes differ 50-fold between z13 and z16). The control is a bare node:http server
  // answering the same paths with the same gzipped bytes: autocannon decodes every body as text,
  // and on two shared cores that, not the server, caps big tiles.
  const server = await startServerProcess(url);
  const gz: Record<string, string> = {};
  for (const u of allUrls) gz[u] = (await getGzipped(server.base + u)).toString('base64');
  await waitUntilIdle(server.child.pid!);
  mkdirSync('bench/out', { recursive: true });
  writeFileSync('bench/out/warm-tiles.json', JSON.stringify(gz));
  const bare = spawn(process.execPath, ['--import', 'tsx', 'bench/bare-tile-server.ts', 'bench/out/warm-tiles.json', '3993'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => bare.stdout!.once('data', resolve));
  const duration = Number(values.duration);
  const warm: Record<string, unknown> = {};
  console.log(`\nwarm cache over HTTP, gzip (server process, request logs at warn; autocannon, 32 connections, ${duration} s per zoom):`);
  console.log(`  ${'zoom'.padEnd(6)} ${'tiles'.padStart(6)} ${'avg KiB'.padStart(8)} ${'OneMap tiles/s'.padStart(15)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'server cores'.padStart(13)} ${'bare node:http tiles/s'.padStart(23)} ${'ratio'.padStart(6)}`);
  for (const z of ZOOMS) {
    const paths = allUrls.filter((u) => u.split('/')[3] === String(z));
    if (paths.length === 0) continue;
    const avg = paths.reduce((a, p) => a + Buffer.byteLength(gz[p]!, 'base64'), 0) / paths.length;
    const requests = paths.map((path) => ({ method: 'GET' as const, path }));
    const cpu0 = processCpu(server.child.pid!);
    const ours = await autocannon({ url: server.base, connections: 32, duration, headers: { 'accept-encoding': 'gzip' }, requests });
    const cores = (processCpu(server.child.pid!) - cpu0) / duration;
    const control = await autocannon({ url: 'http://127.0.0.1:3993', connections: 32, duration, headers: { 'accept-encoding': 'gzip' }, requests });
    const rate = ours['2xx'] / duration;
    const bareRate = control['2xx'] / duration;
    console.log(`  ${`z${z}`.padEnd(6)} ${String(paths.length).padStart(6)} ${(avg / 1024).toFixed(1).padStart(8)} ${rate.toFixed(0).padStart(15)} ${String(ours.latency.p50).padStart(7)} ${String(ours.latency.p99).padStart(7)} ${cores.toFixed(2).padStart(13)} ${bareRate.toFixed(0).padStart(23)} ${(rate / bareRate).toFixed(2).padStart(6)}${ours.non2xx || ours.errors ? `  non-2xx ${ours.non2xx}, errors ${ours.errors}` : ''}`);
    warm[`z${z}`] = { tiles: paths.length, avgBytes: avg, tilesPerSecond: rate, p50: ours.latency.p50, p99: ours.latency.p99, serverCores: cores, bareTilesPerSecond: bareRate };
  }
  results.warm = warm;
  bare.kill('SIGTERM');
  server.child.kill('SIGTERM');

  writeFileSync('bench/out/tiles.json', JSON.stringify(results, null, 2));
  await client.end();
  await store.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
