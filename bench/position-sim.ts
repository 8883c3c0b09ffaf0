/**
 * bench:position — a seeded traffic simulation through the demo city, fused by PositionFuser.
 *
 * N vehicles drive random routes on the demo city's roads (speeds 5–15 m/s, slowing to take
 * corners as arcs, stopping at some junctions). Each reports, once a second, a GNSS fix with
 * HDOP-scaled error (UERE 3–5 m per receiver; half the variance slow, a Gauss-Markov process with
 * τ = 60 s, half white); near buildings taller than 50 m (within 30 m) HDOP rises and multipath
 * episodes of 1–4 s shift fixes by 30–100 m; under viaducts (stretches of arterials) there is no
 * fix at all. Every 5 s it also reports its serving LTE cell (the nearest tower, or the second
 * nearest one time in four), from towers synthesised along the roads with 300–800 m range and
 * loaded through the OpenCellID CSV reader. GNSS times come in the receiver's own scale (BeiDou
 * receivers BDT, GPS ones GPST, multi-GNSS UTC), as ISO text, as a device would send them.
 *
 * Reported, against the truth: the raw position (the GNSS fix; under a viaduct, the cell fix, or
 * the last GNSS fix held) and the fused one (RMSE, median, 95th percentile, max), separately near
 * tall buildings and under viaducts, where dead reckoning alone (the GNSS-only track predicted) is
 * the other alternative; how often the 95 % radius holds the truth; what the gate did with the
 * multipath fixes; and throughput (observations/s, median of several runs after warm-up), with the
 * filter core against a textbook Kalman filter on number[][] matrices. Same seed, same numbers
 * (except the timings).
 *
 *   npm run bench:position -- [--devices 200] [--seconds 600] [--seed 20260101] [--runs 7] [--warmup 2]
 *                             [--process-noise 4] [--gate-probability 0.999] [--reset-after 3]
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import Flatbush from 'flatbush';
import type { LineString, Polygon } from 'geojson';
import { generateDemoCity, DEFAULT_SEED } from '../fixtures/demo-city/index.ts';
import { rngFor, type Rng } from '../fixtures/demo-city/random.ts';
import { PositionFuser, type FusionOptions } from '../position/fusion.ts';
import { parseOpenCellIdCsv } from '../position/radio-csv.ts';
import { LocalFrame } from '../position/local-frame.ts';
import { ConstantVelocityFilter } from '../position/kalman-cv.ts';
import { ImmConstantVelocity } from '../position/kalman-imm.ts';
import { utcToBdt, utcToGpst } from '../position/gnss-time.ts';
import type { GnssSystem, Observation } from '../position/observation.ts';
import { summarize } from './stats.ts';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '600' },
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    runs: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '2' },
    // Fusion options, to see what they change; the defaults are the library's.
    'process-noise': { type: 'string' },
    'gate-probability': { type: 'string' },
    'reset-after': { type: 'string' },
  },
});
const DEVICES = Number(values.devices);
const SECONDS = Number(values.seconds);
const SEED = Number(values.seed);
const RUNS = Number(values.runs);
const WARMUP = Number(values.warmup);
const FUSION: FusionOptions = {
  ...(values['process-noise'] !== undefined ? { processNoise: Number(values['process-noise']) } : {}),
  ...(values['gate-probability'] !== undefined ? { gateProbability: Number(values['gate-probability']) } : {}),
  ...(values['reset-after'] !== undefined ? { resetAfterMs: Number(values['reset-after']) * 1000 } : {}),
};

const T0 = Date.UTC(2025, 4, 1, 0, 0, 0);
const CELL_EVERY_S = 5;
const MULTIPATH_RADIUS_M = 30;
const TALL_M = 50;
const SLOW_SHARE = 0.5; // share of GNSS error variance that is slow (Gauss-Markov)
const SLOW_TAU_S = 60;

type XY = [number, number];

function gauss(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

// ---- the city in metres ----------------------------------------------------------------------

interface Edge { a: number; b: number; pa: XY; pb: XY; len: number; road: string; arterial: boolean; viaduct: boolean }

function buildCity() {
  const city = generateDemoCity({ scale: 1, seed: SEED });
  const layer = (id: string) => city.layers.find((l) => l.meta.id === id)!.versions.filter((v) => v.validTo === null);
  const roads = layer('roads');
  const buildings = layer('buildings');
  let minLon = Infinity, maxLon = -Infinity, minLat = Infinity, maxLat = -Infinity;
  for (const r of roads) {
    for (const [lon, lat] of (r.geometry as LineString).coordinates) {
      minLon = Math.min(minLon, lon); maxLon = Math.max(maxLon, lon); minLat = Math.min(minLat, lat); maxLat = Math.max(maxLat, lat);
    }
  }
  const frame = new LocalFrame((minLat + maxLat) / 2, (minLon + maxLon) / 2);
  const toXY = (lon: number, lat: number): XY => [frame.east(lon), frame.north(lat)];

  const nodeIds = new Map<string, number>();
  const nodes: XY[] = [];
  const node = (c: number[]) => {
    const key = `${c[0]},${c[1]}`;
    let id = nodeIds.get(key);
    if (id === undefined) {
      id = nodes.length;
      nodeIds.set(key, id);
      nodes.push(toXY(c[0], c[1]));
    }
    return id;
  };
  const edges: Edge[] = [];
  const byRoad = new Map<string, Edge[]>();
  for (const r of roads) {
    const c = (r.geometry as LineString).coordinates;
    const a = node(c[0]);
    const b = node(c[c.length - 1]);
    if (a === b) continue;
    const e: Edge = {
      a, b, pa: nodes[a], pb: nodes[b], len: Math.hypot(nodes[b][0] - nodes[a][0], nodes[b][1] - nodes[a][1]),
      road: String(r.attributes.road_id), arterial: r.attributes.class === '主干路', viaduct: false,
    };
    edges.push(e);
    if (!byRoad.has(e.road)) byRoad.set(e.road, []);
    byRoad.get(e.road)!.push(e);
  }
  const adjacency: number[][] = nodes.map(() => []);
  edges.forEach((e, i) => { adjacency[e.a].push(i); adjacency[e.b].push(i); });

  // Viaducts: stretches of 1–2 segments (170–340 m) along the arterials, about one every
  // 8 segments, at least 3 segments apart so that each is one outage of 10–60 s.
  const vRng = rngFor(SEED, 'sim', 'viaducts');
  for (const [, segs] of [...byRoad].sort(([a], [b]) => a.localeCompare(b))) {
    if (!segs[0].arterial) continue;
    for (let i = 0; i < segs.length; i++) {
      if (!vRng.chance(0.12)) continue;
      const run = vRng.int(1, 2);
      for (let k = i; k < Math.min(segs.length, i + run); k++) segs[k].viaduct = true;
      i += run + 3;
    }
  }

  // Buildings taller than 50 m, for multipath.
  const tall: XY[][] = [];
  for (const b of buildings) {
    if (!((b.attributes.height_m as number) > TALL_M)) continue;
    tall.push((b.geometry as Polygon).coordinates[0].map(([lon, lat]) => toXY(lon, lat)));
  }
  const tallIndex = new Flatbush(Math.max(1, tall.length));
  for (const ring of tall) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const [x, y] of ring) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); }
    tallIndex.add(x0, y0, x1, y1);
  }
  if (tall.length === 0) tallIndex.add(1e9, 1e9, 1e9, 1e9);
  tallIndex.finish();

  return { frame, nodes, edges, adjacency, tall, tallIndex, roadCount: roads.length, buildingCount: buildings.length };
}
type City = ReturnType<typeof buildCity>;

function distanceToRing(p: XY, ring: XY[]): number {
  let inside = false;
  let best = Infinity;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > p[1]) !== (yj > p[1]) && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
    const dx = xj - xi, dy = yj - yi;
    const t = Math.max(0, Math.min(1, ((p[0] - xi) * dx + (p[1] - yi) * dy) / (dx * dx + dy * dy || 1)));
    best = Math.min(best, Math.hypot(p[0] - (xi + t * dx), p[1] - (yi + t * dy)));
  }
  return inside ? 0 : best;
}

function nearTall(city: City, p: XY): boolean {
  const r = MULTIPATH_RADIUS_M;
  for (const id of city.tallIndex.search(p[0] - r, p[1] - r, p[0] + r, p[1] + r)) {
    if (distanceToRing(p, city.tall[id]) <= r) return true;
  }
  return false;
}

// ---- cell towers -----------------------------------------------------------------------------

interface Tower { x: number; y: number; eci: number; tac: number; range: number }

function buildTowers(city: City) {
  const rng = rngFor(SEED, 'sim', 'towers');
  const towers: Tower[] = [];
  const spacing = 450;
  const grid = new Map<string, XY[]>();
  const cellOf = (x: number, y: number) => `${Math.floor(x / spacing)},${Math.floor(y / spacing)}`;
  const order = rng.shuffle(city.nodes.map((_, i) => i));
  for (const i of order) {
    const [nx, ny] = city.nodes[i];
    const a = rng.range(0, 2 * Math.PI);
    const off = rng.range(15, 60);
    const x = nx + off * Math.cos(a), y = ny + off * Math.sin(a);
    let clear = true;
    const gx = Math.floor(x / spacing), gy = Math.floor(y / spacing);
    for (let dx = -1; dx <= 1 && clear; dx++) for (let dy = -1; dy <= 1 && clear; dy++) {
      for (const q of grid.get(`${gx + dx},${gy + dy}`) ?? []) if (Math.hypot(q[0] - x, q[1] - y) < spacing) { clear = false; break; }
    }
    if (!clear) continue;
    const key = cellOf(x, y);
    if (!grid.has(key)) grid.set(key, []);
    grid.get(key)!.push([x, y]);
    towers.push({ x, y, eci: 0x1a2b00 * 16 + towers.length * 3 + 1, tac: 22500 + Math.floor(towers.length / 40), range: Math.round(rng.range(300, 800)) });
  }
  // Through the OpenCellID reader, as a deployment would load them.
  const header = 'radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal';
  const rows = towers.map((t) => `LTE,460,0,${t.tac},${t.eci},${t.eci % 504},${city.frame.lon(t.x).toFixed(6)},${city.frame.lat(t.y).toFixed(6)},${t.range},${20 + (t.eci % 200)},1,1600000000,1700000000,0`);
  const { map, report } = parseOpenCellIdCsv([header, ...rows].join('\n'));
  if (report.rejectedCount > 0 || report.imported !== towers.length) throw new Error(`tower CSV: ${JSON.stringify(report.rejected.slice(0, 3))}`);
  const index = new Flatbush(towers.length);
  for (const t of towers) index.add(t.x, t.y, t.x, t.y);
  index.finish();
  return { towers, index, map };
}

// ---- vehicles --------------------------------------------------------------------------------

interface Trajectory { x: Float64Array; y: Float64Array; viaduct: Uint8Array; canyon: Uint8Array }

function drive(city: City, device: number): Trajectory {
  const rng = rngFor(SEED, 'sim', 'drive', device);
  const cruise = rng.range(5, 15);
  // Route: a random walk that keeps to the same road at most junctions, never turning back unless at a dead end.
  let nodeAt = rng.int(0, city.nodes.length - 1);
  while (city.adjacency[nodeAt].length === 0) nodeAt = rng.int(0, city.nodes.length - 1);
  const pts: XY[] = [city.nodes[nodeAt]];
  const legs: Edge[] = [];
  let length = 0;
  let prev = -1;
  while (length < cruise * SECONDS * 1.2 + 500) {
    const options = city.adjacency[nodeAt].filter((e) => e !== prev);
    const choices = options.length > 0 ? options : city.adjacency[nodeAt];
    const same = prev >= 0 ? choices.filter((e) => city.edges[e].road === city.edges[prev].road) : [];
    const ei = same.length > 0 && rng.chance(0.65) ? same[0] : rng.pick(choices);
    const e = city.edges[ei];
    nodeAt = e.a === nodeAt ? e.b : e.a;
    pts.push(city.nodes[nodeAt]);
    legs.push(e);
    length += e.len;
    prev = ei;
  }
  // Corners become arcs (radius up to 15 m, driven at √(2 m/s² · R)), so that turning takes a few
  // seconds as it does on a street; a dead end is a stop and a turn on the spot; some junctions are a stop.
  const P: XY[] = [pts[0]];
  const target: number[] = [cruise];
  const dwell: number[] = [0];
  const legViaduct: boolean[] = [];
  const LAT_ACC = 2;
  for (let i = 1; i < pts.length - 1; i++) {
    const [px, py] = pts[i];
    const lin = Math.hypot(px - pts[i - 1][0], py - pts[i - 1][1]);
    const lout = Math.hypot(pts[i + 1][0] - px, pts[i + 1][1] - py);
    const ux = (px - pts[i - 1][0]) / lin, uy = (py - pts[i - 1][1]) / lin;
    const wx = (pts[i + 1][0] - px) / lout, wy = (pts[i + 1][1] - py) / lout;
    const theta = Math.acos(Math.max(-1, Math.min(1, ux * wx + uy * wy)));
    const via = legs[i - 1].viaduct;
    const stop = rng.chance(0.12) && !via;
    if (theta < 0.1 || theta > 2.6) {
      legViaduct.push(via);
      P.push(pts[i]);
      target.push(theta > 2.6 || stop ? 0 : cruise);
      dwell.push(theta > 2.6 ? 3 : stop ? rng.range(5, 30) : 0);
      continue;
    }
    const radius = Math.min(15, (0.45 * Math.min(lin, lout)) / Math.tan(theta / 2));
    const lt = radius * Math.tan(theta / 2);
    const ax = px - ux * lt, ay = py - uy * lt;
    const side = ux * wy - uy * wx > 0 ? 1 : -1;
    const cx = ax - side * uy * radius, cy = ay + side * ux * radius;
    const a0 = Math.atan2(ay - cy, ax - cx);
    const steps = Math.max(3, Math.ceil(theta / 0.2));
    const vTurn = Math.min(cruise, Math.sqrt(LAT_ACC * radius));
    for (let k = 0; k <= steps; k++) {
      const a = a0 + (side * theta * k) / steps;
      legViaduct.push(k === 0 ? via : via && legs[i].viaduct);
      P.push([cx + radius * Math.cos(a), cy + radius * Math.sin(a)]);
      target.push(k === 0 && stop ? 0 : vTurn);
      dwell.push(k === 0 && stop ? rng.range(5, 30) : 0);
    }
  }
  legViaduct.push(legs[pts.length - 2].viaduct);
  P.push(pts[pts.length - 1]);
  target.push(cruise);
  dwell.push(0);
  const legLen = P.slice(1).map((q, i) => Math.max(1e-6, Math.hypot(q[0] - P[i][0], q[1] - P[i][1])));
  const tr: Trajectory = { x: new Float64Array(SECONDS), y: new Float64Array(SECONDS), viaduct: new Uint8Array(SECONDS), canyon: new Uint8Array(SECONDS) };
  const dt = 0.1;
  const ACC = 1.5, DEC = 2;
  let leg = 0, s = 0, v = 0, wait = 0;
  for (let step = 0; step < SECONDS * 10; step++) {
    if (step % 10 === 0) {
      const k = step / 10;
      const [ax, ay] = P[leg], [bx, by] = P[leg + 1];
      const f = s / legLen[leg];
      tr.x[k] = ax + (bx - ax) * f;
      tr.y[k] = ay + (by - ay) * f;
      tr.viaduct[k] = legViaduct[leg] ? 1 : 0;
      tr.canyon[k] = nearTall(city, [tr.x[k], tr.y[k]]) ? 1 : 0;
    }
    if (wait > 0) { wait -= dt; continue; }
    // Slow down in time for the next vertex's target speed (looking one vertex ahead is enough:
    // the legs before a turn or stop are long, the arcs short and driven at one speed).
    const d = legLen[leg] - s;
    const want = Math.max(1, Math.min(cruise, Math.sqrt(target[leg + 1] ** 2 + 2 * DEC * d)));
    v = v < want ? Math.min(want, v + ACC * dt) : Math.max(want, v - 2 * DEC * dt);
    s += v * dt;
    while (s >= legLen[leg]) {
      s -= legLen[leg];
      leg++;
      if (dwell[leg] > 0) { wait = dwell[leg]; v = 0; s = 0; }
    }
  }
  return tr;
}

// ---- observations ----------------------------------------------------------------------------

interface Epoch {
  device: number;
  t: number;
  observations: Observation[];
  /** Raw position in metres (GNSS fix, else the cell fix), and the cell fix, NaN when absent. */
  rawX: number; rawY: number;
  gnss: boolean;
  multipath: boolean;
  cellX: number; cellY: number;
}

function observe(city: City, radio: ReturnType<typeof buildTowers>, device: number, tr: Trajectory): Epoch[] {
  const rng = rngFor(SEED, 'sim', 'gnss', device);
  const uere = rng.range(3, 5);
  const baseHdop = rng.range(0.7, 1.3);
  const system: GnssSystem = rng.pick(['bds', 'gps', 'gnss'] as const);
  const phi = Math.exp(-1 / SLOW_TAU_S);
  let slowE = gauss(rng), slowN = gauss(rng);
  let episode = 0, biasE = 0, biasN = 0;
  const out: Epoch[] = [];
  for (let t = 0; t < SECONDS; t++) {
    slowE = phi * slowE + Math.sqrt(1 - phi * phi) * gauss(rng);
    slowN = phi * slowN + Math.sqrt(1 - phi * phi) * gauss(rng);
    const utc = T0 + t * 1000;
    const obs: Observation[] = [];
    const ep: Epoch = { device, t, observations: obs, rawX: NaN, rawY: NaN, gnss: false, multipath: false, cellX: NaN, cellY: NaN };
    if (tr.canyon[t] === 1) {
      if (episode > 0) episode--;
      else if (rng.chance(0.08)) {
        episode = rng.int(1, 4);
        const a = rng.range(0, 2 * Math.PI), m = rng.range(30, 100);
        biasE = m * Math.cos(a);
        biasN = m * Math.sin(a);
      }
    } else episode = 0;
    if (tr.viaduct[t] === 0) {
      const hdop = Math.round(baseHdop * (tr.canyon[t] ? 1.7 : 1) * Math.exp(0.1 * gauss(rng)) * 10) / 10;
      const sigma = (hdop * uere) / Math.SQRT2;
      const a = Math.sqrt(SLOW_SHARE), b = Math.sqrt(1 - SLOW_SHARE);
      let ex = sigma * (a * slowE + b * gauss(rng));
      let ey = sigma * (a * slowN + b * gauss(rng));
      if (episode > 0) { ex += biasE; ey += biasN; ep.multipath = true; }
      ep.rawX = tr.x[t] + ex;
      ep.rawY = tr.y[t] + ey;
      ep.gnss = true;
      const scaleMs = system === 'bds' ? utcToBdt(utc) : system === 'gps' ? utcToGpst(utc) : utc;
      obs.push({
        type: 'gnss', lat: city.frame.lat(ep.rawY), lon: city.frame.lon(ep.rawX), system, hdop,
        time: new Date(scaleMs).toISOString(), timeSystem: system === 'bds' ? 'bdt' : system === 'gps' ? 'gpst' : 'utc',
      });
    }
    if ((t + device) % CELL_EVERY_S === 0) {
      const near = radio.index.neighbors(tr.x[t], tr.y[t], 2);
      const tower = radio.towers[near.length > 1 && rng.chance(0.25) ? near[1] : near[0]];
      ep.cellX = tower.x;
      ep.cellY = tower.y;
      obs.push({ type: 'cell', radio: 'LTE', mcc: 460, mnc: 0, tac: tower.tac, cellId: tower.eci, signal: -70 - Math.round(rng.range(0, 40)), time: new Date(utc).toISOString() });
    }
    if (!ep.gnss) { ep.rawX = ep.cellX; ep.rawY = ep.cellY; }
    if (obs.length > 0) out.push(ep);
  }
  return out;
}

// ---- evaluation ------------------------------------------------------------------------------

function stats(errors: number[]) {
  if (errors.length === 0) return { n: 0, rmse: NaN, p50: NaN, p95: NaN, max: NaN };
  const s = Float64Array.from(errors).sort();
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
  let sq = 0;
  for (const e of s) sq += e * e;
  return { n: s.length, rmse: Math.sqrt(sq / s.length), p50: q(0.5), p95: q(0.95), max: s[s.length - 1] };
}

/** The obvious alternative for the filter core: the same equations on number[][] matrices. */
class TextbookKalman {
  x: number[][] = [[0], [0], [0], [0]];
  P: number[][] = [[100, 0, 0, 0], [0, 100, 0, 0], [0, 0, 225, 0], [0, 0, 0, 225]];
  static mul(a: number[][], b: number[][]): number[][] {
    return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
  }
  static add(a: number[][], b: number[][], sign = 1): number[][] { return a.map((row, i) => row.map((v, j) => v + sign * b[i][j])); }
  static t(a: number[][]): number[][] { return a[0].map((_, j) => a.map((row) => row[j])); }
  static inv2(m: number[][]): number[][] {
    const det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    return [[m[1][1] / det, -m[0][1] / det], [-m[1][0] / det, m[0][0] / det]];
  }
  step(dt: number, q: number, ze: number, zn: number, r: number, gate: number): void {
    const M = TextbookKalman;
    const F = [[1, 0, dt, 0], [0, 1, 0, dt], [0, 0, 1, 0], [0, 0, 0, 1]];
    const a = (q * dt ** 3) / 3, b = (q * dt ** 2) / 2, c = q * dt;
    const Q = [[a, 0, b, 0], [0, a, 0, b], [b, 0, c, 0], [0, b, 0, c]];
    const H = [[1, 0, 0, 0], [0, 1, 0, 0]];
    this.x = M.mul(F, this.x);
    this.P = M.add(M.mul(M.mul(F, this.P), M.t(F)), Q);
    const y = M.add([[ze], [zn]], M.mul(H, this.x), -1);
    const S = M.add(M.mul(M.mul(H, this.P), M.t(H)), [[r, 0], [0, r]]);
    const Si = M.inv2(S);
    const d2 = M.mul(M.mul(M.t(y), Si), y)[0][0];
    if (d2 > gate) return;
    const K = M.mul(M.mul(this.P, M.t(H)), Si);
    this.x = M.add(this.x, M.mul(K, y));
    this.P = M.mul(M.add([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], M.mul(K, H), -1), this.P);
  }
}

function pct(x: number): string { return `${(100 * x).toFixed(1)} %`; }
function m(x: number): string { return Number.isFinite(x) ? x.toFixed(1) : '—'; }
function int(x: number): string { return Math.round(x).toLocaleString('en-US'); }

async function main() {
  let t = performance.now();
  const city = buildCity();
  const radio = buildTowers(city);
  const viaductSegs = city.edges.filter((e) => e.viaduct).length;
  console.log(`\nbench:position  seed ${SEED}, ${DEVICES} vehicles × ${SECONDS} s, demo city scale 1 (${city.edges.length} road segments, ${viaductSegs} under viaducts; ${city.tall.length} buildings > ${TALL_M} m; ${radio.towers.length} LTE cells)`);
  const trajectories = Array.from({ length: DEVICES }, (_, d) => drive(city, d));
  const perDevice = trajectories.map((tr, d) => observe(city, radio, d, tr));
  // Requests in time order across devices, as a server would receive them.
  const epochs: Epoch[] = perDevice.flat().sort((a, b) => a.t - b.t || a.device - b.device);
  const ids = Array.from({ length: DEVICES }, (_, d) => `veh-${String(d).padStart(4, '0')}`);
  const observationCount = epochs.reduce((s, e) => s + e.observations.length, 0);
  console.log(`simulated in ${((performance.now() - t) / 1000).toFixed(1)} s: ${int(epochs.length)} requests, ${int(observationCount)} observations\n`);

  // ---- accuracy ----
  const fuser = new PositionFuser(radio.map, FUSION);
  // The same fusion given the GNSS fixes only: under viaducts, dead reckoning alone.
  const noCells = new PositionFuser(radio.map, FUSION);
  const deadReckoning: number[] = [];
  const raw = { open: [] as number[], canyon: [] as number[], outageCell: [] as number[], outageHeld: [] as number[] };
  const fused = { open: [] as number[], canyon: [] as number[], outage: [] as number[], outage10: [] as number[], outage30: [] as number[], outageLong: [] as number[] };
  const held = { open: [0, 0], canyon: [0, 0], outage: [0, 0] }; // [truth inside the 95 % radius, answers]
  let mpTotal = 0, mpRejected = 0, goodTotal = 0, goodRejected = 0;
  const resets: Record<string, number> = { gnss_disagreed: 0, coast_limit: 0 };
  const outageLengths: number[] = [];
  const lastGnss = new Float64Array(DEVICES * 2).fill(NaN);
  const outageStart = new Float64Array(DEVICES).fill(-1);
  const sources = { gnss: 0, cell: 0 };
  for (const ep of epochs) {
    const tr = trajectories[ep.device];
    const answer = fuser.fuse(ids[ep.device], ep.observations, T0 + ep.t * 1000 + 250);
    if (ep.gnss) noCells.fuse(ids[ep.device], ep.observations.filter((o) => o.type === 'gnss'), T0 + ep.t * 1000 + 250);
    if (answer.reset !== null && answer.reset !== 'new_track') resets[answer.reset]++;
    for (const s of answer.sources) sources[s.type as 'gnss' | 'cell']++;
    if (answer.fix === null) continue;
    const tx = tr.x[ep.t], ty = tr.y[ep.t];
    const err = Math.hypot(city.frame.east(answer.fix.lon) - tx, city.frame.north(answer.fix.lat) - ty);
    if (ep.t < 10) continue; // let every track start
    const where = held[ep.gnss ? (tr.canyon[ep.t] ? 'canyon' : 'open') : 'outage'];
    where[1]++;
    if (err <= answer.fix.accuracy) where[0]++;
    if (ep.gnss) {
      const rawErr = Math.hypot(ep.rawX - tx, ep.rawY - ty);
      (tr.canyon[ep.t] ? raw.canyon : raw.open).push(rawErr);
      (tr.canyon[ep.t] ? fused.canyon : fused.open).push(err);
      const gnssRejected = answer.rejected.some((r) => r.type === 'gnss' && r.reason === 'outlier');
      if (ep.multipath) { mpTotal++; if (gnssRejected) mpRejected++; } else { goodTotal++; if (gnssRejected) goodRejected++; }
      lastGnss[2 * ep.device] = ep.rawX;
      lastGnss[2 * ep.device + 1] = ep.rawY;
      if (outageStart[ep.device] >= 0) { outageLengths.push(ep.t - outageStart[ep.device]); outageStart[ep.device] = -1; }
    } else {
      if (outageStart[ep.device] < 0) outageStart[ep.device] = ep.t;
      raw.outageCell.push(Math.hypot(ep.cellX - tx, ep.cellY - ty));
      if (!Number.isNaN(lastGnss[2 * ep.device])) raw.outageHeld.push(Math.hypot(lastGnss[2 * ep.device] - tx, lastGnss[2 * ep.device + 1] - ty));
      fused.outage.push(err);
      const alone = noCells.current(ids[ep.device], T0 + ep.t * 1000 + 250, T0 + ep.t * 1000);
      if (alone !== null) deadReckoning.push(Math.hypot(city.frame.east(alone.lon) - tx, city.frame.north(alone.lat) - ty));
      const into = ep.t - outageStart[ep.device];
      (into < 10 ? fused.outage10 : into < 30 ? fused.outage30 : fused.outageLong).push(err);
    }
  }
  const rawAll = stats([...raw.open, ...raw.canyon]);
  const fusedAll = stats([...fused.open, ...fused.canyon]);
  const rows: Array<[string, ReturnType<typeof stats>]> = [
    ['raw GNSS fix, all epochs with GNSS', rawAll],
    ['fused, same epochs', fusedAll],
    ['raw GNSS fix, open road', stats(raw.open)],
    ['fused, open road', stats(fused.open)],
    [`raw GNSS fix, within ${MULTIPATH_RADIUS_M} m of a building > ${TALL_M} m`, stats(raw.canyon)],
    ['fused, same epochs', stats(fused.canyon)],
    ['under viaducts (no GNSS): raw = the cell fix', stats(raw.outageCell)],
    ['under viaducts: last GNSS fix held', stats(raw.outageHeld)],
    ['under viaducts: fused', stats(fused.outage)],
    ['  … of which 0–10 s into the outage', stats(fused.outage10)],
    ['  … 10–30 s', stats(fused.outage30)],
    ['  … 30 s and more', stats(fused.outageLong)],
    ['under viaducts: GNSS-only track predicted (dead reckoning)', stats(deadReckoning)],
  ];
  console.log('horizontal error, metres'.padEnd(58) + 'epochs'.padStart(9) + 'RMSE'.padStart(9) + 'median'.padStart(9) + 'p95'.padStart(9) + 'max'.padStart(9));
  for (const [name, s] of rows) console.log(name.padEnd(58) + int(s.n).padStart(9) + m(s.rmse).padStart(9) + m(s.p50).padStart(9) + m(s.p95).padStart(9) + m(s.max).padStart(9));
  const ratio = fusedAll.rmse / rawAll.rmse;
  console.log(`\nfused RMSE / raw RMSE (epochs with GNSS): ${ratio.toFixed(2)}  (target ≤ 0.60: ${ratio <= 0.6 ? 'met' : 'NOT met'})`);
  console.log(`under viaducts: fused RMSE / cell-fix RMSE ${(stats(fused.outage).rmse / stats(raw.outageCell).rmse).toFixed(2)}; outages lasted ${outageLengths.length ? `${Math.min(...outageLengths)}–${Math.max(...outageLengths)} s (median ${summarize(outageLengths).median} s, ${outageLengths.length} outages)` : 'n/a'}`);
  const share = (h: number[]) => pct(h[0] / Math.max(1, h[1]));
  const all = [held.open[0] + held.canyon[0] + held.outage[0], held.open[1] + held.canyon[1] + held.outage[1]];
  console.log(`95 % radius holds the truth in ${share(all)} of fused answers (open road ${share(held.open)}, near tall buildings ${share(held.canyon)}, under viaducts ${share(held.outage)})`);
  console.log(`gate: ${pct(mpRejected / Math.max(1, mpTotal))} of ${int(mpTotal)} multipath outliers (30–100 m) rejected; ${pct(goodRejected / Math.max(1, goodTotal))} of ${int(goodTotal)} ordinary fixes rejected; ${resets.gnss_disagreed} track restarts because GNSS disagreed, ${resets.coast_limit} after too long a coast`);

  // ---- throughput ----
  const times: number[] = [];
  for (let r = 0; r < WARMUP + RUNS; r++) {
    const f = new PositionFuser(radio.map, FUSION);
    t = performance.now();
    for (const ep of epochs) f.fuse(ids[ep.device], ep.observations, T0 + ep.t * 1000 + 250);
    if (r >= WARMUP) times.push(performance.now() - t);
  }
  const full = summarize(times);

  // Filter core alone: predict + gate + update on the GNSS stream in metres, ours against number[][].
  const stream: number[] = [];
  for (const ep of epochs) if (ep.gnss) stream.push(ep.device, ep.t, ep.rawX, ep.rawY);
  const core = (make: () => { step(dt: number, ze: number, zn: number): void }) => {
    const filters = Array.from({ length: DEVICES }, make);
    const last = new Float64Array(DEVICES);
    const s = performance.now();
    for (let i = 0; i < stream.length; i += 4) {
      const d = stream[i];
      filters[d].step(stream[i + 1] - last[d], stream[i + 2], stream[i + 3]);
      last[d] = stream[i + 1];
    }
    return performance.now() - s;
  };
  const single = () => {
    const k = new ConstantVelocityFilter();
    k.reset(0, 0, 100, 0, 100, 225);
    return { step(dt: number, ze: number, zn: number) { k.predict(dt, 4); if (k.distance2(ze, zn, 16, 0, 16) <= 13.8) k.update(ze, zn, 16, 0, 16); } };
  };
  const imm = () => {
    const k = new ImmConstantVelocity({ qSteady: 0.05, qManeuver: 4, steadyS: 10, maneuverS: 5 });
    k.reset(0, 0, 100, 0, 100, 225);
    return { step(dt: number, ze: number, zn: number) { k.predict(dt); if (k.distance2(ze, zn, 16, 0, 16) <= 13.8) k.update(ze, zn, 16, 0, 16); } };
  };
  const textbook = () => {
    const k = new TextbookKalman();
    return { step(dt: number, ze: number, zn: number) { k.step(dt, 4, ze, zn, 16, 13.8); } };
  };
  const coreSingle: number[] = [], coreImm: number[] = [], coreText: number[] = [];
  for (let r = 0; r < WARMUP + RUNS; r++) {
    const a = core(single), b = core(imm), c = core(textbook);
    if (r >= WARMUP) { coreSingle.push(a); coreImm.push(b); coreText.push(c); }
  }
  const co = summarize(coreSingle), ci = summarize(coreImm), ct = summarize(coreText);
  const updates = stream.length / 4;
  console.log(`\nthroughput, one core, ${RUNS} runs after ${WARMUP} warm-up`.padEnd(70) + 'median ms'.padStart(11) + 'min ms'.padStart(10) + 'per second'.padStart(16));
  console.log(`PositionFuser.fuse: ${int(observationCount)} observations in ${int(epochs.length)} requests`.padEnd(70) + full.median.toFixed(0).padStart(11) + full.min.toFixed(0).padStart(10) + `${int(observationCount / (full.median / 1000))} obs`.padStart(16));
  console.log(`  the same, requests/s`.padEnd(70) + ''.padStart(21) + `${int(epochs.length / (full.median / 1000))} req`.padStart(16));
  console.log(`filter core (predict, gate, update) on ${int(updates)} GNSS fixes:`);
  console.log(`  IMM of two models, as PositionFuser runs it`.padEnd(70) + ci.median.toFixed(1).padStart(11) + ci.min.toFixed(1).padStart(10) + `${int(updates / (ci.median / 1000))} upd`.padStart(16));
  console.log(`  one constant-velocity model, Float64Array, algebra inline`.padEnd(70) + co.median.toFixed(1).padStart(11) + co.min.toFixed(1).padStart(10) + `${int(updates / (co.median / 1000))} upd`.padStart(16));
  console.log(`  the same model, textbook number[][] matrices`.padEnd(70) + ct.median.toFixed(1).padStart(11) + ct.min.toFixed(1).padStart(10) + `${int(updates / (ct.median / 1000))} upd`.padStart(16));
  const obsPerS = observationCount / (full.median / 1000);
  console.log(`\nfusion throughput ${int(obsPerS)} observations/s (target ≥ 100,000: ${obsPerS >= 100_000 ? 'met' : 'NOT met'}); one inline model ${(ct.median / co.median).toFixed(0)}× the textbook one`);

  mkdirSync('bench/out', { recursive: true });
  writeFileSync('bench/out/position-sim.json', JSON.stringify({
    seed: SEED, devices: DEVICES, seconds: SECONDS, requests: epochs.length, observations: observationCount,
    accuracy: Object.fromEntries(rows.map(([k, v], i) => [`${i}:${k}`, v])), ratio,
    coverage95: { all: all[0] / all[1], open: held.open[0] / held.open[1], canyon: held.canyon[0] / held.canyon[1], outage: held.outage[0] / Math.max(1, held.outage[1]) },
    gate: { multipath: mpTotal, multipathRejected: mpRejected, ordinary: goodTotal, ordinaryRejected: goodRejected, resets },
    throughput: { fuse: full, observationsPerSecond: obsPerS, coreImm: ci, coreInline: co, coreTextbook: ct, coreUpdates: updates },
  }, null, 2));
}

main().catch((err) => { console.error(err); process.exit(1); });
