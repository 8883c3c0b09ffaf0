/**
 * Clipping to the buffered tile square, on interleaved [x0, y0, x1, y1, …] Float64Arrays in tile
 * units, without allocating per call: rings clip between two reusable buffers that grow as needed;
 * lines write into buffers the caller sizes (see clipLine). Both return counts.
 */

/**
 * Sutherland–Hodgman against one edge. `axis` 0 clips x, 1 clips y; `keepAbove` keeps the side
 * where coordinate ≥ k, else ≤ k. `src` holds a closed ring of n points (last = first); the result
 * in `dst` is closed again. Returns its point count (0 when nothing is left).
 */
function clipEdge(src: Float64Array, n: number, dst: Float64Array, axis: 0 | 1, k: number, keepAbove: boolean): number {
  let m = 0;
  const o = 1 - axis;
  let px = src[0]!, py = src[1]!;
  let pa = axis === 0 ? px : py;
  let pIn = keepAbove ? pa >= k : pa <= k;
  for (let i = 1; i < n; i++) {
    const cx = src[2 * i]!, cy = src[2 * i + 1]!;
    const ca = axis === 0 ? cx : cy;
    const cIn = keepAbove ? ca >= k : ca <= k;
    if (cIn !== pIn) {
      // The edge crosses k: add the crossing.
      const t = (k - pa) / (ca - pa);
      const pb = o === 0 ? px : py;
      const cb = o === 0 ? cx : cy;
      const b = pb + (cb - pb) * t;
      if (axis === 0) { dst[m++] = k; dst[m++] = b; } else { dst[m++] = b; dst[m++] = k; }
    }
    if (cIn) { dst[m++] = cx; dst[m++] = cy; }
    px = cx; py = cy; pa = ca; pIn = cIn;
  }
  if (m === 0) return 0;
  // Close the ring again.
  if (dst[0] !== dst[m - 2] || dst[1] !== dst[m - 1]) { dst[m] = dst[0]!; dst[m + 1] = dst[1]!; m += 2; }
  return m / 2;
}

/** Two ping-pong buffers; the ring to clip is in `a`, and clipRing leaves its result in `a`. */
export class RingBuffers {
  a = new Float64Array(1 << 12);
  b = new Float64Array(1 << 12);
  /** Room in `a` for n points (keeps the content). */
  reserve(n: number) {
    if (this.a.length < 2 * n) {
      const c = new Float64Array(Math.max(2 * n, 2 * this.a.length));
      c.set(this.a);
      this.a = c;
    }
  }
  /** Room in `b` for n points (content not kept), then swap-ready. */
  reserveB(n: number) {
    if (this.b.length < 2 * n) this.b = new Float64Array(Math.max(2 * n, 2 * this.b.length));
  }
  swap() {
    const t = this.a;
    this.a = this.b;
    this.b = t;
  }
}

function pass(buf: RingBuffers, n: number, axis: 0 | 1, k: number, keepAbove: boolean): number {
  // A pass turns each of the n - 1 edges into at most two points, plus the closing one.
  buf.reserveB(2 * n + 1);
  const m = clipEdge(buf.a, n, buf.b, axis, k, keepAbove);
  buf.swap();
  return m;
}

/**
 * Clips the closed ring of n points in `buf.a` to [min, max]², skipping the edges its box
 * [boxMinX, boxMinY, boxMaxX, boxMaxY] does not cross. The result is left in `buf.a`; returns its
 * point count, 0 when the ring lies outside.
 */
export function clipRing(
  buf: RingBuffers, n: number, min: number, max: number,
  boxMinX: number, boxMinY: number, boxMaxX: number, boxMaxY: number,
): number {
  if (boxMinX < min && n > 0) n = pass(buf, n, 0, min, true);
  if (boxMaxX > max && n > 0) n = pass(buf, n, 0, max, false);
  if (boxMinY < min && n > 0) n = pass(buf, n, 1, min, true);
  if (boxMaxY > max && n > 0) n = pass(buf, n, 1, max, false);
  return n;
}

/**
 * Clips a polyline (n points in `src`) to [min, max]² with Liang–Barsky per segment, splitting it
 * where it leaves and re-enters. Parts go to `dst` back to back; `partEnds[k]` is the point index
 * one past part k. Returns the number of parts. dst needs room for 4n numbers, partEnds for n.
 */
export function clipLine(src: Float64Array, n: number, dst: Float64Array, partEnds: Uint32Array, min: number, max: number): number {
  let m = 0; // points written
  let parts = 0;
  let open = false;
  for (let i = 0; i + 1 < n; i++) {
    const x0 = src[2 * i]!, y0 = src[2 * i + 1]!;
    const dx = src[2 * i + 2]! - x0, dy = src[2 * i + 3]! - y0;
    let t0 = 0, t1 = 1;
    // Each pair (p, q): the segment is inside where p·t ≤ q.
    let ok = true;
    for (let e = 0; e < 4 && ok; e++) {
      const p = e === 0 ? -dx : e === 1 ? dx : e === 2 ? -dy : dy;
      const q = e === 0 ? x0 - min : e === 1 ? max - x0 : e === 2 ? y0 - min : max - y0;
      if (p === 0) {
        if (q < 0) ok = false;
      } else {
        const r = q / p;
        if (p < 0) { if (r > t1) ok = false; else if (r > t0) t0 = r; }
        else { if (r < t0) ok = false; else if (r < t1) t1 = r; }
      }
    }
    if (!ok) {
      if (open) { partEnds[parts++] = m; open = false; }
      continue;
    }
    if (t0 > 0 && open) { partEnds[parts++] = m; open = false; }
    if (!open) {
      dst[2 * m] = x0 + t0 * dx; dst[2 * m + 1] = y0 + t0 * dy; m++;
      open = true;
    }
    if (t1 < 1) {
      dst[2 * m] = x0 + t1 * dx; dst[2 * m + 1] = y0 + t1 * dy; m++;
      partEnds[parts++] = m;
      open = false;
    } else {
      dst[2 * m] = x0 + dx; dst[2 * m + 1] = y0 + dy; m++;
    }
  }
  if (open) partEnds[parts++] = m;
  return parts;
}
