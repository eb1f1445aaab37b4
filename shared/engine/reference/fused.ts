/**
 * References of the fused kernels (shaders/add_rmsnorm.wgsl, shaders/rope_kv_append.wgsl): each
 * is the composition of the references of the kernels it replaces, so a fused kernel is checked
 * against exactly what the unfused sequence computes.
 */
import { kvAppendRef } from './attention';
import { addRef } from './elementwise';
import { rmsnormRef } from './rmsnorm';
import { ropeRef } from './rope';

/** x + d (the new residual stream, rounded to f32 as the GPU stores it) and its RMSNorm. */
export function addRmsnormRef(x: Float32Array, d: Float32Array, w: Float32Array, rows: number, n: number, eps: number): { x: Float32Array; y: Float32Array } {
  const sum = addRef(x, d);
  return { x: sum, y: rmsnormRef(sum, w, rows, n, eps) };
}

export interface RopeKvAppendShape {
  T: number;
  qHeads: number;
  kvHeads: number;
  headDim: number;
  pos0: number;
  neox: boolean;
  ropeDims?: number;
  qStride?: number;
  qOffset?: number;
  kStride?: number;
  kOffset?: number;
  vStride?: number;
  vOffset?: number;
}

/** q rotated (a copy), and the caches updated in place with rotated k and plain v at rows pos0... */
export function ropeKvAppendRef(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  invFreq: Float32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  s: RopeKvAppendShape,
): Float32Array {
  const width = s.kvHeads * s.headDim;
  const rope = { T: s.T, headDim: s.headDim, pos0: s.pos0, neox: s.neox, ropeDims: s.ropeDims };
  const qOut = ropeRef(q, invFreq, { ...rope, heads: s.qHeads, stride: s.qStride, offset: s.qOffset });
  const kRot = ropeRef(k, invFreq, { ...rope, heads: s.kvHeads, stride: s.kStride ?? width, offset: s.kOffset });
  kvAppendRef(kRot, v, kCache, vCache, { T: s.T, width, dstRow0: s.pos0, kStride: s.kStride, kOffset: s.kOffset, vStride: s.vStride, vOffset: s.vOffset });
  return qOut;
}
