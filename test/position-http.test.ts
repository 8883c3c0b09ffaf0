import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openTestStore, resetStore, type TestStore } from './helpers/stores.ts';
import { startServer, getJson, type RunningServer } from './helpers/server.ts';
import type { Services } from '../server/context.ts';
import { createApiKey } from '../store/access.ts';
import { saveCells } from '../store/radio.ts';
import { upsertLayer } from '../store/layers.ts';
import { insertVersions } from '../store/features.ts';
import { wgs84ToGcj02 } from '../data-import/crs/china-offsets.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Metres between two lon/lat points near Quanzhou (equirectangular is exact enough at this scale). */
const metres = (a: [number, number], b: [number, number]) => Math.hypot((a[0] - b[0]) * 101_000, (a[1] - b[1]) * 110_800);

describe('POST /position and the Google Geolocation API', () => {
  let store: TestStore;
  let server: RunningServer & { services: Services };
  const keys: Record<string, string> = {};
  const tower = { radio: 'LTE' as const, mcc: 460, mnc: 0, area: 22547, cell: 5762561, lon: 118.5895, lat: 24.9102, range: 600, samples: 40 };

  before(async () => {
    store = await openTestStore('postgres');
    await resetStore(store);
    keys.field = (await createApiKey(store.db, { name: 'crew', role: 'field' })).key;
    server = await startServer(store);
    await saveCells(store.db, [tower]);
    // The server hears of the new tower through the change feed.
    for (let i = 0; i < 100 && server.services.radio.size.cells === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.services.radio.size.cells, 1, 'the tower table reached the server');
  });
  after(async () => {
    await server?.close();
    await store?.cleanup();
  });

  const post = (body: unknown, query = '', headers: Record<string, string> = { 'X-API-Key': keys.field! }) =>
    fetch(`${server.url}/position${query}`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', ...headers } });

  it('fuses a device\'s GNSS fixes, rejects an outlier with its reason, and keeps the track', async () => {
    assert.equal((await post({ deviceId: 'bus-1', observations: [] }, '', {})).status, 401);
    const start = Date.now() - 20_000;
    const truth: [number, number] = [118.5901, 24.9087];
    let last: any;
    for (let i = 0; i < 10; i++) {
      // A still device with a few metres of noise.
      const obs = { type: 'gnss', lon: truth[0] + ((i % 3) - 1) * 2e-5, lat: truth[1] + ((i % 2) - 0.5) * 2e-5, system: 'bds', hdop: 0.9, time: new Date(start + i * 1000).toISOString(), timeSystem: 'utc' };
      const res = await post({ deviceId: 'bus-1', observations: [obs] });
      assert.equal(res.status, 200);
      last = await res.json();
    }
    assert.ok(last.fix, JSON.stringify(last));
    assert.ok(metres([last.fix.lon, last.fix.lat], truth) < 5, `fused within 5 m: ${metres([last.fix.lon, last.fix.lat], truth)}`);
    assert.equal(last.fix.confidence, 0.95);
    assert.ok(last.fix.accuracy > 0 && last.fix.accuracy < 20, String(last.fix.accuracy));
    assert.equal(last.fix.crs, 'CRS84');

    const outlier = { type: 'gnss', lon: truth[0] + 0.002, lat: truth[1], system: 'gps', hdop: 0.8, time: new Date(start + 11_000).toISOString(), timeSystem: 'utc' };
    const rejected = await (await post({ deviceId: 'bus-1', observations: [outlier] })).json() as any;
    assert.equal(rejected.rejected.length, 1);
    assert.equal(rejected.rejected[0].reason, 'outlier');
    assert.ok(metres([rejected.fix.lon, rejected.fix.lat], truth) < 10, 'the outlier did not move the fix');

    const track = await getJson(`${server.url}/devices/bus-1/track`, { 'X-API-Key': keys.field! });
    assert.ok(track.body.features.length >= 10);
    assert.equal(track.body.features[0].properties.source, 'fused');
    assert.deepEqual(track.body.features[0].properties.sources, ['gnss']);

    const gcj = await (await post({ deviceId: 'bus-1', datum: 'GCJ02', observations: [] })).json() as any;
    const [glon, glat] = wgs84ToGcj02(last.fix.lon, last.fix.lat);
    assert.ok(metres([gcj.fix.lon, gcj.fix.lat], [glon, glat]) < 5, 'the answer in GCJ-02 on request');
  });

  it('with nearest=k also answers what is buried around the fused position, with the depth there', async () => {
    await upsertLayer(store.db, {
      id: 'pos-water-pipes', titleZh: '给水管线', titleEn: 'Water pipes', domain: 'pipeline', geometryType: 'LineString',
      attributeSchema: {}, accessClass: 'public', source: 'test',
    });
    await insertVersions(store.db, 'pos-water-pipes', [{
      featureId: 'JS-1', validFrom: '2010-01-01T00:00:00Z', validTo: null,
      geometry: { type: 'LineString', coordinates: [[118.5890, 24.9090], [118.5910, 24.9090]] },
      attributes: { pipe_class: 'JS', start_depth_m: 1.0, end_depth_m: 2.0, diameter_mm: 300 },
    }]);
    const obs = { type: 'gnss', lon: 118.5900, lat: 24.9087, system: 'bds', accuracy: 3, time: new Date().toISOString(), timeSystem: 'utc' };
    let body: any;
    for (let i = 0; i < 50; i++) {
      body = await (await post({ deviceId: 'digger-1', observations: [{ ...obs, time: new Date().toISOString() }] }, '?nearest=1')).json();
      if (body.nearest?.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(body.nearest.length, 1, JSON.stringify(body));
    const [pipe] = body.nearest;
    assert.equal(pipe.featureId, 'JS-1');
    assert.ok(Math.abs(pipe.distance - metres([body.fix.lon, body.fix.lat], [body.fix.lon, 24.909])) < 0.5, `${pipe.distance} m`);
    assert.ok(Math.abs(pipe.depth - (1 + pipe.fraction)) < 1e-3, 'depth interpolated between start and end depth');
  });

  it('falls back to the cell tower without GNSS, with a radius to match', async () => {
    const res = await post({ deviceId: 'phone-9', observations: [{ type: 'cell', radio: 'lte', mcc: 460, mnc: 0, tac: 22547, cellId: 5762561, signal: -80 }] });
    const body = await res.json() as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.fix.basis, 'radio');
    assert.ok(metres([body.fix.lon, body.fix.lat], [tower.lon, tower.lat]) < 50);
    assert.ok(body.fix.accuracy >= 500, `a tower's radius, not a GNSS one: ${body.fix.accuracy}`);
    const unknown = await (await post({ deviceId: 'phone-10', observations: [{ type: 'cell', radio: 'lte', mcc: 460, mnc: 0, tac: 1, cellId: 2 }] })).json() as any;
    assert.equal(unknown.fix, null);
    assert.equal(unknown.rejected[0].reason, 'unknown_cell');
  });

  it('takes a receiver\'s NMEA as text/plain for a device, and refuses fixes too old to be a position now', async () => {
    const nmea = (body: string) => `$${body}*${[...body].reduce((x, c) => x ^ c.charCodeAt(0), 0).toString(16).toUpperCase().padStart(2, '0')}`;
    const lines: string[] = [];
    const t0 = Date.now() - 5000;
    for (let i = 0; i < 5; i++) {
      const d = new Date(t0 + i * 1000);
      const hhmmss = `${String(d.getUTCHours()).padStart(2, '0')}${String(d.getUTCMinutes()).padStart(2, '0')}${String(d.getUTCSeconds()).padStart(2, '0')}.00`;
      const ddmmyy = `${String(d.getUTCDate()).padStart(2, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCFullYear() % 100).padStart(2, '0')}`;
      // 24°54.522' N, 118°35.406' E: 24.9087, 118.5901.
      lines.push(nmea(`GNRMC,${hhmmss},A,2454.5220,N,11835.4060,E,0.0,0.0,${ddmmyy},,,A`));
      lines.push(nmea(`GNGGA,${hhmmss},2454.5220,N,11835.4060,E,1,12,0.8,12.0,M,-8.0,M,,`));
    }
    const post = (body: string, query: string) => fetch(`${server.url}/position${query}`, { method: 'POST', body, headers: { 'Content-Type': 'text/plain', 'X-API-Key': keys.field! } });
    const res = await post(lines.join('\r\n') + '\r\n', '?deviceId=rover-2');
    const body = await res.json() as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.ok(body.fix && body.sources.length > 0, JSON.stringify(body).slice(0, 300));
    assert.ok(metres([body.fix.lon, body.fix.lat], [118.5901, 24.9087]) < 3);

    const old = readFileSync(path.resolve(here, '../../shared/conformance/gpsd-nmea/ublox-neo-m9n-nmea.log'), 'utf8');
    const stale = await (await post(old, '?deviceId=rover-3')).json() as any;
    assert.equal(stale.fix, null, 'a log from 2020 is history, not a position');
    assert.ok(stale.rejected.length > 0 && stale.rejected.every((r: { reason: string }) => r.reason === 'time_too_old'));
    assert.equal((await post(old, '')).status, 400, 'NMEA needs ?deviceId=');
    assert.equal((await fetch(`${server.url}/position`, { method: 'POST', body: '{', headers: { 'Content-Type': 'application/json', 'X-API-Key': keys.field! } })).status, 400);
    assert.equal((await fetch(`${server.url}/position`, { method: 'POST', body: JSON.stringify({ observations: [] }), headers: { 'Content-Type': 'application/json', 'X-API-Key': keys.field! } })).status, 400, 'the device must be named');
  });

  it('answers the Google Geolocation API exactly as Google does, errors included', async () => {
    const geolocate = (body: string, query = '') => fetch(`${server.url}/geolocation/v1/geolocate${query}`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
    const found = await geolocate(JSON.stringify({ considerIp: false, cellTowers: [{ cellId: 5762561, locationAreaCode: 22547, mobileCountryCode: 460, mobileNetworkCode: 0 }] }));
    assert.equal(found.status, 200);
    const f = await found.json() as { location: { lat: number; lng: number }; accuracy: number };
    assert.deepEqual(Object.keys(f).sort(), ['accuracy', 'location']);
    assert.ok(metres([f.location.lng, f.location.lat], [tower.lon, tower.lat]) < 50);
    assert.ok(f.accuracy > 0 && f.accuracy < 600, 'a 68% radius, smaller than the 95% tower range');

    const missing = await geolocate(JSON.stringify({ cellTowers: [{ cellId: 1, locationAreaCode: 1, mobileCountryCode: 460, mobileNetworkCode: 0 }] }));
    assert.equal(missing.status, 404);
    // Byte for byte the body of Google's documentation (developers.google.com/maps/documentation/geolocation/requests-geolocation#errors).
    assert.equal(await missing.text(), '{"error":{"errors":[{"domain":"geolocation","reason":"notFound","message":"Not Found"}],"code":404,"message":"Not Found"}}');
    const garbage = await geolocate('{not json');
    assert.equal(garbage.status, 400);
    assert.equal(((await garbage.json()) as { error: { errors: Array<{ reason: string }> } }).error.errors[0]!.reason, 'parseError');
    assert.equal((await geolocate('{}', '?key=not-a-key')).status, 400);
    assert.equal((await geolocate('{}', `?key=${keys.field}`)).status, 404, 'a valid key, nothing to locate');
  });
});
