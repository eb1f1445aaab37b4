/**
 * LoRA fine-tuning speed on this machine's adapter (specs/training.md, "Fine-tuning"): tokens/s
 * of a LoRA step (rank 8, every projection adapted) over the same generated llama base stored as
 * F32, Q8_0 and Q4_K, in one run, so the ratios say what reading a quantised base costs: each
 * base product expands its matrix to f32 (get_rows) before the f32 product. Also the full
 * training step of the same model in F32 (every weight trained) for scale, and where a LoRA
 * step's time goes (GPU timestamps per kernel). A measurement, not a test.
 *
 *   npm run bench:finetune -- [--steps N] [--types F32,Q8_0,Q4_K] [--size small|tiny]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { openBenchContext } from '../../electron/cli/bench/context';
import type { PassTiming } from '../../shared/gpu';
import { openGgufTensorSource } from '../../shared/engine/tensor-source';
import { memorySource } from '../../shared/binary/byte-source';
import { generateModelBytes, planModel, type GenType } from '../../shared/model-gen';
import { Xoshiro128 } from '../../shared/model-gen/prng';
import { RandomWindows } from '../../shared/train/data';
import { FrozenBase, trainConfigOfBase } from '../../shared/train/frozen-base';
import { GpuTrainer } from '../../shared/train/gpu-trainer';
import { initParams } from '../../shared/train/init';
import { DEFAULT_LORA_TARGETS, initLoraParams, type LoraSettings } from '../../shared/train/lora';
import { printKernelTable, timeTrainerSteps } from './train-step-timing';

const { values } = parseArgs({ options: { steps: { type: 'string' }, types: { type: 'string' }, size: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('Usage: npm run bench:finetune -- [--steps N (default 4)] [--types F32,Q8_0,Q4_K] [--size small|tiny (default small)]');
  process.exit(0);
}
const steps = Number(values.steps ?? 4);
const types = (values.types ?? 'F32,Q8_0,Q4_K').split(',') as GenType[];
const SIZES = {
  // tiny-llama as generated: 2 blocks, width 256, FFN 512, vocabulary 1024 (1.7 M parameters).
  tiny: {},
  // 4 blocks, width 512, 8 heads / 4 KV heads, FFN 1536, vocabulary 1024 (~13.6 M parameters).
  small: { blocks: 4, embd: 512, heads: 8, kvHeads: 4, ff: 1536 },
} as const;
const size = (values.size ?? 'small') as keyof typeof SIZES;
if (!(size in SIZES)) throw new Error(`--size: unknown size ${size} (small or tiny)`);
const batch = 4;
const seqLen = 128;
const lora: LoraSettings = { rank: 8, alpha: 16, targets: DEFAULT_LORA_TARGETS };
const opt = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxNorm: 1 };

const ctx = await openBenchContext();
console.log(`adapter: ${ctx.adapter.description || ctx.adapter.device}; CPU: ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}; node ${process.version}`);
console.log(`LoRA rank ${lora.rank}, all projections adapted; batch ${batch} × ${seqLen} tokens; ${steps} timed steps after one warm-up step`);

async function timeSteps(trainer: GpuTrainer, vocab: number): Promise<{ tps: number; passes: PassTiming[]; timed: boolean }> {
  const rng = new Xoshiro128(2);
  const corpus = Int32Array.from({ length: 100_000 }, () => rng.nextInt(0, vocab - 1));
  const w = new RandomWindows(corpus, batch, seqLen, 1, 1);
  const t = await timeTrainerSteps(ctx, trainer, w, steps, opt);
  return { tps: (batch * seqLen) / t.secPerStep, passes: t.passes, timed: t.timed };
}

let f32Rate = 0;
for (const type of types) {
  const float = type === 'F32' || type === 'F16' || type === 'BF16';
  const bytes = await generateModelBytes(planModel({ preset: 'tiny-llama', type, seed: 1, method: float ? 'quantize' : 'direct', overrides: SIZES[size] }));
  const source = await openGgufTensorSource(memorySource(bytes), `tiny-llama ${size} ${type}`);
  const cfg = trainConfigOfBase(source.header);
  const frozen = await FrozenBase.load(ctx, source, cfg);
  const trainer = await GpuTrainer.create(ctx, cfg, { batch, seqLen }, initLoraParams(cfg, lora, 1), { base: frozen, lora });
  const r = await timeSteps(trainer, cfg.vocab);
  const baseBytes = frozen.gpuBytes;
  trainer.destroy();
  frozen.destroy();
  if (type === 'F32') f32Rate = r.tps;
  console.log(`\n${type} base (${(bytes.length / 2 ** 20).toFixed(1)} MiB file, ${(baseBytes / 2 ** 20).toFixed(1)} MiB on the GPU): LoRA step ${Math.round(r.tps)} tokens/s${f32Rate && type !== 'F32' ? `; / F32 base = ${(r.tps / f32Rate).toFixed(2)}×` : ''}`);
  if (r.timed && r.passes.length) printKernelTable(r.passes, `LoRA over ${type}`, 10);
  else console.log('  per kernel: this adapter has no timestamp queries');
  if (type === 'F32') {
    const full = await GpuTrainer.create(ctx, cfg, { batch, seqLen }, initParams(cfg, 1));
    const fr = await timeSteps(full, cfg.vocab);
    full.destroy();
    console.log(`  full training step of the same model (every weight, F32): ${Math.round(fr.tps)} tokens/s; LoRA / full = ${(r.tps / fr.tps).toFixed(2)}×`);
  }
}
ctx.destroy();
