/**
 * What the fused kernels buy (issue 15 §3): decode and prefill of one model with the decode
 * fusions and a block per dispatch (decode_layer_f32.wgsl, where the model allows it), with the
 * decode fusions one product per dispatch (attention_rope, the fused decode products), with the
 * fused kernels and stacked products only, and with neither, rotated in one run on the same adapter (so a busy machine
 * moves all alike), with the dispatches per decode step of each. A measurement, not a test: the
 * figures go to specs/benchmarks.md. Every run must produce the same greedy tokens.
 *
 *   npx tsx scripts/bench/fusion-bench.ts [--model FILE] [--rounds N] [-p N] [-n N]
 */
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openBenchContext } from '../../electron/cli/bench/context';
import type { BenchResult } from '../../electron/cli/bench/results';
import { runBench } from '../../electron/cli/bench/run';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    p: { type: 'string', short: 'p', default: '64' },
    n: { type: 'string', short: 'n', default: '64' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('Usage: npx tsx scripts/bench/fusion-bench.ts [--model FILE] [--rounds N] [-p N] [-n N]\n  Decode/prefill tokens/s with a block per dispatch, the decode fusions, the fused kernels only, and neither, rotated; default model stories260K.');
  process.exit(0);
}
const model = values.model ?? process.env.PXI_STORIES ?? join(here, '..', '..', '..', 'shared', 'fixtures', 'models', 'stories260K.gguf');
const rounds = Number(values.rounds);
const p = Number(values.p);
const n = Number(values.n);
for (const [name, v] of [['--rounds', rounds], ['-p', p], ['-n', n]] as const) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`${name} must be a positive integer`);
    process.exit(2);
  }
}

const ctx = await openBenchContext();
// Four configurations, rotated in order each round (so a busy machine moves all alike):
//   layers   the defaults: the decode fusions, and a block per dispatch where the model allows
//   decode   fuse + fuseDecode without decodeLayers: attention_rope, and the fused decode products where the model allows
//   fused    fuse only: add_rmsnorm, rope_kv_append, stacked q | k | v and gate | up
//   unfused  neither
const CONFIGS = [
  { name: 'layers', fuse: true, fuseDecode: true, decodeLayers: true },
  { name: 'decode', fuse: true, fuseDecode: true, decodeLayers: false },
  { name: 'fused', fuse: true, fuseDecode: false, decodeLayers: false },
  { name: 'unfused', fuse: false, fuseDecode: false, decodeLayers: false },
] as const;
type ConfigName = (typeof CONFIGS)[number]['name'];
console.log(`adapter: ${ctx.adapter.description || ctx.adapter.device}; model ${model}; prompt ${p}, generate ${n}; ${rounds} rounds, ${CONFIGS.map((c) => c.name).join(' / ')} rotated`);
// One uncounted run of each first: the first runs in a process pay one-time costs (pipelines
// compiled, caches warmed), which would otherwise land on whichever configuration led.
for (const c of CONFIGS) await runBench(ctx, model, { promptTokens: p, genTokens: n, breakdownSteps: 1, llama: null, llamaSkipReason: 'warm-up', fuse: c.fuse, fuseDecode: c.fuseDecode, decodeLayers: c.decodeLayers });
const runs: Record<ConfigName, BenchResult[]> = { layers: [], decode: [], fused: [], unfused: [] };
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < CONFIGS.length; i++) {
    const c = CONFIGS[(i + r) % CONFIGS.length]!;
    const res = await runBench(ctx, model, { promptTokens: p, genTokens: n, breakdownSteps: 4, llama: null, llamaSkipReason: 'not compared here', fuse: c.fuse, fuseDecode: c.fuseDecode, decodeLayers: c.decodeLayers });
    runs[c.name].push(res);
    console.log(
      `round ${r + 1} ${c.name.padEnd(7)}: decode ${res.ours.decodeTokensPerSecond.toFixed(1)} tok/s, prefill ${res.ours.prefillTokensPerSecond.toFixed(1)} tok/s, ${res.breakdown.dispatchesPerStep} dispatches per decode step, kernels ${res.breakdown.gpuMsPerStep.toFixed(2)} ms per step`,
    );
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const all = Object.values(runs).flat();
const same = all.every((x) => x.tokens.join() === all[0]!.tokens.join());
const med = (name: ConfigName, f: (x: BenchResult) => number) => median(runs[name].map(f));
for (const [what, f] of [
  ['decode', (x: BenchResult) => x.ours.decodeTokensPerSecond],
  ['prefill', (x: BenchResult) => x.ours.prefillTokensPerSecond],
] as const) {
  const l = med('layers', f);
  const d = med('decode', f);
  const fu = med('fused', f);
  const u = med('unfused', f);
  console.log(
    `median ${what}: layers ${l.toFixed(1)} tok/s, decode-fused ${d.toFixed(1)}, fused ${fu.toFixed(1)}, unfused ${u.toFixed(1)}; layers ${(l / d).toFixed(2)}x over decode-fused, decode-fused ${(d / fu).toFixed(2)}x over fused, ${(d / u).toFixed(2)}x over unfused`,
  );
}
// The kernels' own time per decode step (timestamp-query breakdown, or wall-clock without it).
console.log(`median kernels per decode step: ${CONFIGS.map((c) => `${c.name} ${med(c.name, (x) => x.breakdown.gpuMsPerStep).toFixed(2)} ms`).join(', ')}`);
console.log(`dispatches per decode step: ${CONFIGS.map((c) => `${c.name} ${runs[c.name][0]!.breakdown.dispatchesPerStep}`).join(', ')}`);
console.log(`same greedy tokens in every run: ${same ? 'yes' : 'NO'}`);
ctx.destroy();
if (!same) process.exit(1);
