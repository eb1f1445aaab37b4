/**
 * References of the fused kernels (shaders/add_rmsnorm.wgsl, shaders/rope_kv_append.wgsl,
 * shaders/matvec_fused_f32.wgsl, attention.wgsl's decode_rope): each
 * is the composition of the references of the kernels it replaces, so a fused kernel is checked
 * against exactly what the unfused sequence computes.
 */
import { attentionRef, kvAppendRef } from './attention';
import { addRef, swigluRef } from './elementwise';
import { matvecRef } from './matmul';
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

export interface FusedMatvecRefArgs {
  /** W [rows, cols] row-major. */
  w: Float32Array;
  rows: number;
  cols: number;
  /** x: cols values; or for 'swiglu' the gate (cols values) and up beside it in `up`. */
  x: Float32Array;
  input: { kind: 'plain' } | { kind: 'rmsnorm'; norm: Float32Array; eps: number } | { kind: 'swiglu'; up: Float32Array };
  /** The residual the product is added to (rows values); absent: y = W·x. */
  residual?: Float32Array;
}

/**
 * The fused decode product (shaders/matvec_fused_f32.wgsl) as the kernels it replaces compute
 * it: rmsnormRef or swigluRef for its x, matvecRef, then the residual add (f64 sums, the input
 * and the result rounded to f32 where the GPU stores them).
 */
export function fusedMatvecRef(a: FusedMatvecRefArgs): Float32Array {
  const x =
    a.input.kind === 'rmsnorm' ? rmsnormRef(a.x, a.input.norm, 1, a.cols, a.input.eps) : a.input.kind === 'swiglu' ? swigluRef(a.x, a.input.up) : a.x;
  const y = Float32Array.from(matvecRef(a.w, a.rows, a.cols, x));
  return a.residual ? addRef(a.residual, y) : y;
}

export interface AttentionRopeShape {
  heads: number;
  kvHeads: number;
  headDim: number;
  pos0: number;
  neox: boolean;
  ropeDims?: number;
  qOffset?: number;
  kOffset?: number;
  vOffset?: number;
  scale?: number;
  softcap?: number;
  window?: number;
}

/**
 * One token through attention.wgsl's decode_rope: ropeKvAppendRef (q rotated, the caches
 * updated in place at row pos0), then attentionRef over them. Returns [heads, headDim].
 */
export function attentionRopeRef(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  invFreq: Float32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  s: AttentionRopeShape,
): Float32Array {
  const qRot = ropeKvAppendRef(q, k, v, invFreq, kCache, vCache, {
    T: 1,
    qHeads: s.heads,
    kvHeads: s.kvHeads,
    headDim: s.headDim,
    pos0: s.pos0,
    neox: s.neox,
    ropeDims: s.ropeDims,
    qOffset: s.qOffset,
    kOffset: s.kOffset,
    vOffset: s.vOffset,
  });
  return attentionRef(qRot, kCache, vCache, { T: 1, heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim, pos0: s.pos0, qOffset: s.qOffset, scale: s.scale, softcap: s.softcap, window: s.window });
}

export interface DecodeLayerRefArgs {
  /** The residual stream in (E values). */
  x: Float32Array;
  attnNorm: Float32Array;
  /** [Q + 2·KV, E]: q, k, v rows. */
  wqkv: Float32Array;
  /** [E, Q]. */
  wo: Float32Array;
  ffnNorm: Float32Array;
  /** [2F, E]: gate rows, then up rows. */
  wgu: Float32Array;
  /** [E, F]. */
  wdown: Float32Array;
  invFreq: Float32Array;
  /** [maxContext, kvHeads, headDim] each; row pos0 is written. */
  kCache: Float32Array;
  vCache: Float32Array;
  shape: { E: number; F: number; heads: number; kvHeads: number; headDim: number; pos0: number; neox: boolean; ropeDims?: number; scale: number; eps: number };
}

/**
 * One block of a one-token decode step (shaders/decode_layer_f32.wgsl) as the five dispatches it
 * replaces compute it: the q | k | v product of the normed x, attention_rope, x + o·att, the
 * gate | up product of the normed x, x + down·swiglu. Returns the new x (E values).
 */
export function decodeLayerRef(a: DecodeLayerRefArgs): Float32Array {
  const s = a.shape;
  const Q = s.heads * s.headDim;
  const KV = s.kvHeads * s.headDim;
  const qkv = fusedMatvecRef({ w: a.wqkv, rows: Q + 2 * KV, cols: s.E, x: a.x, input: { kind: 'rmsnorm', norm: a.attnNorm, eps: s.eps } });
  const att = attentionRopeRef(qkv, qkv, qkv, a.invFreq, a.kCache, a.vCache, {
    heads: s.heads,
    kvHeads: s.kvHeads,
    headDim: s.headDim,
    pos0: s.pos0,
    neox: s.neox,
    ropeDims: s.ropeDims,
    qOffset: 0,
    kOffset: Q,
    vOffset: Q + KV,
    scale: s.scale,
  });
  const x1 = fusedMatvecRef({ w: a.wo, rows: s.E, cols: Q, x: att, input: { kind: 'plain' }, residual: a.x });
  const gu = fusedMatvecRef({ w: a.wgu, rows: 2 * s.F, cols: s.E, x: x1, input: { kind: 'rmsnorm', norm: a.ffnNorm, eps: s.eps } });
  return fusedMatvecRef({ w: a.wdown, rows: s.E, cols: s.F, x: gu.subarray(0, s.F), input: { kind: 'swiglu', up: gu.subarray(s.F) }, residual: x1 });
}
