import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openTestStore, type TestStore } from './helpers/stores.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { ogrinfo } from './helpers/gdal.ts';
import { upsertLayer } from '../store/layers.ts';
import { insertVersions } from '../store/features.ts';

/** GDAL's OAPIF driver is an independent OGC API - Features client: if it reads us, others will. */
describe('GDAL ogrinfo reads the OGC API', () => {
  let store: TestStore;
  let server: RunningServer;

  before(async () => {
    store = await openTestStore('postgres');
    await upsertLayer(store.db, {
      id: 'ogr-parks', titleZh: '公园 "测试"', titleEn: "Parks, with 'quotes'", domain: 'green', geometryType: 'Polygon',
      attributeSchema: { name: { type: 'string', title: '名称' }, area_m2: { type: 'number', unit: 'm2' } }, accessClass: 'public', source: 'test',
    });
    await insertVersions(store.db, 'ogr-parks', Array.from({ length: 25 }, (_, i) => ({
      featureId: `P${i}`,
      geometry: { type: 'Polygon', coordinates: [[[118.5 + i * 0.001, 24.9], [118.5005 + i * 0.001, 24.9], [118.5005 + i * 0.001, 24.9005], [118.5 + i * 0.001, 24.9]]] },
      attributes: { name: `东湖公园${i}`, area_m2: 1000 + i },
      validFrom: '2010-01-01T00:00:00Z',
      validTo: null,
    })));
    server = await startServer(store);
  });
  after(async () => {
    await server?.close();
    await store?.cleanup();
  });

  it('lists the collections and reads every feature through paging', async () => {
    const layers = await ogrinfo(['-ro', '-q', `OAPIF:${server.url}/`]);
    assert.match(layers, /ogr-parks/);
    const features = await ogrinfo(['-ro', '-al', '-oo', 'PAGE_SIZE=10', `OAPIF:${server.url}/`, 'ogr-parks']);
    assert.match(features, /Feature Count: 25/);
    assert.equal((features.match(/OGRFeature\(ogr-parks\)/g) ?? []).length, 25);
    assert.match(features, /name \(String\) = 东湖公园24/);
  });
});
