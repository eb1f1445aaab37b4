/**
 * The integer decode kernels (quantize_q8 + matvec_<type>_i8*) against the f32 kernels on the same
 * matrices, alternated round by round on the local adapter.
 *   npx tsx scripts/bench/matvec-int.ts [--types Q8_0,Q4_0] [--rows 2048] [--cols 2048] [--reps 5] [--rounds 5] [--variants dot4-r2,int-sg-r2]
 * Prints ms per product (the integer path includes its activation quantisation) and the median
 * round-by-round ratio against the f32 kernel and against the first integer variant timed;
 * --variants times only those (of the ones the device offers for the type). A measurement, not a test.
 */
import { openNodeGpu } from '../../electron/gpu/node-webgpu';
import { loadShadersFromDir } from '../../electron/gpu/shaders';
import { openDevice } from '../../shared/gpu';
import { encodeMatmul, type WeightType } from '../../shared/engine/quant-matmul';
import { encodeIntMatvec, intVariantsFor } from '../../shared/engine/int-matvec';
import { alternateRounds, type TimedRun } from './alternate';
import { productBuffers } from './product-buffers';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

const types = arg('types', 'Q8_0').split(',') as WeightType[];
const rows = Number(arg('rows', '2048'));
const cols = Number(arg('cols', '2048'));
const reps = Number(arg('reps', '5'));
const rounds = Number(arg('rounds', '5'));
const only = arg('variants', '').split(',').filter(Boolean);

const g = await openNodeGpu();
if (!g.gpu) {
  console.error(`no WebGPU: ${g.reason}`);
  process.exit(1);
}
const ctx = await openDevice(g.gpu, { adapter: g.adapter, shaders: loadShadersFromDir() });
console.log(`adapter: ${ctx.adapter.description || ctx.adapter.device}; ${rows}×${cols}, ${reps} products per timing, ${rounds} rounds`);

for (const type of types) {
  const pb = productBuffers(ctx, type, rows, cols);
  const { bytes, weights, x, xq, y } = pb;
  const runs: TimedRun[] = [
    [
      'f32 64x1',
      async (n) => {
        const b = ctx.batch('bench');
        for (let i = 0; i < n; i++) await encodeMatmul(ctx, b, { weights, x, y });
        b.submit();
        await ctx.sync();
      },
    ],
  ];
  for (const v of intVariantsFor(ctx, type, { cols }).filter((v) => only.length === 0 || only.includes(v))) {
    runs.push([
      `int ${v}`,
      async (n) => {
        const b = ctx.batch('bench');
        for (let i = 0; i < n; i++) await encodeIntMatvec(ctx, b, { weights, x, xq, y, variant: v });
        b.submit();
        await ctx.sync();
      },
    ]);
  }
  const times = await alternateRounds(runs, { rounds, reps, warmup: 2 });
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
  runs.forEach(([name], i) => {
    const t = times[i]!;
    const best = Math.min(...t);
    const ratio = med(t.map((v, r) => times[0]![r]! / v));
    // Against the first integer variant (the baseline when --variants lists it first).
    const vsInt = runs.length > 1 ? `  vs ${runs[1]![0].slice(4)} ${med(t.map((v, r) => times[1]![r]! / v)).toFixed(2)}×` : '';
    console.log(
      `${type.padEnd(5)} ${name.padEnd(14)} best ${best.toFixed(2).padStart(7)} ms  median ${med(t).toFixed(2).padStart(7)} ms  ${((rows * cols) / best / 1e6).toFixed(2).padStart(5)} G weights/s  ${(bytes / best / 1e6).toFixed(2).padStart(6)} GB/s  speed vs f32 ${ratio.toFixed(2)}×${vsInt}`,
    );
  });

  pb.destroy();
}
ctx.destroy();
