/**
 * bench:analysis — the latency of each field and planner analysis on the demo city (scale 10),
 * in process (the library function the route calls, as the route calls it) and over HTTP for a
 * representative subset; for the dig check and the overlay, against the equivalent single PostGIS
 * query, interleaved in the same run.
 *
 * Inputs are seeded (rngFor(seed, 'bench-analysis', …)) over the city: dig sites and section lines
 * at random water-pipe ends (where digs happen: under streets), planned roads taken from the roads
 * layer, 300 m squares, random segments and points for burst isolation, random date ranges for
 * changes, 100,000 random points for coordinate conversion. Each case warms up, then runs on fresh
 * inputs; medians and p95 are reported. Cases whose one run takes seconds (whole-city statistics)
 * run as often as their time budget allows (at least --min-runs).
 *
 * The PostGIS contenders are the oracles of test/analysis-dig-check.test.ts (postgisCheck) and
 * test/analysis-overlay.test.ts (postgisOverlay, and the layer-against-layer `exists` query), each
 * one prepared statement on one connection with the store's session settings. The only change:
 * the request geometry is read once in a CTE, so that a generic plan does not parse the GeoJSON
 * per row. Those oracles test `st_dwithin(geom::geography, …)`, which the GiST index on geom
 * cannot serve; a second PostGIS row adds the bounding box (`geom && st_expand(…)`) a careful
 * PostGIS user would add, so the ratio is given against both. The dig-check oracle's per-type
 * clearance (clearances.ts) is applied to its rows in JS, as the test does, inside its timing.
 *
 *   npm run bench:analysis -- [--scale 10] [--runs 60] [--warmup 5] [--budget 30] [--min-runs 3]
 *                             [--http-runs 30] [--seed 20260101] [--no-http] [--db postgres://...]
 *                             [--only dig,section,burst,overlay,stats,changes,coords]
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { sql } from 'kysely';
import type { Geometry, LineString, Point, Polygon } from 'geojson';
import { openStore, SESSION_OPTIONS } from '../store/db.ts';
import { getLayer, listLayers, type Layer } from '../store/layers.ts';
import { createApiKey, revokeApiKey } from '../store/access.ts';
import { featureChanges } from '../store/feature-changes.ts';
import { digCheck, type DigFootprintInput } from '../analysis/dig-check.ts';
import { clearanceFor, MAX_CLEARANCE_M } from '../analysis/clearances.ts';
import { crossSection } from '../analysis/cross-section.ts';
import { isolate, nearestSegment, NetworkCache, servedBy, SNAP_CLASSES, DEFAULT_SNAP_M, valvesFromPointsLayer } from '../analysis/burst-isolation.ts';
import { overlay, degreesCovering, type OverlayQuery } from '../analysis/overlay.ts';
import type { InputGeometry } from '../analysis/geometry-input.ts';
import { layerTotals, statsByArea, statsByGrid, ADMIN_LAYER } from '../analysis/stats.ts';
import { readPoints, transformCrs, transformPoints, type Point as XY } from '../analysis/coords.ts';
import { metresPerDegreeLat, metresPerDegreeLon } from '../position/asset-geodesy.ts';
import { rngFor } from '../fixtures/demo-city/random.ts';
import { openDemoStore } from './demo-store.ts';
import { startServerProcess } from './server-process.ts';
import { summarize } from './stats.ts';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '10' },
    runs: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '5' },
    budget: { type: 'string', default: '30' },
    'min-runs': { type: 'string', default: '3' },
    'http-runs': { type: 'string', default: '30' },
    seed: { type: 'string', default: '20260101' },
    'no-http': { type: 'boolean', default: false },
    only: { type: 'string', default: 'dig,section,burst,overlay,stats,changes,coords' },
    db: { type: 'string', default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/onemap_bench' },
  },
});
const scale = Number(values.scale);
const RUNS = Number(values.runs);
const WARMUP = Number(values.warmup);
const BUDGET_MS = Number(values.budget) * 1000;
const MIN_RUNS = Number(values['min-runs']);
const HTTP_RUNS = Number(values['http-runs']);
const SEED = Number(values.seed);
const url = values.db!;
const ONLY = new Set(values.only!.split(','));

/** The demo city's pipe (line) layers, named so that a bench:import layer running alongside is not searched. */
const PIPE_LAYERS = ['drainage-pipes', 'gas-pipes', 'heat-pipes', 'power-cables', 'telecom-cables', 'water-supply-pipes'];
const COORD_POINTS = 100_000;
const BURST_TIMEOUT_MS = 60_000;

interface BurstAnswer { segments: number; valves: number; served: number | null }

type Summary = ReturnType<typeof summarize>;
interface Agreement { same: number; of: number; examples: string[] }
interface Row {
  section: string;
  name: string;
  runs: number;
  ours: Summary;
  postgis?: Summary;
  postgisIndexed?: Summary;
  agreement?: Agreement;
  http?: Summary & { path: string; timeouts?: number };
  note?: string;
}
const rows: Row[] = [];

// ---------------------------------------------------------------------------------------------
// Measuring.

type Contender<I> = (input: I) => Promise<unknown>;

/**
 * Runs every contender on the same input, input after input, alternating which goes first so that
 * neither always finds the other's pages in the cache. Warm-up inputs are not counted. Each
 * contender has the time budget: ours sets the number of runs, and one that takes seconds
 * (the full-scan oracles) runs on every k-th input only, still interleaved, and warms up once.
 * Answers are kept by run, for comparing where both ran.
 */
async function measure<I>(inputs: readonly I[], contenders: Record<string, Contender<I>>, runs = RUNS, warmup = WARMUP) {
  const names = Object.keys(contenders);
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const answers: Record<string, Map<number, unknown>> = Object.fromEntries(names.map((n) => [n, new Map()]));
  const stride: Record<string, number> = Object.fromEntries(names.map((n) => [n, 1]));
  const last: Record<string, number> = {};
  let planned = runs;
  for (let r = 0; r < warmup + planned; r++) {
    const input = inputs[r % inputs.length]!;
    const order = r % 2 ? [...names].reverse() : names;
    for (const name of order) {
      if (r < warmup && last[name]! > 1000) continue;
      if (r >= warmup && (r - warmup) % stride[name]! !== 0) continue;
      const t = performance.now();
      const answer = await contenders[name]!(input);
      const ms = performance.now() - t;
      last[name] = ms;
      if (r >= warmup) { times[name]!.push(ms); answers[name]!.set(r - warmup, answer); }
    }
    if (r === Math.max(0, warmup - 1)) {
      // Ours (the first contender) sets the number of runs.
      planned = Math.min(runs, Math.max(MIN_RUNS, Math.floor(BUDGET_MS / last[names[0]!]!)));
      for (const n of names) stride[n] = Math.max(1, Math.min(Math.floor(planned / MIN_RUNS), Math.ceil((planned * last[n]!) / BUDGET_MS)));
    }
  }
  return {
    runs: planned,
    summary: Object.fromEntries(names.map((n) => [n, summarize(times[n]!)])),
    answers: Object.fromEntries(names.map((n) => [n, answers[n]!])),
    /** Answers in run order (the fastest contender ran every input). */
    list: (name: string) => [...answers[name]!.values()],
  };
}

/** Compares the answers of the runs both contenders made. */
function agreement<O, T>(ours: Map<number, unknown>, theirs: Map<number, unknown>, compare: (o: O, t: T) => string | null): Agreement {
  const examples: string[] = [];
  let same = 0;
  let of = 0;
  for (const [run, t] of theirs) {
    if (!ours.has(run)) continue;
    of++;
    const diff = compare(ours.get(run) as O, t as T);
    if (diff === null) same++;
    else if (examples.length < 3) examples.push(`run ${run}: ${diff}`);
  }
  return { same, of, examples };
}

function setDiff(ours: readonly string[], theirs: readonly string[]): string | null {
  const o = new Set(ours);
  const t = new Set(theirs);
  const onlyOurs = [...o].filter((k) => !t.has(k));
  const onlyTheirs = [...t].filter((k) => !o.has(k));
  if (!onlyOurs.length && !onlyTheirs.length) return null;
  return `only ours: ${onlyOurs.slice(0, 5).join(' ') || '—'}; only PostGIS: ${onlyTheirs.slice(0, 5).join(' ') || '—'}`;
}

// ---------------------------------------------------------------------------------------------
// Seeded inputs.

const rng = (...keys: Array<string | number>) => rngFor(SEED, 'bench-analysis', ...keys);
/** Every latitude of a geometry's coordinates. */
function latitudes(g: Geometry): number[] {
  const out: number[] = [];
  const visit = (c: unknown): void => {
    if (typeof (c as number[])[0] === 'number') out.push((c as number[])[1]!);
    else (c as unknown[]).forEach(visit);
  };
  if (g.type !== 'GeometryCollection') visit(g.coordinates);
  return out;
}

const moved = (lon: number, lat: number, east: number, north: number): [number, number] =>
  [lon + east / metresPerDegreeLon(lat), lat + north / metresPerDegreeLat(lat)];

async function main() {
  const loadBefore = os.loadavg();
  const store = await openDemoStore(url, scale);
  const db = store.db;
  const layer = async (id: string): Promise<Layer> => {
    const l = await getLayer(db, id);
    if (!l) throw new Error(`the bench database has no layer ${id}`);
    return l;
  };
  const { rows: counts } = await sql<{ layer_id: string; n: number }>`
    select layer_id, count(*)::int as n from feature_version where valid_to is null group by layer_id`.execute(db);
  const current = Object.fromEntries(counts.map((r) => [r.layer_id, r.n]));
  const pipeCount = PIPE_LAYERS.reduce((a, id) => a + (current[id] ?? 0), 0);
  console.log(`\nbench:analysis  demo city scale ${scale}: ${current.buildings} current buildings, ${pipeCount} current pipe segments in ${PIPE_LAYERS.length} layers; `
    + `seed ${SEED}, ${RUNS} runs after ${WARMUP} warm-up (fewer when a case's budget of ${BUDGET_MS / 1000} s is spent, at least ${MIN_RUNS})`);
  console.log(`load average at start: ${loadBefore.map((x) => x.toFixed(2)).join(', ')}\n`);

  const n = WARMUP + RUNS;
  const { rows: ends } = await sql<{ lon: number; lat: number }>`
    select st_x(p) as lon, st_y(p) as lat from (select st_startpoint(st_geometryn(geom, 1)) as p from feature_version
      where layer_id = 'water-supply-pipes' and valid_to is null order by feature_id) x`.execute(db);
  const site = (r: ReturnType<typeof rng>) => {
    const e = r.pick(ends);
    return moved(e.lon, e.lat, r.range(-5, 5), r.range(-5, 5));
  };

  // The PostGIS oracles, prepared on one connection with the store's session settings.
  const client = new pg.Client({ connectionString: url, options: SESSION_OPTIONS });
  await client.connect();

  // ---------------------------------------------------------------------------------- dig check
  type Dig = { input: DigFootprintInput; depth: number | null };
  const digInputs: Record<string, Dig[]> = { 'point + radius (pit)': [], 'line + width (trench)': [], polygon: [] };
  const r1 = rng('dig');
  for (let i = 0; i < n; i++) {
    const [lon, lat] = site(r1);
    const depth = r1.chance(0.5) ? null : r1.range(1, 3);
    digInputs['point + radius (pit)']!.push({ input: { geometry: { type: 'Point', coordinates: [lon, lat] } as Point, radius: r1.range(3, 15) }, depth });
    const a = r1.range(0, Math.PI);
    const len = r1.range(40, 120);
    const side = r1.range(-8, 8);
    const trench: LineString = {
      type: 'LineString',
      coordinates: [moved(lon, lat, -Math.cos(a) * len / 2, -Math.sin(a) * len / 2), moved(lon, lat, -Math.sin(a) * side, Math.cos(a) * side), moved(lon, lat, Math.cos(a) * len / 2, Math.sin(a) * len / 2)],
    };
    digInputs['line + width (trench)']!.push({ input: { geometry: trench, width: r1.range(0.6, 2) }, depth });
    // A hexagon star-shaped about the site (vertices 60° ± 18° apart, so no gap reaches 180°) is simple.
    const angles = Array.from({ length: 6 }, (_, k) => ((k + r1.range(-0.3, 0.3)) * Math.PI) / 3);
    const ring = angles.map((t) => { const d = r1.range(8, 20); return moved(lon, lat, Math.cos(t) * d, Math.sin(t) * d); });
    digInputs.polygon!.push({ input: { geometry: { type: 'Polygon', coordinates: [[...ring, ring[0]!]] } as Polygon }, depth });
  }

  const digOracleText = (buffered: boolean, indexed: boolean) => `
    with fp as (select st_setsrid(st_geomfromgeojson($1), 4490) as core),
    f as (select core, ${buffered ? `st_setsrid(st_buffer(core::geography, $2::float8, 'quad_segs=64')::geometry, 4490)` : 'core'} as area from fp)
    select p.layer_id, p.feature_id, p.attributes as a,
      greatest(0, st_distance(p.geom::geography, f.core::geography) - $2::float8) as d,
      (select min(st_linelocatepoint(p.geom, (x).geom)) from st_dumppoints(st_intersection(p.geom, f.area)) x) as fmin,
      (select max(st_linelocatepoint(p.geom, (x).geom)) from st_dumppoints(st_intersection(p.geom, f.area)) x) as fmax
    from feature_version p, f
    where p.layer_id = any($3::text[]) and p.validity @> now()
      and st_dwithin(p.geom::geography, f.core::geography, $2::float8 + $4::float8 + 1)
      ${indexed ? 'and p.geom && st_expand(f.core, $5::float8, $6::float8)' : ''}`;
  type OracleRow = { layer_id: string; feature_id: string; a: Record<string, unknown>; d: number };
  /** The oracle's answer as the test reads it: within each utility's clearance; near-ties (1 cm) left out of both sides. */
  async function digOracle(dig: Dig, indexed: boolean): Promise<{ keys: string[]; ties: string[] }> {
    const { input } = dig;
    const offset = 'radius' in input ? input.radius : 'width' in input ? input.width / 2 : 0;
    const buffered = offset > 0;
    const lats = latitudes(input.geometry);
    const { dx, dy } = degreesCovering(offset + MAX_CLEARANCE_M + 1, Math.min(...lats), Math.max(...lats));
    const name = `bench-dig-${buffered ? 'buffer' : 'polygon'}${indexed ? '-indexed' : ''}`;
    const { rows: found } = await client.query<OracleRow>({
      name, text: digOracleText(buffered, indexed),
      values: [JSON.stringify(input.geometry), offset, PIPE_LAYERS, MAX_CLEARANCE_M, ...(indexed ? [dx, dy] : [])],
    });
    const keys: string[] = [];
    const ties: string[] = [];
    for (const r of found) {
      const key = `${r.layer_id}/${r.feature_id}`;
      const clearance = clearanceFor({
        pipeClass: (r.a.pipe_class as string) ?? null, diameterMm: (r.a.diameter_mm as number) ?? null,
        pressureClass: (r.a.pressure_class as string) ?? null, burialMethod: (r.a.burial_method as string) ?? null,
      }).metres;
      if (Math.abs(r.d - clearance) < 0.01 || (r.d > 0 && r.d < 0.01)) ties.push(key);
      else if (r.d <= clearance) keys.push(key);
    }
    return { keys, ties };
  }
  for (const [kind, inputs] of ONLY.has('dig') ? Object.entries(digInputs) : []) {
    const m = await measure(inputs, {
      ours: async (d) => (await digCheck(db, PIPE_LAYERS, d.input, d.depth)).hits.map((h) => `${h.layerId}/${h.featureId}`),
      postgis: (d) => digOracle(d, false),
      indexed: (d) => digOracle(d, true),
    });
    const cmp = (o: string[], t: { keys: string[]; ties: string[] }) => {
      const tie = new Set(t.ties);
      return setDiff(o.filter((k) => !tie.has(k)), t.keys);
    };
    const hits = (m.list('ours') as string[][]).map((a) => a.length);
    rows.push({
      section: 'dig check', name: kind, runs: m.runs, ours: m.summary.ours!, postgis: m.summary.postgis!, postgisIndexed: m.summary.indexed!,
      agreement: agreement(m.answers.ours!, m.answers.postgis!, cmp),
      note: `${median(hits)} utilities reported (median), max ${Math.max(...hits)}; indexed oracle agrees on ${agreement(m.answers.ours!, m.answers.indexed!, cmp).same}`,
    });
    report(rows.at(-1)!);
  }

  // ------------------------------------------------------------------------------ cross-section
  const sections: LineString[] = [];
  const r2 = rng('section');
  for (let i = 0; i < n; i++) {
    const [lon, lat] = site(r2);
    const a = r2.range(0, Math.PI);
    const len = r2.range(30, 80);
    sections.push({ type: 'LineString', coordinates: [moved(lon, lat, -Math.cos(a) * len / 2, -Math.sin(a) * len / 2), moved(lon, lat, Math.cos(a) * len / 2, Math.sin(a) * len / 2)] });
  }
  if (ONLY.has('section')) {
    const m = await measure(sections, { ours: async (line) => (await crossSection(db, PIPE_LAYERS, line)).crossings.length });
    rows.push({ section: 'cross-section', name: 'line 30–80 m across a street', runs: m.runs, ours: m.summary.ours!, note: `${median(m.list('ours') as number[])} crossings (median)` });
    report(rows.at(-1)!);
  }

  // ---------------------------------------------------------------------------- burst isolation
  const layers = await listLayers(db);
  const servedLayers = layers
    .filter((l) => l.domain === 'building' || (l.domain === 'address' && (l.geometryType === 'Point' || l.geometryType === 'MultiPoint')))
    .sort((x, y) => (x.id < y.id ? -1 : 1));
  const networks = new NetworkCache(db);
  const water = await layer('water-supply-pipes');
  let t = performance.now();
  const waterNet = await networks.get(water.id, water.revision, 'auto');
  const buildMs = performance.now() - t;
  const gas = await layer('gas-pipes');
  t = performance.now();
  await networks.get(gas.id, gas.revision, 'auto');
  const gasBuildMs = performance.now() - t;
  console.log(`  pipe networks built once per layer revision: water-supply-pipes ${waterNet.graph.edgeCount} segments in ${(buildMs / 1000).toFixed(2)} s, gas-pipes in ${(gasBuildMs / 1000).toFixed(2)} s`);

  // The loss-of-supply query grows with the isolated segments times the buildings (see the
  // report); a run past BURST_TIMEOUT_MS is cancelled and counted at the time it was cancelled.
  const burstStore = await openStore({ databaseUrl: url, dataDir: '', statementTimeoutMs: BURST_TIMEOUT_MS });
  /** What POST /analysis/burst-isolation does after reading its body, for an admin (every layer readable). */
  async function burst(pipeLayer: Layer, segmentId: string): Promise<BurstAnswer> {
    const network = await networks.get(pipeLayer.id, pipeLayer.revision, 'auto');
    const pointsId = pipeLayer.id.replace(/-(pipes|cables|lines)$/, '-points');
    // As the route: the valves are read once per network and points-layer revision.
    const valves = await networks.valves(network, pointsId, byId.get(pointsId)?.revision ?? 0);
    const isolation = isolate(network, segmentId, valves);
    try {
      const served = await Promise.all(servedLayers.map((l) => servedBy(burstStore.db, network, isolation.segments, l.id)));
      return { segments: isolation.segments.length, valves: isolation.valves.length, served: served.reduce((a, x) => a + x.length, 0) };
    } catch (err) {
      if ((err as { code?: string }).code !== '57014') throw err;
      return { segments: isolation.segments.length, valves: isolation.valves.length, served: null };
    }
  }
  const burstNote = (a: BurstAnswer[]) => {
    const done = a.filter((x) => x.served !== null);
    return `isolated segments per run ${a.map((x) => x.segments).join(', ')}; median ${median(a.map((x) => x.valves))} valves, `
      + `${median(done.map((x) => x.served!))} buildings/addresses; ${a.length - done.length} of ${a.length} runs cancelled at the ${BURST_TIMEOUT_MS / 1000} s statement timeout`;
  };
  const r3 = rng('burst');
  const segmentIds = Array.from({ length: n }, () => r3.pick(waterNet.featureIds));
  const burstPoints = Array.from({ length: n }, () => { const e = r3.pick(ends); return moved(e.lon, e.lat, r3.range(-20, 20), r3.range(-20, 20)); });
  const byId = new Map(layers.map((l) => [l.id, l]));
  if (ONLY.has('burst')) {
    // One warm-up: a run takes seconds (see the note on servedBy in the report).
    const m = await measure(segmentIds, { ours: (id) => burst(water, id) }, RUNS, 1);
    rows.push({ section: 'burst isolation', name: 'segment id (water-supply-pipes)', runs: m.runs, ours: m.summary.ours!, note: burstNote(m.list('ours') as BurstAnswer[]) });
    report(rows.at(-1)!);
    const v = await measure(segmentIds, { ours: async () => valvesFromPointsLayer(db, waterNet, 'water-supply-points') });
    rows.push({ section: 'burst isolation', name: '  reading the valves (once per revision; cached)', runs: v.runs, ours: v.summary.ours! });
    report(rows.at(-1)!);
  }
  if (ONLY.has('burst')) {
    const m = await measure(burstPoints.slice(1), {
      ours: async ([lon, lat]) => {
        const hit = await nearestSegment(burstStore.db, PIPE_LAYERS, lon, lat, DEFAULT_SNAP_M, SNAP_CLASSES);
        return hit ? burst(byId.get(hit.layerId)!, hit.featureId) : null;
      },
    }, RUNS, 1);
    const snapped = m.list('ours').filter((x) => x !== null) as BurstAnswer[];
    rows.push({ section: 'burst isolation', name: 'point snapped to water or gas', runs: m.runs, ours: m.summary.ours!,
      note: `${snapped.length} of ${m.runs} points within ${DEFAULT_SNAP_M} m of a segment; ${burstNote(snapped)}` });
    report(rows.at(-1)!);
  }

  await burstStore.close();

  // ------------------------------------------------------------------------------------ overlay
  const { rows: roads } = await sql<{ g: string }>`
    select st_asgeojson(geom, 9) as g from feature_version
    where layer_id = 'roads' and valid_to is null and st_length(geom::geography) between 150 and 2000 order by feature_id`.execute(db);
  const r4 = rng('overlay');
  const plannedRoads = Array.from({ length: n }, () => JSON.parse(r4.pick(roads).g) as InputGeometry);
  const squares = Array.from({ length: n }, () => {
    const [lon, lat] = site(r4);
    const c = [[-150, -150], [150, -150], [150, 150], [-150, 150], [-150, -150]].map(([e, nn]) => moved(lon, lat, e!, nn!));
    return { type: 'Polygon', coordinates: [c] } as Polygon;
  });
  const waterIds = Array.from({ length: n }, () => Array.from({ length: 5 }, () => r4.pick(waterNet.featureIds)));

  const overlayOracleText = (buffered: boolean, indexed: boolean) => `
    with q as (select st_setsrid(st_geomfromgeojson($1), 4490) as g),
    r as (select g, ${buffered ? `st_setsrid(st_buffer(g::geography, $3::float8, 'quad_segs=16')::geometry, 4490)` : 'g'} as region from q)
    select count(*)::int as n,
      coalesce(sum(st_length(geom::geography)) filter (where st_dimension(geom) = 1), 0)::float8 as length_m,
      coalesce(sum(st_area(geom::geography)) filter (where st_dimension(geom) = 2), 0)::float8 as area_m2,
      coalesce(sum(st_length(st_intersection(st_force2d(geom), r.region)::geography)) filter (where st_dimension(geom) = 1), 0)::float8 as inside_length_m,
      coalesce(sum(st_area(st_intersection(st_force2d(geom), r.region)::geography)) filter (where st_dimension(geom) = 2), 0)::float8 as inside_area_m2,
      coalesce(array_agg(feature_id order by feature_id), '{}') as ids
    from feature_version, r
    where layer_id = $2 and validity @> now() and st_dwithin(geom::geography, r.g::geography, $3::float8)
      ${indexed ? 'and geom && st_expand(r.g, $4::float8, $5::float8)' : ''}`;
  type OverlayOracle = { n: number; ids: string[] };
  async function overlayOracle(layerId: string, g: Geometry, distance: number, indexed: boolean): Promise<OverlayOracle> {
    const lats = latitudes(g);
    const { dx, dy } = degreesCovering(distance, Math.min(...lats), Math.max(...lats));
    const { rows: r } = await client.query<OverlayOracle>({
      name: `bench-overlay-${distance > 0 ? 'buffer' : 'plain'}${indexed ? '-indexed' : ''}`,
      text: overlayOracleText(distance > 0, indexed),
      values: [JSON.stringify(g), layerId, distance, ...(indexed ? [dx, dy] : [])],
    });
    return r[0]!;
  }
  const layerOracleText = (indexed: boolean) => `
    select count(*)::int as n, coalesce(sum(st_area(b.geom::geography)), 0)::float8 as area_m2, coalesce(array_agg(b.feature_id order by b.feature_id), '{}') as ids
    from feature_version b
    where b.layer_id = $1 and b.validity @> now() and exists (
      select 1 from feature_version g where g.layer_id = $2 and g.validity @> now() and g.feature_id = any($3::text[])
        and st_dwithin(b.geom::geography, g.geom::geography, $4::float8) ${indexed ? 'and b.geom && st_expand(g.geom, $5::float8, $6::float8)' : ''})`;
  async function layerOracle(layerId: string, other: string, ids: string[], distance: number, indexed: boolean): Promise<OverlayOracle> {
    const { dx, dy } = degreesCovering(distance, 24, 26);
    const { rows: r } = await client.query<OverlayOracle>({
      name: `bench-overlay-layer${indexed ? '-indexed' : ''}`, text: layerOracleText(indexed),
      values: [layerId, other, ids, distance, ...(indexed ? [dx, dy] : [])],
    });
    return r[0]!;
  }
  const cmpOverlay = (o: { count: number; ids: string[] }, t: OverlayOracle) =>
    o.count !== t.n ? `count ${o.count} vs PostGIS ${t.n}` : setDiff(o.ids, t.ids);
  const ours = async (q: OverlayQuery) => {
    const res = await overlay(db, q);
    return { count: res.summary.count, ids: res.featureIds };
  };
  const geometryCases: Array<[string, string, InputGeometry[], number]> = [
    ['buildings within 50 m of a planned road', 'buildings', plannedRoads, 50],
    ['water-supply-pipes within 50 m of a planned road', 'water-supply-pipes', plannedRoads, 50],
    ['land-parcels within 50 m of a planned road', 'land-parcels', plannedRoads, 50],
    ['buildings intersecting a 300 m square', 'buildings', squares, 0],
  ];
  for (const [name, layerId, geometries, distance] of ONLY.has('overlay') ? geometryCases : []) {
    const l = await layer(layerId);
    const m = await measure(geometries, {
      ours: (g) => ours({ layer: l, target: { kind: 'geometry', geometry: g }, distanceM: distance, at: null, limit: 10_000 }),
      postgis: (g) => overlayOracle(layerId, g, distance, false),
      indexed: (g) => overlayOracle(layerId, g, distance, true),
    });
    const found = (m.list('ours') as Array<{ count: number }>).map((a) => a.count);
    rows.push({ section: 'overlay', name, runs: m.runs, ours: m.summary.ours!, postgis: m.summary.postgis!, postgisIndexed: m.summary.indexed!,
      agreement: agreement(m.answers.ours!, m.answers.postgis!, cmpOverlay),
      note: `${median(found)} features (median), max ${Math.max(...found)}, all returned as GeoJSON (limit 10,000) by ours; ids and sums only by PostGIS` });
    report(rows.at(-1)!);
  }
  if (ONLY.has('overlay')) {
    const buildings = await layer('buildings');
    const m = await measure(waterIds, {
      ours: (ids) => ours({ layer: buildings, target: { kind: 'layer', layer: water, ids }, distanceM: 30, at: null, limit: 10_000 }),
      postgis: (ids) => layerOracle('buildings', 'water-supply-pipes', ids, 30, false),
      indexed: (ids) => layerOracle('buildings', 'water-supply-pipes', ids, 30, true),
    });
    const found = (m.list('ours') as Array<{ count: number }>).map((a) => a.count);
    rows.push({ section: 'overlay', name: 'buildings within 30 m of 5 water pipes (layer against layer, ids)', runs: m.runs, ours: m.summary.ours!,
      postgis: m.summary.postgis!, postgisIndexed: m.summary.indexed!, agreement: agreement(m.answers.ours!, m.answers.postgis!, cmpOverlay),
      note: `${median(found)} buildings (median)` });
    report(rows.at(-1)!);
    const whole = await measure([0], {
      ours: async () => (await overlay(db, { layer: buildings, target: { kind: 'layer', layer: gas }, distanceM: 15, at: null, limit: 0 })).summary.count,
    }, RUNS, 0);
    rows.push({ section: 'overlay', name: 'buildings within 15 m of any gas pipe (whole layers, summary only)', runs: whole.runs, ours: whole.summary.ours!,
      note: `${(whole.list('ours') as number[])[0]} buildings; no PostGIS run: the oracle's geography-only join has no index to use` });
    report(rows.at(-1)!);
  }

  // -------------------------------------------------------------------------------------- stats
  const statsCases: Array<[string, string, 'district' | 'community' | number]> = [
    ['buildings by district', 'buildings', 'district'],
    ['buildings by community', 'buildings', 'community'],
    ['water-supply-pipes by community', 'water-supply-pipes', 'community'],
    ['buildings on a 1,000 m grid', 'buildings', 1000],
    ['buildings on a 500 m grid', 'buildings', 500],
    ['buildings on a 250 m grid', 'buildings', 250],
  ];
  for (const [name, layerId, by] of ONLY.has('stats') ? statsCases : []) {
    const l = await layer(layerId);
    const areas = typeof by === 'string' ? await layer(ADMIN_LAYER[by]) : null;
    // As the route does: the groups and the layer's totals in parallel.
    // A run takes seconds to a minute: no warm-up round; the median of the runs leaves out a cold first one.
    const m = await measure([0], {
      ours: async () => {
        const [groups] = await Promise.all([areas ? statsByArea(db, l, areas, null) : statsByGrid(db, l, by as number, null), layerTotals(db, l, null)]);
        return groups.length;
      },
    }, RUNS, 0);
    rows.push({ section: 'stats', name, runs: m.runs, ours: m.summary.ours!, note: `${(m.list('ours') as number[])[0]} ${areas ? 'areas' : 'non-empty cells'}` });
    report(rows.at(-1)!);
  }

  // ------------------------------------------------------------------------------------ changes
  const r5 = rng('changes');
  const day = 86_400_000;
  const { rows: span } = await sql<{ a: Date; b: Date }>`select min(valid_from) as a, max(valid_from) as b from feature_version where layer_id in ('buildings', 'roads')`.execute(db);
  const first = span[0]!.a.getTime();
  const last = span[0]!.b.getTime() + 30 * day;
  const ranges = Array.from({ length: n }, () => {
    const from = first + r5.range(0, last - first - 30 * day);
    return { from: new Date(from), to: new Date(Math.min(last, from + r5.range(30, 1500) * day)) };
  });
  for (const layerId of ONLY.has('changes') ? ['buildings', 'roads'] : []) {
    const m = await measure(ranges, { ours: async (q) => (await featureChanges(db, layerId, { ...q, limit: 1000, offset: 0 })).numberMatched });
    const matched = m.list('ours') as number[];
    rows.push({ section: 'changes', name: `${layerId}, a random range of 30–1,500 days (first page of 1,000)`, runs: m.runs, ours: m.summary.ours!,
      note: `${median(matched)} changes matched (median), max ${Math.max(...matched)}` });
    report(rows.at(-1)!);
  }

  // ------------------------------------------------------------------------------------- coords
  const { rows: ext } = await sql<{ b: number[] }>`select array[st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e)] as b
    from (select st_extent(geom)::geometry as e from feature_version where layer_id = 'buildings' and valid_to is null) x`.execute(db);
  const [x0, y0, x1, y1] = ext[0]!.b as [number, number, number, number];
  const r6 = rng('coords');
  const lonLat: XY[] = Array.from({ length: COORD_POINTS }, () => [x0 + r6.next() * (x1 - x0), y0 + r6.next() * (y1 - y0)]);
  // As POST /coords/transform does with the parsed body.
  const convert = (from: string, to: string, points: unknown) => {
    const f = transformCrs(from, 'from');
    return transformPoints(f, transformCrs(to, 'to'), readPoints(points, f));
  };
  const inCrs: Record<string, XY[]> = { CRS84: lonLat, 'EPSG:4549': convert('CRS84', 'EPSG:4549', lonLat), GCJ02: convert('CRS84', 'GCJ02', lonLat) };
  const coordCases: Array<[string, string]> = [['EPSG:4549', 'CRS84'], ['CRS84', 'EPSG:4549'], ['CRS84', 'GCJ02'], ['GCJ02', 'CRS84'], ['GCJ02', 'EPSG:4549']];
  for (const [from, to] of ONLY.has('coords') ? coordCases : []) {
    const m = await measure([0], { ours: async () => convert(from, to, inCrs[from]).length }, Math.min(RUNS, 30), 2);
    rows.push({ section: 'coords', name: `${COORD_POINTS.toLocaleString('en')} points ${from} → ${to}`, runs: m.runs, ours: m.summary.ours!,
      note: `${(COORD_POINTS / m.summary.ours!.median / 1000).toFixed(1)} M points/s` });
    report(rows.at(-1)!);
  }
  await client.end();

  // --------------------------------------------------------------------------------------- HTTP
  if (!values['no-http']) {
    const key = await createApiKey(db, { name: 'bench:analysis (revoked at the end)', role: 'admin' });
    const server = await startServerProcess(url);
    let serverExit: string | undefined;
    server.child.on('exit', (code, signal) => { serverExit = `code ${code}, signal ${signal}`; });
    const headers = { 'X-API-Key': key.key, 'Content-Type': 'application/json' };
    // The server builds its asset indexes and geocoder in the background at start: wait for both,
    // so that they do not share the CPU with the measurement.
    const waited = performance.now();
    for (const path of [`/assets/nearest?lon=${ends[0]!.lon}&lat=${ends[0]!.lat}&k=1`, '/geocode?q=' + encodeURIComponent('鲤城区')]) {
      const res = await fetch(server.base + path, { headers });
      await res.arrayBuffer();
    }
    console.log(`\nserver process ready for measuring ${((performance.now() - waited) / 1000).toFixed(1)} s after it began serving (asset indexes, geocoder)`);
    /** Body bytes; -1 for a 503 QueryTimeout where `timeoutsExpected` (the server cancels statements at 30 s). */
    const call = async (method: 'GET' | 'POST', path: string, body?: unknown, timeoutsExpected = false) => {
      const res = await fetch(server.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const bytes = await res.arrayBuffer();
      if (res.status === 503 && timeoutsExpected) return -1;
      if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${Buffer.from(bytes).toString().slice(0, 300)}`);
      return bytes.byteLength;
    };
    const httpCase = async <I>(rowName: string, path: string, inputs: readonly I[], fn: (input: I) => Promise<number>, runs = HTTP_RUNS, warmup = 3) => {
      const row = rows.find((r) => r.name === rowName);
      if (!row) return; // its section was left out (--only)
      const m = await measure(inputs, { http: fn }, runs, warmup);
      const all = m.list('http') as number[];
      const bytes = all.filter((b) => b >= 0);
      const timeouts = all.length - bytes.length;
      row.http = { ...m.summary.http!, path, ...(timeouts ? { timeouts } : {}) };
      console.log(`  HTTP ${path.padEnd(34)} ${rowName.slice(0, 50).padEnd(50)} median ${ms(row.http.median)} p95 ${ms(row.http.p95)} (${m.runs} runs, median body ${(median(bytes) / 1024).toFixed(1)} KiB`
        + `${timeouts ? `; ${timeouts} answered 503 at the server's 30 s statement timeout` : ''})`);
    };
    const digBody = (d: Dig) => ({ ...d.input, ...(d.depth === null ? {} : { depth: d.depth }), layers: PIPE_LAYERS });
    await httpCase('point + radius (pit)', 'POST /analysis/dig-check', digInputs['point + radius (pit)']!, (d) => call('POST', '/analysis/dig-check', digBody(d)));
    await httpCase('line + width (trench)', 'POST /analysis/dig-check', digInputs['line + width (trench)']!, (d) => call('POST', '/analysis/dig-check', digBody(d)));
    await httpCase('polygon', 'POST /analysis/dig-check', digInputs.polygon!, (d) => call('POST', '/analysis/dig-check', digBody(d)));
    await httpCase('line 30–80 m across a street', 'POST /analysis/cross-section', sections, (line) => call('POST', '/analysis/cross-section', { geometry: line, layers: PIPE_LAYERS }));
    await httpCase('segment id (water-supply-pipes)', 'POST /analysis/burst-isolation', segmentIds, (id) => call('POST', '/analysis/burst-isolation', { layer: 'water-supply-pipes', segment: id }, true),
      Math.min(HTTP_RUNS, rows.find((r) => r.name === 'segment id (water-supply-pipes)')?.runs ?? 0), 1);
    await httpCase('buildings within 50 m of a planned road', 'POST /analysis/overlay', plannedRoads, (g) => call('POST', '/analysis/overlay', { layer: 'buildings', geometry: g, distance: 50, limit: 10_000 }));
    await httpCase('buildings within 30 m of 5 water pipes (layer against layer, ids)', 'POST /analysis/overlay', waterIds,
      (ids) => call('POST', '/analysis/overlay', { layer: 'buildings', against: { layer: 'water-supply-pipes', ids }, distance: 30, limit: 10_000 }));
    await httpCase('buildings by community', 'GET /analysis/stats', [0], () => call('GET', '/analysis/stats?layer=buildings&by=community'), Math.min(HTTP_RUNS, rows.find((r) => r.name === 'buildings by community')?.runs ?? 0), 1);
    await httpCase('buildings on a 500 m grid', 'GET /analysis/stats', [0], () => call('GET', '/analysis/stats?layer=buildings&by=grid&cell=500'), Math.min(HTTP_RUNS, rows.find((r) => r.name === 'buildings on a 500 m grid')?.runs ?? 0), 1);
    await httpCase('buildings, a random range of 30–1,500 days (first page of 1,000)', 'GET /collections/{id}/changes', ranges,
      (q) => call('GET', `/collections/buildings/changes?from=${q.from.toISOString()}&to=${q.to.toISOString()}`));
    await httpCase(`${COORD_POINTS.toLocaleString('en')} points EPSG:4549 → CRS84`, 'POST /coords/transform', [0], () => call('POST', '/coords/transform', { from: 'EPSG:4549', to: 'CRS84', points: inCrs['EPSG:4549'] }), 20, 2);
    await httpCase(`${COORD_POINTS.toLocaleString('en')} points CRS84 → GCJ02`, 'POST /coords/transform', [0], () => call('POST', '/coords/transform', { from: 'CRS84', to: 'GCJ02', points: lonLat }), 20, 2);
    if (serverExit) console.log(`  the server process exited during the run (${serverExit})`);
    server.child.kill('SIGTERM');
    await revokeApiKey(db, key.prefix);
  }

  const loadAfter = os.loadavg();
  printTable(loadBefore, loadAfter);
  mkdirSync('bench/out', { recursive: true });
  writeFileSync('bench/out/analysis.json', JSON.stringify({
    scale, seed: SEED, at: new Date().toISOString(), runs: RUNS, warmup: WARMUP, budgetS: BUDGET_MS / 1000,
    loadAverage: { start: loadBefore, end: loadAfter }, cpus: os.cpus().length,
    networkBuildMs: { 'water-supply-pipes': buildMs, 'gas-pipes': gasBuildMs },
    rows: rows.map((r) => ({ ...r, ratio: r.postgis ? r.ours.median / r.postgis.median : undefined, ratioIndexed: r.postgisIndexed ? r.ours.median / r.postgisIndexed.median : undefined })),
  }, null, 2));
  console.log('\nwritten: bench/out/analysis.json');
  await store.close();
}

// ---------------------------------------------------------------------------------------------
// Output.

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
}

const ms = (x: number | undefined) => (x === undefined ? '—' : x < 10 ? x.toFixed(2) : x < 1000 ? x.toFixed(1) : x.toFixed(0));

function report(r: Row) {
  const vs = r.postgis ? `  PostGIS ${ms(r.postgis.median)} (indexed ${ms(r.postgisIndexed?.median)}) ms, ratio ${(r.ours.median / r.postgis.median).toPrecision(2)}, agree ${r.agreement!.same}/${r.agreement!.of}` : '';
  console.log(`  ${r.section.padEnd(16)} ${r.name.slice(0, 64).padEnd(64)} ${String(r.runs).padStart(4)} runs  median ${ms(r.ours.median).padStart(7)} ms  p95 ${ms(r.ours.p95).padStart(7)} ms${vs}`);
  for (const e of r.agreement?.examples ?? []) console.log(`      differs: ${e}`);
}

function printTable(loadBefore: number[], loadAfter: number[]) {
  const cols = ['analysis', 'case', 'runs', 'median ms', 'p95 ms', 'HTTP median', 'HTTP p95'];
  const widths = [16, 66, 5, 10, 9, 12, 9];
  const line = (cells: string[]) => console.log(cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' '));
  console.log(`\nlatency, in process (the library call the route makes) and over HTTP (sequential fetch, admin key, whole body read):`);
  line(cols);
  for (const r of rows) line([r.section, r.name.slice(0, 66), String(r.runs), ms(r.ours.median), ms(r.ours.p95), ms(r.http?.median), ms(r.http?.p95)]);
  console.log(`\nagainst the equivalent single PostGIS query (the tests' oracle; "indexed": the same with a bounding box on the GiST index), in process, interleaved:`);
  const c2 = ['analysis', 'case', 'ours ms', 'PostGIS ms', 'ratio', 'indexed ms', 'ratio', 'same ids'];
  const w2 = [16, 66, 8, 11, 7, 11, 7, 9];
  const line2 = (cells: string[]) => console.log(cells.map((c, i) => (i < 2 ? c.padEnd(w2[i]!) : c.padStart(w2[i]!))).join(' '));
  line2(c2);
  for (const r of rows.filter((x) => x.postgis)) {
    line2([r.section, r.name.slice(0, 66), ms(r.ours.median), ms(r.postgis!.median), (r.ours.median / r.postgis!.median).toPrecision(2),
      ms(r.postgisIndexed!.median), (r.ours.median / r.postgisIndexed!.median).toPrecision(2), `${r.agreement!.same}/${r.agreement!.of}`]);
  }
  console.log('(ratio = ours / PostGIS median latency: below 1 is faster than PostGIS)');
  for (const r of rows.filter((x) => x.note)) console.log(`  ${r.section} / ${r.name}: ${r.note}`);
  console.log(`\nload average (1, 5, 15 min): start ${loadBefore.map((x) => x.toFixed(2)).join(', ')}; end ${loadAfter.map((x) => x.toFixed(2)).join(', ')}; ${os.cpus().length} cores`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
