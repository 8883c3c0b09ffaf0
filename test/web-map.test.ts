import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Polygon } from 'geojson';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { openTestStore, type TestStore } from './helpers/stores.ts';
import { startServer, type RunningServer } from './helpers/server.ts';
import { loadDemoCity } from '../fixtures/load-demo-city.ts';
import { generateDemoCity, type DemoCity } from '../fixtures/demo-city/index.ts';
import { createApiKey } from '../store/access.ts';
import { PIPE_CLASS_INFO } from '../data-import/profiles/cjj61.ts';

/**
 * The web map at /map in headless Chromium: it loads without a console error, draws buildings,
 * shows a clicked building's attributes and history, redraws the city as of 2020 from the time
 * slider, and lists a restricted layer once a cleared key is entered. Runs on the embedded
 * PGlite driver (the shared PostGIS test database is left to the other suites).
 */

// The page's globals, inside page.evaluate callbacks (the test's tsconfig has no DOM library).
declare const window: any;
declare const document: any;
declare const localStorage: any;

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--lang=zh-CN',
  // WebGL with no GPU: ANGLE on SwiftShader (software Vulkan). Chromium 156 falls back to it by
  // itself today, but that automatic fallback is deprecated; naming it keeps the test working.
  '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
];
const SCALE = 0.05;
const ARTIFACTS = path.resolve('test-artifacts');

type Ring = number[][];
type Box = [number, number, number, number];

const boxOf = (ring: Ring): Box => [
  Math.min(...ring.map((c) => c[0]!)), Math.min(...ring.map((c) => c[1]!)),
  Math.max(...ring.map((c) => c[0]!)), Math.max(...ring.map((c) => c[1]!)),
];
const centreOf = (ring: Ring): [number, number] => {
  const [x0, y0, x1, y1] = boxOf(ring);
  return [(x0 + x1) / 2, (y0 + y1) / 2];
};
/** Within a few decimetres: a z17 tile unit is ~7 cm in Quanzhou. */
const sameBox = (a: Box, b: Box, tolerance = 4e-6) => a.every((v, i) => Math.abs(v - b[i]!) <= tolerance);
const hex = (colour: string) => [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
const distance = (a: number[], b: number[]) => Math.max(...[0, 1, 2].map((i) => Math.abs(a[i]! - b[i]!)));

/** A raw GET whose path is sent exactly as written (fetch would normalise `..` away). */
function rawGet(base: string, rawPath: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    http.get({ hostname, port, path: rawPath }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe(`web map (demo city scale ${SCALE}, PGlite, headless Chromium)`, () => {
  let store: TestStore;
  let server: RunningServer;
  let city: DemoCity;
  let dir: string;
  let browser: Browser;
  let page: Page;
  let gasKey: string;
  /** Everything the page reported as an error: console errors and uncaught exceptions. */
  const problems: string[] = [];
  const tileRequests: Array<{ url: string; key: string | undefined }> = [];
  /** Requests that left the server's origin (no CDN, no base map from the internet). */
  const foreign: string[] = [];

  const rebuilt = () => {
    const id = city.history.rebuiltBuildingIds[0]!;
    const versions = city.layers.find((l) => l.meta.id === 'buildings')!.versions.filter((v) => v.featureId === id);
    const old = versions.find((v) => v.validTo !== null)!;
    const current = versions.find((v) => v.validTo === null)!;
    return {
      id,
      old: (old.geometry as Polygon).coordinates[0]!,
      current: (current.geometry as Polygon).coordinates[0]!,
      attributes: current.attributes,
    };
  };

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`The web-map test needs Chromium at ${CHROMIUM}: run "apt-get install chromium" (Debian), or set CHROMIUM_PATH.`);
    }
    store = await openTestStore('pglite');
    dir = mkdtempSync(path.join(os.tmpdir(), 'onemap-web-'));
    city = generateDemoCity({ scale: SCALE });
    await loadDemoCity(store.db, { dir, seed: city.seed, scale: SCALE });
    gasKey = (await createApiKey(store.db, { name: 'gas crew', role: 'field', clearances: ['gas-pipes'] })).key;
    server = await startServer(store);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg: ConsoleMessage) => {
      if (process.env.WEB_MAP_DEBUG) console.log('browser', msg.type(), msg.text(), msg.location().url);
      if (msg.type() !== 'error') return;
      problems.push(`console error: ${msg.text()} (${msg.location().url})`);
    });
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (url.protocol !== 'data:' && url.protocol !== 'blob:' && url.origin !== server.url) foreign.push(req.url());
      if (url.pathname.startsWith('/tiles/')) tileRequests.push({ url: req.url(), key: req.headers()['x-api-key'] });
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await store?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sends browsers from / to /map and gives API clients the JSON landing page', async () => {
    const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
    const redirect = await fetch(`${server.url}/`, { headers: { Accept: browserAccept }, redirect: 'manual' });
    assert.equal(redirect.status, 303);
    assert.equal(redirect.headers.get('location'), `${server.url}/map`);
    assert.match(redirect.headers.get('vary') ?? '', /Accept/);

    for (const headers of [{}, { Accept: 'application/json' }, { Accept: '*/*' }] as Array<Record<string, string>>) {
      const res = await fetch(`${server.url}/`, { headers, redirect: 'manual' });
      assert.equal(res.status, 200, JSON.stringify(headers));
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const body = await res.json() as { links: Array<{ rel: string; type: string; href: string }> };
      assert.ok(body.links.some((l) => l.rel === 'alternate' && l.type === 'text/html' && l.href === `${server.url}/map`));
    }
    const asked = await fetch(`${server.url}/?f=json`, { headers: { Accept: browserAccept }, redirect: 'manual' });
    assert.equal(asked.status, 200, 'f=json wins over a browser Accept');
  });

  it('serves the page, its modules and MapLibre from node_modules with types, ETags and revalidation', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/map', /^text\/html; charset=utf-8$/],
      ['/web/app.js', /^text\/javascript; charset=utf-8$/],
      ['/web/map.css', /^text\/css; charset=utf-8$/],
      ['/web/vendor/maplibre-gl/maplibre-gl.mjs', /^text\/javascript; charset=utf-8$/],
      // MapLibre asks for its worker with ?v=<version>.
      ['/web/vendor/maplibre-gl/maplibre-gl-worker.mjs?v=6', /^text\/javascript; charset=utf-8$/],
      ['/web/vendor/maplibre-gl/maplibre-gl.css', /^text\/css; charset=utf-8$/],
      ['/web/cjj61.json', /^application\/json; charset=utf-8$/],
    ];
    for (const [url, type] of cases) {
      const res = await fetch(`${server.url}${url}`);
      assert.equal(res.status, 200, url);
      assert.match(res.headers.get('content-type') ?? '', type, url);
      assert.equal(res.headers.get('cache-control'), 'no-cache', url);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', url);
      const etag = res.headers.get('etag');
      assert.match(etag ?? '', /^"[\w-]+"$/, url);
      assert.ok((await res.arrayBuffer()).byteLength > 0, url);
      const again = await fetch(`${server.url}${url}`, { headers: { 'If-None-Match': etag! } });
      assert.equal(again.status, 304, url);
    }
    const html = await fetch(`${server.url}/map`);
    assert.match(html.headers.get('content-security-policy') ?? '', /default-src 'self'/, 'no CDN can be reached from the page');
    const cjj61 = await (await fetch(`${server.url}/web/cjj61.json`)).json() as { pipeClasses: unknown };
    assert.deepEqual(cjj61.pipeClasses, JSON.parse(JSON.stringify(PIPE_CLASS_INFO)), 'the colours are the importer\'s CJJ 61 table');
  });

  it('serves nothing outside its file list: no traversal, no encoded tricks', async () => {
    const hostile = [
      '/web/../package.json',
      '/web/%2e%2e/package.json',
      '/web/%2E%2E/%2E%2E/package.json',
      '/web/..%2fpackage.json',
      '/web/..%5cpackage.json',
      '/web/vendor/maplibre-gl/../package.json',
      '/web/vendor/maplibre-gl/..%2f..%2f..%2fpackage.json',
      '/web/vendor/maplibre-gl/package.json',
      '/web/vendor/maplibre-gl/dist/maplibre-gl.mjs',
      '/web//etc/passwd',
      '/web/%2fetc%2fpasswd',
      '/web/app.js%00.html',
      '/web/index.html',
      '/web/%E0%A4%A',
      '/web/.gitignore',
      '/web/',
    ];
    for (const rawPath of hostile) {
      const res = await rawGet(server.url, rawPath);
      assert.ok(res.status === 404 || res.status === 400, `${rawPath}: ${res.status}`);
      assert.doesNotMatch(res.body, /"name": "onemap"|root:x:0|maplibre-gl-worker/, rawPath);
    }
  });

  it('loads in a browser from / with no console errors, and draws buildings', async () => {
    await page.goto(`${server.url}/`);
    assert.match(page.url(), /\/map(#.*)?$/, 'the browser was sent to the map');
    await page.waitForFunction(() => window.onemap?.loaded === true, null, { timeout: 30_000 });
    assert.deepEqual(problems, []);
    assert.equal(await page.locator('h1').textContent(), '泉州城市资源一张图');

    const { id, current } = rebuilt();
    const [lon, lat] = centreOf(current);
    await page.evaluate(([lon, lat]) => window.onemap.map.jumpTo({ center: [lon, lat], zoom: 17 }), [lon, lat]);
    await waitForIdleMap(page);
    const rendered = await renderedBox(page, id);
    assert.ok(rendered, `building ${id} is among the rendered features`);

    const { pixel, background, fill } = await page.evaluate(([lon, lat]) => new Promise<{ pixel: number[]; background: string; fill: string }>((resolve) => {
      const map = window.onemap.map;
      const p = map.project([lon, lat]);
      // Read in the render event: the drawing buffer is only intact until the frame is composited.
      map.once('render', () => {
        const canvas = map.getCanvas();
        const gl = canvas.getContext('webgl2') ?? canvas.getContext('webgl');
        const scale = canvas.width / canvas.clientWidth;
        const out = new Uint8Array(4);
        gl.readPixels(Math.round(p.x * scale), Math.round(canvas.height - p.y * scale), 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, out);
        resolve({ pixel: [...out], background: map.getPaintProperty('background', 'background-color'), fill: map.getPaintProperty('buildings', 'fill-color') });
      });
      map.triggerRepaint();
    }), [lon, lat]);
    assert.ok(distance(pixel, hex(background)) > 12, `the building's pixel ${pixel} is not the background ${background}`);
    assert.ok(distance(pixel, hex(fill)) <= 12, `the building's pixel ${pixel} is the building colour ${fill}`);
  });

  it('shows a clicked building\'s attributes under their Chinese titles, and its versions', async () => {
    const { id, current, attributes } = rebuilt();
    const point = await page.evaluate(([lon, lat]) => {
      const map = window.onemap.map;
      const p = map.project([lon, lat]);
      const r = map.getCanvas().getBoundingClientRect();
      return { x: r.left + p.x, y: r.top + p.y };
    }, centreOf(current));
    await page.mouse.click(point.x, point.y);
    await page.locator('#feature-history li').nth(1).waitFor({ timeout: 10_000 });

    assert.equal(await page.locator('#feature-title').textContent(), '建筑物');
    assert.match(await page.locator('#feature-subtitle').textContent() ?? '', new RegExp(id));
    const rows = await page.locator('#feature-attributes tr').evaluateAll((trs) => trs.map((tr: any) => [tr.querySelector('th').textContent, tr.querySelector('td').textContent]));
    const row = (title: string) => rows.find(([th]) => th === title)?.[1];
    assert.equal(row('建成年份'), String(attributes.built_year));
    assert.equal(row('建筑用途'), attributes.use);
    assert.equal(row('建筑高度'), `${attributes.height_m} m`);
    if (attributes.name) assert.equal(row('建筑名称'), attributes.name);

    const versions = await page.locator('#feature-history li').evaluateAll((lis) => lis.map((li: any) => ({ text: li.textContent, shown: li.classList.contains('shown') })));
    assert.equal(versions.length, 2, JSON.stringify(versions));
    assert.match(versions[0]!.text!, /2021-03-01 至 今.*现行/);
    assert.ok(versions[0]!.shown, 'the current version is the one shown');
    assert.match(versions[1]!.text!, / 至 2021-03-01/);
  });

  it('redraws the city as of 2020 when the time slider is moved there', async () => {
    const { id, old, current } = rebuilt();
    assert.ok(!sameBox(boxOf(old), boxOf(current)), 'the demo city rebuilt this building with another footprint');
    const now = await renderedBox(page, id);
    assert.ok(now && sameBox(now, boxOf(current)), `now: ${now} vs ${boxOf(current)}`);

    const day = (Date.UTC(2020, 5, 1) - Date.UTC(2000, 0, 1)) / 86_400_000;
    // fill() sets a range input's value and fires input and change, as dragging and letting go does.
    await page.locator('#time-slider').fill(String(day));
    assert.match(await page.locator('#time-label').textContent() ?? '', /2020-06-01/);
    assert.equal(await page.locator('#time-date').inputValue(), '2020-06-01');

    const then = await page.waitForFunction(([id, want]) => {
      const map = window.onemap.map;
      if (!map.getSource('onemap').url.includes('datetime=2020-06-01')) return false;
      const parts = map.queryRenderedFeatures({ layers: ['buildings'] }).filter((f: any) => f.properties.feature_id === id);
      if (!parts.length) return false;
      const xs: number[] = []; const ys: number[] = [];
      for (const f of parts) for (const ring of f.geometry.coordinates) for (const [x, y] of ring) { xs.push(x); ys.push(y); }
      const box = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
      return box.every((v, i) => Math.abs(v - want[i]!) <= 4e-6) ? box : false;
    }, [id, boxOf(old)] as const, { timeout: 20_000 }).then((h) => h.jsonValue()).catch(async (err) => {
      assert.fail(`the 2020 footprint was not drawn: ${await renderedBox(page, id)} vs ${boxOf(old)} (${err.message})`);
    });
    assert.ok(then);
    // The end of 2020-06-01 in China (UTC+8), as the server's TileJSON writes it into tile URLs.
    assert.ok(tileRequests.some((t) => /\.mvt\?datetime=2020-06-01T15%3A59%3A59\.000Z$/.test(t.url)), 'tiles were asked for as of that day');

    // The open panel follows the date: the 2020 version is the one shown.
    await page.waitForFunction(() => /2020-06-01 时的版本/.test(document.getElementById('feature-status').textContent ?? ''));
    await page.waitForFunction(() => document.querySelector('#feature-history li:nth-child(2)')?.classList.contains('shown'));
  });

  it('finds an address with the search box and flies the map to it', async () => {
    const address = city.layers.find((l) => l.meta.id === 'addresses')!.versions.find((v) => v.validTo === null && v.attributes.building)!;
    const a = address.attributes as Record<string, string>;
    const [lon, lat] = (address.geometry as GeoJSON.Point).coordinates as [number, number];
    const before = await page.evaluate(() => ({ center: window.onemap.map.getCenter().toArray(), zoom: window.onemap.map.getZoom() }));
    // As people type it: from the road, with the building as 栋.
    await page.locator('#search-input').fill(`${a.road}${a.road_number}${a.poi ?? ''}${a.building!.replace('幢', '栋')}`);
    await page.locator('#search-input').press('Enter');
    await page.waitForFunction(() => /^找到 \d+ 个结果$/.test(document.getElementById('search-status')!.textContent ?? ''), null, { timeout: 10_000 });
    assert.match(await page.locator('#search-results li').first().textContent() ?? '', new RegExp(`^${a.address}楼栋`));
    await page.waitForFunction(([x, y]) => {
      const c = window.onemap.map.getCenter();
      return !window.onemap.map.isMoving() && Math.abs(c.lng - x!) < 1e-5 && Math.abs(c.lat - y!) < 1e-5;
    }, [lon, lat], { timeout: 20_000 });
    await page.evaluate((v) => window.onemap.map.jumpTo({ center: v.center as [number, number], zoom: v.zoom }), before);
  });

  it('lists the restricted gas network once a cleared API key is entered, and sends the key in a header', async () => {
    await page.locator('#time-now').click();
    await waitForIdleMap(page);
    const gasToggle = page.locator('#layer-groups input[data-layer-id="gas-pipes"]');
    assert.equal(await gasToggle.count(), 0, 'no gas layer without a key');

    await page.locator('#api-key').fill(gasKey);
    await page.locator('#api-key-apply').click();
    await gasToggle.waitFor({ timeout: 10_000 });
    assert.ok(await gasToggle.isChecked(), 'a pipe network is shown when it appears');
    assert.match(await page.locator('#api-key-status').textContent() ?? '', /密钥有效/);
    assert.equal(await page.evaluate(() => localStorage.getItem('onemap.apiKey')), gasKey, 'the key is remembered');

    await page.evaluate(() => window.onemap.map.zoomTo(16, { animate: false }));
    await page.waitForFunction(() => window.onemap.map.queryRenderedFeatures({ layers: ['gas-pipes'] }).length > 0, null, { timeout: 20_000 });
    const gasColour = await page.evaluate(() => JSON.stringify(window.onemap.map.getPaintProperty('gas-pipes', 'line-color')));
    assert.match(gasColour, /"RQ","rgb\(255, 0, 255\)"/, 'gas in the CJJ 61 colour');

    const gasTiles = tileRequests.filter((t) => t.url.includes('gas-pipes'));
    assert.ok(gasTiles.length > 0);
    assert.ok(gasTiles.every((t) => t.key === gasKey), 'every gas tile request carries the key in X-API-Key');
    assert.ok(tileRequests.every((t) => !t.url.includes(gasKey)), 'no URL carries the key');

    // Click a gas pipe, zoomed in far enough that its neighbours under the road are pixels apart.
    const onPipe = await page.evaluate(() => {
      const map = window.onemap.map;
      const pipe = map.queryRenderedFeatures({ layers: ['gas-pipes'] }).find((f: any) => f.geometry.type === 'LineString');
      const [a, b] = pipe.geometry.coordinates;
      return { id: pipe.properties.feature_id, at: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2] };
    });
    await page.evaluate((at) => window.onemap.map.jumpTo({ center: at, zoom: 19 }), onPipe.at);
    await waitForIdleMap(page);
    const box = (await page.locator('#map canvas').boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.waitForFunction(() => document.getElementById('feature-title').textContent === '燃气管线'
      && document.querySelectorAll('#feature-attributes tr').length > 0, null, { timeout: 10_000 });
    assert.match(await page.locator('#feature-attributes').textContent() ?? '', /管线类别燃气（RQ）/, 'codes are shown with their CJJ 61 names');

    await page.evaluate(() => window.onemap.map.zoomTo(16.5, { animate: false }));
    await page.locator('#sidebar').evaluate((el) => { el.scrollTop = 0; });
    await waitForIdleMap(page);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-map.png') });
  });

  it('reported no console error, no uncaught exception, no map error, and asked no other origin', async () => {
    assert.deepEqual(problems, []);
    assert.deepEqual(foreign, []);
    assert.deepEqual(await page.evaluate(() => window.onemap.state.errors), []);
  });
});

async function waitForIdleMap(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const map = window.onemap.map;
    return map.loaded() && map.areTilesLoaded() && !map.isMoving();
  }, null, { timeout: 20_000 });
}

/** The box of a building as drawn now (all its pieces across tiles), or null when not drawn. */
function renderedBox(page: Page, id: string): Promise<Box | null> {
  return page.evaluate((id) => {
    const map = window.onemap.map;
    const parts = map.queryRenderedFeatures({ layers: ['buildings'] }).filter((f: any) => f.properties.feature_id === id);
    if (!parts.length) return null;
    const xs: number[] = []; const ys: number[] = [];
    for (const f of parts) for (const ring of f.geometry.coordinates) for (const [x, y] of ring) { xs.push(x); ys.push(y); }
    return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)] as Box;
  }, id);
}
