import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Polygon } from 'geojson';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import { openTestStore, resetStore, type TestStore } from './helpers/stores.ts';
import { startServer, getJson, type RunningServer } from './helpers/server.ts';
import { ogrinfo } from './helpers/gdal.ts';
import { loadDemoCity } from '../fixtures/load-demo-city.ts';
import { generateDemoCity, type DemoCity } from '../fixtures/demo-city/index.ts';
import { createApiKey } from '../store/access.ts';
import { latToY, lonToX, tileForLonLat, type TileCoord } from '../tiles/tile-math.ts';
import type { DriverName } from '../store/db.ts';

interface Fetched { status: number; headers: Headers; bytes: Uint8Array }

async function fetchTile(url: string, headers: Record<string, string> = {}): Promise<Fetched> {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, bytes: new Uint8Array(await res.arrayBuffer()) };
}

const decode = (bytes: Uint8Array) => new VectorTile(new PbfReader(bytes));

/** The ring's box in the tile's own units (extent 4096), to compare with what the tile carries. */
function boxInTile(ring: number[][], t: TileCoord, extent = 4096): [number, number, number, number] {
  const n = 2 ** t.z;
  const xs = ring.map((c) => (lonToX(c[0]!) * n - t.x) * extent);
  const ys = ring.map((c) => (latToY(c[1]!) * n - t.y) * extent);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

function featureBox(tile: VectorTile, layer: string, featureId: string): [number, number, number, number] | undefined {
  const l = tile.layers[layer];
  if (!l) return undefined;
  for (let i = 0; i < l.length; i++) {
    const f = l.feature(i);
    if (f.properties.feature_id !== featureId) continue;
    const pts = f.loadGeometry().flat();
    return [Math.min(...pts.map((p) => p.x)), Math.min(...pts.map((p) => p.y)), Math.max(...pts.map((p) => p.x)), Math.max(...pts.map((p) => p.y))];
  }
  return undefined;
}

const centre = (ring: number[][]) => [ring.reduce((s, c) => s + c[0]!, 0) / ring.length, ring.reduce((s, c) => s + c[1]!, 0) / ring.length] as const;

function tileSuite(driver: DriverName, scale: number) {
  describe(`vector tiles on ${driver} (demo city scale ${scale})`, () => {
    let store: TestStore;
    let server: RunningServer;
    let city: DemoCity;
    let dir: string;
    const keys: Record<string, string> = {};

    before(async () => {
      store = await openTestStore(driver);
      if (driver === 'postgres') await resetStore(store);
      dir = mkdtempSync(path.join(os.tmpdir(), 'onemap-tiles-'));
      city = generateDemoCity({ scale });
      await loadDemoCity(store.db, { dir, seed: city.seed, scale });
      keys.viewer = (await createApiKey(store.db, { name: 'viewer', role: 'viewer' })).key;
      keys.gas = (await createApiKey(store.db, { name: 'gas crew', role: 'field', clearances: ['gas-pipes'] })).key;
      keys.admin = (await createApiKey(store.db, { name: 'admin', role: 'admin' })).key;
      server = await startServer(store);
    });
    after(async () => {
      await server?.close();
      await store?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const rebuilt = () => {
      const id = city.history.rebuiltBuildingIds[0]!;
      const versions = city.layers.find((l) => l.meta.id === 'buildings')!.versions.filter((v) => v.featureId === id);
      const old = versions.find((v) => v.validTo !== null)!;
      const current = versions.find((v) => v.validTo === null)!;
      return { id, old: (old.geometry as Polygon).coordinates[0]!, current: (current.geometry as Polygon).coordinates[0]! };
    };

    it('cuts a building tile that decodes, with ETag, Cache-Control and a 304 on revalidation', async () => {
      const { current } = rebuilt();
      const [lon, lat] = centre(current);
      const t = tileForLonLat(lon, lat, 16);
      const url = `${server.url}/tiles/buildings/${t.z}/${t.x}/${t.y}.mvt`;
      const first = await fetchTile(url);
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('content-type'), 'application/vnd.mapbox-vector-tile');
      assert.equal(first.headers.get('cache-control'), 'public, no-cache');
      const etag = first.headers.get('etag')!;
      assert.match(etag, /^"[\w-]+"$/);
      const layer = decode(first.bytes).layers.buildings!;
      assert.ok(layer.length > 0);
      assert.equal(layer.extent, 4096);
      const props = layer.feature(0).properties;
      assert.equal(typeof props.feature_id, 'string');
      assert.ok('height_m' in props || 'floors' in props, JSON.stringify(props));

      const again = await fetchTile(url, { 'If-None-Match': etag });
      assert.equal(again.status, 304);
      assert.equal(again.bytes.byteLength, 0);
      const other = await fetchTile(url, { 'If-None-Match': '"something-else"' });
      assert.equal(other.status, 200);
      assert.deepEqual(other.bytes, first.bytes, 'the cached tile is the tile');

      // fetch asks for gzip and inflates; a client that does not gets the same tile, uncompressed.
      assert.equal(first.headers.get('content-encoding'), 'gzip');
      const plain = await fetchTile(url, { 'Accept-Encoding': 'identity' });
      assert.equal(plain.headers.get('content-encoding'), null);
      assert.deepEqual(plain.bytes, first.bytes);
      assert.notEqual(plain.headers.get('etag'), etag, 'each encoding has its own ETag');
      assert.match(plain.headers.get('vary')!, /Accept-Encoding/);
    });

    it('datetime shows the 2020 footprint of a building rebuilt in 2021, and the new one now', async () => {
      const { id, old, current } = rebuilt();
      const [lon, lat] = centre(old);
      const t = tileForLonLat(lon, lat, 17);
      const base = `${server.url}/tiles/buildings/${t.z}/${t.x}/${t.y}.mvt`;
      const then = featureBox(decode((await fetchTile(`${base}?datetime=2020-06-01T00:00:00Z`)).bytes), 'buildings', id);
      const now = featureBox(decode((await fetchTile(base)).bytes), 'buildings', id);
      assert.ok(then && now, 'the building is in both tiles');
      const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) <= 2);
      assert.ok(near(then, boxInTile(old, t)), `2020: ${then} vs ${boxInTile(old, t)}`);
      assert.ok(near(now, boxInTile(current, t)), `now: ${now} vs ${boxInTile(current, t)}`);
      assert.ok(!near(then, now), 'the footprint changed');
    });

    it('a composite keeps the order and names of the layers asked for; properties= trims attributes', async () => {
      const { current } = rebuilt();
      const t = tileForLonLat(...centre(current), 16);
      const ab = decode((await fetchTile(`${server.url}/tiles/roads,buildings/${t.z}/${t.x}/${t.y}.mvt`)).bytes);
      assert.deepEqual(Object.keys(ab.layers), ['roads', 'buildings']);
      const ba = decode((await fetchTile(`${server.url}/tiles/buildings,roads/${t.z}/${t.x}/${t.y}.mvt`)).bytes);
      assert.deepEqual(Object.keys(ba.layers), ['buildings', 'roads']);
      const slim = decode((await fetchTile(`${server.url}/tiles/buildings/${t.z}/${t.x}/${t.y}.mvt?properties=height_m`)).bytes);
      const keysSeen = new Set<string>();
      const b = slim.layers.buildings!;
      for (let i = 0; i < b.length; i++) for (const k of Object.keys(b.feature(i).properties)) keysSeen.add(k);
      assert.deepEqual([...keysSeen].sort(), ['feature_id', 'height_m']);
    });

    it('refuses bad coordinates, zooms past the layers\' maximum, unknown layers and parameters; empty tiles are 204', async () => {
      const bad = async (p: string, status = 400) => {
        const r = await getJson(`${server.url}${p}`);
        assert.equal(r.status, status, `${p}: ${JSON.stringify(r.body)}`);
        assert.equal(typeof r.body.error?.message, 'string', p);
        return r.body.error;
      };
      await bad('/tiles/buildings/25/0/0.mvt');
      await bad('/tiles/buildings/3/8/0.mvt');
      await bad('/tiles/buildings/3/0/-1.mvt');
      await bad('/tiles/buildings/a/b/c.mvt');
      assert.match((await bad('/tiles/buildings/19/0/0.mvt')).message, /maximum zoom 18/);
      assert.match((await bad('/tiles/no-such-layer,buildings/14/0/0.mvt', 404)).message, /no-such-layer/);
      await bad('/tiles/buildings/14/0/0.mvt?colour=red');
      await bad('/tiles/buildings/14/0/0.mvt?datetime=2020-01-01/2021-01-01');
      await bad('/tiles/buildings/14/0/0.mvt?properties=no_such_attribute');
      await bad('/tiles/buildings,buildings/14/0/0.mvt');

      const far = await fetchTile(`${server.url}/tiles/buildings/14/0/0.mvt`);
      assert.equal(far.status, 204, 'nothing there');
      assert.equal(far.bytes.byteLength, 0);
      const { current } = rebuilt();
      const low = tileForLonLat(...centre(current), 10);
      const below = await fetchTile(`${server.url}/tiles/buildings/${low.z}/${low.x}/${low.y}.mvt`);
      assert.equal(below.status, 204, 'buildings start at z14');
      const roads = await fetchTile(`${server.url}/tiles/roads/${low.z}/${low.x}/${low.y}.mvt`);
      assert.equal(roads.status, 200, 'roads are drawn from z10');
    });

    it('restricted layers need clearance; a composite naming one without it is refused whole', async () => {
      const gas = city.layers.find((l) => l.meta.id === 'gas-pipes')!.versions.find((v) => v.validTo === null)!;
      const [lon, lat] = (gas.geometry as { coordinates: number[][] }).coordinates[0]!;
      const t = tileForLonLat(lon!, lat!, 16);
      const path = `/tiles/gas-pipes/${t.z}/${t.x}/${t.y}.mvt`;
      assert.equal((await fetchTile(`${server.url}${path}`)).status, 401);
      assert.equal((await fetchTile(`${server.url}${path}`, { 'X-API-Key': keys.viewer! })).status, 403);
      const cleared = await fetchTile(`${server.url}${path}`, { 'X-API-Key': keys.gas! });
      assert.equal(cleared.status, 200);
      assert.equal(cleared.headers.get('cache-control'), 'private, no-cache');
      assert.ok(decode(cleared.bytes).layers['gas-pipes']!.length > 0);
      const viaQuery = await fetchTile(`${server.url}${path}?api_key=${keys.gas}`);
      assert.equal(viaQuery.status, 200, 'map clients can pass the key in the URL');

      const composite = await fetch(`${server.url}/tiles/buildings,power-cables/${t.z}/${t.x}/${t.y}.mvt`, { headers: { 'X-API-Key': keys.gas! } });
      assert.equal(composite.status, 403);
      assert.match(composite.headers.get('content-type')!, /json/);
      const body = await composite.text();
      assert.doesNotMatch(body, /DL-|power-cables.*feature/i, 'nothing of the layers is in the refusal');
      assert.equal((await fetchTile(`${server.url}/tiles/buildings,power-cables/${t.z}/${t.x}/${t.y}.mvt`, { 'X-API-Key': keys.admin! })).status, 200);
    });

    it('TileJSON 3.0.0 with absolute tile URLs, vector_layers and their fields, bounds and zooms', async () => {
      const res = await getJson(`${server.url}/tiles/buildings,roads.json?datetime=2020-06-01`);
      assert.equal(res.status, 200);
      const tj = res.body;
      assert.equal(tj.tilejson, '3.0.0');
      assert.equal(tj.tiles[0], `${server.url}/tiles/buildings,roads/{z}/{x}/{y}.mvt?datetime=2020-06-01T00%3A00%3A00.000Z`);
      assert.deepEqual(tj.vector_layers.map((l: { id: string }) => l.id), ['buildings', 'roads']);
      assert.ok('height_m' in tj.vector_layers[0].fields);
      assert.equal(tj.vector_layers[0].minzoom, 14);
      assert.equal(tj.vector_layers[1].minzoom, 10);
      assert.equal(tj.minzoom, 10);
      assert.equal(tj.maxzoom, 18);
      const [w, s, e, n] = tj.bounds;
      assert.ok(w > 118 && e < 119.2 && s > 24.5 && n < 25.3, `bounds in Quanzhou: ${tj.bounds}`);
    });

    if (driver === 'postgres') {
      it('an import is visible on the next request: the changed layer\'s tiles and a brand-new layer', async () => {
        const { current } = rebuilt();
        const [lon, lat] = centre(current);
        const t = tileForLonLat(lon, lat, 16);
        const url = `${server.url}/tiles/buildings/${t.z}/${t.x}/${t.y}.mvt`;
        const before = await fetchTile(url);
        const d = 0.00005;
        const square = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]];
        const geojson = JSON.stringify({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: { id: 'NEW-TOWER', name: '新楼', floors: 30 }, geometry: { type: 'Polygon', coordinates: [square] } }] });
        for (const layer of ['buildings', 'tiles-new-layer']) {
          const form = new FormData();
          form.set('layer', layer);
          form.set('key', 'id');
          form.set('domain', 'building');
          form.set('file', new Blob([geojson], { type: 'application/geo+json' }), 'new.geojson');
          const res = await fetch(`${server.url}/imports`, { method: 'POST', body: form, headers: { 'X-API-Key': keys.admin! } });
          assert.equal(res.status, 202, await res.clone().text());
          const { links } = await res.json() as { links: Array<{ href: string }> };
          for (let i = 0; i < 200; i++) {
            const job = await getJson(links[0]!.href, { 'X-API-Key': keys.admin! });
            if (job.body.status === 'succeeded') break;
            assert.notEqual(job.body.status, 'failed', JSON.stringify(job.body.error));
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        const after = await fetchTile(url, { 'If-None-Match': before.headers.get('etag')! });
        assert.equal(after.status, 200, 'the old ETag no longer matches');
        assert.ok(featureBox(decode(after.bytes), 'buildings', 'NEW-TOWER'), 'the imported building is drawn');
        const fresh = await fetchTile(`${server.url}/tiles/tiles-new-layer/${t.z}/${t.x}/${t.y}.mvt`, { 'X-API-Key': keys.admin! });
        assert.equal(fresh.status, 200, 'a new layer needs no restart');
        assert.ok(featureBox(decode(fresh.bytes), 'tiles-new-layer', 'NEW-TOWER'));
      });

      it('GDAL reads our tiles (ogrinfo MVT:)', async () => {
        const { current } = rebuilt();
        const t = tileForLonLat(...centre(current), 16);
        const out = await ogrinfo(['-ro', '-al', '-so', `MVT:${server.url}/tiles/buildings,roads/${t.z}/${t.x}/${t.y}.mvt`]);
        assert.match(out, /Layer name: buildings/);
        assert.match(out, /Layer name: roads/);
        const counts = [...out.matchAll(/Feature Count: (\d+)/g)].map((m) => Number(m[1]));
        assert.equal(counts.length, 2);
        assert.ok(counts.every((n) => n > 0), out);
        assert.match(out, /height_m/);
      });
    }
  });
}

tileSuite('postgres', 0.2);
tileSuite('pglite', 0.05);
