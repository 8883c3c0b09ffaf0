import type { Position } from 'geojson';
import { toSegment, type AddressIndex, type MatchLevel, type Road, type StandardAddress } from './address-index.ts';
import { isAncestor, lineage, type AdminNode } from './divisions.ts';
import type { Components, ParsedAddress } from './parse.ts';

/**
 * Parsed address → ranked standard addresses. Each result says how it was found and how sure it
 * is, in the manner of the commercial geocoders' 匹配级别 and confidence.
 *
 * The score (0–100) is the level's ceiling less what disagrees:
 *   ceiling  户室/单元/楼栋/门牌号 100, interpolated 门牌号 80, 兴趣点 90, 道路交叉口 90, 道路 60,
 *            社区/村 50, 乡镇/街道 40, 区县 30, 市 20, 省 10;
 *   less     15 for each administrative area the text names that the address is not in,
 *            8 for each name read with one character wrong,
 *            10 for each part the register does not have (a building, a unit or a sub-number
 *               that is not there: the answer is the coarser level that is),
 *            5 when text is left that nothing explains.
 * So 100 means every written part was found exactly in the register; ≥ 80 places the point at
 * the right door; 60 the right road; below 50 an area, not a place.
 */

export const LEVEL_CEILING: Readonly<Record<MatchLevel, number>> = {
  户室: 100, 单元: 100, 楼栋: 100, 门牌号: 100, 兴趣点: 90, 道路交叉口: 90, 道路: 60, '社区/村': 50, '乡镇/街道': 40, 区县: 30, 市: 20, 省: 10,
};
const INTERPOLATED_CEILING = 80;
const ADMIN_LEVEL: Readonly<Record<AdminNode['level'], MatchLevel>> = { province: '省', city: '市', district: '区县', town: '乡镇/街道', community: '社区/村' };

export interface GeocodeResult {
  /** The standard address (or area, road) as the register writes it. */
  address: string;
  /** The standard address's code, or the division code for an area. */
  code: string | null;
  level: MatchLevel;
  score: number;
  /** CRS84 (CGCS2000 to centimetres); null for an area the store has no outline of. */
  lon: number | null;
  lat: number | null;
  components: Components;
  /** Division codes of the answer, where known. */
  divisionCode: string | null;
  /** The door was not in the register: placed between its neighbours on the road. */
  interpolated: boolean;
  /** Why this answer and what was discounted, for people checking a match. */
  notes: string[];
}

const PENALTY = { area: 15, fuzzy: 8, missing: 10, leftover: 5 };

export interface MatchContext {
  index: AddressIndex;
  /** The served city: local roads and compounds only stand for it. */
  home: AdminNode | null;
}

export function matchParsed(parsed: ParsedAddress, ctx: MatchContext, limit = 5): GeocodeResult[] {
  const { home } = ctx;
  const inHome = !home || !parsed.admin || parsed.admin === home || isAncestor(parsed.admin, home) || isAncestor(home, parsed.admin);
  let out: GeocodeResult[] = [];
  if (inHome) {
    // A name read with a typo may fit several roads or compounds; the register decides (a door that exists beats one interpolated).
    for (const variant of readings(parsed)) out.push(...matchLocal(variant, ctx));
    const seen = new Set<string>();
    out = out.sort((a, b) => b.score - a.score).filter((r) => {
      const key = `${r.code}|${r.address}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }
  if (out.length === 0 && parsed.admin) out.push(...areaAnswers(parsed, ctx, inHome));
  out.sort((a, b) => b.score - a.score);
  return out.slice(0, limit);
}

const MAX_READINGS = 8;

function readings(parsed: ParsedAddress): ParsedAddress[] {
  const roads = parsed.road?.local ? [parsed.road.name, ...(parsed.road.alternatives ?? [])] : [null];
  const pois = parsed.poi?.local ? [parsed.poi.name, ...(parsed.poi.alternatives ?? [])] : [null];
  const out: ParsedAddress[] = [];
  for (const road of roads) for (const poi of pois) {
    if (out.length >= MAX_READINGS) break;
    out.push({
      ...parsed,
      road: road && parsed.road ? { ...parsed.road, name: road } : parsed.road,
      poi: poi && parsed.poi ? { ...parsed.poi, name: poi } : parsed.poi,
      components: { ...parsed.components, ...(road && !parsed.crossRoad ? { road } : {}), ...(poi ? { poi } : {}) },
    });
  }
  return out;
}

function matchLocal(parsed: ParsedAddress, ctx: MatchContext): GeocodeResult[] {
  const { index } = ctx;
  const road = parsed.road?.local ? index.roads.get(parsed.road.name) : undefined;
  const poi = parsed.poi?.local ? index.pois.get(parsed.poi.name) : undefined;
  if (road && parsed.crossRoad) {
    const other = index.roads.get(parsed.crossRoad.name);
    const hit = other ? crossing(road, other) : null;
    if (hit) {
      return [finish(parsed, {
        address: `${prefixOf(parsed, road)}${road.name}与${other!.name}交叉口`, code: null, level: '道路交叉口', lon: hit[0]!, lat: hit[1]!,
        components: { ...adminComponents(parsed), road: road.name }, divisionCode: parsed.admin?.code ?? null, interpolated: false,
      }, null, [`${road.name} and ${other!.name} cross here`])];
    }
  }
  if (road && parsed.crossRoad) {
    const results = onRoad({ ...parsed, crossRoad: null }, road, poi, index);
    for (const r of results) r.notes.unshift(`${road.name} and ${parsed.crossRoad.name} do not meet`);
    return results;
  }
  if (road) return onRoad(parsed, road, poi, index);
  const former = parsed.road?.local ? formerRoad(parsed, ctx.index) : null;
  if (former) return former;
  if (poi) return inCompound(parsed, poi);
  return [];
}

/** An address written with a road's former name (the register keeps what it was called until when). */
function formerRoad(parsed: ParsedAddress, index: AddressIndex): GeocodeResult[] | null {
  const old = parsed.road!.name;
  const renamed = index.formerRoads.get(old);
  const number = parsed.components.roadNumber;
  const door = number ? index.formerDoors.get(`${old}|${number}`) : undefined;
  if (door) {
    const now = door.addresses[0]!;
    return atDoor(parsed, door.addresses, 0, [`${old}${number} is ${now.road}${now.roadNumber} since ${door.until.slice(0, 10)}`]);
  }
  const current = renamed ? index.roads.get(renamed.current) : undefined;
  if (!current) return null;
  const results = onRoad({ ...parsed, road: { ...parsed.road!, name: current.name }, components: { ...parsed.components, road: current.name } }, current, undefined);
  for (const r of results) r.notes.unshift(`${old} is called ${current.name} since ${renamed!.until.slice(0, 10)}`);
  return results;
}

interface Draft {
  address: string;
  code: string | null;
  level: MatchLevel;
  lon: number | null;
  lat: number | null;
  components: Components;
  divisionCode: string | null;
  interpolated: boolean;
}

function finish(parsed: ParsedAddress, draft: Draft, standard: StandardAddress | null, notes: string[], missing = 0): GeocodeResult {
  let score = draft.interpolated ? INTERPOLATED_CEILING : LEVEL_CEILING[draft.level];
  const why = [...notes];
  if (standard) {
    for (const key of ['district', 'town', 'community'] as const) {
      const written = parsed.written.has(key) ? parsed.components[key] : undefined;
      if (written && standard[key] && written !== standard[key]) {
        score -= PENALTY.area;
        why.push(`the text says ${written}, the register has ${standard[key]}`);
      }
    }
    if (parsed.components.poi && standard.poi && parsed.poi?.local && parsed.components.poi !== standard.poi) {
      score -= PENALTY.area;
      why.push(`the text says ${parsed.components.poi}, the register has ${standard.poi} at this door`);
    }
  }
  for (const part of [parsed.road, parsed.crossRoad, parsed.poi]) {
    if (part?.fuzzy) {
      score -= PENALTY.fuzzy;
      why.push(`read ${part.name} with one character differing`);
    }
  }
  score -= missing * PENALTY.missing;
  if (/[\u4e00-\u9fff]{2}/u.test(parsed.unparsed)) {
    score -= PENALTY.leftover;
    why.push(`left unexplained: ${parsed.unparsed}`);
  }
  return { ...draft, score: Math.max(1, Math.min(100, score)), notes: why };
}

function adminComponents(parsed: ParsedAddress): Components {
  const c: Components = {};
  for (const k of ['province', 'city', 'district', 'devzone', 'town', 'community'] as const) if (parsed.components[k]) c[k] = parsed.components[k];
  return c;
}

function prefixOf(parsed: ParsedAddress, road: Road): string {
  const admin = parsed.admin ? lineage(parsed.admin).map((n) => n.name).join('') : '';
  return admin || (road.districts.size === 1 ? [...road.districts][0]! : '');
}

function componentsOf(a: StandardAddress, depth: 'door' | 'full'): Components {
  const c: Components = {};
  const set = (k: keyof Components, v: string | null | undefined) => { if (v) c[k] = v; };
  set('province', a.province); set('city', a.city); set('district', a.district); set('town', a.town); set('community', a.community);
  set('road', a.road); set('roadNumber', a.roadNumber); set('poi', a.poi);
  if (depth === 'full') { set('building', a.building); set('unit', a.unit); set('room', a.room); }
  return c;
}

/** The register's text up to the door (and compound): 福建省…江滨北路1号笋浯新村. */
function doorText(a: StandardAddress): string {
  let text = a.text;
  for (const part of [a.room, a.unit, a.building]) if (part && text.endsWith(part)) text = text.slice(0, -part.length);
  return text;
}

/**
 * An answer from a register entry. At door or compound level the code is that of the entry
 * standing for the door (a compound's gate building): the register gives shared doors no code
 * of their own.
 */
function fromAddress(a: StandardAddress, level: MatchLevel, extra: Partial<Draft> = {}): Draft {
  const full = level === '楼栋' || level === '单元' || level === '户室';
  return {
    address: full ? a.text : doorText(a), code: a.id, level, lon: a.lon, lat: a.lat,
    components: componentsOf(a, full ? 'full' : 'door'), divisionCode: a.communityCode ?? a.townCode ?? a.districtCode ?? null, interpolated: false, ...extra,
  };
}

function onRoad(parsed: ParsedAddress, road: Road, poi: StandardAddress[] | undefined, index?: AddressIndex): GeocodeResult[] {
  const c = parsed.components;
  if (!c.roadNumber) {
    // 中山路笋浯新村: the compound, if it is on this road.
    const onThisRoad = poi?.filter((a) => a.road === road.name);
    if (onThisRoad?.length) return inCompound(parsed, onThisRoad);
    return [finish(parsed, {
      address: `${prefixOf(parsed, road)}${road.name}`, code: null, level: '道路', lon: road.middle[0]!, lat: road.middle[1]!,
      components: { ...adminComponents(parsed), road: road.name }, divisionCode: parsed.admin?.code ?? null, interpolated: false,
    }, null, [`road ${road.name}, ${Math.round(road.length)} m long; the point is its middle`])];
  }
  let missing = 0;
  const notes: string[] = [];
  let list = road.doors.get(c.roadNumber);
  if (!list && c.roadNumber.includes('-')) {
    const base = `${Number.parseInt(c.roadNumber, 10)}号`;
    list = road.doors.get(base);
    if (list) {
      missing++;
      notes.push(`${road.name}${c.roadNumber} is not in the register; answered with ${base}`);
    }
  }
  // A number re-assigned: the register remembers which door it was.
  const reassigned = !list && index ? index.formerDoors.get(`${road.name}|${c.roadNumber}`) : undefined;
  if (reassigned) {
    const now = reassigned.addresses[0]!;
    return atDoor(parsed, reassigned.addresses, 0, [`${road.name}${c.roadNumber} is ${now.road}${now.roadNumber} since ${reassigned.until.slice(0, 10)}`]);
  }
  if (!list) return interpolate(parsed, road, Number.parseInt(c.roadNumber, 10));
  return atDoor(parsed, list, missing, notes);
}

/** Addresses sharing one door (or one compound): narrowed by building, unit and room as far as the register goes. */
function atDoor(parsed: ParsedAddress, list: StandardAddress[], missing: number, notes: string[]): GeocodeResult[] {
  const c = parsed.components;
  if (c.building) {
    const same = list.filter((a) => a.building === c.building);
    if (same.length > 0) {
      const withUnit = c.unit ? same.filter((a) => a.unit === c.unit) : [];
      if (withUnit.length > 0) {
        const withRoom = c.room ? withUnit.filter((a) => a.room === c.room) : [];
        if (withRoom.length > 0) return withRoom.map((a) => finish(parsed, fromAddress(a, '户室'), a, notes, missing));
        const unit = withUnit.find((a) => !a.room) ?? withUnit[0]!;
        return [finish(parsed, fromAddress(unit, '单元'), unit, c.room ? [...notes, `room ${c.room} is not in the register`] : notes, missing)];
      }
      const building = same.find((a) => !a.unit && !a.room) ?? same[0]!;
      if (c.unit) {
        const k = Number.parseInt(c.unit, 10);
        if (building.units != null && k >= 1 && k <= building.units) {
          // The register counts a building's units; a unit it counts is a known unit of that building.
          return [finish(parsed, { ...fromAddress(building, '单元'), address: `${building.text}${c.unit}`, components: { ...componentsOf(building, 'full'), unit: c.unit } }, building, notes, missing)];
        }
        return [finish(parsed, fromAddress(building, '楼栋'), building, [...notes, `${building.text} has ${building.units ?? 'no recorded'} units; ${c.unit} is not one`], missing + 1)];
      }
      return [finish(parsed, fromAddress(building, '楼栋'), building, notes, missing)];
    }
    missing++;
    notes.push(`building ${c.building} is not in the register at this door`);
  }
  const gate = list[0]!;
  return [finish(parsed, fromAddress(gate, gate.poi && !parsed.components.roadNumber ? '兴趣点' : '门牌号'), gate, notes, missing)];
}

function inCompound(parsed: ParsedAddress, list: StandardAddress[]): GeocodeResult[] {
  return atDoor(parsed, list, 0, [`compound ${list[0]!.poi}`]);
}

/**
 * A door number the register lacks, placed between its known neighbours on the same side
 * (odd and even numbers face each other across the road), in proportion to the numbers.
 */
function interpolate(parsed: ParsedAddress, road: Road, n: number): GeocodeResult[] {
  const side = n % 2 === 1 ? road.odd : road.even;
  let lower = null, upper = null;
  for (const d of side) {
    if (d.n < n) lower = d;
    else if (d.n > n) { upper = d; break; }
  }
  const roadNumber = `${n}号`;
  if (!lower && !upper) {
    return [finish(parsed, {
      address: `${prefixOf(parsed, road)}${road.name}`, code: null, level: '道路', lon: road.middle[0]!, lat: road.middle[1]!,
      components: { ...adminComponents(parsed), road: road.name }, divisionCode: parsed.admin?.code ?? null, interpolated: false,
    }, null, [`${road.name} has no numbered doors on the ${n % 2 ? 'odd' : 'even'} side; answered with the road`], 1)];
  }
  let point: Position;
  let basis: StandardAddress;
  const notes: string[] = [];
  if (lower && upper) {
    const t = (n - lower.n) / (upper.n - lower.n);
    point = [lower.address.lon + t * (upper.address.lon - lower.address.lon), lower.address.lat + t * (upper.address.lat - lower.address.lat)];
    basis = t < 0.5 ? lower.address : upper.address;
    notes.push(`interpolated between ${road.name}${lower.n}号 and ${upper.n}号`);
  } else {
    // Beyond the last known door: no second point to go by, so the nearest door stands for it.
    const only = (lower ?? upper)!;
    point = [only.address.lon, only.address.lat];
    basis = only.address;
    notes.push(`beyond the last known door; placed at ${road.name}${only.n}号`);
  }
  const components: Components = { ...componentsOf(basis, 'door'), roadNumber };
  delete components.poi;
  const text = `${[basis.province, basis.city, basis.district, basis.town, basis.community].filter(Boolean).join('')}${road.name}${roadNumber}`;
  const draft: Draft = { address: text, code: null, level: '门牌号', lon: point[0]!, lat: point[1]!, components, divisionCode: basis.communityCode ?? null, interpolated: true };
  const result = finish(parsed, draft, basis, notes);
  if (!lower || !upper) result.score = Math.max(1, result.score - PENALTY.missing);
  return [result];
}

/** Where two roads meet: a shared vertex, or the crossing of two segments, or their closest approach within 30 m. */
function crossing(a: Road, b: Road): Position | null {
  let best: { d: number; p: Position } | null = null;
  for (const la of a.lines) for (let i = 1; i < la.length; i++) {
    for (const lb of b.lines) for (let j = 1; j < lb.length; j++) {
      const p = segmentIntersection(la[i - 1]!, la[i]!, lb[j - 1]!, lb[j]!);
      if (p) return p;
      for (const [q, s0, s1] of [[la[i]!, lb[j - 1]!, lb[j]!], [lb[j]!, la[i - 1]!, la[i]!]] as const) {
        const { d, t } = toSegment(q, s0, s1);
        if (!best || d < best.d) best = { d, p: [(q[0]! + s0[0]! + t * (s1[0]! - s0[0]!)) / 2, (q[1]! + s0[1]! + t * (s1[1]! - s0[1]!)) / 2] };
      }
    }
  }
  return best && best.d <= 30 ? best.p : null;
}

function segmentIntersection(p1: Position, p2: Position, p3: Position, p4: Position): Position | null {
  const d = (p2[0]! - p1[0]!) * (p4[1]! - p3[1]!) - (p2[1]! - p1[1]!) * (p4[0]! - p3[0]!);
  if (d === 0) return null;
  const t = ((p3[0]! - p1[0]!) * (p4[1]! - p3[1]!) - (p3[1]! - p1[1]!) * (p4[0]! - p3[0]!)) / d;
  const u = ((p3[0]! - p1[0]!) * (p2[1]! - p1[1]!) - (p3[1]! - p1[1]!) * (p2[0]! - p1[0]!)) / d;
  if (t < 0 || t > 1 || u < 0 || u > 1) return null;
  return [p1[0]! + t * (p2[0]! - p1[0]!), p1[1]! + t * (p2[1]! - p1[1]!)];
}

/** Only an area: its point where the store has its outline; alternatives when the name is ambiguous. */
function areaAnswers(parsed: ParsedAddress, ctx: MatchContext, inHome: boolean): GeocodeResult[] {
  const nodes = [parsed.admin!, ...parsed.adminAlternatives];
  return nodes.map((node, k) => {
    const area = ctx.index.areaByCode.get(node.code);
    const notes = [k === 0 && parsed.adminAlternatives.length > 0 ? `${node.name} is ambiguous: ${nodes.length} areas have this name` : `division ${node.code}`];
    if (parsed.road && !parsed.road.local) notes.push(`${parsed.road.name} is not in the standard address register`);
    else if (!inHome && (parsed.road || parsed.poi)) notes.push('outside the served city: answered with the area');
    const result = finish(parsed, {
      address: lineage(node).map((n) => n.name).join(''), code: node.code, level: ADMIN_LEVEL[node.level], lon: area?.point[0] ?? null, lat: area?.point[1] ?? null,
      components: Object.fromEntries(lineage(node).map((n) => [n.devzone ? 'devzone' : n.level, n.name])) as Components, divisionCode: node.code, interpolated: false,
    }, null, notes);
    // The tie was broken by rule, not by the text: say so in the score.
    if (k > 0 || parsed.adminAlternatives.length > 0) result.score = Math.max(1, result.score - 5 * (k + 1));
    return result;
  });
}

