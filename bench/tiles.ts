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
import { mkdirSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { spawn, type ChildProcess } from 'node:child_process';
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

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '10' },
    'per-zoom': { type: 'string', default: '150' },
    duration: { type: 'string', default: '10' },
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

/** `npm start` against the benchmark database, on a free port; resolves once it serves. */
function startServerProcess(databaseUrl: string): Promise<{ base: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', ONEMAP_LOG_LEVEL: 'warn', ONEMAP_LOAD_DEMO: 'false', ONEMAP_TILE_WARMUP: 'false' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving at (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve({ base: m[1]!.replace('localhost', '127.0.0.1'), child });
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}) before serving: ${out}`)));
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
  // the server in a process of its own as in production, autocannon in this one.
  const server = await startServerProcess(url);
  for (const u of allUrls) await (await fetch(server.base + u)).arrayBuffer();
  const duration = Number(values.duration);
  const warm = await autocannon({
    url: server.base,
    connections: 32,
    duration,
    // As browsers and MapLibre send it: tiles go out gzipped.
    headers: { 'accept-encoding': 'gzip' },
    requests: allUrls.map((path) => ({ method: 'GET', path })),
  });
  const ok = warm['2xx'];
  console.log(`\nwarm cache over HTTP (server process with request logs at warn; autocannon, 32 connections, ${duration} s, ${allUrls.length} distinct tiles):`);
  console.log(`  ${(ok / duration).toFixed(0)} tiles/s (2xx), ${(warm.throughput.average / 2 ** 20).toFixed(0)} MiB/s, latency p50 ${warm.latency.p50} ms, p99 ${warm.latency.p99} ms, non-2xx ${warm.non2xx}, errors ${warm.errors}`);
  results.warm = { tilesPerSecond: ok / duration, p50: warm.latency.p50, p99: warm.latency.p99, non2xx: warm.non2xx, errors: warm.errors };
  server.child.kill('SIGTERM');

  mkdirSync('bench/out', { recursive: true });
  writeFileSync('bench/out/tiles.json', JSON.stringify(results, null, 2));
  await client.end();
  await store.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
