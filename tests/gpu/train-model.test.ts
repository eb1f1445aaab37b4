import { describe, expect, it } from 'vitest';
import type { TrainModelConfig } from '../../shared/train/config';
import { RandomWindows } from '../../shared/train/data';
import { GpuTrainer } from '../../shared/train/gpu-trainer';
import { paramLayout } from '../../shared/train/param-layout';
import { initParams } from '../../shared/train/init';
import { referenceLossAndGrads, referenceTrain } from '../../shared/train/reference/model';
import { learningRate } from '../../shared/train/reference/optim';
import { learningRateAt } from '../../shared/train/schedule';
import { useGpu } from '../support/gpu';
import { randomParams, relErr, seededTokens, stepSettings, trainFixedSteps } from '../support/train-models';

// The whole training engine on the GPU (f32) against the float64 reference composed from the
// reference ops (themselves checked against finite differences and tfjs).

const g = useGpu();

const LLAMA: TrainModelConfig = { arch: 'llama', vocab: 37, dim: 16, layers: 2, heads: 4, kvHeads: 2, ff: 24, context: 16, ropeTheta: 10000, rmsEps: 1e-5, tied: false, qkvBias: false };
const QWEN2: TrainModelConfig = { ...LLAMA, arch: 'qwen2', qkvBias: true, tied: true, heads: 2, kvHeads: 1, layers: 3 };

describe('GPU training engine vs the float64 reference', () => {
  for (const [label, cfg, B, T] of [
    ['llama (GQA, untied)', LLAMA, 2, 7],
    ['qwen2 (biases, NEOX, tied, 1 kv head)', QWEN2, 3, 5],
    ['llama, one sequence of the whole context', { ...LLAMA, tied: true }, 1, 16],
  ] as const) {
    it(`loss and every gradient match: ${label}`, async (t) => {
      if (!g.ctx) return t.skip(g.reason);
      const params = randomParams(cfg, 7);
      const batch = seededTokens(11, B * (T + 1), cfg.vocab);
      const trainer = await GpuTrainer.create(g.ctx, cfg, { batch: B, seqLen: T }, params);
      try {
        const got = await trainer.lossAndGrads(batch);
        const want = referenceLossAndGrads(cfg, params, batch, B, T);
        // f32 throughout on the GPU against f64: the loss agrees to ~1e-6 relative.
        expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(1e-5);
        // Gradients pass through ~10 f32 ops per layer; relative to each tensor's largest
        // entry they agree to ~1e-5 in practice; 1e-3 leaves room for the attention softmax.
        for (const [name, g] of want.grads) {
          const e = relErr(got.grads.get(name)!, g);
          expect(e, `${name}: relative error ${e}`).toBeLessThan(1e-3);
        }
      } finally {
        trainer.destroy();
      }
    });
  }

  it('ten AdamW steps track the reference loss curve (with clipping and accumulation)', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    for (const [cfg, accum] of [
      [LLAMA, 1],
      [QWEN2, 2],
    ] as const) {
      const B = 2;
      const T = 8;
      const params = initParams(cfg, 5);
      // A learnable stream (a fixed cycle of 13 tokens), so ten steps visibly lower the loss.
      const cycle = seededTokens(3, 13, cfg.vocab);
      const corpus = Int32Array.from({ length: 400 }, (_, i) => cycle[i % 13]!);
      const windows = new RandomWindows(corpus, B, T, 9, accum);
      const steps = 10;
      const batches: Int32Array[] = [];
      for (let s = 1; s <= steps; s++) for (let a = 0; a < accum; a++) batches.push(windows.microBatch(s, a));
      const opt = { maxLr: 3e-2, minLr: 3e-3, warmup: 3, total: steps, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, clip: 0.5, accum };
      const want = referenceTrain(cfg, params, batches, B, T, opt);
      const trainer = await GpuTrainer.create(g.ctx, cfg, { batch: B, seqLen: T }, params);
      try {
        const losses: number[] = [];
        for (let s = 1; s <= steps; s++) {
          const r = await trainer.step(batches.slice((s - 1) * accum, s * accum), s, stepSettings(s, opt));
          expect(r.ok).toBe(true);
          expect(Math.abs(r.gradNorm - want.gradNorms[s - 1]!) / want.gradNorms[s - 1]!).toBeLessThan(1e-3);
          losses.push(r.loss);
        }
        // The curve must fall (the model learns) and track the reference within 1e-3 relative
        // per step: AdamW divides by √v, which amplifies f32 differences in tiny gradients, so
        // the weights drift apart slowly; ten steps stay well inside this.
        expect(losses[steps - 1]!).toBeLessThan(losses[0]! - 0.05);
        for (let s = 0; s < steps; s++) expect(Math.abs(losses[s]! - want.losses[s]!) / want.losses[s]!, `step ${s + 1}`).toBeLessThan(1e-3);
        const final = await trainer.readParams();
        for (const [name, p] of want.params) expect(relErr(final.get(name)!, p), name).toBeLessThan(2e-2);
      } finally {
        trainer.destroy();
      }
    }
  });

  it('the schedule matches the reference schedule', () => {
    const s = { maxLr: 1e-3, minLr: 1e-4, warmup: 10, total: 100 };
    for (let step = 1; step <= 120; step++) expect(learningRateAt(step, s)).toBeCloseTo(learningRate(step, s), 15);
  });

  it('is deterministic: the same seed and data give the same weights bit for bit', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const cfg = LLAMA;
    const run = async () => {
      const trainer = await GpuTrainer.create(g.ctx!, cfg, { batch: 2, seqLen: 8 }, initParams(cfg, 21));
      try {
        return await trainFixedSteps(trainer, cfg, 4);
      } finally {
        trainer.destroy();
      }
    };
    const a = await run();
    const b = await run();
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
  });

  it('a non-finite gradient leaves the weights unchanged and is reported', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const cfg = LLAMA;
    const params = initParams(cfg, 2);
    params.get('blk.1.ffn_up.weight')![5] = Number.NaN;
    const trainer = await GpuTrainer.create(g.ctx, cfg, { batch: 1, seqLen: 4 }, params);
    try {
      const before = (await trainer.readState()).params;
      const r = await trainer.step([seededTokens(1, 5, cfg.vocab)], 1, { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxNorm: 1 });
      expect(r.ok).toBe(false);
      const after = (await trainer.readState()).params;
      expect(Buffer.from(after.buffer).equals(Buffer.from(before.buffer))).toBe(true);
      expect((await trainer.nonFiniteGradients()).length).toBeGreaterThan(0);
    } finally {
      trainer.destroy();
    }
  });

  it('lays matrices out first, every slot 256-byte aligned', () => {
    const l = paramLayout(QWEN2);
    for (const s of l.order) {
      expect((s.offset * 4) % 256).toBe(0);
      expect(s.offset < l.decayEnd).toBe(s.spec.decay);
    }
  });
});
