/**
 * The float64 reference of LoRA training (shared/train/reference/lora.ts) against central finite
 * differences of the loss in every coordinate of every A and B, on the tiny llama (GQA, untied)
 * and qwen2 (biases, NEOX, tied) of the full-model checks, with A and B drawn large (±0.5) so
 * that neither gradient is negligible. Same tolerance and step as train-reference-model.test.ts
 * (|analytic − FD| ≤ 1e-8 + 1e-6·|FD|, h = 1e-5); the loss is composed independently of the
 * gradient route: logits of the effective weights W + s·B·A, then cross-entropy.
 *
 * Also: the settings are validated (rank, alpha, targets), B = 0 leaves the model as it was,
 * and the optimizer loop over adapters only touches A and B.
 */
import { describe, expect, it } from 'vitest';
import { centralDifferences, compareClose, rng } from '../support/compare';
import type { TrainModelConfig } from '../../shared/train/config';
import { initLoraParams, loraParamSpecs, loraTargetNames, loraUpdateScale, targetShape, validateLoraSettings, type LoraSettings, type LoraTarget } from '../../shared/train/lora';
import { loraEffectiveParams, referenceLoraDropoutLossAndGrads, referenceLoraLossAndGrads, referenceLoraTrain } from '../../shared/train/reference/lora';
import { dropoutHash, dropoutKeep, dropoutMask, dropoutSeed } from '../../shared/train/dropout';
import { referenceLogits } from '../../shared/train/reference/model';
import { crossEntropyForward } from '../../shared/train/reference/ops';
import { randomParams, TINY_LLAMA, TINY_QWEN2 } from '../support/train-models';

const B = 2;
const T = 4;

function randomTokens(n: number, V: number, seed: number): Int32Array {
  const r = rng(seed);
  return new Int32Array(n).map(() => Math.floor(r() * V));
}

function randomAdapters(cfg: TrainModelConfig, lora: LoraSettings, seed: number): Map<string, Float64Array> {
  const r = rng(seed);
  return new Map(loraParamSpecs(cfg, lora).map((s) => [s.name, Float64Array.from({ length: s.size }, () => r() - 0.5)]));
}

function lossOf(cfg: TrainModelConfig, lora: LoraSettings, base: Map<string, ArrayLike<number>>, adapters: Map<string, ArrayLike<number>>, tokens: Int32Array): number {
  const ids = new Int32Array(B * T);
  const tg = new Int32Array(B * T);
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < T; j++) {
      ids[i * T + j] = tokens[i * (T + 1) + j]!;
      tg[i * T + j] = tokens[i * (T + 1) + j + 1]!;
    }
  }
  return crossEntropyForward(referenceLogits(cfg, loraEffectiveParams(cfg, lora, base, adapters), ids, B, T), tg, B * T, cfg.vocab).loss;
}

const CASES: readonly (readonly [TrainModelConfig, LoraSettings])[] = [
  [TINY_LLAMA, { rank: 2, alpha: 3, targets: ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] }],
  [TINY_QWEN2, { rank: 1, alpha: 0.5, targets: ['attn_v', 'ffn_up'] }],
];

describe('LoRA training reference vs finite differences (f64)', () => {
  for (const [cfg, lora] of CASES) {
    it(`${cfg.arch}, rank ${lora.rank}, alpha ${lora.alpha}, ${lora.targets.join('/')}: every coordinate of A and B`, () => {
      const base = randomParams(cfg, 31);
      const adapters = randomAdapters(cfg, lora, 32);
      const tokens = randomTokens(B * (T + 1), cfg.vocab, 33);
      const { loss, grads } = referenceLoraLossAndGrads(cfg, lora, base, adapters, tokens, B, T);
      expect([...grads.keys()]).toEqual(loraParamSpecs(cfg, lora).map((s) => s.name));
      expect(loss).toBeCloseTo(lossOf(cfg, lora, base, adapters, tokens), 13);
      const h = 1e-5;
      for (const [name, g] of grads) {
        const fd = centralDifferences(adapters.get(name)!, () => lossOf(cfg, lora, base, adapters, tokens), h);
        const msg = compareClose(g, fd, { atol: 1e-8, rtol: 1e-6 }, name);
        expect(msg, msg ?? '').toBeNull();
        expect(Math.max(...g.map(Math.abs)), name).toBeGreaterThan(1e-4);
      }
    });
  }

  it('the op-by-op route (the GPU\'s, through the LinearExtra hook) equals the chain rule without dropout', () => {
    for (const [cfg, lora] of CASES) {
      const base = randomParams(cfg, 41);
      const adapters = randomAdapters(cfg, lora, 42);
      const tokens = randomTokens(B * (T + 1), cfg.vocab, 43);
      const a = referenceLoraLossAndGrads(cfg, lora, base, adapters, tokens, B, T);
      const b = referenceLoraDropoutLossAndGrads(cfg, lora, base, adapters, tokens, B, T, new Map());
      expect(b.loss).toBeCloseTo(a.loss, 12);
      for (const [name, g] of a.grads) {
        const msg = compareClose(b.grads.get(name)!, g, { atol: 1e-12, rtol: 1e-10 }, name);
        expect(msg, msg ?? '').toBeNull();
      }
    }
  });

  it('with dropout masks: every coordinate of A and B against finite differences', () => {
    const [cfg, lora0] = CASES[0]!;
    const lora = { ...lora0, dropout: 0.3 };
    const base = randomParams(cfg, 51);
    const adapters = randomAdapters(cfg, lora, 52);
    const tokens = randomTokens(B * (T + 1), cfg.vocab, 53);
    const masks = new Map(
      loraTargetNames(cfg, lora).map((w, i) => [w, dropoutMask(dropoutSeed(9, 1, 0, i), B * T * targetShape(cfg, w.split('.')[2] as LoraTarget).in, 0.3)] as const),
    );
    // The masks really drop (about 30 %) and scale the rest by 1/0.7.
    const all = [...masks.values()].flatMap((m) => [...m]);
    const dropped = all.filter((v) => v === 0).length / all.length;
    expect(dropped).toBeGreaterThan(0.2);
    expect(dropped).toBeLessThan(0.4);
    const lossAt = (ad: Map<string, Float64Array>) => referenceLoraDropoutLossAndGrads(cfg, lora, base, ad, tokens, B, T, masks).loss;
    const { grads } = referenceLoraDropoutLossAndGrads(cfg, lora, base, adapters, tokens, B, T, masks);
    const h = 1e-5;
    for (const [name, g] of grads) {
      const fd = centralDifferences(adapters.get(name)!, () => lossAt(adapters), h);
      const msg = compareClose(g, fd, { atol: 1e-8, rtol: 1e-6 }, name);
      expect(msg, msg ?? '').toBeNull();
    }
  });

  it('the dropout hash and mask: u32 arithmetic, thresholds, seeds that differ by step, micro-batch and matrix', () => {
    expect(dropoutHash(0)).toBe(dropoutHash(0));
    for (const x of [0, 1, 2 ** 31, 2 ** 32 - 1]) {
      const h = dropoutHash(x);
      expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
    }
    expect(dropoutKeep(0)).toBe(0xffffffff);
    expect(dropoutKeep(0.5)).toBe(2 ** 31);
    expect(() => dropoutKeep(1)).toThrow(RangeError);
    expect(() => dropoutKeep(-0.1)).toThrow(RangeError);
    const seeds = new Set([dropoutSeed(1, 1, 0, 0), dropoutSeed(1, 2, 0, 0), dropoutSeed(1, 1, 1, 0), dropoutSeed(1, 1, 0, 1), dropoutSeed(2, 1, 0, 0)]);
    expect(seeds.size).toBe(5);
    const m = dropoutMask(123, 100_000, 0.25);
    const kept = m.filter((v) => v > 0).length / m.length;
    expect(Math.abs(kept - 0.75)).toBeLessThan(0.01);
    expect(m.find((v) => v > 0)).toBe(Math.fround(1 / 0.75));
  });

  it('B = 0 (the initial adapters) leaves every weight as it was', () => {
    const [cfg, lora] = CASES[0]!;
    const base = randomParams(cfg, 4);
    const eff = loraEffectiveParams(cfg, lora, base, initLoraParams(cfg, lora, 9));
    for (const [name, w] of base) expect(Array.from(eff.get(name)!), name).toEqual(Array.from(w));
  });

  it('the scale is llama.cpp’s alpha / rank in float32', () => {
    expect(loraUpdateScale({ rank: 3, alpha: 1 })).toBe(Math.fround(1 / 3));
    expect(loraUpdateScale({ rank: 8, alpha: 16 })).toBe(2);
  });

  it('validates rank, alpha and targets, naming the setting', () => {
    const ok: LoraSettings = { rank: 2, alpha: 4, targets: ['attn_q'] };
    expect(() => validateLoraSettings(TINY_LLAMA, ok)).not.toThrow();
    expect(() => validateLoraSettings(TINY_LLAMA, { ...ok, rank: 0 })).toThrow(/rank = 0/);
    expect(() => validateLoraSettings(TINY_LLAMA, { ...ok, rank: 2.5 })).toThrow(/rank = 2.5/);
    expect(() => validateLoraSettings(TINY_LLAMA, { ...ok, rank: 9 })).toThrow(/rank = 9 exceeds min\(out, in\) = 8 of attn_q/);
    expect(() => validateLoraSettings(TINY_LLAMA, { ...ok, alpha: Number.NaN })).toThrow(/alpha = NaN/);
    expect(() => validateLoraSettings(TINY_LLAMA, { ...ok, targets: [] })).toThrow(/targets/);
    expect(() => validateLoraSettings(TINY_LLAMA, { ...ok, targets: ['attn_q', 'attn_q'] })).toThrow(/named twice/);
    expect(() => validateLoraSettings(TINY_LLAMA, { ...ok, targets: ['token_embd' as never] })).toThrow(/token_embd is not one of/);
    expect(() => validateLoraSettings(TINY_LLAMA, { ...ok, dropout: 1 })).toThrow(/dropout = 1 must be at least 0 and below 1/);
    expect(() => validateLoraSettings(TINY_LLAMA, { ...ok, dropout: 0.1 })).not.toThrow();
  });

  it('the optimizer loop trains A and B only, and lowers the loss of a repeated batch', () => {
    const [cfg, lora] = CASES[0]!;
    const base = randomParams(cfg, 12);
    const tokens = randomTokens(B * (T + 1), cfg.vocab, 13);
    const opt = { maxLr: 1e-2, minLr: 1e-3, warmup: 1, total: 8, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clip: 1 };
    const r = referenceLoraTrain(cfg, lora, base, initLoraParams(cfg, lora, 1), Array.from({ length: 8 }, () => tokens), B, T, opt);
    expect([...r.params.keys()]).toEqual(loraParamSpecs(cfg, lora).map((s) => s.name));
    expect(r.losses[7]!).toBeLessThan(r.losses[0]! - 0.01);
  });
});
