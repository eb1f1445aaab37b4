import { describe, expect, it } from 'vitest';
import { generateModelBytes, planModel, type GenType, type PresetName } from '../../shared/model-gen';
import type { TrainModelConfig } from '../../shared/train/config';
import { frozenBaseGpuBytes, trainerGpuBytes } from '../../shared/train/estimate';
import { FrozenBase, trainConfigOfBase } from '../../shared/train/frozen-base';
import { GpuTrainer } from '../../shared/train/gpu-trainer';
import { initParams } from '../../shared/train/init';
import { initLoraParams, type LoraSettings } from '../../shared/train/lora';
import { RandomWindows } from '../../shared/train/data';
import { useGpu } from '../support/gpu';
import { sourceFromBytes } from '../node/engine-support';

// The form's memory estimate (shared/train/estimate.ts) against what GpuTrainer and FrozenBase
// really allocate: equal to the byte.

const g = useGpu();

const SMALL: TrainModelConfig = { arch: 'llama', vocab: 61, dim: 16, layers: 2, heads: 4, kvHeads: 2, ff: 40, context: 16, ropeTheta: 10000, rmsEps: 1e-5, tied: false, qkvBias: false };

describe('trainerGpuBytes equals what GpuTrainer allocates', () => {
  const CASES: [string, TrainModelConfig, number, number][] = [
    ['llama, untied, GQA', SMALL, 2, 7],
    ['qwen2, tied, biases', { ...SMALL, arch: 'qwen2', tied: true, qkvBias: true, kvHeads: 4, vocab: 100 }, 3, 16],
  ];
  for (const [what, cfg, batch, seqLen] of CASES) {
    it(`full f32: ${what}`, async (t) => {
      if (!g.ctx) return t.skip(g.reason);
      const trainer = await GpuTrainer.create(g.ctx, cfg, { batch, seqLen }, initParams(cfg, 1));
      try {
        expect(trainerGpuBytes(cfg, { batch, seqLen })).toBe(trainer.gpuBytes);
        // After a step of 3 micro-batches the step-loss buffer holds them all.
        const w = new RandomWindows(Int32Array.from({ length: 400 }, (_, i) => (i * 7) % cfg.vocab), batch, seqLen, 5, 3);
        const micro = [0, 1, 2].map((i) => w.microBatch(1, i));
        await trainer.step(micro, 1, { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxNorm: 1 });
        expect(trainerGpuBytes(cfg, { batch, seqLen }, { accum: 3 })).toBe(trainer.gpuBytes);
      } finally {
        trainer.destroy();
      }
    });
  }

  it('full mixed precision', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    if (!g.ctx.caps.f16) return t.skip('the adapter has no shader-f16');
    const trainer = await GpuTrainer.create(g.ctx, SMALL, { batch: 2, seqLen: 5 }, initParams(SMALL, 1), { precision: 'mixed' });
    try {
      expect(trainerGpuBytes(SMALL, { batch: 2, seqLen: 5 }, { precision: 'mixed' })).toBe(trainer.gpuBytes);
    } finally {
      trainer.destroy();
    }
  });

  const ALL: LoraSettings = { rank: 4, alpha: 8, targets: ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] };
  const LORA: [PresetName, GenType, LoraSettings][] = [
    ['tiny-llama', 'F32', ALL],
    ['tiny-qwen2', 'F32', { rank: 3, alpha: 4, targets: ['attn_q', 'attn_v', 'ffn_down'] }],
    ['tiny-llama', 'Q4_K', { ...ALL, dropout: 0.1 }],
    ['tiny-qwen2', 'Q4_K', { rank: 2, alpha: 2, targets: ['ffn_up'], dropout: 0.25 }],
  ];
  for (const [preset, type, lora] of LORA) {
    it(`LoRA over ${preset} ${type}, rank ${lora.rank}, ${lora.targets.length} targets, dropout ${lora.dropout ?? 0}`, async (t) => {
      if (!g.ctx) return t.skip(g.reason);
      const float = type === 'F32';
      const source = await sourceFromBytes(await generateModelBytes(planModel({ preset, type, seed: 3, method: float ? 'quantize' : 'direct' })), `${preset}/${type}`);
      const cfg = trainConfigOfBase(source.header);
      const shape = { batch: 2, seqLen: 6 };
      const frozen = await FrozenBase.load(g.ctx, source, cfg);
      const trainer = await GpuTrainer.create(g.ctx, cfg, shape, initLoraParams(cfg, lora, 1), { base: frozen, lora, dropoutSeed: 5 });
      try {
        const base = frozenBaseGpuBytes(cfg, source.header.tensors, g.ctx.caps.limits.maxStorageBufferBindingSize);
        expect(base).toBe(frozen.gpuBytes);
        expect(trainerGpuBytes(cfg, shape, { lora }) + base).toBe(trainer.gpuBytes + frozen.gpuBytes);
      } finally {
        trainer.destroy();
        frozen.destroy();
      }
    });
  }
});
