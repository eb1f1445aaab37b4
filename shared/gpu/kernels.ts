import type { GpuBatch } from './batch';
import type { GpuContext } from './context';
import { ContextWindowExceededError, GpuUsageError } from './errors';
import { params } from './params';

/**
 * Typed encoders for the non-matmul kernels in shaders/ (rmsnorm, rope, kv_append, attention,
 * elementwise, argmax, softmax). `await CoreKernels.create(ctx)` compiles every pipeline once
 * (compile errors surface there); the encoders are then synchronous and only record into a batch.
 * All tensors are f32, row-major, element counts (not bytes) unless a name says otherwise.
 */

const WG_ROW = 64; // rmsnorm: one workgroup per row
const ATTN_WG_MIN = 16; // attention: one workgroup per (token, GH heads), sized to the head (attentionWg)
const ATTN_WG_MAX = 64;
const WG_ELEM = 64; // rope, kv_append: one invocation per pair / element
const WG_WIDE = 256; // elementwise, argmax, softmax; SwiftShader allows 256 invocations at most
const ARGMAX_CHUNK = 4096; // values per workgroup in argmax's first pass
const ATTN_DIMS_PER_INVOCATION = 4; // must match DPT in attention.wgsl
const F32_MIN_NORMAL = 2 ** -126;

type AttnKind = 'main' | 'rope' | 'ropeNeox';
const ATTN_KINDS: AttnKind[] = ['main', 'rope', 'ropeNeox'];

/**
 * The attention shader for heads of headDim values: attention_v4.wgsl (K, V and q read 16 bytes
 * at a time) where headDim is a multiple of 4, attention.wgsl (scalars) otherwise. Same results bit
 * for bit; the 16-byte reads are what lavapipe runs fast (specs/benchmarks.md, "Attention").
 */
export function attentionShader(headDim: number): AttnShader {
  return headDim % 4 === 0 ? 'attention_v4' : 'attention';
}
export type AttnShader = 'attention' | 'attention_v4';

/** The shaders' GH values, largest first (GH_MAX in _attention.wgsl is the first). */
const ATTN_HEADS_PER_WG = [8, 4, 2, 1];

/**
 * Query heads per attention workgroup (the shaders' GH) for heads of a KV group of groupSize:
 * the largest of 8, 4, 2, 1 that divides it. Each key and value row a workgroup reads then serves
 * GH heads; each head's arithmetic is unchanged, so the results are the same bits at any GH.
 */
export function attentionHeadsPerWorkgroup(groupSize: number): number {
  return ATTN_HEADS_PER_WG.find((gh) => groupSize % gh === 0)!;
}

/** Where CoreKernels keeps one attention pipeline and how it is built. */
function attnSpec(kind: AttnKind, wg: number, shader: AttnShader, gh: number): { shader: AttnShader; key: string; entryPoint: string; constants: Record<string, number> } {
  const entryPoint = kind === 'main' ? 'main' : 'decode_rope';
  const constants: Record<string, number> = kind === 'main' ? { WG: wg, GH: gh } : { WG: wg, GH: gh, NEOX: kind === 'ropeNeox' ? 1 : 0 };
  return { shader, key: `${shader}:${kind}@${wg}x${gh}`, entryPoint, constants };
}

/**
 * Attention's workgroup size (attention.wgsl's WG) for a head of headDim values: the next power of
 * two >= headDim, clamped to 16..64 (then to the device's limit). Both entry points, `main` and
 * `decode_rope`, take the same size for the same head, so the fused and unfused decode stay bit
 * for bit (WG sets the online softmax's chunking). Heads of 64 values and more keep 64, as before;
 * small heads (stories260K's 8) take fewer idle invocations: 16 at headDim <= 16, 32 at <= 32.
 */
export function attentionWg(headDim: number, maxInvocations = ATTN_WG_MAX): number {
  let wg = ATTN_WG_MIN;
  while (wg < headDim && wg < ATTN_WG_MAX) wg *= 2;
  return Math.min(wg, maxInvocations);
}

/** A soft-cap the kernels divide by: finite and, in f32, normal (GPUs may flush subnormals to 0). */
function validCap(v: number): boolean {
  return Number.isFinite(v) && Math.fround(v) >= F32_MIN_NORMAL;
}

export interface KvCache {
  k: GPUBuffer;
  v: GPUBuffer;
  maxContext: number;
  kvHeads: number;
  headDim: number;
}

export class CoreKernels {
  private constructor(
    private readonly ctx: GpuContext,
    private readonly p: Record<string, GPUComputePipeline>,
    private readonly attentionModules: Record<AttnShader, GPUShaderModule>,
  ) {}

  static async create(ctx: GpuContext): Promise<CoreKernels> {
    const wg = (n: number) => Math.min(n, ctx.caps.limits.maxComputeInvocationsPerWorkgroup);
    const specs: [string, string, string, Record<string, number>][] = [
      ['rmsnorm', 'rmsnorm', 'main', { WG: wg(WG_ROW) }],
      ['addRmsnorm', 'add_rmsnorm', 'main', { WG: wg(WG_ROW) }],
      ['ropeKvAppend', 'rope_kv_append', 'main', { WG: wg(WG_ELEM), NEOX: 0 }],
      ['ropeKvAppendNeox', 'rope_kv_append', 'main', { WG: wg(WG_ELEM), NEOX: 1 }],
      ['ropeKvAppendPacked', 'rope_kv_append', 'main_packed', { WG: wg(WG_ELEM), NEOX: 0 }],
      ['ropeKvAppendPackedNeox', 'rope_kv_append', 'main_packed', { WG: wg(WG_ELEM), NEOX: 1 }],
      ['rope', 'rope', 'main', { WG: wg(WG_ELEM), NEOX: 0 }],
      ['ropeNeox', 'rope', 'main', { WG: wg(WG_ELEM), NEOX: 1 }],
      ['kvAppend', 'kv_append', 'main', { WG: wg(WG_ELEM) }],
      ['add', 'elementwise', 'add', { WG: wg(WG_WIDE) }],
      ['addInPlace', 'elementwise', 'add_inplace', { WG: wg(WG_WIDE) }],
      ['swiglu', 'elementwise', 'swiglu', { WG: wg(WG_WIDE) }],
      ['swigluFused', 'elementwise', 'swiglu_fused', { WG: wg(WG_WIDE) }],
      ['biasAdd', 'elementwise', 'bias_add', { WG: wg(WG_WIDE) }],
      ['scale', 'elementwise', 'scale', { WG: wg(WG_WIDE) }],
      ['geglu', 'elementwise', 'geglu', { WG: wg(WG_WIDE) }],
      ['softcap', 'elementwise', 'softcap', { WG: wg(WG_WIDE) }],
      ['argmaxChunks', 'argmax', 'argmax_chunks', { WG: wg(WG_WIDE) }],
      ['argmaxFinal', 'argmax', 'argmax_final', { WG: wg(WG_WIDE) }],
      ['softmax', 'softmax', 'main', { WG: wg(WG_WIDE) }],
    ];
    const built = await Promise.all(specs.map(([, shader, entryPoint, constants]) => ctx.pipeline(shader, { entryPoint, constants })));
    const p: Record<string, GPUComputePipeline> = {};
    specs.forEach(([key], i) => (p[key] = built[i]!));
    // Attention's pipelines depend on the head (size, group): prepareAttention or the first encode makes them.
    const attentionModules = { attention: await ctx.shaderModule('attention'), attention_v4: await ctx.shaderModule('attention_v4') };
    return new CoreKernels(ctx, p, attentionModules);
  }

  /**
   * Builds (asynchronously, compile errors as ShaderCompileError) the attention pipelines for
   * heads of headDim values in KV groups of groupSize, so the first pass does not make them:
   * Model's load calls it. Without it, the first encode that needs one makes it.
   */
  async prepareAttention(headDim: number, groupSize = 1): Promise<void> {
    const wg = attentionWg(headDim, this.ctx.caps.limits.maxComputeInvocationsPerWorkgroup);
    const gh = attentionHeadsPerWorkgroup(groupSize);
    await Promise.all(
      ATTN_KINDS.map(async (kind) => {
        const s = attnSpec(kind, wg, attentionShader(headDim), gh);
        this.p[s.key] ??= await this.ctx.pipeline(s.shader, { entryPoint: s.entryPoint, constants: s.constants });
      }),
    );
  }

  /**
   * The attention pipeline of one entry point for a head (attentionShader, attentionWg,
   * attentionHeadsPerWorkgroup unless forced): the one prepareAttention built, else made here
   * (synchronously: the encoders only record; the module compiled at create, only the overrides
   * differ) and kept.
   */
  private attnPipeline(kind: AttnKind, headDim: number, groupSize: number, force: { shader?: AttnShader; headsPerWorkgroup?: number }): { pipeline: GPUComputePipeline; wg: number; gh: number } {
    const shader = force.shader ?? attentionShader(headDim);
    if (shader === 'attention_v4' && headDim % 4 !== 0) throw new GpuUsageError(`attention_v4 takes heads of a multiple of 4 values, got ${headDim}`);
    const gh = force.headsPerWorkgroup ?? attentionHeadsPerWorkgroup(groupSize);
    if (!ATTN_HEADS_PER_WG.includes(gh) || groupSize % gh !== 0) throw new GpuUsageError(`attention: heads per workgroup must be 1, 2, 4 or 8 and divide the KV group's ${groupSize} heads, got ${gh}`);
    const wg = attentionWg(headDim, this.ctx.caps.limits.maxComputeInvocationsPerWorkgroup);
    const s = attnSpec(kind, wg, shader, gh);
    let pipeline = this.p[s.key];
    if (!pipeline) {
      pipeline = this.ctx.device.createComputePipeline({
        label: `${s.shader}:${s.entryPoint}`,
        layout: 'auto',
        compute: { module: this.attentionModules[s.shader], entryPoint: s.entryPoint, constants: s.constants },
      });
      this.p[s.key] = pipeline;
    }
    return { pipeline, wg, gh };
  }

  private wg(n: number): number {
    return Math.min(n, this.ctx.caps.limits.maxComputeInvocationsPerWorkgroup);
  }

  /** y[r, :] = x[r, :] / rms(x[r, :]) * w; y must not alias x. */
  rmsnorm(b: GpuBatch, a: { x: GPUBuffer; w: GPUBuffer; y: GPUBuffer; rows: number; n: number; eps: number }): void {
    b.dispatch(this.p.rmsnorm!, [b.uniform(params().u32(a.rows).u32(a.n).f32(a.eps)), a.x, a.w, a.y], a.rows, 'rmsnorm');
  }

  /**
   * x[r, :] += d[r, :], then y[r, :] = x[r, :] / rms(x[r, :]) * w: addInPlace and rmsnorm in one
   * dispatch, with identical results. d and y must be distinct buffers, neither x.
   */
  addRmsnorm(b: GpuBatch, a: { x: GPUBuffer; d: GPUBuffer; w: GPUBuffer; y: GPUBuffer; rows: number; n: number; eps: number }): void {
    if (a.d === a.x || a.y === a.x || a.y === a.d) throw new GpuUsageError('addRmsnorm: x, d and y must be three different buffers');
    b.dispatch(this.p.addRmsnorm!, [b.uniform(params().u32(a.rows).u32(a.n).f32(a.eps)), a.x, a.d, a.w, a.y], a.rows, 'add_rmsnorm');
  }

  /**
   * rope on q, rope on k and kvAppend in one dispatch, with identical results in q and in the
   * cache; k's own buffer is left unrotated (attention reads K from the cache only). Rows of q,
   * k and v are `*Stride` elements apart from `*Offset` (defaults: packed rows from 0). q, k and v
   * are three buffers (k and v may share one), or one [T, q | k | v] buffer given as all three
   * (a stacked or fused QKV product; then read through one binding). Throws ContextWindowExceededError when
   * the tokens do not fit the cache.
   */
  ropeKvAppend(
    b: GpuBatch,
    a: {
      q: GPUBuffer;
      k: GPUBuffer;
      v: GPUBuffer;
      cache: KvCache;
      invFreq: GPUBuffer;
      T: number;
      qHeads: number;
      pos0: number;
      neox: boolean;
      ropeDims?: number;
      qStride?: number;
      qOffset?: number;
      kStride?: number;
      kOffset?: number;
      vStride?: number;
      vOffset?: number;
    },
  ): void {
    const c = a.cache;
    const hd = c.headDim;
    const rd = a.ropeDims ?? hd;
    if (!Number.isInteger(rd) || rd % 2 || rd < 2 || rd > hd) throw new GpuUsageError(`ropeKvAppend: ropeDims must be an even integer in 2..headDim (${hd}), got ${rd}`);
    if (a.invFreq.size < (rd / 2) * 4) throw new GpuUsageError(`ropeKvAppend: invFreq needs ${rd / 2} values (${(rd / 2) * 4} bytes), got ${a.invFreq.size} bytes`);
    const packed = a.q === a.k && a.q === a.v;
    if (!packed && (a.q === a.k || a.q === a.v)) throw new GpuUsageError('ropeKvAppend: q shares its buffer with k or v but not both: give three buffers or one packed [T, q | k | v] buffer');
    if (a.pos0 + a.T > c.maxContext) throw new ContextWindowExceededError(a.pos0 + a.T, c.maxContext);
    const width = c.kvHeads * hd;
    const u = params()
      .u32(a.T)
      .u32(a.qHeads)
      .u32(c.kvHeads)
      .u32(hd)
      .u32(a.pos0)
      .u32(rd)
      .u32(a.qStride ?? a.qHeads * hd)
      .u32(a.qOffset ?? 0)
      .u32(a.kStride ?? width)
      .u32(a.kOffset ?? 0)
      .u32(a.vStride ?? width)
      .u32(a.vOffset ?? 0);
    const n = (a.T * a.qHeads * rd) / 2 + a.T * width;
    const pipeline = packed ? (a.neox ? this.p.ropeKvAppendPackedNeox! : this.p.ropeKvAppendPacked!) : a.neox ? this.p.ropeKvAppendNeox! : this.p.ropeKvAppend!;
    const bindings = packed ? [b.uniform(u), a.q, undefined, undefined, a.invFreq, c.k, c.v] : [b.uniform(u), a.q, a.k, a.v, a.invFreq, c.k, c.v];
    b.dispatch(pipeline, bindings, Math.ceil(n / this.wg(WG_ELEM)), 'rope_kv_append');
  }

  /**
   * Rotates x = [T, heads, headDim] in place (rows `stride` apart from `offset`, in elements) for
   * positions pos0..; invFreq = [>= ropeDims / 2] (reference ropeInvFreq). Only the first
   * ropeDims dims of each head rotate (even, 2..headDim; default headDim), the rest pass through.
   * Pairs: normal (2i, 2i+1); neox (i, i + ropeDims/2), i < ropeDims/2.
   */
  rope(
    b: GpuBatch,
    a: {
      x: GPUBuffer;
      invFreq: GPUBuffer;
      T: number;
      heads: number;
      headDim: number;
      pos0: number;
      neox: boolean;
      stride?: number;
      offset?: number;
      ropeDims?: number;
    },
  ): void {
    const rd = a.ropeDims ?? a.headDim;
    if (a.ropeDims === undefined) {
      if (a.headDim % 2) throw new GpuUsageError(`rope: headDim must be even, got ${a.headDim}`);
    } else if (!Number.isInteger(rd) || rd % 2 || rd < 2 || rd > a.headDim) {
      throw new GpuUsageError(`rope: ropeDims must be an even integer in 2..headDim (${a.headDim}), got ${a.ropeDims}`);
    }
    // The kernel reads invFreq[0 .. ropeDims/2); a shorter table would read out of bounds.
    if (a.invFreq.size < (rd / 2) * 4) throw new GpuUsageError(`rope: invFreq needs ${rd / 2} values (${(rd / 2) * 4} bytes), got ${a.invFreq.size} bytes`);
    const u = params()
      .u32(a.T)
      .u32(a.heads)
      .u32(a.headDim)
      .u32(a.pos0)
      .u32(a.stride ?? a.heads * a.headDim)
      .u32(a.offset ?? 0)
      .u32(rd);
    const pairs = (a.T * a.heads * rd) / 2;
    b.dispatch(a.neox ? this.p.ropeNeox! : this.p.rope!, [b.uniform(u), a.x, a.invFreq], Math.ceil(pairs / this.wg(WG_ELEM)), 'rope');
  }

  /** Allocates one layer's K and V caches, [maxContext, kvHeads, headDim] f32 each. */
  createKvCache(maxContext: number, kvHeads: number, headDim: number, label = 'kv'): KvCache {
    const bytes = maxContext * kvHeads * headDim * 4;
    return {
      k: this.ctx.storage(bytes, `${label}.k`),
      v: this.ctx.storage(bytes, `${label}.v`),
      maxContext,
      kvHeads,
      headDim,
    };
  }

  /**
   * Writes T tokens' K and V into the cache at rows pos0..pos0+T-1. Sources are rows of
   * kvHeads * headDim values, `kStride`/`vStride` apart from `kOffset`/`vOffset` (fused QKV works).
   * Throws ContextWindowExceededError when they do not fit.
   */
  kvAppend(
    b: GpuBatch,
    a: { cache: KvCache; k: GPUBuffer; v: GPUBuffer; T: number; pos0: number; kStride?: number; kOffset?: number; vStride?: number; vOffset?: number },
  ): void {
    const c = a.cache;
    if (a.pos0 + a.T > c.maxContext) throw new ContextWindowExceededError(a.pos0 + a.T, c.maxContext);
    const width = c.kvHeads * c.headDim;
    const u = params()
      .u32(a.T)
      .u32(width)
      .u32(a.pos0)
      .u32(a.kStride ?? width)
      .u32(a.kOffset ?? 0)
      .u32(a.vStride ?? width)
      .u32(a.vOffset ?? 0);
    b.dispatch(this.p.kvAppend!, [b.uniform(u), a.k, a.v, c.k, c.v], Math.ceil((a.T * width) / this.wg(WG_ELEM)), 'kv_append');
  }

  /**
   * Causal GQA attention of T queries at positions pos0.. over cache rows 0..pos0+T-1 (append
   * first). q rows `qStride` apart from `qOffset`; out = [T, heads, headDim].
   * softcap > 0: each scaled score s becomes softcap * tanh(s / softcap) (Gemma 2); 0 = off.
   * window > 0: the query at position p sees keys p - window + 1 .. p only (sliding window,
   * Gemma 2/3 local layers); 0 = all keys 0..p.
   */
  attention(
    b: GpuBatch,
    a: {
      q: GPUBuffer;
      cache: KvCache;
      out: GPUBuffer;
      T: number;
      heads: number;
      pos0: number;
      qStride?: number;
      qOffset?: number;
      scale?: number;
      softcap?: number;
      window?: number;
      /** Which of the two shaders (tests, benchmarks); by default attentionShader(headDim). */
      shader?: AttnShader;
      /** Query heads per workgroup (tests, benchmarks); by default attentionHeadsPerWorkgroup(heads / kvHeads). */
      headsPerWorkgroup?: number;
    },
  ): void {
    const c = a.cache;
    const hd = c.headDim;
    const softcap = a.softcap ?? 0;
    const window = a.window ?? 0;
    if (a.heads % c.kvHeads) throw new GpuUsageError(`attention: heads (${a.heads}) must be a multiple of kvHeads (${c.kvHeads})`);
    const attn = this.attnPipeline('main', hd, a.heads / c.kvHeads, a);
    if (hd > ATTN_DIMS_PER_INVOCATION * attn.wg) throw new GpuUsageError(`attention: headDim ${hd} exceeds ${ATTN_DIMS_PER_INVOCATION * attn.wg}`);
    if (softcap !== 0 && !validCap(softcap)) throw new GpuUsageError(`attention: softcap must be 0 (off) or a finite number > 0, got ${a.softcap}`);
    if (!Number.isInteger(window) || window < 0 || window > 0xffffffff) throw new GpuUsageError(`attention: window must be a u32 (0 = unlimited), got ${a.window}`);
    if (a.pos0 + a.T > c.maxContext) throw new ContextWindowExceededError(a.pos0 + a.T, c.maxContext);
    const u = params()
      .u32(a.T)
      .u32(a.heads)
      .u32(c.kvHeads)
      .u32(hd)
      .u32(a.pos0)
      .u32(a.qStride ?? a.heads * hd)
      .u32(a.qOffset ?? 0)
      .f32(a.scale ?? 1 / Math.sqrt(hd))
      .f32(softcap)
      .u32(window)
      .u32(0) // ropeDims, kOffset, vOffset: decode_rope's
      .u32(0)
      .u32(0);
    b.dispatch(attn.pipeline, [b.uniform(u), a.q, c.k, c.v, a.out], a.T * (a.heads / attn.gh), 'attention');
  }

  /**
   * One token (at pos0): ropeKvAppend then attention in one dispatch (attention.wgsl's
   * decode_rope), with identical results in out and in the cache. q, k and v are read, never
   * written (q and k's buffers stay unrotated; they may all be one [q | k | v] buffer): head h of
   * q at qOffset + h * headDim, KV head g of k and v at kOffset / vOffset + g * headDim.
   * Throws ContextWindowExceededError when the token does not fit the cache.
   */
  attentionRope(
    b: GpuBatch,
    a: {
      q: GPUBuffer;
      k: GPUBuffer;
      v: GPUBuffer;
      cache: KvCache;
      out: GPUBuffer;
      invFreq: GPUBuffer;
      heads: number;
      pos0: number;
      neox: boolean;
      ropeDims?: number;
      qOffset?: number;
      kOffset?: number;
      vOffset?: number;
      scale?: number;
      softcap?: number;
      window?: number;
      /** Which of the two shaders (tests, benchmarks); by default attentionShader(headDim). */
      shader?: AttnShader;
      /** Query heads per workgroup (tests, benchmarks); by default attentionHeadsPerWorkgroup(heads / kvHeads). */
      headsPerWorkgroup?: number;
    },
  ): void {
    const c = a.cache;
    const hd = c.headDim;
    const rd = a.ropeDims ?? hd;
    const softcap = a.softcap ?? 0;
    const window = a.window ?? 0;
    if (a.heads % c.kvHeads) throw new GpuUsageError(`attentionRope: heads (${a.heads}) must be a multiple of kvHeads (${c.kvHeads})`);
    const attn = this.attnPipeline(a.neox ? 'ropeNeox' : 'rope', hd, a.heads / c.kvHeads, a);
    if (hd > ATTN_DIMS_PER_INVOCATION * attn.wg) throw new GpuUsageError(`attentionRope: headDim ${hd} exceeds ${ATTN_DIMS_PER_INVOCATION * attn.wg}`);
    if (!Number.isInteger(rd) || rd % 2 || rd < 2 || rd > hd) throw new GpuUsageError(`attentionRope: ropeDims must be an even integer in 2..headDim (${hd}), got ${rd}`);
    if (a.invFreq.size < (rd / 2) * 4) throw new GpuUsageError(`attentionRope: invFreq needs ${rd / 2} values (${(rd / 2) * 4} bytes), got ${a.invFreq.size} bytes`);
    if (softcap !== 0 && !validCap(softcap)) throw new GpuUsageError(`attentionRope: softcap must be 0 (off) or a finite number > 0, got ${a.softcap}`);
    if (!Number.isInteger(window) || window < 0 || window > 0xffffffff) throw new GpuUsageError(`attentionRope: window must be a u32 (0 = unlimited), got ${a.window}`);
    if (a.pos0 + 1 > c.maxContext) throw new ContextWindowExceededError(a.pos0 + 1, c.maxContext);
    const u = params()
      .u32(1)
      .u32(a.heads)
      .u32(c.kvHeads)
      .u32(hd)
      .u32(a.pos0)
      .u32(a.heads * hd)
      .u32(a.qOffset ?? 0)
      .f32(a.scale ?? 1 / Math.sqrt(hd))
      .f32(softcap)
      .u32(window)
      .u32(rd)
      .u32(a.kOffset ?? 0)
      .u32(a.vOffset ?? 0);
    b.dispatch(attn.pipeline, [b.uniform(u), a.q, c.k, c.v, a.out, a.k, a.v, a.invFreq], a.heads / attn.gh, 'attention_rope');
  }

  private elementwise(b: GpuBatch, key: string, n: number, cols: number, s: number, bindings: (GPUBuffer | undefined)[], label: string): void {
    b.dispatch(this.p[key]!, [b.uniform(params().u32(n).u32(cols).f32(s)), ...bindings], Math.ceil(n / this.wg(WG_WIDE)), label);
  }

  /** out = a + b over n elements. */
  add(b: GpuBatch, a: { a: GPUBuffer; b: GPUBuffer; out: GPUBuffer; n: number }): void {
    this.elementwise(b, 'add', a.n, 1, 0, [a.a, a.b, a.out], 'add');
  }

  /** x += b (residual add). */
  addInPlace(b: GpuBatch, a: { x: GPUBuffer; b: GPUBuffer; n: number }): void {
    this.elementwise(b, 'addInPlace', a.n, 1, 0, [a.x, a.b], 'add_inplace');
  }

  /** out = silu(gate) * up over n elements. */
  swiglu(b: GpuBatch, a: { gate: GPUBuffer; up: GPUBuffer; out: GPUBuffer; n: number }): void {
    this.elementwise(b, 'swiglu', a.n, 1, 0, [a.gate, a.up, a.out], 'swiglu');
  }

  /** x = [T, 2 * cols] (gate | up per row) -> out = [T, cols]. */
  swigluFused(b: GpuBatch, a: { x: GPUBuffer; out: GPUBuffer; T: number; cols: number }): void {
    this.elementwise(b, 'swigluFused', a.T * a.cols, a.cols, 0, [a.x, undefined, a.out], 'swiglu_fused');
  }

  /** x[t, c] += bias[c] for x = [T, cols]. */
  biasAdd(b: GpuBatch, a: { x: GPUBuffer; bias: GPUBuffer; T: number; cols: number }): void {
    this.elementwise(b, 'biasAdd', a.T * a.cols, a.cols, 0, [a.x, a.bias], 'bias_add');
  }

  /** x *= s over n elements. */
  scale(b: GpuBatch, a: { x: GPUBuffer; n: number; s: number }): void {
    this.elementwise(b, 'scale', a.n, 1, a.s, [a.x], 'scale');
  }

  /** out = gelu(gate) * up over n elements (GELU's tanh approximation, as ggml_gelu; Gemma's FFN). */
  geglu(b: GpuBatch, a: { gate: GPUBuffer; up: GPUBuffer; out: GPUBuffer; n: number }): void {
    this.elementwise(b, 'geglu', a.n, 1, 0, [a.gate, a.up, a.out], 'geglu');
  }

  /** x = cap * tanh(x / cap) in place over n elements, cap > 0 (Gemma 2's final logit soft-capping). */
  softcap(b: GpuBatch, a: { x: GPUBuffer; n: number; cap: number }): void {
    if (!validCap(a.cap)) throw new GpuUsageError(`softcap: cap must be a finite number > 0, got ${a.cap}`);
    this.elementwise(b, 'softcap', a.n, 1, a.cap, [a.x], 'softcap');
  }

  /** Bytes of scratch that argmax needs for n values. */
  static argmaxScratchBytes(n: number): number {
    return Math.max(1, Math.ceil(n / ARGMAX_CHUNK)) * 8;
  }

  /**
   * Argmax of x[offset .. offset + n). out (>= 8 bytes) receives { value: f32, index: u32 }; index
   * is relative to offset (0xffffffff when every value is NaN). scratch: argmaxScratchBytes(n).
   */
  argmax(b: GpuBatch, a: { x: GPUBuffer; n: number; offset?: number; out: GPUBuffer; scratch: GPUBuffer }): void {
    const parts = Math.max(1, Math.ceil(a.n / ARGMAX_CHUNK));
    if (a.scratch.size < parts * 8) throw new GpuUsageError(`argmax: scratch needs ${parts * 8} bytes, got ${a.scratch.size}`);
    const u = params().u32(a.n).u32(ARGMAX_CHUNK).u32(a.offset ?? 0).u32(parts);
    const ub = b.uniform(u);
    // One chunk: its pair is the answer (argmax_final of one pair returns it unchanged), so the
    // chunk pass writes it to out and the second dispatch is not needed (issue 15 §3).
    if (parts === 1 && a.n > 0) {
      b.dispatch(this.p.argmaxChunks!, [ub, a.x, a.out], 1, 'argmax_chunks');
      return;
    }
    b.dispatch(this.p.argmaxChunks!, [ub, a.x, a.scratch], parts, 'argmax_chunks');
    b.dispatch(this.p.argmaxFinal!, [ub, undefined, a.scratch, a.out], 1, 'argmax_final');
  }

  /** out[r, :] = softmax(x[rowOffset + r * n ..] / temperature), temperature > 0. */
  softmax(b: GpuBatch, a: { x: GPUBuffer; out: GPUBuffer; rows: number; n: number; temperature?: number; rowOffset?: number }): void {
    const temp = a.temperature ?? 1;
    if (!(temp > 0)) throw new GpuUsageError(`softmax: temperature must be > 0 (use argmax for greedy), got ${temp}`);
    const u = params().u32(a.rows).u32(a.n).f32(1 / temp).u32(a.rowOffset ?? 0);
    b.dispatch(this.p.softmax!, [b.uniform(u), a.x, a.out], a.rows, 'softmax');
  }
}
