/**
 * Host side of shaders/decode_layer_f32.wgsl: a whole block of a one-token decode step in one
 * dispatch of one workgroup (issue 15 §3). For a stories260K-sized model the five dispatches of a
 * fused block cost more than their work; one costs a fifth of that. The block's weights are copied
 * at load into one buffer per block (the pack), so that the kernel binds six buffers whatever the
 * device's per-stage limit; for the models it is taken on (every activation within the device's
 * workgroup memory) the copy is small, and it is counted in the model's weight memory.
 */
import { GpuUsageError, params, type GpuBatch, type GpuBinding, type GpuContext } from '../gpu';
import { attentionWg } from '../gpu/kernels';

export const DECODE_LAYER_SHADER = 'decode_layer_f32';
export const DECODE_LAYER_ENTRY = 'main';
/** Most invocations of the one workgroup (fewer where the heads need fewer, or the device allows fewer). */
export const DECODE_LAYER_WG = 256;
/** Output dims per attention invocation (attention.wgsl's DPT). */
const DPT = 4;

export interface DecodeLayerShape {
  /** Embedding width (x's length). */
  E: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Feed-forward width (gate and up each have F rows). */
  F: number;
  ropeDims: number;
  neox: boolean;
}

/** Where each of a block's tensors starts in its pack, in vec4s (16 bytes), and the pack's length. */
export interface DecodeLayerOffsets {
  attnNorm: number;
  qkv: number;
  o: number;
  ffnNorm: number;
  gu: number;
  down: number;
  vec4s: number;
}

export interface DecodeLayerPlan {
  shape: DecodeLayerShape;
  offsets: DecodeLayerOffsets;
  wg: number;
  aw: number;
  constants: Record<string, number>;
  /** Workgroup memory the kernel declares, bytes. */
  workgroupBytes: number;
}

export function layerOffsets(s: DecodeLayerShape): DecodeLayerOffsets {
  const Q = s.heads * s.headDim;
  const KV = s.kvHeads * s.headDim;
  const E4 = s.E / 4;
  const attnNorm = 0;
  const qkv = attnNorm + E4;
  const o = qkv + (Q + 2 * KV) * E4;
  const ffnNorm = o + s.E * (Q / 4);
  const gu = ffnNorm + E4;
  const down = gu + 2 * s.F * E4;
  return { attnNorm, qkv, o, ffnNorm, gu, down, vec4s: down + s.E * (s.F / 4) };
}

/**
 * The kernel's plan for a block shape on a device, or why it cannot take it (a reason, not an
 * error: the engine then keeps the per-product path).
 */
export function planDecodeLayer(s: DecodeLayerShape, limits: { maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number }): DecodeLayerPlan | { unfit: string } {
  const Q = s.heads * s.headDim;
  const KV = s.kvHeads * s.headDim;
  for (const [k, v] of Object.entries({ E: s.E, heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim, F: s.F, ropeDims: s.ropeDims })) {
    if (!Number.isInteger(v) || v < 1) throw new GpuUsageError(`decode layer: ${k} must be a positive integer, got ${v}`);
  }
  if (s.heads % s.kvHeads) throw new GpuUsageError(`decode layer: heads (${s.heads}) must be a multiple of kvHeads (${s.kvHeads})`);
  if (s.ropeDims % 2 || s.ropeDims > s.headDim) throw new GpuUsageError(`decode layer: ropeDims must be even and at most headDim (${s.headDim}), got ${s.ropeDims}`);
  if (s.E % 4 || s.F % 4 || Q % 4) return { unfit: `widths must be multiples of 4 (E ${s.E}, F ${s.F}, heads·headDim ${Q})` };
  const aw = attentionWg(s.headDim, limits.maxComputeInvocationsPerWorkgroup);
  // Enough invocations for every head at once, no more: on a CPU adapter each barrier costs a
  // pass over all of them (stories260K: 8 heads of AW 16 take 128).
  let wg = 64;
  while (wg < s.heads * aw && wg < DECODE_LAYER_WG) wg *= 2;
  wg = Math.min(wg, limits.maxComputeInvocationsPerWorkgroup);
  if (aw > wg || s.headDim > DPT * aw) return { unfit: `a head of ${s.headDim} values needs more than ${wg} invocations` };
  const G = Math.min(s.heads, Math.floor(wg / aw));
  const HS = G * s.headDim;
  const R = Q + 2 * KV;
  // xs, qkv, att, gu, act, ps, pw, qs, kn, vn (f32 each).
  const floats = s.E + R + Q + 2 * s.F + s.F + 2 * wg + 3 * HS;
  const workgroupBytes = 4 * floats;
  if (workgroupBytes > limits.maxComputeWorkgroupStorageSize) {
    return { unfit: `its activations need ${workgroupBytes} bytes of workgroup memory; the device has ${limits.maxComputeWorkgroupStorageSize}` };
  }
  return {
    shape: s,
    offsets: layerOffsets(s),
    wg,
    aw,
    constants: { WG: wg, AW: aw, NEOX: s.neox ? 1 : 0, E4: s.E / 4, R, Q4: Q / 4, F4: s.F / 4, HS },
    workgroupBytes,
  };
}

/** One block's weights as the kernel reads them: each a buffer (or row parts) of f32 values. */
export interface LayerWeights {
  attnNorm: GPUBuffer;
  /** [Q + 2·KV, E]: q, k, v rows. */
  qkv: readonly { buffer: GPUBuffer; rowStart: number; rows: number }[];
  /** [E, Q]. */
  o: readonly { buffer: GPUBuffer; rowStart: number; rows: number }[];
  ffnNorm: GPUBuffer;
  /** [2F, E]: gate rows, then up rows. */
  gu: readonly { buffer: GPUBuffer; rowStart: number; rows: number }[];
  /** [E, F]. */
  down: readonly { buffer: GPUBuffer; rowStart: number; rows: number }[];
}

/** Copies a block's weights into a new pack buffer (on the queue, after what was submitted). */
export function packLayer(ctx: GpuContext, plan: DecodeLayerPlan, w: LayerWeights, label: string): GPUBuffer {
  const { shape: s, offsets: o } = plan;
  const Q = s.heads * s.headDim;
  const pack = ctx.storage(o.vec4s * 16, label);
  const vec = (src: GPUBuffer, at: number, n: number) => ctx.copyBuffer(src, 0, pack, at * 16, n * 4);
  const mat = (parts: LayerWeights['qkv'], at: number, cols: number) => {
    for (const p of parts) ctx.copyBuffer(p.buffer, 0, pack, (at * 4 + p.rowStart * cols) * 4, p.rows * cols * 4);
  };
  vec(w.attnNorm, o.attnNorm, s.E);
  mat(w.qkv, o.qkv, s.E);
  mat(w.o, o.o, Q);
  vec(w.ffnNorm, o.ffnNorm, s.E);
  mat(w.gu, o.gu, s.E);
  mat(w.down, o.down, s.F);
  return pack;
}

export interface DecodeLayerArgs {
  pos0: number;
  /** q's scale after RoPE (1/sqrt(headDim) times the architecture's factors). */
  scale: number;
  eps: number;
}

/** Records one block of a one-token step: x (E values) in and out; row pos0 of the caches written. */
export function recordDecodeLayer(
  b: GpuBatch,
  pipeline: GPUComputePipeline,
  plan: DecodeLayerPlan,
  a: DecodeLayerArgs,
  bindings: { pack: GpuBinding; x: GpuBinding; kCache: GpuBinding; vCache: GpuBinding; invFreq: GpuBinding },
  label: string,
): void {
  const s = plan.shape;
  const o = plan.offsets;
  if (!Number.isInteger(a.pos0) || a.pos0 < 0) throw new GpuUsageError(`decode layer: pos0 must be a non-negative integer, got ${a.pos0}`);
  const u = params()
    .u32(s.E)
    .u32(s.heads * s.headDim)
    .u32(s.kvHeads * s.headDim)
    .u32(s.F)
    .u32(s.heads)
    .u32(s.kvHeads)
    .u32(s.headDim)
    .u32(a.pos0)
    .u32(s.ropeDims)
    .u32(o.attnNorm)
    .u32(o.qkv)
    .u32(o.o)
    .u32(o.ffnNorm)
    .u32(o.gu)
    .u32(o.down)
    .f32(a.scale)
    .f32(a.eps);
  b.dispatch(pipeline, [b.uniform(u), bindings.pack, bindings.x, bindings.kCache, bindings.vCache, bindings.invFreq], 1, label);
}
