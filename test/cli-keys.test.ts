import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { openTestStore, POSTGIS_URL, type TestStore } from './helpers/stores.ts';
import { principalForKey } from '../store/access.ts';
import { upsertLayer } from '../store/layers.ts';

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
