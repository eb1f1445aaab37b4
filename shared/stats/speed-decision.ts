/**
 * The one rule every self-improvement decision follows: a variant replaces what is in use only
 * when the whole confidence interval of its speed-up clears the minimum win. A point estimate
 * that looks faster is not enough: on a busy machine timings wander, and a change kept on noise
 * is a change that may make things slower.
 */
import type { Interval } from './bootstrap';

/** The speed-up a variant must clear when it must be faster by `margin` (0.1: 10 % less time). */
export function minimumSpeedup(margin: number): number {
  if (!(margin >= 0 && margin < 1)) throw new RangeError(`the minimum win must be from 0 to 1, got ${margin}`);
  return 1 / (1 - margin);
}

export interface SpeedDecision {
  keep: boolean;
  /** In plain words, with the numbers that decided. */
  reason: string;
}

const times = (x: number) => `${x.toFixed(2)}×`;
const pct = (c: number) => `${Math.round(c * 100)} %`;

/** Whether a variant whose speed-up is `speedup` (an interval, above 1 is faster) is kept. */
export function decideSpeedup(speedup: Interval, margin: number): SpeedDecision {
  const need = minimumSpeedup(margin);
  const range = `${times(speedup.lo)} to ${times(speedup.hi)} as fast (${pct(speedup.confidence)} confidence)`;
  if (speedup.lo > need) return { keep: true, reason: `Kept: ${range}; even the low end beats the ${times(need)} it must clear.` };
  if (speedup.estimate > need) return { keep: false, reason: `Not kept: it looked ${times(speedup.estimate)} as fast, but the measurements allow ${range}, and the low end does not clear ${times(need)}.` };
  return { keep: false, reason: `Not kept: ${range}; it must be at least ${times(need)} as fast.` };
}
