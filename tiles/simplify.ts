/**
 * Douglas–Peucker on interleaved [x, y, …] points in tile units, marking the points to keep.
 * Iterative with an explicit stack, squared distances, no allocation once the stack is large
 * enough. The first and last points are always kept, so a closed ring stays closed.
 */

let stack = new Int32Array(256);

/**
 * Sets keep[i] = 1 for the points pts[from + i] (0 ≤ i < n) that Douglas–Peucker keeps at
 * tolerance √sqTolerance, 0 for the others. Returns how many are kept.
 */
export function simplifyPath(pts: Float64Array, from: number, n: number, sqTolerance: number, keep: Uint8Array): number {
  keep.fill(0, 0, n);
  keep[0] = 1;
  keep[n - 1] = 1;
  if (n <= 2) return n;
  let kept = 2;
  let top = 0;
  stack[top++] = 0;
  stack[top++] = n - 1;
  while (top > 0) {
    const last = stack[--top]!;
    const first = stack[--top]!;
    const ax = pts[2 * (from + first)]!, ay = pts[2 * (from + first) + 1]!;
    const dx = pts[2 * (from + last)]! - ax, dy = pts[2 * (from + last) + 1]! - ay;
    const len2 = dx * dx + dy * dy;
    let maxD = sqTolerance;
    let index = -1;
    for (let i = first + 1; i < last; i++) {
      const px = pts[2 * (from + i)]! - ax, py = pts[2 * (from + i) + 1]! - ay;
      let d: number;
      if (len2 === 0) {
        // A closed ring's ends coincide: measure from the point.
        d = px * px + py * py;
      } else {
        let t = (px * dx + py * dy) / len2;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const ex = px - t * dx, ey = py - t * dy;
        d = ex * ex + ey * ey;
      }
      if (d > maxD) {
        maxD = d;
        index = i;
      }
    }
    if (index >= 0) {
      keep[index] = 1;
      kept++;
      if (top + 4 > stack.length) {
        const s = new Int32Array(stack.length * 2);
        s.set(stack);
        stack = s;
      }
      if (index - first > 1) { stack[top++] = first; stack[top++] = index; }
      if (last - index > 1) { stack[top++] = index; stack[top++] = last; }
    }
  }
  return kept;
}
