import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { openTestStore, resetStore, type TestStore } from './helpers/stores.ts';
import { startServer, getJson, type RunningServer } from './helpers/server.ts';
import { createApiKey } from '../store/access.ts';
import { appendTrack, purgeTracks } from '../store/tracks.ts';
import { parseNmeaLog } from '../position/nmea.ts';
import { wgs84ToGcj02 } from '../data-import/crs/china-offsets.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const GPSD = path.resolve(here, '../../shared/conformance/gpsd-nmea');

/** A receiver log with fixes, as a field device would upload it. */
function receiverLog(name: string): Buffer {
  const file = path.join(GPSD, name);
  if (!existsSync(file)) throw new Error(`the gpsd conformance logs are missing: ${file} (see ../shared/conformance/gpsd-nmea/README.md)`);
  return readFileSync(file);
}

describe('receiver logs and device tracks over HTTP', () => {
  let store: TestStore;
  let server: RunningServer;
  const keys: Record<string, string> = {};

  before(async () => {
    store = await openTestStore('postgres');
    await resetStore(store);
    keys.field = (await createApiKey(store.db, { name: 'crew', role: 'field' })).key;
    keys.viewer = (await createApiKey(store.db, { name: 'viewer', role: 'viewer' })).key;
    server = await startServer(store);
  });
  after(async () => {
    await server?.close();
    await store?.cleanup();
  });

  const postLog = (body: Buffer | string, query = '', headers: Record<string, string> = {}) =>
    fetch(`${server.url}/position/nmea${query}`, { method: 'POST', body, headers: { 'Content-Type': 'text/plain', ...headers } });

  it('POST /position/nmea answers every epoch of a receiver log with BeiDou as the parser (gpsd parity) sees it', async () => {
    const log = receiverLog('quectel-l76k-nmea.log');
    const expected = parseNmeaLog(log).fixes;
    assert.ok(expected.length > 5);
    const res = await postLog(log);
    assert.equal(res.status, 200);
    const body = await res.json() as { crs: string; fixes: Array<Record<string, unknown>>; rejected: unknown[]; sentences: number };
    assert.equal(body.crs, 'CRS84');
    assert.equal(body.fixes.length, expected.length);
    const withFix = expected.findIndex((f) => f.mode >= 2);
    const got = body.fixes[withFix]!;
    const want = expected[withFix]!;
    assert.equal(got.time, want.time);
    assert.equal(got.lat, want.lat);
    assert.equal(got.lon, want.lon);
    assert.equal(got.altMSL, want.altMSL ?? null);
    assert.equal(got.altHAE, want.altHAE ?? null);
    assert.equal(got.mode, want.mode);
    assert.equal(got.satellitesUsed, want.satellitesUsed ?? null);
    for (const k of ['time', 'lat', 'lon', 'altMSL', 'altHAE', 'mode', 'status', 'satellitesUsed', 'hdop']) assert.ok(k in got, k);

    const gcj = await (await postLog(log, '?crs=GCJ02')).json() as { fixes: Array<{ lat: number; lon: number }> };
    const [glon, glat] = wgs84ToGcj02(want.lon!, want.lat!);
    assert.ok(Math.abs(gcj.fixes[withFix]!.lon - glon) < 1e-9 && Math.abs(gcj.fixes[withFix]!.lat - glat) < 1e-9, 'GCJ-02 on request');
  });

  it('with deviceId a field key stores the fixes as the device\'s track; read, re-posted without duplicates, and deleted on request', async () => {
    const log = receiverLog('quectelLC79D.log');
    const fixes = parseNmeaLog(log).fixes.filter((f) => f.mode >= 2);
    const first = await (await postLog(log, '?deviceId=crew-7', { 'X-API-Key': keys.field! })).json() as { stored: number };
    assert.equal(first.stored, fixes.length);
    const again = await (await postLog(log, '?deviceId=crew-7', { 'X-API-Key': keys.field! })).json() as { stored: number };
    assert.equal(again.stored, 0, 'the same log twice adds nothing');

    const track = await getJson(`${server.url}/devices/crew-7/track`, { 'X-API-Key': keys.field! });
    assert.equal(track.status, 200);
    assert.equal(track.body.features.length, fixes.length);
    assert.deepEqual(track.body.features[0].geometry.coordinates, [fixes[0]!.lon, fixes[0]!.lat]);
    assert.equal(track.body.features[0].properties.time, fixes[0]!.time);
    const mid = fixes[Math.floor(fixes.length / 2)]!.time;
    const part = await getJson(`${server.url}/devices/crew-7/track?from=${mid}`, { 'X-API-Key': keys.field! });
    assert.equal(part.body.features.length, fixes.length - Math.floor(fixes.length / 2));

    assert.equal((await getJson(`${server.url}/devices/crew-7/track`)).status, 401);
    assert.equal((await getJson(`${server.url}/devices/crew-7/track`, { 'X-API-Key': keys.viewer! })).status, 403);
    assert.equal((await postLog(log, '?deviceId=crew-7')).status, 401, 'storing a track needs a key');

    const del = await fetch(`${server.url}/devices/crew-7/track`, { method: 'DELETE', headers: { 'X-API-Key': keys.field! } });
    assert.equal(del.status, 200);
    assert.equal((await del.json() as { deleted: number }).deleted, fixes.length);
    assert.equal((await getJson(`${server.url}/devices/crew-7/track`, { 'X-API-Key': keys.field! })).body.features.length, 0);
  });

  it('tracks past the retention period are purged', async () => {
    const old = new Date('2020-01-01T00:00:00Z');
    await appendTrack(store.db, 'old-phone', [
      { time: old, source: 'fused', lon: 118.6, lat: 24.9, accuracyM: 12, confidence: 0.68, sources: ['gnss'] },
      { time: new Date(), source: 'fused', lon: 118.6, lat: 24.9, accuracyM: 12, confidence: 0.68, sources: ['cell'] },
    ]);
    assert.equal(await purgeTracks(store.db, new Date('2021-01-01T00:00:00Z')), 1);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from device_fix where device_id = 'old-phone'`.execute(store.db);
    assert.equal(rows[0]!.n, 1);
  });

  it('refuses bodies of the wrong type, over the limit, and bad parameters, with JSON errors', async () => {
    const wrongType = await fetch(`${server.url}/position/nmea`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
    assert.equal(wrongType.status, 415);
    assert.match((await wrongType.json() as { error: { message: string } }).error.message, /text\/plain/);
    const huge = await postLog(Buffer.alloc(33 * 1024 * 1024, 0x24));
    assert.equal(huge.status, 413);
    assert.equal((await postLog('$GPGGA', '?crs=MARS')).status, 400);
    assert.equal((await postLog('$GPGGA', '?deviceId=bad%20id', { 'X-API-Key': keys.field! })).status, 400);
    const garbage = await postLog(Buffer.from([0, 1, 2, 255, 254, 0x24, 0x24, 0x0a]));
    assert.equal(garbage.status, 200, 'garbage is not an error: there are simply no fixes');
    assert.equal((await garbage.json() as { fixes: unknown[] }).fixes.length, 0);
  });
});
