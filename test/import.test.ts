import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { sql } from 'kysely';
import proj4 from 'proj4';
import { openTestStore, resetStore, POSTGIS_URL, type TestStore } from './helpers/stores.ts';
import { importLayerFile, ImportError, rejectedRowsCsv } from '../data-import/import-file.ts';
import { getLayer } from '../store/layers.ts';
import { featureHistory, getFeatureJson, queryFeatures, NOW } from '../store/features.ts';
import { wgs84ToGcj02 } from '../data-import/crs/china-offsets.ts';
import { pgClientOf, type DriverName } from '../store/db.ts';

const GK120 = '+proj=tmerc +lat_0=0 +lon_0=120 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs';

function fc(features: unknown[], extra: Record<string, unknown> = {}) {
  return JSON.stringify({ type: 'FeatureCollection', ...extra, features });
}
const square = (x: number, y: number, d: number) => ({ type: 'Polygon', coordinates: [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]] });

function importSuite(driver: DriverName) {
  describe(`import into the versioned store on ${driver}`, () => {
    let store: TestStore;
    let dir: string;
    const file = (name: string, text: string) => {
      const p = path.join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    before(async () => {
      store = await openTestStore(driver);
      if (driver === 'postgres') await resetStore(store);
      dir = mkdtempSync(path.join(os.tmpdir(), 'onemap-import-'));
    });
    after(async () => {
      await store?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it('re-importing a modified delivery versions exactly what changed; snapshot retires the missing', async () => {
      const v1 = [1, 2, 3, 4, 5].map((i) => ({ type: 'Feature', properties: { 编号: `P${i}`, 名称: `公园${i}`, 面积: 1000 * i }, geometry: square(118.5 + i * 0.01, 24.9, 0.001) }));
      const r1 = await importLayerFile(store.db, { file: file('parks-2024.geojson', fc(v1)), layer: 'parks', domain: 'green', key: '编号', validFrom: new Date('2024-01-01T00:00:00Z') });
      assert.deepEqual([r1.read, r1.inserted, r1.updated, r1.unchanged, r1.retired, r1.rejectedCount], [5, 5, 0, 0, 0, 0]);
      assert.equal(r1.crs.code, 'EPSG:4490');
      assert.equal(r1.layerCreated, true);
      const layer = await getLayer(store.db, 'parks');
      assert.equal(layer?.attributeSchema.name?.title, '名称');
      const stored = JSON.parse((await getFeatureJson(store.db, 'parks', 'P1'))!);
      assert.deepEqual(Object.keys(stored.properties).sort(), ['area_m2', 'name'], 'the key is the feature id, not an attribute too');
      const revision1 = layer!.revision;
      // The load's own scaffolding (a bound check, a version-id default) is gone, and the GiST it
      // built during the load is the parent's index, not a second copy of it.
      const { rows: parts } = await sql<{ indexes: string[]; checks: string[]; id_default: string | null }>`
        select array(select pg_get_indexdef(i.indexrelid) from pg_index i where i.indrelid = c.oid order by 1) as indexes,
               array(select conname::text from pg_constraint k where k.conrelid = c.oid and k.contype = 'c' order by 1) as checks,
               (select pg_get_expr(d.adbin, d.adrelid) from pg_attrdef d join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
                 where d.adrelid = c.oid and a.attname = 'version_id') as id_default
        from pg_inherits h join pg_class c on c.oid = h.inhrelid
        where h.inhparent = 'feature_version'::regclass and pg_get_expr(c.relpartbound, c.oid) like '%''parks''%'`.execute(store.db);
      assert.equal(parts.length, 1);
      assert.deepEqual(parts[0]!.indexes.map((d) => d.replace(/^CREATE (UNIQUE )?INDEX \S+ ON \S+ /, '$1')).sort(),
        ['UNIQUE USING btree (layer_id, feature_id) WHERE (valid_to IS NULL)', 'UNIQUE USING btree (layer_id, version_id)', 'USING btree (layer_id, feature_id, valid_from)', 'USING gist (geom, validity)'].sort());
      assert.deepEqual(parts[0]!.checks, ['feature_version_check', 'feature_version_geom_check']);
      assert.equal(parts[0]!.id_default, null);

      // 2025 delivery: P2 renamed, P3 moved, P4 unchanged, P5 missing, P6 new.
      const v2 = [
        v1[0], { ...v1[1], properties: { ...v1[1]!.properties, 名称: '东湖公园' } },
        { ...v1[2], geometry: square(118.6, 24.95, 0.001) }, v1[3],
        { type: 'Feature', properties: { 编号: 'P6', 名称: '新公园', 面积: 600 }, geometry: square(118.7, 24.9, 0.001) },
      ];
      const r2 = await importLayerFile(store.db, { file: file('parks-2025.geojson', fc(v2)), layer: 'parks', key: '编号', validFrom: new Date('2025-01-01T00:00:00Z') });
      assert.deepEqual([r2.read, r2.inserted, r2.updated, r2.unchanged, r2.retired], [5, 1, 2, 2, 0]);
      assert.equal((await getLayer(store.db, 'parks'))!.revision, revision1 + 1, 'revision bumped once per import');
      for (const [id, n] of [['P1', 1], ['P2', 2], ['P3', 2], ['P4', 1], ['P5', 1], ['P6', 1]] as const) {
        assert.equal((await featureHistory(store.db, 'parks', id)).length, n, id);
      }
      const then = JSON.parse((await getFeatureJson(store.db, 'parks', 'P2', { kind: 'instant', at: new Date('2024-06-01T00:00:00Z') }))!);
      assert.equal(then.properties.name, '公园2');
      const now = JSON.parse((await getFeatureJson(store.db, 'parks', 'P2'))!);
      assert.equal(now.properties.name, '东湖公园');

      // Importing the same file again changes nothing.
      const again = await importLayerFile(store.db, { file: file('parks-2025b.geojson', fc(v2)), layer: 'parks', key: '编号', validFrom: new Date('2025-06-01T00:00:00Z') });
      assert.deepEqual([again.inserted, again.updated, again.unchanged], [0, 0, 5]);

      const snap = await importLayerFile(store.db, { file: file('parks-2026.geojson', fc(v2)), layer: 'parks', key: '编号', mode: 'snapshot', validFrom: new Date('2026-01-01T00:00:00Z') });
      assert.equal(snap.retired, 1);
      assert.equal(await getFeatureJson(store.db, 'parks', 'P5'), undefined);
      assert.ok(await getFeatureJson(store.db, 'parks', 'P5', { kind: 'instant', at: new Date('2025-06-01T00:00:00Z') }));

      // A change dated before the current version would rewrite history: refused by row.
      const late = await importLayerFile(store.db, { file: file('parks-late.geojson', fc([{ ...v1[0], properties: { ...v1[0]!.properties, 名称: 'x' } }])), layer: 'parks', key: '编号', validFrom: new Date('2023-01-01T00:00:00Z') });
      assert.equal(late.updated, 0);
      assert.equal(late.rejectedCount, 1);
      assert.match(late.rejected[0]!.reason, /current version starts 2024-01-01.*not before the change's 2023-01-01/);
    });

    it(`bulk loads ${driver === 'postgres' ? 'stream binary COPY through the transaction\'s own connection' : 'take the JSON path (PGlite has no COPY FROM STDIN)'}`, async () => {
      await store.db.transaction().execute(async (trx) => {
        const client = await pgClientOf(trx);
        if (driver === 'pglite') return assert.equal(client, undefined);
        assert.ok(client, 'the pool client of the transaction is found');
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
        assert.equal((client as unknown as { processID: number }).processID, rows[0]!.pid);
      });
    });

    it('repairs self-intersecting polygons and notes it; rejects empty, NaN and out-of-range geometries by row', async () => {
      const bowtie = { type: 'Polygon', coordinates: [[[118.5, 24.9], [118.51, 24.91], [118.51, 24.9], [118.5, 24.91], [118.5, 24.9]]] };
      const features = [
        { type: 'Feature', properties: { name: 'ok' }, geometry: square(118.5, 24.9, 0.001) },
        { type: 'Feature', properties: { name: 'bowtie' }, geometry: bowtie },
        { type: 'Feature', properties: { name: 'empty' }, geometry: { type: 'Polygon', coordinates: [] } },
        { type: 'Feature', properties: { name: 'far' }, geometry: { type: 'Point', coordinates: [218.5, 24.9] } },
        { type: 'Feature', properties: { name: 'short line' }, geometry: { type: 'LineString', coordinates: [[118.5, 24.9]] } },
        { type: 'Feature', properties: { name: 'no length' }, geometry: { type: 'LineString', coordinates: [[118.5, 24.9], [118.5, 24.9]] } },
      ];
      const text = fc(features).replace('[218.5,24.9]', '[218.5,24.9]');
      const r = await importLayerFile(store.db, { file: file('bad-geoms.geojson', text), layer: 'bad-geoms', domain: 'building' });
      assert.equal(r.inserted, 2);
      assert.equal(r.rejectedCount, 4);
      assert.deepEqual(r.rejected.map((x) => x.row), [3, 4, 5, 6]);
      assert.match(r.rejected[3]!.reason, /line has no length/);
      assert.match(r.rejected[0]!.reason, /empty polygon/);
      assert.match(r.rejected[1]!.reason, /outside the valid longitude\/latitude range/);
      assert.equal(r.repaired.length, 1);
      assert.equal(r.repaired[0]!.row, 2);
      assert.match(r.repaired[0]!.reason, /Self-intersection/i);
      const { rows } = await sql<{ valid: boolean; type: string }>`select bool_and(st_isvalid(geom)) as valid, string_agg(distinct geometrytype(geom), ',') as type from feature_version where layer_id = 'bad-geoms'`.execute(store.db);
      assert.equal(rows[0]!.valid, true);
      assert.match(rows[0]!.type, /POLYGON/);
      const csv = rejectedRowsCsv(r);
      assert.match(csv, /^\uFEFFrow,field,reason,name\r\n3,geometry,empty polygon,empty\r\n/);
    });

    it('reprojects a GeoJSON declared in CGCS2000 Gauss-Krüger CM 120°E (EPSG:4549)', async () => {
      const [e, n] = proj4('EPSG:4326', GK120, [118.59, 24.91]);
      const r = await importLayerFile(store.db, {
        file: file('gk.geojson', fc([{ type: 'Feature', properties: { 名称: '井' }, geometry: { type: 'Point', coordinates: [e, n, 1.25] } }], { crs: { type: 'name', properties: { name: 'urn:ogc:def:crs:EPSG::4549' } } })),
        layer: 'gk-points', domain: 'pipeline',
      });
      assert.equal(r.crs.code, 'EPSG:4549');
      assert.equal(r.crs.from, 'declared');
      const { rows } = await sql<{ x: number; y: number; z: number }>`select st_x(geom) as x, st_y(geom) as y, st_z(geom) as z from feature_version where layer_id = 'gk-points'`.execute(store.db);
      assert.ok(Math.abs(rows[0]!.x - 118.59) < 1e-8 && Math.abs(rows[0]!.y - 24.91) < 1e-8, `${rows[0]!.x} ${rows[0]!.y}`);
      assert.equal(rows[0]!.z, 1.25, 'Z is kept');
    });

    it('CSV with GCJ-02 coordinates lands within 1 m of the true WGS84 points; address-only rows await geocoding', async () => {
      const truth: Array<[number, number]> = [[118.5876, 24.9087], [118.6012, 24.9215], [118.5555, 24.8801], [119.3, 26.08]];
      const lines = ['名称,类别,地址,lng,lat'];
      truth.forEach(([lon, lat], i) => {
        const [gx, gy] = wgs84ToGcj02(lon, lat);
        lines.push(`企业${i},餐饮,"泉州市丰泽区东湖街${i + 1}号",${gx},${gy}`);
      });
      lines.push('没有坐标的企业,零售,泉州市鲤城区中山中路88号,,');
      const r = await importLayerFile(store.db, { file: file('shops.csv', lines.join('\n')), layer: 'shops', crs: 'GCJ02', key: '名称' });
      assert.equal(r.domain, 'business');
      assert.equal(r.crs.code, 'GCJ02');
      assert.equal(r.inserted, 5);
      assert.equal(r.awaitingGeocoding, 1);
      const { rows } = await sql<{ id: string; d: number | null; status: string | null }>`
        select f.feature_id as id, st_distance(f.geom::geography, st_setsrid(st_makepoint(t.lon, t.lat), 4490)::geography) as d,
               f.attributes->>'geocode_status' as status
        from feature_version f left join (select * from unnest(${truth.map((t) => t[0])}::float8[], ${truth.map((t) => t[1])}::float8[], ${truth.map((_, i) => `企业${i}`)}::text[]) as t(lon, lat, id)) t on t.id = f.feature_id
        where f.layer_id = 'shops' order by f.feature_id`.execute(store.db);
      for (const row of rows.filter((x) => x.id.startsWith('企业'))) assert.ok(row.d! < 1, `${row.id} is ${row.d} m off`);
      const pending = rows.find((x) => x.id === '没有坐标的企业')!;
      assert.equal(pending.status, 'pending');
      const page = await queryFeatures(store.db, 'shops', { time: NOW, limit: 10, offset: 0 });
      assert.equal(JSON.parse(page.featuresJson).find((f: { id: string }) => f.id === '没有坐标的企业').geometry, null);
    });

    it('one bad row among 100,000 CSV rows: skip loads the rest and names it; abort loads nothing', async () => {
      const lines = ['id,name,lon,lat'];
      for (let i = 1; i <= 100_000; i++) lines.push(i === 54_321 ? `${i},bad,118.x,24.9` : `${i},n${i},${(118.5 + (i % 1000) * 1e-4).toFixed(6)},${(24.9 + Math.floor(i / 1000) * 1e-4).toFixed(6)}`);
      const big = file('big.csv', lines.join('\n'));
      await assert.rejects(importLayerFile(store.db, { file: big, layer: 'big-abort', key: 'id', onError: 'abort' }), (err: unknown) => {
        assert.ok(err instanceof ImportError);
        assert.equal(err.where.row, 54_321);
        assert.equal(err.where.field, 'lon');
        assert.match(err.message, /row 54321, field lon: "118\.x" is not a number/);
        return true;
      });
      assert.equal(await getLayer(store.db, 'big-abort'), undefined, 'nothing of the aborted import exists');
      const r = await importLayerFile(store.db, { file: big, layer: 'big-skip', key: 'id' });
      assert.equal(r.read, 100_000);
      assert.equal(r.inserted, 99_999);
      assert.deepEqual(r.rejected.map((x) => [x.row, x.field]), [[54_321, 'lon']]);
      const csv = rejectedRowsCsv(r).replace(/^\uFEFF/, '').split('\r\n');
      assert.equal(csv[0], 'row,field,reason,id,name,lon,lat', 'the rejected rows come back with every column the user sent');
      assert.equal(csv[1], '54321,lon,"""118.x"" is not a number",54321,bad,118.x,24.9');
      const stored = JSON.parse((await getFeatureJson(store.db, 'big-skip', '7'))!).properties;
      assert.deepEqual(stored, { name: 'n7' }, 'the key and the coordinate columns are not repeated among the attributes');
    });

    it('--valid-from-field gives each row its own start (a built year or a date)', async () => {
      const features = [['B1', 1998], ['B2', '2008-05-01'], ['B3', ''], ['B4', 'soon']].map(([id, built]) => ({
        type: 'Feature', properties: { 编号: id, 建成年份: built, 层数: 6 }, geometry: square(118.5, 24.9, 0.001),
      }));
      const r = await importLayerFile(store.db, { file: file('built.geojson', fc(features)), layer: 'built', domain: 'building', key: '编号', validFromField: '建成年份', validFrom: new Date('2020-01-01T00:00:00Z') });
      assert.equal(r.inserted, 3);
      assert.deepEqual(r.rejected.map((x) => [x.row, x.field]), [[4, '建成年份']]);
      const starts = Object.fromEntries(await Promise.all(['B1', 'B2', 'B3'].map(async (id) => [id, (await featureHistory(store.db, 'built', id))[0]!.validFrom.toISOString()])));
      assert.deepEqual(starts, { B1: '1998-01-01T00:00:00.000Z', B2: '2008-05-01T00:00:00.000Z', B3: '2020-01-01T00:00:00.000Z' });
      const in2000 = await queryFeatures(store.db, 'built', { time: { kind: 'instant', at: new Date('2000-01-01T00:00:00Z') }, limit: 10, offset: 0 });
      assert.deepEqual(in2000.featureIds, ['B1']);
      assert.ok(!('建成年份' in JSON.parse((await getFeatureJson(store.db, 'built', 'B1'))!).properties), 'the date field is read, not stored');
    });

    it('a dry run reports and writes nothing', async () => {
      const r = await importLayerFile(store.db, { file: file('dry.geojson', fc([{ type: 'Feature', properties: {}, geometry: square(118.5, 24.9, 0.01) }])), layer: 'dry-run-layer', domain: 'green', dryRun: true });
      assert.equal(r.inserted, 1);
      assert.equal(r.dryRun, true);
      assert.equal(await getLayer(store.db, 'dry-run-layer'), undefined);
    });

    it('refuses projected coordinates whose zone cannot be told, asking for --crs', async () => {
      const [e, n] = proj4('EPSG:4326', GK120, [118.59, 24.91]);
      await assert.rejects(
        importLayerFile(store.db, { file: file('nocrs.csv', `name,x,y\na,${e},${n}\n`), layer: 'nocrs' }),
        (err: unknown) => err instanceof ImportError && err.where.parameter === 'crs' && /--crs/.test(err.message),
      );
    });
  });
}

importSuite('postgres');
importSuite('pglite');

describe('an import killed mid-way leaves nothing behind', () => {
  it('kill -9 during the load: the layer does not exist afterwards', async () => {
    const store = await openTestStore('postgres');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'onemap-kill-'));
    try {
      const lines = ['id,lon,lat'];
      for (let i = 0; i < 400_000; i++) lines.push(`${i},${(118.5 + (i % 1000) * 1e-4).toFixed(6)},${(24.9 + Math.floor(i / 1000) * 1e-5).toFixed(6)}`);
      const big = path.join(dir, 'killed.csv');
      writeFileSync(big, lines.join('\n'));
      const child = spawn(process.execPath, ['--import', 'tsx', 'cli/onemap.ts', 'import', big, '--layer', 'killed-import', '--key', 'id'], {
        env: { ...process.env, DATABASE_URL: POSTGIS_URL }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      // Wait until it reports progress (rows are being staged inside its transaction), then kill it.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the import never reported progress')), 60_000);
        child.stderr.on('data', (d: Buffer) => { if (/rows\/s/.test(d.toString())) { clearTimeout(timer); resolve(); } });
        child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`import exited (${code}) before it could be killed`)); });
      });
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      // PostgreSQL rolls back the dead connection's transaction.
      for (let i = 0; i < 50; i++) {
        const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where application_name = 'onemap' and state like 'idle in transaction%'`.execute(store.db);
        if (rows[0]!.n === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(await getLayer(store.db, 'killed-import'), undefined);
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from feature_version where layer_id = 'killed-import'`.execute(store.db);
      assert.equal(rows[0]!.n, 0);
    } finally {
      await store.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
