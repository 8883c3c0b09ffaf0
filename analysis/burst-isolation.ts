/**
 * Burst isolation (爆管关阀分析) over the store: which valves to close when a segment bursts,
 * which segments are then without water (or gas), and which buildings and addresses lose supply.
 *
 * The network of a pipe layer is built once per layer revision (NetworkCache) from its current
 * segments, and traced with pipe-network.ts. Connectivity (`Connectivity`):
 * - point-numbers: the nodes are the point numbers segments name at their ends (CJJ 61
 *   起点点号/终点点号; Nanaimo's STARTID/ENDID, which the importer maps to the same
 *   start_point/end_point); an end without a number is a dead end;
 * - coordinates: the nodes are the segments' end coordinates, joined within SNAP_TOLERANCE_M
 *   (5 cm, CJJ 61's plane accuracy of a surveyed pipe point);
 * - auto (the default): point numbers where the ends have them, and an end without one joins
 *   whatever end lies within the tolerance (the real Nanaimo delivery leaves 1,803 ends without an
 *   id, 1,720 of which touch another pipe's end); coordinates alone when no end is numbered.
 * Valves are the pipe points of the layer's points layer whose feature is 阀门 (a valve) or 阀门井
 * (a valve chamber), matched to nodes by point number or, on a coordinate graph, by position
 * within the same tolerance; a caller may give the valve point numbers instead.
 *
 * Who loses supply: service connections are not surveyed, so a building or address point is taken
 * to be served by the nearest current segment of the same layer within SERVICE_REACH_M (measured
 * on the ellipsoid; to a building's outline, 0 when a pipe passes under it). It loses supply when
 * that segment is isolated. Anything farther than the reach from every segment is not counted.
 */

import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { LocalFrame } from '../position/local-frame.ts';
import { metresPerDegreeLat, metresPerDegreeLon } from '../position/asset-geodesy.ts';
import { graphFromCoordinates, graphFromEndpointIds, IsolationTracer, nodeDegree, SNAP_TOLERANCE_M, type PipeGraph } from './pipe-network.ts';

/** Pipe point features that close the line: 阀门 (valve) and 阀门井 (a chamber housing one). */
export const VALVE_FEATURES = ['阀门', '阀门井'] as const;
/** How far a service connection is assumed to run from the main to a building or address (m). */
export const SERVICE_REACH_M = 50;
/** A point asked about is snapped to a segment no farther than this by default (m). */
export const DEFAULT_SNAP_M = 50;
/** Pipe classes a point snaps to when no layer is named: the pressurised networks with valves. */
export const SNAP_CLASSES = ['JS', 'RQ'] as const;

export const CONNECTIVITIES = ['auto', 'point-numbers', 'coordinates'] as const;
export type Connectivity = (typeof CONNECTIVITIES)[number];

export interface PipeNetwork {
  layerId: string;
  revision: number;
  graph: PipeGraph;
  tracer: IsolationTracer;
  /** How the nodes were found. */
  nodesFrom: 'point-numbers' | 'point-numbers+coordinates' | 'coordinates';
  /** Segment ends without a point number, and how many of them were joined to a node by position. */
  unnumberedEnds: number;
  joinedByPosition: number;
  featureIds: string[];
  edgeOf: Map<string, number>;
  lengthM: Float64Array;
  /** Node key (point number, or `@…` for an end without one) on a point-number graph. */
  nodeKeys: string[] | null;
  nodeOf: Map<string, number> | null;
  /** lon, lat of each node (an end of a segment that meets there). */
  nodeLonLat: Float64Array;
  frame: LocalFrame;
}

interface SegmentRow { feature_id: string; sp: string | null; ep: string | null; x0: number; y0: number; x1: number; y1: number; len: number }

/** Reads the layer's current segments and builds its graph. */
export async function loadPipeNetwork(db: Kysely<Database>, layerId: string, revision: number, connectivity: Connectivity = 'auto'): Promise<PipeNetwork> {
  const { rows } = await sql<SegmentRow>`
    select feature_id, nullif(attributes->>'start_point', '') as sp, nullif(attributes->>'end_point', '') as ep,
      st_x(a) as x0, st_y(a) as y0, st_x(b) as x1, st_y(b) as y1, st_length(geom::geography) as len
    from (select feature_id, attributes, geom, st_startpoint(st_geometryn(geom, 1)) as a,
            st_endpoint(st_geometryn(geom, st_numgeometries(geom))) as b
          from feature_version
          where layer_id = ${layerId} and validity @> now() and geometrytype(geom) in ('LINESTRING', 'MULTILINESTRING')) s
    order by feature_id`.execute(db);
  const n = rows.length;
  const featureIds = rows.map((r) => r.feature_id);
  const lengthM = Float64Array.from(rows, (r) => r.len);
  let lonMin = Infinity; let lonMax = -Infinity; let latMin = Infinity; let latMax = -Infinity;
  for (const r of rows) {
    lonMin = Math.min(lonMin, r.x0, r.x1); lonMax = Math.max(lonMax, r.x0, r.x1);
    latMin = Math.min(latMin, r.y0, r.y1); latMax = Math.max(latMax, r.y0, r.y1);
  }
  const frame = n ? new LocalFrame((latMin + latMax) / 2, (lonMin + lonMax) / 2) : new LocalFrame(0, 0);
  const unnumberedEnds = rows.reduce((k, r) => k + (r.sp === null ? 1 : 0) + (r.ep === null ? 1 : 0), 0);
  const ends = new Float64Array(4 * n);
  rows.forEach((r, e) => {
    ends[4 * e] = frame.east(r.x0); ends[4 * e + 1] = frame.north(r.y0);
    ends[4 * e + 2] = frame.east(r.x1); ends[4 * e + 3] = frame.north(r.y1);
  });
  let graph: PipeGraph;
  let nodeKeys: string[] | null = null;
  let nodeOf: Map<string, number> | null = null;
  let joinedByPosition = 0;
  let nodesFrom: PipeNetwork['nodesFrom'];
  if (connectivity === 'coordinates' || (connectivity === 'auto' && unnumberedEnds === 2 * n)) {
    graph = graphFromCoordinates(ends).graph;
    nodesFrom = 'coordinates';
  } else {
    const keyed = graphFromEndpointIds(rows.map((r) => r.sp), rows.map((r) => r.ep), connectivity === 'auto' ? ends : undefined);
    ({ graph, nodeKeys, nodeOf, joinedByPosition } = keyed);
    nodesFrom = joinedByPosition > 0 ? 'point-numbers+coordinates' : 'point-numbers';
  }
  const nodeLonLat = new Float64Array(2 * graph.nodeCount).fill(NaN);
  rows.forEach((r, e) => {
    const a = graph.edgeFrom[e]!; const b = graph.edgeTo[e]!;
    if (Number.isNaN(nodeLonLat[2 * a]!)) { nodeLonLat[2 * a] = r.x0; nodeLonLat[2 * a + 1] = r.y0; }
    if (Number.isNaN(nodeLonLat[2 * b]!)) { nodeLonLat[2 * b] = r.x1; nodeLonLat[2 * b + 1] = r.y1; }
  });
  return {
    layerId, revision, graph, tracer: new IsolationTracer(graph), nodesFrom, unnumberedEnds, joinedByPosition,
    featureIds, edgeOf: new Map(featureIds.map((id, e) => [id, e])), lengthM, nodeKeys, nodeOf, nodeLonLat, frame,
  };
}

/** Networks by layer, rebuilt when the layer's revision moves on; concurrent requests share a build. */
export class NetworkCache {
  readonly #db: Kysely<Database>;
  readonly #networks = new Map<string, { revision: number; network: Promise<PipeNetwork> }>();
  readonly #valves = new Map<string, { network: PipeNetwork; revision: number; valves: Promise<ValvePoint[]> }>();

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  get(layerId: string, revision: number, connectivity: Connectivity = 'auto'): Promise<PipeNetwork> {
    const key = `${connectivity} ${layerId}`;
    const cached = this.#networks.get(key);
    if (cached && cached.revision >= revision) return cached.network;
    const network = loadPipeNetwork(this.#db, layerId, revision, connectivity);
    const entry = { revision, network };
    this.#networks.set(key, entry);
    network.catch(() => { if (this.#networks.get(key) === entry) this.#networks.delete(key); });
    return network;
  }

  /**
   * The valves of a points layer on a network, kept while neither changes: reading a city's
   * 36,000 water valves took 130 ms of every request.
   */
  valves(network: PipeNetwork, pointsLayerId: string, pointsRevision: number): Promise<ValvePoint[]> {
    const key = `${network.layerId} ${pointsLayerId}`;
    const cached = this.#valves.get(key);
    if (cached && cached.network === network && cached.revision >= pointsRevision) return cached.valves;
    const valves = valvesFromPointsLayer(this.#db, network, pointsLayerId);
    const entry = { network, revision: pointsRevision, valves };
    this.#valves.set(key, entry);
    valves.catch(() => { if (this.#valves.get(key) === entry) this.#valves.delete(key); });
    return valves;
  }
}

export interface ValvePoint { node: number; pointNo: string | null; featureId: string | null; feature: string | null; lon: number; lat: number }

/**
 * The valve points of a points layer on the network's nodes (by point number, or on a coordinate
 * graph by position within the snap tolerance). Valves on no node of the network are left out.
 */
export async function valvesFromPointsLayer(db: Kysely<Database>, network: PipeNetwork, pointsLayerId: string): Promise<ValvePoint[]> {
  const { rows } = await sql<{ feature_id: string; pn: string | null; feature: string; x: number; y: number }>`
    select feature_id, nullif(attributes->>'point_no', '') as pn, attributes->>'feature' as feature, st_x(geom) as x, st_y(geom) as y
    from feature_version
    where layer_id = ${pointsLayerId} and validity @> now() and geometrytype(geom) = 'POINT'
      and attributes->>'feature' = any(${[...VALVE_FEATURES]}::text[])
    order by feature_id`.execute(db);
  const out: ValvePoint[] = [];
  if (network.nodeOf) {
    for (const r of rows) {
      const node = r.pn === null ? undefined : network.nodeOf.get(r.pn);
      if (node !== undefined) out.push({ node, pointNo: r.pn, featureId: r.feature_id, feature: r.feature, lon: r.x, lat: r.y });
    }
    return out;
  }
  const f = network.frame;
  const tol = SNAP_TOLERANCE_M;
  const cells = new Map<string, number[]>();
  const ll = network.nodeLonLat;
  for (let node = 0; node < network.graph.nodeCount; node++) {
    const k = `${Math.floor(f.east(ll[2 * node]!) / tol)},${Math.floor(f.north(ll[2 * node + 1]!) / tol)}`;
    const list = cells.get(k);
    if (list) list.push(node); else cells.set(k, [node]);
  }
  for (const r of rows) {
    const x = f.east(r.x); const y = f.north(r.y);
    const cx = Math.floor(x / tol); const cy = Math.floor(y / tol);
    let best = -1; let bestD = tol * tol;
    for (let i = -1; i <= 1; i++) for (let j = -1; j <= 1; j++) {
      for (const node of cells.get(`${cx + i},${cy + j}`) ?? []) {
        const d = (f.east(ll[2 * node]!) - x) ** 2 + (f.north(ll[2 * node + 1]!) - y) ** 2;
        if (d <= bestD) { best = node; bestD = d; }
      }
    }
    if (best >= 0) out.push({ node: best, pointNo: r.pn, featureId: r.feature_id, feature: r.feature, lon: r.x, lat: r.y });
  }
  return out;
}

/** Valves named by point number; the numbers on no node of the network are returned apart. */
export function valvesFromPointNumbers(network: PipeNetwork, pointNumbers: readonly string[]): { valves: ValvePoint[]; unknown: string[] } {
  const valves: ValvePoint[] = [];
  const unknown: string[] = [];
  for (const pn of pointNumbers) {
    const node = network.nodeOf?.get(pn);
    if (node === undefined) { unknown.push(pn); continue; }
    valves.push({ node, pointNo: pn, featureId: null, feature: null, lon: network.nodeLonLat[2 * node]!, lat: network.nodeLonLat[2 * node + 1]! });
  }
  return { valves, unknown };
}

export interface Isolation {
  burstSegment: string;
  /** The isolated segments' ids, the burst segment first. */
  segments: string[];
  lengthM: number;
  /** Valves to close, each with how many segments meet at it. */
  valves: Array<ValvePoint & { degree: number }>;
  /** No valve could be reached: the segments are the burst segment's whole connected component. */
  wholeComponent: boolean;
}

/** The isolation of one segment of the network, given the valves. */
export function isolate(network: PipeNetwork, segmentId: string, valves: readonly ValvePoint[]): Isolation {
  const edge = network.edgeOf.get(segmentId);
  if (edge === undefined) throw new RangeError(`no current segment ${segmentId} in ${network.layerId}`);
  const mask = new Uint8Array(network.graph.nodeCount);
  const byNode = new Map<number, ValvePoint>();
  for (const v of valves) {
    mask[v.node] = 1;
    if (!byNode.has(v.node)) byNode.set(v.node, v);
  }
  const trace = network.tracer.trace(edge, mask);
  let lengthM = 0;
  const segments: string[] = [];
  for (const e of trace.edges) {
    segments.push(network.featureIds[e]!);
    lengthM += network.lengthM[e]!;
  }
  return {
    burstSegment: segmentId,
    segments,
    lengthM,
    valves: Array.from(trace.valves, (node) => ({ ...byNode.get(node)!, degree: nodeDegree(network.graph, node) })),
    wholeComponent: trace.wholeComponent,
  };
}

export interface SnappedSegment { layerId: string; featureId: string; distanceM: number }

/**
 * The segment nearest to a point among the layers (those of classes `classes` when given), within
 * `maxDistance` metres on the ellipsoid; undefined when there is none.
 */
export async function nearestSegment(db: Kysely<Database>, layerIds: readonly string[], lon: number, lat: number,
  maxDistance: number, classes: readonly string[] | null): Promise<SnappedSegment | undefined> {
  const dLon = (maxDistance * 1.01) / metresPerDegreeLon(Math.min(89, Math.abs(lat) + 1));
  const dLat = (maxDistance * 1.01) / metresPerDegreeLat(lat);
  let best: SnappedSegment | undefined;
  for (const layerId of layerIds) {
    const classFilter = classes ? sql`and attributes->>'pipe_class' = any(${[...classes]}::text[])` : sql``;
    const { rows } = await sql<{ feature_id: string; d: number }>`
      select feature_id, st_distance(geom::geography, st_setsrid(st_point(${lon}, ${lat}), 4490)::geography) as d
      from feature_version
      where layer_id = ${layerId} and validity @> now() and geometrytype(geom) in ('LINESTRING', 'MULTILINESTRING')
        and geom && st_makeenvelope(${lon - dLon}, ${lat - dLat}, ${lon + dLon}, ${lat + dLat}, 4490) ${classFilter}
      order by d, feature_id limit 1`.execute(db);
    const r = rows[0];
    if (r && r.d <= maxDistance && (!best || r.d < best.distanceM)) best = { layerId, featureId: r.feature_id, distanceM: r.d };
  }
  return best;
}

export interface Served { layerId: string; featureId: string; attributes: Record<string, unknown>; segment: string; distanceM: number }

/**
 * The features of `layerId` (buildings, address points) whose nearest segment of the network's
 * layer within SERVICE_REACH_M is one of `isolated`.
 */
export async function servedBy(db: Kysely<Database>, network: PipeNetwork, isolated: readonly string[], layerId: string): Promise<Served[]> {
  if (isolated.length === 0) return [];
  // A box margin in degrees wide enough for the reach anywhere in the network's latitudes.
  const lat = Math.abs(network.frame.lat0);
  const reachDeg = (SERVICE_REACH_M * 1.5) / metresPerDegreeLon(Math.min(89, lat + 2));
  // From the isolated segments to what lies near them (the layer's spatial index), not from
  // every building of the city to the segments: 3.5 s became milliseconds at scale 10.
  const { rows } = await sql<{ feature_id: string; a: Record<string, unknown>; segment: string; d: number }>`
    with iso as materialized (
      select geom from feature_version
      where layer_id = ${network.layerId} and validity @> now() and feature_id = any(${[...isolated]}::text[])),
    near as materialized (
      select distinct on (c.feature_id) c.feature_id, c.geom, c.attributes
      from iso join feature_version c on c.layer_id = ${layerId} and c.validity @> now() and c.geom && st_expand(iso.geom, ${reachDeg})
      order by c.feature_id)
    select c.feature_id, c.attributes as a, n.feature_id as segment, n.d
    from near c
    cross join lateral (
      select p.feature_id, st_distance(p.geom::geography, c.geom::geography) as d from feature_version p
      where p.layer_id = ${network.layerId} and p.validity @> now() and p.geom && st_expand(c.geom, ${reachDeg})
        and geometrytype(p.geom) in ('LINESTRING', 'MULTILINESTRING')
      order by d, p.feature_id limit 1) n
    where n.d <= ${SERVICE_REACH_M} and n.feature_id = any(${[...isolated]}::text[])
    order by c.feature_id`.execute(db);
  return rows.map((r) => ({ layerId, featureId: r.feature_id, attributes: r.a, segment: r.segment, distanceM: r.d }));
}
