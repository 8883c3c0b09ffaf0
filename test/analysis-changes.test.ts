import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { TestStore } from './helpers/stores.ts';
import { openDemoServer, type DemoServer } from './helpers/demo-server.ts';
import { getJson, type RunningServer } from './helpers/server.ts';
import { generateDemoCity, type DemoCity } from '../fixtures/demo-city/index.ts';
import { createApiKey } from '../store/access.ts';

const SEED = 20260101;
const SCALE = 0.05;

type Kind = 'added' | 'changed' | 'retired';

/** The diff of two states, from the generator's own versions: the oracle for the API. */
function expectedChanges(city: DemoCity, layer: string, from: string, to: string): Record<Kind, string[]> {
  const t0 = Date.parse(from);
  const t1 = Date.parse(to);
  const validAt = (v: { validFrom: string; validTo: string | null }, t: number) => Date.parse(v.validFrom) <= t && (v.validTo === null || t < Date.parse(v.validTo));
  const byId = new Map<string, Array<{ validFrom: string; validTo: string | null }>>();
  for (const v of city.layers.find((l) => l.meta.id === layer)!.versions) byId.set(v.featureId, [...(byId.get(v.featureId) ?? []), v]);
  const out: Record<Kind, string[]> = { added: [], changed: [], retired: [] };
  for (const [id, versions] of byId) {
    const a = versions.find((v) => validAt(v, t0));
    const b = versions.find((v) => validAt(v, t1));
    if (!a && b) out.added.push(id);
    else if (a && !b) out.retired.push(id);
    else if (a && b && a !== b) out.changed.push(id);
  }
  for (const k of Object.keys(out) as Kind[]) out[k].sort();
  return out;
}

describe(`changes between two instants on postgres (demo city scale ${SCALE})`, () => {
  let store: TestStore;
  let demo: DemoServer;
  let server: RunningServer;
  let city: DemoCity;
  let dir: string;
  const keys: Record<string, string> = {};

  before(async () => {
    demo = await openDemoServer({ seed: SEED, scale: SCALE });
    ({ store, server, dir } = demo);
    city = generateDemoCity({ seed: SEED, scale: SCALE });
    keys.gas = (await createApiKey(store.db, { name: 'gas crew', role: 'field', clearances: ['gas-pipes'] })).key;
    keys.viewer = (await createApiKey(store.db, { name: 'viewer', role: 'viewer' })).key;
  });
  after(async () => {
    await demo?.close();
  });

  const changes = (layer: string, query: string, key?: string) =>
    getJson(`${server.url}/collections/${layer}/changes?${query}`, key ? { 'X-API-Key': key } : {});
  const ids = (body: { features: Array<{ id: string; properties: { change: Kind } }> }, kind: Kind) =>
    body.features.filter((f) => f.properties.change === kind).map((f) => f.id).sort();

  /** The same question asked of PostGIS another way: per feature, is there a version at each instant, and is it the same one. */
  async function sqlCounts(layer: string, from: string, to: string) {
    const { rows } = await sql<{ added: number; changed: number; retired: number }>`
      with s as (
        select feature_id,
          max(version_id) filter (where valid_from <= ${from}::timestamptz and (valid_to is null or valid_to > ${from}::timestamptz)) as a,
          max(version_id) filter (where valid_from <= ${to}::timestamptz and (valid_to is null or valid_to > ${to}::timestamptz)) as b
        from feature_version where layer_id = ${layer} group by feature_id)
      select count(*) filter (where a is null and b is not null)::int as added,
        count(*) filter (where a is not null and b is not null and a <> b)::int as changed,
        count(*) filter (where a is not null and b is null)::int as retired
      from s`.execute(store.db);
    return rows[0]!;
  }

  it('reports the widened road as changed, in its new width, with the version it replaced', async () => {
    const h = city.history;
    const from = '2019-01-01T00:00:00Z';
    const to = '2020-01-01T00:00:00Z';
    const res = await changes('roads', `from=${from}&to=${to}`);
    assert.equal(res.status, 200);
    assert.match(res.type, /application\/geo\+json/);
    const expected = expectedChanges(city, 'roads', from, to);
    assert.deepEqual(ids(res.body, 'changed'), expected.changed);
    for (const id of h.widenedSegmentIds) assert.ok(expected.changed.includes(id), id);
    assert.deepEqual(res.body.counts, { added: expected.added.length, changed: expected.changed.length, retired: expected.retired.length });
    assert.deepEqual(res.body.counts, await sqlCounts('roads', from, to));
    const seg = res.body.features.find((f: { id: string }) => f.id === h.widenedSegmentIds[0]);
    assert.equal(seg.change, 'changed');
    assert.equal(seg.properties.width_m, h.widthAfterM);
    assert.equal(seg.properties.lanes, h.lanesAfter);
    assert.equal(Date.parse(seg.version.validFrom), Date.parse(h.widenDate));
    assert.equal(Date.parse(seg.previousVersion.validTo), Date.parse(h.widenDate));
    assert.ok(seg.previousVersion.versionId < seg.version.versionId);
    assert.equal(seg.geometry.type, 'LineString');
    // The change at exactly `to` counts (validity is [from, to)); at exactly `from` it does not.
    assert.ok((await changes('roads', `from=2019-01-01&to=${h.widenDate}`)).body.counts.changed >= h.widenedSegmentIds.length);
    assert.equal((await changes('roads', `from=${h.widenDate}&to=2019-07-02`)).body.counts.changed, 0);
  });

  it('reports the rebuilt block: rebuilt buildings changed, demolished ones retired in their last state, towers added', async () => {
    const h = city.history;
    const from = '2021-01-01T00:00:00Z';
    const to = '2021-06-01T00:00:00Z';
    const res = await changes('buildings', `from=${from}&to=${to}&limit=10000`);
    assert.equal(res.status, 200);
    const expected = expectedChanges(city, 'buildings', from, to);
    for (const kind of ['added', 'changed', 'retired'] as const) assert.deepEqual(ids(res.body, kind), expected[kind], kind);
    for (const id of h.rebuiltBuildingIds) assert.ok(expected.changed.includes(id));
    for (const id of h.retiredBuildingIds) assert.ok(expected.retired.includes(id));
    for (const id of h.newBuildingIds) assert.ok(expected.added.includes(id));
    assert.deepEqual(res.body.counts, await sqlCounts('buildings', from, to));
    assert.equal(res.body.numberMatched, expected.added.length + expected.changed.length + expected.retired.length);
    const retired = res.body.features.find((f: { id: string }) => f.id === h.retiredBuildingIds[0]);
    assert.equal(Date.parse(retired.version.validTo), Date.parse(h.rebuildDate), 'shown in the state it was retired from');
    assert.equal(retired.geometry.type, 'Polygon');
    assert.deepEqual(retired.time.interval.map(Date.parse), [Date.parse(retired.version.validFrom), Date.parse(h.rebuildDate)]);
    const added = res.body.features.find((f: { id: string }) => f.id === h.newBuildingIds[0]);
    assert.equal(added.previousVersion, null);
    assert.equal(added.time.interval[1], '..');
  });

  it('pages through every change in feature id order', async () => {
    const from = '2000-01-01';
    const to = '2030-01-01';
    const all = (await changes('buildings', `from=${from}&to=${to}&limit=10000`)).body;
    const pages: string[] = [];
    for (let offset = 0; offset < all.numberMatched; offset += 37) {
      const page = (await changes('buildings', `from=${from}&to=${to}&limit=37&offset=${offset}`)).body;
      assert.deepEqual(page.counts, all.counts);
      pages.push(...page.features.map((f: { id: string }) => f.id));
    }
    assert.deepEqual(pages, all.features.map((f: { id: string }) => f.id));
    assert.deepEqual([...pages].sort(), pages);
  });

  it('keeps the gas network to keys cleared for it, and reports its pipe replacement', async () => {
    const h = city.history;
    const query = 'from=2022-01-01&to=2022-12-31';
    assert.equal((await changes('gas-pipes', query)).status, 404);
    assert.equal((await changes('gas-pipes', query, keys.viewer)).status, 404);
    const res = await changes('gas-pipes', query, keys.gas);
    assert.equal(res.status, 200);
    const expected = expectedChanges(city, 'gas-pipes', '2022-01-01T00:00:00Z', '2022-12-31T00:00:00Z');
    assert.deepEqual(ids(res.body, 'changed'), expected.changed);
    assert.deepEqual(expected.changed, [...h.replacedGasPipeIds].sort());
    for (const f of res.body.features) assert.equal(f.properties.material, h.gasMaterialAfter);
    assert.deepEqual(res.body.counts, await sqlCounts('gas-pipes', '2022-01-01', '2022-12-31'));
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from audit_log where layer_id = 'gas-pipes' and route like '%changes'`.execute(store.db);
    assert.equal(rows[0]!.n, 1, 'the cleared read is audited');
  });

  it('refuses bad instants with a 400 naming the parameter, and unknown layers with a 404', async () => {
    const bad: Array<[string, string]> = [
      ['to=2020-01-01', 'from'],
      ['from=2020-01-01&to=2019-01-01', 'from'],
      ['from=2020-01-01&to=2020-01-01', 'from'],
      ['from=yesterday', 'from'],
      ['from=2019-01-01/2020-01-01', 'from'],
      ['from=2019-01-01&to=2020-13-45', 'to'],
      ['from=2019-01-01&limit=0', 'limit'],
      ['from=2019-01-01&since=2019', 'since'],
    ];
    for (const [q, parameter] of bad) {
      const res = await changes('roads', q);
      assert.equal(res.status, 400, q);
      assert.equal(res.body.error.details.parameter, parameter, `${q}: ${res.body.error.message}`);
    }
    assert.equal((await changes('no-such-layer', 'from=2019-01-01')).status, 404);
    // `to` defaults to now.
    const now = await changes('roads', 'from=2019-01-01');
    assert.equal(now.status, 200);
    assert.ok(Date.parse(now.body.to) <= Date.now());
  });
});
