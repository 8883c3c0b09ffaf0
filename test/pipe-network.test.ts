import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildPipeGraph, graphFromCoordinates, graphFromEndpointIds, IsolationTracer, nodeDegree, type PipeGraph } from '../analysis/pipe-network.ts';

const valveMask = (graph: PipeGraph, nodes: number[]) => {
  const mask = new Uint8Array(graph.nodeCount);
  for (const n of nodes) mask[n] = 1;
  return mask;
};
const sorted = (a: ArrayLike<number>) => [...Array.from(a)].sort((x, y) => x - y);

function trace(edges: Array<[number, number]>, nodeCount: number, valves: number[], start: number) {
  const graph = buildPipeGraph(nodeCount, edges.map((e) => e[0]), edges.map((e) => e[1]));
  const t = new IsolationTracer(graph).trace(start, valveMask(graph, valves));
  return { edges: sorted(t.edges), valves: sorted(t.valves), whole: t.wholeComponent, first: t.edges[0] };
}

describe('pipe network graph and isolation trace (analysis/pipe-network.ts)', () => {
  it('a main between two valves: the segments between them, both valves', () => {
    // 0 -e0- 1(V) -e1- 2 -e2- 3(V) -e3- 4
    const r = trace([[0, 1], [1, 2], [2, 3], [3, 4]], 5, [1, 3], 1);
    assert.deepEqual(r.edges, [1, 2]);
    assert.deepEqual(r.valves, [1, 3]);
    assert.equal(r.whole, false);
    assert.equal(r.first, 1, 'the burst segment comes first');
  });

  it('a loop is closed on both sides, and a dead-end branch off the isolated part goes with it', () => {
    // Square 0-1-2-3-0 with valves at 1 and 3, a dead-end branch 0-4, and a feeder 2-5.
    const edges: Array<[number, number]> = [[0, 1], [1, 2], [2, 3], [3, 0], [4, 0], [2, 5]];
    const r = trace(edges, 6, [1, 3], 0);
    assert.deepEqual(r.edges, [0, 3, 4]);
    assert.deepEqual(r.valves, [1, 3]);
    // The other half of the loop, with its feeder.
    const other = trace(edges, 6, [1, 3], 1);
    assert.deepEqual(other.edges, [1, 2, 5]);
    assert.deepEqual(other.valves, [1, 3]);
  });

  it('a loop with a single valve does not isolate: the water comes round the other way', () => {
    const r = trace([[0, 1], [1, 2], [2, 3], [3, 0]], 4, [1], 0);
    assert.deepEqual(r.edges, [0, 1, 2, 3]);
    assert.deepEqual(r.valves, [1]);
    assert.equal(r.whole, false);
  });

  it('a dead end behind a valve: only that segment', () => {
    const r = trace([[0, 1], [1, 2]], 3, [1], 1);
    assert.deepEqual(r.edges, [1]);
    assert.deepEqual(r.valves, [1]);
  });

  it('valves at both ends of the burst segment: that segment alone', () => {
    const r = trace([[0, 1], [1, 2], [2, 3]], 4, [1, 2], 1);
    assert.deepEqual(r.edges, [1]);
    assert.deepEqual(r.valves, [1, 2]);
  });

  it('no valve reachable: the whole connected component, said so, and nothing of another component', () => {
    const r = trace([[0, 1], [1, 2], [2, 0], [3, 4]], 5, [], 0);
    assert.deepEqual(r.edges, [0, 1, 2]);
    assert.deepEqual(r.valves, []);
    assert.equal(r.whole, true);
    const lone = trace([[0, 1], [1, 2], [2, 0], [3, 4]], 5, [], 3);
    assert.deepEqual(lone.edges, [3]);
    assert.equal(lone.whole, true);
  });

  it('self-loops and parallel segments are walked once each', () => {
    const edges: Array<[number, number]> = [[0, 1], [0, 1], [1, 1], [1, 2]];
    const graph = buildPipeGraph(3, edges.map((e) => e[0]), edges.map((e) => e[1]));
    assert.equal(nodeDegree(graph, 1), 5);
    const r = trace(edges, 3, [2], 0);
    assert.deepEqual(r.edges, [0, 1, 2, 3]);
    assert.deepEqual(r.valves, [2]);
  });

  it('refuses an edge or a valve mask that does not belong to the graph', () => {
    const graph = buildPipeGraph(2, [0], [1]);
    const tracer = new IsolationTracer(graph);
    assert.throws(() => tracer.trace(1, new Uint8Array(2)), RangeError);
    assert.throws(() => tracer.trace(0, new Uint8Array(3)), RangeError);
    assert.throws(() => buildPipeGraph(2, [0], [2]), /outside/);
    assert.throws(() => buildPipeGraph(2, [0, 1], [1]), /one of each/);
  });

  it('an empty network has nothing to trace', () => {
    const { graph } = graphFromEndpointIds([], []);
    assert.equal(graph.edgeCount, 0);
    assert.throws(() => new IsolationTracer(graph).trace(0, new Uint8Array(0)), RangeError);
  });

  it('point numbers make the nodes; an end without one is a dead end of its own', () => {
    const { graph, nodeKeys, nodeOf } = graphFromEndpointIds(['J1', 'J2', null, 'J2'], ['J2', 'J3', 'J3', '']);
    assert.equal(graph.edgeCount, 4);
    assert.equal(nodeKeys.filter((k) => !k.startsWith('@')).length, 3);
    assert.equal(nodeDegree(graph, nodeOf.get('J2')!), 3);
    assert.equal(nodeDegree(graph, nodeOf.get('J3')!), 2);
    assert.equal(nodeKeys.length, 5, 'two unnamed ends, two nodes');
  });

  it('an end without a number joins a numbered end it touches (within 5 cm), or another unnumbered one, else stays a dead end', () => {
    const starts = ['J1', null, null, 'J9'];
    const ends = ['J2', 'J3', null, null];
    const positions = Float64Array.from([
      0, 0, 10, 0, // J1 - J2
      10.02, 0, 20, 0, // (touches J2) - J3
      30, 0, 40, 0, // (nothing) - (touches the next one's end)
      60, 0, 40.01, 0.01, // J9 - (touches the previous end)
    ]);
    const k = graphFromEndpointIds(starts, ends, positions);
    assert.equal(k.joinedByPosition, 2);
    assert.equal(k.graph.edgeFrom[1], k.nodeOf.get('J2'));
    assert.equal(k.graph.edgeTo[3], k.graph.edgeTo[2]);
    assert.equal(nodeDegree(k.graph, k.graph.edgeFrom[2]!), 1, 'a lone unnumbered end is a dead end');
    const strict = graphFromEndpointIds(starts, ends);
    assert.equal(strict.joinedByPosition, 0);
    assert.notEqual(strict.graph.edgeFrom[1], strict.nodeOf.get('J2'));
  });

  it('coordinates snap within 5 cm and no farther', () => {
    const ends = Float64Array.from([
      0, 0, 10, 0,
      10.03, 0.03, 20, 0, // 4.2 cm from (10, 0): the same node
      20.04, 0.04, 30, 0, // 5.7 cm from (20, 0): a different one
    ]);
    const { graph, nodeXY } = graphFromCoordinates(ends);
    assert.equal(graph.nodeCount, 5);
    assert.equal(graph.edgeTo[0], graph.edgeFrom[1]);
    assert.notEqual(graph.edgeTo[1], graph.edgeFrom[2]);
    assert.deepEqual([nodeXY[2], nodeXY[3]], [10, 0], 'a node keeps the first end that made it');
    assert.throws(() => graphFromCoordinates(ends, 0), /positive/);
  });

  it('agrees with a plain breadth-first search on random networks, trace after trace on one tracer', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let round = 0; round < 20; round++) {
      const n = 50 + Math.floor(rand() * 200);
      const m = Math.floor(n * (0.8 + rand()));
      const edges: Array<[number, number]> = Array.from({ length: m }, () => [Math.floor(rand() * n), Math.floor(rand() * n)]);
      const valves = Array.from({ length: n }, (_, i) => i).filter(() => rand() < 0.3);
      const graph = buildPipeGraph(n, edges.map((e) => e[0]), edges.map((e) => e[1]));
      const mask = valveMask(graph, valves);
      const tracer = new IsolationTracer(graph);
      for (let k = 0; k < 10; k++) {
        const start = Math.floor(rand() * m);
        const got = tracer.trace(start, mask);
        // Oracle: repeated relaxation over the edge list.
        const inEdges = new Set([start]);
        const open = new Set<number>();
        const hit = new Set<number>();
        const touch = (v: number) => { if (mask[v]) hit.add(v); else open.add(v); };
        touch(edges[start]![0]); touch(edges[start]![1]);
        for (let changed = true; changed;) {
          changed = false;
          edges.forEach(([a, b], e) => {
            if (!inEdges.has(e) && (open.has(a) || open.has(b))) { inEdges.add(e); touch(a); touch(b); changed = true; }
          });
        }
        assert.deepEqual(sorted(got.edges), [...inEdges].sort((x, y) => x - y));
        assert.deepEqual(sorted(got.valves), [...hit].sort((x, y) => x - y));
      }
    }
  });
});
