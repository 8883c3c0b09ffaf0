import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Geometry, Position } from 'geojson';
import { VectorTile, type VectorTileFeature } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import GeoJSONVT from 'geojson-vt';
import vtpbf from 'vt-pbf';
import { buildFeatureIndex, FeatureIndexBuilder, type TileFeatureVersion } from '../tiles/feature-index.ts';
import { layerTileConfig, type LayerTileOverrides } from '../tiles/layer-tile-config.ts';
import { cutTile, tileCacheKey, TileRequestError, type TileLayerRequest } from '../tiles/cut-tile.ts';
import { TileCache } from '../tiles/tile-cache.ts';
import {
  latToY, lonToX, tileForLonLat, tileLonLatBounds, TileCoordinateError, validateTile, xToLon, yToLat,
} from '../tiles/tile-math.ts';
import { generateDemoCity } from '../fixtures/demo-city/index.ts';

// ---- helpers -------------------------------------------------------------------------------------

/** The z14 tile over central Quanzhou; most cases draw in its tile units. */
const HOME = tileForLonLat(118.6, 24.9, 14);

/** Lon/lat of tile units (u, v) of tile z/x/y. */
function ll(u: number, v: number, t: { z: number; x: number; y: number } = HOME): Position {
  const n = 2 ** t.z;
  return [xToLon((t.x + u / 4096) / n), yToLat((t.y + v / 4096) / n)];
}

/** A closed ring through tile-unit corners, as lon/lat. */
const ring = (pts: Array<[number, number]>, t = HOME): Position[] => [...pts, pts[0]!].map(([u, v]) => ll(u, v, t));
const rect = (u0: number, v0: number, u1: number, v1: number, t = HOME): Position[] =>
  // Counter-clockwise on the map (RFC 7946 exteriors): along the south edge eastwards first.
  ring([[u0, v1], [u1, v1], [u1, v0], [u0, v0]], t);

let seq = 0;
function version(geometry: Geometry | null, attributes: Record<string, unknown> = {}, extra: Partial<TileFeatureVersion> = {}): TileFeatureVersion {
  return { featureId: `F${++seq}`, geometry, attributes, validFrom: 0, validTo: null, ...extra };
}

function layer(name: string, versions: TileFeatureVersion[], overrides: LayerTileOverrides = {}, domain = 'building', geometryType = 'Polygon', properties?: string[]): TileLayerRequest {
  return { name, index: buildFeatureIndex(versions), config: layerTileConfig(domain, geometryType, { minZoom: 0, ...overrides }), properties };
}

const NOW = Date.parse('2026-06-01T00:00:00Z');

function decode(bytes: Uint8Array): VectorTile {
  return new VectorTile(new PbfReader(bytes));
}

function features(bytes: Uint8Array, name: string): VectorTileFeature[] {
  const l = decode(bytes).layers[name];
  if (!l) return [];
  return Array.from({ length: l.length }, (_, i) => l.feature(i));
}

/** Signed area by the MVT spec's surveyor's formula (tile coordinates, y down): exteriors positive. */
function specArea(r: Array<{ x: number; y: number }>): number {
  let a = 0;
  for (let i = 0; i < r.length - 1; i++) a += r[i]!.x * r[i + 1]!.y - r[i + 1]!.x * r[i]!.y;
  return a / 2;
}

const corners = (r: Array<{ x: number; y: number }>) => new Set(r.map((p) => `${p.x},${p.y}`));

// ---- tile math -----------------------------------------------------------------------------------

describe('tile math', () => {
  it('accepts tiles inside the pyramid, numbers or path strings', () => {
    assert.deepEqual(validateTile(0, 0, 0), { z: 0, x: 0, y: 0 });
    assert.deepEqual(validateTile('24', '16777215', '0'), { z: 24, x: 16777215, y: 0 });
  });

  for (const [z, x, y, parameter] of [
    [25, 0, 0, 'z'], [-1, 0, 0, 'z'], [1.5, 0, 0, 'z'], [NaN, 0, 0, 'z'], [1, 2, 0, 'x'], [1, 0, 2, 'y'], [1, -1, 0, 'x'],
    ['1e1', 0, 0, 'z'], ['-0', 0, 0, 'z'], [' 7', 0, 0, 'z'], ['0x1', 0, 0, 'z'], [3, '', 0, 'x'], [3, 0, '01', 'y'],
  ] as const) {
    it(`refuses ${JSON.stringify([z, x, y])} naming ${parameter}`, () => {
      assert.throws(() => validateTile(z, x, y), (e: unknown) => e instanceof TileCoordinateError && e.parameter === parameter);
      assert.throws(() => cutTile([], z as number, x as number, y as number, NOW), TileCoordinateError);
    });
  }

  it('projects lon/lat to the unit square and back', () => {
    assert.equal(lonToX(-180), 0);
    assert.equal(lonToX(180), 1);
    assert.equal(latToY(0), 0.5);
    assert.equal(latToY(90), 0);
    assert.equal(latToY(-90), 1);
    for (const [lon, lat] of [[118.6, 24.9], [-70.1, -33.4], [0, 0]] as const) {
      assert.ok(Math.abs(xToLon(lonToX(lon)) - lon) < 1e-12);
      assert.ok(Math.abs(yToLat(latToY(lat)) - lat) < 1e-9);
    }
    const [w, s, e, n] = tileLonLatBounds(HOME.z, HOME.x, HOME.y);
    assert.ok(w <= 118.6 && 118.6 < e && s <= 24.9 && 24.9 < n);
  });
});

// ---- geometry ------------------------------------------------------------------------------------

describe('cutTile geometry', () => {
  it('puts a square at its tile coordinates, exterior wound positive by the spec', () => {
    const cw = [...rect(1024, 1024, 3072, 3072)].reverse();
    for (const coords of [rect(1024, 1024, 3072, 3072), cw]) {
      const r = cutTile([layer('b', [version({ type: 'Polygon', coordinates: [coords] })])], HOME.z, HOME.x, HOME.y, NOW);
      const [f] = features(r.bytes, 'b');
      assert.equal(f!.type, 3);
      const g = f!.loadGeometry();
      assert.equal(g.length, 1);
      assert.deepEqual(corners(g[0]!), new Set(['1024,1024', '3072,1024', '3072,3072', '1024,3072']));
      assert.equal(g[0]!.length, 5, 'four corners and the closing point');
      assert.equal(specArea(g[0]!), 2048 * 2048);
    }
  });

  it('keeps holes, wound negative, and decodes back to lon/lat', () => {
    const outer = rect(512, 512, 3584, 3584);
    const hole = rect(1536, 1536, 2560, 2560).reverse();
    const r = cutTile([layer('b', [version({ type: 'Polygon', coordinates: [outer, hole] })])], HOME.z, HOME.x, HOME.y, NOW);
    const [f] = features(r.bytes, 'b');
    const g = f!.loadGeometry();
    assert.equal(g.length, 2);
    assert.ok(specArea(g[0]!) > 0);
    assert.ok(specArea(g[1]!) < 0);
    const gj = f!.toGeoJSON(HOME.x, HOME.y, HOME.z);
    assert.equal(gj.geometry.type, 'Polygon');
    const [lon, lat] = (gj.geometry as { coordinates: Position[][] }).coordinates[1]![0]!;
    const near = hole.some(([hx, hy]) => Math.abs(hx! - lon!) < 1e-5 && Math.abs(hy! - lat!) < 1e-5);
    assert.ok(near, 'the hole comes back where it was');
  });

  it('drops a hole whose exterior is outside the tile, and multipolygon parts separately', () => {
    const inside = rect(100, 100, 400, 400);
    const far = rect(9000, 9000, 9400, 9400);
    const farHole = rect(9100, 9100, 9200, 9200);
    const r = cutTile([layer('b', [version({ type: 'MultiPolygon', coordinates: [[far, farHole], [inside]] })])], HOME.z, HOME.x, HOME.y, NOW);
    const g = features(r.bytes, 'b')[0]!.loadGeometry();
    assert.equal(g.length, 1);
    assert.deepEqual(corners(g[0]!), new Set(['100,100', '400,100', '400,400', '100,400']));
  });

  it('clips polygons to the tile plus a 64-unit buffer, and the neighbour gets the rest', () => {
    const v = version({ type: 'Polygon', coordinates: [rect(-1000, 1000, 2000, 3000)] });
    const l = layer('b', [v]);
    const [f] = features(cutTile([l], HOME.z, HOME.x, HOME.y, NOW).bytes, 'b');
    const xs = f!.loadGeometry()[0]!.map((p) => p.x);
    assert.equal(Math.min(...xs), -64);
    assert.equal(Math.max(...xs), 2000);
    assert.ok(specArea(f!.loadGeometry()[0]!) > 0);
    const [west] = features(cutTile([l], HOME.z, HOME.x - 1, HOME.y, NOW).bytes, 'b');
    const wx = west!.loadGeometry()[0]!.map((p) => p.x);
    assert.equal(Math.min(...wx), 4096 - 1000);
    assert.equal(Math.max(...wx), 4096 + 64);
    // Two tiles east, the polygon is beyond the buffer: nothing.
    assert.equal(cutTile([l], HOME.z, HOME.x + 1, HOME.y, NOW).bytes.length, 0);
  });

  it('keeps a polygon that covers the whole tile as the buffered square', () => {
    const r = cutTile([layer('w', [version({ type: 'Polygon', coordinates: [rect(-9000, -9000, 9000, 9000)] })], {}, 'water')], HOME.z, HOME.x, HOME.y, NOW);
    const g = features(r.bytes, 'w')[0]!.loadGeometry();
    assert.deepEqual(corners(g[0]!), new Set(['-64,-64', '4160,-64', '4160,4160', '-64,4160']));
  });

  it('splits a line that leaves the tile and comes back', () => {
    const coordinates = [[500, 500], [500, -1000], [3500, -1000], [3500, 500]].map(([u, v]) => ll(u!, v!));
    const r = cutTile([layer('p', [version({ type: 'LineString', coordinates })], {}, 'pipeline', 'LineString')], HOME.z, HOME.x, HOME.y, NOW);
    const [f] = features(r.bytes, 'p');
    assert.equal(f!.type, 2);
    const g = f!.loadGeometry().map((part) => part.map((p) => [p.x, p.y]));
    assert.deepEqual(g, [[[500, 500], [500, -64]], [[3500, -64], [3500, 500]]]);
  });

  it('keeps points inside the buffer, drops the rest, and writes multipoints as one feature', () => {
    const pts: Array<[number, number]> = [[100, 100], [-50, 2000], [-100, 2000], [4100, 4100], [4200, 0]];
    const l = layer('a', [
      ...pts.map(([u, v]) => version({ type: 'Point', coordinates: ll(u, v) })),
      version({ type: 'MultiPoint', coordinates: pts.map(([u, v]) => ll(u, v)) }),
    ], {}, 'address', 'Point');
    const fs = features(cutTile([l], HOME.z, HOME.x, HOME.y, NOW).bytes, 'a');
    const singles = fs.filter((f) => f.loadGeometry()[0]!.length === 1 && f.loadGeometry().length === 1).map((f) => f.loadGeometry()[0]![0]!);
    const multi = fs.filter((f) => f.loadGeometry().length === 3);
    assert.deepEqual(new Set(singles.map((p) => `${p.x},${p.y}`)), new Set(['100,100', '-50,2000', '4100,4100']));
    assert.equal(multi.length, 1);
    assert.ok(fs.every((f) => f.type === 1));
  });

  it('drops lines and polygons smaller than the minimum size below maxZoom, keeps them at maxZoom', () => {
    const tiny = version({ type: 'Polygon', coordinates: [rect(2000, 2000, 2003, 2003)] }); // 3 units at z14
    const big = version({ type: 'Polygon', coordinates: [rect(100, 100, 300, 300)] });
    const l = layer('b', [tiny, big], { minZoom: 14, maxZoom: 18 });
    const at = (z: number) => {
      const t = tileForLonLat(...(ll(2001, 2001) as [number, number]), z);
      return features(cutTile([l], z, t.x, t.y, NOW).bytes, 'b').map((f) => f.properties.feature_id);
    };
    assert.deepEqual(at(14), [big.featureId]);
    assert.deepEqual(at(15), [big.featureId], 'at z15 the tiny one is 6 units');
    assert.deepEqual(at(16), [tiny.featureId], '12 units: kept');
    assert.deepEqual(at(18), [tiny.featureId]);
  });

  it('drops rings that rounding makes degenerate', () => {
    const sliver = version({ type: 'Polygon', coordinates: [ring([[100, 100], [3000, 100.2], [100, 100.3]])] });
    const r = cutTile([layer('b', [sliver], { maxZoom: 14, minZoom: 0 })], HOME.z, HOME.x, HOME.y, NOW);
    assert.equal(r.bytes.length, 0);
  });

  it('simplifies lines below maxZoom, not at it', () => {
    // A zigzag with 1-unit wiggles: Douglas–Peucker at 3 units leaves the two ends.
    const coordinates = Array.from({ length: 200 }, (_, i) => ll(100 + i * 10, 2000 + (i % 2)));
    const l = layer('p', [version({ type: 'LineString', coordinates })], { maxZoom: 15 }, 'pipeline', 'LineString');
    const simplified = features(cutTile([l], HOME.z, HOME.x, HOME.y, NOW).bytes, 'p')[0]!.loadGeometry()[0]!;
    assert.equal(simplified.length, 2);
    const t = tileForLonLat(...(ll(1000, 2000) as [number, number]), 15);
    const full = features(cutTile([l], 15, t.x, t.y, NOW).bytes, 'p')[0]!.loadGeometry()[0]!;
    assert.ok(full.length > 100);
  });
});

// ---- layers, attributes, time ----------------------------------------------------------------------

describe('cutTile layers, properties and time', () => {
  it('writes a composite in the requested order with the requested names', () => {
    const sq = () => version({ type: 'Polygon', coordinates: [rect(100, 100, 900, 900)] });
    const layers = [layer('zeta', [sq()]), layer('alpha "quoted" 名', [sq()]), layer('mid', [sq()])];
    const r = cutTile(layers, HOME.z, HOME.x, HOME.y, NOW);
    assert.deepEqual(Object.keys(decode(r.bytes).layers), ['zeta', 'alpha "quoted" 名', 'mid']);
    assert.deepEqual(r.featureCounts, { zeta: 1, 'alpha "quoted" 名': 1, mid: 1 });
    const l = decode(r.bytes).layers.zeta!;
    assert.equal(l.version, 2);
    assert.equal(l.extent, 4096);
    assert.throws(() => cutTile([layers[0]!, layers[0]!], HOME.z, HOME.x, HOME.y, NOW), TileRequestError);
  });

  it('encodes attribute values by type and keeps the feature id', () => {
    const attributes = {
      name: '泉州 "one" map', floors: 7, depth: -3, ratio: 0.25, big: 2 ** 60, huge: 12345678901234567890n, on: false,
      nested: { a: [1, 2] }, missing: null, 'key with space': 'x',
      emoji: '井盖😀', long: '福'.repeat(100), lone: '\ud800x', empty: '',
    };
    const v = version({ type: 'Point', coordinates: ll(10, 10) }, attributes, { featureId: 'QZ-0001' });
    const numeric = version({ type: 'Point', coordinates: ll(20, 20) }, {}, { featureId: '12345' });
    const padded = version({ type: 'Point', coordinates: ll(30, 30) }, {}, { featureId: '007' });
    const fs = features(cutTile([layer('a', [v, numeric, padded], {}, 'address', 'Point')], HOME.z, HOME.x, HOME.y, NOW).bytes, 'a');
    const byId = new Map(fs.map((f) => [f.properties.feature_id, f]));
    assert.deepEqual({ ...byId.get('QZ-0001')!.properties }, {
      feature_id: 'QZ-0001', name: '泉州 "one" map', floors: 7, depth: -3, ratio: 0.25, big: 2 ** 60, huge: '12345678901234567890',
      on: false, nested: '{"a":[1,2]}', 'key with space': 'x', emoji: '井盖😀', long: '福'.repeat(100), lone: '\ufffdx', empty: '',
    });
    assert.equal(byId.get('QZ-0001')!.id, undefined, 'non-numeric ids stay in the property only');
    assert.equal(byId.get('12345')!.id, 12345);
    assert.equal(byId.get('007')!.id, undefined, 'a zero-padded id is a string, not a number');
  });

  it('keeps only the requested properties, and always the id', () => {
    const v = version({ type: 'Polygon', coordinates: [rect(100, 100, 900, 900)] }, { name: 'A', floors: 3, use: '住宅' });
    const index = buildFeatureIndex([v]);
    const config = layerTileConfig('building', 'Polygon', { minZoom: 0 });
    const props = (properties?: string[]) =>
      features(cutTile([{ name: 'b', index, config, properties }], HOME.z, HOME.x, HOME.y, NOW).bytes, 'b')[0]!.properties;
    assert.deepEqual({ ...props(['floors', 'no-such-attribute']) }, { feature_id: v.featureId, floors: 3 });
    assert.deepEqual({ ...props([]) }, { feature_id: v.featureId });
    assert.deepEqual(Object.keys(props()).sort(), ['feature_id', 'floors', 'name', 'use']);
    const noId = buildFeatureIndex([v], { idProperty: null });
    const bare = features(cutTile([{ name: 'b', index: noId, config, properties: [] }], HOME.z, HOME.x, HOME.y, NOW).bytes, 'b')[0]!;
    assert.deepEqual({ ...bare.properties }, {});
  });

  it('cuts the city as of an instant: a version valid 2019–2021 and its replacement', () => {
    const y = (year: number) => Date.parse(`${year}-01-01T00:00:00Z`);
    const v1 = version({ type: 'Polygon', coordinates: [rect(100, 100, 900, 900)] }, { floors: 2 }, { featureId: 'B1', validFrom: y(2019), validTo: y(2021) });
    const v2 = version({ type: 'Polygon', coordinates: [rect(100, 100, 1900, 900)] }, { floors: 9 }, { featureId: 'B1', validFrom: y(2021), validTo: null });
    const l = layer('b', [v2, v1]);
    const at = (ms: number) => features(cutTile([l], HOME.z, HOME.x, HOME.y, ms).bytes, 'b');
    assert.equal(at(y(2018)).length, 0);
    assert.equal(at(y(2020))[0]!.properties.floors, 2);
    assert.equal(at(y(2021))[0]!.properties.floors, 9, 'validity is half-open: the replacement wins at the boundary');
    assert.equal(at(y(2021) - 1)[0]!.properties.floors, 2);
    assert.equal(at(NOW).length, 1);
    assert.equal(at(NOW)[0]!.properties.floors, 9);
    assert.equal(cutTile([l], HOME.z, HOME.x, HOME.y, y(2018)).bytes.length, 0);
    // Epochs: instants with the same visible versions share one.
    assert.equal(l.index.epochAt(NOW), l.index.epochAt(y(2030)));
    assert.equal(l.index.epochAt(y(2019)), l.index.epochAt(y(2020)));
    assert.notEqual(l.index.epochAt(y(2020)), l.index.epochAt(y(2022)));
    assert.throws(() => cutTile([l], HOME.z, HOME.x, HOME.y, NaN), TileRequestError);
  });

  it('leaves a layer out below its minZoom and above its maxZoom', () => {
    const v = version({ type: 'Polygon', coordinates: [rect(100, 100, 3000, 3000)] });
    const b = layer('b', [v], { minZoom: 14, maxZoom: 16 });
    const w = layer('w', [v], { minZoom: 10, maxZoom: 18 }, 'water');
    const parent = { z: 13, x: HOME.x >> 1, y: HOME.y >> 1 };
    const r13 = cutTile([b, w], parent.z, parent.x, parent.y, NOW);
    assert.deepEqual(r13.featureCounts, { b: 0, w: 1 });
    assert.deepEqual(Object.keys(decode(r13.bytes).layers), ['w']);
    const t17 = tileForLonLat(...(ll(200, 200) as [number, number]), 17);
    assert.deepEqual(cutTile([b, w], 17, t17.x, t17.y, NOW).featureCounts, { b: 0, w: 1 });
    assert.equal(cutTile([b], 17, t17.x, t17.y, NOW).bytes.length, 0);
    assert.equal(cutTile([b], 13, parent.x, parent.y, NOW).bytes.length, 0);
  });

  it('returns zero bytes for an empty tile and for an empty index', () => {
    const l = layer('b', [version({ type: 'Polygon', coordinates: [rect(100, 100, 900, 900)] })]);
    const r = cutTile([l], HOME.z, HOME.x + 5, HOME.y, NOW);
    assert.equal(r.bytes.length, 0);
    assert.deepEqual(r.featureCounts, { b: 0 });
    const none = layer('none', []);
    assert.equal(cutTile([none], 0, 0, 0, NOW).bytes.length, 0);
    assert.equal(none.index.size, 0);
    assert.equal(none.index.bounds(), null);
    assert.equal(cutTile([], 3, 1, 1, NOW).bytes.length, 0);
  });
});

// ---- the index -------------------------------------------------------------------------------------

describe('feature index', () => {
  it('counts what it cannot index instead of throwing', () => {
    const index = buildFeatureIndex([
      version(null),
      version({ type: 'GeometryCollection', geometries: [] }),
      version({ type: 'Polygon', coordinates: [] }),
      version({ type: 'LineString', coordinates: [[118.6, NaN], [118.7, 24.9]] }),
      version({ type: 'Point', coordinates: ['x', 1] as unknown as Position }),
      version({ type: 'Point', coordinates: [118.6, 24.9] }, {}, { validFrom: 10, validTo: 10 }),
      version({ type: 'Point', coordinates: [118.6, 24.9] }, {}, { validFrom: NaN }),
      version({ type: 'Point', coordinates: [118.6, 24.9] }),
    ]);
    assert.equal(index.size, 1);
    assert.deepEqual({ ...index.skipped }, { noGeometry: 3, badCoordinates: 2, emptyValidity: 2 });
    assert.ok(index.memoryBytes() > 0);
  });

  it('gives the same tile whatever the input order', () => {
    const vs = Array.from({ length: 300 }, (_, i) => version(
      { type: 'Polygon', coordinates: [rect((i % 20) * 200, Math.floor(i / 20) * 250, (i % 20) * 200 + 150, Math.floor(i / 20) * 250 + 150)] },
      { i, kind: i % 3 ? 'a' : 'b' },
    ));
    const config = layerTileConfig('building', 'Polygon', { minZoom: 0 });
    const cut = (input: TileFeatureVersion[]) => {
      const fs = features(cutTile([{ name: 'b', index: buildFeatureIndex(input), config }], HOME.z, HOME.x, HOME.y, NOW).bytes, 'b');
      return new Map(fs.map((f) => [f.properties.feature_id, JSON.stringify([f.properties, f.loadGeometry()])]));
    };
    const shuffled = [...vs].sort((a, b) => ((a.attributes!.i as number) * 7919) % 300 - ((b.attributes!.i as number) * 7919) % 300);
    const a = cut(vs), b = cut(shuffled);
    assert.equal(a.size, 300);
    assert.deepEqual(a, b);
  });

  it('builds the same index a page at a time, and refuses use after finish', () => {
    const vs = Array.from({ length: 50 }, (_, i) => version({ type: 'Point', coordinates: ll(i * 80, i * 80) }, { i, even: i % 2 === 0 }));
    const builder = new FeatureIndexBuilder();
    for (let page = 0; page < vs.length; page += 7) for (const v of vs.slice(page, page + 7)) builder.add(v);
    assert.equal(builder.size, 50);
    const paged = builder.finish();
    assert.throws(() => builder.add(vs[0]!), /after finish/);
    assert.throws(() => builder.finish(), /twice/);
    const config = layerTileConfig('address', 'Point', { minZoom: 0 });
    const cut = (index: typeof paged) => cutTile([{ name: 'a', index, config }], HOME.z, HOME.x, HOME.y, NOW).bytes;
    assert.deepEqual(cut(paged), cut(buildFeatureIndex(vs)));
  });

  it('deduplicates values by their encoding: 1 and "1" stay apart, repeated strings are stored once', () => {
    const vs = [
      version({ type: 'Point', coordinates: ll(10, 10) }, { a: 1, b: '1', c: 'same', d: true }),
      version({ type: 'Point', coordinates: ll(20, 20) }, { a: 1.0, b: '1', c: 'same', d: true }),
    ];
    const index = buildFeatureIndex(vs, { idProperty: null });
    assert.equal(index.valueStarts.length - 1, 4);
    const fs = features(cutTile([{ name: 'a', index, config: layerTileConfig('address', 'Point', { minZoom: 0 }) }], HOME.z, HOME.x, HOME.y, NOW).bytes, 'a');
    for (const f of fs) assert.deepEqual({ ...f.properties }, { a: 1, b: '1', c: 'same', d: true });
  });

  it('reports its bounds in degrees', () => {
    const index = buildFeatureIndex([version({ type: 'LineString', coordinates: [[118.5, 24.8], [118.7, 25.0]] })]);
    const [w, s, e, n] = index.bounds()!;
    assert.ok(Math.abs(w - 118.5) < 1e-9 && Math.abs(e - 118.7) < 1e-9 && Math.abs(s - 24.8) < 1e-9 && Math.abs(n - 25) < 1e-9);
  });
});

// ---- size budget -----------------------------------------------------------------------------------

describe('size budget', () => {
  it('thins a dense point layer evenly until it fits', () => {
    let s = 1;
    const rnd = () => ((s = (s * 48271) % 2147483647) / 2147483647);
    const vs = Array.from({ length: 5000 }, (_, i) => version({ type: 'Point', coordinates: ll(rnd() * 4096, rnd() * 4096) }, { label: `${'路'.repeat(40)}${i}` }));
    const budget = 100 * 1024;
    const l = layer('a', vs, { sizeBudget: budget }, 'address', 'Point');
    const r = cutTile([l], HOME.z, HOME.x, HOME.y, NOW);
    assert.equal(r.degraded, true);
    assert.ok(r.bytes.length <= budget, `${r.bytes.length} ≤ ${budget}`);
    assert.ok(r.bytes.length > budget * 0.7, 'and not far below it');
    const kept = r.featureCounts.a!;
    assert.ok(kept > 500 && kept < 5000);
    assert.equal(r.degradation!.droppedFeatures, 5000 - kept);
    const quadrants = [0, 0, 0, 0];
    for (const f of features(r.bytes, 'a')) {
      const p = f.loadGeometry()[0]![0]!;
      quadrants[(p.x < 2048 ? 0 : 1) + (p.y < 2048 ? 0 : 2)]!++;
    }
    for (const n of quadrants) assert.ok(n > kept / 8, `thinned evenly: ${quadrants}`);
    const unbounded = cutTile([layer('a', vs, { sizeBudget: 10 << 20 }, 'address', 'Point')], HOME.z, HOME.x, HOME.y, NOW);
    assert.equal(unbounded.degraded, false);
    assert.equal(unbounded.featureCounts.a, 5000);
  });

  it('simplifies harder before dropping anything when geometry is what is big', () => {
    const circle = (cu: number, cv: number, r: number, n: number) =>
      ring(Array.from({ length: n }, (_, k) => [cu + r * Math.cos((2 * Math.PI * k) / n), cv - r * Math.sin((2 * Math.PI * k) / n)] as [number, number]));
    const vs = Array.from({ length: 200 }, (_, i) => version({ type: 'Polygon', coordinates: [circle(300 + (i % 14) * 250, 300 + Math.floor(i / 14) * 250, 300, 1000)] }));
    const budget = 100 * 1024;
    const l = layer('g', vs, { simplify: 0, sizeBudget: budget }, 'green');
    const r = cutTile([l], HOME.z, HOME.x, HOME.y, NOW);
    assert.equal(r.degraded, true);
    assert.ok(r.bytes.length <= budget);
    assert.deepEqual(r.degradation, { simplifyFactor: 4, droppedFeatures: 0 });
    assert.equal(r.featureCounts.g, 200);
  });

  it('takes the smallest budget of a composite and thins every layer', () => {
    const pts = Array.from({ length: 3000 }, (_, i) => version({ type: 'Point', coordinates: ll((i * 37) % 4096, (i * 91) % 4096) }, { t: `${'x'.repeat(60)}${i}` }));
    const a = layer('a', pts, { sizeBudget: 60 * 1024 }, 'address', 'Point');
    const b = layer('b', pts.map((v) => ({ ...v })), {}, 'business', 'Point');
    const r = cutTile([a, b], HOME.z, HOME.x, HOME.y, NOW);
    assert.ok(r.bytes.length <= 60 * 1024);
    assert.ok(r.featureCounts.a! > 100 && r.featureCounts.b! > 100);
  });
});

// ---- cache -----------------------------------------------------------------------------------------

describe('tile cache', () => {
  const tile = (n: number) => ({ bytes: new Uint8Array(n) });

  it('evicts the least recently used tiles by bytes', () => {
    const cache = new TileCache(3 * (1000 + 160 + 2));
    cache.set('a', tile(1000), ['l']);
    cache.set('b', tile(1000), ['l']);
    cache.set('c', tile(1000), ['l']);
    assert.equal(cache.stats().entries, 3);
    assert.ok(cache.get('a'));
    cache.set('d', tile(1000), ['l']); // evicts b, the least recently used
    assert.equal(cache.get('b'), undefined);
    assert.ok(cache.get('a') && cache.get('c') && cache.get('d'));
    cache.set('e', tile(2500), ['m']); // needs two evictions
    assert.deepEqual([...['a', 'c', 'd', 'e']].map((k) => cache.get(k) !== undefined), [false, false, false, true], 'a, c, d made room');
    const st = cache.stats();
    assert.equal(st.entries, 1);
    assert.ok(st.bytes <= st.maxBytes);
    assert.equal(st.misses, 4);
    assert.equal(st.evictions, 4);
    cache.set('huge', tile(10_000), ['m']);
    assert.equal(cache.get('huge'), undefined, 'a tile larger than the budget is not kept');
  });

  it('invalidates every tile of a layer, composites included, and replaces entries in place', () => {
    const cache = new TileCache(1 << 20);
    cache.set('x', tile(10), ['roads']);
    cache.set('y', tile(10), ['roads', 'buildings']);
    cache.set('z', tile(10), ['buildings']);
    cache.set('z', tile(20), ['buildings']);
    assert.equal(cache.stats().entries, 3);
    assert.equal(cache.invalidateLayer('roads'), 2);
    assert.equal(cache.get('x'), undefined);
    assert.equal(cache.get('y'), undefined);
    assert.equal(cache.get('z')!.bytes.length, 20);
    assert.equal(cache.invalidateLayer('roads'), 0);
    assert.equal(cache.invalidateLayer('buildings'), 1);
    assert.deepEqual({ ...cache.stats(), maxBytes: 0 }, { entries: 0, bytes: 0, maxBytes: 0, hits: 1, misses: 2, evictions: 0 });
  });

  it('keys tiles by index build, epoch, config and properties', () => {
    const y = (year: number) => Date.parse(`${year}-01-01T00:00:00Z`);
    const vs = [version({ type: 'Point', coordinates: ll(1, 1) }, {}, { validFrom: y(2020) })];
    const l = layer('a', vs, {}, 'address', 'Point');
    const key = (req: TileLayerRequest, at = NOW) => tileCacheKey([req], 14, HOME.x, HOME.y, at);
    assert.equal(key(l), key(l, y(2030)), 'same epoch, same key');
    assert.notEqual(key(l), key(l, y(2019)));
    assert.notEqual(key(l), key({ ...l, index: buildFeatureIndex(vs) }), 'a rebuilt index never matches');
    assert.notEqual(key(l), key({ ...l, properties: ['a'] }));
    assert.equal(key({ ...l, properties: ['a', 'b'] }), key({ ...l, properties: ['b', 'a'] }));
    assert.notEqual(key(l), key({ ...l, config: layerTileConfig('address', 'Point', { minZoom: 1 }) }));
    assert.notEqual(tileCacheKey([l], 14, HOME.x, HOME.y, NOW), tileCacheKey([l], 14, HOME.x + 1, HOME.y, NOW));
  });
});

// ---- layer config ----------------------------------------------------------------------------------

describe('layer tile config', () => {
  it('has defaults by domain and geometry', () => {
    assert.equal(layerTileConfig('building', 'Polygon').minZoom, 14);
    assert.equal(layerTileConfig('pipeline', 'LineString').minZoom, 13);
    assert.equal(layerTileConfig('pipeline', 'Point').minZoom, 15);
    assert.equal(layerTileConfig('road', 'MultiLineString').minZoom, 10);
    assert.equal(layerTileConfig('water', 'Polygon').minZoom, 8);
    assert.equal(layerTileConfig('admin', 'MultiPolygon').minZoom, 6);
    assert.equal(layerTileConfig('address', 'Point').minZoom, 14);
    assert.equal(layerTileConfig('no-such-domain', 'Geometry').minZoom, 13);
    const c = layerTileConfig('building', 'Polygon');
    assert.deepEqual({ ...c }, { minZoom: 14, maxZoom: 18, simplify: 3, minFeatureSize: 8, buffer: 64, sizeBudget: 500 * 1024 });
    assert.ok(Object.isFrozen(c));
  });

  it('refuses bad overrides', () => {
    assert.throws(() => layerTileConfig('building', 'Polygon', { minZoom: 19 }), RangeError);
    assert.throws(() => layerTileConfig('building', 'Polygon', { maxZoom: 25 }));
    assert.throws(() => layerTileConfig('building', 'Polygon', { buffer: -1 }));
    assert.throws(() => layerTileConfig('building', 'Polygon', { typo: 1 } as LayerTileOverrides));
  });
});

// ---- parity with geojson-vt + vt-pbf --------------------------------------------------------------

describe('parity with geojson-vt + vt-pbf on the demo city', () => {
  const city = generateDemoCity({ scale: 0.1 });
  const pick = (id: string) => city.layers.find((l) => l.meta.id === id)!;
  const toVersion = (v: (typeof city.layers)[number]['versions'][number]): TileFeatureVersion => ({
    featureId: v.featureId, geometry: v.geometry, attributes: v.attributes,
    validFrom: Date.parse(v.validFrom as unknown as string), validTo: v.validTo ? Date.parse(v.validTo as unknown as string) : null,
  });
  const sources = { buildings: pick('buildings'), pipes: pick('drainage-pipes') };
  const maxZoom = 16;
  const requests: TileLayerRequest[] = Object.entries(sources).map(([name, l]) => ({
    name, index: buildFeatureIndex(l.versions.map(toVersion)),
    config: layerTileConfig(l.meta.domain, l.meta.geometryType, { minZoom: 0, maxZoom, sizeBudget: 1 << 30 }),
  }));
  const reference = Object.fromEntries(Object.entries(sources).map(([name, l]) => [name, new GeoJSONVT({
    type: 'FeatureCollection',
    features: l.versions.filter((v) => v.validTo === null).map((v) => ({
      type: 'Feature' as const, geometry: v.geometry, properties: { feature_id: v.featureId, ...v.attributes },
    })),
  }, { maxZoom, indexMaxZoom: 0, tolerance: 3, buffer: 64, extent: 4096 })]));

  const [w, s, e, n] = requests[0]!.index.bounds()!;
  const spots: Array<[number, number]> = [[0.5, 0.5], [0.3, 0.6], [0.7, 0.4]];

  interface Shape { type: number; bbox: [number, number, number, number]; measure: number }
  function shapes(bytes: Uint8Array, name: string): Map<string, Shape> {
    const out = new Map<string, Shape>();
    for (const f of features(bytes, name)) {
      const g = f.loadGeometry();
      const pts = g.flat();
      const bbox: [number, number, number, number] = [
        Math.min(...pts.map((p) => p.x)), Math.min(...pts.map((p) => p.y)), Math.max(...pts.map((p) => p.x)), Math.max(...pts.map((p) => p.y)),
      ];
      // Polygons: summed spec area (holes subtract). Lines: length.
      const measure = f.type === 3 ? g.reduce((a, r) => a + specArea(r), 0)
        : g.reduce((a, r) => a + r.slice(1).reduce((b, p, i) => b + Math.hypot(p.x - r[i]!.x, p.y - r[i]!.y), 0), 0);
      out.set(String(f.properties.feature_id), { type: f.type, bbox, measure });
    }
    return out;
  }

  for (const z of [16, 15, 14]) {
    it(`z${z}: same features, same places, same winding (${z === maxZoom ? 'no simplification' : 'simplified at 3 units'})`, () => {
      for (const [fx, fy] of spots) {
        const t = tileForLonLat(w + (e - w) * fx, s + (n - s) * fy, z);
        const ours = cutTile(requests, z, t.x, t.y, NOW).bytes;
        const theirs = vtpbf.fromGeojsonVt(
          Object.fromEntries(Object.entries(reference).map(([name, vt]) => [name, vt.getTile(z, t.x, t.y) ?? { features: [] }])),
          { version: 2, extent: 4096 },
        );
        for (const name of Object.keys(sources)) {
          const a = shapes(ours, name), b = shapes(theirs, name);
          assert.ok(b.size > 5, `the reference tile has ${name} (${b.size})`);
          const common = [...a.keys()].filter((k) => b.has(k));
          // geojson-vt keeps zero-area slivers in the buffer and drops by √area rather than by box; a few may differ.
          const slack = 0.02;
          assert.ok(common.length >= (1 - slack) * Math.max(a.size, b.size), `${name} z${z}: ${common.length} common of ${a.size} / ${b.size}`);
          // geojson-vt rounds vertices to maxZoom units before clipping, so where a steep segment is cut
          // at the buffer edge its crossing moves by up to slope × 0.5 units; ours clips unrounded.
          const tol = z === maxZoom ? 3 : 4;
          for (const k of common) {
            const p = a.get(k)!, q = b.get(k)!;
            assert.equal(p.type, q.type);
            for (let i = 0; i < 4; i++) assert.ok(Math.abs(p.bbox[i]! - q.bbox[i]!) <= tol, `${name} ${k} bbox ${p.bbox} vs ${q.bbox}`);
            if (p.type === 3) assert.ok(p.measure > 0 && q.measure > 0, `${name} ${k}: exterior rings positive in both`);
            const rel = Math.abs(p.measure - q.measure) / Math.max(1, Math.abs(q.measure));
            assert.ok(rel < (z === maxZoom ? 0.02 : 0.15) || Math.abs(p.measure - q.measure) < 40, `${name} ${k} measure ${p.measure} vs ${q.measure}`);
          }
        }
      }
    });
  }
});
