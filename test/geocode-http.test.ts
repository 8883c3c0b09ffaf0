import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import iconv from 'iconv-lite';
import { openTestStore, resetStore, type TestStore } from './helpers/stores.ts';
import { openDemoServer, type DemoServer } from './helpers/demo-server.ts';
import { getJson, type startServer } from './helpers/server.ts';
import { loadDemoCity } from '../fixtures/load-demo-city.ts';
import { importLayerFile } from '../data-import/import-file.ts';
import { loadGeocoderInput, storeLocator } from '../geocoder/store-source.ts';
import { wgs84ToGcj02 } from '../data-import/crs/index.ts';
import { metres } from '../geocoder/address-index.ts';

/**
 * The geocoding endpoints over HTTP on a small demo city in PostGIS, the business register placed
 * by the geocoder during the demo load, and the index following a change of the register; the
 * store reading on the embedded database too (its SQL is the one path that differs).
 */

const SCALE = '0.05';

/** What the geocoder reads from a store holding the demo city (the enterprises loaded through it). */
function storeSourceTests(store: () => TestStore): void {
  it('reads the current standard addresses, roads and division outlines of the public layers', async () => {
    const input = await loadGeocoderInput(store().db);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from feature_version where layer_id = 'addresses' and valid_to is null`.execute(store().db);
    assert.equal(input.addresses.length, rows[0]!.n);
    assert.ok(input.roads.length > 0 && input.areas.length > 0);
    assert.ok(input.areas.some((a) => a.level === 'community') && input.areas.some((a) => a.level === 'district'));
    assert.deepEqual([...input.layers.keys()].sort(), ['addresses', 'communities', 'districts', 'roads', 'towns']);
  });

  it('placed the business register\'s address-only rows on the standard addresses during the demo load', async () => {
    const { rows } = await sql<{ status: string; n: number }>`
      select coalesce(attributes->>'geocode_status', 'coordinates') as status, count(*)::int as n from feature_version
      where layer_id = 'enterprises' and valid_to is null group by 1 order by 1`.execute(store().db);
    const counts = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    assert.ok(counts.matched > 0, JSON.stringify(counts));
    assert.equal(counts.unmatched ?? 0, 0, JSON.stringify(counts));
    // Each placed record sits on the standard address it was matched to.
    const { rows: off } = await sql<{ id: string; d: number }>`
      select e.feature_id as id, st_distance(e.geom::geography, a.geom::geography) as d
      from feature_version e join feature_version a on a.layer_id = 'addresses' and a.valid_to is null and a.feature_id = e.attributes->>'std_address_code'
      where e.layer_id = 'enterprises' and e.valid_to is null and e.attributes->>'geocode_status' = 'matched' and e.attributes->>'geocode_interpolated' = 'false'`.execute(store().db);
    assert.ok(off.length > 0);
    for (const r of off) assert.ok(r.d < 0.01, `${r.id} is ${r.d} m from its standard address`);
  });
}

describe('geocoder store source (pglite)', () => {
  let store: TestStore;
  let dir: string;
  before(async () => {
    store = await openTestStore('pglite');
    await resetStore(store);
    dir = mkdtempSync(path.join(os.tmpdir(), 'onemap-geocode-src-'));
    await loadDemoCity(store.db, { dir, seed: 20260101, scale: Number(SCALE) });
  });
  after(async () => {
    await store?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  storeSourceTests(() => store);
});

describe('geocoding endpoints (postgres)', () => {
  let store: TestStore;
  let server: Awaited<ReturnType<typeof startServer>>;
  let dir: string;
  let sample: { id: string; text: string; road: string; roadNumber: string; district: string; lon: number; lat: number };

  let demo: DemoServer;

  before(async () => {
    demo = await openDemoServer({ scale: Number(SCALE) });
    ({ store, server, dir } = demo);
    const { rows } = await sql<{ id: string; a: Record<string, string>; lon: number; lat: number }>`
      select feature_id as id, attributes as a, st_x(geom) as lon, st_y(geom) as lat from feature_version
      where layer_id = 'addresses' and valid_to is null and attributes->>'building' is not null order by feature_id limit 1 offset 17`.execute(store.db);
    const r = rows[0]!;
    sample = { id: r.id, text: r.a.address!, road: r.a.road!, roadNumber: r.a.road_number!, district: r.a.district!, lon: r.lon, lat: r.lat };
  });
  after(async () => {
    await demo?.close();
  });

  storeSourceTests(() => store);

  const q = (p: string, params: Record<string, string>) => `${server.url}${p}?${new URLSearchParams(params)}`;

  it('GET /geocode finds a standard address, with level, score and code, in CRS84 or GCJ-02', async () => {
    const { status, body } = await getJson(q('/geocode', { address: `${sample.text}附近` }));
    assert.equal(status, 200);
    const best = body.results[0];
    assert.equal(best.code, sample.id);
    assert.equal(best.level, '楼栋');
    assert.equal(best.score, 100);
    assert.ok(metres([best.lon, best.lat], [sample.lon, sample.lat]) < 0.01);
    const gcj = await getJson(q('/geocode', { address: sample.text, crs: 'GCJ02' }));
    const [gx, gy] = wgs84ToGcj02(sample.lon, sample.lat);
    assert.ok(Math.abs(gcj.body.results[0].lon - gx) < 1e-7 && Math.abs(gcj.body.results[0].lat - gy) < 1e-7);
  });

  it('GET /geocode/parse names the components', async () => {
    const { status, body } = await getJson(q('/geocode/parse', { address: `${sample.road}${sample.roadNumber}2单元` }));
    assert.equal(status, 200);
    assert.equal(body.components.road, sample.road);
    assert.equal(body.components.roadNumber, sample.roadNumber);
    assert.equal(body.components.unit, '2单元');
  });

  it('GET /reverse takes the point in any datum and finds the address at it', async () => {
    const [gx, gy] = wgs84ToGcj02(sample.lon, sample.lat);
    const { status, body } = await getJson(q('/reverse', { lon: String(gx), lat: String(gy), crs: 'GCJ02' }));
    assert.equal(status, 200);
    assert.equal(body.address.code, sample.id);
    assert.ok(body.address.distance < 1);
    assert.equal(body.divisions[2].name, sample.district);
  });

  it('GET /suggest completes a prefix', async () => {
    const { status, body } = await getJson(q('/suggest', { q: sample.road.slice(0, 2) }));
    assert.equal(status, 200);
    assert.ok(body.suggestions.length > 0);
    for (const s of body.suggestions) assert.ok(s.text.startsWith(sample.road.slice(0, 2)), s.text);
  });

  it('POST /geocode/batch: a JSON array, each answered or given its error', async () => {
    const res = await fetch(`${server.url}/geocode/batch`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify([sample.text, { id: 'x', address: `${sample.road}${sample.roadNumber}` }, '', 42]),
    });
    assert.equal(res.status, 200);
    const body = await res.json() as { results: Array<{ id: unknown; result: { code: string } | null; error?: string }> };
    assert.equal(body.results.length, 4);
    assert.equal(body.results[0]!.result!.code, sample.id);
    assert.equal(body.results[1]!.id, 'x');
    assert.ok(body.results[2]!.error && body.results[3]!.error);
  });

  it('POST /geocode/batch: a GBK CSV comes back in GBK with the match columns appended, every row', async () => {
    const lines = ['名称,经营地址', `甲公司,${sample.text}`, '乙公司,"没有, 这个地址"', `丙公司,${sample.district}${sample.road}${sample.roadNumber}`];
    const res = await fetch(q('/geocode/batch', { column: '经营地址' }), { method: 'POST', headers: { 'Content-Type': 'text/csv' }, body: iconv.encode(lines.join('\r\n'), 'gbk') });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-total-rows'), '3');
    const text = iconv.decode(Buffer.from(await res.arrayBuffer()), 'gbk');
    const rows = text.trim().split('\r\n');
    assert.equal(rows.length, 4);
    assert.equal(rows[0], '名称,经营地址,lon,lat,match_level,match_score,std_address,std_address_code');
    assert.ok(rows[1]!.endsWith(`,楼栋,100,${sample.text},${sample.id}`), rows[1]);
    assert.ok(rows[2]!.startsWith('乙公司,"没有, 这个地址",'), rows[2]);
  });

  it('bad input: a 400 saying what, or an answer; never a 500', async () => {
    const cases: Array<[string, Record<string, string>, number]> = [
      ['/geocode', {}, 400],
      ['/geocode', { address: '' }, 400],
      // 10 KB of text, Chinese (30 KB percent-encoded) and Latin.
      ['/geocode', { address: '中'.repeat(3_414) }, 400],
      ['/geocode', { address: 'x'.repeat(10_240) }, 400],
      ['/geocode', { address: sample.text, limit: '0' }, 400],
      ['/geocode', { address: sample.text, crs: 'EPSG:9999' }, 400],
      ['/geocode', { address: sample.text, nonsense: '1' }, 400],
      ['/geocode', { address: '🏠🚀🔥' }, 200],
      ['/geocode', { address: "' or 1=1; drop table layer; --" }, 200],
      ['/geocode', { address: 'the quick brown fox' }, 200],
      ['/reverse', { lon: '200', lat: '24' }, 400],
      ['/reverse', { lon: 'x', lat: '24' }, 400],
      ['/reverse', { lon: '0', lat: '0' }, 200],
      ['/suggest', {}, 400],
      ['/suggest', { q: '🙂' }, 200],
    ];
    for (const [p, params, want] of cases) {
      const { status, body } = await getJson(q(p, params));
      assert.equal(status, want, `${p} ${JSON.stringify(params).slice(0, 80)}: ${JSON.stringify(body).slice(0, 200)}`);
      if (want === 400) assert.ok(body.error?.message, JSON.stringify(body));
    }
    const emoji = await getJson(q('/geocode', { address: '🏠🚀🔥' }));
    assert.deepEqual(emoji.body.results, []);
    for (const [type, body, want] of [['application/json', '{"a":1}', 400], ['application/json', 'not json', 400], ['text/plain', 'x', 415], ['text/csv', 'a,b\n1,2', 400]] as const) {
      const res = await fetch(`${server.url}/geocode/batch${type === 'text/csv' ? '?column=地址' : ''}`, { method: 'POST', headers: { 'Content-Type': type }, body });
      assert.equal(res.status, want, `${type} ${body}`);
      assert.ok(((await res.json()) as { error?: { message?: string } }).error?.message);
    }
  });

  it('follows a change of the register: a new standard address is found once it is committed', async () => {
    const file = path.join(dir, 'new-address.geojson');
    writeFileSync(file, JSON.stringify({
      type: 'FeatureCollection',
      features: [{
        type: 'Feature', id: 'A999999', geometry: { type: 'Point', coordinates: [sample.lon + 0.001, sample.lat] },
        properties: { address: `福建省泉州市${sample.district}新开路8号`, province: '福建省', city: '泉州市', district: sample.district, road: '新开路', road_number: '8号' },
      }],
    }));
    await importLayerFile(store.db, { file, layer: 'addresses', key: 'id', mode: 'upsert' });
    let found: { code: string } | undefined;
    for (let i = 0; i < 100 && !found; i++) {
      await server.services.geocoder.settled();
      const { body } = await getJson(q('/geocode', { address: '新开路8号' }));
      found = body.results.find((r: { code: string }) => r.code === 'A999999');
      if (!found) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(found, 'the new address is matched after the change notification');

    // The road is renamed: the old name still finds the address, and says since when.
    writeFileSync(file, readFileSync(file, 'utf8').replaceAll('新开路', '新兴路'));
    await importLayerFile(store.db, { file, layer: 'addresses', key: 'id', mode: 'upsert' });
    let renamed: { code: string; address: string; notes: string[] } | undefined;
    for (let i = 0; i < 100 && !renamed?.address.includes('新兴路'); i++) {
      await server.services.geocoder.settled();
      renamed = (await getJson(q('/geocode', { address: '新开路8号' }))).body.results[0];
      if (!renamed?.address.includes('新兴路')) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(renamed?.code, 'A999999');
    assert.match(renamed!.notes.join(' '), new RegExp(`新开路8号 is 新兴路8号 since ${new Date().toISOString().slice(0, 10)}`));
  });

  it('loads a public-security standard address export (GBK CSV, its own column names) and matches against it', async () => {
    const file = path.join(dir, '标准地址.csv');
    const lon = sample.lon - 0.001;
    writeFileSync(file, iconv.encode([
      '地址编码,标准地址,区县,街路巷,门牌号,小区名称,楼栋号,单元号,经度,纬度',
      `PS0001,福建省泉州市${sample.district}公安路18号警苑小区2号楼,${sample.district},公安路,18,警苑小区,2号楼,,${lon},${sample.lat}`,
      `PS0002,福建省泉州市${sample.district}公安路18号警苑小区2号楼1单元,${sample.district},公安路,18,警苑小区,2,1,${lon},${sample.lat}`,
    ].join('\r\n'), 'gbk'));
    const report = await importLayerFile(store.db, { file, layer: 'ps-addresses', domain: 'address', key: '地址编码', accessClass: 'public' });
    assert.equal(report.inserted, 2);
    let best: { code: string; level: string } | undefined;
    for (let i = 0; i < 100 && best?.code !== 'PS0002'; i++) {
      await server.services.geocoder.settled();
      best = (await getJson(q('/geocode', { address: `${sample.district}公安路十八号警苑小区2栋1单元` }))).body.results[0];
      if (best?.code !== 'PS0002') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(best?.code, 'PS0002');
    assert.equal(best?.level, '单元');
    const building = (await getJson(q('/geocode', { address: '警苑小区2号楼' }))).body.results[0];
    assert.equal(building.code, 'PS0001');
    assert.equal(building.level, '楼栋');
  });

  it('a business CSV with only addresses: placed rows get points, the rest are reported', async () => {
    const file = path.join(dir, 'shops.csv');
    writeFileSync(file, ['名称,地址', `好运来,${sample.road}${sample.roadNumber}`, '无名店,火星大道1号', '又一家,乱七八糟'].join('\n'));
    const report = await importLayerFile(store.db, { file, layer: 'shops', key: '名称', geocoder: () => storeLocator(store.db) });
    assert.equal(report.geocoded, 1);
    assert.equal(report.awaitingGeocoding, 2);
    // Rows count records from 1, the header not included.
    assert.deepEqual(report.ungeocoded.map((u) => u.row).sort(), [2, 3]);
    const { rows } = await sql<{ id: string; lon: number | null; status: string }>`
      select feature_id as id, st_x(geom) as lon, attributes->>'geocode_status' as status from feature_version where layer_id = 'shops' order by feature_id`.execute(store.db);
    assert.deepEqual(rows.map((r) => [r.id, r.status, r.lon !== null]).sort(), [['好运来', 'matched', true], ['又一家', 'unmatched', false], ['无名店', 'unmatched', false]].sort());
  });
});
