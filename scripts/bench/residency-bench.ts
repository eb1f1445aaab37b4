/**
 * Decode speed against the GPU memory budget (issue 12 §2): one model loaded with no budget and
 * with budgets that leave 100%, 75%, 50% and 25% of its weight bytes room (KV cache and
 * activations on top), in one run on one adapter; per budget, the decode tokens/s, the bytes
 * uploaded per token to the streaming slots, and those bytes over the upload bandwidth measured
 * on the same adapter (writeBuffer of a large buffer, timed to onSubmittedWorkDone): the time a
 * token spends uploading if nothing overlapped. Every budget must give the unbudgeted tokens.
 * A measurement, not a test: figures go to specs/benchmarks.md.
 *
 *   npx tsx scripts/bench/residency-bench.ts [--model FILE | --gen PRESET:TYPE] [-p N] [-n N]
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { memorySource } from '../../shared/binary/byte-source';
import { Model } from '../../shared/engine/model';
import { openGgufTensorSource } from '../../shared/engine/tensor-source';
import { BufferUsage, type GpuContext } from '../../shared/gpu';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { openBenchContext } from '../../electron/cli/bench/context';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    gen: { type: 'string' },
    p: { type: 'string', short: 'p', default: '16' },
    n: { type: 'string', short: 'n', default: '32' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('Usage: npx tsx scripts/bench/residency-bench.ts [--model FILE | --gen tiny-llama:Q4_K] [-p N] [-n N]\n  Decode tok/s at budgets of 100/75/50/25% of the weights; default model stories260K.');
  process.exit(0);
}
const p = Number(values.p);
const n = Number(values.n);
for (const [name, v] of [['-p', p], ['-n', n]] as const) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`${name} must be a positive integer, got ${JSON.stringify(String(v))}`);
    process.exit(2);
  }
}
let bytes: Uint8Array;
let label: string;
if (values.gen) {
  const [preset, type] = values.gen.split(':');
  bytes = await generateModelBytes(planModel({ preset: preset as never, type: (type ?? 'Q8_0') as never, seed: 1, method: 'direct' }));
  label = `generated ${values.gen}`;
} else {
  label = values.model ?? join(here, '..', '..', '..', 'shared', 'fixtures', 'models', 'stories260K.gguf');
  bytes = new Uint8Array(readFileSync(label));
}

/** Upload bandwidth: writeBuffer of 32 MiB, eight times, to the queue's completion. */
async function uploadBandwidth(ctx: GpuContext): Promise<number> {
  const size = 32 << 20;
  const buf = ctx.createBuffer(size, BufferUsage.STORAGE | BufferUsage.COPY_DST, 'bench:upload');
  const data = new Uint8Array(size).fill(7);
  ctx.write(buf, data);
  await ctx.device.queue.onSubmittedWorkDone();
  const t0 = performance.now();
  for (let i = 0; i < 8; i++) ctx.write(buf, data);
  await ctx.device.queue.onSubmittedWorkDone();
  const s = (performance.now() - t0) / 1000;
  buf.destroy();
  return (8 * size) / s;
}

const ctx = await openBenchContext();
const bandwidth = await uploadBandwidth(ctx);
const source = await openGgufTensorSource(memorySource(bytes), label);
const prompt = Array.from({ length: p }, (_, i) => 1 + ((i * 37) % 200));
console.log(`adapter: ${ctx.adapter.description || ctx.adapter.device}; model ${label}; prompt ${p}, generate ${n} (greedy); context ${p + n + 1}`);
console.log(`upload bandwidth (writeBuffer 32 MiB ×8): ${(bandwidth / 1e9).toFixed(2)} GB/s`);

interface Row {
  budget: string;
  tokS: number;
  tokens: number[];
  upload: number;
  pieces: number;
}
const rows: Row[] = [];
let unbudgeted: Model | null = null;
let weights = 0;
let fixed = 0;
for (const f of [null, 1, 0.75, 0.5, 0.25]) {
  const gpuMemory = f === null ? undefined : Math.floor(fixed + f * weights);
  let model: Model;
  try {
    model = await Model.load(ctx, source, { contextLength: p + n + 1, ...(gpuMemory ? { gpuMemory } : {}) });
  } catch (e) {
    console.log(`${f! * 100}% of the weights: ${(e as Error).message}`);
    continue;
  }
  if (f === null) {
    unbudgeted = model;
    weights = model.memory.weights;
    fixed = model.memory.kvCache + model.memory.activations;
  }
  await model.forward(prompt, 'argmax'); // warm: pipelines, bind groups
  model.rewind(0);
  let next = (await model.forward(prompt, 'argmax')).token!;
  const up0 = model.streamedBytes;
  const tokens: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    tokens.push(next);
    next = (await model.forward([next], 'argmax')).token!;
  }
  const s = (performance.now() - t0) / 1000;
  const row = { budget: f === null ? 'none' : `${f * 100}%`, tokS: n / s, tokens, upload: (model.streamedBytes - up0) / n, pieces: model.residency.piecesPerPass };
  rows.push(row);
  console.log(
    `budget ${row.budget.padEnd(4)} (${gpuMemory ?? '-'} B): decode ${row.tokS.toFixed(1)} tok/s, ${(model.memory.weights / 1e6).toFixed(3)} MB of weights on the GPU, ` +
      `${model.residency.streamed.length} matrices streamed in ${row.pieces} pieces, ${(row.upload / 1e6).toFixed(3)} MB uploaded per token ` +
      `(${((row.upload / bandwidth) * 1000).toFixed(3)} ms at the measured bandwidth), ${(row.tokS / rows[0]!.tokS).toFixed(2)}× the unbudgeted speed`,
  );
  if (model !== unbudgeted) model.destroy();
}
const same = rows.every((r) => r.tokens.join() === rows[0]!.tokens.join());
console.log(`tokens identical to the unbudgeted run at every budget: ${same}`);
unbudgeted?.destroy();
ctx.destroy();
if (!same) process.exit(1);
