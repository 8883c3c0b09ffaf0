import { ApiError } from './api.js';

/**
 * The side panel for a clicked feature: its attributes under the Chinese titles of the layer's
 * schema (with units), CJJ 61 codes of pipe layers with their names, and every version it has
 * had (valid from / to). Clicking a version shows that version's attributes and draws its
 * geometry. Everything from the data is written with textContent: attribute values are whatever
 * a department's table held.
 */

const CHINA_DAY = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' });

/** An RFC 3339 instant as the day it falls on in China (YYYY-MM-DD). */
export const chinaDay = (iso) => CHINA_DAY.format(new Date(iso));

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const c of children) node.append(c);
  return node;
}

/**
 * The CJJ 61 name of a coded pipe attribute (pipe_class RQ → 燃气), or undefined. Sub-types are
 * per class (GD is 供电 under power, 广电 under telecom).
 */
function cjj61Name(cjj61, name, value, props) {
  switch (name) {
    case 'pipe_class': return cjj61.pipeClasses?.[value]?.nameZh;
    case 'sub_type': return cjj61.subTypes?.[props.pipe_class]?.find((t) => t.code === value)?.nameZh;
    case 'material': return cjj61.materials?.[value];
    case 'burial_method': return cjj61.burialMethods?.[value];
    case 'status': return cjj61.status?.[value];
    default: return undefined;
  }
}

function formatValue(value, def, decoded) {
  if (value === null || value === undefined || value === '') return '—';
  if (decoded && decoded !== String(value)) return `${decoded}（${value}）`;
  if (typeof value === 'object') return JSON.stringify(value);
  // No digit grouping: most numbers here are years, codes and counts (2021, not 2,021).
  const text = typeof value === 'number' ? value.toLocaleString('zh-CN', { maximumFractionDigits: 3, useGrouping: false }) : String(value);
  return def?.unit ? `${text} ${def.unit}` : text;
}

export class FeaturePanel {
  /**
   * @param {import('./api.js').Api} api
   * @param {(geometry: object | null) => void} highlight  draws (or clears) the shown geometry
   * @param {() => object} codeTables  the CJJ 61 code tables (/web/cjj61.json)
   */
  constructor(api, highlight, codeTables) {
    this.api = api;
    this.highlight = highlight;
    this.codeTables = codeTables;
    this.root = document.getElementById('feature-panel');
    this.title = document.getElementById('feature-title');
    this.subtitle = document.getElementById('feature-subtitle');
    this.status = document.getElementById('feature-status');
    this.table = document.querySelector('#feature-attributes tbody');
    this.history = document.getElementById('feature-history');
    document.getElementById('feature-close').addEventListener('click', () => this.close());
    this.request = null;
    /** The feature shown, so that a new date can show its version then. */
    this.current = null;
  }

  close() {
    this.request?.abort();
    this.current = null;
    this.root.hidden = true;
    document.body.classList.remove('feature-panel-open');
    this.highlight(null);
  }

  /**
   * Shows a feature as of an instant (undefined for now).
   * @param {object} layer  its /collections entry
   * @param {string} featureId
   * @param {string | undefined} datetime
   */
  async show(layer, featureId, datetime) {
    this.request?.abort();
    const request = new AbortController();
    this.request = request;
    this.current = { layer, featureId };
    this.root.hidden = false;
    document.body.classList.add('feature-panel-open');
    this.title.textContent = layer.title;
    this.subtitle.textContent = `要素编号 ${featureId}`;
    this.status.textContent = '加载中…';
    this.table.replaceChildren();
    this.history.replaceChildren();
    const base = `collections/${encodeURIComponent(layer.id)}/items/${encodeURIComponent(featureId)}`;
    // Both at once; the history is worth showing even when the feature did not exist on that day.
    const [feature, history] = await Promise.allSettled([
      this.api.getJson(base, { datetime }, { signal: request.signal }),
      this.api.getJson(`${base}/history`, {}, { signal: request.signal }),
    ]);
    if (this.request !== request) return;
    if (feature.status === 'fulfilled') {
      this.status.textContent = datetime ? `${chinaDay(datetime)} 时的版本` : '现行版本';
      this.showVersion(layer, feature.value);
    } else {
      const err = feature.reason;
      if (err?.name === 'AbortError') return;
      this.status.textContent = err instanceof ApiError && err.status === 404
        ? (datetime ? `该要素在 ${chinaDay(datetime)} 时不存在` : '该要素已不存在，或无权查看')
        : `无法读取要素：${err.message}`;
      this.highlight(null);
    }
    if (history.status === 'fulfilled') this.showHistory(layer, history.value.features ?? [], feature.value);
  }

  showVersion(layer, feature) {
    const props = feature.properties ?? {};
    const schema = layer.attributes ?? {};
    const codes = layer.domain === 'pipeline' ? this.codeTables() : {};
    // The schema's attributes first, then anything the schema lacks.
    const names = [...Object.keys(schema).filter((k) => k in props), ...Object.keys(props).filter((k) => !(k in schema))];
    const rows = names.map((name) => el('tr', { title: schema[name]?.description ?? name },
      el('th', {}, schema[name]?.title ?? name),
      el('td', {}, formatValue(props[name], schema[name], cjj61Name(codes, name, props[name], props)))));
    this.table.replaceChildren(...rows);
    this.highlight(feature.geometry ?? null);
  }

  showHistory(layer, versions, current) {
    // The item's JSON-FG time and the history's version may spell the same instant differently.
    const shownFrom = Date.parse(current?.time?.interval?.[0] ?? '');
    const items = [...versions]
      .sort((a, b) => Date.parse(b.version.validFrom) - Date.parse(a.version.validFrom))
      .map((v, i, all) => {
        const { validFrom, validTo } = v.version;
        const li = el('li', {},
          el('button', { type: 'button', className: 'version' },
            el('span', { className: 'period' }, `${chinaDay(validFrom)} 至 ${validTo ? chinaDay(validTo) : '今'}`),
            el('span', { className: 'tag' }, validTo ? `第 ${all.length - i} 版` : `第 ${all.length - i} 版 · 现行`)));
        li.dataset.validFrom = validFrom;
        if (validTo) li.dataset.validTo = validTo;
        if (Date.parse(validFrom) === shownFrom) li.classList.add('shown');
        li.querySelector('button').addEventListener('click', () => {
          for (const other of this.history.children) other.classList.toggle('shown', other === li);
          this.status.textContent = `第 ${all.length - i} 版（${chinaDay(validFrom)} 起）`;
          this.showVersion(layer, v);
        });
        return li;
      });
    this.history.replaceChildren(...items);
  }
}
