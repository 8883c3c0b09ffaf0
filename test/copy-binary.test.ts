import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { BinaryCopy } from '../store/copy-binary.ts';
import { POSTGIS_URL, requirePostgis } from './helpers/stores.ts';

describe('binary COPY into PostgreSQL', () => {
  let client: pg.Client;
  before(async () => {
    await requirePostgis();
    client = new pg.Client({ connectionString: POSTGIS_URL, options: '-c TimeZone=UTC' });
    await client.connect();
  });
  after(async () => { await client?.end(); });

  it('every field type arrives as PostgreSQL reads it, across several statements', async () => {
    await client.query('begin');
    try {
      await client.query(`create temporary table copy_probe (n int, t text, g geometry, a jsonb, at timestamptz) on commit drop`);
      // Tiny chunks and statements: the stream rolls over to a new COPY every few rows.
      const copy = new BinaryCopy(client, 'copy_probe', ['n', 't', 'g', 'a', 'at'], { freeze: true, chunkBytes: 200, statementBytes: 1000 });
      const instants = [Date.UTC(2020, 0, 1), Date.UTC(1999, 11, 31, 23, 59, 59, 999), Date.UTC(1900, 5, 15, 12), Date.UTC(2100, 1, 28, 0, 0, 0, 1)];
      for (let i = 0; i < 400; i++) {
        const r = copy.rows;
        r.row(5);
        r.int4(i - 200);
        if (i % 7 === 0) r.null(); else r.text(`泉州市丰泽区${i}号 "quoted"\t\\ ${'x'.repeat(i % 50)}`);
        if (i % 5 === 0) r.geometry({ type: 'LineString', coordinates: [[118.5 + i / 1000, 24.9, -1.25], [118.6, 24.95, -2.5]] });
        else r.geometry({ type: 'Point', coordinates: [118.5 + i / 1000, 24.9] });
        r.jsonb(JSON.stringify({ i, name: `管${i}`, nested: { ok: i % 2 === 0 }, none: null }));
        if (i % 11 === 0) r.null(); else r.timestamptz(instants[i % instants.length]!);
        const wait = copy.rowDone();
        if (wait) await wait;
      }
      assert.equal(await copy.close(), 400);
      const { rows } = await client.query(`select n, t, st_asewkt(g) as g, a, at from copy_probe order by n`);
      assert.equal(rows.length, 400);
      for (const [i, row] of rows.entries()) {
        assert.equal(row.n, i - 200);
        assert.equal(row.t, i % 7 === 0 ? null : `泉州市丰泽区${i}号 "quoted"\t\\ ${'x'.repeat(i % 50)}`);
        assert.equal(row.g, i % 5 === 0 ? `SRID=4490;LINESTRING(${118.5 + i / 1000} 24.9 -1.25,118.6 24.95 -2.5)` : `SRID=4490;POINT(${118.5 + i / 1000} 24.9)`);
        assert.deepEqual(row.a, { i, name: `管${i}`, nested: { ok: i % 2 === 0 }, none: null });
        assert.equal(row.at === null ? null : row.at.getTime(), i % 11 === 0 ? null : instants[i % instants.length]);
      }
    } finally {
      await client.query('rollback');
    }
  });

  it('an abandoned copy leaves COPY mode, so that the transaction can roll back', async () => {
    await client.query('begin');
    await client.query(`create table copy_abandoned (n int)`);
    const copy = new BinaryCopy(client, 'copy_abandoned', ['n'], { freeze: true, chunkBytes: 64 });
    for (let i = 0; i < 1000; i++) {
      copy.rows.row(1);
      copy.rows.int4(i);
      const wait = copy.rowDone();
      if (wait) await wait;
    }
    await copy.abort('stopped by the test');
    await client.query('rollback');
    const { rows } = await client.query(`select to_regclass('copy_abandoned') as t`);
    assert.equal(rows[0].t, null, 'nothing of the transaction remains');
  });

  it('a row PostgreSQL refuses mid-stream fails the copy with its message, and the connection stays usable', async () => {
    await client.query('begin');
    try {
      await client.query(`create temporary table copy_refuse (n int check (n <> 1234), pad text) on commit drop`);
      const copy = new BinaryCopy(client, 'copy_refuse', ['n', 'pad'], { freeze: false, chunkBytes: 4096 });
      let failed: Error | undefined;
      try {
        for (let i = 0; i < 100_000; i++) {
          copy.rows.row(2);
          copy.rows.int4(i);
          copy.rows.text('x'.repeat(100));
          const wait = copy.rowDone();
          if (wait) await wait;
        }
        await copy.close();
      } catch (err) {
        failed = err as Error;
      }
      assert.match(String(failed?.message), /copy_refuse_n_check/);
    } finally {
      await client.query('rollback');
    }
    const { rows } = await client.query('select 1 as one');
    assert.equal(rows[0].one, 1);
  });
});
