import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ConfigError, loadConfig } from '../server/config.ts';

describe('configuration', () => {
  it('defaults to port 3000, ./data and the embedded driver', () => {
    const c = loadConfig({});
    assert.equal(c.port, 3000);
    assert.equal(c.dataDir, path.resolve('./data'));
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.loadDemo, true);
    assert.ok(Object.isFrozen(c));
  });

  it('reads every setting from the environment', () => {
    const c = loadConfig({
      PORT: '8080', DATABASE_URL: 'postgres://u@h:5432/db', ONEMAP_DATA_DIR: '/var/onemap', ONEMAP_PUBLIC_URL: 'https://map.example.cn/',
      ONEMAP_LOAD_DEMO: 'false', ONEMAP_DEMO_SCALE: '0.5', ONEMAP_STATEMENT_TIMEOUT_MS: '5000',
    });
    assert.equal(c.port, 8080);
    assert.equal(c.databaseUrl, 'postgres://u@h:5432/db');
    assert.equal(c.dataDir, '/var/onemap');
    assert.equal(c.publicUrl, 'https://map.example.cn');
    assert.equal(c.loadDemo, false);
    assert.equal(c.demoScale, 0.5);
    assert.equal(c.statementTimeoutMs, 5000);
  });

  it('names every bad value in one error', () => {
    assert.throws(
      () => loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', ONEMAP_LOAD_DEMO: 'maybe' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.problems.length, 3);
        assert.match(err.message, /PORT="eighty"/);
        assert.match(err.message, /DATABASE_URL="mysql:\/\/x": must be a postgres/);
        assert.match(err.message, /ONEMAP_LOAD_DEMO="maybe": must be true or false/);
        return true;
      },
    );
  });

  it('treats empty values as unset', () => {
    assert.equal(loadConfig({ PORT: '', DATABASE_URL: '' }).port, 3000);
  });
});

describe('request log', () => {
  it('redacts API keys passed in the URL', async () => {
    const { redactKey } = await import('../server/app.ts');
    assert.equal(redactKey('/tiles/gas-pipes/16/1/2.mvt?api_key=om_secret&datetime=2020'), '/tiles/gas-pipes/16/1/2.mvt?api_key=***&datetime=2020');
    assert.equal(redactKey('/collections?f=json&API_KEY=x'), '/collections?f=json&API_KEY=***');
    assert.equal(redactKey('/collections?mapi_key=x'), '/collections?mapi_key=x');
  });
});
