import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import type { Point } from 'geojson';
import { openTestStore, resetStore, type TestStore } from './helpers/stores.ts';
import { generateDemoCity, type DemoCity } from '../fixtures/demo-city/index.ts';
import { writeSurveyDeliveries, type SurveyFile } from '../fixtures/survey/write-survey.ts';
import { importLayerFile } from '../data-import/import-file.ts';
import { getFeatureJson } from '../store/features.ts';
import { storeLocator } from '../geocoder/store-source.ts';

/** The demo city as departments deliver it goes through the importer and comes back the same. */
describe('the demo city in survey formats, through the importer', () => {
  let store: TestStore;
  let dir: string;
  let city: DemoCity;
  let files: SurveyFile[];

  before(async () => {
    store = await openTestStore('postgres');
    await resetStore(store);
    dir = mkdtempSync(path.join(os.tmpdir(), 'onemap-survey-'));
    city = generateDemoCity({ scale: 0.05 });
    files = await writeSurveyDeliveries(city, dir);
  });
  after(async () => {
    await store?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every delivery loads in order, with its CRS and encoding found on its own, and reports what the generator changed', async () => {
    for (const f of files) {
      const meta = city.layers.find((l) => l.meta.id === f.layer)?.meta;
      const r = await importLayerFile(store.db, {
        file: f.file, layer: f.layer, domain: meta?.domain, key: f.key, crs: f.crs, mode: f.mode,
        validFrom: f.validFrom ? new Date(f.validFrom) : undefined, validFromField: f.validFromField,
        // The business register's address-only rows are placed on the (public) standard addresses loaded before it.
        accessClass: meta?.accessClass, geocoder: () => storeLocator(store.db),
      });
      const name = path.basename(f.file);
      assert.equal(r.rejectedCount, 0, `${name}: ${JSON.stringify(r.rejected.slice(0, 2))}`);
      assert.equal(r.read, f.rows, name);
      if (f.expect) assert.deepEqual({ inserted: r.inserted, updated: r.updated, unchanged: r.unchanged, retired: r.retired }, f.expect, name);
      if (f.format === 'shapefile') {
        assert.equal(r.crs.code, 'EPSG:4549', name);
        assert.match(r.encoding!.name, /GBK|GB18030|936/i, name);
      }
    }
    assert.ok(files.some((f) => f.mode === 'snapshot' && f.expect!.retired > 0 && f.expect!.updated > 0), 'some delivery changes and retires features');
  });

  it('the store then holds every version of the generated city: same ids, validity, attributes and positions', async () => {
    const { rows } = await sql<{ layer_id: string; feature_id: string; valid_from: Date; valid_to: Date | null; attributes: Record<string, unknown>; g: string }>`
      select layer_id, feature_id, valid_from, valid_to, attributes, st_asgeojson(geom, 9) as g from feature_version where layer_id <> 'enterprises'`.execute(store.db);
    const stored = new Map(rows.map((r) => [`${r.layer_id}|${r.feature_id}|${r.valid_from.toISOString()}`, r]));
    let versions = 0;
    for (const layer of city.layers) {
      for (const v of layer.versions) {
        versions++;
        const key = `${layer.meta.id}|${v.featureId}|${new Date(v.validFrom).toISOString()}`;
        const r = stored.get(key);
        assert.ok(r, `${key} is missing`);
        assert.equal(r.valid_to?.toISOString() ?? null, v.validTo ? new Date(v.validTo).toISOString() : null, key);
        assert.deepEqual(r.attributes, v.attributes, key);
        const g = JSON.parse(r.g) as { type: string; coordinates: unknown };
        assert.equal(g.type, v.geometry.type, key);
        // Through Gauss-Krüger and back: equal at 1e-9 degrees (0.1 mm).
        assert.deepEqual(g.coordinates, (JSON.parse(JSON.stringify(v.geometry, (_k, x: unknown) => (typeof x === 'number' ? Math.round(x * 1e9) / 1e9 : x))) as { coordinates: unknown }).coordinates, key);
      }
    }
    assert.equal(rows.length, versions, 'no version the generator did not make');
  });

  it('pipe and building attributes map back onto the standard keys, positions within a millimetre', async () => {
    const pipes = city.layers.find((l) => l.meta.id === 'water-supply-pipes')!.versions.filter((v) => v.validTo === null);
    const sample = pipes[Math.floor(pipes.length / 2)]!;
    const stored = JSON.parse((await getFeatureJson(store.db, 'water-supply-pipes', sample.featureId))!);
    for (const k of ['pipe_class', 'sub_type', 'feature_code', 'start_point', 'end_point', 'start_depth_m', 'end_depth_m', 'material', 'diameter_mm', 'owner', 'buried_year', 'status']) {
      assert.deepEqual(stored.properties[k], sample.attributes[k], k);
    }
    const { rows } = await sql<{ d: number }>`
      select max(st_distance(f.geom::geography, st_setsrid(st_geomfromgeojson(${JSON.stringify(sample.geometry)}), 4490)::geography)) as d
      from feature_version f where f.layer_id = 'water-supply-pipes' and f.feature_id = ${sample.featureId}`.execute(store.db);
    assert.ok(rows[0]!.d < 0.001, `${rows[0]!.d} m`);

    const building = city.layers.find((l) => l.meta.id === 'buildings')!.versions.find((v) => v.validTo === null && v.attributes.name)!;
    const b = JSON.parse((await getFeatureJson(store.db, 'buildings', building.featureId))!);
    for (const k of ['name', 'use', 'floors', 'height_m', 'structure', 'built_year', 'address']) assert.deepEqual(b.properties[k], building.attributes[k], k);
  });

  it('the GCJ-02 enterprises land within 1 m of their true address points; the geocoder places the rest on standard addresses', async () => {
    const points = city.layers.find((l) => l.meta.id === 'addresses')!.versions.filter((v) => v.validTo === null).map((v) => (v.geometry as Point).coordinates as [number, number]);
    const { rows } = await sql<{ x: number | null; y: number | null; status: string | null }>`
      select st_x(geom) as x, st_y(geom) as y, attributes->>'geocode_status' as status from feature_version where layer_id = 'enterprises'`.execute(store.db);
    const placed = rows.filter((r) => r.x !== null);
    assert.equal(placed.length, rows.length, `${placed.length} of ${rows.length} have a point`);
    const geocoded = rows.filter((r) => r.status === 'matched').length;
    assert.ok(geocoded > 0 && geocoded < rows.length, `${geocoded} of ${rows.length} placed by the geocoder`);
    const metres = (a: [number, number], b: [number, number]) => Math.hypot((a[0] - b[0]) * 101_000, (a[1] - b[1]) * 111_000);
    for (const r of placed) {
      const nearest = Math.min(...points.map((p) => metres([r.x!, r.y!], p)));
      assert.ok(nearest < 1, `an enterprise is ${nearest.toFixed(2)} m from the nearest address point`);
    }
  });
});
