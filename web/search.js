import { ApiError } from './api.js';

/**
 * The address search box, a client of GET /geocode?address=… (geocoder/). A server without the
 * geocoder answers 404 or 501, and the box says so instead of failing. Results are read in
 * either of the shapes a geocoder is likely to answer with (ours is the second):
 * a GeoJSON FeatureCollection of points (properties: address/label/name, score, level), or
 * `{ results: [{ address, lon, lat | location: [lon, lat] | coordinates: [lon, lat], score, level }] }`.
 */

export const NOT_ENABLED = '地址搜索服务尚未启用';

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const c of children) node.append(c);
  return node;
}

const finite = (...xs) => xs.every((x) => typeof x === 'number' && Number.isFinite(x));

/** The geocoder's answer as [{ label, lon, lat, score?, level? }], best first, unusable rows dropped. */
export function readGeocodeResults(body) {
  const rows = Array.isArray(body?.features) ? body.features.map((f) => ({
    ...f.properties,
    coordinates: f.geometry?.type === 'Point' ? f.geometry.coordinates : undefined,
  })) : Array.isArray(body?.results) ? body.results : Array.isArray(body) ? body : [];
  return rows.map((r) => {
    const c = r.coordinates ?? r.location ?? (Array.isArray(r.position) ? r.position : undefined);
    const [lon, lat] = Array.isArray(c) ? c : [r.lon ?? r.lng ?? r.x, r.lat ?? r.y];
    return {
      label: r.address ?? r.label ?? r.name ?? r.standardAddress ?? '',
      lon: Number(lon),
      lat: Number(lat),
      score: typeof r.score === 'number' ? r.score : undefined,
      level: r.level ?? r.matchLevel ?? r.match_level,
    };
  }).filter((r) => finite(r.lon, r.lat) && Math.abs(r.lon) <= 180 && Math.abs(r.lat) <= 90);
}

export class SearchBox {
  /**
   * @param {import('./api.js').Api} api
   * @param {(result: { label: string, lon: number, lat: number }) => void} goTo
   */
  constructor(api, goTo) {
    this.api = api;
    this.goTo = goTo;
    this.form = document.getElementById('search-form');
    this.input = document.getElementById('search-input');
    this.status = document.getElementById('search-status');
    this.list = document.getElementById('search-results');
    this.request = null;
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.search(this.input.value.trim());
    });
  }

  async search(address) {
    if (!address) return;
    this.request?.abort();
    const request = new AbortController();
    this.request = request;
    this.status.textContent = '搜索中…';
    this.list.replaceChildren();
    let body;
    try {
      body = await this.api.getJson('geocode', { address }, { signal: request.signal });
    } catch (err) {
      if (err?.name === 'AbortError' || this.request !== request) return;
      this.status.textContent = err instanceof ApiError && (err.status === 404 || err.status === 501)
        ? NOT_ENABLED
        : `搜索失败：${err.message}`;
      return;
    }
    if (this.request !== request) return;
    const results = readGeocodeResults(body);
    if (!results.length) {
      this.status.textContent = '未找到匹配的地址';
      return;
    }
    this.status.textContent = `找到 ${results.length} 个结果`;
    this.list.replaceChildren(...results.map((r) => {
      const detail = [r.level, r.score !== undefined ? `匹配度 ${Math.round(r.score * 100) / 100}` : ''].filter(Boolean).join(' · ');
      const button = el('button', { type: 'button' }, el('span', {}, r.label || `${r.lon.toFixed(6)}, ${r.lat.toFixed(6)}`), detail ? el('small', {}, detail) : '');
      button.addEventListener('click', () => this.goTo(r));
      return el('li', {}, button);
    }));
    this.goTo(results[0]);
  }
}
