import type Router from '@koa/router';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BURIAL_METHODS, MATERIALS, PIPE_CLASS_INFO, PIPE_STATUS, SUB_TYPES } from '../../data-import/profiles/cjj61.ts';
import { notFound } from '../errors.ts';
import type { Ctx, RequestState, Services } from '../context.ts';

/**
 * The planners' web map: `/map` is web/index.html, `/web/...` the page's own modules and styles,
 * `/web/vendor/maplibre-gl/...` MapLibre GL JS straight from node_modules (no CDN: the city's
 * networks often have no internet), and `/web/cjj61.json` the CJJ 61 colours and code lists from
 * the importer's code tables, so the map and the importer cannot disagree.
 *
 * Every servable file is listed once, at start-up, in a table keyed by its URL path; a request is
 * a lookup in that table, never a path joined from the request, so `..`, encoded slashes and the
 * like find nothing (404) by construction.
 */

const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const MAPLIBRE_DIR = path.dirname(createRequire(import.meta.url).resolve('maplibre-gl/package.json'));

/** MapLibre 6 ships ES modules only; the main module loads its worker from the same folder. */
const MAPLIBRE_FILES: Record<string, string> = {
  'maplibre-gl.mjs': 'dist/maplibre-gl.mjs',
  'maplibre-gl.mjs.map': 'dist/maplibre-gl.mjs.map',
  'maplibre-gl-worker.mjs': 'dist/maplibre-gl-worker.mjs',
  'maplibre-gl-worker.mjs.map': 'dist/maplibre-gl-worker.mjs.map',
  'maplibre-gl.css': 'dist/maplibre-gl.css',
  // Its BSD licence asks for the notice to travel with the code.
  'LICENSE.txt': 'LICENSE.txt',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

interface StaticFile { file: string; type: string }
interface Loaded { mtimeMs: number; size: number; etag: string; body: Buffer }

/** web/'s files by URL path, recursively; dot files and unknown kinds are not served. */
function webFiles(): Map<string, StaticFile> {
  const table = new Map<string, StaticFile>();
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const file = path.join(dir, entry.name);
      const url = `${prefix}/${encodeURIComponent(entry.name)}`;
      if (entry.isDirectory()) walk(file, url);
      else if (entry.isFile() && CONTENT_TYPES[path.extname(entry.name)]) table.set(url, { file, type: CONTENT_TYPES[path.extname(entry.name)]! });
    }
  };
  walk(WEB_DIR, '/web');
  // The page is served at /map only: its relative links resolve from there.
  table.delete('/web/index.html');
  table.set('/map', { file: path.join(WEB_DIR, 'index.html'), type: CONTENT_TYPES['.html']! });
  for (const [name, rel] of Object.entries(MAPLIBRE_FILES)) {
    table.set(`/web/vendor/maplibre-gl/${name}`, { file: path.join(MAPLIBRE_DIR, rel), type: CONTENT_TYPES[path.extname(name)]! });
  }
  return table;
}

const strongEtag = (body: Buffer | string) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;

/**
 * No fingerprinted file names, so every use revalidates (`no-cache`): a 304 costs one round trip,
 * and a deploy (or an upgraded MapLibre, whose worker must match its main module) is never stale.
 */
function send(ctx: Ctx, type: string, etag: string, body: Buffer | string): void {
  ctx.set('ETag', etag);
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('X-Content-Type-Options', 'nosniff');
  if (ctx.get('If-None-Match').split(',').map((s) => s.trim()).includes(etag)) {
    ctx.status = 304;
    return;
  }
  ctx.type = type;
  ctx.body = body;
}

/**
 * The page may talk to its own origin only (and to the public URL, where the API writes its
 * links); no CDN, no tile server on the internet. Workers come from our origin; MapLibre also
 * makes blob: workers and images. Styles set from script (element.style) need no 'unsafe-inline'.
 */
function contentSecurityPolicy(services: Services): string {
  const api = services.config.publicUrl ? ` ${new URL(services.config.publicUrl).origin}` : '';
  return [
    "default-src 'self'",
    `connect-src 'self'${api}`,
    "worker-src 'self' blob:",
    "img-src 'self' data: blob:",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'self'",
  ].join('; ');
}

export function registerWebRoutes(router: Router<RequestState>, services: Services): void {
  const files = webFiles();
  const loaded = new Map<string, Loaded>();
  const csp = contentSecurityPolicy(services);

  const cjj61 = JSON.stringify({
    pipeClasses: PIPE_CLASS_INFO,
    subTypes: SUB_TYPES,
    materials: MATERIALS,
    burialMethods: BURIAL_METHODS,
    status: PIPE_STATUS,
  });
  const cjj61Etag = strongEtag(cjj61);

  const serve = async (ctx: Ctx) => {
    // ctx.path is the raw (still percent-encoded) path: it either is a key of the table or is not.
    const entry = files.get(ctx.path);
    if (!entry) throw notFound(`no file at ${ctx.path}`);
    // Re-read when the file changes on disk, so that editing web/ needs no restart.
    let info;
    try {
      info = await stat(entry.file);
    } catch {
      throw notFound(`no file at ${ctx.path}`);
    }
    let cached = loaded.get(ctx.path);
    if (!cached || cached.mtimeMs !== info.mtimeMs || cached.size !== info.size) {
      const body = await readFile(entry.file);
      cached = { mtimeMs: info.mtimeMs, size: info.size, etag: strongEtag(body), body };
      loaded.set(ctx.path, cached);
    }
    if (ctx.path === '/map') ctx.set('Content-Security-Policy', csp);
    send(ctx, entry.type, cached.etag, cached.body);
  };

  router.get('/map', serve);
  router.get('/web/cjj61.json', (ctx: Ctx) => send(ctx, CONTENT_TYPES['.json']!, cjj61Etag, cjj61));
  router.get('/web/*path', serve);
}
