/**
 * The seeded percentile bootstrap (shared/stats/bootstrap.ts) and the keep rule built on it
 * (shared/stats/speed-decision.ts), on synthetic samples: no clock is read anywhere.
 */
import { describe, expect, it } from 'vitest';
import { bootstrapInterval, median, pairedSpeedupInterval, quantileSorted } from '../../shared/stats/bootstrap';
import { decideSpeedup, minimumSpeedup } from '../../shared/stats/speed-decision';
import { Xoshiro128 } from '../../shared/model-gen/prng';

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** n values around `centre`, spread ±`spread` (uniform), from a seed. */
function noisy(n: number, centre: number, spread: number, seed: number): number[] {
  const r = new Xoshiro128(seed);
  return Array.from({ length: n }, () => centre + ((r.nextU32() / 2 ** 32) * 2 - 1) * spread);
}

describe('bootstrap interval', () => {
  it('median and quantiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(quantileSorted([0, 10], 0.25)).toBe(2.5);
    expect(quantileSorted([1, 2, 3], 1)).toBe(3);
  });

  it('is the same for the same seed, and differs for another', () => {
    const xs = noisy(15, 10, 3, 1);
    const a = bootstrapInterval(xs, mean, { seed: 7 });
    expect(bootstrapInterval(xs, mean, { seed: 7 })).toEqual(a);
    expect(bootstrapInterval(xs, mean, { seed: 8 })).not.toEqual(a);
    expect(a).toMatchObject({ confidence: 0.95, resamples: 2000 });
    expect(a.estimate).toBeCloseTo(mean(xs), 12);
  });

  it('brackets the estimate, is degenerate for constant samples, and narrows with more samples', () => {
    const constant = bootstrapInterval([5, 5, 5, 5], median);
    expect([constant.lo, constant.estimate, constant.hi]).toEqual([5, 5, 5]);
    const few = bootstrapInterval(noisy(8, 10, 4, 2), mean);
    const many = bootstrapInterval(noisy(400, 10, 4, 2), mean);
    for (const i of [few, many]) {
      expect(i.lo).toBeLessThanOrEqual(i.estimate);
      expect(i.hi).toBeGreaterThanOrEqual(i.estimate);
    }
    expect(many.hi - many.lo).toBeLessThan((few.hi - few.lo) / 3);
    // The mean of uniform(6, 14) is 10: a 95 % interval from 400 samples holds it, and is tight.
    expect(many.lo).toBeLessThan(10);
    expect(many.hi).toBeGreaterThan(10);
    expect(many.hi - many.lo).toBeLessThan(1);
  });

  it('a wider confidence gives a wider interval; the interval never leaves the range of the resampled statistic', () => {
    const xs = noisy(12, 1, 0.5, 3);
    const narrow = bootstrapInterval(xs, median, { confidence: 0.5 });
    const wide = bootstrapInterval(xs, median, { confidence: 0.99 });
    expect(wide.lo).toBeLessThanOrEqual(narrow.lo);
    expect(wide.hi).toBeGreaterThanOrEqual(narrow.hi);
    expect(wide.lo).toBeGreaterThanOrEqual(Math.min(...xs));
    expect(wide.hi).toBeLessThanOrEqual(Math.max(...xs));
  });

  it('refuses what it cannot resample', () => {
    expect(() => bootstrapInterval([], mean)).toThrow(RangeError);
    expect(() => bootstrapInterval([1], mean, { resamples: 0 })).toThrow(/resamples/);
    expect(() => bootstrapInterval([1], mean, { confidence: 1 })).toThrow(/confidence/);
    expect(() => pairedSpeedupInterval([1, 2], [1])).toThrow(/2 baseline rounds against 1/);
  });

  it('the paired speed-up: baseline ÷ candidate round by round, so a slow round slows both and cancels', () => {
    // Round 2 ran on a busy machine: both took 3× as long. The ratio is 2 in every round.
    const i = pairedSpeedupInterval([10, 30, 10, 10, 10], [5, 15, 5, 5, 5]);
    expect([i.lo, i.estimate, i.hi]).toEqual([2, 2, 2]);
    // Unpaired, the same times would look far less certain.
    const unpaired = bootstrapInterval([10, 30, 10, 10, 10], median).hi / bootstrapInterval([5, 15, 5, 5, 5], median).lo;
    expect(unpaired).toBeGreaterThan(2);
  });
});

describe('the keep rule', () => {
  const interval = (lo: number, estimate: number, hi: number) => ({ lo, estimate, hi, confidence: 0.95, resamples: 2000 });

  it('the minimum win of a 10 % margin is 1 / 0.9', () => {
    expect(minimumSpeedup(0.1)).toBeCloseTo(1.1111, 4);
    expect(minimumSpeedup(0)).toBe(1);
    expect(() => minimumSpeedup(1)).toThrow(RangeError);
    expect(() => minimumSpeedup(-0.1)).toThrow(RangeError);
  });

  it('keeps only when the low end of the interval clears it, and says why in words', () => {
    const kept = decideSpeedup(interval(1.2, 1.5, 1.8), 0.1);
    expect(kept.keep).toBe(true);
    expect(kept.reason).toMatch(/^Kept: 1\.20× to 1\.80× as fast \(95 % confidence\)/);
    // Looks 1.5× as fast, but could be 1.05×: not kept.
    const unsure = decideSpeedup(interval(1.05, 1.5, 1.9), 0.1);
    expect(unsure.keep).toBe(false);
    expect(unsure.reason).toMatch(/looked 1\.50× as fast.*does not clear 1\.11×/);
    const slower = decideSpeedup(interval(0.8, 0.9, 1.0), 0.1);
    expect(slower.keep).toBe(false);
    expect(slower.reason).toMatch(/must be at least 1\.11×/);
    // Exactly at the minimum is not a win.
    expect(decideSpeedup(interval(1 / 0.9, 1.3, 1.4), 0.1).keep).toBe(false);
  });
});
