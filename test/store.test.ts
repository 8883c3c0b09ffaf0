import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Polygon } from 'geojson';
import { DRIVERS, openTestStore, resetStore, type TestStore } from './helpers/stores.ts';
import { upsertLayer, getLayer } from '../store/layers.ts';
import {
  createFeature, featureHistory, getFeatureJson, insertVersions, queryFeatures, retireFeature, updateFeature, NOW,
  VersionConflictError,
} from '../store/features.ts';
import type { LayerMeta } from '../store/layer-meta.ts';

const square = (x: number, y: number, d: number): Polygon => ({
  type: 'Polygon',
  coordinates: [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]],
});

const meta = (id: string): LayerMeta => ({
  id, titleZh: '测试建筑', titleEn: 'Test buildings', domain: 'building', geometryType: 'Polygon',
  attributeSchema: { floors: { type: 'integer', title: '层数' } }, accessClass: 'public', source: 'test',
});

const at = (s: string) => new Date(s);
const parse = (json: string | undefined) => (json ? JSON.parse(json) : undefined);

for (const driver of DRIVERS) {
  describe(`versioned store on ${driver}`, () => {
    let store: TestStore;
    before(async () => {
      store = await openTestStore(driver);
      await resetStore(store);
    });
    after(async () => { await store?.cleanup(); });

    it('update closes the current version and opens a new one; as-of reads see each', async () => {
      const layer = `t-update-${driver}`;
      await upsertLayer(store.db, meta(layer));
      await createFeature(store.db, layer, 'B1', square(118.59, 24.91, 0.001), { floors: 6 }, at('2010-01-01T00:00:00Z'));
      await updateFeature(store.db, layer, 'B1', { geometry: square(118.59, 24.91, 0.002), attributes: { floors: 20 } }, at('2021-03-01T00:00:00Z'));

      const before2021 = parse(await getFeatureJson(store.db, layer, 'B1', { kind: 'instant', at: at('2020-06-01T00:00:00Z') }));
      const now = parse(await getFeatureJson(store.db, layer, 'B1'));
      assert.equal(before2021.properties.floors, 6);
      assert.deepEqual(before2021.geometry.coordinates[0][2], [118.591, 24.911]);
      assert.equal(now.properties.floors, 20);
      assert.deepEqual(now.geometry.coordinates[0][2], [118.592, 24.912]);
      // The boundary instant belongs to the new version only ('[)' validity).
      const atChange = parse(await getFeatureJson(store.db, layer, 'B1', { kind: 'instant', at: at('2021-03-01T00:00:00Z') }));
      assert.equal(atChange.properties.floors, 20);
      assert.equal(parse(await getFeatureJson(store.db, layer, 'B1', { kind: 'instant', at: at('2009-12-31T00:00:00Z') })), undefined);

      const history = await featureHistory(store.db, layer, 'B1');
      assert.equal(history.length, 2);
      assert.equal(history[0]!.validTo?.toISOString(), '2021-03-01T00:00:00.000Z');
      assert.equal(history[1]!.validTo, null);
      assert.equal(JSON.parse(history[0]!.featureJson).time.interval[1], '2021-03-01T00:00:00+00:00');
      assert.equal(JSON.parse(history[1]!.featureJson).time.interval[1], '..');
    });

    it('an update that carries only attributes keeps the geometry, and vice versa', async () => {
      const layer = `t-partial-${driver}`;
      await upsertLayer(store.db, meta(layer));
      await createFeature(store.db, layer, 'B1', square(118, 24, 0.001), { floors: 3 }, at('2000-01-01T00:00:00Z'));
      await updateFeature(store.db, layer, 'B1', { attributes: { floors: 4 } }, at('2001-01-01T00:00:00Z'));
      await updateFeature(store.db, layer, 'B1', { geometry: square(119, 25, 0.001) }, at('2002-01-01T00:00:00Z'));
      const versions = (await featureHistory(store.db, layer, 'B1')).map((v) => JSON.parse(v.featureJson));
      assert.deepEqual(versions.map((v) => v.properties.floors), [3, 4, 4]);
      assert.deepEqual(versions.map((v) => v.geometry.coordinates[0][0]), [[118, 24], [118, 24], [119, 25]]);
    });

    it('retire closes the feature: absent now, present as of before', async () => {
      const layer = `t-retire-${driver}`;
      await upsertLayer(store.db, meta(layer));
      await createFeature(store.db, layer, 'B1', square(118, 24, 0.001), { floors: 3 }, at('2000-01-01T00:00:00Z'));
      await retireFeature(store.db, layer, 'B1', at('2015-01-01T00:00:00Z'));
      assert.equal(await getFeatureJson(store.db, layer, 'B1'), undefined);
      assert.ok(await getFeatureJson(store.db, layer, 'B1', { kind: 'instant', at: at('2014-01-01T00:00:00Z') }));
      const page = await queryFeatures(store.db, layer, { time: NOW, limit: 10, offset: 0 });
      assert.equal(page.numberMatched, 0);
      const all = await queryFeatures(store.db, layer, { time: { kind: 'interval', start: null, end: null }, limit: 10, offset: 0 });
      assert.equal(all.numberMatched, 1);
    });

    it('refuses changes that would rewrite history, and leaves the store untouched', async () => {
      const layer = `t-conflict-${driver}`;
      await upsertLayer(store.db, meta(layer));
      await createFeature(store.db, layer, 'B1', square(118, 24, 0.001), { floors: 3 }, at('2010-01-01T00:00:00Z'));
      await assert.rejects(updateFeature(store.db, layer, 'B1', { attributes: { floors: 9 } }, at('2009-01-01T00:00:00Z')), VersionConflictError);
      await assert.rejects(createFeature(store.db, layer, 'B1', square(118, 24, 0.001), {}, at('2011-01-01T00:00:00Z')), VersionConflictError);
      await assert.rejects(retireFeature(store.db, layer, 'nope', at('2011-01-01T00:00:00Z')), VersionConflictError);
      const history = await featureHistory(store.db, layer, 'B1');
      assert.equal(history.length, 1);
      assert.equal(history[0]!.validTo, null);
    });

    it('every write bumps the layer revision', async () => {
      const layer = `t-revision-${driver}`;
      await upsertLayer(store.db, meta(layer));
      const r0 = (await getLayer(store.db, layer))!.revision;
      await createFeature(store.db, layer, 'B1', square(118, 24, 0.001), {}, at('2010-01-01T00:00:00Z'));
      const r1 = (await getLayer(store.db, layer))!.revision;
      await updateFeature(store.db, layer, 'B1', { attributes: { floors: 2 } }, at('2011-01-01T00:00:00Z'));
      const r2 = (await getLayer(store.db, layer))!;
      assert.ok(r1 > r0 && r2.revision > r1, `revisions ${r0} ${r1} ${r2.revision}`);
      assert.deepEqual(r2.extent, [118, 24, 118.001, 24.001]);
      assert.equal(r2.timeExtent?.[0].toISOString(), '2010-01-01T00:00:00.000Z');
    });

    it('bbox + datetime select the versions valid there and then; paging returns each exactly once', async () => {
      const layer = `t-page-${driver}`;
      await upsertLayer(store.db, meta(layer));
      const versions = [];
      for (let i = 0; i < 157; i++) {
        const x = 118 + (i % 20) * 0.01;
        const y = 24 + Math.floor(i / 20) * 0.01;
        // Every third feature was rebuilt in 2021 one cell to the east.
        if (i % 3 === 0) {
          versions.push({ featureId: `F${i}`, geometry: square(x, y, 0.001), attributes: { floors: 1 }, validFrom: '2000-01-01T00:00:00Z', validTo: '2021-01-01T00:00:00Z' });
          versions.push({ featureId: `F${i}`, geometry: square(x + 0.005, y, 0.001), attributes: { floors: 2 }, validFrom: '2021-01-01T00:00:00Z', validTo: null });
        } else {
          versions.push({ featureId: `F${i}`, geometry: square(x, y, 0.001), attributes: { floors: 1 }, validFrom: '2000-01-01T00:00:00Z', validTo: null });
        }
      }
      await insertVersions(store.db, layer, versions);

      const seen = new Map<string, number>();
      let offset = 0;
      for (;;) {
        const page = await queryFeatures(store.db, layer, { time: NOW, limit: 25, offset });
        assert.equal(page.numberMatched, 157);
        for (const f of JSON.parse(page.featuresJson)) seen.set(f.id, (seen.get(f.id) ?? 0) + 1);
        offset += 25;
        if (page.numberReturned < 25) break;
      }
      assert.equal(seen.size, 157);
      assert.ok([...seen.values()].every((n) => n === 1));

      // A bbox over the first column's western half: the rebuilt features moved out of it in 2021.
      const bbox: [number, number, number, number] = [117.999, 23.999, 118.0012, 25];
      const now = await queryFeatures(store.db, layer, { bbox, time: NOW, limit: 100, offset: 0 });
      const then = await queryFeatures(store.db, layer, { bbox, time: { kind: 'instant', at: at('2020-06-01T00:00:00Z') }, limit: 100, offset: 0 });
      const col0 = Array.from({ length: 8 }, (_, r) => r * 20).filter((i) => i < 157);
      assert.deepEqual(new Set(then.featureIds), new Set(col0.map((i) => `F${i}`)));
      assert.deepEqual(new Set(now.featureIds), new Set(col0.filter((i) => i % 3 !== 0).map((i) => `F${i}`)));
      // An interval overlapping the change returns both versions of the rebuilt ones.
      const both = await queryFeatures(store.db, layer, { bbox: [117.9, 23.9, 118.1, 25], time: { kind: 'interval', start: at('2020-01-01T00:00:00Z'), end: at('2022-01-01T00:00:00Z') }, limit: 1000, offset: 0 });
      assert.equal(both.featureIds.filter((id) => id === 'F0').length, 2);

      const onlyFloors = JSON.parse((await queryFeatures(store.db, layer, { time: NOW, limit: 1, offset: 0, properties: ['floors'] })).featuresJson);
      assert.deepEqual(Object.keys(onlyFloors[0].properties), ['floors']);
      const none = JSON.parse((await queryFeatures(store.db, layer, { time: NOW, limit: 1, offset: 0, properties: ['height'] })).featuresJson);
      assert.deepEqual(none[0].properties, {});
    });

    it('a failing bulk write leaves nothing behind', async () => {
      const layer = `t-atomic-${driver}`;
      await upsertLayer(store.db, meta(layer));
      await assert.rejects(store.db.transaction().execute(async (trx) => {
        await insertVersions(trx, layer, [
          { featureId: 'A', geometry: square(118, 24, 0.001), attributes: {}, validFrom: '2000-01-01T00:00:00Z', validTo: null },
          // Two open versions of one feature violate the store's invariant.
          { featureId: 'A', geometry: square(118, 24, 0.001), attributes: {}, validFrom: '2001-01-01T00:00:00Z', validTo: null },
        ]);
      }));
      const page = await queryFeatures(store.db, layer, { time: { kind: 'interval', start: null, end: null }, limit: 10, offset: 0 });
      assert.equal(page.numberMatched, 0);
    });
  });
}
