import * as maplibregl from './vendor/maplibre-gl/maplibre-gl.mjs';
import { Api, ApiError } from './api.js';
import { BACKGROUND, SELECTION_SOURCE_ID, SOURCE_ID, buildStyle, orderedStyleLayers, selectionLayers } from './style.js';
import { LayerList } from './layer-list.js';
import { TimeSlider, asOfInstant } from './time-slider.js';
import { FeaturePanel } from './feature-panel.js';
import { SearchBox } from './search.js';

/**
 * The planners' web map. One composite vector tile source carries every layer that is switched
 * on: a viewport is then ~10 tile requests whatever the number of layers (one source per layer
 * would be ~10 per layer), and the server cuts all layers of a tile in one pass. Switching a
 * layer or the date changes that source's TileJSON URL; MapLibre keeps the old tiles on screen
 * until the new ones arrive, so nothing flickers. A hidden layer is neither requested nor styled.
 */

/** The view before any data is known: the centre of 鲤城区/丰泽区. */
const QUANZHOU = [118.59, 24.91];
/** Buildings appear from z14 (tiles/layer-tile-config.ts); the start view never shows less. */
const START_ZOOM_MIN = 14;
/** A link that names a view (#zoom/lat/lng) is honoured instead of fitting the city. */
const viewFromLink = /^#\d/.test(location.hash);

const api = new Api();
const state = {
  /** /collections entries the caller may read. */
  layers: [],
  byId: new Map(),
  /** Every listed layer's style layers, in drawing order. */
  styleLayers: [],
  /** As-of day (YYYY-MM-DD) or null for now. */
  date: null,
  /** CJJ 61 code tables (/web/cjj61.json): pipeClasses, subTypes, materials, burialMethods, status. */
  cjj61: { pipeClasses: {} },
  tileJsonUrl: null,
  /** Map errors (tiles or TileJSON that failed), also shown to the user. */
  errors: [],
  fitted: false,
};

const mapStatus = document.getElementById('map-status');
mapStatus.addEventListener('click', () => showMapStatus(''));
function showMapStatus(text) {
  mapStatus.textContent = text;
  mapStatus.hidden = !text;
}

const map = new maplibregl.Map({
  container: 'map',
  style: { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': BACKGROUND } }] },
  center: QUANZHOU,
  zoom: START_ZOOM_MIN,
  hash: true,
  // Chinese labels are drawn with the system's CJK font (no glyph server): YaHei on Windows,
  // PingFang on macOS, Noto CJK or WenQuanYi on Linux.
  localIdeographFontFamily: "'Microsoft YaHei', 'PingFang SC', 'Noto Sans CJK SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei', sans-serif",
  attributionControl: { compact: true },
  locale: {
    'AttributionControl.ToggleAttribution': '数据来源',
    'FullscreenControl.Enter': '全屏',
    'FullscreenControl.Exit': '退出全屏',
    'Map.Title': '地图',
    'Marker.Title': '地图标记',
    'NavigationControl.ResetBearing': '拖动旋转地图，单击恢复正北',
    'NavigationControl.ZoomIn': '放大',
    'NavigationControl.ZoomOut': '缩小',
    'Popup.Close': '关闭',
    'ScaleControl.Meters': '米',
    'ScaleControl.Kilometers': '千米',
  },
  /*
   * The key travels in the X-API-Key header, which MapLibre adds to our own TileJSON and tile
   * requests here, rather than as api_key= in the tile URL: URLs end up in the server's request
   * log, in proxies' logs and in the browser's history, headers do not. The tile responses say
   * `Vary: X-API-Key`, so the browser cache keeps one copy per key. Other origins never get it.
   */
  transformRequest: (url, resourceType) => {
    if (!api.key || (resourceType !== 'Source' && resourceType !== 'Tile') || !api.isOwn(url)) return undefined;
    return { url, headers: { 'X-API-Key': api.key } };
  },
});
map.addControl(new maplibregl.NavigationControl({ visualizePitch: false }), 'top-right');
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
map.on('error', (e) => {
  // Without a listener MapLibre only logs to the console; the planner should see it.
  const message = e.error?.message ?? String(e.error ?? e);
  state.errors.push(message);
  showMapStatus(`地图数据加载失败：${message}`);
});

const styleLoaded = new Promise((resolve) => map.once('load', resolve));

/** The composite's TileJSON: the shown layers (sorted, so a set has one URL and one cache entry). */
function tileJsonUrl(shown) {
  const ids = [...shown].sort();
  // The style keeps its source even with nothing shown, so that switching a layer on needs no
  // new source; one layer's TileJSON is the cheapest valid one, and an unused source loads no tiles.
  const named = ids.length ? ids : state.layers.slice(0, 1).map((l) => l.id);
  return api.url(`tiles/${named.map(encodeURIComponent).join(',')}.json`, { datetime: asOfInstant(state.date) });
}

function setHighlight(geometry) {
  const source = map.getSource(SELECTION_SOURCE_ID);
  source?.setData(geometry ? { type: 'Feature', geometry, properties: {} } : { type: 'FeatureCollection', features: [] });
}

const layerList = new LayerList(document.getElementById('layer-groups'), document.getElementById('layers-status'), () => syncMap());
const panel = new FeaturePanel(api, setHighlight, () => state.cjj61);
const timeSlider = new TimeSlider({
  slider: document.getElementById('time-slider'),
  date: document.getElementById('time-date'),
  now: document.getElementById('time-now'),
  label: document.getElementById('time-label'),
}, (date) => {
  state.date = date;
  syncMap();
  if (panel.current) panel.show(panel.current.layer, panel.current.featureId, asOfInstant(date));
});

let marker = null;
const search = new SearchBox(api, (result) => {
  marker ??= new maplibregl.Marker({ color: '#d9480f' });
  marker.setLngLat([result.lon, result.lat]).addTo(map);
  map.flyTo({ center: [result.lon, result.lat], zoom: Math.max(map.getZoom(), 17) });
});

/** Rebuilds the whole style: for a new layer list (a key was entered or cleared). */
function rebuildStyle() {
  state.tileJsonUrl = tileJsonUrl(layerList.shown);
  state.styleLayers = orderedStyleLayers(state.layers, state.cjj61.pipeClasses);
  map.setStyle(buildStyle(state.styleLayers, layerList.shown, state.tileJsonUrl), { diff: false });
}

/**
 * Adds the style layers of shown layers that the source's TileJSON now lists, and removes those
 * of hidden layers, keeping the drawing order. Idempotent; run after every toggle and whenever
 * the source's TileJSON arrives (a layer switched on is styled once the server has listed it).
 */
function reconcileStyleLayers() {
  const available = new Set(map.getSource(SOURCE_ID)?.vectorLayerIds ?? []);
  let above = selectionLayers()[0].id;
  for (let i = state.styleLayers.length - 1; i >= 0; i--) {
    const spec = state.styleLayers[i];
    const wanted = layerList.shown.has(spec.metadata.layer) && available.has(spec.metadata.layer);
    const present = Boolean(map.getLayer(spec.id));
    if (wanted && !present) map.addLayer(spec, above);
    else if (!wanted && present) map.removeLayer(spec.id);
    if (wanted) above = spec.id;
  }
}

/** Brings the map in line with the layer toggles and the date, without rebuilding the style. */
function syncMap() {
  const source = map.getSource(SOURCE_ID);
  if (!source) {
    // The style is still loading: build it again from the current state.
    rebuildStyle();
    return;
  }
  reconcileStyleLayers();
  // With nothing shown the source is left as it is: no style layer uses it, so it loads nothing.
  const url = tileJsonUrl(layerList.shown);
  if (layerList.shown.size && url !== state.tileJsonUrl) {
    state.tileJsonUrl = url;
    source.setUrl(url);
  }
}

map.on('sourcedata', (e) => {
  if (e.sourceId !== SOURCE_ID || e.sourceDataType !== 'metadata') return;
  reconcileStyleLayers();
  // A TileJSON that loads means the earlier failure (if any) is behind us.
  showMapStatus('');
});

/** The first view: the city's buildings (or, lacking them, all its layers) at a zoom that shows them. */
function fitToCity() {
  if (state.fitted || viewFromLink) return;
  const extents = (layers) => layers.map((l) => l.extent?.spatial?.bbox?.[0]).filter((b) => Array.isArray(b) && b.length >= 4);
  const boxes = extents(state.layers.filter((l) => l.domain === 'building'));
  const all = boxes.length ? boxes : extents(state.layers);
  if (!all.length) return;
  const bounds = [
    Math.min(...all.map((b) => b[0])), Math.min(...all.map((b) => b[1])),
    Math.max(...all.map((b) => b[2])), Math.max(...all.map((b) => b[3])),
  ];
  map.fitBounds(bounds, { padding: 40, animate: false, maxZoom: 17 });
  if (map.getZoom() < START_ZOOM_MIN) map.jumpTo({ zoom: START_ZOOM_MIN });
  state.fitted = true;
}

function setLayers(collections) {
  state.layers = collections;
  state.byId = new Map(collections.map((l) => [l.id, l]));
  layerList.setLayers(collections, state.cjj61.pipeClasses);
  panel.close();
  rebuildStyle();
  fitToCity();
}

const keyInput = document.getElementById('api-key');
const keyStatus = document.getElementById('api-key-status');

/**
 * Lists the layers this key may read, and uses the key from then on. A key the server refuses
 * (unknown or revoked: 401) is not used; the public layers are listed instead.
 */
async function applyKey(key) {
  keyStatus.textContent = key ? '正在验证密钥…' : '';
  let collections;
  try {
    collections = (await api.getJson('collections', {}, { key })).collections;
    api.key = key;
    Api.saveKey(key);
    const restricted = collections.filter((l) => l.accessClass !== 'public').length;
    keyStatus.textContent = key ? `密钥有效：可见 ${collections.length} 个图层，其中非公开 ${restricted} 个` : '未使用密钥：仅显示公开图层';
    keyStatus.className = key ? 'status ok' : 'status';
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401 && key)) throw err;
    api.key = '';
    Api.saveKey('');
    keyStatus.textContent = '密钥无效或已被吊销，仅显示公开图层';
    keyStatus.className = 'status error';
    collections = (await api.getJson('collections', {}, { key: '' })).collections;
  }
  setLayers(collections);
}

document.getElementById('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  applyKey(keyInput.value.trim()).catch(reportStartError);
});
document.getElementById('api-key-clear').addEventListener('click', () => {
  keyInput.value = '';
  applyKey('').catch(reportStartError);
});

/** Which catalog layer a rendered feature belongs to, if it is one of ours. */
const catalogLayerOf = (f) => (f.source === SOURCE_ID ? state.byId.get(f.sourceLayer) : undefined);

/**
 * The feature under the pointer: lines and points are thin targets, so a few pixels around it
 * count; MapLibre returns the top-most first, which is also the drawing order the user sees.
 */
function featureAt(point) {
  const r = 4;
  const hits = map.queryRenderedFeatures([[point.x - r, point.y - r], [point.x + r, point.y + r]]);
  return hits.find((f) => catalogLayerOf(f) && f.properties?.feature_id !== undefined);
}

map.on('click', (e) => {
  const hit = featureAt(e.point);
  if (!hit) {
    panel.close();
    return;
  }
  panel.show(catalogLayerOf(hit), String(hit.properties.feature_id), asOfInstant(state.date));
});
map.on('mousemove', (e) => {
  map.getCanvas().style.cursor = featureAt(e.point) ? 'pointer' : '';
});

function reportStartError(err) {
  const message = err instanceof ApiError ? `${err.message}（${err.code}）` : String(err?.message ?? err);
  document.getElementById('layers-status').textContent = `无法读取图层列表：${message}`;
}

async function start() {
  // Without the key: a key the server refuses would make even this a 401.
  state.cjj61 = await api.getJson('web/cjj61.json', {}, { key: '' });
  await styleLoaded;
  const key = Api.savedKey();
  keyInput.value = key;
  await applyKey(key);
  await new Promise((resolve) => map.once('idle', resolve));
}

/** For the browser console and the web-map test: the live objects, and a promise of the first full view. */
window.onemap = { map, api, state, layerList, timeSlider, panel, search };
window.onemap.ready = start().then(() => {
  window.onemap.loaded = true;
}, (err) => {
  reportStartError(err);
  throw err;
});
