import { paramSpecs, type TrainModelConfig } from '../../shared/train/config';
import { RandomWindows } from '../../shared/train/data';
import type { GpuTrainer } from '../../shared/train/gpu-trainer';
import type { AdamWSettings } from '../../shared/train/kernels-optim';
import { learningRateAt, type LrSchedule } from '../../shared/train/schedule';
import { rng } from './compare';
import { Xoshiro128 } from '../../shared/model-gen/prng';

/** Tiny llama for the training checks: GQA (2 heads, 1 kv head), untied output. */
export const TINY_LLAMA: TrainModelConfig = {
  arch: 'llama',
  vocab: 11,
  dim: 8,
  layers: 2,
  heads: 2,
  kvHeads: 1,
  ff: 12,
  context: 16,
  ropeTheta: 10000,
  rmsEps: 1e-5,
  tied: false,
  qkvBias: false,
};

/** Tiny qwen2: q/k/v biases, NEOX RoPE, tied output, a small RoPE base. */
export const TINY_QWEN2: TrainModelConfig = { ...TINY_LLAMA, arch: 'qwen2', heads: 4, kvHeads: 2, ropeTheta: 100, rmsEps: 1e-6, tied: true, qkvBias: true };

/**
 * Parameters far from the N(0, 0.02) init (gains 0.7–1.3, biases ±0.3, matrices ±0.6), so that
 * every path carries a real gradient and a wrong one cannot hide under a small one.
 */
export function randomParams(cfg: TrainModelConfig, seed: number): Map<string, Float32Array> {
  const r = rng(seed);
  const out = new Map<string, Float32Array>();
  for (const s of paramSpecs(cfg)) {
    const a = new Float32Array(s.size);
    const [lo, hi] = s.init.kind === 'ones' ? [0.7, 1.3] : s.init.kind === 'zeros' ? [-0.3, 0.3] : [-0.6, 0.6];
    for (let i = 0; i < a.length; i++) a[i] = lo + (hi - lo) * r();
    out.set(s.name, a);
  }
  return out;
}

/** n token ids drawn uniformly from [0, vocab) with the seed's stream. */
export function seededTokens(seed: number, n: number, vocab: number): Int32Array {
  const r = new Xoshiro128(seed);
  return Int32Array.from({ length: n }, () => r.nextInt(0, vocab - 1));
}

/** Largest |got − want| over a tensor, relative to the tensor's largest |want| (absolute when want is all zero). */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

/** A schedule with AdamW's settings, as the reference trainer takes it. */
export interface ScheduleOptions extends LrSchedule {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  clip: number;
}

/** What the trainer's step `s` gets from the same options the reference trainer is given. */
export function stepSettings(s: number, opt: ScheduleOptions): AdamWSettings {
  return { lr: learningRateAt(s, opt), beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay: opt.weightDecay, maxNorm: opt.clip };
}

/** The fixed settings of the determinism checks' steps. */
const FIXED_STEP: AdamWSettings = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxNorm: 1 };

/**
 * `steps` steps of fixed settings over seeded windows (batch 2, 8 tokens) of a 300-token stream,
 * then the trained weights: a run twice of this gives the same bits when training is deterministic.
 */
export async function trainFixedSteps(trainer: GpuTrainer, cfg: TrainModelConfig, steps: number): Promise<Float32Array> {
  const w = new RandomWindows(seededTokens(4, 300, cfg.vocab), 2, 8, 1, 1);
  for (let s = 1; s <= steps; s++) await trainer.step([w.microBatch(s, 0)], s, FIXED_STEP);
  return (await trainer.readState()).params;
}
