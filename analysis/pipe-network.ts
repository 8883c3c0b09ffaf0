/**
 * A pipe network as a graph, and the trace that finds what a burst isolates.
 *
 * Nodes are pipe points (CJJ 61 管线点), edges are pipe segments (管线段). The graph is held in
 * compressed form: per edge its two node numbers, per node the range of its incident edges in one
 * Int32Array, so a network of 100,000 segments is a few typed arrays and a trace allocates nothing
 * but its answer.
 *
 * Closing a valve cuts the network at its node. A burst on an edge is isolated by walking out
 * from it over edges and through nodes, stopping at every valve node met: the edges walked are the
 * isolated segments, the valve nodes met are the valves to close. When no valve is met the walk
 * has covered the whole connected component, and nothing short of the component's source can
 * isolate it; the trace says so rather than pretending.
 */

export interface PipeGraph {
  readonly nodeCount: number;
  readonly edgeCount: number;
  /** Node number at each edge's start and end. */
  readonly edgeFrom: Int32Array;
  readonly edgeTo: Int32Array;
  /** Edges incident to node n are incident[offsets[n] .. offsets[n + 1]) (a self-loop twice). */
  readonly offsets: Int32Array;
  readonly incident: Int32Array;
}

/** Builds the graph from each edge's two node numbers (0 .. nodeCount - 1). */
export function buildPipeGraph(nodeCount: number, from: ArrayLike<number>, to: ArrayLike<number>): PipeGraph {
  const edgeCount = from.length;
  if (to.length !== edgeCount) throw new Error(`buildPipeGraph: ${edgeCount} start nodes but ${to.length} end nodes; give one of each per edge`);
  const edgeFrom = Int32Array.from(from);
  const edgeTo = Int32Array.from(to);
  const offsets = new Int32Array(nodeCount + 1);
  for (let e = 0; e < edgeCount; e++) {
    const a = edgeFrom[e]!;
    const b = edgeTo[e]!;
    if (!(a >= 0 && a < nodeCount && b >= 0 && b < nodeCount)) {
      throw new Error(`buildPipeGraph: edge ${e} joins nodes ${a} and ${b}, outside 0..${nodeCount - 1}`);
    }
    offsets[a + 1]!++;
    offsets[b + 1]!++;
  }
  for (let n = 0; n < nodeCount; n++) offsets[n + 1]! += offsets[n]!;
  const incident = new Int32Array(2 * edgeCount);
  const fill = offsets.slice(0, nodeCount);
  for (let e = 0; e < edgeCount; e++) {
    incident[fill[edgeFrom[e]!]!++] = e;
    incident[fill[edgeTo[e]!]!++] = e;
  }
  return { nodeCount, edgeCount, edgeFrom, edgeTo, offsets, incident };
}

/** Number of edge ends at a node (a self-loop counts twice, as in graph theory). */
export function nodeDegree(graph: PipeGraph, node: number): number {
  return graph.offsets[node + 1]! - graph.offsets[node]!;
}

export interface KeyedPipeGraph {
  graph: PipeGraph;
  /** The key of each node: a point number, or `@…` for one made for ends without a number. */
  nodeKeys: string[];
  nodeOf: Map<string, number>;
  /** Ends without a point number that were joined by position to a node other ends make. */
  joinedByPosition: number;
}

/**
 * CJJ 61 requires the plane position of a surveyed pipe point to within ±5 cm (mean square
 * error); two segment ends closer than that cannot be told apart by the survey, so they are one
 * node.
 */
export const SNAP_TOLERANCE_M = 0.05;

/**
 * Nodes by position: a point joins the nearest node already made within the tolerance, else makes
 * one. First come, first served, so a chain of points each just within the tolerance of the next
 * does not collapse into one node.
 */
class SnapGrid {
  readonly #cells = new Map<number, number[]>();
  readonly #tolerance: number;
  readonly xy: number[] = [];
  readonly node: number[] = [];

  constructor(tolerance: number) {
    if (!(tolerance > 0)) throw new Error(`the snap tolerance must be positive metres, got ${tolerance}`);
    this.#tolerance = tolerance;
  }

  static #key(cx: number, cy: number): number {
    const OFFSET = 2 ** 25;
    return (cx + OFFSET) * 2 ** 26 + (cy + OFFSET);
  }

  find(x: number, y: number): number {
    const t = this.#tolerance;
    const cx = Math.floor(x / t);
    const cy = Math.floor(y / t);
    let best = -1;
    let bestD = t * t;
    for (let i = -1; i <= 1; i++) for (let j = -1; j <= 1; j++) {
      for (const k of this.#cells.get(SnapGrid.#key(cx + i, cy + j)) ?? []) {
        const dx = this.xy[2 * k]! - x;
        const dy = this.xy[2 * k + 1]! - y;
        const d = dx * dx + dy * dy;
        if (d <= bestD) { best = this.node[k]!; bestD = d; }
      }
    }
    return best;
  }

  add(x: number, y: number, node: number): void {
    const k = this.node.length;
    this.xy.push(x, y);
    this.node.push(node);
    const key = SnapGrid.#key(Math.floor(x / this.#tolerance), Math.floor(y / this.#tolerance));
    const list = this.#cells.get(key);
    if (list) list.push(k); else this.#cells.set(key, [k]);
  }
}

/**
 * The graph from the point numbers each segment names at its ends (CJJ 61 起点点号/终点点号, or
 * Nanaimo's STARTID/ENDID, both imported as start_point/end_point).
 *
 * An end without a number: with `ends` (x0, y0, x1, y1 per edge, metres on a local plane) it joins
 * the node of any end within `tolerance` of it (numbered ends first, so a number wins), else it is
 * a node of its own; without `ends` it is always a node of its own, a dead end.
 */
export function graphFromEndpointIds(starts: ReadonlyArray<string | null>, ends: ReadonlyArray<string | null>,
  positions?: Float64Array, tolerance = SNAP_TOLERANCE_M): KeyedPipeGraph {
  const edgeCount = starts.length;
  if (ends.length !== edgeCount) throw new Error(`graphFromEndpointIds: ${edgeCount} start points but ${ends.length} end points`);
  const nodeOf = new Map<string, number>();
  const nodeKeys: string[] = [];
  const make = (key: string): number => {
    const n = nodeKeys.length;
    nodeOf.set(key, n);
    nodeKeys.push(key);
    return n;
  };
  const from = new Int32Array(edgeCount).fill(-1);
  const to = new Int32Array(edgeCount).fill(-1);
  const grid = positions ? new SnapGrid(tolerance) : undefined;
  const numbered = (v: string | null | undefined): v is string => typeof v === 'string' && v !== '';
  for (let e = 0; e < edgeCount; e++) {
    for (const [ids, out, o] of [[starts, from, 0], [ends, to, 2]] as const) {
      const id = ids[e];
      if (!numbered(id)) continue;
      const n = nodeOf.get(id) ?? make(id);
      out[e] = n;
      grid?.add(positions![4 * e + o]!, positions![4 * e + o + 1]!, n);
    }
  }
  let joinedByPosition = 0;
  for (let e = 0; e < edgeCount; e++) {
    for (const [out, o, end] of [[from, 0, 'start'], [to, 2, 'end']] as const) {
      if (out[e] !== -1) continue;
      if (grid) {
        const x = positions![4 * e + o]!;
        const y = positions![4 * e + o + 1]!;
        const found = grid.find(x, y);
        if (found >= 0) { out[e] = found; joinedByPosition++; continue; }
        out[e] = make(`@${end}:${e}`);
        grid.add(x, y, out[e]!);
      } else {
        out[e] = make(`@${end}:${e}`);
      }
    }
  }
  return { graph: buildPipeGraph(nodeKeys.length, from, to), nodeKeys, nodeOf, joinedByPosition };
}

/**
 * The graph from the segments' end coordinates alone, for deliveries without point numbers: ends
 * within `tolerance` metres are one node (see SnapGrid). `ends` holds x0, y0, x1, y1 per edge in
 * metres of a local plane.
 */
export function graphFromCoordinates(ends: Float64Array, tolerance = SNAP_TOLERANCE_M): { graph: PipeGraph; nodeXY: Float64Array } {
  const grid = new SnapGrid(tolerance);
  const edgeCount = ends.length / 4;
  const xy: number[] = [];
  const node = (x: number, y: number): number => {
    const found = grid.find(x, y);
    if (found >= 0) return found;
    const n = xy.length / 2;
    xy.push(x, y);
    grid.add(x, y, n);
    return n;
  };
  const from = new Int32Array(edgeCount);
  const to = new Int32Array(edgeCount);
  for (let e = 0; e < edgeCount; e++) {
    from[e] = node(ends[4 * e]!, ends[4 * e + 1]!);
    to[e] = node(ends[4 * e + 2]!, ends[4 * e + 3]!);
  }
  return { graph: buildPipeGraph(xy.length / 2, from, to), nodeXY: Float64Array.from(xy) };
}

export interface IsolationTrace {
  /** The isolated edges, the burst edge first, then in the order the walk met them. */
  edges: Int32Array;
  /** The valve nodes to close, in the order met. */
  valves: Int32Array;
  /** No valve was met: `edges` is the burst edge's whole connected component. */
  wholeComponent: boolean;
}

/**
 * Traces isolations over one graph. Scratch marks are stamped with a per-trace generation, so a
 * trace costs what it visits, not the size of the network.
 */
export class IsolationTracer {
  readonly graph: PipeGraph;
  readonly #nodeStamp: Uint32Array;
  readonly #edgeStamp: Uint32Array;
  readonly #stack: Int32Array;
  readonly #edgesOut: Int32Array;
  #generation = 0;

  constructor(graph: PipeGraph) {
    this.graph = graph;
    this.#nodeStamp = new Uint32Array(graph.nodeCount);
    this.#edgeStamp = new Uint32Array(graph.edgeCount);
    this.#stack = new Int32Array(graph.nodeCount);
    this.#edgesOut = new Int32Array(graph.edgeCount);
  }

  /** `isValve[n]` non-zero marks node n as a valve (closing it cuts the network there). */
  trace(startEdge: number, isValve: Uint8Array): IsolationTrace {
    const g = this.graph;
    if (!Number.isInteger(startEdge) || startEdge < 0 || startEdge >= g.edgeCount) {
      throw new RangeError(`trace: no edge ${startEdge}; the graph has ${g.edgeCount}`);
    }
    if (isValve.length !== g.nodeCount) throw new RangeError(`trace: isValve has ${isValve.length} entries, the graph ${g.nodeCount} nodes`);
    if (++this.#generation === 0xffffffff) {
      this.#nodeStamp.fill(0);
      this.#edgeStamp.fill(0);
      this.#generation = 1;
    }
    const gen = this.#generation;
    const nodeStamp = this.#nodeStamp;
    const edgeStamp = this.#edgeStamp;
    const stack = this.#stack;
    const edgesOut = this.#edgesOut;
    const valves: number[] = [];
    let top = 0;
    let edgeCount = 0;

    const reach = (n: number) => {
      if (nodeStamp[n] === gen) return;
      nodeStamp[n] = gen;
      if (isValve[n]) valves.push(n);
      else stack[top++] = n;
    };

    edgeStamp[startEdge] = gen;
    edgesOut[edgeCount++] = startEdge;
    reach(g.edgeFrom[startEdge]!);
    reach(g.edgeTo[startEdge]!);
    while (top > 0) {
      const n = stack[--top]!;
      for (let k = g.offsets[n]!, end = g.offsets[n + 1]!; k < end; k++) {
        const e = g.incident[k]!;
        if (edgeStamp[e] === gen) continue;
        edgeStamp[e] = gen;
        edgesOut[edgeCount++] = e;
        reach(g.edgeFrom[e]!);
        reach(g.edgeTo[e]!);
      }
    }
    return { edges: edgesOut.slice(0, edgeCount), valves: Int32Array.from(valves), wholeComponent: valves.length === 0 };
  }
}
