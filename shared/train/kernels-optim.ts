/**
 * Encoders for the optimizer step (shaders/train_optim.wgsl): the global gradient norm, clipping
 * and AdamW over one flat parameter buffer, all on the GPU so that a step reads nothing back.
 */
import type { GpuBatch, GpuContext, GpuBinding } from '../gpu';
import { params } from '../gpu/params';

const WG = 256;
/** Values per partial sum; must match CHUNK in train_optim.wgsl. */
export const SUMSQ_CHUNK = 4096;

export interface AdamWSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip gradients to this global norm; 0 turns clipping off. */
  maxNorm: number;
}

export class OptimKernels {
  private constructor(
    private readonly wg: number,
    private readonly partials: GPUComputePipeline,
    private readonly final: GPUComputePipeline,
    private readonly step: GPUComputePipeline,
  ) {}

  static async create(ctx: GpuContext): Promise<OptimKernels> {
    const wg = Math.min(WG, ctx.caps.limits.maxComputeInvocationsPerWorkgroup);
    const c = { WG: wg };
    const [a, b, s] = await Promise.all([
      ctx.pipeline('train_optim', { entryPoint: 'sumsq_partials', constants: c }),
      ctx.pipeline('train_optim', { entryPoint: 'sumsq_final', constants: c }),
      ctx.pipeline('train_optim', { entryPoint: 'adamw', constants: c }),
    ]);
    return new OptimKernels(wg, a, b, s);
  }

  /** Partial sums needed for `n` gradient values (size of the `partial` scratch, in f32). */
  static partialCount(n: number): number {
    return Math.max(1, Math.ceil(n / SUMSQ_CHUNK));
  }

  /**
   * stats = [Σg², ‖g‖, clip scale, ok] for the gradients `grad[0, n)`; `partial` holds
   * partialCount(n) floats of scratch, `stats` 4 floats.
   */
  gradNorm(b: GpuBatch, a: { grad: GpuBinding; partial: GpuBinding; stats: GpuBinding; n: number; maxNorm: number }): void {
    const parts = OptimKernels.partialCount(a.n);
    const u = b.uniform(this.uniform(a.n, parts, 0, a.maxNorm, null, 1));
    b.dispatch(this.partials, [u, undefined, a.grad, undefined, undefined, a.partial], parts, 'sumsq_partials');
    b.dispatch(this.final, [u, undefined, undefined, undefined, undefined, a.partial, a.stats], 1, 'sumsq_final');
  }

  /**
   * One AdamW step (1-based `step`) of param[0, n) with the clip scale and the ok flag that
   * gradNorm wrote to `stats`. Elements before `decayEnd` get weight decay.
   */
  adamw(
    b: GpuBatch,
    a: { param: GpuBinding; grad: GpuBinding; m: GpuBinding; v: GpuBinding; stats: GpuBinding; n: number; decayEnd: number; step: number; s: AdamWSettings },
  ): void {
    const u = b.uniform(this.uniform(a.n, 0, a.decayEnd, a.s.maxNorm, a.s, a.step));
    b.dispatch(this.step, [u, a.param, a.grad, a.m, a.v, undefined, a.stats], Math.ceil(a.n / this.wg), 'adamw');
  }

  private uniform(n: number, partials: number, decayEnd: number, maxNorm: number, s: AdamWSettings | null, step: number) {
    const beta1 = s?.beta1 ?? 0.9;
    const beta2 = s?.beta2 ?? 0.999;
    return params()
      .u32(n)
      .u32(partials)
      .u32(decayEnd)
      .u32(0)
      .f32(maxNorm)
      .f32(s?.lr ?? 0)
      .f32(beta1)
      .f32(beta2)
      .f32(s?.eps ?? 1e-8)
      .f32(s?.weightDecay ?? 0)
      .f32(1 - Math.pow(beta1, step))
      .f32(1 - Math.pow(beta2, step));
  }
}
