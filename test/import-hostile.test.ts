import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, truncateSync, writeFileSync, copyFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { openTestStore, resetStore, type TestStore } from './helpers/stores.ts';
import { rawZip } from './helpers/raw-zip.ts';
import { importLayerFile, ImportError } from '../data-import/import-file.ts';
import { writeShapefile } from '../data-import/writers/shapefile-writer.ts';
import { toEwkbHex } from '../store/ewkb.ts';
import { getLayer } from '../store/layers.ts';

const line = (i: number) => ({ type: 'LineString' as const, coordinates: [[118.5 + i * 1e-4, 24.9], [118.5 + (i + 1) * 1e-4, 24.9]] });

/** Each hostile file is refused with an ImportError naming the file, and the store is unchanged. */
describe('hostile deliveries leave the store exactly as it was', () => {
  let store: TestStore;
  let dir: string;
  let base: string;

  before(async () => {
    store = await openTestStore('postgres');
    await resetStore(store);
    dir = mkdtempSync(path.join(os.tmpdir(), 'onemap-hostile-'));
    base = path.join(dir, 'pipes');
    await writeShapefile(base, Array.from({ length: 200 }, (_, i) => ({ geometry: line(i), properties: { 编号: `P${i}`, 权属单位: '泉州市自来水有限公司' } })), { encoding: 'GBK', prj: readFileSync(new URL('../fixtures/prj/esri-4490.prj', import.meta.url), 'utf8') });
    // A good load first: the hostile ones must not disturb it.
    const r = await importLayerFile(store.db, { file: `${base}.shp`, layer: 'hostile', domain: 'pipeline', key: '编号', validFrom: new Date('2020-01-01T00:00:00Z') });
    assert.equal(r.inserted, 200);
  });
  after(async () => {
    await store?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function snapshot() {
    const { rows } = await sql<{ n: number; m: string }>`select count(*)::int as n, max(recorded_at)::text as m from feature_version where layer_id = 'hostile'`.execute(store.db);
    return { ...rows[0], revision: (await getLayer(store.db, 'hostile'))!.revision };
  }

  function copySet(name: string): string {
    for (const ext of ['shp', 'shx', 'dbf', 'prj', 'cpg']) copyFileSync(`${base}.${ext}`, path.join(dir, `${name}.${ext}`));
    return path.join(dir, name);
  }

  const cases: Array<[string, () => string, RegExp]> = [
    ['a truncated .shp', () => { const b = copySet('cut'); truncateSync(`${b}.shp`, statSync(`${b}.shp`).size - 30); return `${b}.shp`; }, /cut\.shp.*truncated|truncated.*cut\.shp/i],
    ['a .dbf with fewer records than the .shp', () => {
      const b = copySet('short');
      const dbf = readFileSync(`${b}.dbf`);
      const recordLength = dbf.readUInt16LE(10);
      const headerLength = dbf.readUInt16LE(8);
      const cut = Buffer.from(dbf.subarray(0, headerLength + recordLength * 150));
      cut.writeUInt32LE(150, 4);
      writeFileSync(`${b}.dbf`, Buffer.concat([cut, Buffer.from([0x1a])]));
      return `${b}.shp`;
    }, /short\.(shp|dbf).*(150|200)/],
    ['a .cpg that declares the wrong encoding', () => { const b = copySet('wrongcpg'); writeFileSync(`${b}.cpg`, 'UTF-8'); return `${b}.shp`; }, /--encoding/],
    ['a zip entry with a ../ path', () => { const z = path.join(dir, 'evil.zip'); writeFileSync(z, rawZip([{ name: 'pipes.shp', data: readFileSync(`${base}.shp`) }, { name: '../pipes.dbf', data: readFileSync(`${base}.dbf`) }])); return z; }, /\.\.\/pipes\.dbf|unsafe|outside/i],
    ['a file type it does not read', () => { const f = path.join(dir, 'pipes.exe'); writeFileSync(f, 'MZ'); return f; }, /unknown file type/],
  ];

  for (const [name, make, message] of cases) {
    it(name, async () => {
      const before = await snapshot();
      const file = make();
      await assert.rejects(importLayerFile(store.db, { file, layer: 'hostile', domain: 'pipeline', key: '编号', validFrom: new Date('2024-01-01T00:00:00Z') }), (err: unknown) => {
        assert.ok(err instanceof ImportError, String(err));
        assert.match(err.message, message);
        assert.ok(err.where.file, 'the error names the file');
        return true;
      });
      assert.deepEqual(await snapshot(), before);
    });
  }
});

describe('hex EWKB agrees with PostGIS', () => {
  it('every geometry type, 2D and with Z, reads back as the GeoJSON it came from', async () => {
    const store = await openTestStore('postgres');
    try {
      const gs = [
        { type: 'Point', coordinates: [118.5, 24.9] }, { type: 'Point', coordinates: [118.5, 24.9, 1.5] },
        { type: 'LineString', coordinates: [[1, 2, 3], [4, 5, 6]] },
        { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]], [[0.1, 0.1], [0.2, 0.1], [0.2, 0.2], [0.1, 0.1]]] },
        { type: 'MultiPoint', coordinates: [[1, 2], [3, 4]] }, { type: 'MultiLineString', coordinates: [[[1, 2], [3, 4]], [[5, 6], [7, 8]]] },
        { type: 'MultiPolygon', coordinates: [[[[0, 0], [1, 0], [1, 1], [0, 0]]], [[[5, 5], [6, 5], [6, 6], [5, 5]]]] },
        { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: [1, 2] }, { type: 'LineString', coordinates: [[1, 2], [3, 4]] }] },
      ] as const;
      for (const g of gs) {
        const { rows } = await sql<{ a: string; b: string }>`select st_asewkt(${toEwkbHex(g as never)}::geometry) as a,
          st_asewkt(st_setsrid(st_geomfromgeojson(${JSON.stringify(g)}), 4490)) as b`.execute(store.db);
        assert.equal(rows[0]!.a, rows[0]!.b, g.type);
        assert.match(rows[0]!.a, /^SRID=4490;/);
      }
    } finally {
      await store.cleanup();
    }
  });
});
