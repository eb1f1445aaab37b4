import type { GpuBatch, GpuBinding } from '../gpu/batch';
import type { GpuContext } from '../gpu/context';
import { GpuUsageError } from '../gpu/errors';
import { params } from '../gpu/params';
import { dropoutKeep, dropoutScale } from './dropout';

/**
 * Typed encoders for the training kernels of a transformer block other than the matrix products
 * (shaders/train_rmsnorm, train_rope, train_attention, train_elementwise; specs/training.md,
 * "Block kernels"). `await BlockKernels.create(ctx)` compiles every pipeline once; the encoders
 * are synchronous and only record into a batch.
 *
 * Every tensor is a GpuBinding (a buffer or a 256-byte-aligned range of one), f32, row-major;
 * N = B·T rows, row n has position n % T. Gradients of parameters always accumulate (+=; the
 * caller zeroes them at the start of a step); gradients of activations are written, or added
 * where an `accumulate…` flag says so. Every kernel is deterministic (no float atomics).
 */

const WG_ROW = 64; // rmsnorm: one workgroup per row
const WG_PAIR = 64; // rope: one invocation per pair
const WG_WIDE = 256; // element-wise
const DW_COLS = 32; // must match DW_COLS in train_rmsnorm.wgsl
const ATT_TILE = 32; // generic attention path: must match TILE in train_attention.wgsl
const ATT_ROWS_PER_WG = 8; // generic softmax_fwd / softmax_bwd rows per workgroup
const ATT_FAST_ROWS = 64; // fast attention path: rows per workgroup, ROWS in train_attention.wgsl
// Attention takes the fast path (3 dispatches, vec4 loads) when headDim % 4 == 0, which every real
// head size is; other head dims take the generic tiled path (7 dispatches), ~10x slower on lavapipe.

interface AttentionShape {
  batch: number;
  seqLen: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

export class BlockKernels {
  private constructor(
    private readonly ctx: GpuContext,
    private readonly p: Record<string, GPUComputePipeline>,
  ) {}

  static async create(ctx: GpuContext): Promise<BlockKernels> {
    const wg = (n: number) => Math.min(n, ctx.caps.limits.maxComputeInvocationsPerWorkgroup);
    const specs: [string, string, string, Record<string, number>][] = [
      ['rmsFwd', 'train_rmsnorm', 'forward', { WG: wg(WG_ROW) }],
      ['rmsBwdDx', 'train_rmsnorm', 'backward_dx', { WG: wg(WG_ROW) }],
      ['rmsBwdDw', 'train_rmsnorm', 'backward_dw', {}],
      ['ropeFwd', 'train_rope', 'main', { WG: wg(WG_PAIR), NEOX: 0, BACKWARD: 0 }],
      ['ropeFwdNeox', 'train_rope', 'main', { WG: wg(WG_PAIR), NEOX: 1, BACKWARD: 0 }],
      ['ropeBwd', 'train_rope', 'main', { WG: wg(WG_PAIR), NEOX: 0, BACKWARD: 1 }],
      ['ropeBwdNeox', 'train_rope', 'main', { WG: wg(WG_PAIR), NEOX: 1, BACKWARD: 1 }],
      ['attFwd', 'train_attention', 'fwd', {}],
      ['attBwdQ', 'train_attention', 'bwd_q', {}],
      ['attBwdKv', 'train_attention', 'bwd_kv', {}],
      ['attScores', 'train_attention', 'scores', {}],
      ['attSoftmaxFwd', 'train_attention', 'softmax_fwd', {}],
      ['attSoftmaxBwd', 'train_attention', 'softmax_bwd', {}],
      ['attPv', 'train_attention', 'pv', {}],
      ['attPtv', 'train_attention', 'ptv', {}],
      ['swigluFwd', 'train_elementwise', 'swiglu_fwd', { WG: wg(WG_WIDE) }],
      ['swigluBwd', 'train_elementwise', 'swiglu_bwd', { WG: wg(WG_WIDE) }],
      ['add', 'train_elementwise', 'add', { WG: wg(WG_WIDE) }],
      ['addInPlace', 'train_elementwise', 'add_inplace', { WG: wg(WG_WIDE) }],
      ['scale', 'train_elementwise', 'scale', { WG: wg(WG_WIDE) }],
      ['dropout', 'train_elementwise', 'dropout', { WG: wg(WG_WIDE) }],
    ];
    const built = await Promise.all(specs.map(([, shader, entryPoint, constants]) => ctx.pipeline(shader, { entryPoint, constants })));
    const p: Record<string, GPUComputePipeline> = {};
    specs.forEach(([key], i) => (p[key] = built[i]!));
    return new BlockKernels(ctx, p);
  }

  private wg(n: number): number {
    return Math.min(n, this.ctx.caps.limits.maxComputeInvocationsPerWorkgroup);
  }

  /** Throws unless `binding` holds at least `elems` f32 values at an aligned offset. */
  private need(op: string, name: string, binding: GpuBinding, elems: number): void {
    const whole = !('buffer' in binding);
    const buffer = whole ? binding : binding.buffer;
    const offset = whole ? 0 : (binding.offset ?? 0);
    const size = whole ? buffer.size : (binding.size ?? buffer.size - offset);
    const align = this.ctx.caps.limits.minStorageBufferOffsetAlignment || 256;
    if (offset % align) throw new GpuUsageError(`${op}: ${name} offset ${offset} is not a multiple of ${align}`);
    if (size < elems * 4) throw new GpuUsageError(`${op}: ${name} holds ${size} bytes, needs ${elems * 4} (${elems} f32)`);
  }

  private positive(op: string, dims: Record<string, number>): void {
    for (const [k, v] of Object.entries(dims)) {
      if (!Number.isInteger(v) || v < 1) throw new GpuUsageError(`${op}: ${k} must be a positive integer, got ${v}`);
    }
  }

  // ---- rmsnorm --------------------------------------------------------------------------

  /** y = x·rstd·w with rstd[r] = 1/√(mean(x[r]²)+eps), kept for the backward pass. y must not alias x. */
  rmsnormForward(
    b: GpuBatch,
    a: { x: GpuBinding; w: GpuBinding; y: GpuBinding; rstd: GpuBinding; rows: number; dim: number; eps: number },
  ): void {
    const op = 'rmsnormForward';
    this.positive(op, { rows: a.rows, dim: a.dim });
    const n = a.rows * a.dim;
    this.need(op, 'x', a.x, n);
    this.need(op, 'w', a.w, a.dim);
    this.need(op, 'y', a.y, n);
    this.need(op, 'rstd', a.rstd, a.rows);
    const u = b.uniform(params().u32(a.rows).u32(a.dim).f32(a.eps).u32(0));
    b.dispatch(this.p.rmsFwd!, [u, a.x, a.w, a.y, a.rstd], a.rows, 'train_rmsnorm_fwd');
  }

  /**
   * dx = rstd·w·dy − x·rstd³·Σ(dy·w·x)/dim (written, or added with accumulateDx); dw += Σ_rows
   * dy·x·rstd (rows summed in a fixed order). dx must not alias dy or x.
   */
  rmsnormBackward(
    b: GpuBatch,
    a: {
      dy: GpuBinding;
      x: GpuBinding;
      w: GpuBinding;
      rstd: GpuBinding;
      dx: GpuBinding;
      dw: GpuBinding;
      rows: number;
      dim: number;
      accumulateDx?: boolean;
    },
  ): void {
    const op = 'rmsnormBackward';
    this.positive(op, { rows: a.rows, dim: a.dim });
    const n = a.rows * a.dim;
    this.need(op, 'dy', a.dy, n);
    this.need(op, 'x', a.x, n);
    this.need(op, 'w', a.w, a.dim);
    this.need(op, 'rstd', a.rstd, a.rows);
    this.need(op, 'dx', a.dx, n);
    this.need(op, 'dw', a.dw, a.dim);
    const u = b.uniform(params().u32(a.rows).u32(a.dim).f32(0).u32(a.accumulateDx ? 1 : 0));
    b.dispatch(this.p.rmsBwdDx!, [u, a.x, a.w, a.dy, a.rstd, a.dx], a.rows, 'train_rmsnorm_bwd_dx');
    b.dispatch(this.p.rmsBwdDw!, [u, a.x, undefined, a.dy, a.rstd, undefined, a.dw], Math.ceil(a.dim / DW_COLS), 'train_rmsnorm_bwd_dw');
  }

  // ---- rope -----------------------------------------------------------------------------

  /** Rotates x[rows, heads·headDim] in place by θ = f32(n % seqLen)·invFreq[i]; neox: pairs (i, i + hd/2). */
  ropeForward(b: GpuBatch, a: { x: GpuBinding; invFreq: GpuBinding; rows: number; seqLen: number; heads: number; headDim: number; neox: boolean }): void {
    this.rope(b, a, false);
  }

  /** The gradient of ropeForward, in place: dx = rotation of dy by −θ. */
  ropeBackward(b: GpuBatch, a: { x: GpuBinding; invFreq: GpuBinding; rows: number; seqLen: number; heads: number; headDim: number; neox: boolean }): void {
    this.rope(b, a, true);
  }

  private rope(
    b: GpuBatch,
    a: { x: GpuBinding; invFreq: GpuBinding; rows: number; seqLen: number; heads: number; headDim: number; neox: boolean },
    backward: boolean,
  ): void {
    const op = backward ? 'ropeBackward' : 'ropeForward';
    this.positive(op, { rows: a.rows, seqLen: a.seqLen, heads: a.heads, headDim: a.headDim });
    if (a.headDim % 2) throw new GpuUsageError(`${op}: headDim must be even, got ${a.headDim}`);
    this.need(op, 'x', a.x, a.rows * a.heads * a.headDim);
    this.need(op, 'invFreq', a.invFreq, a.headDim / 2);
    const key = `rope${backward ? 'Bwd' : 'Fwd'}${a.neox ? 'Neox' : ''}`;
    const pairs = (a.rows * a.heads * a.headDim) / 2;
    const u = b.uniform(params().u32(a.rows).u32(a.seqLen).u32(a.heads).u32(a.headDim));
    b.dispatch(this.p[key]!, [u, a.x, a.invFreq], Math.ceil(pairs / this.wg(WG_PAIR)), backward ? 'train_rope_bwd' : 'train_rope_fwd');
  }

  // ---- attention ------------------------------------------------------------------------

  private attentionChecks(op: string, s: AttentionShape): void {
    this.positive(op, { batch: s.batch, seqLen: s.seqLen, heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim });
    if (s.heads % s.kvHeads) throw new GpuUsageError(`${op}: heads (${s.heads}) must be a multiple of kvHeads (${s.kvHeads})`);
    const maxDim = this.ctx.caps.limits.maxComputeWorkgroupsPerDimension;
    const nt = Math.ceil(s.seqLen / ATT_TILE);
    if (nt * nt > maxDim || s.batch > maxDim) throw new GpuUsageError(`${op}: seqLen ${s.seqLen} / batch ${s.batch} too large for one dispatch`);
  }

  private attentionUniform(b: GpuBatch, s: AttentionShape, alpha: number): GpuBinding {
    const nt = Math.ceil(s.seqLen / ATT_TILE);
    const ndt = Math.ceil(s.headDim / ATT_TILE);
    const rows = s.batch * s.heads * s.seqLen;
    return b.uniform(params().u32(s.seqLen).u32(s.heads).u32(s.kvHeads).u32(s.headDim).u32(nt).u32(ndt).u32(rows).f32(alpha));
  }

  /**
   * out = softmax(q·kᵀ/√hd, causal per sequence)·v with GQA; keeps probs[B,H,T,T] (zeros above
   * the diagonal). q, out: [N, H·hd]; k, v: [N, Hk·hd]. out and probs must not alias the inputs.
   */
  attentionForward(
    b: GpuBatch,
    a: { q: GpuBinding; k: GpuBinding; v: GpuBinding; out: GpuBinding; probs: GpuBinding } & AttentionShape,
  ): void {
    const op = 'attentionForward';
    this.attentionChecks(op, a);
    const { batch: B, seqLen: T, heads: H, kvHeads: Hk, headDim: hd } = a;
    this.need(op, 'q', a.q, B * T * H * hd);
    this.need(op, 'k', a.k, B * T * Hk * hd);
    this.need(op, 'v', a.v, B * T * Hk * hd);
    this.need(op, 'out', a.out, B * T * H * hd);
    this.need(op, 'probs', a.probs, B * H * T * T);
    if (hd % 4 === 0) {
      const u = this.attentionUniform(b, a, 1 / Math.sqrt(hd));
      const blocks = Math.ceil(T / ATT_FAST_ROWS);
      b.dispatch(this.p.attFwd!, [u, a.q, a.k, a.probs, undefined, a.v, a.out], [blocks, H, B], 'train_attn_fwd');
      return;
    }
    const nt = Math.ceil(T / ATT_TILE);
    const ndt = Math.ceil(hd / ATT_TILE);
    const uScaled = this.attentionUniform(b, a, 1 / Math.sqrt(hd));
    const uOne = this.attentionUniform(b, a, 1);
    b.dispatch(this.p.attScores!, [uScaled, a.q, a.k, a.probs], [nt * nt, H, B], 'train_attn_scores');
    b.dispatch(this.p.attSoftmaxFwd!, [uOne, undefined, undefined, a.probs], Math.ceil((B * H * T) / ATT_ROWS_PER_WG), 'train_attn_softmax');
    b.dispatch(this.p.attPv!, [uOne, undefined, a.v, a.probs, undefined, a.out], [nt * ndt, H, B], 'train_attn_pv');
  }

  /**
   * Writes dq [N, H·hd], dk, dv [N, Hk·hd] from dout and the kept probs; dprobs [B,H,T,T] is
   * scratch (overwritten with dS; above the diagonal it is undefined on the fast path). dk/dv sum over the query heads of their group, then query positions,
   * in a fixed order. Outputs must not alias the inputs or each other.
   */
  attentionBackward(
    b: GpuBatch,
    a: {
      dout: GpuBinding;
      q: GpuBinding;
      k: GpuBinding;
      v: GpuBinding;
      probs: GpuBinding;
      dq: GpuBinding;
      dk: GpuBinding;
      dv: GpuBinding;
      dprobs: GpuBinding;
    } & AttentionShape,
  ): void {
    const op = 'attentionBackward';
    this.attentionChecks(op, a);
    const { batch: B, seqLen: T, heads: H, kvHeads: Hk, headDim: hd } = a;
    for (const [name, bind, n] of [
      ['dout', a.dout, B * T * H * hd],
      ['q', a.q, B * T * H * hd],
      ['k', a.k, B * T * Hk * hd],
      ['v', a.v, B * T * Hk * hd],
      ['probs', a.probs, B * H * T * T],
      ['dq', a.dq, B * T * H * hd],
      ['dk', a.dk, B * T * Hk * hd],
      ['dv', a.dv, B * T * Hk * hd],
      ['dprobs', a.dprobs, B * H * T * T],
    ] as const) {
      this.need(op, name, bind, n);
    }
    if (hd % 4 === 0) {
      const u = this.attentionUniform(b, a, 1 / Math.sqrt(hd));
      const blocks = Math.ceil(T / ATT_FAST_ROWS);
      b.dispatch(this.p.attBwdQ!, [u, a.dout, a.k, a.dprobs, a.probs, a.v, a.dq], [blocks, H, B], 'train_attn_bwd_q');
      b.dispatch(this.p.attBwdKv!, [u, a.q, a.dout, a.dprobs, a.probs, undefined, a.dk, a.dv], [blocks, Hk, B], 'train_attn_bwd_kv');
      return;
    }
    const nt = Math.ceil(T / ATT_TILE);
    const ndt = Math.ceil(hd / ATT_TILE);
    const uScaled = this.attentionUniform(b, a, 1 / Math.sqrt(hd));
    const uOne = this.attentionUniform(b, a, 1);
    // dV = Σ_group Pᵀ·dO first: it needs only probs, not dS.
    b.dispatch(this.p.attPtv!, [uOne, a.dout, undefined, a.probs, undefined, a.dv], [nt * ndt, Hk, B], 'train_attn_dv');
    b.dispatch(this.p.attScores!, [uOne, a.dout, a.v, a.dprobs], [nt * nt, H, B], 'train_attn_dprobs');
    // dS = P·(dP − rowsum(P·dP))/√hd in place: the 1/√hd of the scores is folded in here.
    b.dispatch(this.p.attSoftmaxBwd!, [uScaled, undefined, undefined, a.dprobs, a.probs], Math.ceil((B * H * T) / ATT_ROWS_PER_WG), 'train_attn_dscores');
    b.dispatch(this.p.attPv!, [uOne, undefined, a.k, a.dprobs, undefined, a.dq], [nt * ndt, H, B], 'train_attn_dq');
    b.dispatch(this.p.attPtv!, [uOne, a.q, undefined, a.dprobs, undefined, a.dk], [nt * ndt, Hk, B], 'train_attn_dk');
  }

  // ---- element-wise ---------------------------------------------------------------------

  private elementwise(b: GpuBatch, key: string, n: number, s: number, bindings: GpuBinding[], label: string, seed = 0, keep = 0): void {
    b.dispatch(this.p[key]!, [b.uniform(params().u32(n).f32(s).u32(seed >>> 0).u32(keep >>> 0)), ...bindings], Math.ceil(n / this.wg(WG_WIDE)), label);
  }

  /** x = kept(i) ? x / (1 − p) : 0 over n elements, the mask of shared/train/dropout.ts for `seed`. */
  dropout(b: GpuBatch, a: { x: GpuBinding; n: number; p: number; seed: number }): void {
    const op = 'dropout';
    this.positive(op, { n: a.n });
    this.need(op, 'x', a.x, a.n);
    this.elementwise(b, 'dropout', a.n, dropoutScale(a.p), [a.x], 'train_dropout', a.seed, dropoutKeep(a.p));
  }

  /** out = silu(gate)·up over n elements. */
  swigluForward(b: GpuBatch, a: { gate: GpuBinding; up: GpuBinding; out: GpuBinding; n: number }): void {
    const op = 'swigluForward';
    this.positive(op, { n: a.n });
    for (const [k, v] of [['gate', a.gate], ['up', a.up], ['out', a.out]] as const) this.need(op, k, v, a.n);
    this.elementwise(b, 'swigluFwd', a.n, 0, [a.gate, a.up, a.out], 'train_swiglu_fwd');
  }

  /** dgate = dout·up·silu'(gate), dup = dout·silu(gate) (both written). */
  swigluBackward(b: GpuBatch, a: { dout: GpuBinding; gate: GpuBinding; up: GpuBinding; dgate: GpuBinding; dup: GpuBinding; n: number }): void {
    const op = 'swigluBackward';
    this.positive(op, { n: a.n });
    for (const [k, v] of [['dout', a.dout], ['gate', a.gate], ['up', a.up], ['dgate', a.dgate], ['dup', a.dup]] as const) this.need(op, k, v, a.n);
    this.elementwise(b, 'swigluBwd', a.n, 0, [a.gate, a.up, a.dout, a.dgate, a.dup], 'train_swiglu_bwd');
  }

  /** out = a + b over n elements. */
  add(b: GpuBatch, a: { a: GpuBinding; b: GpuBinding; out: GpuBinding; n: number }): void {
    const op = 'add';
    this.positive(op, { n: a.n });
    for (const [k, v] of [['a', a.a], ['b', a.b], ['out', a.out]] as const) this.need(op, k, v, a.n);
    this.elementwise(b, 'add', a.n, 0, [a.a, a.b, a.out], 'train_add');
  }

  /** x += y over n elements (the residual stream, and its gradient). */
  addInPlace(b: GpuBatch, a: { x: GpuBinding; y: GpuBinding; n: number }): void {
    const op = 'addInPlace';
    this.positive(op, { n: a.n });
    this.need(op, 'x', a.x, a.n);
    this.need(op, 'y', a.y, a.n);
    this.elementwise(b, 'addInPlace', a.n, 0, [a.x, a.y], 'train_add_inplace');
  }

  /** x *= s over n elements. */
  scale(b: GpuBatch, a: { x: GpuBinding; n: number; s: number }): void {
    const op = 'scale';
    this.positive(op, { n: a.n });
    this.need(op, 'x', a.x, a.n);
    this.elementwise(b, 'scale', a.n, a.s, [a.x], 'train_scale');
  }
}
