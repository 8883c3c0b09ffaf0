import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openTestStore, type TestStore } from './helpers/stores.ts';
import { upsertLayer } from '../store/layers.ts';
import { featurePageSql, type FeatureQuery } from '../store/features.ts';

interface PlanNode { 'Node Type': string; 'Index Name'?: string; 'Relation Name'?: string; Plans?: PlanNode[] }

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

describe('space-time index on real PostGIS, one layer of a million versions', () => {
  let store: TestStore;
  const layer = 't-million';

  before(async () => {
    store = await openTestStore('postgres');
    await upsertLayer(store.db, {
      id: layer, titleZh: '百万版本', titleEn: 'A million versions', domain: 'building', geometryType: 'Polygon',
      attributeSchema: {}, accessClass: 'public', source: 'test',
    });
    // 250,000 small buildings over about 1° x 0.5°, each with four versions (2000, 2005, 2010, 2015–now).
    await sql`
      insert into feature_version (layer_id, feature_id, geom, attributes, valid_from, valid_to)
      select ${layer}, 'F' || i,
             st_setsrid(st_expand(st_makepoint(118 + (i % 500) / 500.0 + v * 0.0001, 24 + (i / 500) / 1000.0), 0.0002), 4490),
             jsonb_build_object('floors', v + 1),
             make_timestamptz(2000 + v * 5, 1, 1, 0, 0, 0, 'UTC'),
             case when v < 3 then make_timestamptz(2005 + v * 5, 1, 1, 0, 0, 0, 'UTC') end
      from generate_series(0, 249999) i, generate_series(0, 3) v`.execute(store.db);
    await sql`analyze feature_version`.execute(store.db);
  });
  after(async () => { await store?.cleanup(); });

  const cases: Array<[string, FeatureQuery]> = [
    ['now', { bbox: [118.2, 24.1, 118.21, 24.11], time: { kind: 'instant', at: new Date(NaN) }, limit: 1000, offset: 0 }],
    ['as of 2007', { bbox: [118.2, 24.1, 118.21, 24.11], time: { kind: 'instant', at: new Date('2007-06-01T00:00:00Z') }, limit: 1000, offset: 0 }],
    ['interval', { bbox: [118.5, 24.3, 118.52, 24.31], time: { kind: 'interval', start: new Date('2004-01-01T00:00:00Z'), end: new Date('2006-01-01T00:00:00Z') }, limit: 1000, offset: 0 }],
  ];

  for (const [name, query] of cases) {
    it(`bbox + ${name}: the page and its count are index scans, never a sequential scan`, async () => {
      const { rows: counted } = await sql<{ n: number }>`select count(*)::int as n from feature_version where layer_id = ${layer}`.execute(store.db);
      assert.equal(counted[0]!.n, 1_000_000);
      const { page, count } = featurePageSql(layer, query);
      for (const q of [page, count]) {
        const { rows } = await sql<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>`explain (format json) ${q}`.execute(store.db);
        const all = nodes(rows[0]!['QUERY PLAN'][0].Plan);
        const scans = all.filter((n) => /Scan/.test(n['Node Type']));
        assert.ok(scans.length > 0, 'the plan scans something');
        assert.ok(!scans.some((n) => n['Node Type'] === 'Seq Scan'), `no sequential scan: ${JSON.stringify(scans.map((n) => n['Node Type']))}`);
        assert.ok(
          scans.some((n) => /Index/.test(n['Node Type']) && /space_time|geom_validity/.test(n['Index Name'] ?? '')),
          `uses the space-time index: ${JSON.stringify(scans.map((n) => [n['Node Type'], n['Index Name']]))}`,
        );
      }
    });
  }
});
