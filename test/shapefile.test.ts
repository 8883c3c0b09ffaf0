import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants as zc, deflateRawSync } from 'node:zlib';
import { rawZip, type RawEntry } from './helpers/raw-zip.ts';
import iconv from 'iconv-lite';
import type { Geometry } from 'geojson';
import { SourceError, type SourceRow, type SourceInfo } from '../data-import/source.ts';
import { openShapefile, type OpenShapefileOptions } from '../data-import/readers/shapefile.ts';
import { extractZip } from '../data-import/readers/zip.ts';
import { plainNumber } from '../data-import/readers/dbf.ts';
import { writeShapefile, writeShapefileZip, type ShapefileFeatureInput } from '../data-import/writers/shapefile-writer.ts';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const NANAIMO = join(here, '../../shared/conformance/nanaimo-water/pipes.shp');

async function gdal(tool: 'ogrinfo' | 'ogr2ogr', args: string[]): Promise<string> {
  try {
    const { stdout } = await run(tool, args, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`GDAL ${tool} is required for this test: apt-get install gdal-bin (.ci/run installs it)`);
    }
    throw err;
  }
}

interface OgrFeature { props: Record<string, string>; geometry: string }

/** Parses `ogrinfo -al -q` output: GDAL is the independent reader that decodes our files. */
async function ogrFeatures(path: string, extra: string[] = []): Promise<OgrFeature[]> {
  const out = await gdal('ogrinfo', ['-al', '-q', ...extra, path]);
  const features: OgrFeature[] = [];
  for (const line of out.split('\n')) {
    if (line.startsWith('OGRFeature(')) features.push({ props: {}, geometry: '' });
    else if (features.length > 0 && line.startsWith('  ')) {
      const m = /^ {2}(.+?) \((\w+)\) = (.*)$/.exec(line);
      if (m) features[features.length - 1].props[m[1]] = m[3];
      else if (line.trim() !== '') features[features.length - 1].geometry = line.trim();
    }
  }
  return features;
}

async function readAll(path: string, options?: OpenShapefileOptions): Promise<{ info: SourceInfo; rows: SourceRow[]; deleted: number }> {
  const reader = await openShapefile(path, options);
  try {
    const rows: SourceRow[] = [];
    for await (const row of reader.rows()) rows.push(row);
    return { info: reader.info, rows, deleted: reader.deletedCount };
  } finally {
    await reader.close();
  }
}

async function rejectsWithSourceError(p: Promise<unknown>, check: (e: SourceError) => void): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof SourceError, `expected a SourceError, got ${String(err)}`);
    check(err);
    return true;
  });
}

async function rowsOf(path: string, options?: OpenShapefileOptions): Promise<SourceRow[]> {
  return (await readAll(path, options)).rows;
}

function featureCollection(features: { properties: Record<string, unknown>; geometry: Geometry | null }[]): string {
  return JSON.stringify({ type: 'FeatureCollection', features: features.map((f) => ({ type: 'Feature', ...f })) });
}


/** `mib` MiB of zeros as one raw deflate stream: a 1 MiB block flushed and repeated, then an empty final block. */
function zeroBomb(mib: number): Buffer {
  const block = deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zc.Z_FULL_FLUSH });
  return Buffer.concat([...Array.from({ length: mib }, () => block), Buffer.of(0x03, 0x00)]);
}

const pipes: ShapefileFeatureInput[] = [
  {
    geometry: { type: 'LineString', coordinates: [[440123.25, 2756789.5, -1.25], [440150.75, 2756801.125, -1.4]] },
    properties: { 编号: 'JS0001', 材质: '球墨铸铁', 管径: 300, 起点埋深: 1.25, 权属单位: '泉州市自来水公司', 埋设日期: '2015-06-01', 在用: true },
  },
  {
    geometry: { type: 'MultiLineString', coordinates: [[[440200, 2756900, -0.9], [440210, 2756910, -1.1]], [[440210, 2756910, -1.1], [440230, 2756905, -1.3]]] },
    properties: { 编号: 'JS0002', 材质: 'PE', 管径: 110, 起点埋深: null, 权属单位: null, 埋设日期: null, 在用: false },
  },
  {
    geometry: null,
    properties: { 编号: 'JS0003 "引号", 逗号', 材质: '钢', 管径: -5, 起点埋深: 0.005, 权属单位: '泉州燃气', 埋设日期: '1999-12-31', 在用: null },
  },
];
const pipeFields = [
  { name: '编号' }, { name: '材质' }, { name: '管径' }, { name: '起点埋深' }, { name: '权属单位' }, { name: '埋设日期', type: 'D' as const }, { name: '在用' },
];

describe('DBF numbers read from the bytes', () => {
  it('equal Number() of the text for every plain number of up to 15 characters', () => {
    // A fixed-seed generator: the same 200,000 cases on every run.
    let seed = 42;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const texts = ['0', '-0', '+7', '5.', '.5', '-.25', '91.01', '3.35', '0.1', '0.3', '999999999999999', '-99999999.999999', '1.00000000000001'];
    for (let i = 0; i < 200_000; i++) {
      const digits = 1 + Math.floor(rand() * 14);
      let t = '';
      for (let d = 0; d < digits; d++) t += String(Math.floor(rand() * 10));
      const dot = Math.floor(rand() * (digits + 1));
      if (rand() < 0.7) t = `${t.slice(0, dot)}.${t.slice(dot)}`;
      if (rand() < 0.2) t = `-${t}`;
      if (t.length <= 15 && /\d/.test(t)) texts.push(t);
    }
    for (const t of texts) {
      const buf = Buffer.from(` ${t} `, 'latin1');
      assert.ok(Object.is(plainNumber(buf, 1, 1 + t.length), Number(t)), `${t}: ${plainNumber(buf, 1, 1 + t.length)} is not ${Number(t)}`);
    }
  });
});

describe('Shapefile writer and reader round trips', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'shp-test-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('keeps GBK Chinese field names and values, Z, multipart lines and nulls', async () => {
    const base = join(dir, 'gbk-pipes');
    const result = await writeShapefile(base, pipes, { encoding: 'GBK', fields: pipeFields, prj: 'PROJCS["CGCS2000_3_Degree_GK_CM_117E"]' });
    assert.equal(result.shapeType, 'PolyLineZ');
    assert.deepEqual(result.fields.map((f) => `${f.name}:${f.type}(${f.length},${f.decimals})`),
      ['编号:C(19,0)', '材质:C(8,0)', '管径:N(3,0)', '起点埋深:N(5,3)', '权属单位:C(16,0)', '埋设日期:D(8,0)', '在用:L(1,0)']);
    const dbf = await readFile(`${base}.dbf`);
    assert.equal(dbf[29], 0x4d, 'language driver byte says code page 936');
    assert.equal(await readFile(`${base}.cpg`, 'utf8'), '936');

    const { info, rows } = await readAll(`${base}.shp`);
    assert.deepEqual(info.encoding, { name: 'GBK', from: 'cpg' });
    assert.equal(info.shapeType, 'PolyLineZ');
    assert.equal(info.rowCount, 3);
    assert.equal(info.crsDeclared, 'PROJCS["CGCS2000_3_Degree_GK_CM_117E"]');
    assert.deepEqual(info.fields, [
      { name: '编号', type: 'string' }, { name: '材质', type: 'string' }, { name: '管径', type: 'integer' },
      { name: '起点埋深', type: 'number' }, { name: '权属单位', type: 'string' }, { name: '埋设日期', type: 'date' }, { name: '在用', type: 'boolean' },
    ]);
    assert.deepEqual(rows.map((r) => r.row), [1, 2, 3]);
    for (let i = 0; i < pipes.length; i++) {
      assert.deepEqual(rows[i].geometry, pipes[i].geometry);
      assert.deepEqual(rows[i].properties, pipes[i].properties);
      assert.equal(rows[i].problem, undefined);
    }
  });

  it('values repeated down the records, then changed, read back exactly (GBK and UTF-8)', async () => {
    // The reader reuses a text field's previous value when its bytes repeat; these sequences change
    // by one byte, by length only, to empty and back, across chunk boundaries (4,096 records).
    const materials = ['混凝土', '混凝土', '球墨铸铁', '混凝土', '混凝', '混凝土', '', '', 'PE', 'PE ', '混凝土'];
    const features = Array.from({ length: 4096 + 7 }, (_, i) => ({
      geometry: { type: 'Point' as const, coordinates: [118.5 + i / 1e5, 24.9] },
      properties: { 材质: materials[i % materials.length] || null, 权属: i < 3000 ? '泉州市城市排水管理中心' : '泉州市自来水公司', 编号: `YS${String(i).padStart(6, '0')}` },
    }));
    for (const encoding of ['GBK', 'UTF-8'] as const) {
      const base = join(dir, `repeats-${encoding}`);
      await writeShapefile(base, features, { encoding });
      const { rows } = await readAll(`${base}.shp`);
      assert.equal(rows.length, features.length);
      for (const [i, row] of rows.entries()) {
        // DBF pads with spaces, so a trailing space is not kept; an empty value reads as null.
        assert.deepEqual(row.properties, { ...features[i]!.properties, 材质: features[i]!.properties.材质?.trimEnd() || null }, `record ${i + 1} (${encoding})`);
      }
    }
  });

  it('without a .cpg, trusts the GBK language driver byte our writer (and ArcGIS) sets', async () => {
    const base = join(dir, 'ldid');
    await writeShapefile(base, pipes, { encoding: 'GBK', fields: pipeFields, cpg: false });
    const { info, rows } = await readAll(`${base}.shp`);
    // SourceInfo has no 'language-driver' origin; it is reported as detected from the file.
    assert.deepEqual(info.encoding, { name: 'GBK', from: 'detected' });
    assert.equal(rows[0].properties['权属单位'], '泉州市自来水公司');
  });

  it('writes UTF-8 with a .cpg and cuts long field names on a character boundary', async () => {
    const base = join(dir, 'utf8');
    const result = await writeShapefile(base, [
      { geometry: { type: 'Point', coordinates: [118.6, 24.9] }, properties: { 权属单位名称: '泉州市自来水公司', 权属单位代码: 'QZ' } },
    ], { encoding: 'UTF-8' });
    // 10 bytes of UTF-8 hold three Chinese characters; the second name must not collide with the first.
    assert.deepEqual(result.fields.map((f) => f.name), ['权属单', '权属_2']);
    const { info, rows } = await readAll(`${base}.shp`);
    assert.deepEqual(info.encoding, { name: 'UTF-8', from: 'cpg' });
    assert.equal(info.shapeType, 'Point');
    assert.deepEqual(rows[0].properties, { 权属单: '泉州市自来水公司', 权属_2: 'QZ' });
    assert.deepEqual(rows[0].geometry, { type: 'Point', coordinates: [118.6, 24.9] });
  });

  it('keeps Z on PointZ and MultiPointZ', async () => {
    const base = join(dir, 'valves');
    const points: ShapefileFeatureInput[] = [
      { geometry: { type: 'Point', coordinates: [440000.5, 2756000.25, -1.75] }, properties: { 点号: 'F1' } },
      { geometry: { type: 'Point', coordinates: [440001, 2756001] }, properties: { 点号: 'F2' } },
    ];
    await writeShapefile(base, points, { encoding: 'GBK' });
    const rows = await rowsOf(`${base}.shp`);
    assert.deepEqual(rows.map((r) => r.geometry), [
      { type: 'Point', coordinates: [440000.5, 2756000.25, -1.75] },
      { type: 'Point', coordinates: [440001, 2756001, 0] }, // a 2D point in a Z file gets Z 0
    ]);
    const parcel = join(dir, 'parcel-z');
    const ring = [[0, 0, 5], [10, 0, 5], [10, 10, 6], [0, 10, 6], [0, 0, 5]];
    const written = await writeShapefile(parcel, [{ geometry: { type: 'Polygon', coordinates: [ring] }, properties: {} }]);
    assert.equal(written.shapeType, 'PolygonZ');
    assert.deepEqual((await rowsOf(`${parcel}.shp`))[0].geometry, { type: 'Polygon', coordinates: [ring] });
    const multi = join(dir, 'multi');
    await writeShapefile(multi, [{ geometry: { type: 'MultiPoint', coordinates: [[1, 2, 3], [4, 5, 6]] }, properties: {} }]);
    assert.deepEqual((await rowsOf(`${multi}.shp`))[0].geometry, { type: 'MultiPoint', coordinates: [[1, 2, 3], [4, 5, 6]] });
  });

  it('writes polygons with holes clockwise-outer and reads them back in RFC 7946 winding', async () => {
    const base = join(dir, 'parcels');
    const square = (x: number, y: number, s: number) => [[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]];
    const hole = (x: number, y: number, s: number) => square(x, y, s).reverse();
    const polygons: ShapefileFeatureInput[] = [
      { geometry: { type: 'Polygon', coordinates: [square(0, 0, 10), hole(2, 2, 2), hole(6, 6, 2)] }, properties: { 名称: '地块一' } },
      { geometry: { type: 'MultiPolygon', coordinates: [[square(20, 0, 10), hole(22, 2, 3)], [square(40, 0, 5)]] }, properties: { 名称: '地块二' } },
      // Wrong winding on input (outer clockwise, hole counter-clockwise) must still come out right.
      { geometry: { type: 'Polygon', coordinates: [square(60, 0, 10).reverse(), hole(62, 2, 2).reverse()] }, properties: { 名称: '地块三' } },
    ];
    await writeShapefile(base, polygons, { encoding: 'GBK' });

    // The first ring on disk is the outer ring of record 1: clockwise, as the spec requires.
    const shp = await readFile(`${base}.shp`);
    const pts = Array.from({ length: 5 }, (_, i) => [shp.readDoubleLE(100 + 8 + 44 + 4 * 3 + 16 * i), shp.readDoubleLE(100 + 8 + 44 + 4 * 3 + 16 * i + 8)]);
    let area2 = 0;
    for (let i = 0; i < 4; i++) area2 += pts[i][0] * pts[i + 1][1] - pts[i + 1][0] * pts[i][1];
    assert.ok(area2 < 0, 'outer ring stored clockwise');

    const rows = await rowsOf(`${base}.shp`);
    assert.deepEqual(rows[0].geometry, polygons[0].geometry);
    assert.deepEqual(rows[1].geometry, polygons[1].geometry);
    assert.deepEqual(rows[2].geometry, { type: 'Polygon', coordinates: [square(60, 0, 10), hole(62, 2, 2)] });

    const ogr = await ogrFeatures(`${base}.shp`);
    // GDAL prints rings as stored: outer clockwise, holes counter-clockwise.
    assert.equal(ogr[0].geometry, 'POLYGON ((0 0,0 10,10 10,10 0,0 0),(2 2,4 2,4 4,2 4,2 2),(6 6,8 6,8 8,6 8,6 6))');
    assert.match(ogr[1].geometry, /^MULTIPOLYGON \(\(\(20 0,.*\),\(22 2,.*\)\),\(\(40 0,.*\)\)\)$/);
    assert.equal(ogr[1].props['名称'], '地块二');
  });

  it('sizes fields from the data: text capped at 254 bytes on a character boundary, numbers, dates, booleans', async () => {
    const base = join(dir, 'widths');
    const long = '泉'.repeat(200); // 400 bytes in GBK
    const result = await writeShapefile(base, [
      { geometry: { type: 'Point', coordinates: [0, 0] }, properties: { 说明: long, 数量: 12345678901234, 比例: 0.125, 日期: new Date(Date.UTC(2021, 0, 31)), 有效: true } },
      { geometry: { type: 'Point', coordinates: [1, 1] }, properties: { 说明: 'a', 数量: -1, 比例: -1234.5, 日期: null, 有效: false } },
    ], { encoding: 'GBK' });
    assert.equal(result.truncatedValues, 1);
    assert.deepEqual(result.fields.map((f) => [f.type, f.length, f.decimals]), [['C', 254, 0], ['N', 14, 0], ['N', 9, 3], ['D', 8, 0], ['L', 1, 0]]);
    const rows = await rowsOf(`${base}.shp`);
    assert.equal(rows[0].properties['说明'], '泉'.repeat(127));
    assert.deepEqual(rows.map((r) => [r.properties['数量'], r.properties['比例'], r.properties['日期'], r.properties['有效']]), [
      [12345678901234, 0.125, '2021-01-31', true],
      [-1, -1234.5, null, false],
    ]);
  });

  it('writes and reads 20,000 records in chunks', async () => {
    const base = join(dir, 'many');
    function* generate(): Generator<ShapefileFeatureInput> {
      for (let i = 0; i < 20_000; i++) {
        yield {
          geometry: { type: 'LineString', coordinates: [[i, i, -1 - (i % 7) / 10], [i + 1, i + 2, -2]] },
          properties: { GXBH: `JS${i}`, CZ: i % 2 ? '球墨铸铁' : 'PE', GJ: 100 + (i % 5) * 50 },
        };
      }
    }
    const result = await writeShapefile(base, generate(), { encoding: 'GBK' });
    assert.equal(result.recordCount, 20_000);
    let n = 0;
    const reader = await openShapefile(`${base}.shp`);
    for await (const row of reader.rows()) {
      n++;
      if (row.row === 12_345) {
        assert.deepEqual(row.properties, { GXBH: 'JS12344', CZ: 'PE', GJ: 300 });
        assert.deepEqual(row.geometry, { type: 'LineString', coordinates: [[12344, 12344, -1.3], [12345, 12346, -2]] });
      }
    }
    await reader.close();
    assert.equal(n, 20_000);
  });
});

describe('GDAL reads our files (ogrinfo -al)', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'shp-ogr-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('decodes our GBK names and values, numbers, dates and Z like we do', async () => {
    const base = join(dir, 'gbk-pipes');
    await writeShapefile(base, pipes, { encoding: 'GBK', fields: pipeFields });
    const ogr = await ogrFeatures(`${base}.shp`);
    assert.equal(ogr.length, 3);
    assert.deepEqual(ogr[0].props, {
      编号: 'JS0001', 材质: '球墨铸铁', 管径: '300', 起点埋深: '1.250', 权属单位: '泉州市自来水公司', 埋设日期: '2015/06/01', 在用: 'T',
    });
    assert.equal(ogr[0].geometry, 'LINESTRING Z (440123.25 2756789.5 -1.25,440150.75 2756801.125 -1.4)');
    assert.equal(ogr[1].geometry, 'MULTILINESTRING Z ((440200 2756900 -0.9,440210 2756910 -1.1),(440210 2756910 -1.1,440230 2756905 -1.3))');
    assert.equal(ogr[1].props['起点埋深'], '(null)');
    assert.equal(ogr[1].props['权属单位'], '(null)');
    assert.equal(ogr[2].props['编号'], 'JS0003 "引号", 逗号');
    assert.equal(ogr[2].props['管径'], '-5');
    assert.equal(ogr[2].props['起点埋深'], '0.005');
  });

  it('reads our UTF-8 zip through /vsizip/', async () => {
    const zip = join(dir, '管线.zip');
    const result = await writeShapefileZip(zip, pipes, { encoding: 'UTF-8', name: '给水管线', fields: pipeFields.map((f) => ({ ...f, dbfName: f.name.slice(0, 3) })) });
    assert.deepEqual(result.files.sort(), ['给水管线.cpg', '给水管线.dbf', '给水管线.shp', '给水管线.shx']);
    const ogr = await ogrFeatures(`/vsizip/${zip}`);
    assert.equal(ogr.length, 3);
    assert.equal(ogr[0].props['权属单'], '泉州市自来水公司');
    assert.equal(ogr[0].props['材质'], '球墨铸铁');
  });
});

describe('we read Shapefiles written by ogr2ogr', () => {
  let dir: string;
  const source = featureCollection([
    { properties: { NAME: '东湖公园', 材质: '球墨铸铁', QDMS: 1.25, GJ: 300, MSRQ: '2020-05-01' }, geometry: { type: 'LineString', coordinates: [[118.58, 24.91, -1.2], [118.581, 24.912, -1.5]] } },
    { properties: { NAME: 'West Lake 西湖', 材质: null, QDMS: null, GJ: null, MSRQ: null }, geometry: { type: 'LineString', coordinates: [[118.5, 24.9, -2], [118.6, 25, -2.5]] } },
  ]);
  const expected = [
    { NAME: '东湖公园', 材质: '球墨铸铁', QDMS: 1.25, GJ: 300, MSRQ: '2020-05-01' },
    { NAME: 'West Lake 西湖', 材质: null, QDMS: null, GJ: null, MSRQ: null },
  ];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shp-ogr2ogr-'));
    await writeFile(join(dir, 'in.geojson'), source);
    await gdal('ogr2ogr', ['-f', 'ESRI Shapefile', '-dim', 'XY', '-lco', 'ENCODING=UTF-8', join(dir, 'utf8.shp'), join(dir, 'in.geojson')]);
    await gdal('ogr2ogr', ['-f', 'ESRI Shapefile', '-dim', 'XY', '-lco', 'ENCODING=CP936', join(dir, 'gbk.shp'), join(dir, 'in.geojson')]);
    await gdal('ogr2ogr', ['-f', 'ESRI Shapefile', '-dim', 'XYZ', '-lco', 'ENCODING=CP936', join(dir, 'z.shp'), join(dir, 'in.geojson')]);
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('UTF-8 with its .cpg', async () => {
    const { info, rows } = await readAll(join(dir, 'utf8.shp'));
    assert.deepEqual(info.encoding, { name: 'UTF-8', from: 'cpg' });
    assert.equal(info.shapeType, 'PolyLine');
    assert.deepEqual(rows.map((r) => r.properties), expected);
    assert.deepEqual(rows[0].geometry, { type: 'LineString', coordinates: [[118.58, 24.91], [118.581, 24.912]] });
    assert.ok(info.crsDeclared?.includes('WGS'), 'the .prj text is passed through');
  });

  it('CP936 (GBK) with its .cpg', async () => {
    const { info, rows } = await readAll(join(dir, 'gbk.shp'));
    assert.deepEqual(info.encoding, { name: 'GBK', from: 'cpg' });
    assert.deepEqual(info.fields.map((f) => f.name), ['NAME', '材质', 'QDMS', 'GJ', 'MSRQ']);
    assert.deepEqual(rows.map((r) => r.properties), expected);
  });

  it('a 3D line string written with -dim XYZ keeps Z', async () => {
    const { info, rows } = await readAll(join(dir, 'z.shp'));
    assert.equal(info.shapeType, 'PolyLineZ');
    assert.deepEqual(rows.map((r) => r.geometry), [
      { type: 'LineString', coordinates: [[118.58, 24.91, -1.2], [118.581, 24.912, -1.5]] },
      { type: 'LineString', coordinates: [[118.5, 24.9, -2], [118.6, 25, -2.5]] },
    ]);
  });

  it('polygons with holes and multipolygons come back in RFC 7946 winding', async () => {
    const sub = join(dir, 'polygons');
    await mkdir(sub);
    const ccw = (x: number, y: number, s: number) => [[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]];
    const cw = (x: number, y: number, s: number) => ccw(x, y, s).reverse();
    const geometries: Geometry[] = [
      { type: 'Polygon', coordinates: [ccw(0, 0, 10), cw(2, 2, 2)] },
      { type: 'MultiPolygon', coordinates: [[ccw(20, 0, 10), cw(22, 2, 3)], [ccw(40, 0, 5)]] },
    ];
    await writeFile(join(sub, 'in.geojson'), featureCollection(geometries.map((geometry, i) => ({ properties: { 名称: `地块${i}` }, geometry }))));
    await gdal('ogr2ogr', ['-f', 'ESRI Shapefile', join(sub, 'p.shp'), join(sub, 'in.geojson')]);
    const rows = await rowsOf(join(sub, 'p.shp'));
    const normalise = (g: Geometry | null): string => {
      // Compare rings as vertex sets with their winding; GDAL may start a ring at another vertex.
      const ring = (r: number[][]) => {
        let a = 0;
        for (let i = 0; i < r.length - 1; i++) a += r[i][0] * r[i + 1][1] - r[i + 1][0] * r[i][1];
        return `${a > 0 ? 'ccw' : 'cw'}:${r.slice(0, -1).map((p) => p.join(' ')).sort().join(',')}`;
      };
      if (g?.type === 'Polygon') return JSON.stringify(g.coordinates.map(ring));
      if (g?.type === 'MultiPolygon') return JSON.stringify(g.coordinates.map((p) => p.map(ring)));
      return String(g?.type);
    };
    assert.deepEqual(rows.map((r) => normalise(r.geometry)), geometries.map(normalise));
    assert.deepEqual(rows.map((r) => r.geometry?.type), ['Polygon', 'MultiPolygon']);
  });

  it('M values are ignored: XYM reads as 2D, XYZM keeps Z', async () => {
    await gdal('ogr2ogr', ['-f', 'ESRI Shapefile', '-dim', 'XYM', join(dir, 'm.shp'), join(dir, 'in.geojson')]);
    await gdal('ogr2ogr', ['-f', 'ESRI Shapefile', '-dim', 'XYZM', join(dir, 'zm.shp'), join(dir, 'in.geojson')]);
    const m = await readAll(join(dir, 'm.shp'));
    assert.equal(m.info.shapeType, 'PolyLineM');
    assert.deepEqual(m.rows[0].geometry, { type: 'LineString', coordinates: [[118.58, 24.91], [118.581, 24.912]] });
    const zm = await readAll(join(dir, 'zm.shp'));
    assert.equal(zm.info.shapeType, 'PolyLineZ');
    assert.deepEqual(zm.rows[0].geometry, { type: 'LineString', coordinates: [[118.58, 24.91, -1.2], [118.581, 24.912, -1.5]] });
  });

  it('UTF-8 without a .cpg is detected', async () => {
    const sub = join(dir, 'nocpg-utf8');
    await mkdir(sub);
    for (const ext of ['shp', 'shx', 'dbf']) await copyFile(join(dir, `utf8.${ext}`), join(sub, `a.${ext}`));
    const { info, rows } = await readAll(join(sub, 'a.shp'));
    assert.deepEqual(info.encoding, { name: 'UTF-8', from: 'detected' });
    assert.equal(info.crsDeclared, undefined, 'no .prj is fine');
    assert.deepEqual(rows.map((r) => r.properties), expected);
  });

  it('GBK without a .cpg is detected', async () => {
    const sub = join(dir, 'nocpg-gbk');
    await mkdir(sub);
    for (const ext of ['shp', 'shx', 'dbf']) await copyFile(join(dir, `gbk.${ext}`), join(sub, `a.${ext}`));
    const { info, rows } = await readAll(join(sub, 'a.shp'));
    assert.deepEqual(info.encoding, { name: 'GBK', from: 'detected' });
    assert.deepEqual(rows.map((r) => r.properties), expected);
  });

  it('a .cpg that says UTF-8 over GBK bytes is a SourceError naming file, record and field', async () => {
    const sub = join(dir, 'lying-cpg');
    await mkdir(sub);
    await gdal('ogr2ogr', ['-f', 'ESRI Shapefile', '-lco', 'ENCODING=CP936', '-select', 'NAME,QDMS', join(sub, 'a.shp'), join(dir, 'in.geojson')]);
    await writeFile(join(sub, 'a.cpg'), 'UTF-8');
    await rejectsWithSourceError(openShapefile(join(sub, 'a.shp')), (e) => {
      assert.deepEqual(e.where, { file: 'a.dbf', row: 1, field: 'NAME' });
      assert.match(e.message, /a\.dbf.*record 1.*"NAME".*UTF-8.*\.cpg.*--encoding/);
    });
    // The user's --encoding settles it.
    const { info, rows } = await readAll(join(sub, 'a.shp'), { encoding: 'GBK' });
    assert.deepEqual(info.encoding, { name: 'GBK', from: 'option' });
    assert.equal(rows[0].properties['NAME'], '东湖公园');
  });

  it('a .cpg that says GBK over UTF-8 text is a SourceError, not mojibake', async () => {
    const sub = join(dir, 'lying-gbk');
    await mkdir(sub);
    const many = featureCollection(Array.from({ length: 5 }, (_, i) => ({ properties: { NAME: `泉州市丰泽区东湖街道${i}号` }, geometry: { type: 'Point', coordinates: [i, i] } })));
    await writeFile(join(sub, 'in.geojson'), many);
    await gdal('ogr2ogr', ['-f', 'ESRI Shapefile', '-lco', 'ENCODING=UTF-8', join(sub, 'a.shp'), join(sub, 'in.geojson')]);
    await writeFile(join(sub, 'a.cpg'), 'GBK');
    await rejectsWithSourceError(openShapefile(join(sub, 'a.shp')), (e) => {
      assert.match(e.message, /says GBK but the text is valid UTF-8.*--encoding/);
    });
  });
});

describe('broken and hostile Shapefiles', () => {
  let dir: string;
  const lines = (n: number): ShapefileFeatureInput[] => Array.from({ length: n }, (_, i) => ({
    geometry: { type: 'LineString', coordinates: [[i, 0], [i, 10], [i + 5, 10]] },
    properties: { ID: i + 1, NAME: `管段${i + 1}` },
  }));
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'shp-bad-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('a truncated .shp is a SourceError naming the record where it ends, with or without .shx', { timeout: 5000 }, async () => {
    const base = join(dir, 'cut');
    await writeShapefile(base, lines(50));
    const size = (await stat(`${base}.shp`)).size;
    await truncate(`${base}.shp`, size - 30);
    await rejectsWithSourceError(openShapefile(`${base}.shp`), (e) => {
      assert.equal(e.where.file, 'cut.shp');
      assert.equal(e.where.row, 50);
      assert.match(e.message, /cut\.shp is truncated.*record 50/);
    });
    await unlink(`${base}.shx`);
    // Each record is 8 + 44 + 4 + 3 * 16 = 104 bytes: cut 10 bytes into record 2.
    await truncate(`${base}.shp`, 100 + 104 + 10);
    await rejectsWithSourceError(openShapefile(`${base}.shp`), (e) => assert.equal(e.where.row, 2));
  });

  it('a .shp whose header was patched to the cut length fails while streaming, without hanging', { timeout: 5000 }, async () => {
    const base = join(dir, 'cut2');
    await writeShapefile(base, lines(10));
    const size = (await stat(`${base}.shp`)).size;
    await truncate(`${base}.shp`, size - 30);
    const fh = await open(`${base}.shp`, 'r+');
    const h = Buffer.alloc(4);
    h.writeInt32BE((size - 30) / 2);
    await fh.write(h, 0, 4, 24);
    await fh.close();
    await unlink(`${base}.shx`);
    await rejectsWithSourceError(rowsOf(`${base}.shp`), (e) => {
      assert.equal(e.where.row, 10);
      assert.match(e.message, /record 10 declares \d+ bytes but only \d+ remain/);
    });
  });

  it('a .dbf with fewer records than the .shp is a SourceError naming both files', async () => {
    await writeShapefile(join(dir, 'three'), lines(3));
    await writeShapefile(join(dir, 'two'), lines(2));
    await copyFile(join(dir, 'two.dbf'), join(dir, 'three.dbf'));
    // With the .shx the mismatch is known when the file is opened.
    await rejectsWithSourceError(openShapefile(join(dir, 'three.shp')), (e) => {
      assert.match(e.message, /three\.shp has 3 records \(per its \.shx\) but three\.dbf has 2/);
    });
    // Without it, as soon as the .dbf runs out.
    await unlink(join(dir, 'three.shx'));
    await rejectsWithSourceError(rowsOf(join(dir, 'three.shp')), (e) => {
      assert.match(e.message, /three\.shp has 3 records but three\.dbf has 2/);
    });
    // And the other way round.
    await writeShapefile(join(dir, 'four'), lines(4));
    await copyFile(join(dir, 'four.dbf'), join(dir, 'two.dbf'));
    await unlink(join(dir, 'two.shx'));
    await rejectsWithSourceError(rowsOf(join(dir, 'two.shp')), (e) => assert.match(e.message, /two\.shp has 2 records but two\.dbf has 4/));
  });

  it('a missing .dbf is a SourceError; sidecars are found case-insensitively', async () => {
    await rejectsWithSourceError(openShapefile(join(dir, 'nothing-here.shp')), (e) => assert.match(e.message, /nothing-here\.shp cannot be read: ENOENT/));
    await writeShapefile(join(dir, 'nodbf'), lines(1));
    await unlink(join(dir, 'nodbf.dbf'));
    await rejectsWithSourceError(openShapefile(join(dir, 'nodbf.shp')), (e) => assert.match(e.message, /nodbf\.shp has no \.dbf/));

    const sub = join(dir, 'case');
    await mkdir(sub);
    await writeShapefile(join(sub, 'pipes'), lines(2), { prj: 'GEOGCS["CGCS2000"]' });
    for (const ext of ['shp', 'shx', 'prj']) await copyFile(join(sub, `pipes.${ext}`), join(sub, `PIPES.${ext.toUpperCase()}`));
    for (const ext of ['shp', 'shx', 'prj']) await unlink(join(sub, `pipes.${ext}`));
    const { info, rows } = await readAll(join(sub, 'PIPES.SHP'));
    assert.equal(info.crsDeclared, 'GEOGCS["CGCS2000"]');
    assert.equal(rows.length, 2);
  });

  it('deleted records are skipped and counted; row numbers stay record numbers', async () => {
    const base = join(dir, 'deleted');
    await writeShapefile(base, lines(3));
    const dbf = await readFile(`${base}.dbf`);
    const headerLength = dbf.readUInt16LE(8), recordLength = dbf.readUInt16LE(10);
    dbf[headerLength + recordLength] = 0x2a;
    await writeFile(`${base}.dbf`, dbf);
    const { rows, deleted, info } = await readAll(`${base}.shp`);
    assert.equal(info.rowCount, 3);
    assert.deepEqual(rows.map((r) => [r.row, r.properties['ID']]), [[1, 1], [3, 3]]);
    assert.equal(deleted, 1);
  });

  it('a record with a negative part count gets a problem; the rest read fine', async () => {
    const base = join(dir, 'nonsense');
    await writeShapefile(base, lines(3));
    const shx = await readFile(`${base}.shx`);
    const offset = shx.readInt32BE(100 + 8) * 2; // record 2
    const shp = await readFile(`${base}.shp`);
    shp.writeInt32LE(-1, offset + 8 + 36);
    await writeFile(`${base}.shp`, shp);
    const rows = await rowsOf(`${base}.shp`);
    assert.equal(rows.length, 3);
    assert.equal(rows[1].geometry, null);
    assert.match(rows[1].problem?.reason ?? '', /negative part count/);
    assert.equal(rows[1].properties['NAME'], '管段2');
    assert.equal(rows[0].problem, undefined);
    assert.equal(rows[2].problem, undefined);
  });

  it('numeric fields: stars filling the width are NULL (shapelib), stars or text that do not are problems', async () => {
    const base = join(dir, 'stars');
    await writeShapefile(base, lines(3), { fields: [{ name: 'ID', type: 'N', length: 6 }, { name: 'NAME' }] });
    const dbf = await readFile(`${base}.dbf`);
    const h = dbf.readUInt16LE(8), r = dbf.readUInt16LE(10);
    dbf.write('******', h + 1, 'latin1');
    dbf.write('  ****', h + r + 1, 'latin1');
    dbf.write('  12a4', h + 2 * r + 1, 'latin1');
    await writeFile(`${base}.dbf`, dbf);
    const rows = await rowsOf(`${base}.shp`);
    assert.deepEqual(rows.map((x) => x.properties['ID']), [null, null, null]);
    assert.equal(rows[0].problem, undefined);
    assert.deepEqual(rows[1].problem, { field: 'ID', reason: 'numeric overflow ("****"): the value did not fit the field width 6' });
    assert.deepEqual(rows[2].problem, { field: 'ID', reason: 'not a number: "12a4"' });
  });
});

describe('zip archives', () => {
  let dir: string;
  let scratch: string;
  let savedTmp: string | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shp-zip-'));
    // Extraction goes under os.tmpdir(); point it at an empty directory to see what is left behind.
    scratch = join(dir, 'tmp');
    await mkdir(scratch);
    savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = scratch;
  });
  after(async () => {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    await rm(dir, { recursive: true, force: true });
  });
  const leftovers = async (): Promise<string[]> => readdir(scratch);
  const shpSet = async (name: string, n = 2): Promise<Record<string, Buffer>> => {
    const base = join(dir, `set-${name}`);
    await writeShapefile(base, Array.from({ length: n }, (_, i) => ({ geometry: { type: 'Point', coordinates: [i, i] }, properties: { 名称: `阀门${i}` } })), { encoding: 'GBK' });
    const out: Record<string, Buffer> = {};
    for (const ext of ['shp', 'shx', 'dbf', 'cpg']) out[ext] = await readFile(`${base}.${ext}`);
    return out;
  };

  it('reads a zipped Shapefile and removes the temporary directory on close', async () => {
    const zip = join(dir, 'valves.zip');
    await writeShapefileZip(zip, [{ geometry: { type: 'Point', coordinates: [1, 2, 3] }, properties: { 名称: '阀门' } }], { encoding: 'GBK', prj: 'GEOGCS["CGCS2000"]' });
    const reader = await openShapefile(zip);
    assert.equal(reader.info.fileName, 'valves.zip');
    assert.equal(reader.info.crsDeclared, 'GEOGCS["CGCS2000"]');
    assert.equal((await leftovers()).length, 1, 'extracted while open');
    const rows: SourceRow[] = [];
    for await (const row of reader.rows()) rows.push(row);
    assert.deepEqual(rows[0].geometry, { type: 'Point', coordinates: [1, 2, 3] });
    assert.equal(rows[0].properties['名称'], '阀门');
    await reader.close();
    await reader.close();
    assert.deepEqual(await leftovers(), []);
  });

  it('decodes GBK entry names written without the UTF-8 flag (Windows in China)', async () => {
    const set = await shpSet('gbkname');
    const zip = join(dir, 'gbk-names.zip');
    await writeFile(zip, rawZip(['shp', 'shx', 'dbf', 'cpg'].map((ext) => ({ name: iconv.encode(`给水/阀门.${ext}`, 'gbk'), data: set[ext] }))));
    const reader = await openShapefile(zip);
    assert.equal(reader.info.rowCount, 2);
    await reader.close();
    const extracted = await extractZip(zip);
    assert.deepEqual(extracted.files, ['给水/阀门.shp', '给水/阀门.shx', '给水/阀门.dbf', '给水/阀门.cpg']);
    await extracted.cleanup();
    assert.deepEqual(await leftovers(), []);
  });

  it('rejects entries that escape: "../evil.shp", absolute paths, backslashes, symlinks', async () => {
    const set = await shpSet('evil');
    const cases: [string, RawEntry][] = [
      ['dotdot', { name: '../evil.shp', data: set.shp }],
      ['nested', { name: 'a/../../evil.shp', data: set.shp }],
      ['absolute', { name: '/tmp/evil.shp', data: set.shp }],
      ['drive', { name: 'C:/evil.shp', data: set.shp }],
      ['backslash', { name: '..\\evil.shp', data: set.shp }],
      ['symlink', { name: 'link.shp', data: Buffer.from('/etc/passwd'), mode: 0o120777 }],
    ];
    for (const [label, entry] of cases) {
      const zip = join(dir, `${label}.zip`);
      await writeFile(zip, rawZip([{ name: 'ok.dbf', data: set.dbf }, entry]));
      await rejectsWithSourceError(openShapefile(zip), (e) => {
        assert.equal(e.where.file, `${label}.zip`);
        assert.match(e.message, /rejected/, label);
      });
      assert.deepEqual(await leftovers(), [], `${label}: temporary directory removed`);
    }
    assert.ok(!(await readdir(dir)).includes('evil.shp'), 'nothing written outside');
  });

  it('rejects a 3 GiB zip bomb quickly, whether its headers tell the truth or not', { timeout: 10_000 }, async () => {
    const set = await shpSet('bomb');
    const bomb = zeroBomb(3 * 1024); // 3 GiB of zeros in about 3 MB
    const honest = join(dir, 'bomb-honest.zip');
    await writeFile(honest, rawZip([
      { name: 'pipes.shp', data: set.shp }, { name: 'pipes.shx', data: set.shx },
      { name: 'pipes.dbf', data: bomb, method: 8, uncompressedSize: 3 * 1024 ** 3 },
    ]));
    const liar = join(dir, 'bomb-liar.zip');
    await writeFile(liar, rawZip([
      { name: 'pipes.shp', data: set.shp }, { name: 'pipes.shx', data: set.shx },
      { name: 'pipes.dbf', data: bomb, method: 8, uncompressedSize: 1000 },
    ]));
    const t0 = performance.now();
    await rejectsWithSourceError(openShapefile(honest), (e) => assert.match(e.message, /more than 2147483648 bytes/));
    await rejectsWithSourceError(openShapefile(liar), (e) => assert.match(e.message, /inflates more than 400:1.*zip bomb/));
    // With the ratio check off, the byte count of the actual stream stops it at the cap.
    await rejectsWithSourceError(extractZip(liar, { maxUncompressedBytes: 32 * 1024 * 1024, maxCompressionRatio: Infinity }), (e) => {
      assert.match(e.message, /inflates to more than 33554432 bytes.*zip bomb/);
    });
    await rejectsWithSourceError(openShapefile(liar, { maxUncompressedBytes: 4 * 1024 * 1024 }), (e) => assert.match(e.message, /zip bomb/));
    // Entries inflate side by side: two bombs at once are both stopped, and nothing is left.
    const twins = join(dir, 'bomb-twins.zip');
    await writeFile(twins, rawZip([
      { name: 'pipes.shp', data: bomb, method: 8, uncompressedSize: 1000 }, { name: 'pipes.shx', data: set.shx },
      { name: 'pipes.dbf', data: bomb, method: 8, uncompressedSize: 1000 },
    ]));
    await rejectsWithSourceError(extractZip(twins, { maxUncompressedBytes: 64 * 1024 * 1024, maxCompressionRatio: Infinity }), (e) => {
      assert.match(e.message, /inflates to more than 67108864 bytes.*zip bomb/);
    });
    assert.ok(performance.now() - t0 < 5000, 'rejected in seconds');
    assert.deepEqual(await leftovers(), []);
  });

  it('caps the entry count and rejects entries whose real size differs from their header', async () => {
    const set = await shpSet('limits');
    const zip = join(dir, 'many-entries.zip');
    await writeFile(zip, rawZip(Array.from({ length: 5 }, (_, i) => ({ name: `f${i}.txt`, data: Buffer.from('x') }))));
    await rejectsWithSourceError(extractZip(zip, { maxEntries: 4 }), (e) => assert.match(e.message, /has 5 entries; at most 4/));
    const liar = join(dir, 'small-liar.zip');
    await writeFile(liar, rawZip([
      { name: 'pipes.shp', data: set.shp },
      { name: 'pipes.dbf', data: deflateRawSync(set.dbf), method: 8, uncompressedSize: 10 },
    ]));
    await rejectsWithSourceError(openShapefile(liar), (e) => assert.match(e.message, /inflated to \d+ bytes but its header says 10/));
    assert.deepEqual(await leftovers(), []);
  });

  it('several Shapefiles need the member option; __MACOSX resource forks are ignored', async () => {
    const a = await shpSet('a', 2);
    const b = await shpSet('b', 3);
    const zip = join(dir, 'two-sets.zip');
    await writeFile(zip, rawZip([
      ...['shp', 'shx', 'dbf', 'cpg'].map((ext) => ({ name: `water/valves.${ext}`, data: a[ext] })),
      ...['shp', 'shx', 'dbf', 'cpg'].map((ext) => ({ name: `gas/valves.${ext}`, data: b[ext] })),
      { name: '__MACOSX/water/._valves.shp', data: Buffer.from('junk') },
    ]));
    await rejectsWithSourceError(openShapefile(zip), (e) => assert.match(e.message, /holds 2 Shapefiles \(water\/valves\.shp, gas\/valves\.shp\); choose one with the member option/));
    await rejectsWithSourceError(openShapefile(zip, { member: 'valves' }), (e) => assert.match(e.message, /several Shapefiles named "valves"/));
    const { info } = await readAll(zip, { member: 'gas/valves' });
    assert.equal(info.rowCount, 3);
    assert.deepEqual(await leftovers(), []);
  });
});

describe('a real delivery: Nanaimo water mains', () => {
  it('reads all 17,755 pipes with STARTID, ENDID and LENGTH, matching GDAL', async () => {
    const { info, rows } = await readAll(NANAIMO);
    assert.equal(info.rowCount, 17_755);
    assert.equal(rows.length, 17_755);
    assert.equal(info.shapeType, 'PolyLine');
    assert.match(info.crsDeclared ?? '', /UTM_Zone_10N/);
    assert.deepEqual(info.fields.filter((f) => ['STARTID', 'ENDID', 'LENGTH'].includes(f.name)),
      [{ name: 'LENGTH', type: 'number' }, { name: 'STARTID', type: 'integer' }, { name: 'ENDID', type: 'integer' }]);
    assert.equal(rows.filter((r) => r.problem).length, 0);
    assert.ok(rows.every((r) => r.geometry?.type === 'LineString' || r.geometry?.type === 'MultiLineString'));
    const withIds = rows.filter((r) => typeof r.properties['STARTID'] === 'number' && typeof r.properties['ENDID'] === 'number');
    assert.ok(withIds.length > 15_000, `${withIds.length} pipes with both node ids`);

    for (const fid of [0, 43, 17_754]) {
      const [ogr] = await ogrFeatures(NANAIMO, ['-fid', String(fid)]);
      const ours = rows[fid];
      assert.equal(ours.row, fid + 1);
      for (const name of ['STARTID', 'ENDID', 'LENGTH', 'DIAMETER', 'MATERIAL', 'TYPE']) {
        const theirs = ogr.props[name];
        const mine = ours.properties[name];
        if (theirs === '(null)') assert.equal(mine, null, `${name} of FID ${fid}`);
        else if (typeof mine === 'number') assert.equal(mine, Number(theirs), `${name} of FID ${fid}`);
        else assert.equal(mine, theirs, `${name} of FID ${fid}`);
      }
      const first = (ours.geometry as { coordinates: number[][] }).coordinates[0];
      const m = /^LINESTRING \(([-\d.]+) ([-\d.]+)/.exec(ogr.geometry);
      assert.ok(m);
      assert.ok(Math.abs(first[0] - Number(m[1])) < 1e-6 && Math.abs(first[1] - Number(m[2])) < 1e-6);
    }
  });
});
