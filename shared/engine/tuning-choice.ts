/**
 * The kernel tuner's decisions (specs/engine.md, "Kernel tuning"): each candidate against the
 * default round by round, its speed-up's bootstrap interval, and the keep rule every
 * self-improvement decision follows (shared/stats/speed-decision.ts), for decode shapes and
 * integer kernels (chooseTuning) and for prefill kernels (choosePrefill).
 */
import { pairedSpeedupInterval, type Interval } from '../stats/bootstrap';
import { decideSpeedup, type SpeedDecision } from '../stats/speed-decision';
import { EngineError } from './errors';
import type { IntVariant } from './int-matvec';
import type { PrefillVariant, WeightKernelTuning } from './quant-matmul';
import { PREFILL_TOKENS, TUNING_MARGIN, type CandidateTiming, type PrefillTuning, type TypeTuning } from './tuning-record';

export const sameTuning = (a: WeightKernelTuning, b: WeightKernelTuning) => a.workgroupSize === b.workgroupSize && a.threadsPerRow === b.threadsPerRow;

/** A candidate's name: its shape (`64x4`), or `int <variant>` for an integer kernel. */
export function candidateName(c: { tuning: WeightKernelTuning; int?: IntVariant }): string {
  return c.int ? `int ${c.int}` : `${c.tuning.workgroupSize}x${c.tuning.threadsPerRow}`;
}

/** One candidate against the default: its speed-up interval and whether the rule keeps it. */
export interface CandidateComparison {
  tuning: WeightKernelTuning;
  int?: IntVariant;
  agrees: boolean;
  /** Null when it was not timed against the default (it disagreed, or its rounds do not pair). */
  speedup: Interval | null;
  decision: SpeedDecision | null;
}

/** Every candidate after the default, compared with it round by round (shared/stats/bootstrap.ts). */
export function compareCandidates(timings: readonly CandidateTiming[], margin = TUNING_MARGIN): CandidateComparison[] {
  const base = timings[0];
  if (!base || !base.agrees || !Number.isFinite(base.ms) || base.rounds.length === 0) {
    throw new EngineError('ENGINE_BAD_OPTION', 'the default kernel shape must be timed first and agree with itself');
  }
  if (base.int) throw new EngineError('ENGINE_BAD_OPTION', 'the default must be an f32 kernel shape');
  return timings.slice(1).map((t) => {
    const id = { tuning: t.tuning, ...(t.int ? { int: t.int } : {}) };
    if (!t.agrees || t.rounds.length !== base.rounds.length) return { ...id, agrees: t.agrees, speedup: null, decision: null };
    const speedup = pairedSpeedupInterval(base.rounds, t.rounds);
    return { ...id, agrees: true, speedup, decision: decideSpeedup(speedup, margin) };
  });
}

/**
 * The shape to use given the timings. Each candidate is compared with the default round by
 * round (the two ran seconds apart, so a busy stretch of the machine slows both): its speed-up is
 * the median of the per-round ratios, with a bootstrap interval. Of the candidates whose whole
 * interval clears the minimum win (1 / (1 − margin)), the fastest by that median is kept; with
 * none, the default stays, and the record names the best challenger and why it lost.
 */
export function chooseTuning(timings: readonly CandidateTiming[], margin = TUNING_MARGIN): TypeTuning {
  const base = timings[0]!;
  const compared = compareCandidates(timings, margin);
  const byEstimate = (a: CandidateComparison, b: CandidateComparison) => b.speedup!.estimate - a.speedup!.estimate;
  const timed = compared.filter((c) => c.speedup).sort(byEstimate);
  const kept = timed.find((c) => c.decision!.keep);
  const shown = kept ?? timed[0];
  const interval = shown ? { interval: { lo: shown.speedup!.lo, hi: shown.speedup!.hi, confidence: shown.speedup!.confidence } } : {};
  if (kept) {
    const pick = timings.find((t) => candidateName(t) === candidateName(kept))!;
    // An integer kernel kept: decode goes through it; the f32 shape (for what it does not take) stays the default.
    const int = pick.int ? { intMatvec: pick.int } : {};
    return { tuning: { ...pick.tuning }, ...int, ms: pick.ms, defaultMs: base.ms, speedup: kept.speedup!.estimate, ...interval, reason: kept.decision!.reason };
  }
  return {
    tuning: { ...base.tuning },
    ms: base.ms,
    defaultMs: base.ms,
    speedup: 1,
    ...interval,
    ...(shown ? { challenger: { ...shown.tuning }, ...(shown.int ? { challengerIntMatvec: shown.int } : {}), reason: shown.decision!.reason } : { reason: 'Not kept: no other shape computed the same product.' }),
  };
}

/**
 * The prefill kernel to keep, by the rule chooseTuning applies to decode shapes: the first entry is
 * the default `matmul` (variant null); a variant is kept only when its speed-up interval clears
 * the minimum win, the fastest by the median of those that do.
 */
export function choosePrefill(timings: readonly { variant: PrefillVariant | null; ms: number; rounds: number[]; agrees: boolean }[], margin = TUNING_MARGIN): PrefillTuning {
  const base = timings[0];
  if (!base || base.variant !== null || !base.agrees || base.rounds.length === 0) throw new EngineError('ENGINE_BAD_OPTION', 'the default prefill kernel must be timed first');
  const compared = timings
    .slice(1)
    .filter((t) => t.agrees && t.rounds.length === base.rounds.length)
    .map((t) => {
      const speedup = pairedSpeedupInterval(base.rounds, t.rounds);
      return { t, speedup, decision: decideSpeedup(speedup, margin) };
    })
    .sort((a, b) => b.speedup.estimate - a.speedup.estimate);
  const kept = compared.find((c) => c.decision.keep);
  const shown = kept ?? compared[0];
  const interval = shown ? { interval: { lo: shown.speedup.lo, hi: shown.speedup.hi, confidence: shown.speedup.confidence } } : {};
  if (kept) return { variant: kept.t.variant!, tokens: PREFILL_TOKENS, ms: kept.t.ms, defaultMs: base.ms, speedup: kept.speedup.estimate, ...interval, reason: kept.decision.reason };
  return {
    tokens: PREFILL_TOKENS,
    ms: base.ms,
    defaultMs: base.ms,
    speedup: 1,
    ...interval,
    ...(shown ? { challenger: shown.t.variant!, reason: shown.decision.reason } : { reason: 'Not kept: no tiled product computed the same product.' }),
  };
}
