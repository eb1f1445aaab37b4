/**
 * Throughput of the training matrix products (shaders/train_matmul*.wgsl via LinearKernels) on
 * the local WebGPU adapter, for training-shaped problems: rows = B·T, a linear layer in → out,
 * and its three products: forward y = x·Wᵀ (NT), dX = dy·W (NN), dW += dyᵀ·x (TN).
 *   npx tsx scripts/bench/train-matmul-bench.ts [--rows 2048] [--dims 128,384,512]
 *                                               [--variants subgroup8,tiled] [--reps 3] [--rounds 5]
 * Every (in, out) pair of --dims is measured. Prints GFLOP/s (2·M·N·K per product) of the best of
 * `rounds` timings of `reps` back-to-back products, variants interleaved round by round so that
 * both see the same load. A measurement, not a test: lavapipe shares the CPU with whatever else
 * runs, so the best round is the closest to what the kernel can do.
 */
import { cpus } from 'node:os';
import { openNodeGpu } from '../../electron/gpu/node-webgpu';
import { loadShadersFromDir } from '../../electron/gpu/shaders';
import { openDevice, type GpuContext } from '../../shared/gpu';
import { LinearKernels, type MatmulVariant } from '../../shared/train/kernels-linear';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

const rows = Number(arg('rows', '2048'));
const dims = arg('dims', '128,384,512').split(',').map(Number);
const reps = Number(arg('reps', '3'));
const rounds = Number(arg('rounds', '5'));

const g = await openNodeGpu();
if (!g.gpu) {
  console.error(`no WebGPU: ${g.reason}`);
  process.exit(1);
}
const ctx: GpuContext = await openDevice(g.gpu, { adapter: g.adapter, shaders: loadShadersFromDir() });
const has8 = ctx.caps.subgroups && ctx.adapter.subgroupMinSize === 8 && ctx.adapter.subgroupMaxSize === 8;
const variants = arg('variants', has8 ? 'subgroup8,tiled' : 'tiled').split(',') as MatmulVariant[];
const kernels = new Map<MatmulVariant, LinearKernels>();
for (const v of variants) kernels.set(v, await LinearKernels.create(ctx, { matmul: v }));

console.log(`adapter: ${ctx.adapter.description || ctx.adapter.device}; CPU: ${cpus()[0]?.model ?? '?'} ×${cpus().length}`);
console.log(`rows ${rows}, ${reps} products per timing, best of ${rounds} rounds; GFLOP/s = 2·M·N·K / time`);
console.log(['in→out'.padEnd(9), 'product'.padEnd(8), 'M×N×K'.padEnd(16), ...variants.map((v) => v.padStart(10))].join(' '));

const fill = (n: number, seed: number) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37 + seed) * 0.5;
  return a;
};

const best = new Map<MatmulVariant, number[]>(variants.map((v) => [v, []]));
for (const inDim of dims) {
  for (const outDim of dims) {
    const x = ctx.storage(fill(rows * inDim, 1), 'x');
    const w = ctx.storage(fill(outDim * inDim, 2), 'w');
    const dy = ctx.storage(fill(rows * outDim, 3), 'dy');
    const y = ctx.storage(rows * outDim * 4, 'y');
    const dx = ctx.storage(rows * inDim * 4, 'dx');
    const dw = ctx.storage(outDim * inDim * 4, 'dw');
    const products = [
      { name: 'fwd NT', M: rows, N: outDim, K: inDim, args: { a: x, b: w, c: y, transB: true } },
      { name: 'dX NN', M: rows, N: inDim, K: outDim, args: { a: dy, b: w, c: dx } },
      { name: 'dW TN', M: outDim, N: inDim, K: rows, args: { a: dy, b: x, c: dw, transA: true, accumulate: true } },
    ];
    for (const pr of products) {
      const time = async (k: LinearKernels) => {
        const b = ctx.batch('bench');
        for (let i = 0; i < reps; i++) k.matmul(b, { ...pr.args, M: pr.M, N: pr.N, K: pr.K });
        const t0 = performance.now();
        b.submit();
        await ctx.sync();
        return (performance.now() - t0) / reps;
      };
      for (const k of kernels.values()) await time(k); // warm up
      const ms = new Map<MatmulVariant, number>(variants.map((v) => [v, Infinity]));
      for (let r = 0; r < rounds; r++) {
        for (const [v, k] of kernels) ms.set(v, Math.min(ms.get(v)!, await time(k)));
      }
      const cells = variants.map((v) => {
        const gf = (2 * pr.M * pr.N * pr.K) / (ms.get(v)! * 1e6);
        best.get(v)!.push(gf);
        return gf.toFixed(1).padStart(10);
      });
      console.log([`${inDim}→${outDim}`.padEnd(9), pr.name.padEnd(8), `${pr.M}×${pr.N}×${pr.K}`.padEnd(16), ...cells].join(' '));
    }
    [x, w, dy, y, dx, dw].forEach((t) => t.destroy());
  }
}
const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
console.log(['median'.padEnd(35), ...variants.map((v) => median(best.get(v)!).toFixed(1).padStart(10))].join(' '));
ctx.destroy();
