#!/usr/bin/env node
// Runs the TypeScript CLI through tsx so that `npx onemap` works without a build step.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
// A 64 MiB young generation, as `npm start` has: an import allocates rows faster than V8's default
// semi-space can scavenge them (a fifth of the CPU of reading, converting and encoding a Shapefile).
const result = spawnSync(process.execPath, ['--max-semi-space-size=64', '--import', 'tsx', path.join(root, 'cli', 'onemap.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
