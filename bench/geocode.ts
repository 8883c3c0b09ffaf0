/**
 * bench:geocode — the evaluation set's queries (fixtures/geocode-eval.ts: the demo city's
 * addresses written with one kind of mess each) answered by OneMap's geocoder and by what people
 * do without one: PostgreSQL pg_trgm similarity over the standard address table,
 *     select id from std_address order by text <-> $1 limit 1      -- GiST gist_trgm_ops, KNN
 * in one run, with the top-1 accuracy of each (a right answer is one of the query's labels).
 *
 * 1. Single addresses, in process, one at a time: OneMap's Geocoder.geocode vs the pg_trgm
 *    statement (prepared, one connection): queries/s, median and p95.
 * 2. Batches: POST /geocode/batch (JSON, all queries in one request) vs one pg_trgm statement
 *    over unnest($queries): addresses/s.
 * 3. Over HTTP (the server as a child process, autocannon, 32 connections): GET /geocode and
 *    GET /suggest (prefixes of the queries): requests/s, p50, p99.
 *
 *   npm run bench:geocode -- [--scale 1] [--rounds 5] [--duration 10] [--db postgres://...]
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import autocannon from 'autocannon';
import { sql } from 'kysely';
import { generateDemoCity } from '../fixtures/demo-city/index.ts';
import { buildEvalSet, type EvalQuery } from '../fixtures/geocode-eval.ts';
import { Geocoder } from '../geocoder/geocoder.ts';
import { loadGeocoderInput } from '../geocoder/store-source.ts';
import { openDemoStore } from './demo-store.ts';
import { startServerProcess } from './server-process.ts';
import { summarize } from './stats.ts';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '10' },
    db: { type: 'string', default: process.env.BENCH_GEOCODE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/onemap_bench_geocode' },
  },
});
const scale = Number(values.scale);
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const url = values.db!;

const right = (q: EvalQuery, code: string | null | undefined) => code !== null && code !== undefined && q.expect.includes(code);

async function main() {
  const store = await openDemoStore(url, scale);
  const queries = buildEvalSet(generateDemoCity({ scale }));
  console.log(`bench:geocode — ${queries.length} queries of the evaluation set, demo city scale ${scale}, ${rounds} rounds`);

  const t0 = performance.now();
  const input = await loadGeocoderInput(store.db);
  const t1 = performance.now();
  const geocoder = Geocoder.build(input);
  const t2 = performance.now();
  console.log(`OneMap geocoder: read ${input.addresses.length} standard addresses, ${input.roads.length} road segments, ${input.areas.length} areas in ${((t1 - t0) / 1000).toFixed(2)} s; built in ${((t2 - t1) / 1000).toFixed(2)} s`);

  // The table people would make: one row per standard address, a trigram index on its text.
  await sql`create extension if not exists pg_trgm`.execute(store.db);
  await sql`drop table if exists bench_std_address`.execute(store.db);
  await sql`create table bench_std_address as select feature_id as id, attributes->>'address' as text, geom from feature_version where layer_id = 'addresses' and valid_to is null`.execute(store.db);
  await sql`create index on bench_std_address using gist (text gist_trgm_ops)`.execute(store.db);
  await sql`analyze bench_std_address`.execute(store.db);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const trgm = (text: string) => client.query<{ id: string }>({ name: 'trgm1', text: 'select id from bench_std_address order by text <-> $1 limit 1', values: [text] });

  // 1. One at a time, interleaved round by round.
  const oursMs: number[] = [];
  const pgMs: number[] = [];
  let oursRight = 0, pgRight = 0;
  for (const q of queries.slice(0, 50)) { geocoder.geocode(q.query, { limit: 1 }); await trgm(q.query); }
  for (let r = 0; r < rounds; r++) {
    for (const q of queries) {
      let t = performance.now();
      const ours = geocoder.geocode(q.query, { limit: 1 }).results[0];
      oursMs.push(performance.now() - t);
      t = performance.now();
      const theirs = (await trgm(q.query)).rows[0];
      pgMs.push(performance.now() - t);
      if (r === 0) {
        if (right(q, ours?.code) && ours?.level === q.level) oursRight++;
        if (right(q, theirs?.id)) pgRight++;
      }
    }
  }
  const a = summarize(oursMs);
  const b = summarize(pgMs);
  const oursRate = oursMs.length / (oursMs.reduce((x, y) => x + y, 0) / 1000);
  const pgRate = pgMs.length / (pgMs.reduce((x, y) => x + y, 0) / 1000);
  const accOurs = oursRight / queries.length;
  const accPg = pgRight / queries.length;
  console.log('\n1. single addresses, in process:');
  console.log(`  ${'contender'.padEnd(44)} ${'queries/s'.padStart(10)} ${'median µs'.padStart(10)} ${'p95 µs'.padStart(9)} ${'top-1'.padStart(7)}`);
  const row = (name: string, rate: number, s: { median: number; p95: number }, acc: number) =>
    console.log(`  ${name.padEnd(44)} ${rate.toFixed(0).padStart(10)} ${(s.median * 1000).toFixed(0).padStart(10)} ${(s.p95 * 1000).toFixed(0).padStart(9)} ${(100 * acc).toFixed(1).padStart(6)}%`);
  row('OneMap Geocoder.geocode', oursRate, a, accOurs);
  row('PostgreSQL pg_trgm  order by text <-> $1', pgRate, b, accPg);
  console.log(`  ratio OneMap / pg_trgm: ${(oursRate / pgRate).toFixed(1)}× the rate, accuracy ${(100 * accOurs).toFixed(1)}% vs ${(100 * accPg).toFixed(1)}%`);

  // 2. Batches.
  const server = await startServerProcess(url);
  const texts = queries.map((q) => q.query);
  const batchOnce = async () => {
    const res = await fetch(`${server.base}/geocode/batch`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(texts) });
    if (res.status !== 200) throw new Error(`batch: ${res.status} ${await res.text()}`);
    return (await res.json()) as { results: Array<{ result: { code: string | null; level: string } | null }> };
  };
  const pgBatchOnce = () => client.query<{ i: string; id: string | null }>(
    'select q.i, (select id from bench_std_address order by text <-> q.s limit 1) as id from unnest($1::text[]) with ordinality q(s, i) order by q.i', [texts]);
  await batchOnce();
  await pgBatchOnce();
  const batchMs: number[] = [];
  const pgBatchMs: number[] = [];
  let batchRight = 0, pgBatchRight = 0;
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    const ours = await batchOnce();
    batchMs.push(performance.now() - t);
    t = performance.now();
    const theirs = await pgBatchOnce();
    pgBatchMs.push(performance.now() - t);
    if (r === 0) {
      queries.forEach((q, i) => {
        const o = ours.results[i]?.result;
        if (right(q, o?.code) && o?.level === q.level) batchRight++;
        if (right(q, theirs.rows[i]?.id)) pgBatchRight++;
      });
    }
  }
  const ba = summarize(batchMs);
  const bb = summarize(pgBatchMs);
  const batchRate = texts.length / (ba.median / 1000);
  const pgBatchRate = texts.length / (bb.median / 1000);
  console.log(`\n2. batches of ${texts.length} addresses (median of ${rounds}):`);
  console.log(`  OneMap POST /geocode/batch (JSON, over HTTP)     ${batchRate.toFixed(0).padStart(8)} addresses/s  (${ba.median.toFixed(0)} ms a batch), top-1 ${(100 * batchRight / texts.length).toFixed(1)}%`);
  console.log(`  pg_trgm, one statement over unnest($queries)     ${pgBatchRate.toFixed(0).padStart(8)} addresses/s  (${bb.median.toFixed(0)} ms a batch), top-1 ${(100 * pgBatchRight / texts.length).toFixed(1)}%`);
  console.log(`  ratio OneMap / pg_trgm: ${(batchRate / pgBatchRate).toFixed(1)}×`);

  // 3. HTTP latency.
  const http: Record<string, { rps: number; p50: number; p99: number; non2xx: number }> = {};
  const prefixes = [...new Set(queries.flatMap((q) => [2, 3, 4, 6].map((n) => [...q.query].slice(0, n).join(''))))];
  for (const [name, paths] of [
    ['/geocode', texts.map((t) => `/geocode?address=${encodeURIComponent(t)}`)],
    ['/suggest', prefixes.map((p) => `/suggest?q=${encodeURIComponent(p)}`)],
  ] as const) {
    const run = await autocannon({ url: server.base, connections: 32, duration, requests: paths.map((path) => ({ method: 'GET', path })) });
    http[name] = { rps: run['2xx'] / duration, p50: run.latency.p50, p99: run.latency.p99, non2xx: run.non2xx };
    console.log(`\n3. HTTP GET ${name} (autocannon, 32 connections, ${duration} s, ${paths.length} distinct requests): ${(run['2xx'] / duration).toFixed(0)} requests/s, latency p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms, non-2xx ${run.non2xx}`);
  }
  server.child.kill('SIGTERM');

  mkdirSync('bench/out', { recursive: true });
  writeFileSync('bench/out/geocode.json', JSON.stringify({
    scale, queries: queries.length, rounds, at: new Date().toISOString(),
    build: { readMs: t1 - t0, buildMs: t2 - t1, ...geocoder.stats },
    single: { ours: { ...a, queriesPerSecond: oursRate, accuracy: accOurs }, pgTrgm: { ...b, queriesPerSecond: pgRate, accuracy: accPg }, ratio: oursRate / pgRate },
    batch: { ours: { ...ba, addressesPerSecond: batchRate, accuracy: batchRight / texts.length }, pgTrgm: { ...bb, addressesPerSecond: pgBatchRate, accuracy: pgBatchRight / texts.length }, ratio: batchRate / pgBatchRate },
    http,
  }, null, 2));
  await client.end();
  await store.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
