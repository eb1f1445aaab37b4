/**
 * The adapter's ceilings, measured beside our weight kernels in one run (issue 15's "measured
 * ceiling": the best rate any kernel of ours reaches on this adapter for the same bytes).
 *   npm run bench:ceiling -- (or npx tsx scripts/bench/adapter-ceiling.ts) [--types Q4_K,Q8_0,F32] [--rows 2048] [--cols 2048]
 *       [--reps 3] [--rounds 5] [--model FILE|none] [--idot-iterations 256] [--prefill-preset qwen2-1b] [--prompt 8]
 * For each type, on one rows × cols matrix: the probes of shaders/probe_ceiling.wgsl read the
 * matrix's bytes and nothing else, in the matvec kernels' pattern (one invocation per row) and
 * in the friendliest one (neighbouring invocations, neighbouring 16-byte words, several sizes);
 * the product probes (shaders/probe_product.wgsl, Q4_K and Q8_0) read them so and do the fewest
 * packed int8 products those bytes need, x in registers: the product ceiling, which no integer
 * decode kernel can beat; then the engine's f32 kernel and every integer variant multiply the same bytes. Rounds are
 * alternated; figures and the share of the ceiling are from each one's best round. Then what a
 * dispatch costs with no work (a batch of N no-op dispatches against one), and a small model's
 * decode (default stories260K from ../shared/fixtures) beside a batch of as many no-ops as its
 * decode step dispatches, alternated: the rate a step would reach if each dispatch did nothing.
 * And the prefill compute ceiling: packed int8 dot products with their operands in registers
 * (shaders/_probe_idot.wgsl, dot4I8Packed and plain i32, several invocation counts): the most
 * byte multiply-adds per second any integer prefill product could do here; divided by a prompt
 * token's multiply-adds on a preset's shapes (the block matrices per token, plus the output
 * projection of the last token shared by the prompt's `--prompt` tokens), the best prefill
 * tokens/s any kernel of ours could reach on that model.
 * A measurement, not a test.
 */
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openBenchContext } from '../../electron/cli/bench/context';
import { runBench } from '../../electron/cli/bench/run';
import type { GpuContext } from '../../shared/gpu';
import { median } from '../../shared/stats/bootstrap';
import { encodeIntMatvec, intVariantsFor } from '../../shared/engine/int-matvec';
import { encodeIdotRate, encodeNoop, encodeProductRows, encodeProductStrided, encodeReadRows, encodeReadStrided, IDOT_MACS_PER_ITERATION, PRODUCT_PROBE } from '../../shared/engine/probe-ceiling';
import { presetConfig } from '../../shared/model-gen';
import { encodeMatmul, type WeightType } from '../../shared/engine/quant-matmul';
import { alternateRounds, type TimedRun } from './alternate';
import { productBuffers } from './product-buffers';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}
if (process.argv.includes('--help')) {
  console.log('npx tsx scripts/bench/adapter-ceiling.ts [--types Q4_K,Q8_0,F32] [--rows 2048] [--cols 2048] [--reps 3] [--rounds 5] [--model FILE|none] [--idot-iterations 256] [--prefill-preset qwen2-1b|none] [--prompt 8]');
  process.exit(0);
}

const types = arg('types', 'Q4_K,Q8_0,F32').split(',') as WeightType[];
const rows = Number(arg('rows', '2048'));
const cols = Number(arg('cols', '2048'));
const reps = Number(arg('reps', '3'));
const rounds = Number(arg('rounds', '5'));
const model = arg('model', process.env.PXI_STORIES ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'fixtures', 'models', 'stories260K.gguf'));

const idotIterations = Number(arg('idot-iterations', '256'));
const prefillPreset = arg('prefill-preset', 'qwen2-1b');
const promptTokens = Number(arg('prompt', '8'));

const ctx: GpuContext = await openBenchContext();
console.log(`adapter: ${ctx.adapter.description || ctx.adapter.device}; ${rows}×${cols}; ${reps} runs per timing; ${rounds} rounds; load average ${os.loadavg()[0]!.toFixed(1)}`);

/** Times each run `rounds` times, alternating the order; ms per call. */
const alternate = (runs: TimedRun[]): Promise<number[][]> => alternateRounds(runs, { rounds, reps, warmup: 1 });

async function batched(n: number, encode: (b: ReturnType<GpuContext['batch']>) => Promise<void>): Promise<void> {
  const b = ctx.batch('ceiling');
  for (let i = 0; i < n; i++) await encode(b);
  b.submit();
  await ctx.sync();
}

for (const type of types) {
  const pb = productBuffers(ctx, type, rows, cols);
  const { bytes, w, weights, x, xq, y } = pb;
  const vec4s = Math.floor(bytes / 16);
  const maxInv = Math.min(262144, vec4s);
  const out = ctx.storage(Math.max(rows, maxInv) * 4, 'probe out');
  const probes: TimedRun[] = [
    ['probe rows', (n) => batched(n, (b) => encodeReadRows(ctx, b, { words: w, rows, wordsPerRow: bytes / rows / 4, out }))],
  ];
  for (const [inv, wg] of [
    [4096, 64],
    [16384, 64],
    [65536, 256],
    [maxInv, 256],
  ] as const) {
    if (inv > vec4s) continue;
    probes.push([`probe strided ${inv}/${wg}`, (n) => batched(n, (b) => encodeReadStrided(ctx, b, { words: w, vec4s, invocations: inv, out, wg }))]);
  }
  // The product ceiling: the same friendliest reads plus the fewest packed products the type's
  // bytes need (x in registers): what no integer decode kernel of ours can beat here.
  const pp = PRODUCT_PROBE[type];
  const products: TimedRun[] = [];
  // dot4I8Packed is a WGSL language feature: an adapter without it cannot compile the probe.
  const productOk =
    pp !== undefined &&
    (await ctx.pipeline('probe_product', { entryPoint: 'product_strided', constants: { WG: 64, K: pp.k, NIBBLES: pp.nibbles ? 1 : 0 } }).then(
      () => true,
      (e: unknown) => (console.log(`probe product: not offered here (${(e as Error).message.split('\n')[0]})`), false),
    ));
  if (pp && productOk) {
    for (const [inv, wg] of [
      [4096, 64],
      [16384, 64],
    ] as const) {
      if (inv > vec4s) continue;
      products.push([`probe product ${inv}/${wg}`, (n) => batched(n, (b) => encodeProductStrided(ctx, b, { words: w, vec4s, invocations: inv, out, wg, k: pp.k, nibbles: pp.nibbles }))]);
    }
    // The same products with one row per invocation, as a loop and with the loop body written out
    // as long as the type's group code (Q8_0: 8 blocks in 17 words; Q4_K: a super-block in 9):
    // the same sums, so the difference is the shape of the code alone.
    if (bytes % (rows * 16) === 0) {
      const vec4sPerRow = bytes / rows / 16;
      products.push([`probe product rows`, (n) => batched(n, (b) => encodeProductRows(ctx, b, { words: w, rows, vec4sPerRow, out, k: pp.k, nibbles: pp.nibbles }))]);
      const writtenOut = [17, 9].find((m) => vec4sPerRow % m === 0);
      if (writtenOut) products.push([`probe product rows, ${writtenOut} written out`, (n) => batched(n, (b) => encodeProductRows(ctx, b, { words: w, rows, vec4sPerRow, out, k: pp.k, nibbles: pp.nibbles, writtenOut }))]);
    }
  }
  const kernels: TimedRun[] = [['f32 64x1', (n) => batched(n, async (b) => {
    await encodeMatmul(ctx, b, { weights, x, y });
  })]];
  for (const v of intVariantsFor(ctx, type, { cols })) {
    kernels.push([`int ${v}`, (n) => batched(n, (b) => encodeIntMatvec(ctx, b, { weights, x, xq, y, variant: v }))]);
  }
  const runs = [...probes, ...products, ...kernels];
  const times = await alternate(runs);
  const best = times.map((t) => Math.min(...t));
  const probeBest = Math.min(...best.slice(0, probes.length));
  const ceilingIdx = best.indexOf(probeBest);
  const productBest = products.length ? Math.min(...best.slice(probes.length, probes.length + products.length)) : null;
  console.log(
    `\n${type}: ${(bytes / 1e6).toFixed(2)} MB; read ceiling = ${runs[ceilingIdx]![0]}, ${(bytes / probeBest / 1e6).toFixed(2)} GB/s` +
      (productBest ? `; product ceiling (${pp!.k} packed products per 16 bytes, x in registers) ${(bytes / productBest / 1e6).toFixed(2)} GB/s` : ''),
  );
  runs.forEach(([name], i) => {
    const ofCeiling = probeBest / best[i]!;
    console.log(
      `  ${name.padEnd(24)} best ${best[i]!.toFixed(2).padStart(8)} ms  ${(bytes / best[i]! / 1e6).toFixed(2).padStart(6)} GB/s  ${((rows * cols) / best[i]! / 1e6).toFixed(2).padStart(6)} G weights/s  of read ceiling ${(100 * ofCeiling).toFixed(0).padStart(4)} %` +
        (productBest ? `  of product ceiling ${((100 * productBest) / best[i]!).toFixed(0).padStart(4)} %` : ''),
    );
  });
  pb.destroy();
  out.destroy();
}

// The prefill compute ceiling: packed int8 products with operands in registers, no loads in the loop.
if (prefillPreset !== 'none') {
  const maxInv = 65536;
  const seeds = ctx.storage(Uint32Array.from({ length: 8 * maxInv }, (_, i) => Math.imul(i + 1, 2654435761) >>> 0), 'idot seeds');
  const idotOut = ctx.storage(maxInv * 4, 'idot out');
  const idotRuns: TimedRun[] = [];
  const macs: number[] = [];
  for (const packed of [true, false]) {
    if (packed) {
      // dot4I8Packed is a WGSL language feature: an adapter without it cannot compile the probe.
      const ok = await ctx.pipeline('probe_idot', { entryPoint: 'idot_rate', constants: { WG: 64 } }).then(() => true, (e: unknown) => (console.log(`idot dot4: not offered here (${(e as Error).message.split('\n')[0]})`), false));
      if (!ok) continue;
    }
    for (const inv of [4096, 16384, maxInv]) {
      idotRuns.push([`idot ${packed ? 'dot4' : 'int'} ${inv}`, (n) => batched(n, (b) => encodeIdotRate(ctx, b, { seeds, invocations: inv, iterations: idotIterations, out: idotOut, packed }))]);
      macs.push(inv * idotIterations * IDOT_MACS_PER_ITERATION);
    }
  }
  const it = await alternate(idotRuns);
  const rate = idotRuns.map((_, i) => macs[i]! / Math.min(...it[i]!) / 1e6); // G MAC/s
  console.log(`\nprefill compute ceiling: int8 multiply-adds with operands in registers, ${idotIterations} iterations × ${IDOT_MACS_PER_ITERATION} per invocation`);
  idotRuns.forEach(([name], i) => console.log(`  ${name.padEnd(24)} best ${Math.min(...it[i]!).toFixed(2).padStart(8)} ms  ${rate[i]!.toFixed(2).padStart(7)} G MAC/s`));
  const best = Math.max(...rate);
  const c = presetConfig(prefillPreset);
  const hd = c.embd / c.heads;
  const blockMacs = c.blocks * (2 * c.embd * c.embd + 2 * c.kvHeads * hd * c.embd + 3 * c.ff * c.embd);
  const outMacs = c.vocab * c.embd;
  const perToken = blockMacs + outMacs / promptTokens;
  console.log(
    `${prefillPreset}: ${(blockMacs / 1e6).toFixed(1)} M multiply-adds per token in the block matrices, + ${(outMacs / 1e6).toFixed(1)} M once per prompt (the last token's logits); a prompt of ${promptTokens}: ${(perToken / 1e6).toFixed(1)} M per token. At the best rate (${best.toFixed(2)} G MAC/s), prefill could reach at most ${((best * 1e9) / perToken).toFixed(1)} tokens/s here (the arithmetic alone: no loads, scales, quantisation, attention or dispatches)`,
  );
  seeds.destroy();
  idotOut.destroy();
}

// What one dispatch costs with no work: batches of N no-op dispatches against a batch of one.
const one = ctx.storage(4, 'noop out');
async function noops(count: number, n: number): Promise<void> {
  for (let k = 0; k < n; k++) {
    const b = ctx.batch('ceiling');
    for (let i = 0; i < count; i++) await encodeNoop(ctx, b, { out: one, value: i });
    b.submit();
    await ctx.sync();
  }
}
const many = 200;
const dt = await alternate([
  ['1 noop', (n) => noops(1, n)],
  [`${many} noops`, (n) => noops(many, n)],
]);
const round = Math.min(...dt[0]!);
const perDispatch = median(dt[1]!.map((v, r) => (v - dt[0]![r]!) / (many - 1)));
console.log(`\ndispatch: a submitted batch of one no-op and its wait ${(round * 1000).toFixed(0)} µs; each further no-op dispatch ${(perDispatch * 1000).toFixed(1)} µs (median of rounds)`);

// The small model's decode beside a batch of as many no-ops as its decode step dispatches,
// alternated: how far it is from a step whose every dispatch did no work.
if (model !== 'none') {
  const decode: number[] = [];
  const empty: number[] = [];
  let perStep = 0;
  for (let r = 0; r < rounds; r++) {
    const res = await runBench(ctx, model, { promptTokens: 16, genTokens: 32, breakdownSteps: 2, llama: null, llamaSkipReason: 'not compared here' });
    perStep = res.breakdown.dispatchesPerStep;
    decode.push(res.ours.decodeTokensPerSecond);
    const t0 = performance.now();
    await noops(perStep, 20);
    empty.push(1000 / ((performance.now() - t0) / 20));
  }
  const ratios = decode.map((d, r) => d / empty[r]!);
  console.log(
    `${model}: ${perStep} dispatches per decode step; decode ${median(decode).toFixed(0)} tokens/s (median of ${rounds}); a batch of ${perStep} no-ops, submitted and waited for, ${median(empty).toFixed(0)} per second: decode is ${(100 * median(ratios)).toFixed(0)} % of that ceiling (median of per-round ratios)`,
  );
}
one.destroy();
ctx.destroy();
