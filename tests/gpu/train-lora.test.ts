import { describe, expect, it } from 'vitest';
import { tensorTypeName, type TensorSource } from '../../shared/engine/tensor-source';
import { generateModelBytes, planModel, type GenType, type PresetName } from '../../shared/model-gen';
import { Xoshiro128 } from '../../shared/model-gen/prng';
import { getQuantFormat } from '../../shared/quant';
import { paramSpecs, type TrainModelConfig } from '../../shared/train/config';
import { RandomWindows } from '../../shared/train/data';
import { FrozenBase, trainConfigOfBase } from '../../shared/train/frozen-base';
import { GpuTrainer } from '../../shared/train/gpu-trainer';
import { initLoraParams, loraParamSpecs, loraTargetNames, targetShape, type LoraSettings, type LoraTarget } from '../../shared/train/lora';
import { referenceLoraDropoutLossAndGrads, referenceLoraLossAndGrads, referenceLoraTrain } from '../../shared/train/reference/lora';
import { BlockKernels } from '../../shared/train/kernels-block';
import { dropoutMask, dropoutSeed } from '../../shared/train/dropout';
import { referenceLossAndGrads } from '../../shared/train/reference/model';
import { useGpu } from '../support/gpu';
import { sourceFromBytes } from '../node/engine-support';
import { relErr, seededTokens, stepSettings } from '../support/train-models';

// LoRA training over a frozen base in every weight type the engine reads (QLoRA-style: the
// base stays in its GGUF type on the GPU and each product expands one matrix to f32 first),
// against the float64 reference of shared/train/reference/lora.ts on the same base dequantised
// by shared/quant. The reference takes the other route (the effective W + s·B·A and the chain
// rule), so agreement checks the GPU's products through A and B, its transposed products through
// each quantised type, and the frozen parts (no gradient reaches norms, biases or embeddings).

const g = useGpu();

interface Base {
  source: TensorSource;
  cfg: TrainModelConfig;
  /** Every parameter of the model, dequantised. */
  weights: Map<string, Float32Array>;
}

const bases = new Map<string, Promise<Base>>();
function base(preset: PresetName, type: GenType): Promise<Base> {
  const key = `${preset}/${type}`;
  let b = bases.get(key);
  if (!b) {
    b = (async () => {
      const float = type === 'F32' || type === 'F16' || type === 'BF16';
      const bytes = await generateModelBytes(planModel({ preset, type, seed: 3, method: float ? 'quantize' : 'direct' }));
      const source = await sourceFromBytes(bytes, key);
      const cfg = trainConfigOfBase(source.header);
      const weights = new Map<string, Float32Array>();
      for (const spec of paramSpecs(cfg)) {
        const t = source.header.tensors.find((x) => x.name === spec.name)!;
        const raw = (await source.read(t.name, 0, t.byteSize)).slice();
        weights.set(spec.name, getQuantFormat(tensorTypeName(t)).dequantize(raw, spec.size));
      }
      return { source, cfg, weights };
    })();
    bases.set(key, b);
  }
  return b;
}

/** A and B drawn ±0.5 (B is not zero, so A's gradient is not zero either). */
function randomAdapters(cfg: TrainModelConfig, lora: LoraSettings, seed: number): Map<string, Float32Array> {
  const r = new Xoshiro128(seed);
  const out = new Map<string, Float32Array>();
  for (const s of loraParamSpecs(cfg, lora)) out.set(s.name, Float32Array.from({ length: s.size }, () => (r.nextFloat() - 0.5) * (s.name.endsWith('lora_b') ? 0.2 : 1)));
  return out;
}

const ALL: LoraSettings = { rank: 4, alpha: 8, targets: ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] };

describe('LoRA training over a frozen base vs the float64 reference', () => {
  const CASES: readonly (readonly [PresetName, GenType, LoraSettings])[] = [
    ['tiny-llama', 'F32', ALL],
    ['tiny-qwen2', 'F32', { rank: 3, alpha: 4, targets: ['attn_q', 'attn_v', 'ffn_down'] }],
    ...(['F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'IQ4_NL', 'IQ4_XS'] as const).map(
      (t, i) => [i % 2 ? 'tiny-qwen2' : 'tiny-llama', t, ALL] as const,
    ),
  ];
  for (const [preset, type, lora] of CASES) {
    it(`${preset} ${type}, rank ${lora.rank}, ${lora.targets.length} targets: loss and every A and B gradient`, async (t) => {
      if (!g.ctx) return t.skip(g.reason);
      const b = await base(preset, type);
      const [B, T] = [2, 5];
      const adapters = randomAdapters(b.cfg, lora, 17);
      const batch = seededTokens(23, B * (T + 1), b.cfg.vocab);
      const frozen = await FrozenBase.load(g.ctx, b.source, b.cfg);
      const trainer = await GpuTrainer.create(g.ctx, b.cfg, { batch: B, seqLen: T }, adapters, { base: frozen, lora });
      try {
        const got = await trainer.lossAndGrads(batch);
        const want = referenceLoraLossAndGrads(b.cfg, lora, b.weights, adapters, batch, B, T);
        // f32 on the GPU against f64 (the same as the full-model check in train-model.test.ts).
        expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(1e-5);
        expect([...got.grads.keys()]).toEqual([...want.grads.keys()]);
        for (const [name, g] of want.grads) {
          const e = relErr(got.grads.get(name)!, g);
          expect(e, `${name}: relative error ${e}`).toBeLessThan(1e-3);
        }
      } finally {
        trainer.destroy();
        frozen.destroy();
      }
    });
  }

  it('the dropout kernel draws the mask of shared/train/dropout.ts exactly', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const blk = await BlockKernels.create(g.ctx);
    for (const [n, p, seed] of [
      [1, 0.5, 1],
      [7, 0.1, 2],
      [1000, 0.3, 0xdeadbeef],
      [65537, 0.9, 12345],
    ] as const) {
      const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1) * 3);
      const buf = g.ctx.storage(x);
      const b = g.ctx.batch('dropout');
      blk.dropout(b, { x: buf, n, p, seed });
      b.submit();
      const got = await g.ctx.readF32(buf, n);
      buf.destroy();
      const mask = dropoutMask(seed, n, p);
      for (let i = 0; i < n; i++) {
        if (got[i] !== Math.fround(x[i]! * mask[i]!)) throw new Error(`n ${n} p ${p}: element ${i} is ${got[i]}, expected ${Math.fround(x[i]! * mask[i]!)}`);
      }
    }
  });

  for (const type of ['F32', 'Q4_K'] as const) {
    it(`LoRA dropout over ${type}: loss and every A and B gradient match the reference with the same masks`, async (t) => {
      if (!g.ctx) return t.skip(g.reason);
      const b = await base('tiny-llama', type);
      const lora: LoraSettings = { ...ALL, dropout: 0.25 };
      const [B, T] = [2, 5];
      const adapters = randomAdapters(b.cfg, lora, 61);
      const batch = seededTokens(62, B * (T + 1), b.cfg.vocab);
      const frozen = await FrozenBase.load(g.ctx, b.source, b.cfg);
      const trainer = await GpuTrainer.create(g.ctx, b.cfg, { batch: B, seqLen: T }, adapters, { base: frozen, lora, dropoutSeed: 77 });
      try {
        const at = { step: 3, micro: 1 };
        const got = await trainer.lossAndGrads(batch, at);
        const masks = new Map(
          loraTargetNames(b.cfg, lora).map((w, i) => [w, dropoutMask(dropoutSeed(77, at.step, at.micro, i), B * T * targetShape(b.cfg, w.split('.')[2] as LoraTarget).in, 0.25)] as const),
        );
        const want = referenceLoraDropoutLossAndGrads(b.cfg, lora, b.weights, adapters, batch, B, T, masks);
        expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(1e-5);
        for (const [name, g] of want.grads) {
          const e = relErr(got.grads.get(name)!, g);
          expect(e, `${name}: relative error ${e}`).toBeLessThan(1e-3);
        }
        // Without the masks the gradients differ: dropout really acts.
        const plain = referenceLoraLossAndGrads(b.cfg, lora, b.weights, adapters, batch, B, T);
        expect(relErr(got.grads.get('blk.0.attn_q.weight.lora_a')!, plain.grads.get('blk.0.attn_q.weight.lora_a')!)).toBeGreaterThan(1e-2);
        // Validation (no step given) sees no dropout.
        const noDrop = await trainer.lossAndGrads(batch);
        expect(Math.abs(noDrop.loss - plain.loss) / plain.loss).toBeLessThan(1e-5);
      } finally {
        trainer.destroy();
        frozen.destroy();
      }
    });
  }

  it('starts as its base: with B = 0 the loss is the base model’s', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const b = await base('tiny-llama', 'Q4_K');
    const [B, T] = [1, 8];
    const batch = seededTokens(5, B * (T + 1), b.cfg.vocab);
    const frozen = await FrozenBase.load(g.ctx, b.source, b.cfg);
    const trainer = await GpuTrainer.create(g.ctx, b.cfg, { batch: B, seqLen: T }, initLoraParams(b.cfg, ALL, 1), { base: frozen, lora: ALL });
    try {
      const got = await trainer.lossAndGrads(batch);
      const want = referenceLossAndGrads(b.cfg, b.weights, batch, B, T);
      expect(Math.abs(got.loss - want.loss) / want.loss).toBeLessThan(1e-5);
      // B = 0: no gradient reaches A (dA = s·Bᵀ·dW'), while B's gradient is not zero.
      for (const [name, g] of got.grads) {
        const max = g.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        if (name.endsWith('.lora_a')) expect(max, name).toBe(0);
        else expect(max, name).toBeGreaterThan(0);
      }
    } finally {
      trainer.destroy();
      frozen.destroy();
    }
  });

  it('ten AdamW steps over a Q4_K base track the reference loss curve; the same seed gives the same adapters bit for bit', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const b = await base('tiny-llama', 'Q4_K');
    const lora: LoraSettings = { rank: 4, alpha: 8, targets: ['attn_q', 'attn_v', 'ffn_up', 'ffn_down'] };
    const [B, T, steps] = [2, 8, 10];
    const cycle = seededTokens(3, 13, b.cfg.vocab);
    const corpus = Int32Array.from({ length: 300 }, (_, i) => cycle[i % 13]!);
    const windows = new RandomWindows(corpus, B, T, 9, 1);
    const batches = Array.from({ length: steps }, (_, s) => windows.microBatch(s + 1, 0));
    const opt = { maxLr: 2e-2, minLr: 2e-3, warmup: 2, total: steps, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clip: 1 };
    const init = initLoraParams(b.cfg, lora, 7);
    const want = referenceLoraTrain(b.cfg, lora, b.weights, init, batches, B, T, opt);
    const run = async () => {
      const frozen = await FrozenBase.load(g.ctx!, b.source, b.cfg);
      const trainer = await GpuTrainer.create(g.ctx!, b.cfg, { batch: B, seqLen: T }, init, { base: frozen, lora });
      try {
        const losses: number[] = [];
        for (let s = 1; s <= steps; s++) {
          const r = await trainer.step([batches[s - 1]!], s, stepSettings(s, opt));
          expect(r.ok).toBe(true);
          losses.push(r.loss);
        }
        return { losses, state: await trainer.readState(), params: await trainer.readParams() };
      } finally {
        trainer.destroy();
        frozen.destroy();
      }
    };
    const a = await run();
    expect(a.losses[steps - 1]!).toBeLessThan(a.losses[0]! - 0.05);
    for (let s = 0; s < steps; s++) expect(Math.abs(a.losses[s]! - want.losses[s]!) / want.losses[s]!, `step ${s + 1}`).toBeLessThan(1e-3);
    for (const [name, p] of want.params) expect(relErr(a.params.get(name)!, p), name).toBeLessThan(2e-2);
    const again = await run();
    expect(Buffer.from(again.state.params.buffer).equals(Buffer.from(a.state.params.buffer))).toBe(true);
  });

  it('refuses what it cannot train: mixed precision, a base without settings, a matrix larger than a binding', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const b = await base('tiny-llama', 'F32');
    const frozen = await FrozenBase.load(g.ctx, b.source, b.cfg);
    try {
      const init = initLoraParams(b.cfg, ALL, 1);
      await expect(GpuTrainer.create(g.ctx, b.cfg, { batch: 1, seqLen: 4 }, init, { base: frozen })).rejects.toThrow(/both a frozen base and LoRA settings/);
      if (g.ctx.caps.f16) await expect(GpuTrainer.create(g.ctx, b.cfg, { batch: 1, seqLen: 4 }, init, { base: frozen, lora: ALL, precision: 'mixed' })).rejects.toThrow(/f32 precision/);
      // The largest matrix here is token_embd [1024, 256] (1 MiB of f32): a device whose bindings
      // held less would refuse it, naming the tensor, before allocating anything.
      const limits = g.ctx.caps.limits as { maxStorageBufferBindingSize: number };
      const real = limits.maxStorageBufferBindingSize;
      Object.defineProperty(limits, 'maxStorageBufferBindingSize', { value: 512 * 1024, configurable: true, writable: true });
      try {
        expect(() => frozen.checkExpandFits()).toThrow(/token_embd\.weight \[1024, 256\] expands to 1 MiB of f32, more than one storage binding on this device/);
      } finally {
        Object.defineProperty(limits, 'maxStorageBufferBindingSize', { value: real, configurable: true, writable: true });
      }
    } finally {
      frozen.destroy();
    }
  });
});
