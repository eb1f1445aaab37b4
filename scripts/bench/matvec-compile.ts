/**
 * First-dispatch time of each weight kernel: on lavapipe the shader is compiled by LLVM at the
 * first dispatch, which dominates a cold test run. Run with MESA_SHADER_CACHE_DISABLE=true to
 * see cold numbers (Mesa otherwise caches compiled shaders on disk).
 *   npx tsx scripts/bench/matvec-compile.ts [--types Q4_K,Q6_K] [--tuning 64x1]
 */
import { openNodeGpu } from '../../electron/gpu/node-webgpu';
import { loadShadersFromDir } from '../../electron/gpu/shaders';
import { openDevice } from '../../shared/gpu';
import { encodeGetRows, encodeMatmul, padWeightBytes, WEIGHT_TYPES, weightBytes, type WeightType } from '../../shared/engine/quant-matmul';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}
const types = arg('types', WEIGHT_TYPES.join(',')).split(',') as WeightType[];
const [wg, tpr] = arg('tuning', '64x1').split('x').map(Number);

const g = await openNodeGpu();
if (!g.gpu) {
  console.error(`no WebGPU: ${g.reason}`);
  process.exit(1);
}
const ctx = await openDevice(g.gpu, { adapter: g.adapter, shaders: loadShadersFromDir() });
for (const type of types) {
  const cols = 256;
  const rows = 4;
  const w = ctx.storage(padWeightBytes(new Uint8Array(weightBytes(type, rows, cols))));
  const x = ctx.storage(new Float32Array(cols * 4));
  const y = ctx.storage(rows * 4 * 4 + cols * 4);
  const ids = ctx.storage(new Uint32Array(4));
  const row: string[] = [type.padEnd(5)];
  const tuning = { workgroupSize: wg, threadsPerRow: tpr };
  for (const ep of ['matvec', 'matmul', 'get_rows'] as const) {
    const t0 = performance.now();
    const b = ctx.batch();
    const weights = { type, rows, cols, buffer: w };
    if (ep === 'get_rows') await encodeGetRows(ctx, b, { weights, ids, count: 1, out: y, tuning });
    else await encodeMatmul(ctx, b, { weights, x, y, tokens: ep === 'matvec' ? 1 : 4, tuning });
    b.submit();
    await ctx.sync();
    row.push(`${ep} ${(performance.now() - t0).toFixed(0).padStart(6)} ms`);
  }
  console.log(row.join('  '));
}
ctx.destroy();
