import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openTestStore, resetStore, type TestStore } from './helpers/stores.ts';
import { startServer, getJson, type RunningServer } from './helpers/server.ts';
import { createApiKey } from '../store/access.ts';
import { getLayer } from '../store/layers.ts';
import { ImportQueue } from '../data-import/import-queue.ts';
import { rawZip } from './helpers/raw-zip.ts';

function csvUpload(name: string, text: string, fields: Record<string, string>): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  form.set('file', new Blob([text], { type: 'text/csv' }), name);
  return form;
}

// The embedded driver has one connection, which the import's transaction holds: the path differs.
for (const driver of ['postgres', 'pglite'] as const) describe(`POST /imports (multipart upload, jobs) on ${driver}`, () => {
  let store: TestStore;
  let server: RunningServer & { queue: ImportQueue };
  const keys: Record<string, string> = {};

  before(async () => {
    store = await openTestStore(driver);
    await resetStore(store);
    keys.planner = (await createApiKey(store.db, { name: 'planner', role: 'planner' })).key;
    keys.other = (await createApiKey(store.db, { name: 'other planner', role: 'planner' })).key;
    keys.viewer = (await createApiKey(store.db, { name: 'viewer', role: 'viewer' })).key;
    server = await startServer(store, { ONEMAP_UPLOAD_LIMIT_MB: '0.05' });
  });
  after(async () => {
    await server?.close();
    await store?.cleanup();
  });

  const post = (form: FormData, key?: string) =>
    fetch(`${server.url}/imports`, { method: 'POST', body: form, headers: key ? { 'X-API-Key': key } : {} });

  it('a planner uploads a CSV, polls the job, and gets the report and the rejected rows', async () => {
    const csv = ['名称,类别,地址,lon,lat', '泉州小吃店,餐饮,泉州市鲤城区中山中路1号,118.5876,24.9087', '坏行,零售,泉州市,abc,24.9', '书店,零售,泉州市丰泽区田安路8号,118.60,24.92'].join('\n');
    const res = await post(csvUpload('企业名录.csv', csv, { layer: 'enterprises', key: '名称', validFrom: '2026-01-01' }), keys.planner);
    assert.equal(res.status, 202);
    const body = await res.json() as { id: string; links: Array<{ href: string }> };
    assert.equal(res.headers.get('location'), body.links[0]!.href);
    await server.queue.idle();
    const job = await getJson(body.links[0]!.href, { 'X-API-Key': keys.planner! });
    assert.equal(job.status, 200);
    assert.equal(job.body.status, 'succeeded', JSON.stringify(job.body.error));
    assert.equal(job.body.file, '企业名录.csv');
    assert.equal(job.body.report.inserted, 2);
    assert.equal(job.body.report.rejectedCount, 1);
    assert.deepEqual(job.body.report.rejected.map((r: { row: number; field: string }) => [r.row, r.field]), [[2, 'lon']]);
    const layer = await getLayer(store.db, 'enterprises');
    assert.equal(layer?.accessClass, 'internal', 'uploads are internal unless said otherwise');
    assert.equal(layer?.domain, 'business');

    const csvRes = await fetch(`${server.url}/imports/${body.id}/rejected.csv`, { headers: { 'X-API-Key': keys.planner! } });
    assert.equal(csvRes.status, 200);
    assert.match(csvRes.headers.get('content-type')!, /text\/csv/);
    assert.match(await csvRes.text(), /^row,field,reason,名称,类别,地址,lon,lat\r\n2,lon,"""abc"" is not a number",坏行,零售,泉州市,abc,24.9\r\n$/);

    const anon = await getJson(`${server.url}/collections/enterprises`);
    assert.equal(anon.status, 404, 'an internal layer is invisible without a key');
    const other = await getJson(body.links[0]!.href, { 'X-API-Key': keys.other! });
    assert.equal(other.status, 404, "another planner's import is not theirs to read");
  });

  it('refuses callers without the right role, oversized uploads, unknown fields, and unsafe zips', async () => {
    const form = () => csvUpload('a.csv', 'name,lon,lat\na,118.5,24.9\n', { layer: 'x-layer' });
    assert.equal((await post(form())).status, 401);
    const viewer = await post(form(), keys.viewer);
    assert.equal(viewer.status, 403);
    assert.equal((await viewer.json() as { error: { code: string } }).error.code, 'Forbidden');

    const big = await post(csvUpload('big.csv', `name,lon,lat\n${'a,118.5,24.9\n'.repeat(10_000)}`, { layer: 'too-big' }), keys.planner);
    assert.equal(big.status, 413);
    assert.equal((await big.json() as { error: { code: string } }).error.code, 'PayloadTooLarge');

    const unknown = await post(csvUpload('a.csv', 'name,lon,lat\na,118.5,24.9\n', { layer: 'x-layer', colour: 'red' }), keys.planner);
    assert.equal(unknown.status, 400);
    assert.equal((await unknown.json() as { error: { details: { parameter: string } } }).error.details.parameter, 'colour');

    const badLayer = await post(csvUpload('a.csv', 'name,lon,lat\na,118.5,24.9\n', { layer: 'Bad Layer!' }), keys.planner);
    assert.equal(badLayer.status, 400);

    const exe = await post(csvUpload('a.exe', 'MZ', { layer: 'x-layer' }), keys.planner);
    assert.equal(exe.status, 400);

    // A zip whose entry climbs out of its folder: the job fails with the reason, nothing is written.
    const zform = new FormData();
    zform.set('layer', 'evil-zip');
    zform.set('file', new Blob([rawZip([{ name: 'pipes.shp', data: Buffer.from('not a shapefile') }, { name: '../evil.dbf', data: Buffer.from('x') }])]), 'evil.zip');
    const res = await post(zform, keys.planner);
    assert.equal(res.status, 202);
    const { id } = await res.json() as { id: string };
    await server.queue.idle();
    const job = await getJson(`${server.url}/imports/${id}`, { 'X-API-Key': keys.planner! });
    assert.equal(job.body.status, 'failed');
    assert.equal(job.body.error.code, 'ImportRejected');
    assert.match(job.body.error.message, /\.\.\/evil\.dbf|unsafe|outside/i);
    assert.equal(await getLayer(store.db, 'evil-zip'), undefined);
  });
});
