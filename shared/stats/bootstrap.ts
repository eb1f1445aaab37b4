/**
 * The percentile bootstrap: how sure a measured speed ratio is. Resample the measurements with
 * replacement many times, compute the statistic on each resample, and read the interval off the
 * sorted results. Seeded (xoshiro128**), so the same samples always give the same interval and
 * a decision made from it can be checked again from the recorded samples.
 */
import { Xoshiro128 } from '../model-gen/prng';

export interface Interval {
  /** The statistic on the samples themselves. */
  estimate: number;
  lo: number;
  hi: number;
  /** 0.95 for a 95 % interval. */
  confidence: number;
  resamples: number;
}

export interface BootstrapOptions {
  /** Resamples drawn (default 2000). */
  resamples?: number;
  /** Two-sided confidence (default 0.95). */
  confidence?: number;
  seed?: number;
}

export const BOOTSTRAP_DEFAULTS = Object.freeze({ resamples: 2000, confidence: 0.95, seed: 0x5eed });

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The q-quantile (0..1) of sorted values, linearly interpolated between neighbours. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = q * (sorted.length - 1);
  const i = Math.floor(at);
  const f = at - i;
  return i + 1 < sorted.length ? sorted[i]! * (1 - f) + sorted[i + 1]! * f : sorted[i]!;
}

/** The percentile interval of `statistic` over resamples (with replacement) of `items`. */
export function bootstrapInterval<T>(items: readonly T[], statistic: (sample: readonly T[]) => number, opts: BootstrapOptions = {}): Interval {
  const resamples = opts.resamples ?? BOOTSTRAP_DEFAULTS.resamples;
  const confidence = opts.confidence ?? BOOTSTRAP_DEFAULTS.confidence;
  if (items.length === 0) throw new RangeError('bootstrap: no samples');
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`bootstrap: resamples must be a positive integer, got ${resamples}`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`bootstrap: confidence must be between 0 and 1, got ${confidence}`);
  const rng = new Xoshiro128(opts.seed ?? BOOTSTRAP_DEFAULTS.seed);
  const n = items.length;
  const sample: T[] = new Array<T>(n);
  const stats = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    // nextU32 / 2^32 * n: the modulo bias of `% n` is avoided for free.
    for (let i = 0; i < n; i++) sample[i] = items[Math.floor((rng.nextU32() / 4294967296) * n)]!;
    stats[r] = statistic(sample);
  }
  const sorted = Array.from(stats).sort((a, b) => a - b);
  const tail = (1 - confidence) / 2;
  return { estimate: statistic(items), lo: quantileSorted(sorted, tail), hi: quantileSorted(sorted, 1 - tail), confidence, resamples };
}

/**
 * How much faster `candidate` is than `baseline`, from interleaved timings (round i of each ran
 * back to back): the median of the per-round ratios baseline / candidate, with its interval.
 * Rounds are resampled as pairs, so a slow stretch of the machine that hit both stays paired.
 * Above 1: the candidate is faster.
 */
export function pairedSpeedupInterval(baselineMs: readonly number[], candidateMs: readonly number[], opts: BootstrapOptions = {}): Interval {
  if (baselineMs.length !== candidateMs.length) throw new RangeError(`bootstrap: ${baselineMs.length} baseline rounds against ${candidateMs.length} candidate rounds`);
  const ratios = baselineMs.map((b, i) => b / candidateMs[i]!);
  return bootstrapInterval(ratios, median, opts);
}
