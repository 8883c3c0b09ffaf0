import Flatbush from 'flatbush';
import { metresPerDegreeLat, metresPerDegreeLon } from './asset-geodesy.ts';
import type { AssetHit, AssetIndex, TypeMask } from './asset-index.ts';

/**
 * The k-nearest search over the items of one AssetIndex or of several (the layers a request
 * searches), held in one Flatbush R-tree. One tree over many layers matters for speed: a walk of
 * a tree costs one to two microseconds of cache misses however little it finds, so thirteen layers
 * searched tree by tree cost thirteen walks (bench/nearest.ts measures both).
 *
 * The tree gives lower bounds only (box distances; a diagonal pipe's box is far larger than the
 * pipe), so every answer is decided on exact distances, measured item by item; a feature's
 * distance is the least over its items. Two ways to walk, both Flatbush's `neighbors`:
 * - a sweep to a radius: `neighbors` with that maximum distance and a filter that measures each
 *   item and accepts none, so the walk queues no item. Afterwards every feature within the radius
 *   is measured exactly. Used for a small maxDistance; otherwise first for a radius that should
 *   hold k/2 features at the density of the query's cell in a coarse grid: if k features lie
 *   within it, they are the answer; if k are measured but some beyond it, the k-th of those
 *   bounds the answer and one more sweep to it finishes;
 * - batches in order of box distance, where the grid has nothing (beyond the data's edge):
 *   `neighbors` for the m nearest boxes, measured; the m-th box's distance bounds everything not
 *   returned, so k features measured within it are the answer; else the k-th measured bounds it
 *   (one sweep), or, with fewer than k features measured, 2m.
 *
 * The tree's plane is metres at the members' mid-latitude, about their centre, in Float32 rounded
 * outwards so that boxes stay lower bounds (centimetres of slack over a city; half the memory of
 * Float64). A box at plane distance s is at least s·min(kx/sx, ky/sy) metres from the query in
 * the query's own frame.
 */

/** A radius expected to hold at most this many tree items is swept in one walk. */
const SWEEP_ITEMS = 256;
/** Cells per side of the item-density grid that sizes the first sweep. */
const GRID = 128;

/** Float32 bounds that contain the Float64 value (two ulps outwards). */
const below = (v: number) => Math.fround(v - Math.abs(v) * 2 ** -22 - 1e-12);
const above = (v: number) => Math.fround(v + Math.abs(v) * 2 ** -22 + 1e-12);

export interface TreeQuery {
  k: number;
  /** Metres; nothing farther is returned. */
  maxDistance?: number;
  /** Per member: its type mask, null for any type, undefined to leave the member out. */
  masks: ReadonlyArray<TypeMask | null | undefined>;
}

export interface TreeHit {
  /** Which member (index into `members`). */
  member: number;
  hit: AssetHit;
}

export class AssetTree {
  readonly members: readonly AssetIndex[];
  readonly #tree: Flatbush | null;
  /** Tree item i is item i - memberStart[m] of member m = itemMember[i]. */
  readonly #itemMember: Uint16Array;
  readonly #memberStart: Uint32Array;
  readonly #lon0: number;
  readonly #lat0: number;
  readonly #sx: number;
  readonly #sy: number;
  readonly #itemsPerFeature: number;
  readonly #itemDensity: number;
  /** Items per grid cell (by box centre) over the plane's bounds, and the cells' size in metres. */
  readonly #grid: Uint32Array;
  readonly #gridX0: number;
  readonly #gridY0: number;
  readonly #cellW: number;
  readonly #cellH: number;
  readonly #box = new Float64Array(4);
  readonly #found: number[] = [];
  /** Members searched by the query under way. */
  readonly #active: Uint8Array;
  readonly #accept: (item: number) => boolean;
  readonly #sweep: (item: number) => boolean;

  constructor(members: readonly AssetIndex[]) {
    if (members.length > 65_535) throw new Error('AssetTree: at most 65,535 members');
    this.members = members;
    this.#memberStart = new Uint32Array(members.length + 1);
    let features = 0;
    let minX = Infinity; let minY = Infinity; let maxX = -Infinity; let maxY = -Infinity;
    members.forEach((m, i) => {
      this.#memberStart[i + 1] = this.#memberStart[i]! + m.itemCount;
      features += m.size;
      if (!m.bounds) return;
      minX = Math.min(minX, m.bounds[0]); minY = Math.min(minY, m.bounds[1]);
      maxX = Math.max(maxX, m.bounds[2]); maxY = Math.max(maxY, m.bounds[3]);
    });
    const n = this.#memberStart[members.length]!;
    this.#lon0 = n > 0 ? (minX + maxX) / 2 : 0;
    this.#lat0 = n > 0 ? (minY + maxY) / 2 : 0;
    this.#sx = metresPerDegreeLon(this.#lat0);
    this.#sy = metresPerDegreeLat(this.#lat0);
    this.#itemsPerFeature = features > 0 ? n / features : 1;
    this.#itemDensity = n > 0 ? n / (Math.max(1, (maxX - minX) * this.#sx) * Math.max(1, (maxY - minY) * this.#sy)) : 0;
    this.#gridX0 = (minX - this.#lon0) * this.#sx;
    this.#gridY0 = (minY - this.#lat0) * this.#sy;
    this.#cellW = Math.max(1, ((maxX - minX) * this.#sx) / GRID);
    this.#cellH = Math.max(1, ((maxY - minY) * this.#sy) / GRID);
    this.#grid = new Uint32Array(n > 0 ? GRID * GRID : 0);
    this.#itemMember = new Uint16Array(n);
    this.#active = new Uint8Array(members.length);
    const itemMember = this.#itemMember;
    const start = this.#memberStart;
    const active = this.#active;
    this.#accept = (item) => {
      const m = itemMember[item]!;
      return active[m] === 1 && members[m]!.accepts(item - start[m]!);
    };
    this.#sweep = (item) => {
      const m = itemMember[item]!;
      if (active[m] === 1 && members[m]!.accepts(item - start[m]!)) members[m]!.measure(item - start[m]!);
      return false;
    };
    this.#tree = n > 0 ? this.#build(n) : null;
  }

  #build(n: number): Flatbush {
    const tree = new Flatbush(n, 16, Float32Array);
    const b = this.#box;
    this.members.forEach((member, m) => {
      this.#itemMember.fill(m, this.#memberStart[m], this.#memberStart[m + 1]);
      for (let i = 0; i < member.itemCount; i++) {
        this.#planeBox(member, i, b);
        tree.add(b[0]!, b[1]!, b[2]!, b[3]!);
        const cell = this.#cell((b[0]! + b[2]!) / 2, (b[1]! + b[3]!) / 2);
        if (cell >= 0) this.#grid[cell]!++;
      }
    });
    tree.finish();
    return tree;
  }

  /** The grid cell holding a plane point, or -1 outside the bounds. */
  #cell(x: number, y: number): number {
    const i = Math.floor((x - this.#gridX0) / this.#cellW);
    const j = Math.floor((y - this.#gridY0) / this.#cellH);
    return i >= 0 && j >= 0 && i <= GRID && j <= GRID ? Math.min(j, GRID - 1) * GRID + Math.min(i, GRID - 1) : -1;
  }

  /** A member item's box in the tree's plane, rounded outwards exactly as the tree holds it. */
  #planeBox(member: AssetIndex, item: number, out: Float64Array): void {
    member.itemBox(item, out);
    out[0] = below((out[0]! - this.#lon0) * this.#sx);
    out[1] = below((out[1]! - this.#lat0) * this.#sy);
    out[2] = above((out[2]! - this.#lon0) * this.#sx);
    out[3] = above((out[3]! - this.#lat0) * this.#sy);
  }

  /**
   * The k nearest features of the members searched, nearest first (ties by member, then feature
   * order), each at most maxDistance metres away.
   */
  nearest(lon: number, lat: number, query: TreeQuery): TreeHit[] {
    const tree = this.#tree;
    const k = Math.floor(query.k);
    const maxDistance = query.maxDistance ?? Infinity;
    if (!Number.isFinite(lon) || !Number.isFinite(lat) || Math.abs(lat) > 90) throw new RangeError(`AssetTree.nearest: (${lon}, ${lat}) is not a longitude and latitude`);
    if (!tree || !(k > 0) || !(maxDistance >= 0)) return [];
    const kx = metresPerDegreeLon(lat);
    const ky = metresPerDegreeLat(lat);
    const members = this.members;
    let filtering = false;
    let searched = 0;
    for (let m = 0; m < members.length; m++) {
      const mask = query.masks[m];
      // A member left out, or whose types are none of those asked for, is not searched.
      const on = mask !== undefined && !(mask !== null && mask.found.length === 0);
      this.#active[m] = on ? 1 : 0;
      if (!on) { filtering = true; continue; }
      if (mask !== null) filtering = true;
      searched++;
      members[m]!.begin(lon, lat, kx, ky, mask?.values ?? null);
    }
    if (searched === 0) return [];
    const ratio = Math.min(kx / this.#sx, ky / this.#sy);
    const qx = (lon - this.#lon0) * this.#sx;
    const qy = (lat - this.#lat0) * this.#sy;

    let bound = Infinity;
    let done = false;
    if (Math.PI * maxDistance * maxDistance * this.#itemDensity <= SWEEP_ITEMS) {
      this.#sweepWithin(maxDistance, qx, qy, ratio);
      done = true;
    } else {
      // Where there are items, sweep a radius that should hold k/2 features at the density of
      // the query's grid cell (a walk costs more the wider it is: bench/nearest.ts). If k
      // features lie within it, that is the answer; if k are measured but some beyond it, the
      // k-th of them bounds the answer: one more sweep to that distance.
      const cell = this.#cell(qx, qy);
      const items = cell >= 0 ? this.#grid[cell]! : 0;
      let radius = items > 0 ? Math.sqrt((0.5 * k * this.#itemsPerFeature * this.#cellW * this.#cellH) / (Math.PI * items)) : Infinity;
      for (let round = 0; round < 3 && radius < maxDistance; round++, radius *= 2) {
        this.#sweepWithin(radius, qx, qy, ratio);
        const kth = this.#kthMeasured(k);
        if (kth <= radius * radius) { bound = radius; done = true; break; }
        if (kth < Infinity) {
          bound = Math.min(Math.sqrt(kth) * (1 + 2 ** -40), maxDistance);
          this.#sweepWithin(bound, qx, qy, ratio);
          done = true;
          break;
        }
      }
    }
    if (!done) for (let m = k + 4, measured = 0; ; m *= 2) {
      // The order is deterministic, so the first `measured` items are those of the last round.
      const items = tree.neighbors(qx, qy, m, maxDistance / ratio, filtering ? this.#accept : undefined);
      for (let i = measured; i < items.length; i++) {
        const member = this.#itemMember[items[i]!]!;
        members[member]!.measure(items[i]! - this.#memberStart[member]!);
      }
      measured = items.length;
      // Fewer than asked: every item within maxDistance has been measured.
      if (items.length < m) { bound = Infinity; break; }
      // Anything not returned is at least as far as the last box returned.
      bound = ratio * this.#boxDistance(items[m - 1]!, qx, qy);
      const kth = this.#kthMeasured(k);
      if (kth === Infinity) continue;
      if (kth <= bound * bound) break;
      // k features are measured, so the k-th nearest is no farther than the k-th of them: one
      // sweep to that radius (widened by 2⁻⁴⁰ against rounding) measures everything nearer.
      bound = Math.min(Math.sqrt(kth) * (1 + 2 ** -40), maxDistance);
      this.#sweepWithin(bound, qx, qy, ratio);
      break;
    }

    const cm: number[] = [];
    const cf: number[] = [];
    const cd: number[] = [];
    for (let m = 0; m < members.length; m++) {
      if (!this.#active[m]) continue;
      members[m]!.gather(bound * bound, m, cm, cf, cd);
    }
    const order = cd.map((_, i) => i).sort((a, b) => cd[a]! - cd[b]! || cm[a]! - cm[b]! || cf[a]! - cf[b]!);
    // The reported distance is re-measured at the mean latitude (asset-geodesy.ts), which can
    // reorder near-ties: take every feature that could still move into the first k.
    let n = Math.min(order.length, k);
    if (n > 0) {
      const limit = (Math.sqrt(cd[order[n - 1]!]!) * 1.01 + 0.01) ** 2;
      while (n < order.length && cd[order[n]!]! <= limit) n++;
    }
    const hits: TreeHit[] = [];
    for (let i = 0; i < n; i++) hits.push({ member: cm[order[i]!]!, hit: members[cm[order[i]!]!]!.hit(cf[order[i]!]!) });
    hits.sort((a, b) => a.hit.distance - b.hit.distance || a.member - b.member || a.hit.feature - b.hit.feature);
    if (hits.length > k) hits.length = k;
    while (hits.length > 0 && hits[hits.length - 1]!.hit.distance > maxDistance) hits.pop();
    return hits;
  }

  /** The k-th smallest squared distance of the features measured so far (Infinity if fewer). */
  #kthMeasured(k: number): number {
    const found = this.#found;
    found.length = 0;
    for (let j = 0; j < this.members.length; j++) if (this.#active[j]) this.members[j]!.measured(found);
    if (found.length < k) return Infinity;
    found.sort((a, b) => a - b);
    return found[k - 1]!;
  }

  /** Measures every item of the members searched whose box lies within `radius` metres. */
  #sweepWithin(radius: number, qx: number, qy: number, ratio: number): void {
    this.#tree!.neighbors(qx, qy, Infinity, radius / ratio, this.#sweep);
  }

  /** Distance in plane units from (qx, qy) to the tree item's box. */
  #boxDistance(item: number, qx: number, qy: number): number {
    const m = this.#itemMember[item]!;
    const b = this.#box;
    this.#planeBox(this.members[m]!, item - this.#memberStart[m]!, b);
    const dx = Math.max(b[0]! - qx, qx - b[2]!, 0);
    const dy = Math.max(b[1]! - qy, qy - b[3]!, 0);
    return Math.sqrt(dx * dx + dy * dy);
  }

  /** Bytes of the tree and its item map. */
  memoryBytes(): number {
    return (this.#tree?.data.byteLength ?? 0) + this.#itemMember.byteLength;
  }
}
