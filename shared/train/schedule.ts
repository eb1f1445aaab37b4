/**
 * The learning rate of each (1-based) step: linear warmup from maxLr/warmup to maxLr over the
 * first `warmup` steps, then a cosine from maxLr down to minLr at step `total`, minLr after.
 */
export interface LrSchedule {
  maxLr: number;
  minLr: number;
  warmup: number;
  total: number;
}

export function learningRateAt(step: number, s: LrSchedule): number {
  if (s.warmup > 0 && step <= s.warmup) return (s.maxLr * step) / s.warmup;
  if (step >= s.total) return s.minLr;
  const span = Math.max(1, s.total - s.warmup);
  const progress = (step - s.warmup) / span;
  return s.minLr + 0.5 * (s.maxLr - s.minLr) * (1 + Math.cos(Math.PI * progress));
}
