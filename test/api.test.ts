import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { openTestStore, resetStore, type TestStore } from './helpers/stores.ts';
import { startServer, getJson, type RunningServer } from './helpers/server.ts';
import { loadDemoCity } from '../fixtures/load-demo-city.ts';
import { generateDemoCity, type DemoCity } from '../fixtures/demo-city/index.ts';
import { createApiKey, revokeApiKey } from '../store/access.ts';
import type { DriverName } from '../store/db.ts';

const PUBLIC_LAYERS = ['roads', 'buildings', 'land-parcels', 'water', 'green-space', 'water-supply-pipes', 'drainage-pipes', 'telecom-cables', 'heat-pipes', 'communities', 'addresses'];
const RESTRICTED = ['gas-pipes', 'gas-points', 'power-cables', 'power-points'];

/** The whole API over HTTP on one driver, with the demo city (as generated for this seed and scale) loaded. */
function apiSuite(driver: DriverName, scale: number) {
  describe(`OGC API - Features on ${driver} (demo city scale ${scale})`, () => {
    let store: TestStore;
    let server: RunningServer;
    let city: DemoCity;
    let dir: string;
    const keys: Record<string, string> = {};
    let fieldKeyId = 0;

    before(async () => {
      store = await openTestStore(driver);
      if (driver === 'postgres') await resetStore(store);
      dir = mkdtempSync(path.join(os.tmpdir(), 'onemap-demo-'));
      city = generateDemoCity({ scale });
      await loadDemoCity(store.db, { dir, seed: city.seed, scale });
      keys.viewer = (await createApiKey(store.db, { name: 'viewer', role: 'viewer' })).key;
      const field = await createApiKey(store.db, { name: 'gas crew', role: 'field', clearances: ['gas-pipes'] });
      keys.field = field.key;
      fieldKeyId = field.id;
      keys.admin = (await createApiKey(store.db, { name: 'admin', role: 'admin' })).key;
      const revoked = await createApiKey(store.db, { name: 'old', role: 'admin' });
      await revokeApiKey(store.db, String(revoked.id));
      keys.revoked = revoked.key;
      server = await startServer(store);
    });
    after(async () => {
      await server?.close();
      await store?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const versionsOf = (layer: string) => city.layers.find((l) => l.meta.id === layer)!.versions;

    it('landing page, conformance, OpenAPI and health', async () => {
      const landing = await getJson(`${server.url}/`);
      assert.equal(landing.status, 200);
      const rels = landing.body.links.map((l: { rel: string }) => l.rel);
      for (const rel of ['self', 'service-desc', 'conformance', 'data']) assert.ok(rels.includes(rel), rel);
      const conformance = await getJson(`${server.url}/conformance`);
      assert.ok(conformance.body.conformsTo.includes('http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson'));
      const api = await getJson(`${server.url}/api`);
      assert.equal(api.status, 200);
      assert.match(api.type, /application\/vnd\.oai\.openapi\+json/);
      assert.equal(api.body.openapi, '3.0.3');
      const items = api.body.paths['/collections/{collectionId}/items'].get;
      assert.deepEqual(items.parameters.map((p: { name: string }) => p.name).sort(), ['api_key', 'bbox', 'collectionId', 'datetime', 'f', 'limit', 'offset', 'properties']);
      const health = await getJson(`${server.url}/health`);
      assert.equal(health.body.driver, driver);
      assert.match(health.body.postgis, /^3\./);
      assert.equal(health.body.layers, city.layers.length + 1, 'the generator\'s layers and the enterprise register');
    });

    it('lists the public layers, and the restricted ones only to keys cleared for them', async () => {
      const anon = await getJson(`${server.url}/collections`);
      const ids = anon.body.collections.map((c: { id: string }) => c.id);
      for (const id of PUBLIC_LAYERS) assert.ok(ids.includes(id), `missing ${id}`);
      for (const id of RESTRICTED) assert.ok(!ids.includes(id), `leaked ${id}`);
      const buildings = anon.body.collections.find((c: { id: string }) => c.id === 'buildings');
      assert.equal(buildings.extent.spatial.bbox[0].length, 4);
      assert.ok(buildings.extent.spatial.bbox[0][0] > 118 && buildings.extent.spatial.bbox[0][0] < 119.2);
      assert.ok(buildings.links.some((l: { rel: string }) => l.rel === 'items'));

      const viewer = (await getJson(`${server.url}/collections`, { 'X-API-Key': keys.viewer! })).body.collections.map((c: { id: string }) => c.id);
      assert.ok(!viewer.includes('gas-pipes'));
      const field = (await getJson(`${server.url}/collections`, { Authorization: `Bearer ${keys.field}` })).body.collections.map((c: { id: string }) => c.id);
      assert.ok(field.includes('gas-pipes'));
      assert.ok(!field.includes('power-cables'));
      const admin = (await getJson(`${server.url}/collections?api_key=${keys.admin}`)).body.collections.map((c: { id: string }) => c.id);
      for (const id of RESTRICTED) assert.ok(admin.includes(id));
    });

    it('restricted layers are absent on every route without clearance, and audited with it', async () => {
      const gasId = versionsOf('gas-pipes')[0]!.featureId;
      const routes = [
        '/collections/gas-pipes',
        '/collections/gas-pipes/items?limit=5',
        `/collections/gas-pipes/items/${encodeURIComponent(gasId)}`,
        `/collections/gas-pipes/items/${encodeURIComponent(gasId)}/history`,
      ];
      const { rows: before } = await sql<{ n: number }>`select count(*)::int as n from audit_log`.execute(store.db);
      for (const route of routes) {
        const headerSets: Array<Record<string, string>> = [{}, { 'X-API-Key': keys.viewer! }];
        for (const headers of headerSets) {
          const res = await getJson(`${server.url}${route}`, headers);
          assert.equal(res.status, 404, `${route} ${JSON.stringify(headers)}`);
          assert.equal(res.body.error.code, 'NotFound');
          assert.ok(!JSON.stringify(res.body).includes(gasId) || route.includes(gasId), 'leaks nothing');
        }
      }
      const { rows: unchanged } = await sql<{ n: number }>`select count(*)::int as n from audit_log`.execute(store.db);
      assert.equal(unchanged[0]!.n, before[0]!.n, 'refused reads are not data reads');

      for (const route of routes) {
        const res = await getJson(`${server.url}${route}`, { 'X-API-Key': keys.field! });
        assert.equal(res.status, 200, route);
      }
      const { rows } = await sql<{ key_id: number; route: string; layer_id: string; bbox: number[] | null; feature_ids: string[] | null }>`
        select key_id, route, layer_id, bbox, feature_ids from audit_log where id > ${before[0]!.n} order by id`.execute(store.db);
      assert.equal(rows.length, routes.length);
      assert.ok(rows.every((r) => r.key_id === fieldKeyId && r.layer_id === 'gas-pipes'));
      assert.deepEqual(rows.map((r) => r.route), [
        '/collections/:collectionId', '/collections/:collectionId/items',
        '/collections/:collectionId/items/:featureId', '/collections/:collectionId/items/:featureId/history',
      ]);
      assert.equal(rows[1]!.feature_ids!.length, 5);
      assert.deepEqual(rows[2]!.feature_ids, [gasId]);

      const bbox = '118.5,24.8,118.7,25.0';
      await getJson(`${server.url}/collections/gas-pipes/items?bbox=${bbox}&limit=1`, { 'X-API-Key': keys.field! });
      const { rows: last } = await sql<{ bbox: number[] }>`select bbox from audit_log order by id desc limit 1`.execute(store.db);
      assert.deepEqual(last[0]!.bbox, [118.5, 24.8, 118.7, 25.0]);

      const power = await getJson(`${server.url}/collections/power-cables/items`, { 'X-API-Key': keys.field! });
      assert.equal(power.status, 404, 'clearance is per layer');
      const revoked = await getJson(`${server.url}/collections`, { 'X-API-Key': keys.revoked! });
      assert.equal(revoked.status, 401);
      assert.equal(revoked.body.error.code, 'InvalidApiKey');
    });

    it('the demo city comes with its operators\' cell towers: a phone without GNSS is placed by its cell', async () => {
      const { rows } = await sql<{ n: number; mcc: number; mnc: number; area: number; cell: number; lon: number; lat: number }>`
        select count(*) over ()::int as n, mcc, mnc, area::int as area, cell::int as cell, lon, lat from radio_cell order by cell limit 1`.execute(store.db);
      assert.ok(rows[0] && rows[0].n > 10, 'towers loaded with the city');
      const t = rows[0]!;
      const res = await fetch(`${server.url}/position`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-API-Key': keys.field! },
        body: JSON.stringify({ deviceId: 'demo-phone', observations: [{ type: 'cell', radio: 'lte', mcc: t.mcc, mnc: t.mnc, tac: t.area, cellId: t.cell }] }),
      });
      const body = await res.json() as { fix: { lon: number; lat: number; basis: string } | null };
      assert.equal(res.status, 200);
      assert.equal(body.fix?.basis, 'radio', JSON.stringify(body));
      assert.ok(Math.abs(body.fix!.lon - t.lon) < 1e-4 && Math.abs(body.fix!.lat - t.lat) < 1e-4);
    });

    it('a key revoked while the server runs is refused at once, though keys are cached', async () => {
      const k = await createApiKey(store.db, { name: 'soon gone', role: 'viewer' });
      assert.equal((await getJson(`${server.url}/collections`, { 'X-API-Key': k.key })).status, 200);
      await revokeApiKey(store.db, String(k.id));
      // The revocation reaches the server as a NOTIFY at commit: within milliseconds, not a minute.
      let status = 0;
      for (let i = 0; i < 40 && status !== 401; i++) {
        status = (await getJson(`${server.url}/collections`, { 'X-API-Key': k.key })).status;
        if (status !== 401) await new Promise((r) => setTimeout(r, 25));
      }
      assert.equal(status, 401);
    });

    it('a building rebuilt in 2021 reads its old footprint as of 2020-06-01', async () => {
      const id = city.history.rebuiltBuildingIds[0]!;
      const versions = versionsOf('buildings').filter((v) => v.featureId === id);
      assert.ok(versions.length >= 2, 'the rebuilt building has history');
      const asOf = (t: string) => versions.find((v) => v.validFrom <= t && (v.validTo === null || v.validTo > t))!;
      const old = asOf('2020-06-01T00:00:00Z');
      const current = versions.find((v) => v.validTo === null)!;
      assert.notDeepEqual(old.geometry, current.geometry);

      const then = await getJson(`${server.url}/collections/buildings/items/${id}?datetime=2020-06-01T00:00:00Z`);
      assert.equal(then.status, 200);
      assert.deepEqual(then.body.geometry, old.geometry);
      assert.deepEqual(then.body.properties, old.attributes);
      const now = await getJson(`${server.url}/collections/buildings/items/${id}`);
      assert.deepEqual(now.body.geometry, current.geometry);
      assert.equal(now.body.time.interval[1], '..');

      const history = await getJson(`${server.url}/collections/buildings/items/${id}/history`);
      assert.equal(history.body.features.length, versions.length);
      assert.deepEqual(history.body.features.map((f: { version: { validTo: string | null } }) => f.version.validTo === null), versions.map((v) => v.validTo === null));

      // The same through items with bbox + datetime, around the old footprint.
      const ring = (old.geometry as { coordinates: number[][][] }).coordinates[0]!;
      const xs = ring.map((c) => c[0]!), ys = ring.map((c) => c[1]!);
      const bbox = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)].join(',');
      const page = await getJson(`${server.url}/collections/buildings/items?bbox=${bbox}&datetime=2020-06-01T00:00:00Z&limit=100`);
      const hit = page.body.features.find((f: { id: string }) => f.id === id);
      assert.ok(hit, 'found through bbox + datetime');
      assert.deepEqual(hit.geometry, old.geometry);
    });

    it('datetime intervals return every version overlapping them', async () => {
      const id = city.history.rebuiltBuildingIds[0]!;
      const res = await getJson(`${server.url}/collections/buildings/items?datetime=2020-01-01T00:00:00Z/2022-01-01T00:00:00Z&limit=10000`);
      assert.equal(res.status, 200);
      assert.equal(res.body.features.filter((f: { id: string }) => f.id === id).length, 2);
      const open = await getJson(`${server.url}/collections/roads/items?datetime=../2001-01-01T00:00:00Z&limit=1`);
      assert.equal(open.status, 200);
    });

    it('paging through a layer with next links returns each feature exactly once', async () => {
      const expected = new Set(versionsOf('water-supply-points').filter((v) => v.validTo === null).map((v) => v.featureId));
      const seen = new Map<string, number>();
      let next: string | undefined = `${server.url}/collections/water-supply-points/items?limit=1000`;
      let pages = 0;
      while (next) {
        const res = await getJson(next);
        assert.equal(res.status, 200);
        assert.equal(res.body.numberMatched, expected.size);
        for (const f of res.body.features) seen.set(f.id, (seen.get(f.id) ?? 0) + 1);
        next = res.body.links.find((l: { rel: string }) => l.rel === 'next')?.href;
        if (pages > 0) assert.ok(res.body.links.some((l: { rel: string }) => l.rel === 'prev'));
        pages++;
        assert.ok(pages < 1000, 'paging terminates');
      }
      assert.equal(seen.size, expected.size);
      assert.ok([...seen.values()].every((n) => n === 1), 'no feature twice');
      assert.ok([...expected].every((id) => seen.has(id)), 'no feature missed');
    });

    it('bbox + limit + properties', async () => {
      const res = await getJson(`${server.url}/collections/buildings/items?bbox=118.55,24.85,118.65,24.97&limit=7&properties=floors,use`);
      assert.equal(res.status, 200);
      assert.match(res.type, /application\/geo\+json/);
      assert.equal(res.body.numberReturned, 7);
      assert.ok(res.body.numberMatched >= 7);
      for (const f of res.body.features) {
        assert.deepEqual(Object.keys(f.properties).sort(), ['floors', 'use']);
        assert.equal(f.type, 'Feature');
        assert.ok(['Polygon', 'MultiPolygon'].includes(f.geometry.type));
      }
      const clamped = await getJson(`${server.url}/collections/roads/items?limit=100000`);
      assert.equal(clamped.status, 200);
      assert.ok(clamped.body.numberReturned <= 10_000);
      assert.ok(clamped.body.links.find((l: { rel: string; href: string }) => l.rel === 'self').href.includes('limit=10000'));
    });

    it('bad parameters are 400/404 with a JSON error naming the parameter', async () => {
      const cases: Array<[string, number, string | undefined]> = [
        ['/collections/buildings/items?bbox=1,2,3', 400, 'bbox'],
        ['/collections/buildings/items?bbox=a,b,c,d', 400, 'bbox'],
        ['/collections/buildings/items?bbox=0,50,1,40', 400, 'bbox'],
        ['/collections/buildings/items?datetime=yesterday', 400, 'datetime'],
        ['/collections/buildings/items?datetime=2020-13-45T00:00:00Z', 400, 'datetime'],
        ['/collections/buildings/items?datetime=2022-01-01/2020-01-01', 400, 'datetime'],
        ['/collections/buildings/items?limit=-1', 400, 'limit'],
        ['/collections/buildings/items?limit=0', 400, 'limit'],
        ['/collections/buildings/items?limit=ten', 400, 'limit'],
        ['/collections/buildings/items?offset=-5', 400, 'offset'],
        ['/collections/buildings/items?properties=floors,nonexistent', 400, 'properties'],
        ['/collections/buildings/items?colour=red', 400, 'colour'],
        ['/collections/buildings/items?limit=5&limit=6', 400, 'limit'],
        ['/collections?foo=1', 400, 'foo'],
        ['/collections/buildings/items?f=html', 400, 'f'],
        ['/collections/buildings/items?bbox=1,2,3,4);drop%20table%20layer;--', 400, 'bbox'],
        ["/collections/buildings/items?datetime=2020-01-01'%20or%201=1--", 400, 'datetime'],
        ["/collections/buildings/items?limit=1;delete%20from%20layer", 400, 'limit'],
        ['/collections/nope/items', 404, 'collectionId'],
        ["/collections/roads';drop%20table%20layer;--/items", 404, 'collectionId'],
        ["/collections/buildings/items/x'%20or%20'1'='1", 404, 'featureId'],
        ['/collections/buildings/items/B-does-not-exist/history', 404, 'featureId'],
        ['/no/such/path', 404, undefined],
      ];
      for (const [url, status, parameter] of cases) {
        const res = await getJson(`${server.url}${url}`);
        assert.equal(res.status, status, url);
        assert.match(res.type, /application\/json/, url);
        assert.equal(typeof res.body.error.code, 'string', url);
        assert.equal(typeof res.body.error.message, 'string', url);
        assert.ok(res.body.error.requestId, url);
        if (parameter) assert.equal(res.body.error.details.parameter, parameter, url);
      }
      // The SQL fragments did nothing.
      const still = await getJson(`${server.url}/collections`);
      assert.ok(still.body.collections.length >= PUBLIC_LAYERS.length);
    });
  });
}

apiSuite('postgres', 1);
apiSuite('pglite', 0.1);
