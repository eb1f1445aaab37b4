/**
 * Throughput of the weight kernels (shaders/matvec_*.wgsl) on the local WebGPU adapter.
 *   npx tsx scripts/bench/matvec.ts [--types F32,Q4_K] [--rows 4096] [--cols 4096]
 *                                   [--tunings 64x1,32x1,64x8] [--tokens 1] [--reps 5] [--rounds 5]
 * Prints ms per product and GB/s of weight bytes read (the x vector is noise next to W): the
 * best and the median of `rounds` timings of `reps` back-to-back products. A measurement, not
 * a test: lavapipe shares the CPU with everything else running, so the best round is the
 * closest to what the kernel can do.
 */
import { openNodeGpu } from '../../electron/gpu/node-webgpu';
import { loadShadersFromDir } from '../../electron/gpu/shaders';
import { openDevice } from '../../shared/gpu';
import { randomWeightBytes } from '../../shared/engine/autotune';
import { encodeMatmul, WEIGHT_TYPES, weightBytes, type WeightType } from '../../shared/engine/quant-matmul';

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

const g = await openNodeGpu();
if (!g.gpu) {
  console.error(`no WebGPU: ${g.reason}`);
  process.exit(1);
}
const ctx = await openDevice(g.gpu, { adapter: g.adapter, shaders: loadShadersFromDir() });
console.log(`adapter: ${ctx.adapter.description || ctx.adapter.device}; ${rows}×${cols}, tokens ${tokens}, ${reps} reps`);

for (const type of types) {
  if (!WEIGHT_TYPES.includes(type)) throw new Error(`unknown type ${type}`);
  const bytes = weightBytes(type, rows, cols);
  const w = ctx.storage(randomWeightBytes(type, rows, cols, 12345), `w:${type}`);
  const x = ctx.storage(new Float32Array(tokens * cols).fill(0.5), 'x');
  const y = ctx.storage(tokens * rows * 4, 'y');
  for (const [wg, tpr] of tunings) {
    const run = async (n: number) => {
      const b = ctx.batch('bench');
      for (let i = 0; i < n; i++) {
        await encodeMatmul(ctx, b, { weights: { type, rows, cols, buffer: w }, x, y, tokens, tuning: { workgroupSize: wg, threadsPerRow: tpr } });
      }
      b.submit();
      await ctx.sync();
    };
    await run(2); // compile and warm up
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      await run(reps);
      times.push((performance.now() - t0) / reps);
    }
    times.sort((a, b) => a - b);
    const best = times[0];
    const median = times[Math.floor(times.length / 2)];
    console.log(
      `${type.padEnd(5)} WG ${String(wg).padStart(3)} TPR ${String(tpr).padStart(2)}: best ${best.toFixed(2).padStart(7)} ms ${(bytes / best / 1e6).toFixed(2).padStart(6)} GB/s, median ${median.toFixed(2).padStart(7)} ms ${(bytes / median / 1e6).toFixed(2).padStart(6)} GB/s  (${(bytes / 2 ** 20).toFixed(1)} MiB)`,
    );
  }
  w.destroy();
  x.destroy();
  y.destroy();
}
ctx.destroy();
