/**
 * One weight product's buffers for the kernel benchmarks (matvec-int.ts, adapter-ceiling.ts):
 * a rows × cols matrix of `type` with seeded random blocks, a smooth x, scratch for the quantised
 * x, and y. The same bytes in every benchmark, so their figures compare.
 */
import type { GpuContext } from '../../shared/gpu';
import { randomWeightBytes } from '../../shared/engine/autotune';
import { quantizedXWords } from '../../shared/engine/int-matvec';
import { weightBytes, type WeightMatrix, type WeightType } from '../../shared/engine/quant-matmul';

export interface ProductBuffers {
  /** The matrix's bytes. */
  bytes: number;
  /** The matrix's buffer (weights.buffer). */
  w: GPUBuffer;
  weights: WeightMatrix;
  x: GPUBuffer;
  xq: GPUBuffer;
  y: GPUBuffer;
  destroy(): void;
}

export function productBuffers(ctx: GpuContext, type: WeightType, rows: number, cols: number): ProductBuffers {
  const w = ctx.storage(randomWeightBytes(type, rows, cols, 12345), `w:${type}`);
  const xs = new Float32Array(cols);
  for (let i = 0; i < cols; i++) xs[i] = Math.sin(i * 0.37) * 2;
  const x = ctx.storage(xs, 'x');
  const xq = ctx.storage(quantizedXWords(cols, 1) * 4, 'xq');
  const y = ctx.storage(rows * 4, 'y');
  return {
    bytes: weightBytes(type, rows, cols),
    w,
    weights: { type, rows, cols, buffer: w },
    x,
    xq,
    y,
    destroy: () => [w, x, xq, y].forEach((b) => b.destroy()),
  };
}
