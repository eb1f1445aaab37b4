/**
 * Training speed on this machine's adapter (specs/training.md, "Speed"): tokens/s of a whole
 * training step (forward, backward, AdamW) for two model sizes, the FLOP rate that is, the best
 * rate our own matrix-product kernel reaches on this adapter in the same run, and where a step's
 * time goes (GPU timestamps per kernel). When Debian's python3-torch is installed, the same step
 * in PyTorch on the CPU (2 threads) is run too and the ratio printed. A measurement, not a test.
 *
 * Each size runs in f32 and, where the adapter has shader-f16, in mixed precision (f16 weight
 * copies), one after the other in the same process.
 *
 *   npm run bench:train -- [--steps N] [--threads N] [--no-torch] [--sizes small,peer] [--precision f32,mixed]
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { openBenchContext } from '../../electron/cli/bench/context';
import { headDim, parameterCount, type TrainModelConfig } from '../../shared/train/config';
import { RandomWindows } from '../../shared/train/data';
import { GpuTrainer } from '../../shared/train/gpu-trainer';
import { initParams } from '../../shared/train/init';
import { LinearKernels } from '../../shared/train/kernels-linear';
import { Xoshiro128 } from '../../shared/model-gen/prng';
import { printKernelTable, timeTrainerSteps } from './train-step-timing';

const { values } = parseArgs({ options: { steps: { type: 'string' }, threads: { type: 'string' }, 'no-torch': { type: 'boolean' }, sizes: { type: 'string' }, precision: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('Usage: npm run bench:train -- [--steps N (default 5)] [--threads N for PyTorch (default 2)] [--no-torch] [--sizes small,peer] [--precision f32,mixed (default: both where the adapter has shader-f16)]');
  process.exit(0);
}
const steps = Number(values.steps ?? 5);
const threads = Number(values.threads ?? 2);

interface Size {
  name: string;
  cfg: TrainModelConfig;
  batch: number;
}
const base = { arch: 'llama', ropeTheta: 10000, rmsEps: 1e-5, tied: true, qkvBias: false } as const;
// "peer" is the configuration the issue measured PyTorch on (about 5,200 tokens/s here).
const SIZES: Size[] = [
  { name: 'small', cfg: { ...base, vocab: 512, dim: 64, layers: 4, heads: 4, kvHeads: 4, ff: 172, context: 128 }, batch: 8 },
  { name: 'peer', cfg: { ...base, vocab: 512, dim: 128, layers: 4, heads: 4, kvHeads: 4, ff: 384, context: 256 }, batch: 8 },
];
const chosen = (values.sizes ?? 'small,peer').split(',').map((n) => {
  const s = SIZES.find((x) => x.name === n);
  if (!s) throw new Error(`--sizes: unknown size ${n}`);
  return s;
});

/** FLOPs of one training step: 3 × the forward pass (backward ≈ 2 × forward), attention counted whole (not halved for causality). */
function stepFlops(c: TrainModelConfig, B: number, T: number): number {
  const N = B * T;
  const hd = headDim(c);
  const perLayer = c.dim * (c.heads * hd) * 2 + c.dim * (c.kvHeads * hd) * 2 + 3 * c.dim * c.ff;
  const matmul = 2 * N * (c.layers * perLayer + c.vocab * c.dim);
  const attention = 2 * 2 * B * c.heads * T * T * hd * c.layers;
  return 3 * (matmul + attention);
}

const ctx = await openBenchContext();
const precisions = (values.precision ?? (ctx.caps.f16 ? 'f32,mixed' : 'f32')).split(',').map((p) => {
  if (p !== 'f32' && p !== 'mixed') throw new Error(`--precision: unknown precision ${p} (f32 or mixed)`);
  if (p === 'mixed' && !ctx.caps.f16) throw new Error('--precision mixed: this adapter has no shader-f16');
  return p;
});
const adapter = ctx.adapter.description || ctx.adapter.device;
console.log(`adapter: ${adapter}; CPU: ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}; node ${process.version}`);

// The best matrix-product rate of our own kernel on this adapter, over training-shaped problems.
const lin = await LinearKernels.create(ctx);
let bestGflops = 0;
let bestShape = '';
for (const [M, N, K, transA, transB] of [
  [2048, 384, 128, false, true],
  [2048, 128, 384, false, true],
  [2048, 512, 128, false, true],
  [384, 128, 2048, true, false],
  [2048, 128, 384, false, false],
] as const) {
  const r = new Xoshiro128(1);
  const a = new Float32Array(M * K);
  const b = new Float32Array(K * N);
  r.fillNormal(a, 1);
  r.fillNormal(b, 1);
  const ab = ctx.storage(a);
  const bb = ctx.storage(b);
  const cb = ctx.storage(M * N * 4);
  const run = async (reps: number) => {
    const batch = ctx.batch('matmul-bench');
    for (let i = 0; i < reps; i++) lin.matmul(batch, { a: ab, b: bb, c: cb, M, N, K, transA, transB, accumulate: false });
    batch.submit();
    await ctx.sync();
  };
  await run(2);
  const reps = 20;
  const t0 = performance.now();
  await run(reps);
  const s = (performance.now() - t0) / 1000;
  const gflops = (2 * M * N * K * reps) / s / 1e9;
  if (gflops > bestGflops) {
    bestGflops = gflops;
    bestShape = `${M}×${N}×${K}${transA ? ' Aᵀ' : ''}${transB ? ' Bᵀ' : ''}`;
  }
  [ab, bb, cb].forEach((x) => x.destroy());
}
console.log(`our matmul kernel, best rate: ${bestGflops.toFixed(2)} GFLOP/s (${bestShape})`);

function torchRate(s: Size): number | null {
  if (values['no-torch']) return null;
  try {
    const c = s.cfg;
    const out = execFileSync(existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3', ['scripts/bench/train-torch.py', ...[c.dim, c.layers, c.heads, c.ff, c.vocab, c.context, s.batch, Math.max(3, steps), threads].map(String)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return (JSON.parse(out.trim().split('\n').pop()!) as { tokens_per_sec: number }).tokens_per_sec;
  } catch (e) {
    console.log(`PyTorch not measured (${((e as Error).message.split('\n')[0] ?? '').slice(0, 120)}); install python3-torch to compare`);
    return null;
  }
}

for (const s of chosen) {
  const { cfg, batch } = s;
  const T = cfg.context;
  console.log(`\n${s.name}: width ${cfg.dim}, ${cfg.layers} layers, ${cfg.heads} heads, ffn ${cfg.ff}, vocab ${cfg.vocab}, context ${T}, batch ${batch}; ${(parameterCount(cfg) / 1e6).toFixed(2)} M parameters`);
  let f32Rate = 0;
  let bestRate = 0;
  for (const precision of precisions) {
    const trainer = await GpuTrainer.create(ctx, cfg, { batch, seqLen: T }, initParams(cfg, 1), { precision });
    const rng = new Xoshiro128(2);
    const corpus = Int32Array.from({ length: 200_000 }, () => rng.nextInt(0, cfg.vocab - 1));
    const w = new RandomWindows(corpus, batch, T, 1, 1);
    const opt = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxNorm: 1 };
    // The steps, then where the time goes: one more step with a pass per kernel and GPU timestamps.
    const { secPerStep: sec, passes, timed } = await timeTrainerSteps(ctx, trainer, w, steps, opt);
    const tps = (batch * T) / sec;
    const gflops = stepFlops(cfg, batch, T) / sec / 1e9;
    trainer.destroy();

    if (precision === 'f32') f32Rate = tps;
    bestRate = Math.max(bestRate, tps);
    const vsF32 = precision === 'mixed' && f32Rate ? `; mixed / f32 = ${(tps / f32Rate).toFixed(2)}×` : '';
    console.log(`  ${precision}: step ${(sec * 1000).toFixed(0)} ms, ${Math.round(tps)} tokens/s, ${gflops.toFixed(2)} GFLOP/s = ${((100 * gflops) / bestGflops).toFixed(0)} % of our best matmul rate${vsF32}`);
    if (timed && passes.length) printKernelTable(passes, precision);
    else console.log('  per kernel: this adapter has no timestamp queries');
  }
  const torch = torchRate(s);
  if (torch !== null) console.log(`  PyTorch 1.13 CPU (${threads} threads): ${Math.round(torch)} tokens/s; ours (best precision) / PyTorch = ${(bestRate / torch).toFixed(2)}×`);
}
ctx.destroy();
