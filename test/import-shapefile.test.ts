import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, unlinkSync, existsSync } from 'node:fs';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import proj4 from 'proj4';
import { openTestStore, resetStore, type TestStore } from './helpers/stores.ts';
import { importLayerFile, ImportError } from '../data-import/import-file.ts';
import { getFeatureJson } from '../store/features.ts';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const NANAIMO = path.resolve(here, '../../shared/conformance/nanaimo-water/pipes.shp');
const GK120 = '+proj=tmerc +lat_0=0 +lon_0=120 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs';

async function ogr2ogr(args: string[]) {
  mkdirSync(path.dirname(args.at(-2)!), { recursive: true });
  try {
    await run('ogr2ogr', args, { timeout: 60_000 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('GDAL ogr2ogr is required: apt-get install gdal-bin (.ci/run installs it)');
    throw err;
  }
}

/** Pipe segments near Quanzhou with Chinese field names, as a GeoJSON in EPSG:4549 metres. */
function surveyGeoJson(n: number): string {
  const features = Array.from({ length: n }, (_, i) => {
    const a = proj4('EPSG:4326', GK120, [118.58 + i * 0.0005, 24.91]);
    const b = proj4('EPSG:4326', GK120, [118.58 + (i + 1) * 0.0005, 24.91]);
    return {
      type: 'Feature',
      properties: { 管线编号: `JS${String(i).padStart(4, '0')}`, 起点点号: `J${i}`, 终点点号: `J${i + 1}`, 起点埋深: 1.2, 终点埋深: 1.35, 材质: '球墨铸铁', 管径: 300, 权属单位: '泉州市自来水有限公司', 埋设日期: '2008-05-01' },
      geometry: { type: 'LineString', coordinates: [a, b] },
    };
  });
  return JSON.stringify({ type: 'FeatureCollection', crs: { type: 'name', properties: { name: 'urn:ogc:def:crs:EPSG::4549' } }, features });
}

describe('Shapefile imports', () => {
  let store: TestStore;
  let dir: string;
  before(async () => {
    store = await openTestStore('postgres');
    await resetStore(store);
    dir = mkdtempSync(path.join(os.tmpdir(), 'onemap-shp-'));
  });
  after(async () => {
    await store?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the real Nanaimo water network (no clean key: PIPEID repeats, GID is often empty; content ids): every pipe, lengths within 0.1% of LENGTH, STARTID/ENDID kept', async () => {
    assert.ok(existsSync(NANAIMO), `missing conformance data ${NANAIMO}`);
    const r = await importLayerFile(store.db, { file: NANAIMO, layer: 'nanaimo-pipes', domain: 'pipeline', validFrom: new Date('2020-01-01T00:00:00Z') });
    assert.equal(r.crs.code, 'EPSG:26910');
    assert.equal(r.crs.from, 'prj');
    assert.equal(r.read, 17_755);
    assert.equal(r.rejectedCount, 0, JSON.stringify(r.rejected.slice(0, 3)));
    assert.equal(r.inserted, 17_755);
    const { rows } = await sql<{ n: number; off: number; worst: number; ends: number }>`
      select count(*)::int as n,
             count(*) filter (where abs(st_length(geom::geography) - (attributes->>'length_m')::float8) > 0.001 * (attributes->>'length_m')::float8 + 0.01)::int as off,
             max(abs(st_length(geom::geography) - (attributes->>'length_m')::float8) / nullif((attributes->>'length_m')::float8, 0)) as worst,
             count(*) filter (where attributes ? 'start_point' and attributes ? 'end_point')::int as ends
      from feature_version where layer_id = 'nanaimo-pipes'`.execute(store.db);
    assert.equal(rows[0]!.n, 17_755);
    assert.equal(rows[0]!.off, 0, `pipes whose length differs from LENGTH by more than 0.1% (worst ${rows[0]!.worst})`);
    assert.equal(rows[0]!.ends, 17_755);
    // Connectivity survives: the most common node id is shared by several pipes' ends.
    const { rows: shared } = await sql<{ n: number }>`
      select count(*)::int as n from (
        select attributes->>'start_point' as node from feature_version where layer_id = 'nanaimo-pipes'
        intersect select attributes->>'end_point' from feature_version where layer_id = 'nanaimo-pipes') x`.execute(store.db);
    assert.ok(shared[0]!.n > 10_000, `${shared[0]!.n} nodes are both a start and an end`);
  });

  it('GBK Shapefile with Chinese field names written by ogr2ogr (a foreign writer), EPSG:4549 from its .prj', async () => {
    const src = path.join(dir, 'survey.geojson');
    writeFileSync(src, surveyGeoJson(50));
    const shp = path.join(dir, 'gbk', '给水管线.shp');
    await ogr2ogr(['-f', 'ESRI Shapefile', '-lco', 'ENCODING=CP936', shp, src]);
    const r = await importLayerFile(store.db, { file: shp, layer: 'survey-gbk', domain: 'pipeline', key: '管线编号' });
    assert.equal(r.inserted, 50);
    assert.equal(r.crs.code, 'EPSG:4549');
    assert.match(r.encoding!.name, /GBK|CP936|GB18030/i);
    const f = JSON.parse((await getFeatureJson(store.db, 'survey-gbk', 'JS0007'))!);
    assert.equal(f.properties.material, 'QM');
    assert.equal(f.properties.owner, '泉州市自来水有限公司');
    assert.equal(f.properties.start_depth_m, 1.2);
    assert.equal(f.properties.diameter_mm, 300);
    assert.equal(f.properties.buried_year, 2008);
    assert.ok(Math.abs(f.geometry.coordinates[0][0] - (118.58 + 7 * 0.0005)) < 1e-8);
  });

  it('UTF-8 Shapefile without .cpg is detected; a .prj-less one needs --crs and then loads', async () => {
    const src = path.join(dir, 'survey2.geojson');
    writeFileSync(src, surveyGeoJson(20));
    const shp = path.join(dir, 'utf8', 'pipes.shp');
    await ogr2ogr(['-f', 'ESRI Shapefile', '-lco', 'ENCODING=UTF-8', shp, src]);
    unlinkSync(shp.replace(/\.shp$/, '.cpg'));
    // GDAL keeps 10 bytes of each UTF-8 field name: 管线编号 becomes 管线编, 起点埋深 起点埋.
    const r = await importLayerFile(store.db, { file: shp, layer: 'survey-utf8', domain: 'pipeline', key: '管线编' });
    assert.equal(r.inserted, 20);
    assert.equal(r.encoding!.from, 'detected');
    const f = JSON.parse((await getFeatureJson(store.db, 'survey-utf8', 'JS0001'))!);
    assert.equal(f.properties.owner, '泉州市自来水有限公司');
    assert.equal(f.properties.start_depth_m, 1.2, 'the truncated 起点埋 still maps to start_depth_m');

    unlinkSync(shp.replace(/\.shp$/, '.prj'));
    await assert.rejects(importLayerFile(store.db, { file: shp, layer: 'survey-noprj', domain: 'pipeline', key: '管线编' }), (err: unknown) => {
      assert.ok(err instanceof ImportError);
      assert.equal(err.where.parameter, 'crs');
      assert.match(err.message, /--crs/);
      assert.match(err.message, /EPSG:4549/);
      return true;
    });
    const ok = await importLayerFile(store.db, { file: shp, layer: 'survey-noprj', domain: 'pipeline', key: '管线编', crs: 'EPSG:4549' });
    assert.equal(ok.inserted, 20);
  });

  it('a zipped Shapefile loads like the loose one', async () => {
    const src = path.join(dir, 'survey3.geojson');
    writeFileSync(src, surveyGeoJson(10));
    const zip = path.join(dir, 'pipes.shp.zip');
    await ogr2ogr(['-f', 'ESRI Shapefile', '-lco', 'ENCODING=CP936', zip, src]);
    const r = await importLayerFile(store.db, { file: zip, layer: 'survey-zip', domain: 'pipeline', key: '管线编号' });
    assert.equal(r.inserted, 10);
  });
});
