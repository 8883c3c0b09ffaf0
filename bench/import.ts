/**
 * bench:import — the same scale-10 pipeline delivery (a GBK zipped Shapefile in EPSG:4549, as
 * survey contractors deliver it) loaded by our importer (reprojection to EPSG:4490, CJJ 61
 * profile, geometry checks, versioned write) and by `ogr2ogr -f PostgreSQL` with PG_USE_COPY=YES
 * (reprojection to EPSG:4490 and a GiST index, no versioning), into the same database, alternately.
 *
 *   npm run bench:import -- [--scale 10] [--rounds 3] [--layer drainage-pipes] [--db postgres://...]
 */
import { parseArgs } from 'node:util';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, writeFileSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { openStore } from '../store/db.ts';
import { dropLayer } from '../store/maintenance.ts';
import { importLayerFile } from '../data-import/import-file.ts';
import { generateDemoCity } from '../fixtures/demo-city/index.ts';
import { writeSurveyShapefileZip, PIPE_LINE_COLUMNS } from '../fixtures/survey/survey-shapefile.ts';
import { ensureDatabase } from './database.ts';
import { summarize, fmt } from './stats.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    layer: { type: 'string', default: 'drainage-pipes' },
    db: { type: 'string', default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/onemap_bench' },
  },
});
const scale = Number(values.scale);
const rounds = Number(values.rounds);
const url = values.db!;


async function main() {
  await ensureDatabase(url);
  const dir = path.resolve('data', 'bench');
  mkdirSync(dir, { recursive: true });
  const zip = path.join(dir, `${values.layer}-x${scale}-gk120-gbk.zip`);
  if (!existsSync(zip)) {
    console.log(`writing ${path.basename(zip)} from the scale-${scale} demo city…`);
    const city = generateDemoCity({ scale });
    const layer = city.layers.find((l) => l.meta.id === values.layer);
    if (!layer) throw new Error(`no demo layer ${values.layer}`);
    await writeSurveyShapefileZip(zip, layer.versions, PIPE_LINE_COLUMNS);
  }
  const store = await openStore({ databaseUrl: url, dataDir: '', statementTimeoutMs: 600_000 });
  const u = new URL(url);
  const pgConn = `PG:host=${u.hostname} port=${u.port || 5432} user=${decodeURIComponent(u.username || 'postgres')} dbname=${u.pathname.slice(1)}`;

  const ours: number[] = [];
  const ogr: number[] = [];
  const reimport: number[] = [];
  let features = 0;
  for (let r = 0; r < rounds; r++) {
    const layer = `bench-import-${r}`;
    await dropLayer(store.db, layer);
    let t = performance.now();
    const report = await importLayerFile(store.db, { file: zip, layer, domain: 'pipeline', key: '管线编号', validFrom: new Date('2020-01-01T00:00:00Z') });
    ours.push(performance.now() - t);
    if (report.rejectedCount > 0 || report.inserted === 0) throw new Error(`unexpected report ${JSON.stringify({ ...report, rejected: report.rejected.slice(0, 3) })}`);
    features = report.inserted;
    t = performance.now();
    const again = await importLayerFile(store.db, { file: zip, layer, domain: 'pipeline', key: '管线编号', validFrom: new Date('2021-01-01T00:00:00Z') });
    reimport.push(performance.now() - t);
    if (again.unchanged !== features) throw new Error('the re-import should find every feature unchanged');
    await dropLayer(store.db, layer);

    t = performance.now();
    await run('ogr2ogr', ['-f', 'PostgreSQL', pgConn, `/vsizip/${zip}`, '-nln', 'bench_ogr_pipes', '-overwrite', '-t_srs', 'EPSG:4490',
      '-lco', 'GEOMETRY_NAME=geom', '-lco', 'SPATIAL_INDEX=GIST', '-nlt', 'PROMOTE_TO_MULTI'],
    { env: { ...process.env, PG_USE_COPY: 'YES' }, maxBuffer: 1 << 26 });
    ogr.push(performance.now() - t);
  }
  const a = summarize(ours), b = summarize(ogr), c = summarize(reimport);
  const rate = (ms: number) => (features / (ms / 1000));
  console.log(`\nbench:import  ${path.basename(zip)} (${(statSync(zip).size / 1e6).toFixed(1)} MB zipped), ${features} pipe segments, ${rounds} rounds\n`);
  console.log('contender'.padEnd(58) + 'median s'.padStart(10) + 'min s'.padStart(9) + 'features/s'.padStart(13));
  console.log('OneMap import (reproject, profile, checks, versioned load)'.padEnd(58) + fmt(a.median / 1000).padStart(10) + fmt(a.min / 1000).padStart(9) + Math.round(rate(a.median)).toString().padStart(13));
  console.log('ogr2ogr -f PostgreSQL, PG_USE_COPY=YES, -t_srs EPSG:4490'.padEnd(58) + fmt(b.median / 1000).padStart(10) + fmt(b.min / 1000).padStart(9) + Math.round(rate(b.median)).toString().padStart(13));
  console.log('OneMap re-import of the same delivery (all unchanged)'.padEnd(58) + fmt(c.median / 1000).padStart(10) + fmt(c.min / 1000).padStart(9) + Math.round(rate(c.median)).toString().padStart(13));
  console.log(`\nratio OneMap / ogr2ogr (features/s, median): ${(rate(a.median) / rate(b.median)).toFixed(2)}`);
  mkdirSync('bench/out', { recursive: true });
  writeFileSync('bench/out/import.json', JSON.stringify({ scale, features, rounds, ours: a, ogr2ogr: b, reimport: c }, null, 2));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('drop table if exists bench_ogr_pipes');
  await client.end();
  await store.close();
}

main().catch((err) => { console.error(err); process.exit(1); });
