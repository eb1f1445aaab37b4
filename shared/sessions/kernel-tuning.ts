/**
 * A kernel tuner run as a self-improvement session: per weight type, every shape tried (did it
 * compute the default shape's product, and its time in each interleaved round), the speed-up of
 * the shape kept or of the closest challenger with its bootstrap interval, and the decision. The
 * comparison is computed again from the recorded rounds with the tuner's own rule, so the
 * session shows exactly the evidence the decision was made on. The integer decode kernels are
 * candidates too, named `int <variant>` (autotune.ts candidateName).
 */
import { candidateName, compareCandidates, TUNING_MARGIN, type CandidateTiming, type TuningRecord } from '../engine/autotune';
import { DEFAULT_TUNING, WEIGHT_TYPES, type WeightKernelTuning, type WeightType } from '../engine/quant-matmul';
import type { NewSession, SessionTrial } from './record';

export const shapeName = (t: WeightKernelTuning) => `${t.workgroupSize}x${t.threadsPerRow}`;

export const KERNEL_SPEEDUP_STATISTIC = "median over the rounds of the default shape's time ÷ this shape's time; rounds resampled in pairs";

export interface KernelTuningRun {
  /** The record the tuner returned (before any merge with earlier ones). */
  record: TuningRecord;
  timings: Partial<Record<WeightType, readonly CandidateTiming[]>>;
  startedAt: string;
  finishedAt: string;
  /** The adapter as people read it. */
  driver: string;
  /** The model it was run for (a load measures that model's types), or null. */
  model: string | null;
  /** Who ran it: "the Kernels view", "pxi tune", "loading a model". */
  by: string;
}

function trialOf(type: WeightType, timings: readonly CandidateTiming[], record: TuningRecord): SessionTrial {
  const t = record.types[type];
  const chosen = candidateName({ tuning: t?.tuning ?? DEFAULT_TUNING, ...(t?.intMatvec ? { int: t.intMatvec } : {}) });
  const compared = compareCandidates(timings, TUNING_MARGIN);
  const timed = compared.filter((c) => c.speedup).sort((a, b) => b.speedup!.estimate - a.speedup!.estimate);
  const keptOne = compared.find((c) => candidateName(c) === chosen && c.speedup);
  const kept = !!keptOne && chosen !== shapeName(DEFAULT_TUNING);
  const shown = kept ? keptOne : timed[0];
  const { rows, cols } = record.types[type] ?? {};
  return {
    subject: type,
    baseline: candidateName(timings[0]!),
    variants: timings.map((t) => ({ name: candidateName(t), correct: t.agrees, samplesMs: [...t.rounds] })),
    challenger: shown ? candidateName(shown) : null,
    speedup: shown
      ? { estimate: shown.speedup!.estimate, lo: shown.speedup!.lo, hi: shown.speedup!.hi, confidence: shown.speedup!.confidence, resamples: shown.speedup!.resamples, statistic: KERNEL_SPEEDUP_STATISTIC }
      : null,
    kept,
    inUse: chosen,
    reason: `${record.types[type]?.reason ?? shown?.decision?.reason ?? 'Not kept: no other shape computed the same product.'} (${rows ?? record.rows} × ${cols ?? record.cols} matrix.)`,
  };
}

export function kernelTuningSession(run: KernelTuningRun): NewSession {
  const trials = WEIGHT_TYPES.filter((t) => run.timings[t]?.length).map((t) => trialOf(t, run.timings[t]!, run.record));
  const kept = trials.filter((t) => t.kept);
  const effect = kept.length
    ? `Decoding now uses a faster kernel for ${kept.map((t) => `${t.subject} (${t.inUse}, about ${t.speedup!.estimate.toFixed(2)}× as fast)`).join(', ')}; ${trials.length - kept.length} other weight type${trials.length - kept.length === 1 ? '' : 's'} keep the default shape.`
    : 'Nothing changed: no shape was reliably faster than the default on this GPU, so the default shape stays for every type measured.';
  return {
    kind: 'kernel-tuning',
    model: run.model,
    adapter: run.record.adapter,
    driver: run.driver,
    description: `The kernel tuner (run by ${run.by}) tried ${trials[0]?.variants.length ?? 0} shapes of the decode kernel for ${trials.length} weight type${trials.length === 1 ? '' : 's'} (integer kernels included where the type has them), each checked against the default shape’s answer (an integer kernel: against its integer reference) before it was timed ${run.record.clock === 'gpu' ? 'with the GPU’s own timestamps' : 'by the wall clock (submit and wait included)'}, in interleaved rounds.`,
    codeHash: run.record.kernels,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    trials,
    decision: kept.length ? 'kept' : 'unchanged',
    effect,
    details: [],
    confirmation: null,
  };
}
