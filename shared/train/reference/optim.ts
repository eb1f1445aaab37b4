/**
 * Float64 reference of the optimizer side of a step (specs/training.md): AdamW with decoupled
 * weight decay (as PyTorch's torch.optim.AdamW), clipping by global norm, warmup + cosine LR.
 */

export interface AdamwHyper {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Decay applies to matrices only (ParamSpec.decay). */
  readonly decay: boolean;
}

/**
 * One AdamW update in place; step is 1-based (bias correction 1 − β^step).
 * p −= lr·(m̂/(√v̂ + eps) + wd·p): the decay term uses p before this step's update, which is the
 * same as PyTorch's p *= 1 − lr·wd followed by the Adam update.
 */
export function adamwStep(
  param: { length: number; [i: number]: number },
  grad: ArrayLike<number>,
  m: { length: number; [i: number]: number },
  v: { length: number; [i: number]: number },
  step: number,
  h: AdamwHyper,
): void {
  if (!(Number.isInteger(step) && step >= 1)) throw new RangeError(`adamwStep: step ${step} must be an integer ≥ 1`);
  const bc1 = 1 - Math.pow(h.beta1, step);
  const bc2 = 1 - Math.pow(h.beta2, step);
  const wd = h.decay ? h.weightDecay : 0;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i]!;
    m[i] = h.beta1 * m[i]! + (1 - h.beta1) * g;
    v[i] = h.beta2 * v[i]! + (1 - h.beta2) * g * g;
    const mHat = m[i]! / bc1;
    const vHat = v[i]! / bc2;
    param[i] = param[i]! - h.lr * (mHat / (Math.sqrt(vHat) + h.eps) + wd * param[i]!);
  }
}

/** √(Σ g²) over every tensor together. */
export function globalNorm(grads: readonly ArrayLike<number>[]): number {
  let ss = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) ss += g[i]! * g[i]!;
  return Math.sqrt(ss);
}

/** The factor the gradients are multiplied by: min(1, maxNorm/(norm + 1e-6)) (as PyTorch's clip_grad_norm_). */
export function clipScale(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}

export interface LrSchedule {
  readonly maxLr: number;
  readonly minLr: number;
  readonly warmup: number;
  readonly total: number;
}

/**
 * Step is 1-based: linear warmup maxLr·step/warmup (maxLr/warmup at step 1, maxLr at warmup), then
 * cosine from maxLr (at warmup) down to minLr (at total), minLr after total.
 */
export function learningRate(step: number, s: LrSchedule): number {
  if (step <= s.warmup) return (s.maxLr * step) / s.warmup;
  if (step >= s.total) return s.minLr;
  const progress = (step - s.warmup) / (s.total - s.warmup);
  return s.minLr + 0.5 * (s.maxLr - s.minLr) * (1 + Math.cos(Math.PI * progress));
}
