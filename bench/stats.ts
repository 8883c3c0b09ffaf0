/** Median, p95, min, mean±std of a set of timings in milliseconds. */
export function summarize(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]!;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const std = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, s.length - 1));
  return { runs: s.length, min: s[0]!, median: q(0.5), p95: q(0.95), mean, std };
}

export const fmt = (x: number) => x.toFixed(2);

/** Runs each contender once per round, in turn, so that drift in the machine's load hits all alike. */
export async function interleave(contenders: Record<string, () => Promise<void>>, warmup: number, rounds: number) {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  for (let r = 0; r < warmup + rounds; r++) {
    for (const [name, fn] of Object.entries(contenders)) {
      const t = performance.now();
      await fn();
      if (r >= warmup) times[name]!.push(performance.now() - t);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, summarize(v)]));
}
