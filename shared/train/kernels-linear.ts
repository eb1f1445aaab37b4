/**
 * Encoders for the training kernels of linear layers, the token embedding and the loss:
 * shaders/train_matmul.wgsl (+ train_matmul_sg8.wgsl), train_embedding.wgsl, train_loss.wgsl.
 * `await LinearKernels.create(ctx)` compiles every pipeline; the encoders are synchronous and only
 * record into a batch. Tensors are f32 row-major `GpuBinding`s (a buffer or a range of one with an
 * aligned offset), sizes in elements. Semantics: specs/training.md and shared/train/reference/ops.ts.
 */
import type { GpuBatch, GpuBinding, GpuContext } from '../gpu';
import { FeatureMissingError, GpuUsageError } from '../gpu/errors';
import { params } from '../gpu/params';
import { TrainError } from './errors';

const TILED_BLOCK = 64; // train_matmul.wgsl: BM = BN
const SG8_ROWS = 16; // train_matmul_sg8.wgsl: RM
const SG8_COLS = 32; // 8 lanes × TN
const COLSUM_WG = 64;
const EMB_WG = 64;
// Cross-entropy workgroup: 256 on a GPU; 16 on a CPU adapter with 8-lane subgroups (lavapipe),
// where each barrier switches between the workgroup's 8-lane chunks and there is no latency to
// hide: 2048 rows × 512 took 9–11 ms at 8–16, 25 ms at 64 and 90 ms at 256 there.
const LOSS_WG = 256;
const LOSS_WG_CPU = 16;
const NAN_BITS = 0x7fc00000;

/** Which matrix-product kernel a LinearKernels uses (specs/training.md, "Matrix products"). */
export type MatmulVariant = 'tiled' | 'subgroup8';

export interface LinearKernelsOptions {
  /** 'auto' (default): subgroup8 where the adapter's subgroups are exactly 8 lanes, else tiled. */
  matmul?: 'auto' | MatmulVariant;
  /**
   * Compile the mixed-precision kernels (B from an f16 copy, castF16). Needs shader-f16:
   * FeatureMissingError without it.
   */
  f16?: boolean;
}

/**
 * A matrix operand stored as f16: `length` halves from element `offset` of `half` (the weights'
 * f16 shadow; the whole buffer is bound and the offset goes in the uniform, because a range at
 * a parameter's offset would miss WebGPU's 256-byte binding alignment). offset % 4 == 0.
 */
export interface HalfOperand {
  half: GPUBuffer;
  offset: number;
  length: number;
}

/** A weight matrix as the linear layers take it: f32 (a binding) or its f16 copy. */
export type WeightOperand = GpuBinding | HalfOperand;

function isHalf(w: WeightOperand): w is HalfOperand {
  return 'half' in w;
}

export interface MatmulArgs {
  /** [M, K], or [K, M] when transA. */
  a: GpuBinding;
  /** [K, N], or [N, K] when transB; f32, or f16 (HalfOperand) for the mixed-precision kernels. */
  b: WeightOperand;
  /** [M, N]; must not overlap a, b or bias. */
  c: GpuBinding;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  /** c += op(a)·op(b) instead of c = op(a)·op(b). */
  accumulate?: boolean;
  /** [N], added to every row of the product. */
  bias?: GpuBinding | null;
}

/** Rows of each token id, built on the CPU from the batch's ids (embeddingBackward's index). */
export interface EmbeddingIndex {
  /** [vocab + 1]: the rows with id v are rows[offsets[v] .. offsets[v + 1]). */
  offsets: Uint32Array;
  /** [N]: row numbers grouped by id, ascending within an id. */
  rows: Uint32Array;
}

/**
 * Groups the rows of `ids` by id (a counting sort, stable: ascending n within an id). Throws
 * TrainError TRAIN_DATA naming the first id outside [0, vocab).
 */
export function embeddingIndex(ids: Int32Array, vocab: number): EmbeddingIndex {
  if (!Number.isInteger(vocab) || vocab < 1) throw new TrainError('TRAIN_CONFIG', `embeddingIndex: vocab must be a positive integer, got ${vocab}`, { vocab });
  const offsets = new Uint32Array(vocab + 1);
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n]!;
    if (!(id >= 0 && id < vocab)) {
      throw new TrainError('TRAIN_DATA', `token id ${id} at position ${n} is outside the vocabulary [0, ${vocab})`, { position: n, id, vocab });
    }
    offsets[id + 1]!++;
  }
  for (let v = 0; v < vocab; v++) offsets[v + 1]! += offsets[v]!;
  const next = offsets.slice(0, vocab);
  const rows = new Uint32Array(ids.length);
  for (let n = 0; n < ids.length; n++) rows[next[ids[n]!]!++] = n;
  return { offsets, rows };
}

/** offsets followed by rows in one array: the `index` binding of embeddingBackward. */
export function packEmbeddingIndex(ix: EmbeddingIndex): Uint32Array {
  const out = new Uint32Array(ix.offsets.length + ix.rows.length);
  out.set(ix.offsets, 0);
  out.set(ix.rows, ix.offsets.length);
  return out;
}

// Transpositions are overrides (they shape the inner loop): one pipeline per pair, index
// transA + 2·transB. Accumulate and bias are uniform flags (train_matmul.wgsl says why).
const ACC_FLAG = 1;
const BIAS_FLAG = 2;

export class LinearKernels {
  private constructor(
    private readonly ctx: GpuContext,
    /** The kernel used for products whose shapes it takes; the others use tiled. */
    readonly matmulVariant: MatmulVariant,
    private readonly tiled: GPUComputePipeline[],
    private readonly sg8: GPUComputePipeline[] | null,
    private readonly p: { colSum: GPUComputePipeline; embFwd: GPUComputePipeline; embBwd: GPUComputePipeline; loss: GPUComputePipeline },
    /** Mixed precision: the f16-B products (tiled, subgroup8 when that variant is used) and the cast. */
    private readonly half: { tiled: GPUComputePipeline[]; sg8: GPUComputePipeline[] | null; cast: GPUComputePipeline } | null,
  ) {}

  static async create(ctx: GpuContext, opts: LinearKernelsOptions = {}): Promise<LinearKernels> {
    const want = opts.matmul ?? 'auto';
    // The sg8 kernel's broadcasts assume a workgroup of 8 invocations is one full subgroup.
    const has8 = ctx.caps.subgroups && ctx.adapter.subgroupMinSize === 8 && ctx.adapter.subgroupMaxSize === 8;
    if (want === 'subgroup8' && !has8) {
      throw new FeatureMissingError('subgroups', 'the subgroup8 matrix product needs subgroups of exactly 8 lanes', {
        subgroups: ctx.caps.subgroups,
        subgroupMinSize: ctx.adapter.subgroupMinSize,
        subgroupMaxSize: ctx.adapter.subgroupMaxSize,
      });
    }
    const variant: MatmulVariant = want === 'tiled' || !has8 ? 'tiled' : 'subgroup8';
    if (opts.f16 && !ctx.caps.f16) throw new FeatureMissingError('shader-f16', 'mixed-precision training needs shader-f16');
    const wg = (n: number) => Math.min(n, ctx.caps.limits.maxComputeInvocationsPerWorkgroup);
    const compileAll = (shader: string) => Promise.all([0, 1, 2, 3].map((i) => ctx.pipeline(shader, { constants: { TRANS_A: i & 1, TRANS_B: i >> 1 } })));
    const [tiled, sg8, colSum, embFwd, embBwd, loss] = await Promise.all([
      compileAll('train_matmul'),
      variant === 'subgroup8' ? compileAll('train_matmul_sg8') : Promise.resolve(null),
      ctx.pipeline('train_matmul', { entryPoint: 'col_sum' }),
      ctx.pipeline('train_embedding', { entryPoint: 'forward', constants: { WG: wg(EMB_WG) } }),
      ctx.pipeline('train_embedding', { entryPoint: 'backward', constants: { WG: wg(EMB_WG) } }),
      ctx.pipeline('train_loss', { constants: { WG: wg(has8 ? LOSS_WG_CPU : LOSS_WG) } }),
    ]);
    const half = opts.f16
      ? await Promise.all([
          compileAll('train_matmul_f16'),
          variant === 'subgroup8' ? compileAll('train_matmul_sg8_f16') : Promise.resolve(null),
          ctx.pipeline('train_cast_f16'),
        ]).then(([t, s8, cast]) => ({ tiled: t, sg8: s8, cast }))
      : null;
    return new LinearKernels(ctx, variant, tiled, sg8, { colSum, embFwd, embBwd, loss }, half);
  }

  /**
   * True when the subgroup8 kernel takes this product: its vec4 loads need K % 4 == 0, M % 4 == 0
   * when transA and N % 4 == 0 unless transB (always so for the layer sizes trained here).
   */
  usesSubgroup8(s: { M: number; N: number; K: number; transA?: boolean; transB?: boolean }): boolean {
    return this.sg8 !== null && s.K % 4 === 0 && (!s.transA || s.M % 4 === 0) && (!!s.transB || s.N % 4 === 0);
  }

  /**
   * C[M, N] = op(A)·op(B) (+ bias), or += when accumulate; op(X) = Xᵀ when trans. The three uses
   * in training: forward y = x·Wᵀ (a = x, b = W, transB), dX = dy·W (a = dy, b = W),
   * dW += dyᵀ·x (a = dy, transA, b = x, accumulate).
   */
  matmul(b: GpuBatch, a: MatmulArgs): void {
    const { M, N, K } = a;
    for (const [k, v] of [['M', M], ['N', N], ['K', K]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new GpuUsageError(`matmul: ${k} must be a positive integer, got ${v}`, { M, N, K });
    }
    this.need('matmul', 'a', a.a, M * K);
    this.need('matmul', 'c', a.c, M * N);
    if (a.bias) this.need('matmul', 'bias', a.bias, N);
    const flags = (a.accumulate ? ACC_FLAG : 0) | (a.bias ? BIAS_FLAG : 0);
    const bias = a.bias ?? a.a; // bound but unread without BIAS_FLAG (the layout has the slot)
    const which = (a.transA ? 1 : 0) + (a.transB ? 2 : 0);
    const sg8 = this.usesSubgroup8(a);
    const grid = sg8 ? this.grid('matmul', N, M, SG8_COLS, SG8_ROWS) : this.grid('matmul', N, M, TILED_BLOCK, TILED_BLOCK);
    if (isHalf(a.b)) {
      const h = a.b;
      if (!this.half) throw new GpuUsageError('matmul: an f16 operand needs LinearKernels created with { f16: true }');
      if (h.length < K * N) throw new GpuUsageError(`matmul: b needs ${K * N} halves, the operand has ${h.length}`, { op: 'matmul', name: 'b' });
      if (!Number.isInteger(h.offset) || h.offset < 0 || h.offset % 4 !== 0 || (h.offset + h.length) * 2 > h.half.size) {
        throw new GpuUsageError(`matmul: f16 operand at element ${h.offset} (+${h.length}) is not a 4-aligned range of its ${h.half.size}-byte buffer`);
      }
      const u = b.uniform(params().u32(M).u32(N).u32(K).u32(flags).u32(h.offset));
      const pipe = sg8 ? this.half.sg8![which]! : this.half.tiled[which]!;
      b.dispatch(pipe, [u, a.a, h.half, undefined, bias, a.c], grid, sg8 ? 'train_matmul_sg8_f16' : 'train_matmul_f16');
      return;
    }
    this.need('matmul', 'b', a.b, K * N);
    const u = b.uniform(params().u32(M).u32(N).u32(K).u32(flags));
    if (sg8) b.dispatch(this.sg8![which]!, [u, a.a, a.b, undefined, bias, a.c], grid, 'train_matmul_sg8');
    else b.dispatch(this.tiled[which]!, [u, a.a, a.b, undefined, bias, a.c], grid, 'train_matmul');
  }

  /** True when this LinearKernels has the mixed-precision kernels. */
  get hasF16(): boolean {
    return this.half !== null;
  }

  /** half[i] = f16(w[i]) for i < n: the weights' f16 shadow (mixed precision), from element 0. */
  castF16(b: GpuBatch, a: { w: GpuBinding; half: GPUBuffer; n: number }): void {
    if (!this.half) throw new GpuUsageError('castF16 needs LinearKernels created with { f16: true }');
    this.positive('castF16', { n: a.n });
    this.need('castF16', 'w', a.w, a.n);
    if (Math.ceil(a.n / 2) * 4 > a.half.size) throw new GpuUsageError(`castF16: ${a.n} halves do not fit the ${a.half.size}-byte buffer`);
    const u = b.uniform(params().u32(a.n));
    b.dispatch(this.half.cast, [u, a.w, a.half], Math.ceil(Math.ceil(a.n / 2) / 64), 'train_cast_f16');
  }

  /** y[rows, outDim] = x[rows, inDim]·wᵀ (+ bias[outDim]); w is [outDim, inDim], f32 or f16. */
  linearForward(b: GpuBatch, a: { x: GpuBinding; w: WeightOperand; bias?: GpuBinding | null; y: GpuBinding; rows: number; inDim: number; outDim: number }): void {
    this.matmul(b, { a: a.x, b: a.w, c: a.y, M: a.rows, N: a.outDim, K: a.inDim, transB: true, bias: a.bias ?? null });
  }

  /**
   * Gradients of y = x·wᵀ + bias: dw[outDim, inDim] += dyᵀ·x and db[outDim] += Σ_rows dy (always
   * accumulated: the caller zeroes gradients at the start of a step), dx[rows, inDim] = dy·w,
   * or += when accumulateDx (x feeds several layers). dx and db are optional.
   */
  linearBackward(
    b: GpuBatch,
    a: {
      dy: GpuBinding;
      x: GpuBinding;
      /** f32, or f16 (mixed precision: only dx reads w). */
      w: WeightOperand;
      dx?: GpuBinding | null;
      dw: GpuBinding;
      db?: GpuBinding | null;
      rows: number;
      inDim: number;
      outDim: number;
      accumulateDx?: boolean;
    },
  ): void {
    if (a.dx) this.matmul(b, { a: a.dy, b: a.w, c: a.dx, M: a.rows, N: a.inDim, K: a.outDim, accumulate: !!a.accumulateDx });
    this.matmul(b, { a: a.dy, b: a.x, c: a.dw, M: a.outDim, N: a.inDim, K: a.rows, transA: true, accumulate: true });
    if (a.db) this.biasGrad(b, { dy: a.dy, db: a.db, rows: a.rows, outDim: a.outDim });
  }

  /** db[outDim] += Σ_r dy[r, :], each column summed in row order by one invocation. */
  biasGrad(b: GpuBatch, a: { dy: GpuBinding; db: GpuBinding; rows: number; outDim: number }): void {
    this.positive('biasGrad', { rows: a.rows, outDim: a.outDim });
    this.need('biasGrad', 'dy', a.dy, a.rows * a.outDim);
    this.need('biasGrad', 'db', a.db, a.outDim);
    const u = b.uniform(params().u32(a.rows).u32(a.outDim).u32(0).u32(0));
    b.dispatch(this.p.colSum, [u, a.dy, undefined, undefined, undefined, a.db], Math.ceil(a.outDim / COLSUM_WG), 'train_col_sum');
  }

  /**
   * y[n, :] = table[ids[n], :]; ids are i32 (an Int32Array's bytes). An id outside [0, vocab)
   * gives zeros; vocab defaults to the rows the table binding holds.
   */
  embeddingForward(b: GpuBatch, a: { table: GpuBinding; ids: GpuBinding; y: GpuBinding; rows: number; dim: number; vocab?: number }): void {
    this.positive('embeddingForward', { rows: a.rows, dim: a.dim });
    const vocab = a.vocab ?? Math.floor(bindingBytes(a.table) / 4 / a.dim);
    this.need('embeddingForward', 'table', a.table, vocab * a.dim);
    this.need('embeddingForward', 'ids', a.ids, a.rows);
    this.need('embeddingForward', 'y', a.y, a.rows * a.dim);
    const u = b.uniform(params().u32(a.rows).u32(a.dim).u32(vocab).u32(0));
    const blocks = Math.ceil(a.dim / this.embWg());
    b.dispatch(this.p.embFwd, [u, a.table, a.ids, a.y], a.rows * blocks, 'train_embedding_forward');
  }

  /**
   * dTable[v, :] += Σ dy[n, :] over the rows with id v, in ascending n (deterministic). The rows
   * of each id come from embeddingIndex(ids, vocab), uploaded either packed in one binding
   * (`index` = packEmbeddingIndex(...)) or as two (`offsets`, `rowIndex`).
   */
  embeddingBackward(
    b: GpuBatch,
    a: { dy: GpuBinding; index?: GpuBinding; offsets?: GpuBinding; rowIndex?: GpuBinding; dTable: GpuBinding; rows: number; dim: number; vocab: number },
  ): void {
    this.positive('embeddingBackward', { rows: a.rows, dim: a.dim, vocab: a.vocab });
    let offsets: GpuBinding;
    let rowIdx: GpuBinding;
    let base: number;
    if (a.index) {
      if (a.offsets || a.rowIndex) throw new GpuUsageError('embeddingBackward: give either index or offsets + rowIndex, not both');
      this.need('embeddingBackward', 'index', a.index, a.vocab + 1 + a.rows);
      [offsets, rowIdx, base] = [a.index, a.index, a.vocab + 1];
    } else {
      if (!a.offsets || !a.rowIndex) throw new GpuUsageError('embeddingBackward: needs index, or offsets and rowIndex');
      this.need('embeddingBackward', 'offsets', a.offsets, a.vocab + 1);
      this.need('embeddingBackward', 'rowIndex', a.rowIndex, a.rows);
      [offsets, rowIdx, base] = [a.offsets, a.rowIndex, 0];
    }
    this.need('embeddingBackward', 'dy', a.dy, a.rows * a.dim);
    this.need('embeddingBackward', 'dTable', a.dTable, a.vocab * a.dim);
    const u = b.uniform(params().u32(a.rows).u32(a.dim).u32(a.vocab).u32(base));
    const blocks = Math.ceil(a.dim / this.embWg());
    b.dispatch(this.p.embBwd, [u, undefined, undefined, undefined, a.dy, offsets, rowIdx, a.dTable], a.vocab * blocks, 'train_embedding_backward');
  }

  /**
   * Fused softmax cross-entropy over logits[rows, vocab] with i32 targets[rows]:
   * rowLoss[n] = logsumexp(logits[n]) − logits[n, target], and logits is overwritten with
   * dlogits = (softmax − onehot)·scale (scale = 1/N for the mean loss). A target outside
   * [0, vocab) gives rowLoss NaN.
   */
  crossEntropy(b: GpuBatch, a: { logits: GpuBinding; targets: GpuBinding; rowLoss: GpuBinding; rows: number; vocab: number; scale: number }): void {
    this.positive('crossEntropy', { rows: a.rows, vocab: a.vocab });
    this.need('crossEntropy', 'logits', a.logits, a.rows * a.vocab);
    this.need('crossEntropy', 'targets', a.targets, a.rows);
    this.need('crossEntropy', 'rowLoss', a.rowLoss, a.rows);
    const u = b.uniform(params().u32(a.rows).u32(a.vocab).f32(a.scale).u32(NAN_BITS));
    b.dispatch(this.p.loss, [u, a.logits, a.targets, a.rowLoss], a.rows, 'train_loss');
  }

  private embWg(): number {
    return Math.min(EMB_WG, this.ctx.caps.limits.maxComputeInvocationsPerWorkgroup);
  }

  /** Workgroups [ceil(n / bn), ceil(m / bm)], checked against the per-dimension limit. */
  private grid(op: string, n: number, m: number, bn: number, bm: number): [number, number] {
    const x = Math.ceil(n / bn);
    const y = Math.ceil(m / bm);
    const max = this.ctx.caps.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max) throw new GpuUsageError(`${op}: ${m}×${n} needs ${y}×${x} workgroups, more than ${max} per dimension`);
    return [x, y];
  }

  private positive(op: string, sizes: Record<string, number>): void {
    for (const [k, v] of Object.entries(sizes)) {
      if (!Number.isInteger(v) || v < 1) throw new GpuUsageError(`${op}: ${k} must be a positive integer, got ${v}`, sizes);
    }
  }

  /** Throws when a binding holds fewer than `elems` f32/u32 values (a clear error now, not a validation error later). */
  private need(op: string, name: string, bnd: GpuBinding, elems: number): void {
    const have = bindingBytes(bnd);
    if (have < elems * 4) throw new GpuUsageError(`${op}: ${name} needs ${elems * 4} bytes, the binding has ${have}`, { op, name, bytes: elems * 4, have });
  }
}

/** Bytes a binding covers (its size, or the rest of the buffer from its offset). */
function bindingBytes(bnd: GpuBinding): number {
  if ('buffer' in bnd) return bnd.size ?? bnd.buffer.size - (bnd.offset ?? 0);
  return bnd.size;
}
