/**
 * bench:features — a bbox page of 1,000 buildings from our OGC API items endpoint (over HTTP,
 * the whole request) against the same query run directly in PostGIS with ST_AsGeoJSON, and against
 * the usual Node way of serving it (rows → JSON.parse → JSON.stringify), in one run, interleaved.
 *
 *   npm run bench:features -- [--scale 10] [--rounds 40] [--db postgres://...]
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import http from 'node:http';
import pino from 'pino';
import { sql } from 'kysely';
import type { AddressInfo } from 'node:net';
import { openStore, SESSION_OPTIONS } from '../store/db.ts';
import { getLayer } from '../store/layers.ts';
import { NOW, queryFeatures } from '../store/features.ts';
import { openServices } from '../server/services.ts';
import { createApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { openDemoStore } from './demo-store.ts';
import { fmt, interleave } from './stats.ts';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '40' },
    db: { type: 'string', default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/onemap_bench' },
  },
});
const scale = Number(values.scale);
const rounds = Number(values.rounds);
const url = values.db!;
const PAGE = 1000;


async function main() {
  const store = await openDemoStore(url, scale);
  const layer = (await getLayer(store.db, 'buildings'))!;

  // A square around the city centre grown until it holds at least one page of current buildings.
  const [x0, y0, x1, y1] = layer.extent!;
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  let half = 0.002;
  let bbox: [number, number, number, number] = [0, 0, 0, 0];
  for (;;) {
    bbox = [cx - half, cy - half, cx + half, cy + half];
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from feature_version where layer_id = 'buildings'
      and validity @> now() and st_intersects(geom, st_makeenvelope(${bbox[0]}, ${bbox[1]}, ${bbox[2]}, ${bbox[3]}, 4490))`.execute(store.db);
    if (rows[0]!.n >= PAGE * 1.2) break;
    half *= 1.25;
  }

  const config = loadConfig({ PORT: '0', ONEMAP_LOG_LEVEL: 'silent' });
  const app = createApp(await openServices(config, store, pino({ level: 'silent' })));
  const server = await new Promise<import('node:http').Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/collections/buildings/items?bbox=${bbox.join(',')}&limit=${PAGE}`;

  // The baseline runs with the same session settings as the store (see SESSION_OPTIONS), so the
  // ratio measures what OneMap adds; the default-settings line shows what those settings buy.
  const client = new pg.Client({ connectionString: url, options: SESSION_OPTIONS });
  await client.connect();
  const defaults = new pg.Client({ connectionString: url });
  await defaults.connect();
  const direct = `select feature_id, st_asgeojson(geom, 8, 0) as geometry, attributes from feature_version
    where layer_id = 'buildings' and validity @> now() and st_intersects(geom, st_makeenvelope($1, $2, $3, $4, 4490))
    order by feature_id limit ${PAGE}`;
  const directCount = `select count(*) from feature_version
    where layer_id = 'buildings' and validity @> now() and st_intersects(geom, st_makeenvelope($1, $2, $3, $4, 4490))`;

  let checked = false;
  const results = await interleave({
    'OneMap items endpoint (HTTP, full response)': async () => {
      const res = await fetch(endpoint);
      const text = await res.text();
      if (!checked) {
        const body = JSON.parse(text);
        if (res.status !== 200 || body.features.length !== PAGE) throw new Error(`unexpected response ${res.status} ${body.features?.length}`);
        checked = true;
      }
    },
    'OneMap items endpoint (node:http client, bytes)': async () => {
      await new Promise<void>((resolve, reject) => {
        http.get(endpoint, (res) => {
          let n = 0;
          res.on('data', (c: Buffer) => { n += c.length; });
          res.on('end', () => (n > 0 ? resolve() : reject(new Error('empty'))));
        }).on('error', reject);
      });
    },
    'OneMap store query, no HTTP (queryFeatures)': async () => {
      await queryFeatures(store.db, 'buildings', { bbox, time: NOW, limit: PAGE, offset: 0 });
    },
    'PostGIS direct: ST_AsGeoJSON rows + count': async () => {
      await client.query(direct, bbox);
      await client.query(directCount, bbox);
    },
    'PostGIS direct, default session settings': async () => {
      await defaults.query(direct, bbox);
      await defaults.query(directCount, bbox);
    },
    'Node usual: rows -> JSON.parse/stringify': async () => {
      const [{ rows }, count] = await Promise.all([client.query(direct, bbox), client.query(directCount, bbox)]);
      JSON.stringify({
        type: 'FeatureCollection', numberMatched: Number(count.rows[0].count), numberReturned: rows.length,
        features: rows.map((r) => ({ type: 'Feature', id: r.feature_id, geometry: JSON.parse(r.geometry), properties: r.attributes })),
      });
    },
  }, 5, rounds);

  const ours = results['OneMap items endpoint (HTTP, full response)']!;
  const base = results['PostGIS direct: ST_AsGeoJSON rows + count']!;
  console.log(`\nbench:features  scale ${scale}, ${layer.extent ? '' : ''}bbox ${bbox.map((v) => v.toFixed(4)).join(',')}, page of ${PAGE} buildings, ${rounds} rounds after 5 warm-up\n`);
  console.log('contender'.padEnd(46) + 'median ms'.padStart(10) + 'p95 ms'.padStart(10) + 'min ms'.padStart(10) + '  mean±std');
  for (const [name, s] of Object.entries(results)) {
    console.log(name.padEnd(46) + fmt(s.median).padStart(10) + fmt(s.p95).padStart(10) + fmt(s.min).padStart(10) + `  ${fmt(s.mean)}±${fmt(s.std)}`);
  }
  console.log(`\nratio OneMap / PostGIS direct (median): ${(ours.median / base.median).toFixed(2)}`);
  console.log(`ratio OneMap / Node usual (median):     ${(ours.median / results['Node usual: rows -> JSON.parse/stringify']!.median).toFixed(2)}`);
  mkdirSync('bench/out', { recursive: true });
  writeFileSync('bench/out/features.json', JSON.stringify({ scale, bbox, page: PAGE, rounds, results }, null, 2));

  await client.end();
  await defaults.end();
  server.close();
  await store.close();
}

main().catch((err) => { console.error(err); process.exit(1); });
