/**
 * Throughput of the weight kernels (shaders/matvec_*.wgsl) on the local WebGPU adapter.
 *   npx tsx scripts/bench/matvec.ts [--types F32,Q4_K] [--rows 4096] [--cols 4096]
 *                                   [--tunings 64x1,32x1,64x8] [--tokens 1] [--reps 5] [--rounds 5]
 *                                   [--kernels matmul,tile] [--i8-rows 1,2,4] [--sg-rows 4] [--sg-tokens 4] [--sh-tokens 8]
 * Prints ms per product and GB/s of weight bytes read (the x vector is noise next to W): the
 * best and the median of `rounds` timings of `reps` back-to-back products. A measurement, not
 * a test: lavapipe shares the CPU with everything else running, so the best round is the
 * closest to what the kernel can do. Every candidate (shape × kernel) is timed once per round,
 * in alternating order, and `×` is the median over rounds of first candidate ÷ this one (a
 * busy stretch of the machine hits both alike). `--kernels`: for tokens > 1, `matmul` (the
 * default prefill kernel), `tile` (matmul_tile) and `tile-wg` (matmul_tile_wg), the tiled
 * products of Q8_0/Q4_0/Q4_K/Q6_K; `i8` / `i8x` (Q8_0, Q4_0, Q4_K, Q6_K): quantize_q8 over the tokens, then
 * the integer prefill product (dot4I8Packed / plain i32), the quantisation included in the time;
 * `--i8-rows`: Q4_K's rows per invocation to time (default INT_MATMUL_ROWS), one candidate each;
 * `i8sg` / `i8xsg` (Q4_K, subgroups of 8): the subgroup prefill product (dot4I8Packed / two byte
 * products per i32 multiply), `--sg-rows` rows per subgroup (1, 2, 4; default SG_MATMUL_ROWS) ×
 * `--sg-tokens` tokens per pass (1..8; default SG_MATMUL_TOKENS), one candidate each pair;
 * `i8sh` / `i8xsh` (Q4_K, Q8_0, Q6_K, subgroups of 8): the prefill product with x shared through the
 * subgroup, Q4_K's `--i8-rows` rows × `--sh-tokens` tokens per invocation (1..16; default
 * SH_MATMUL_TOKENS), Q8_0's Q8_0_SH_MATMUL_ROWS rows × `--sh-tokens`, Q6_K's one row × 4 tokens.
 */
import os from 'node:os';
import { openNodeGpu } from '../../electron/gpu/node-webgpu';
import { loadShadersFromDir } from '../../electron/gpu/shaders';
import { openDevice } from '../../shared/gpu';
import { randomWeightBytes } from '../../shared/engine/autotune';
import { hasIntMatmul, INT_MATMUL_ROWS, intPipeline, intVariantsFor, planIntMatmul, planQuantizeTokens, quantizedXWords, recordIntDispatch, SG_MATMUL_ROWS, SG_MATMUL_TOKENS, SH_MATMUL_TOKENS, type IntVariant } from '../../shared/engine/int-matvec';
import { encodeMatmul, isTileWeightType, PREFILL_ENTRY, type TileVariant, WEIGHT_TYPES, weightBytes, type WeightType } from '../../shared/engine/quant-matmul';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

const types = arg('types', 'F32,Q4_K').split(',') as WeightType[];
const rows = Number(arg('rows', '4096'));
const cols = Number(arg('cols', '4096'));
const tokens = Number(arg('tokens', '1'));
const reps = Number(arg('reps', '5'));
const rounds = Number(arg('rounds', '5'));
const tunings = arg('tunings', '64x1').split(',').map((s) => s.split('x').map(Number) as [number, number]);
const kernels = arg('kernels', 'matmul').split(',');
const i8Rows = arg('i8-rows', String(INT_MATMUL_ROWS)).split(',').map(Number);
const sgRows = arg('sg-rows', String(SG_MATMUL_ROWS)).split(',').map(Number);
const sgTokens = arg('sg-tokens', String(SG_MATMUL_TOKENS)).split(',').map(Number);
const shTokens = arg('sh-tokens', String(SH_MATMUL_TOKENS)).split(',').map(Number);
const KERNELS = ['matmul', 'tile', 'tile-wg', 'i8', 'i8x', 'i8sg', 'i8xsg', 'i8sh', 'i8xsh'];
for (const k of kernels) if (!KERNELS.includes(k)) throw new Error(`unknown kernel ${k} (${KERNELS.join(', ')})`);
/** The integer variant of an integer prefill kernel, or undefined for the f32 ones. */
const INT_OF: Record<string, IntVariant | undefined> = { i8: 'dot4', i8x: 'int', i8sg: 'dot4-sg', i8xsg: 'int-sg', i8sh: 'dot4-sh', i8xsh: 'int-sh' };

const g = await openNodeGpu();
if (!g.gpu) {
  console.error(`no WebGPU: ${g.reason}`);
  process.exit(1);
}
const ctx = await openDevice(g.gpu, { adapter: g.adapter, shaders: loadShadersFromDir() });
console.log(`adapter: ${ctx.adapter.description || ctx.adapter.device}; ${rows}×${cols}, tokens ${tokens}, ${reps} reps; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

for (const type of types) {
  if (!WEIGHT_TYPES.includes(type)) throw new Error(`unknown type ${type}`);
  const bytes = weightBytes(type, rows, cols);
  const w = ctx.storage(randomWeightBytes(type, rows, cols, 12345), `w:${type}`);
  const x = ctx.storage(new Float32Array(tokens * cols).fill(0.5), 'x');
  const y = ctx.storage(tokens * rows * 4, 'y');
  const i8 = (k: string) => INT_OF[k] !== undefined;
  const sg = (k: string) => k === 'i8sg' || k === 'i8xsg';
  const sh = (k: string) => k === 'i8sh' || k === 'i8xsh';
  // Each integer kernel's shapes: Q4_K's rows per invocation, or its subgroup product's rows × tokens per pass.
  const shapes = (k: string): { nr?: number; tt?: number }[] =>
    sg(k) ? sgRows.flatMap((nr) => sgTokens.map((tt) => ({ nr, tt }))) : sh(k) ? (type === 'Q6_K' ? [{}] : (type === 'Q4_K' ? i8Rows : [undefined]).flatMap((nr) => shTokens.map((tt) => ({ nr, tt })))) : i8(k) && type === 'Q4_K' ? i8Rows.map((nr) => ({ nr })) : [{}];
  const candidates = tunings.flatMap(([wg, tpr]) =>
    kernels
      .filter((k) => k === 'matmul' || (i8(k) ? hasIntMatmul(type, INT_OF[k]!) && ((!sg(k) && !sh(k)) || intVariantsFor(ctx, type).includes(INT_OF[k]!)) : isTileWeightType(type)))
      .flatMap((k) => shapes(k).map((s) => ({ k, ...s })))
      .map(({ k, nr, tt }) => ({ wg, tpr, nr, tt, int: INT_OF[k], entryPoint: tokens === 1 ? undefined : k === 'matmul' || i8(k) ? ('matmul' as const) : PREFILL_ENTRY[k as TileVariant] })),
  );
  const xq = ctx.storage(kernels.some(i8) && cols % 32 === 0 ? tokens * quantizedXWords(cols) * 4 : 16, 'xq');
  const run = async (c: (typeof candidates)[number], n: number) => {
    const b = ctx.batch('bench');
    for (let i = 0; i < n; i++) {
      if (c.int) {
        const q = planQuantizeTokens(cols, tokens);
        recordIntDispatch(b, await intPipeline(ctx, q), q, [x, xq]);
        const d = planIntMatmul({ weights: { type, rows, cols }, variant: c.int, tokens, rowsPerInvocation: c.nr, tokensPerPass: c.tt });
        recordIntDispatch(b, await intPipeline(ctx, d), d, [w, xq, y]);
        continue;
      }
      await encodeMatmul(ctx, b, { weights: { type, rows, cols, buffer: w }, x, y, tokens, tuning: { workgroupSize: c.wg, threadsPerRow: c.tpr }, entryPoint: c.entryPoint });
    }
    b.submit();
    await ctx.sync();
  };
  for (const c of candidates) await run(c, 2); // compile and warm up
  const times = candidates.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    const order = candidates.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) {
      const t0 = performance.now();
      await run(candidates[i]!, reps);
      times[i]!.push((performance.now() - t0) / reps);
    }
  }
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
  for (const [i, c] of candidates.entries()) {
    const sorted = [...times[i]!].sort((a, b) => a - b);
    const best = sorted[0]!;
    const median = med(sorted);
    const ratio = med(times[i]!.map((t, r) => times[0]![r]! / t));
    const name = (c.int ? `i8 ${c.int}${c.nr ? ` r${c.nr}` : ''}${c.tt ? ` t${c.tt}` : ''}` : `${c.entryPoint ?? 'matvec'}`).padEnd(18);
    console.log(
      `${type.padEnd(5)} ${name} WG ${String(c.wg).padStart(3)} TPR ${String(c.tpr).padStart(2)}: best ${best.toFixed(2).padStart(7)} ms ${(bytes / best / 1e6).toFixed(2).padStart(6)} GB/s ${((rows * cols * tokens) / best / 1e6).toFixed(2).padStart(6)} G w·tok/s, median ${median.toFixed(2).padStart(7)} ms, ×${ratio.toFixed(2)} (${(bytes / 2 ** 20).toFixed(1)} MiB)`,
    );
  }
  w.destroy();
  xq.destroy();
  x.destroy();
  y.destroy();
}
ctx.destroy();
console.log(`load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
