/**
 * Statistics of decoded tensor values, kept as sufficient statistics (count, sum, sum of
 * squares, min, max) so that a parent cell's statistics are the exact combination of its
 * children's: counts and extrema combine exactly, sums up to double rounding (the order of
 * additions differs from a single pass; relative error ~1e-15 per addition). Non-finite values
 * (NaN, ±Infinity, possible in F32/F16 tensors) are counted apart and kept out of the rest.
 */
export interface ValueStats {
  count: number;
  sum: number;
  sumSq: number;
  /** +Infinity when count is 0. */
  min: number;
  /** −Infinity when count is 0. */
  max: number;
  nonFinite: number;
}

export function emptyStats(): ValueStats {
  return { count: 0, sum: 0, sumSq: 0, min: Infinity, max: -Infinity, nonFinite: 0 };
}

/** Adds values[from..to) into s (in place). */
export function accumulate(s: ValueStats, values: ArrayLike<number>, from = 0, to = values.length): ValueStats {
  let n = 0;
  let sum = 0;
  let sq = 0;
  let lo = s.min;
  let hi = s.max;
  let bad = 0;
  for (let i = from; i < to; i++) {
    const v = values[i]!;
    // v - v is NaN exactly for NaN and ±Infinity.
    if (v - v !== 0) {
      bad++;
      continue;
    }
    n++;
    sum += v;
    sq += v * v;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  s.count += n;
  s.sum += sum;
  s.sumSq += sq;
  s.min = lo;
  s.max = hi;
  s.nonFinite += bad;
  return s;
}

/** a ⊕ b into a (in place). */
export function mergeInto(a: ValueStats, b: ValueStats): ValueStats {
  a.count += b.count;
  a.sum += b.sum;
  a.sumSq += b.sumSq;
  if (b.min < a.min) a.min = b.min;
  if (b.max > a.max) a.max = b.max;
  a.nonFinite += b.nonFinite;
  return a;
}

export function mergeStats(parts: readonly ValueStats[]): ValueStats {
  const s = emptyStats();
  for (const p of parts) mergeInto(s, p);
  return s;
}

export function statsOf(values: ArrayLike<number>): ValueStats {
  return accumulate(emptyStats(), values);
}

/** NaN when empty. */
export function statsMean(s: ValueStats): number {
  return s.count > 0 ? s.sum / s.count : NaN;
}

/** Population standard deviation; NaN when empty. Clamped at 0 against rounding. */
export function statsStd(s: ValueStats): number {
  if (s.count === 0) return NaN;
  const m = s.sum / s.count;
  return Math.sqrt(Math.max(0, s.sumSq / s.count - m * m));
}

/** The plain summary a UI shows. */
export interface StatsSummary {
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
  nonFinite: number;
}

export function summarize(s: ValueStats): StatsSummary {
  const empty = s.count === 0;
  return {
    count: s.count,
    min: empty ? null : s.min,
    max: empty ? null : s.max,
    mean: empty ? null : statsMean(s),
    std: empty ? null : statsStd(s),
    nonFinite: s.nonFinite,
  };
}
