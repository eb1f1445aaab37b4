/**
 * The float64 reference of a whole training step (shared/train/reference/model.ts) and of the
 * optimizer (optim.ts).
 *
 * Whole model: the loss of a tiny llama (untied, normal RoPE, GQA) and a tiny qwen2 (tied
 * embeddings, q/k/v biases, NEOX RoPE) and the gradient of every coordinate of every parameter
 * against central finite differences of the loss (all coordinates: the models have ~1,200
 * parameters and a loss costs ~0.1 ms). The parameters are drawn far from the 0.02-std init
 * (weights ±0.6, gains 1 ± 0.3, biases ±0.3) so that every nonlinearity is exercised and no
 * gradient is negligible.
 *
 * FD tolerance: |analytic − FD| ≤ 1e-8 + 1e-6·|FD|, h = 1e-5. In float64 the central difference's
 * rounding error is ε·|loss|/h ≈ 2e-16·2.5/1e-5 ≈ 5e-11 and its truncation error h²/6·|L'''| is
 * below that at these sizes; a wrong term in the backward pass gives errors of the size of the
 * gradient (1e-3 .. 1e-1). Measured worst error: 1.1e-8 on a gradient of 0.81 (qwen2's tied
 * embedding, where the loss is most curved; it is truncation: it falls 100× for h 10× smaller),
 * and at most 1e-9 everywhere else.
 *
 * Optimizer: AdamW, the schedule and clipping against values worked out by hand; referenceTrain
 * against its own parts composed by hand, accumulation against one batch twice as large, and a
 * loss that falls on a repeated batch.
 */
import { describe, expect, it } from 'vitest';
import { centralDifferences, compareClose, rng } from '../support/compare';
import { paramSpecs, type TrainModelConfig } from '../../shared/train/config';
import { initParams } from '../../shared/train/init';
import { crossEntropyForward } from '../../shared/train/reference/ops';
import { referenceLogits, referenceLossAndGrads, referenceTrain } from '../../shared/train/reference/model';
import { adamwStep, clipScale, globalNorm, learningRate } from '../../shared/train/reference/optim';
import { randomParams, TINY_LLAMA, TINY_QWEN2 } from '../support/train-models';

const B = 2;
const T = 5;

function randomTokens(n: number, V: number, seed: number): Int32Array {
  const r = rng(seed);
  return new Int32Array(n).map(() => Math.floor(r() * V));
}

/** The loss composed independently of referenceLossAndGrads: logits, then cross-entropy. */
function lossOf(cfg: TrainModelConfig, params: Map<string, ArrayLike<number>>, tokens: Int32Array, b: number, t: number): number {
  const ids = new Int32Array(b * t);
  const tg = new Int32Array(b * t);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < t; j++) {
      ids[i * t + j] = tokens[i * (t + 1) + j]!;
      tg[i * t + j] = tokens[i * (t + 1) + j + 1]!;
    }
  }
  return crossEntropyForward(referenceLogits(cfg, params, ids, b, t), tg, b * t, cfg.vocab).loss;
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, label: string, tol: { atol: number; rtol: number }): void {
  const msg = compareClose(got, want, tol, label);
  expect(msg, msg ?? '').toBeNull();
}

describe('train reference model: loss and gradients vs finite differences (f64)', () => {
  for (const cfg of [TINY_LLAMA, TINY_QWEN2]) {
    it(`${cfg.arch} (${cfg.tied ? 'tied' : 'untied'}, heads ${cfg.heads}/${cfg.kvHeads}): every parameter`, () => {
      const params = randomParams(cfg, cfg.arch === 'llama' ? 1 : 2);
      const tokens = randomTokens(B * (T + 1), cfg.vocab, 3);
      const { loss, grads } = referenceLossAndGrads(cfg, params, tokens, B, T);
      expect([...grads.keys()]).toEqual(paramSpecs(cfg).map((s) => s.name));
      expect(grads.has('output.weight')).toBe(!cfg.tied);
      expect(loss).toBeCloseTo(lossOf(cfg, params, tokens, B, T), 14);
      expect(loss).toBeGreaterThan(0.5); // not a degenerate model: a real spread of probabilities

      const h = 1e-5;
      const work = new Map<string, Float64Array>([...params].map(([k, v]) => [k, Float64Array.from(v)]));
      for (const s of paramSpecs(cfg)) {
        const fd = centralDifferences(work.get(s.name)!, () => lossOf(cfg, work, tokens, B, T), h);
        const g = grads.get(s.name)!;
        expectClose(g, fd, s.name, { atol: 1e-8, rtol: 1e-6 });
        // Every tensor takes part in the loss (a zero gradient would hide a disconnected path).
        expect(Math.max(...g.map(Math.abs)), s.name).toBeGreaterThan(1e-4);
      }
    });
  }

  it('sequences of a batch do not see each other: the loss of B=2 is the mean of two B=1 losses', () => {
    const params = randomParams(TINY_QWEN2, 5);
    const tokens = randomTokens(2 * (T + 1), TINY_QWEN2.vocab, 6);
    const both = referenceLossAndGrads(TINY_QWEN2, params, tokens, 2, T);
    const a = referenceLossAndGrads(TINY_QWEN2, params, tokens.slice(0, T + 1), 1, T);
    const b = referenceLossAndGrads(TINY_QWEN2, params, tokens.slice(T + 1), 1, T);
    expect(both.loss).toBeCloseTo((a.loss + b.loss) / 2, 14);
    for (const [name, g] of both.grads) {
      const mean = g.map((_, i) => (a.grads.get(name)![i]! + b.grads.get(name)![i]!) / 2);
      expectClose(g, mean, name, { atol: 1e-15, rtol: 1e-12 });
    }
  });

  it('rejects missing, mis-sized and unknown parameters, and bad token counts', () => {
    const params = randomParams(TINY_LLAMA, 7);
    const tokens = randomTokens(B * (T + 1), TINY_LLAMA.vocab, 8);
    const missing = new Map(params);
    missing.delete('blk.1.ffn_up.weight');
    expect(() => referenceLossAndGrads(TINY_LLAMA, missing, tokens, B, T)).toThrow(/ffn_up.*missing/);
    const short = new Map(params).set('output_norm.weight', new Float32Array(3));
    expect(() => referenceLossAndGrads(TINY_LLAMA, short, tokens, B, T)).toThrow(/output_norm/);
    const extra = new Map(params).set('blk.0.attn_q.bias', new Float32Array(8));
    expect(() => referenceLossAndGrads(TINY_LLAMA, extra, tokens, B, T)).toThrow(/unknown.*attn_q.bias/);
    expect(() => referenceLossAndGrads(TINY_LLAMA, params, tokens.subarray(1), B, T)).toThrow(/tokens/);
  });
});

describe('train reference optimizer', () => {
  const H = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };

  it('adamwStep matches two steps worked out by hand', () => {
    const p = new Float64Array([1, 1]);
    const m = new Float64Array(2);
    const v = new Float64Array(2);
    // Step 1, g = 0.5: m = 0.05, v = 2.5e-4, m̂ = 0.5, v̂ = 0.25, update = 0.5/(0.5 + 1e-8).
    adamwStep(p, [0.5, 0.5], m, v, 1, { ...H, decay: true });
    expect(m[0]).toBeCloseTo(0.05, 15);
    expect(v[0]).toBeCloseTo(2.5e-4, 15);
    expect(p[0]).toBeCloseTo(1 - 0.1 * (0.5 / (0.5 + 1e-8) + 0.1 * 1), 14); // 0.890000002
    expect(p[0]).toBeCloseTo(0.890000002, 9);
    const p1 = p[0]!;
    // Step 2, g = −0.25: m = 0.02, v = 3.1225e-4, m̂ = 0.02/0.19, v̂ = 3.1225e-4/0.001999.
    adamwStep(p, [-0.25, -0.25], m, v, 2, { ...H, decay: true });
    const mHat = 0.02 / 0.19;
    const vHat = 3.1225e-4 / (1 - 0.999 ** 2);
    expect(p[0]).toBeCloseTo(p1 - 0.1 * (mHat / (Math.sqrt(vHat) + 1e-8) + 0.1 * p1), 14);
    expect(p[0]).toBeCloseTo(0.8544663, 7); // 0.890000002 − 0.1·(0.2663370 + 0.0890000)
    // No decay: only the Adam term.
    const q = new Float64Array([1]);
    adamwStep(q, [0.5], new Float64Array(1), new Float64Array(1), 1, { ...H, decay: false });
    expect(q[0]).toBeCloseTo(1 - 0.1 * (0.5 / (0.5 + 1e-8)), 15);
    expect(() => adamwStep(q, [0.5], new Float64Array(1), new Float64Array(1), 0, { ...H, decay: false })).toThrow(RangeError);
  });

  it('learningRate: warmup, cosine, floor', () => {
    const s = { maxLr: 1, minLr: 0.1, warmup: 4, total: 14 };
    expect(learningRate(1, s)).toBeCloseTo(0.25, 15);
    expect(learningRate(2, s)).toBeCloseTo(0.5, 15);
    expect(learningRate(4, s)).toBeCloseTo(1, 15);
    expect(learningRate(6, s)).toBeCloseTo(0.1 + 0.45 * (1 + Math.cos(0.2 * Math.PI)), 15); // 0.9140576…
    expect(learningRate(6, s)).toBeCloseTo(0.914057647, 8);
    expect(learningRate(9, s)).toBeCloseTo(0.55, 15); // halfway: the mean of max and min
    expect(learningRate(14, s)).toBeCloseTo(0.1, 15);
    expect(learningRate(100, s)).toBe(0.1);
  });

  it('globalNorm and clipScale', () => {
    expect(globalNorm([[3], [0, 4]])).toBe(5);
    expect(globalNorm([])).toBe(0);
    expect(clipScale(10, 1)).toBeCloseTo(1 / (10 + 1e-6), 15);
    expect(clipScale(0.5, 1)).toBe(1);
    expect(clipScale(0, 1)).toBe(1);
  });
});

describe('train reference: referenceTrain', () => {
  const OPT = { maxLr: 1e-2, minLr: 1e-3, warmup: 3, total: 20, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, clip: 1 };

  it('one step equals its parts composed by hand (clip, then AdamW, decay for matrices only)', () => {
    const params = randomParams(TINY_QWEN2, 9);
    const tokens = randomTokens(B * (T + 1), TINY_QWEN2.vocab, 10);
    const opt = { ...OPT, clip: 0.05 }; // below the gradient norm: clipping acts
    const got = referenceTrain(TINY_QWEN2, params, [tokens], B, T, opt);
    const { loss, grads } = referenceLossAndGrads(TINY_QWEN2, params, tokens, B, T);
    const norm = globalNorm([...grads.values()]);
    expect(norm).toBeGreaterThan(0.05);
    expect(got.losses).toEqual([loss]);
    expect(got.gradNorms).toEqual([norm]);
    expect(got.lrs).toEqual([learningRate(1, opt)]);
    const sc = clipScale(norm, 0.05);
    for (const s of paramSpecs(TINY_QWEN2)) {
      const p = Float64Array.from(params.get(s.name)!);
      const g = grads.get(s.name)!.map((x) => x * sc);
      adamwStep(p, g, new Float64Array(s.size), new Float64Array(s.size), 1, { ...opt, lr: learningRate(1, opt), decay: s.decay });
      expect(Array.from(got.params.get(s.name)!), s.name).toEqual(Array.from(p));
    }
  });

  it('gradient accumulation: two micro-batches of B average to one batch of 2B', () => {
    const params = randomParams(TINY_LLAMA, 11);
    const a = randomTokens(B * (T + 1), TINY_LLAMA.vocab, 12);
    const b = randomTokens(B * (T + 1), TINY_LLAMA.vocab, 13);
    const ab = new Int32Array([...a, ...b]);
    const acc = referenceTrain(TINY_LLAMA, params, [a, b, b, a], B, T, { ...OPT, accum: 2 });
    const big = referenceTrain(TINY_LLAMA, params, [ab, new Int32Array([...b, ...a])], 2 * B, T, OPT);
    expect(acc.losses.length).toBe(2);
    for (let i = 0; i < 2; i++) expect(acc.losses[i]).toBeCloseTo(big.losses[i]!, 13);
    for (const [name, p] of acc.params) expectClose(p, big.params.get(name)!, name, { atol: 1e-13, rtol: 1e-12 });
  });

  it('the loss falls on a repeated batch, and the same seed gives the same weights', () => {
    const params = initParams(TINY_LLAMA, 42);
    const tokens = randomTokens(B * (T + 1), TINY_LLAMA.vocab, 14);
    const batches = Array.from({ length: 20 }, () => tokens);
    const opt = { ...OPT, maxLr: 3e-2 };
    const r1 = referenceTrain(TINY_LLAMA, params, batches, B, T, opt);
    expect(r1.losses.length).toBe(20);
    expect(r1.losses[0]).toBeCloseTo(Math.log(TINY_LLAMA.vocab), 1); // std 0.02 init: near-uniform predictions
    expect(r1.losses[19]).toBeLessThan(0.6 * r1.losses[0]!);
    for (let i = 5; i < 20; i++) expect(r1.losses[i]).toBeLessThan(r1.losses[i - 5]!);
    const r2 = referenceTrain(TINY_LLAMA, initParams(TINY_LLAMA, 42), batches, B, T, opt);
    expect(r2.losses).toEqual(r1.losses);
    for (const [name, p] of r1.params) expect(Array.from(r2.params.get(name)!), name).toEqual(Array.from(p));
  });
});
