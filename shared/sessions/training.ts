/**
 * A finished training or fine-tuning run as a self-improvement session. Training decides nothing
 * by timing variants: the session records what the run did to the model (its loss at the start
 * and the end of this process's part of it, the validation loss where it was measured) and its
 * training speed, so the Dashboard lists every way the system changed itself in one place. Its
 * decision is `recorded`: the run's own model and checkpoints are how it is kept or deleted.
 */
import { median } from '../stats/bootstrap';
import type { NewSession } from './record';

export interface TrainingRun {
  run: string;
  /** "training" or "fine-tuning". */
  what: string;
  /** Where it trained, in words: "Dawn in the services", "a window's WebGPU". */
  where: string;
  /** Steps this process saw, with their training loss and tokens/s. */
  points: readonly { step: number; loss: number; tokensPerSec: number }[];
  valid: readonly { step: number; loss: number }[];
  startedAt: string;
  finishedAt: string;
  /** The model the run imported, or null (a fine-tune that wrote an adapter). */
  model: string | null;
}

const loss = (v: number) => v.toFixed(4);

export function trainingSession(r: TrainingRun): NewSession {
  const first = r.points[0];
  const last = r.points.at(-1);
  const v0 = r.valid[0];
  const v1 = r.valid.at(-1);
  const parts = [
    first && last ? `training loss ${loss(first.loss)} at step ${first.step} → ${loss(last.loss)} at step ${last.step}` : 'no step was seen by this process',
    ...(v0 && v1 ? [v0 === v1 ? `validation loss ${loss(v1.loss)} at step ${v1.step}` : `validation loss ${loss(v0.loss)} → ${loss(v1.loss)}`] : []),
  ];
  const speeds = r.points.map((p) => p.tokensPerSec).filter((x) => Number.isFinite(x) && x > 0);
  return {
    kind: 'training',
    model: r.model ?? r.run,
    adapter: r.where,
    driver: r.where,
    description: `The ${r.what} run ${r.run} (${r.where}) changed the model's weights.`,
    codeHash: null,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    trials: [],
    decision: 'recorded',
    effect: `${parts.join('; ')}.`.slice(0, 2000),
    details: r.valid.slice(-100).map((v) => `Validation at step ${v.step}: loss ${loss(v.loss)}`),
    confirmation: speeds.length ? { tokensPerSecond: median(speeds), baselineTokensPerSecond: null, note: `Median training speed over ${speeds.length} steps (tokens/s).` } : null,
  };
}
