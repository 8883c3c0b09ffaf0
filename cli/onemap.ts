import { storeLocator } from '../geocoder/store-source.ts';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../server/config.ts';
import { openStore, type Store } from '../store/db.ts';
import { createApiKey, listApiKeys, revokeApiKey, ROLES, type Role } from '../store/access.ts';
import { listLayers } from '../store/layers.ts';
import { loadDemoCity } from '../fixtures/load-demo-city.ts';
import { importLayerFile, ImportError, rejectedRowsCsv, type ImportProgress, type ImportReport } from '../data-import/import-file.ts';
import { ACCESS_CLASSES, DOMAINS, type AccessClass, type Domain } from '../store/layer-meta.ts';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseOpenCellIdCsv, parseWifiCsv } from '../position/radio-csv.ts';
import { saveCells, saveWifi } from '../store/radio.ts';

const USAGE = `onemap — OneMap 一张图 command line

  onemap keys create --name NAME --role viewer|planner|field|admin [--clear LAYER,LAYER|*]
  onemap keys revoke ID|PREFIX
  onemap keys list
  onemap demo load [--scale N] [--seed S]   load the demo city into an empty store
  onemap import FILE --layer ID [--domain D] [--crs EPSG:n] [--encoding E] [--key FIELD]
         [--mode upsert|snapshot] [--valid-from DATE] [--valid-from-field FIELD] [--on-error skip|abort] [--dry-run]
         [--title 中文名] [--title-en NAME] [--access public|internal|restricted]
         [--x COL --y COL | --wkt COL] [--rejected-csv FILE]
      FILE: .shp or .zip (Shapefile), .geojson/.json, .geojsons/.ndjson, .csv
  onemap radio import FILE [--wifi]          cell towers (OpenCellID CSV: radio,mcc,net,area,cell,unit,lon,lat,range,…)
                                              or Wi-Fi access points (--wifi: mac,lon,lat[,range]) for positions without GNSS

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
      onDelivery: (f, r) => console.log(`${f.file}\t→ ${f.layer}\t${r.mode}\t+${r.inserted} ~${r.updated} -${r.retired}`),
    });
    console.log(`generated in ${(report.generateMs / 1000).toFixed(1)} s, loaded in ${(report.loadMs / 1000).toFixed(1)} s`);
  });
}

function progressPrinter(label: string) {
  const tty = process.stderr.isTTY;
  let lastPlain = 0;
  return (p: ImportProgress) => {
    const rate = p.read / Math.max(0.001, p.elapsedMs / 1000);
    const eta = p.total ? Math.max(0, (p.total - p.read) / rate) : undefined;
    const line = `${label}: ${p.read.toLocaleString('en')}${p.total ? `/${p.total.toLocaleString('en')}` : ''} rows, `
      + `${Math.round(rate).toLocaleString('en')} rows/s${eta !== undefined ? `, ETA ${eta.toFixed(0)} s` : ''}${p.rejected ? `, ${p.rejected} rejected` : ''}`;
    if (tty) {
      const width = 24;
      const done = p.total ? Math.min(width, Math.round((p.read / p.total) * width)) : 0;
      const bar = p.total ? `[${'#'.repeat(done)}${'.'.repeat(width - done)}] ` : '';
      process.stderr.write(`\r${bar}${line}\x1b[K`);
    } else if (p.elapsedMs - lastPlain >= 2000 || p.read === p.total) {
      lastPlain = p.elapsedMs;
      process.stderr.write(`${line}\n`);
    }
  };
}

async function importCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      layer: { type: 'string' }, domain: { type: 'string' }, crs: { type: 'string' }, encoding: { type: 'string' },
      key: { type: 'string' }, mode: { type: 'string' }, 'valid-from': { type: 'string' }, 'valid-from-field': { type: 'string' }, 'on-error': { type: 'string' },
      'dry-run': { type: 'boolean' }, title: { type: 'string' }, 'title-en': { type: 'string' }, access: { type: 'string' },
      x: { type: 'string' }, y: { type: 'string' }, wkt: { type: 'string' }, 'rejected-csv': { type: 'string' },
    },
  });
  const file = positionals[0];
  if (!file) throw new UsageError('import needs a FILE');
  if (!values.layer) throw new UsageError('import needs --layer ID');
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(values.layer)) throw new UsageError('--layer must be lower-case letters, digits and hyphens, e.g. enterprises-2026');
  if (values.domain && !(DOMAINS as readonly string[]).includes(values.domain)) throw new UsageError(`--domain must be one of ${DOMAINS.join(', ')}`);
  if (values.mode && !['upsert', 'snapshot'].includes(values.mode)) throw new UsageError('--mode must be upsert or snapshot');
  if (values['on-error'] && !['skip', 'abort'].includes(values['on-error'])) throw new UsageError('--on-error must be skip or abort');
  if (values.access && !(ACCESS_CLASSES as readonly string[]).includes(values.access)) throw new UsageError(`--access must be one of ${ACCESS_CLASSES.join(', ')}`);
  let validFrom: Date | undefined;
  if (values['valid-from']) {
    validFrom = new Date(/^\d{4}-\d{2}-\d{2}$/.test(values['valid-from']) ? `${values['valid-from']}T00:00:00Z` : values['valid-from']);
    if (Number.isNaN(validFrom.getTime())) throw new UsageError(`--valid-from "${values['valid-from']}" is not a date such as 2026-01-01`);
  }
  await withStore(async (store) => {
    let report: ImportReport;
    try {
      report = await importLayerFile(store.db, {
        file: path.resolve(file), layer: values.layer!, domain: values.domain as Domain | undefined, crs: values.crs,
        encoding: values.encoding, key: values.key, mode: values.mode as 'upsert' | 'snapshot' | undefined, validFrom,
        validFromField: values['valid-from-field'],
        onError: values['on-error'] as 'skip' | 'abort' | undefined, dryRun: values['dry-run'], titleZh: values.title,
        titleEn: values['title-en'], accessClass: values.access as AccessClass | undefined,
        csv: { x: values.x, y: values.y, wkt: values.wkt },
        onProgress: progressPrinter(path.basename(file)),
        geocoder: () => storeLocator(store.db),
      });
    } catch (err) {
      if (process.stderr.isTTY) process.stderr.write('\n');
      if (err instanceof ImportError) throw new UsageError(err.message);
      throw err;
    }
    if (process.stderr.isTTY) process.stderr.write('\n');
    const r = report;
    console.log(`${r.dryRun ? 'DRY RUN (nothing written): ' : ''}${r.file} → layer ${r.layer}${r.layerCreated ? ' (new)' : ''}, domain ${r.domain}, ${r.format}, CRS ${r.crs.code} (from ${r.crs.from})${r.encoding ? `, encoding ${r.encoding.name} (${r.encoding.from})` : ''}`);
    console.log(`read ${r.read}, inserted ${r.inserted}, updated ${r.updated}, unchanged ${r.unchanged}, retired ${r.retired}, rejected ${r.rejectedCount}, repaired ${r.repaired.length}${r.geocoded ? `, geocoded ${r.geocoded}` : ''}${r.awaitingGeocoding ? `, not placed ${r.awaitingGeocoding}` : ''}; ${(r.durationMs / 1000).toFixed(1)} s`);
    for (const issue of [...r.rejected.slice(0, 20)]) console.log(`  rejected row ${issue.row}${issue.field ? ` [${issue.field}]` : ''}: ${issue.reason}`);
    if (r.rejectedCount > 20) console.log(`  … ${r.rejectedCount - 20} more rejected rows${values['rejected-csv'] ? '' : ' (--rejected-csv FILE writes them all)'}`);
    for (const issue of r.repaired.slice(0, 5)) console.log(`  repaired row ${issue.row}: ${issue.reason}`);
    if (values['rejected-csv']) {
      writeFileSync(values['rejected-csv'], rejectedRowsCsv(r));
      console.log(`rejected rows written to ${values['rejected-csv']}`);
    }
  });
}

async function radio(args: string[]): Promise<void> {
  const [sub, file, ...rest] = args;
  const { values } = parseArgs({ args: rest, options: { wifi: { type: 'boolean' } } });
  if (sub !== 'import' || !file) throw new UsageError('onemap radio import FILE [--wifi]');
  const text = await readFile(file, 'utf8');
  const { map, report } = values.wifi ? parseWifiCsv(text) : parseOpenCellIdCsv(text);
  for (const r of report.rejected.slice(0, 20)) console.error(`${path.basename(file)}, line ${r.line}: ${r.message}`);
  await withStore(async (store) => {
    const n = values.wifi ? await saveWifi(store.db, map.wifiAccessPoints()) : await saveCells(store.db, map.cellTowers());
    console.log(`${n} ${values.wifi ? 'access points' : 'cell towers'} stored; ${report.rejectedCount} lines rejected`);
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'import') return importCommand(rest);
  if (command === 'keys') return keys(rest);
  if (command === 'demo') return demo(rest);
  if (command === 'radio') return radio(rest);
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
