/**
 * What the kernel tuner buys: on this machine's adapter, measure the decode kernels' shapes
 * (shared/engine/autotune.ts, as `pxi tune` does), then decode the same greedy tokens with the
 * default shapes and with the tuned ones, alternating A B A B in one process, and print the
 * decode tokens/s of each and their ratio. A measurement, not a test (specs/benchmarks.md).
 *
 *   npm run bench:tuning -- [--models FILE.gguf,...] [--cache DIR] [-n N] [--size N] [--rounds R] [--reps K]
 *
 * Default models: stories260K ($PXI_STORIES, else ../shared/fixtures) and the generated 1B Q8_0
 * and Q4_K of bench:decode when they are in the cache (default .cache/bench). Run from the
 * repository root; the GPU-machine package runs it too (scripts/device/run.sh).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { candidateName, intMatvecTable, modelTuningShapes, modelWeightTypes, tuneWeightKernels, tuningTable } from '../../shared/engine/autotune';
import { generate } from '../../shared/engine/generate';
import { openNodeModel, type NodeModel } from '../../electron/engine';
import { openBenchContext } from '../../electron/cli/bench/context';

const { values } = parseArgs({
  options: { models: { type: 'string' }, cache: { type: 'string' }, n: { type: 'string', short: 'n' }, size: { type: 'string' }, rounds: { type: 'string' }, reps: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log('Usage: npm run bench:tuning -- [--models FILE.gguf,...] [--cache DIR, default .cache/bench] [-n N decode tokens, default 16] [--size N: time N×N matrices instead of each type’s largest matrix in the model] [--rounds R, default 5] [--reps K alternations, default 2]');
  process.exit(0);
}
const int = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
const n = int(values.n, 16);
const size = int(values.size, 2048);
const rounds = int(values.rounds, 5);
const reps = int(values.reps, 2);
const cache = values.cache ?? join('.cache', 'bench');
const stories = process.env.PXI_STORIES ?? join('..', 'shared', 'fixtures', 'models', 'stories260K.gguf');
const models = values.models ? values.models.split(',') : [stories, join(cache, 'qwen2-1b-Q8_0-s0.gguf'), join(cache, 'qwen2-1b-Q4_K-s0.gguf')].filter((f) => existsSync(f));

// The GPU machine's bundle sits elsewhere than electron/gpu/: run.sh names the tree's shaders/.
const ctx = await openBenchContext(process.env.PXI_SHADERS_DIR ? { shadersDir: process.env.PXI_SHADERS_DIR } : {});
console.log(`adapter: ${ctx.adapter.description || ctx.adapter.device}`);
try {
  for (const file of models) {
    const plain = await openNodeModel(file, { ctx, contextLength: n + 16, tuningFile: false });
    const tensors = plain.source.header.tensors;
    const types = modelWeightTypes(tensors);
    const t0 = performance.now();
    // --size times a square matrix, as pxi tune does; by default each type's largest matrix in the model.
    const record = await tuneWeightKernels(ctx, { types, rounds, ...(values.size ? { rows: size, cols: size } : { shapes: modelTuningShapes(tensors) }) });
    const tuneS = (performance.now() - t0) / 1000;
    const table = tuningTable(record);
    // The shapes and the integer decode kernels the record kept, as a load with the saved record gets them.
    const tuned = await openNodeModel(file, { ctx, contextLength: n + 16, matvecTuning: table, intMatvec: intMatvecTable(record) });
    const prompt = plain.tokenizer.encode('Once upon a time').slice(0, 4);
    const decode = async (m: NodeModel) => {
      m.model.rewind(0);
      const r = await generate(m.model, m.tokenizer, prompt, { maxTokens: n, temperature: 0, ignoreEos: true });
      return { tps: r.timings.decodeTokensPerSecond, tokens: r.tokens };
    };
    // Untimed first runs: pipelines compile and caches warm before anything counts.
    await decode(plain);
    await decode(tuned);
    const best = { plain: 0, tuned: 0 };
    let same = true;
    for (let i = 0; i < reps; i++) {
      const a = await decode(plain);
      const b = await decode(tuned);
      best.plain = Math.max(best.plain, a.tps);
      best.tuned = Math.max(best.tuned, b.tps);
      same &&= a.tokens.join() === b.tokens.join();
    }
    const shapes = types.map((t) => `${t} ${candidateName({ tuning: table[t]!, ...(record.types[t]!.intMatvec ? { int: record.types[t]!.intMatvec } : {}) })} (kernel ${record.types[t]!.speedup.toFixed(2)}×)`).join(', ');
    console.log(
      `${file.split('/').pop()}: tuned in ${tuneS.toFixed(1)} s → ${shapes}; decode ${best.plain.toFixed(2)} → ${best.tuned.toFixed(2)} tokens/s = ${(best.tuned / best.plain).toFixed(2)}× (best of ${reps}, ${n} tokens, same greedy tokens: ${same})`,
    );
    await plain.close();
    await tuned.close();
  }
} finally {
  ctx.destroy();
}
