/**
 * What the fused kernels (add_rmsnorm, rope_kv_append; issue 15 §3) buy: decode and prefill of
 * one model with fusion on and off, alternated in one run on the same adapter (so a busy machine
 * moves both alike), with the dispatches per decode step of each. A measurement, not a test:
 * the figures go to specs/benchmarks.md. Both runs must produce the same greedy tokens.
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
  console.log('Usage: npx tsx scripts/bench/fusion-bench.ts [--model FILE] [--rounds N] [-p N] [-n N]\n  Decode/prefill tokens/s with fused kernels on and off, alternated; default model stories260K.');
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
console.log(`adapter: ${ctx.adapter.description || ctx.adapter.device}; model ${model}; prompt ${p}, generate ${n}; ${rounds} rounds, fused and unfused alternated`);
const runs: Record<'fused' | 'unfused', BenchResult[]> = { fused: [], unfused: [] };
for (let r = 0; r < rounds; r++) {
  for (const fuse of r % 2 ? [false, true] : [true, false]) {
    const res = await runBench(ctx, model, { promptTokens: p, genTokens: n, breakdownSteps: 4, llama: null, llamaSkipReason: 'not compared here', fuse });
    runs[fuse ? 'fused' : 'unfused'].push(res);
    console.log(
      `round ${r + 1} ${fuse ? 'fused  ' : 'unfused'}: decode ${res.ours.decodeTokensPerSecond.toFixed(1)} tok/s, prefill ${res.ours.prefillTokensPerSecond.toFixed(1)} tok/s, ${res.breakdown.dispatchesPerStep} dispatches per decode step, kernels ${res.breakdown.gpuMsPerStep.toFixed(2)} ms per step`,
    );
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = runs.fused;
const u = runs.unfused;
const same = f.every((x) => x.tokens.join() === u[0]!.tokens.join()) && u.every((x) => x.tokens.join() === u[0]!.tokens.join());
const fd = median(f.map((x) => x.ours.decodeTokensPerSecond));
const ud = median(u.map((x) => x.ours.decodeTokensPerSecond));
const fp = median(f.map((x) => x.ours.prefillTokensPerSecond));
const up = median(u.map((x) => x.ours.prefillTokensPerSecond));
console.log(`median decode: fused ${fd.toFixed(1)} tok/s, unfused ${ud.toFixed(1)} tok/s, ratio ${(fd / ud).toFixed(2)}x`);
console.log(`median prefill: fused ${fp.toFixed(1)} tok/s, unfused ${up.toFixed(1)} tok/s, ratio ${(fp / up).toFixed(2)}x`);
console.log(`dispatches per decode step: fused ${f[0]!.breakdown.dispatchesPerStep}, unfused ${u[0]!.breakdown.dispatchesPerStep}`);
console.log(`same greedy tokens in every run: ${same ? 'yes' : 'NO'}`);
ctx.destroy();
if (!same) process.exit(1);
