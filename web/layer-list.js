import { DOMAIN_GROUPS, drawRank, geometryKind, shownByDefault } from './style.js';

/**
 * The layer list: the catalog layers the caller may read, grouped by domain, each with a toggle,
 * a group toggle per domain, and the CJJ 61 colour legend under the pipelines. The user's choices
 * are remembered (localStorage) per layer id, so a layer that appears later (a key was entered)
 * starts from its default.
 */

const CHOICES_STORAGE = 'onemap.layers';
/** The server cuts at most this many layers into one composite tile (server/routes/tiles.ts). */
export const MAX_SHOWN = 32;

const ACCESS_BADGES = { internal: '内部', restricted: '受限' };

function loadChoices() {
  try { return JSON.parse(localStorage.getItem(CHOICES_STORAGE) ?? '{}') ?? {}; } catch { return {}; }
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const c of children) node.append(c);
  return node;
}

export class LayerList {
  /**
   * @param {HTMLElement} container
   * @param {HTMLElement} status
   * @param {(shown: Set<string>) => void} onChange  called with the ids shown after every change
   */
  constructor(container, status, onChange) {
    this.container = container;
    this.status = status;
    this.onChange = onChange;
    this.layers = [];
    this.shown = new Set();
    this.choices = loadChoices();
  }

  /** Replaces the list with these /collections entries. */
  setLayers(layers, pipeClasses) {
    this.layers = layers;
    const wanted = layers.filter((l) => this.choices[l.id] ?? shownByDefault(l));
    // Past the composite limit, the layers drawn lowest (the base) win; the rest start hidden.
    this.shown = new Set(wanted.sort((a, b) => drawRank(a) - drawRank(b)).slice(0, MAX_SHOWN).map((l) => l.id));
    this.render(pipeClasses);
  }

  isShown(layer) {
    return this.shown.has(layer.id);
  }

  render(pipeClasses) {
    this.container.replaceChildren();
    for (const group of DOMAIN_GROUPS) {
      const members = this.layers.filter((l) => l.domain === group.domain);
      if (members.length) this.container.append(this.groupElement(group.title, members, group.domain === 'pipeline' ? pipeClasses : null));
    }
    // Domains this page does not know yet still get listed, under their own name.
    const known = new Set(DOMAIN_GROUPS.map((g) => g.domain));
    for (const domain of new Set(this.layers.map((l) => l.domain).filter((d) => !known.has(d)))) {
      this.container.append(this.groupElement(domain, this.layers.filter((l) => l.domain === domain), null));
    }
  }

  groupElement(title, members, pipeClasses) {
    const groupBox = el('input', { type: 'checkbox', className: 'group-toggle' });
    const items = members.map((layer) => {
      const box = el('input', { type: 'checkbox', checked: this.shown.has(layer.id), value: layer.id });
      box.dataset.layerId = layer.id;
      box.addEventListener('change', () => {
        if (!this.set([layer.id], box.checked)) box.checked = false;
        syncGroup();
      });
      const badge = ACCESS_BADGES[layer.accessClass];
      const kind = { point: '点', line: '线', polygon: '面' }[geometryKind(layer)];
      return el('li', {},
        el('label', { title: `${layer.titleEn ?? ''} (${layer.id})` },
          box, ` ${layer.title}`,
          el('span', { className: 'kind' }, kind),
          badge ? el('span', { className: `badge ${layer.accessClass}` }, badge) : ''));
    });
    const syncGroup = () => {
      const on = members.filter((l) => this.shown.has(l.id)).length;
      groupBox.checked = on === members.length;
      groupBox.indeterminate = on > 0 && on < members.length;
    };
    groupBox.addEventListener('change', () => {
      this.set(members.map((l) => l.id), groupBox.checked);
      for (const li of items) {
        const box = li.querySelector('input');
        box.checked = this.shown.has(box.value);
      }
      syncGroup();
    });
    syncGroup();
    const details = el('details', { open: true, className: 'layer-group' },
      el('summary', {}, groupBox, ` ${title}`, el('span', { className: 'count' }, String(members.length))),
      el('ul', {}, ...items));
    if (pipeClasses) details.append(legend(pipeClasses));
    return details;
  }

  /** Shows or hides layers; false when that would exceed what one tile request can carry. */
  set(ids, on) {
    const next = new Set(this.shown);
    for (const id of ids) on ? next.add(id) : next.delete(id);
    if (next.size > MAX_SHOWN) {
      this.status.textContent = `一次最多显示 ${MAX_SHOWN} 个图层，请先关闭其他图层`;
      return false;
    }
    this.status.textContent = '';
    this.shown = next;
    for (const id of ids) this.choices[id] = on;
    try { localStorage.setItem(CHOICES_STORAGE, JSON.stringify(this.choices)); } catch { /* not remembered */ }
    this.onChange(this.shown);
    return true;
  }
}

/** CJJ 61 class colours, for the classes that have a name. */
function legend(pipeClasses) {
  const list = el('ul', { className: 'legend', title: 'CJJ 61-2017 管线颜色' });
  for (const info of Object.values(pipeClasses)) {
    const swatch = el('span', { className: 'swatch' });
    swatch.style.background = `rgb(${info.color.join(',')})`;
    list.append(el('li', {}, swatch, ` ${info.nameZh} ${info.code}`));
  }
  return list;
}
