import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../server/config.ts';
import { openStore, type Store } from '../store/db.ts';
import { createApiKey, listApiKeys, revokeApiKey, ROLES, type Role } from '../store/access.ts';
import { listLayers } from '../store/layers.ts';
import { loadDemoCity } from '../fixtures/load-demo-city.ts';

const USAGE = `onemap — OneMap 一张图 command line

  onemap keys create --name NAME --role viewer|planner|field|admin [--clear LAYER,LAYER|*]
  onemap keys revoke ID|PREFIX
  onemap keys list
  onemap demo load [--scale N] [--seed S]   load the demo city into an empty store

The store is chosen as by the server: DATABASE_URL, else the embedded PGlite in ONEMAP_DATA_DIR
(stop the server first: one embedded database can be opened by one process at a time).`;

class UsageError extends Error {}

async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: path.join(config.dataDir, 'pglite'), statementTimeoutMs: config.statementTimeoutMs });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function keys(args: string[]): Promise<void> {
  const [action, ...rest] = args;
  if (action === 'create') {
    const { values } = parseArgs({ args: rest, options: { name: { type: 'string' }, role: { type: 'string' }, clear: { type: 'string' } } });
    if (!values.name) throw new UsageError('keys create needs --name');
    if (!values.role || !(ROLES as readonly string[]).includes(values.role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
    const clearances = values.clear ? values.clear.split(',').map((s) => s.trim()).filter(Boolean) : [];
    await withStore(async (store) => {
      if (clearances.length > 0 && !clearances.includes('*')) {
        const known = new Set((await listLayers(store.db)).map((l) => l.id));
        const unknown = clearances.filter((c) => !known.has(c));
        if (unknown.length > 0) throw new UsageError(`--clear names unknown layers: ${unknown.join(', ')}`);
      }
      const created = await createApiKey(store.db, { name: values.name!, role: values.role as Role, clearances });
      console.log(`created key ${created.id} (${created.prefix}…) for ${values.name}, role ${values.role}${clearances.length ? `, cleared for ${clearances.join(', ')}` : ''}`);
      console.log('The key is shown once; store it now:');
      console.log(created.key);
    });
  } else if (action === 'revoke') {
    const target = rest[0];
    if (!target) throw new UsageError('keys revoke needs a key id or prefix');
    await withStore(async (store) => {
      const n = await revokeApiKey(store.db, target);
      if (n === 0) throw new UsageError(`no active key with id or prefix ${target}`);
      console.log(`revoked ${n} key(s)`);
    });
  } else if (action === 'list') {
    await withStore(async (store) => {
      for (const k of await listApiKeys(store.db)) {
        console.log([k.id, k.key_prefix + '…', k.name, k.role, k.clearances.join(',') || '-', k.revoked_at ? `revoked ${k.revoked_at.toISOString()}` : 'active'].join('\t'));
      }
    });
  } else {
    throw new UsageError(`unknown keys action ${action ?? ''}`);
  }
}

async function demo(args: string[]): Promise<void> {
  const [action, ...rest] = args;
  if (action !== 'load') throw new UsageError(`unknown demo action ${action ?? ''}`);
  const config = loadConfig();
  const { values } = parseArgs({ args: rest, options: { scale: { type: 'string' }, seed: { type: 'string' } } });
  const scale = values.scale ? Number(values.scale) : config.demoScale;
  const seed = values.seed ? Number(values.seed) : config.demoSeed;
  if (!(scale > 0)) throw new UsageError('--scale must be a positive number');
  await withStore(async (store) => {
    if ((await listLayers(store.db)).length > 0) throw new UsageError('the store already holds layers; the demo city is loaded only into an empty store');
    const report = await loadDemoCity(store.db, {
      dir: path.join(config.dataDir, scale === 1 ? 'demo-city' : `demo-city-x${scale}`),
      seed, scale,
      onLayer: (id, n) => console.log(`${id}\t${n} versions`),
    });
    console.log(`generated in ${(report.generateMs / 1000).toFixed(1)} s, loaded in ${(report.loadMs / 1000).toFixed(1)} s`);
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'keys') return keys(rest);
  if (command === 'demo') return demo(rest);
  if (!command || command === 'help' || command === '--help') {
    console.log(USAGE);
    return;
  }
  throw new UsageError(`unknown command ${command}`);
}

main(process.argv.slice(2)).catch((err) => {
  if (err instanceof UsageError) {
    console.error(`onemap: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  console.error('onemap:', err instanceof Error ? err.message : err);
  process.exit(1);
});
