/**
 * Timing candidates on a shared, noisy adapter (matvec-int.ts, adapter-ceiling.ts): each run is
 * warmed up, then timed `rounds` times, the order reversed every other round so that a drift
 * in the machine's load falls on every candidate alike.
 */
export type TimedRun = [name: string, run: (n: number) => Promise<void>];

/** Milliseconds per call of each run (`reps` calls per timing), one entry per round. */
export async function alternateRounds(runs: readonly TimedRun[], o: { rounds: number; reps: number; warmup: number }): Promise<number[][]> {
  for (const [, run] of runs) await run(o.warmup); // compile and warm up
  const times = runs.map(() => [] as number[]);
  for (let r = 0; r < o.rounds; r++) {
    const order = r % 2 === 0 ? runs.map((_, i) => i) : runs.map((_, i) => runs.length - 1 - i);
    for (const i of order) {
      const t0 = performance.now();
      await runs[i]![1](o.reps);
      times[i]!.push((performance.now() - t0) / o.reps);
    }
  }
  return times;
}
