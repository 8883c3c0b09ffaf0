/**
 * The map's look: a MapLibre style built from the layer catalog (GET /collections), with no base
 * map from the internet. Our own water, green space, roads and administrative outlines are the
 * base, over a plain background.
 *
 * Each catalog layer becomes a few style layers (fill and outline, casing and line, label), all
 * drawing from one composite vector tile source (see app.js for why).
 */

export const SOURCE_ID = 'onemap';
export const SELECTION_SOURCE_ID = 'selection';
export const BACKGROUND = '#f2efe9';

/** Building fill, drawn opaque so that a building reads as one colour (the web-map test relies on it). */
export const BUILDING_FILL = '#d4c4ae';

/** The domains in the order the layer list shows them, with the names the programme documents use. */
export const DOMAIN_GROUPS = [
  { domain: 'pipeline', title: '地下管线' },
  { domain: 'building', title: '建（构）筑物' },
  { domain: 'land', title: '土地资源' },
  { domain: 'water', title: '河网水系' },
  { domain: 'road', title: '道路交通' },
  { domain: 'green', title: '园林绿化' },
  { domain: 'address', title: '地名地址与行政区划' },
  { domain: 'business', title: '业务数据' },
];

/**
 * With no glyph server in the style, MapLibre draws every glyph in the browser from these CSS
 * font families (Chinese ones from the map's localIdeographFontFamily, see app.js).
 */
const FONT = ['sans-serif'];

/** What kind of geometry a catalog layer holds, as far as drawing goes. */
export function geometryKind(layer) {
  switch (layer.geometryType) {
    case 'Point': case 'MultiPoint': return 'point';
    case 'LineString': case 'MultiLineString': return 'line';
    default: return 'polygon';
  }
}

const isAdminArea = (layer) => layer.domain === 'address' && geometryKind(layer) === 'polygon';

/**
 * Drawing order, bottom to top: areas (land under green under water under buildings), then
 * lines (roads under pipelines), administrative outlines, points, labels. Pipelines lie above
 * buildings on purpose: this is a utility map, and the pipes under a building are what it shows.
 */
export function drawRank(layer) {
  const kind = geometryKind(layer);
  if (isAdminArea(layer)) return 70;
  if (kind === 'polygon') return { land: 10, green: 20, water: 30, business: 35, pipeline: 38, building: 40 }[layer.domain] ?? 36;
  if (kind === 'line') return { water: 45, green: 46, road: 50, pipeline: 60 }[layer.domain] ?? 65;
  return { pipeline: 80, address: 85, business: 90 }[layer.domain] ?? 88;
}

/** Layers shown on first visit: the base and the pipe lines; dense point layers wait for a click. */
export function shownByDefault(layer) {
  if (geometryKind(layer) !== 'point') return true;
  return layer.domain === 'business';
}

const rgb = ([r, g, b]) => `rgb(${r}, ${g}, ${b})`;

/**
 * Pipeline colour by the feature's pipe_class, per CJJ 61-2017 (城市地下管线探测技术规程) as the
 * importer's code table states it (data-import/profiles/cjj61.ts, served as /web/cjj61.json):
 * 给水 JS 0,255,255; 排水 PS 76,57,38; 燃气 RQ 255,0,255; 热力 RL 255,128,0; 电力 DL 255,0,0;
 * 通信 TX 0,255,0; 工业 GY 0,0,0; 综合管廊 ZH and 不明 BM 102,0,204. A pipe without a known class is
 * drawn in the 不明 (unknown) colour, which is what the standard gives an unidentified line.
 * @param {Record<string, { color: number[] }>} pipeClasses
 */
export function pipeColour(pipeClasses) {
  const unknown = pipeClasses.BM ? rgb(pipeClasses.BM.color) : 'rgb(102, 0, 204)';
  const match = ['match', ['get', 'pipe_class']];
  for (const [code, info] of Object.entries(pipeClasses)) match.push(code, rgb(info.color));
  match.push(unknown);
  return match;
}

const zoomed = (pairs) => ['interpolate', ['linear'], ['zoom'], ...pairs];

/**
 * Screen pixels per ground metre at a zoom, at Quanzhou's latitude (24.9°N): MapLibre's world is
 * 512·2^z pixels around the equator, shrunk by cos(latitude). Within one city the latitude term
 * varies by well under 1 %.
 */
const pixelsPerMetre = (z) => (512 * 2 ** z) / (40_075_016.686 * Math.cos((24.9 * Math.PI) / 180));

/**
 * The style layers of one catalog layer. Ids are `${layer.id}` for the main layer and
 * `${layer.id}::suffix` for the extras (outline, casing, label); `metadata.layer` names the
 * catalog layer.
 */
export function styleLayersFor(layer, pipeClasses) {
  const base = { source: SOURCE_ID, 'source-layer': layer.id, metadata: { layer: layer.id }, layout: {} };
  const kind = geometryKind(layer);
  const pipe = pipeColour(pipeClasses);
  const out = [];
  const label = (field, minzoom, maxzoom, extra = {}) => out.push({
    ...base,
    id: `${layer.id}::label`,
    type: 'symbol',
    minzoom,
    maxzoom,
    layout: {
      ...base.layout,
      'text-field': ['get', field],
      'text-font': FONT,
      'text-size': 12,
      'text-max-width': 8,
      ...extra,
    },
    paint: { 'text-color': '#3d3d3d', 'text-halo-color': 'rgba(255,255,255,0.9)', 'text-halo-width': 1.5 },
  });

  if (isAdminArea(layer)) {
    // Districts heavier than towns, towns than communities; any other area layer in between.
    const weight = { districts: 2.4, towns: 1.4, communities: 0.8 }[layer.id] ?? 1.2;
    out.push({
      ...base, id: layer.id, type: 'line',
      paint: { 'line-color': '#8c8479', 'line-width': weight, 'line-opacity': 0.8, ...(weight < 1 ? { 'line-dasharray': [3, 2] } : {}) },
    });
    const zooms = { districts: [9, 13], towns: [12, 15], communities: [14, 16] }[layer.id] ?? [13, 16];
    label('name', zooms[0], zooms[1], { 'text-size': layer.id === 'districts' ? 15 : 12, 'symbol-avoid-edges': true });
    return out;
  }

  if (kind === 'polygon') {
    const colours = {
      building: [BUILDING_FILL, 1, '#a8947b'],
      land: ['#ebe4d2', 0.7, '#cdbf9f'],
      water: ['#a9d3ee', 1, '#7fb5da'],
      green: ['#cde6b5', 1, '#a7cf8b'],
      business: ['#c5b3e6', 0.5, '#8e6fc4'],
    };
    const [fill, opacity, outline] = layer.domain === 'pipeline' ? [pipe, 0.3, pipe] : colours[layer.domain] ?? ['#dddddd', 0.5, '#aaaaaa'];
    out.push({ ...base, id: layer.id, type: 'fill', paint: { 'fill-color': fill, 'fill-opacity': opacity } });
    out.push({ ...base, id: `${layer.id}::outline`, type: 'line', paint: { 'line-color': outline, 'line-width': layer.domain === 'building' ? 0.8 : 0.5 } });
    if (layer.domain === 'water' || layer.domain === 'green') label('name', 13, 24, { 'text-size': 12 });
    return out;
  }

  if (kind === 'line') {
    if (layer.domain === 'road') {
      // Drawn at the road's red-line width (width_m, else a width by class: 主干路, 次干路, 支路), so
      // that roads and buildings keep their real proportions when zooming in.
      const metres = ['to-number', ['coalesce', ['get', 'width_m'], ['match', ['get', 'class'], '主干路', 40, '次干路', 24, 12]]];
      const fill = ['interpolate', ['exponential', 2], ['zoom'],
        10, ['max', 0.5, ['*', metres, pixelsPerMetre(10)]],
        20, ['*', metres, pixelsPerMetre(20)]];
      const casing = ['interpolate', ['exponential', 2], ['zoom'],
        10, ['max', 1, ['+', 1, ['*', metres, pixelsPerMetre(10)]]],
        20, ['+', 2, ['*', metres, pixelsPerMetre(20)]]];
      out.push({ ...base, id: `${layer.id}::casing`, type: 'line', layout: { ...base.layout, 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': '#c9bfae', 'line-width': casing } });
      out.push({ ...base, id: layer.id, type: 'line', layout: { ...base.layout, 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': '#ffffff', 'line-width': fill } });
      label('name', 14, 24, { 'symbol-placement': 'line', 'text-size': 12 });
      return out;
    }
    const colour = layer.domain === 'pipeline' ? pipe : layer.domain === 'water' ? '#7fb5da' : '#777777';
    out.push({
      ...base, id: layer.id, type: 'line',
      layout: { ...base.layout, 'line-cap': 'round' },
      paint: { 'line-color': colour, 'line-width': zoomed([13, 1, 16, 2, 19, 4]) },
    });
    return out;
  }

  const colour = layer.domain === 'pipeline' ? pipe : { address: '#8d6e63', business: '#7b1fa2' }[layer.domain] ?? '#555555';
  out.push({
    ...base, id: layer.id, type: 'circle',
    paint: {
      'circle-color': colour,
      'circle-radius': zoomed([14, 2, 18, layer.domain === 'business' ? 6 : 4.5]),
      'circle-stroke-color': '#ffffff',
      'circle-stroke-width': 1,
    },
  });
  return out;
}

const isType = (...types) => ['in', ['geometry-type'], ['literal', types]];

/** The highlight of the clicked feature (or of one of its past versions), above everything. */
export function selectionLayers() {
  const source = SELECTION_SOURCE_ID;
  return [
    { id: 'selection::fill', type: 'fill', source, filter: isType('Polygon', 'MultiPolygon'), paint: { 'fill-color': '#ff7a00', 'fill-opacity': 0.2 } },
    { id: 'selection::line', type: 'line', source, filter: isType('LineString', 'MultiLineString', 'Polygon', 'MultiPolygon'), paint: { 'line-color': '#ff5a00', 'line-width': 3 } },
    { id: 'selection::point', type: 'circle', source, filter: isType('Point', 'MultiPoint'), paint: { 'circle-radius': 8, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#ff5a00', 'circle-stroke-width': 3 } },
  ];
}

/**
 * The style layers of these catalog layers in drawing order: geometry by drawRank, then every
 * label, so that no line or fill covers a name.
 */
export function orderedStyleLayers(layers, pipeClasses) {
  const all = [...layers].sort((a, b) => drawRank(a) - drawRank(b)).flatMap((l) => styleLayersFor(l, pipeClasses));
  return [...all.filter((s) => s.type !== 'symbol'), ...all.filter((s) => s.type === 'symbol')];
}

/**
 * The whole style, drawing the shown layers. Hidden layers have no style layers at all: MapLibre
 * reports a style layer whose source layer the TileJSON does not list as an error.
 * @param {object[]} styleLayers  orderedStyleLayers() of the listed layers
 * @param {Set<string>} shown  catalog layer ids
 * @param {string} tileJsonUrl  the composite source's TileJSON, for the shown layers
 */
export function buildStyle(styleLayers, shown, tileJsonUrl) {
  return {
    version: 8,
    name: '泉州城市资源一张图',
    sources: {
      [SOURCE_ID]: { type: 'vector', url: tileJsonUrl },
      [SELECTION_SOURCE_ID]: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': BACKGROUND } },
      ...styleLayers.filter((s) => shown.has(s.metadata.layer)),
      ...selectionLayers(),
    ],
  };
}
