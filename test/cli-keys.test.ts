import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { openTestStore, POSTGIS_URL, type TestStore } from './helpers/stores.ts';
import { principalForKey } from '../store/access.ts';
import { upsertLayer } from '../store/layers.ts';
import { loadRadioRows } from '../store/radio.ts';
import { RadioMap } from '../position/radio-map.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const run = promisify(execFile);
const cli = (args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'cli/onemap.ts', ...args], { env: { ...process.env, DATABASE_URL: POSTGIS_URL }, timeout: 60_000 });

describe('onemap keys (CLI)', () => {
  let store: TestStore;
  before(async () => {
    store = await openTestStore('postgres');
    await upsertLayer(store.db, {
      id: 'cli-gas', titleZh: '燃气管线', titleEn: 'Gas', domain: 'pipeline', geometryType: 'LineString',
      attributeSchema: {}, accessClass: 'restricted', source: 'test',
    });
  });
  after(async () => { await store?.cleanup(); });

  it('creates a key shown once, stored hashed, that resolves to its role and clearances; revoke disables it', async () => {
    const { stdout } = await cli(['keys', 'create', '--name', '燃气巡检', '--role', 'field', '--clear', 'cli-gas']);
    const key = stdout.trim().split('\n').at(-1)!;
    assert.match(key, /^om_[A-Za-z0-9_-]{43}$/);
    const principal = await principalForKey(store.db, key);
    assert.equal(principal?.role, 'field');
    assert.deepEqual(principal?.clearances, ['cli-gas']);
    const stored = await store.db.selectFrom('api_key').select(['key_hash', 'key_prefix']).where('id', '=', principal!.keyId!).executeTakeFirstOrThrow();
    assert.notEqual(stored.key_hash, key);
    assert.ok(!stored.key_hash.includes(key.slice(3, 20)));

    const list = await cli(['keys', 'list']);
    assert.match(list.stdout, /燃气巡检\tfield\tcli-gas\tactive/);
    assert.ok(!list.stdout.includes(key), 'the list never shows a key');

    await cli(['keys', 'revoke', stored.key_prefix]);
    assert.equal(await principalForKey(store.db, key), undefined);
  });

  it('refuses a bad role or an unknown layer with a usage error', async () => {
    await assert.rejects(cli(['keys', 'create', '--name', 'x', '--role', 'superuser']), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /--role must be one of viewer, planner, field, admin/);
      return true;
    });
    await assert.rejects(cli(['keys', 'create', '--name', 'x', '--role', 'field', '--clear', 'no-such-layer']), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /unknown layers: no-such-layer/);
      return true;
    });
  });
});

describe('onemap radio import (CLI)', () => {
  let store: TestStore;
  let dir: string;
  before(async () => {
    store = await openTestStore('postgres');
    dir = mkdtempSync(path.join(os.tmpdir(), 'onemap-radio-'));
  });
  after(async () => {
    await store?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores an OpenCellID CSV\'s towers, names the bad lines, and the fuser can load them', async () => {
    const file = path.join(dir, 'cells.csv');
    writeFileSync(file, [
      'radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal',
      'LTE,460,0,22547,7001,0,118.6,24.91,800,12,1,1500000000,1600000000,0',
      'GSM,460,1,9120,7002,0,118.61,24.92,1500,3,1,1500000000,1600000000,0',
      'LTE,460,0,bad,7003,0,118.6,24.91,800,12,1,1500000000,1600000000,0',
    ].join('\n'));
    const { stdout, stderr } = await cli(['radio', 'import', file]);
    assert.match(stdout, /2 cell towers stored; 1 lines rejected/);
    assert.match(stderr, /cells\.csv, line 4: area "bad"/);
    const map = RadioMap.from(await loadRadioRows(store.db));
    const tower = map.findCell({ mcc: 460, mnc: 1, area: 9120, cell: 7002 });
    assert.deepEqual([tower?.radio, tower?.lon, tower?.lat, tower?.range], ['GSM', 118.61, 24.92, 1500]);
  });
});
