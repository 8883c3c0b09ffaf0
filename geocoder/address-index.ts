import Flatbush from 'flatbush';
import type { MultiPolygon, Polygon, Position } from 'geojson';
import { localDistance, metresPerDegreeLat, metresPerDegreeLon } from '../position/asset-geodesy.ts';

/**
 * The served city's standard addresses in memory: by road and door number, by compound, by
 * position (for reverse geocoding and interpolation), with the roads' centrelines and the
 * administrative areas' outlines. Built from plain records so that the store, a CSV export of a
 * public-security address system and the tests all feed it the same way.
 */

export type MatchLevel = '户室' | '单元' | '楼栋' | '门牌号' | '兴趣点' | '道路交叉口' | '道路' | '社区/村' | '乡镇/街道' | '区县' | '市' | '省';

export interface StandardAddressInput {
  id: string;
  text: string;
  province?: string | null;
  city?: string | null;
  district?: string | null;
  town?: string | null;
  community?: string | null;
  road?: string | null;
  /** 32号, 32-1号. */
  roadNumber?: string | null;
  poi?: string | null;
  /** 3幢. */
  building?: string | null;
  /** 2单元. */
  unit?: string | null;
  room?: string | null;
  /** How many units (单元) the building has, where the register says. */
  units?: number | null;
  districtCode?: string | null;
  townCode?: string | null;
  communityCode?: string | null;
  lon: number;
  lat: number;
}

export interface StandardAddress extends StandardAddressInput {
  level: MatchLevel;
  /** The integer door number (32 for 32-1号), null without one. */
  door: number | null;
}

/** An earlier state of a standard address (its road renamed, its number re-assigned). */
export interface FormerAddressInput {
  /** The standard address's code; its current state is among the addresses. */
  id: string;
  road: string | null;
  roadNumber: string | null;
  /** When that state ended (ISO 8601). */
  until: string;
}

export interface RoadInput {
  id: string;
  name: string;
  /** Centreline parts, lon/lat. */
  lines: Position[][];
}

export interface AreaInput {
  code: string;
  name: string;
  level: 'district' | 'town' | 'community';
  geometry: Polygon | MultiPolygon;
}

export interface Road {
  name: string;
  lines: Position[][];
  /** Metres. */
  length: number;
  /** A point on the road halfway along its longest part. */
  middle: Position;
  districts: Set<string>;
  /** Addresses by door number text (32号). */
  doors: Map<string, StandardAddress[]>;
  /** One representative per door, by parity, sorted by number: the basis of interpolation. */
  odd: Door[];
  even: Door[];
}

export interface Door {
  n: number;
  /** The entrance nearest the road among the door's addresses: a compound's gate side. */
  address: StandardAddress;
}

export interface Area {
  code: string;
  name: string;
  level: AreaInput['level'];
  geometry: Polygon | MultiPolygon;
  /** A point inside the area for answers at its level. */
  point: Position;
}

/** Metres between two nearby points (the asset search's local metric, on the CGCS2000 ellipsoid). */
export function metres(a: Position, b: Position): number {
  return localDistance(a[0]!, a[1]!, b[0]!, b[1]!);
}

/** Distance in metres from p to segment ab, and the fraction along it of the closest point. */
export function toSegment(p: Position, a: Position, b: Position): { d: number; t: number } {
  const kx = metresPerDegreeLon(p[1]!);
  const ky = metresPerDegreeLat(p[1]!);
  const ax = (a[0]! - p[0]!) * kx; const ay = (a[1]! - p[1]!) * ky;
  const bx = (b[0]! - p[0]!) * kx; const by = (b[1]! - p[1]!) * ky;
  const dx = bx - ax; const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len2));
  const x = ax + t * dx; const y = ay + t * dy;
  return { d: Math.sqrt(x * x + y * y), t };
}

export function levelOf(a: StandardAddressInput): MatchLevel {
  if (a.room) return '户室';
  if (a.unit) return '单元';
  if (a.building) return '楼栋';
  if (a.roadNumber) return '门牌号';
  return '兴趣点';
}

function canonicalNumber(roadNumber: string): string {
  return /号$/.test(roadNumber) ? roadNumber : `${roadNumber}号`;
}

export function doorNumber(roadNumber: string | null | undefined): number | null {
  const m = roadNumber ? /^(\d+)/.exec(roadNumber) : null;
  return m ? Number(m[1]) : null;
}

function lineLength(line: Position[]): number {
  let sum = 0;
  for (let i = 1; i < line.length; i++) sum += metres(line[i - 1]!, line[i]!);
  return sum;
}

/** The point at `distance` metres along the line. */
export function alongLine(line: Position[], distance: number): Position {
  let left = distance;
  for (let i = 1; i < line.length; i++) {
    const d = metres(line[i - 1]!, line[i]!);
    if (d >= left && d > 0) {
      const t = left / d;
      return [line[i - 1]![0]! + t * (line[i]![0]! - line[i - 1]![0]!), line[i - 1]![1]! + t * (line[i]![1]! - line[i - 1]![1]!)];
    }
    left -= d;
  }
  return line[line.length - 1]!;
}

export function distanceToLines(p: Position, lines: Position[][]): number {
  let best = Infinity;
  for (const line of lines) for (let i = 1; i < line.length; i++) best = Math.min(best, toSegment(p, line[i - 1]!, line[i]!).d);
  return best;
}

function ringContains(ring: Position[], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const xi = ring[i]![0]!, yi = ring[i]![1]!, xj = ring[j]![0]!, yj = ring[j]![1]!;
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function polygonContains(g: Polygon | MultiPolygon, p: Position): boolean {
  const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  return polys.some((rings) => ringContains(rings[0]!, p[0]!, p[1]!) && !rings.slice(1).some((h) => ringContains(h, p[0]!, p[1]!)));
}

/** A point inside the polygon: the bbox centre if inside, else the middle of the widest horizontal chord through it. */
function interiorPoint(g: Polygon | MultiPolygon): Position {
  const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  const outer = polys.reduce((a, b) => (b[0]!.length > a[0]!.length ? b : a))[0]!;
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const [x, y] of outer) { minX = Math.min(minX, x!); maxX = Math.max(maxX, x!); minY = Math.min(minY, y!); maxY = Math.max(maxY, y!); }
  const centre = [(minX + maxX) / 2, (minY + maxY) / 2];
  if (polygonContains(g, centre)) return centre;
  const y = centre[1]!;
  const xs: number[] = [];
  for (let i = 0, j = outer.length - 1; i < outer.length; j = i++) {
    const [xi, yi] = outer[i]! as [number, number]; const [xj, yj] = outer[j]! as [number, number];
    if ((yi > y) !== (yj > y)) xs.push(((xj - xi) * (y - yi)) / (yj - yi) + xi);
  }
  xs.sort((a, b) => a - b);
  let best: Position = outer[0]!;
  let width = -1;
  for (let i = 0; i + 1 < xs.length; i += 2) if (xs[i + 1]! - xs[i]! > width) { width = xs[i + 1]! - xs[i]!; best = [(xs[i]! + xs[i + 1]!) / 2, y]; }
  return best;
}

export class AddressIndex {
  readonly addresses: StandardAddress[];
  readonly byId = new Map<string, StandardAddress>();
  readonly roads = new Map<string, Road>();
  readonly pois = new Map<string, StandardAddress[]>();
  /** 旧路|12号 → the addresses that door is now, for people who write an address as it was. */
  readonly formerDoors = new Map<string, { addresses: StandardAddress[]; until: string }>();
  /** A road's former name → its name now, where every address that had the old one moved to one road. */
  readonly formerRoads = new Map<string, { current: string; until: string }>();
  readonly areas: Area[];
  readonly areaByCode = new Map<string, Area>();
  /** Road segments for reverse geocoding: [road, line index, vertex index]. */
  readonly #segments: Array<[Road, number, number]> = [];
  readonly #addressTree: Flatbush | null;
  readonly #segmentTree: Flatbush | null;
  readonly #areaTree: Flatbush | null;

  constructor(input: { addresses: Iterable<StandardAddressInput>; roads: Iterable<RoadInput>; areas: Iterable<AreaInput>; former?: Iterable<FormerAddressInput> }) {
    for (const r of input.roads) {
      if (!r.name) continue;
      let road = this.roads.get(r.name);
      if (!road) {
        road = { name: r.name, lines: [], length: 0, middle: r.lines[0]?.[0] ?? [0, 0], districts: new Set(), doors: new Map(), odd: [], even: [] };
        this.roads.set(r.name, road);
      }
      for (const line of r.lines) if (line.length >= 2) road.lines.push(line);
    }
    for (const road of this.roads.values()) {
      road.lines = joinLines(road.lines);
      road.length = road.lines.reduce((s, l) => s + lineLength(l), 0);
      const longest = road.lines.reduce<Position[] | null>((a, b) => (!a || lineLength(b) > lineLength(a) ? b : a), null);
      if (longest) road.middle = alongLine(longest, lineLength(longest) / 2);
    }

    this.addresses = [];
    for (const a of input.addresses) {
      const address: StandardAddress = { ...a, level: levelOf(a), door: doorNumber(a.roadNumber) };
      this.addresses.push(address);
      this.byId.set(a.id, address);
      if (a.poi) {
        const list = this.pois.get(a.poi) ?? [];
        list.push(address);
        this.pois.set(a.poi, list);
      }
      if (a.road && a.roadNumber) {
        let road = this.roads.get(a.road);
        if (!road) {
          // A register can name a road whose centreline is not in the store.
          road = { name: a.road, lines: [], length: 0, middle: [a.lon, a.lat], districts: new Set(), doors: new Map(), odd: [], even: [] };
          this.roads.set(a.road, road);
        }
        if (a.district) road.districts.add(a.district);
        const list = road.doors.get(a.roadNumber) ?? [];
        list.push(address);
        road.doors.set(a.roadNumber, list);
      }
    }
    for (const road of this.roads.values()) {
      for (const [text, list] of road.doors) {
        // Only whole numbers anchor interpolation: 32-1号 lies between 32号 and 34号 anyway.
        if (!/^\d+号$/.test(text)) continue;
        const n = Number.parseInt(text, 10);
        const address = road.lines.length === 0 ? list[0]! : list.reduce((best, a) => (distanceToLines([a.lon, a.lat], road.lines) < distanceToLines([best.lon, best.lat], road.lines) ? a : best));
        (n % 2 === 1 ? road.odd : road.even).push({ n, address });
      }
      road.odd.sort((a, b) => a.n - b.n);
      road.even.sort((a, b) => a.n - b.n);
    }
    // Earlier states: a door as it was written before a renaming or re-numbering.
    const renamed = new Map<string, { to: Set<string>; until: string }>();
    for (const f of input.former ?? []) {
      const now = this.byId.get(f.id);
      if (!now || !f.road || (f.road === now.road && f.roadNumber === now.roadNumber)) continue;
      if (f.roadNumber) {
        const key = `${f.road}|${canonicalNumber(f.roadNumber)}`;
        const entry = this.formerDoors.get(key) ?? { addresses: [], until: f.until };
        if (!entry.addresses.includes(now)) entry.addresses.push(now);
        if (f.until > entry.until) entry.until = f.until;
        this.formerDoors.set(key, entry);
      }
      if (f.road !== now.road && now.road && !this.roads.has(f.road)) {
        const r = renamed.get(f.road) ?? { to: new Set<string>(), until: f.until };
        r.to.add(now.road);
        if (f.until > r.until) r.until = f.until;
        renamed.set(f.road, r);
      }
    }
    for (const [old, r] of renamed) if (r.to.size === 1) this.formerRoads.set(old, { current: [...r.to][0]!, until: r.until });

    // A compound's addresses start with its gate: the lowest door, then the lowest building.
    for (const list of this.pois.values()) list.sort((a, b) => (a.door ?? Infinity) - (b.door ?? Infinity) || buildingOrder(a) - buildingOrder(b));

    this.areas = [...input.areas].map((a) => ({ ...a, point: interiorPoint(a.geometry) }));
    for (const a of this.areas) this.areaByCode.set(a.code, a);

    this.#addressTree = null;
    if (this.addresses.length > 0) {
      const tree = new Flatbush(this.addresses.length);
      for (const a of this.addresses) tree.add(a.lon, a.lat, a.lon, a.lat);
      tree.finish();
      this.#addressTree = tree;
    }
    for (const road of this.roads.values()) road.lines.forEach((line, li) => { for (let i = 1; i < line.length; i++) this.#segments.push([road, li, i]); });
    this.#segmentTree = null;
    if (this.#segments.length > 0) {
      const tree = new Flatbush(this.#segments.length);
      for (const [road, li, i] of this.#segments) {
        const a = road.lines[li]![i - 1]!; const b = road.lines[li]![i]!;
        tree.add(Math.min(a[0]!, b[0]!), Math.min(a[1]!, b[1]!), Math.max(a[0]!, b[0]!), Math.max(a[1]!, b[1]!));
      }
      tree.finish();
      this.#segmentTree = tree;
    }
    this.#areaTree = null;
    if (this.areas.length > 0) {
      const tree = new Flatbush(this.areas.length);
      for (const a of this.areas) {
        const polys = a.geometry.type === 'Polygon' ? [a.geometry.coordinates] : a.geometry.coordinates;
        let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
        for (const p of polys) for (const [x, y] of p[0]!) { minX = Math.min(minX, x!); maxX = Math.max(maxX, x!); minY = Math.min(minY, y!); maxY = Math.max(maxY, y!); }
        tree.add(minX, minY, maxX, maxY);
      }
      tree.finish();
      this.#areaTree = tree;
    }
  }

  /** The k addresses nearest to p, nearest first, with distances in metres. */
  nearestAddresses(p: Position, k: number, maxMetres = 2_000): Array<{ address: StandardAddress; distance: number }> {
    if (!this.#addressTree) return [];
    const maxDeg = maxMetres / metresPerDegreeLon(p[1]!);
    // Flatbush ranks by degrees; take a few more and re-rank in metres.
    const ids = this.#addressTree.neighbors(p[0]!, p[1]!, k * 4 + 8, maxDeg);
    return ids.map((i) => ({ address: this.addresses[i]!, distance: metres(p, [this.addresses[i]!.lon, this.addresses[i]!.lat]) }))
      .filter((r) => r.distance <= maxMetres).sort((a, b) => a.distance - b.distance).slice(0, k);
  }

  /** The nearest road centreline: its name, the distance and the closest point. */
  nearestRoad(p: Position, maxMetres = 2_000): { road: Road; distance: number; point: Position } | null {
    if (!this.#segmentTree) return null;
    const maxDeg = maxMetres / metresPerDegreeLon(p[1]!);
    let best: { road: Road; distance: number; point: Position } | null = null;
    for (const i of this.#segmentTree.neighbors(p[0]!, p[1]!, 16, maxDeg)) {
      const [road, li, vi] = this.#segments[i]!;
      const a = road.lines[li]![vi - 1]!; const b = road.lines[li]![vi]!;
      const { d, t } = toSegment(p, a, b);
      if (d <= maxMetres && (!best || d < best.distance)) best = { road, distance: d, point: [a[0]! + t * (b[0]! - a[0]!), a[1]! + t * (b[1]! - a[1]!)] };
    }
    return best;
  }

  /** The areas containing p, widest first. */
  areasAt(p: Position): Area[] {
    if (!this.#areaTree) return [];
    const order = { district: 0, town: 1, community: 2 };
    return this.#areaTree.search(p[0]!, p[1]!, p[0]!, p[1]!).map((i) => this.areas[i]!).filter((a) => polygonContains(a.geometry, p))
      .sort((a, b) => order[a.level] - order[b.level]);
  }
}

function buildingOrder(a: StandardAddress): number {
  const n = a.building ? Number.parseInt(a.building, 10) : 0;
  return Number.isFinite(n) ? n : 0;
}

/** Chains segments that share end points into longer lines (a road is stored a block at a time). */
function joinLines(lines: Position[][]): Position[][] {
  const key = (p: Position) => `${p[0]!.toFixed(7)},${p[1]!.toFixed(7)}`;
  const remaining = lines.map((l) => [...l]);
  const out: Position[][] = [];
  while (remaining.length > 0) {
    let line = remaining.pop()!;
    for (let grown = true; grown;) {
      grown = false;
      for (let i = 0; i < remaining.length; i++) {
        const r = remaining[i]!;
        const head = key(line[0]!), tail = key(line[line.length - 1]!);
        if (key(r[0]!) === tail) line = [...line, ...r.slice(1)];
        else if (key(r[r.length - 1]!) === head) line = [...r, ...line.slice(1)];
        else if (key(r[r.length - 1]!) === tail) line = [...line, ...r.slice(0, -1).reverse()];
        else if (key(r[0]!) === head) line = [...r.slice(1).reverse(), ...line];
        else continue;
        remaining.splice(i, 1);
        grown = true;
        break;
      }
    }
    out.push(line);
  }
  return out;
}
