/**
 * The training engine on the GPU: a llama/qwen2 forward pass that keeps what the backward pass
 * needs, the backward pass, and the optimizer step, all in WGSL over one flat buffer each for the
 * parameters, their gradients and AdamW's two moments. The sequence of ops is the one of
 * shared/train/reference/model.ts (float64), which the tests hold it to.
 *
 * A step runs `accum` micro-batches of [batch, seqLen] tokens (gradients add up in the gradient
 * buffer; the loss scale averages them), then the gradient norm, clipping and AdamW, without
 * reading anything back but the per-row losses and the norm. Every kernel is deterministic, so
 * the same seed and data give the same weights bit for bit on one adapter.
 *
 * LoRA mode (`base` and `lora` options): the model's own weights are a FrozenBase (its GGUF
 * types, read in place) and the trainable parameters are the adapters' A and B
 * (shared/train/lora.ts). The op sequence is the same; a base product expands its matrix to f32
 * first, an adapted one adds (s·x·Aᵀ)·Bᵀ, and norm gains, biases and the embedding get no gradient.
 */
import type { GpuBatch, GpuBinding, GpuContext } from '../gpu';
import { ropeInvFreq } from '../engine/reference/rope';
import { headDim, ropeNeox, type TrainModelConfig } from './config';
import { TrainError } from './errors';
import type { FrozenBase } from './frozen-base';
import { loraAName, loraBName, loraTargetNames, loraUpdateScale, type LoraSettings } from './lora';
import { loraParamLayout, paramLayout, type ParamLayout } from './param-layout';
import { dropoutSeed } from './dropout';
import { BlockKernels } from './kernels-block';
import { LinearKernels, embeddingIndex, type WeightOperand } from './kernels-linear';
import { OptimKernels, type AdamWSettings } from './kernels-optim';

/** The shape of one micro-batch. */
export interface BatchShape {
  /** Sequences per micro-batch. */
  readonly batch: number;
  /** Tokens per sequence (≤ the model's context). */
  readonly seqLen: number;
}

/**
 * Arithmetic of the linear layers (specs/training.md, "Mixed precision"): 'f32' everywhere, or
 * 'mixed': the forward and input-gradient products read an f16 copy of the weight matrices,
 * refreshed after every optimizer step, while master weights, moments, gradients, activations
 * and every sum stay f32. Mixed needs shader-f16.
 */
export type TrainPrecision = 'f32' | 'mixed';

export interface GpuTrainerOptions {
  /** Default 'f32'. */
  precision?: TrainPrecision;
  /** LoRA mode: the frozen model (its configuration must be `cfg`) … */
  base?: FrozenBase;
  /** … and the adapters trained over it. Both or neither. */
  lora?: LoraSettings;
  /** Seeds LoRA dropout's masks (with the step, micro-batch and matrix; shared/train/dropout.ts). Default 0. */
  dropoutSeed?: number;
}

/** A LoRA run's adapted matrix: its A and B, and u = s·x·Aᵀ of the current micro-batch (kept for the backward pass). */
interface Adapted {
  a: string;
  b: string;
  u: GPUBuffer;
  /** Its index among the adapted matrices (part of its dropout seed). */
  index: number;
}

export interface StepResult {
  /** Mean cross-entropy (nats per token) over the step's micro-batches. */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  clipScale: number;
  /** False when the loss or a gradient was not finite: the weights were left unchanged. */
  ok: boolean;
}

interface LayerActs {
  xMid: GPUBuffer;
  rstd1: GPUBuffer;
  h1: GPUBuffer;
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  probs: GPUBuffer;
  att: GPUBuffer;
  rstd2: GPUBuffer;
  h2: GPUBuffer;
  gate: GPUBuffer;
  up: GPUBuffer;
  act: GPUBuffer;
}

export class GpuTrainer {
  readonly layout: ParamLayout;
  readonly rows: number;
  private readonly bufs: GPUBuffer[] = [];
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  private readonly m: GPUBuffer;
  private readonly v: GPUBuffer;
  private readonly partial: GPUBuffer;
  private readonly stats: GPUBuffer;
  /** Mixed precision: f16 copy of params[0, decayEnd) (the matrices); null in f32. */
  private readonly half: GPUBuffer | null;
  private readonly invFreq: GPUBuffer;
  private readonly ids: GPUBuffer;
  private readonly targets: GPUBuffer;
  private readonly embOffsets: GPUBuffer;
  private readonly embRows: GPUBuffer;
  /** xs[l] is the residual stream entering layer l; xs[layers] leaves the last one. */
  private readonly xs: GPUBuffer[];
  private readonly acts: LayerActs[];
  private readonly rstdF: GPUBuffer;
  private readonly hF: GPUBuffer;
  private readonly logits: GPUBuffer;
  private readonly rowLoss: GPUBuffer;
  private readonly tmpD: GPUBuffer;
  private readonly dX: GPUBuffer;
  private readonly dH: GPUBuffer;
  private readonly dQ: GPUBuffer;
  private readonly dK: GPUBuffer;
  private readonly dV: GPUBuffer;
  private readonly dAtt: GPUBuffer;
  private readonly dProbs: GPUBuffer;
  private readonly dGate: GPUBuffer;
  private readonly dUp: GPUBuffer;
  private readonly dAct: GPUBuffer;
  /** Row losses of each micro-batch of the current step, side by side. */
  private stepLosses: GPUBuffer;
  private stepLossSlots: number;
  /** LoRA mode: the frozen base, its matrices expanded one at a time into `scratch`. */
  private readonly base: FrozenBase | null;
  private readonly lora: LoraSettings | null;
  private readonly loraScale: number;
  private readonly scratch: GPUBuffer | null;
  /** Receives the gradients of frozen norm gains (computed by rmsnormBackward, never read). */
  private readonly discard: GPUBuffer | null;
  private readonly adapted = new Map<string, Adapted>();
  /** dL/du of the adapted matrix being differentiated. */
  private readonly dU: GPUBuffer | null;
  /** LoRA dropout (p > 0): the masked input [rows, in] and the masked input gradient, recomputed per matrix. */
  private readonly dropX: GPUBuffer | null;
  private readonly dropDx: GPUBuffer | null;
  private readonly dropoutP: number;
  private readonly dropoutRunSeed: number;
  /** The (step, micro-batch) whose masks the pass being recorded uses; null: no dropout (validation, checks). */
  private dropoutAt: { step: number; micro: number } | null = null;

  private constructor(
    private readonly ctx: GpuContext,
    readonly cfg: TrainModelConfig,
    readonly shape: BatchShape,
    private readonly lin: LinearKernels,
    private readonly blk: BlockKernels,
    private readonly opt: OptimKernels,
    readonly precision: TrainPrecision,
    opts: GpuTrainerOptions = {},
  ) {
    this.base = opts.base ?? null;
    this.lora = opts.lora ?? null;
    if (!this.base !== !this.lora) throw new TrainError('TRAIN_CONFIG', 'LoRA training needs both a frozen base and LoRA settings');
    if (this.base && precision !== 'f32') throw new TrainError('TRAIN_CONFIG', 'LoRA training runs in f32 precision', { field: 'precision' });
    this.loraScale = this.lora ? loraUpdateScale(this.lora) : 0;
    this.dropoutP = this.lora?.dropout ?? 0;
    this.dropoutRunSeed = opts.dropoutSeed ?? 0;
    if (!Number.isInteger(shape.batch) || shape.batch < 1) throw new TrainError('TRAIN_CONFIG', `batch = ${shape.batch} must be a positive integer`, { field: 'batch' });
    if (!Number.isInteger(shape.seqLen) || shape.seqLen < 1 || shape.seqLen > cfg.context) {
      throw new TrainError('TRAIN_CONFIG', `seqLen = ${shape.seqLen} must be between 1 and the context (${cfg.context})`, { field: 'seqLen' });
    }
    this.layout = this.lora ? loraParamLayout(cfg, this.lora) : paramLayout(cfg);
    const N = (this.rows = shape.batch * shape.seqLen);
    const { dim: D, ff: F, vocab: V, heads: H, kvHeads: Hk } = cfg;
    const hd = headDim(cfg);
    const T = shape.seqLen;
    const f32 = (n: number, label: string) => this.buf(n * 4, label);
    const P = this.layout.total;
    this.params = f32(P, 'train:params');
    this.grads = f32(P, 'train:grads');
    this.m = f32(P, 'train:adam-m');
    this.v = f32(P, 'train:adam-v');
    this.partial = f32(OptimKernels.partialCount(P), 'train:norm-partials');
    this.stats = f32(4, 'train:stats');
    this.half = precision === 'mixed' ? this.buf(Math.ceil(this.layout.decayEnd / 2) * 4, 'train:params-f16') : null;
    this.invFreq = this.ctx.storage(ropeInvFreq(hd, cfg.ropeTheta), 'train:inv-freq');
    this.bufs.push(this.invFreq);
    this.ids = f32(N, 'train:ids');
    this.targets = f32(N, 'train:targets');
    this.embOffsets = f32(V + 1, 'train:emb-offsets');
    this.embRows = f32(N, 'train:emb-rows');
    this.xs = Array.from({ length: cfg.layers + 1 }, (_, l) => f32(N * D, `train:x${l}`));
    this.acts = Array.from({ length: cfg.layers }, (_, l) => ({
      xMid: f32(N * D, `train:l${l}:xmid`),
      rstd1: f32(N, `train:l${l}:rstd1`),
      h1: f32(N * D, `train:l${l}:h1`),
      q: f32(N * H * hd, `train:l${l}:q`),
      k: f32(N * Hk * hd, `train:l${l}:k`),
      v: f32(N * Hk * hd, `train:l${l}:v`),
      probs: f32(shape.batch * H * T * T, `train:l${l}:probs`),
      att: f32(N * H * hd, `train:l${l}:att`),
      rstd2: f32(N, `train:l${l}:rstd2`),
      h2: f32(N * D, `train:l${l}:h2`),
      gate: f32(N * F, `train:l${l}:gate`),
      up: f32(N * F, `train:l${l}:up`),
      act: f32(N * F, `train:l${l}:act`),
    }));
    this.rstdF = f32(N, 'train:rstdF');
    this.hF = f32(N * D, 'train:hF');
    this.logits = f32(N * V, 'train:logits');
    this.rowLoss = f32(N, 'train:row-loss');
    this.tmpD = f32(N * D, 'train:tmpD');
    this.dX = f32(N * D, 'train:dX');
    this.dH = f32(N * D, 'train:dH');
    this.dQ = f32(N * H * hd, 'train:dQ');
    this.dK = f32(N * Hk * hd, 'train:dK');
    this.dV = f32(N * Hk * hd, 'train:dV');
    this.dAtt = f32(N * H * hd, 'train:dAtt');
    this.dProbs = f32(shape.batch * H * T * T, 'train:dProbs');
    this.dGate = f32(N * F, 'train:dGate');
    this.dUp = f32(N * F, 'train:dUp');
    this.dAct = f32(N * F, 'train:dAct');
    this.stepLossSlots = 1;
    this.stepLosses = f32(N, 'train:step-losses');
    this.scratch = this.base ? f32(this.base.maxMatrixElements, 'train:base-expanded') : null;
    this.discard = this.base ? f32(D, 'train:frozen-gain-grads') : null;
    this.dU = this.lora ? f32(N * this.lora.rank, 'train:lora-du') : null;
    if (this.lora) {
      loraTargetNames(cfg, this.lora).forEach((w, index) => this.adapted.set(w, { a: loraAName(w), b: loraBName(w), u: f32(N * this.lora!.rank, `train:${w}:lora-u`), index }));
    }
    const widest = Math.max(D, F, H * hd);
    this.dropX = this.dropoutP > 0 ? f32(N * widest, 'train:lora-dropout-x') : null;
    this.dropDx = this.dropoutP > 0 ? f32(N * widest, 'train:lora-dropout-dx') : null;
  }

  static async create(ctx: GpuContext, cfg: TrainModelConfig, shape: BatchShape, init: ReadonlyMap<string, Float32Array>, opts: GpuTrainerOptions = {}): Promise<GpuTrainer> {
    const precision = opts.precision ?? 'f32';
    if (precision !== 'f32' && precision !== 'mixed') throw new TrainError('TRAIN_CONFIG', `precision must be "f32" or "mixed", got ${JSON.stringify(precision)}`, { field: 'precision' });
    if (precision === 'mixed' && !ctx.caps.f16) {
      throw new TrainError('TRAIN_CONFIG', `precision "mixed" needs an adapter with shader-f16; ${ctx.adapter.description || 'this adapter'} has none (use "f32" or "auto")`, { field: 'precision' });
    }
    opts.base?.checkExpandFits(); // before anything is allocated
    const [lin, blk, opt] = await Promise.all([LinearKernels.create(ctx, { f16: precision === 'mixed' }), BlockKernels.create(ctx), OptimKernels.create(ctx)]);
    const t = await ctx.checked('allocate training buffers', () => new GpuTrainer(ctx, cfg, shape, lin, blk, opt, precision, opts));
    t.setParams(init);
    return t;
  }

  /** Bytes of GPU memory this trainer holds. */
  get gpuBytes(): number {
    return this.bufs.reduce((s, b) => s + b.size, 0);
  }

  private buf(bytes: number, label: string): GPUBuffer {
    const b = this.ctx.storage(Math.max(4, bytes), label);
    this.bufs.push(b);
    return b;
  }

  /** A parameter's range in a flat buffer, as a binding. */
  private slot(buffer: GPUBuffer, name: string): GpuBinding {
    const s = this.layout.slots.get(name);
    if (!s) throw new TrainError('TRAIN_CONFIG', `no parameter named ${name}`);
    return { buffer, offset: s.offset * 4, size: s.spec.size * 4 };
  }
  private p(name: string): GpuBinding {
    return this.slot(this.params, name);
  }
  private g(name: string): GpuBinding {
    return this.slot(this.grads, name);
  }
  /** A weight matrix as the products read it: its f16 copy in mixed precision, else f32. */
  private w(name: string): WeightOperand {
    if (!this.half) return this.p(name);
    const s = this.layout.slots.get(name)!;
    if (!s.spec.decay) throw new TrainError('TRAIN_CONFIG', `${name} is not a matrix (no f16 copy)`);
    return { half: this.half, offset: s.offset, length: s.spec.size };
  }
  /** Records the refresh of the f16 copy from the master weights (mixed precision only). */
  private recordCast(b: GpuBatch): void {
    if (this.half) this.lin.castF16(b, { w: { buffer: this.params, offset: 0, size: this.layout.decayEnd * 4 }, half: this.half, n: this.layout.decayEnd });
  }
  private refreshHalf(): void {
    if (!this.half) return;
    const b = this.ctx.batch('train:cast-f16');
    this.recordCast(b);
    b.submit();
  }
  private optional(name: string): GpuBinding | undefined {
    return this.layout.slots.has(name) ? this.p(name) : undefined;
  }
  private optionalGrad(name: string): GpuBinding | undefined {
    return this.layout.slots.has(name) ? this.g(name) : undefined;
  }

  /** Replaces every parameter (checked against its spec); resets nothing else. */
  setParams(values: ReadonlyMap<string, Float32Array>): void {
    const flat = new Float32Array(this.layout.total);
    for (const s of this.layout.order) {
      const a = values.get(s.spec.name);
      if (!a || a.length !== s.spec.size) {
        throw new TrainError('TRAIN_CHECKPOINT', `parameter ${s.spec.name}: expected ${s.spec.size} values, got ${a ? a.length : 'none'}`, { tensor: s.spec.name });
      }
      flat.set(a, s.offset);
    }
    this.ctx.write(this.params, flat);
    this.refreshHalf();
  }

  async readParams(): Promise<Map<string, Float32Array>> {
    return this.unflatten(await this.ctx.readF32(this.params));
  }

  async readGrads(): Promise<Map<string, Float32Array>> {
    return this.unflatten(await this.ctx.readF32(this.grads));
  }

  private unflatten(flat: Float32Array): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const s of this.layout.order) out.set(s.spec.name, flat.slice(s.offset, s.offset + s.spec.size));
    return out;
  }

  /** The optimizer's whole state as flat arrays (for checkpoints). */
  async readState(): Promise<{ params: Float32Array; m: Float32Array; v: Float32Array }> {
    return { params: await this.ctx.readF32(this.params), m: await this.ctx.readF32(this.m), v: await this.ctx.readF32(this.v) };
  }

  writeState(s: { params: Float32Array; m: Float32Array; v: Float32Array }): void {
    for (const [k, a] of Object.entries(s)) {
      if (a.length !== this.layout.total) throw new TrainError('TRAIN_CHECKPOINT', `checkpoint ${k}: ${a.length} values, the model has ${this.layout.total}`);
    }
    this.ctx.write(this.params, s.params);
    this.ctx.write(this.m, s.m);
    this.ctx.write(this.v, s.v);
    this.refreshHalf();
  }

  /** Uploads one micro-batch: tokens[batch, seqLen + 1] → inputs, targets, embedding index. */
  private upload(tokens: Int32Array): void {
    const { batch: B, seqLen: T } = this.shape;
    if (tokens.length !== B * (T + 1)) {
      throw new TrainError('TRAIN_DATA', `a micro-batch holds ${B}×${T + 1} = ${B * (T + 1)} tokens, got ${tokens.length}`);
    }
    const ids = new Int32Array(this.rows);
    const targets = new Uint32Array(this.rows);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        ids[b * T + t] = tokens[b * (T + 1) + t]!;
        const y = tokens[b * (T + 1) + t + 1]!;
        if (!(y >= 0 && y < this.cfg.vocab)) throw new TrainError('TRAIN_DATA', `token ${y} at sequence ${b}, position ${t + 1} is outside the vocabulary (${this.cfg.vocab})`);
        targets[b * T + t] = y;
      }
    }
    const index = embeddingIndex(ids, this.cfg.vocab);
    this.ctx.write(this.ids, new Uint32Array(ids.buffer));
    this.ctx.write(this.targets, targets);
    this.ctx.write(this.embOffsets, index.offsets);
    this.ctx.write(this.embRows, index.rows);
  }

  /** A norm gain: trained, or the frozen base's. */
  private gain(name: string): GpuBinding {
    return this.base ? this.base.vector(name) : this.p(name);
  }
  /** Where a norm gain's gradient goes: its slot, or nowhere (frozen). */
  private gainGrad(name: string): GpuBinding {
    return this.discard ?? this.g(name);
  }

  /**
   * Records y[rows, outDim] = x·Wᵀ (+ bias) for weight `name` [outDim, inDim]; in LoRA mode W is
   * the base's (expanded to f32 first) and an adapted matrix adds u·Bᵀ with u = s·x·Aᵀ (kept).
   */
  private linF(b: GpuBatch, name: string, x: GpuBinding, y: GpuBinding, inDim: number, outDim: number): void {
    const rows = this.rows;
    const biasName = name.replace(/\.weight$/, '.bias');
    if (!this.base) {
      this.lin.linearForward(b, { x, w: this.w(name), bias: this.optional(biasName), y, rows, inDim, outDim });
      return;
    }
    this.base.expand(b, name, this.scratch!);
    this.lin.linearForward(b, { x, w: this.scratch!, bias: this.base.optionalVector(biasName), y, rows, inDim, outDim });
    const ad = this.adapted.get(name);
    if (!ad) return;
    const r = this.lora!.rank;
    const xa = this.droppedInput(b, ad, x, inDim);
    this.lin.linearForward(b, { x: xa, w: this.p(ad.a), y: ad.u, rows, inDim, outDim: r });
    this.blk.scale(b, { x: ad.u, n: rows * r, s: this.loraScale });
    this.lin.matmul(b, { a: ad.u, b: this.p(ad.b), c: y, M: rows, N: outDim, K: r, transB: true, accumulate: true });
  }

  /**
   * Records the backward pass of linF: dx = dy·W (or += when accumulateDx), and the gradients of
   * what trains — W and its bias, or in LoRA mode B (dB += dyᵀ·u) and A (dA += s·(dy·B)ᵀ·x, the
   * input gradient getting s·(dy·B)·A too).
   */
  private linB(b: GpuBatch, name: string, dy: GpuBinding, x: GpuBinding, dx: GpuBinding, inDim: number, outDim: number, accumulateDx: boolean): void {
    const rows = this.rows;
    if (!this.base) {
      const db = this.optionalGrad(name.replace(/\.weight$/, '.bias'));
      this.lin.linearBackward(b, { dy, x, w: this.w(name), dx, dw: this.g(name), db, rows, inDim, outDim, accumulateDx });
      return;
    }
    this.base.expand(b, name, this.scratch!);
    this.lin.matmul(b, { a: dy, b: this.scratch!, c: dx, M: rows, N: inDim, K: outDim, accumulate: accumulateDx });
    const ad = this.adapted.get(name);
    if (!ad) return;
    const r = this.lora!.rank;
    const dU = this.dU!;
    this.lin.matmul(b, { a: dy, b: ad.u, c: this.g(ad.b), M: outDim, N: r, K: rows, transA: true, accumulate: true });
    this.lin.matmul(b, { a: dy, b: this.p(ad.b), c: dU, M: rows, N: r, K: outDim });
    this.blk.scale(b, { x: dU, n: rows * r, s: this.loraScale });
    const xa = this.droppedInput(b, ad, x, inDim);
    this.lin.matmul(b, { a: dU, b: xa, c: this.g(ad.a), M: r, N: inDim, K: rows, transA: true, accumulate: true });
    const seed = this.dropoutSeedOf(ad);
    if (seed === null) {
      this.lin.matmul(b, { a: dU, b: this.p(ad.a), c: dx, M: rows, N: inDim, K: r, accumulate: true });
      return;
    }
    // dx += (du·A) ⊙ M: the same mask, recomputed from its seed.
    const n = rows * inDim;
    const t: GpuBinding = { buffer: this.dropDx!, offset: 0, size: n * 4 };
    this.lin.matmul(b, { a: dU, b: this.p(ad.a), c: t, M: rows, N: inDim, K: r });
    this.blk.dropout(b, { x: t, n, p: this.dropoutP, seed });
    this.blk.addInPlace(b, { x: dx, y: t, n });
  }

  /** The seed of an adapted matrix's dropout mask in the pass being recorded, or null (no dropout). */
  private dropoutSeedOf(ad: Adapted): number | null {
    if (this.dropoutP === 0 || !this.dropoutAt) return null;
    return dropoutSeed(this.dropoutRunSeed, this.dropoutAt.step, this.dropoutAt.micro, ad.index);
  }

  /** The adapters' input: x itself, or x ⊙ M written to the dropout scratch (same mask forward and backward). */
  private droppedInput(b: GpuBatch, ad: Adapted, x: GpuBinding, inDim: number): GpuBinding {
    const seed = this.dropoutSeedOf(ad);
    if (seed === null) return x;
    const n = this.rows * inDim;
    const bx = 'buffer' in x ? x : { buffer: x, offset: 0 };
    b.copy(bx.buffer, bx.offset ?? 0, this.dropX!, 0, n * 4);
    const out: GpuBinding = { buffer: this.dropX!, offset: 0, size: n * 4 };
    this.blk.dropout(b, { x: out, n, p: this.dropoutP, seed });
    return out;
  }

  /** Records the forward pass up to the logits of the uploaded micro-batch. */
  private forward(b: GpuBatch): void {
    const { cfg, rows: N } = this;
    const { dim: D, ff: F, heads: H, kvHeads: Hk } = cfg;
    const hd = headDim(cfg);
    const { batch: B, seqLen: T } = this.shape;
    const neox = ropeNeox(cfg);
    if (this.base) this.base.embed(b, this.ids, N, this.xs[0]!);
    else this.lin.embeddingForward(b, { table: this.p('token_embd.weight'), ids: this.ids, y: this.xs[0]!, rows: N, dim: D });
    for (let l = 0; l < cfg.layers; l++) {
      const a = this.acts[l]!;
      const n = (s: string) => `blk.${l}.${s}`;
      const x = this.xs[l]!;
      this.blk.rmsnormForward(b, { x, w: this.gain(n('attn_norm.weight')), y: a.h1, rstd: a.rstd1, rows: N, dim: D, eps: cfg.rmsEps });
      this.linF(b, n('attn_q.weight'), a.h1, a.q, D, H * hd);
      this.linF(b, n('attn_k.weight'), a.h1, a.k, D, Hk * hd);
      this.linF(b, n('attn_v.weight'), a.h1, a.v, D, Hk * hd);
      this.blk.ropeForward(b, { x: a.q, invFreq: this.invFreq, rows: N, seqLen: T, heads: H, headDim: hd, neox });
      this.blk.ropeForward(b, { x: a.k, invFreq: this.invFreq, rows: N, seqLen: T, heads: Hk, headDim: hd, neox });
      this.blk.attentionForward(b, { q: a.q, k: a.k, v: a.v, out: a.att, probs: a.probs, batch: B, seqLen: T, heads: H, kvHeads: Hk, headDim: hd });
      this.linF(b, n('attn_output.weight'), a.att, this.tmpD, H * hd, D);
      this.blk.add(b, { a: x, b: this.tmpD, out: a.xMid, n: N * D });
      this.blk.rmsnormForward(b, { x: a.xMid, w: this.gain(n('ffn_norm.weight')), y: a.h2, rstd: a.rstd2, rows: N, dim: D, eps: cfg.rmsEps });
      this.linF(b, n('ffn_gate.weight'), a.h2, a.gate, D, F);
      this.linF(b, n('ffn_up.weight'), a.h2, a.up, D, F);
      this.blk.swigluForward(b, { gate: a.gate, up: a.up, out: a.act, n: N * F });
      this.linF(b, n('ffn_down.weight'), a.act, this.tmpD, F, D);
      this.blk.add(b, { a: a.xMid, b: this.tmpD, out: this.xs[l + 1]!, n: N * D });
    }
    this.blk.rmsnormForward(b, { x: this.xs[cfg.layers]!, w: this.gain('output_norm.weight'), y: this.hF, rstd: this.rstdF, rows: N, dim: D, eps: cfg.rmsEps });
    this.linF(b, this.outputName, this.hF, this.logits, D, cfg.vocab);
  }

  private get outputName(): string {
    return this.cfg.tied ? 'token_embd.weight' : 'output.weight';
  }

  /** Records the backward pass; the logits buffer must hold dlogits (crossEntropy wrote it). */
  private backward(b: GpuBatch): void {
    const { cfg, rows: N } = this;
    const { dim: D, ff: F, heads: H, kvHeads: Hk } = cfg;
    const hd = headDim(cfg);
    const { batch: B, seqLen: T } = this.shape;
    const neox = ropeNeox(cfg);
    this.linB(b, this.outputName, this.logits, this.hF, this.dH, D, cfg.vocab, false);
    this.blk.rmsnormBackward(b, { dy: this.dH, x: this.xs[cfg.layers]!, w: this.gain('output_norm.weight'), rstd: this.rstdF, dx: this.dX, dw: this.gainGrad('output_norm.weight'), rows: N, dim: D, accumulateDx: false });
    for (let l = cfg.layers - 1; l >= 0; l--) {
      const a = this.acts[l]!;
      const n = (s: string) => `blk.${l}.${s}`;
      // dX is the gradient of xs[l + 1] = xMid + down(act): it flows to xMid unchanged.
      this.linB(b, n('ffn_down.weight'), this.dX, a.act, this.dAct, F, D, false);
      this.blk.swigluBackward(b, { dout: this.dAct, gate: a.gate, up: a.up, dgate: this.dGate, dup: this.dUp, n: N * F });
      this.linB(b, n('ffn_gate.weight'), this.dGate, a.h2, this.dH, D, F, false);
      this.linB(b, n('ffn_up.weight'), this.dUp, a.h2, this.dH, D, F, true);
      this.blk.rmsnormBackward(b, { dy: this.dH, x: a.xMid, w: this.gain(n('ffn_norm.weight')), rstd: a.rstd2, dx: this.dX, dw: this.gainGrad(n('ffn_norm.weight')), rows: N, dim: D, accumulateDx: true });
      // dX is now the gradient of xMid = xs[l] + attn_output(att).
      this.linB(b, n('attn_output.weight'), this.dX, a.att, this.dAtt, H * hd, D, false);
      this.blk.attentionBackward(b, { dout: this.dAtt, q: a.q, k: a.k, v: a.v, probs: a.probs, dq: this.dQ, dk: this.dK, dv: this.dV, dprobs: this.dProbs, batch: B, seqLen: T, heads: H, kvHeads: Hk, headDim: hd });
      this.blk.ropeBackward(b, { x: this.dQ, invFreq: this.invFreq, rows: N, seqLen: T, heads: H, headDim: hd, neox });
      this.blk.ropeBackward(b, { x: this.dK, invFreq: this.invFreq, rows: N, seqLen: T, heads: Hk, headDim: hd, neox });
      this.linB(b, n('attn_q.weight'), this.dQ, a.h1, this.dH, D, H * hd, false);
      this.linB(b, n('attn_k.weight'), this.dK, a.h1, this.dH, D, Hk * hd, true);
      this.linB(b, n('attn_v.weight'), this.dV, a.h1, this.dH, D, Hk * hd, true);
      this.blk.rmsnormBackward(b, { dy: this.dH, x: this.xs[l]!, w: this.gain(n('attn_norm.weight')), rstd: a.rstd1, dx: this.dX, dw: this.gainGrad(n('attn_norm.weight')), rows: N, dim: D, accumulateDx: true });
    }
    if (!this.base) this.lin.embeddingBackward(b, { dy: this.dX, offsets: this.embOffsets, rowIndex: this.embRows, dTable: this.g('token_embd.weight'), rows: N, dim: D, vocab: cfg.vocab });
  }

  private ensureLossSlots(n: number): void {
    if (n <= this.stepLossSlots) return;
    this.stepLosses.destroy();
    this.bufs.splice(this.bufs.indexOf(this.stepLosses), 1);
    this.stepLosses = this.buf(n * this.rows * 4, 'train:step-losses');
    this.stepLossSlots = n;
  }

  private meanOf(losses: Float32Array): number {
    let s = 0;
    for (const v of losses) s += v;
    return s / losses.length;
  }

  /**
   * One optimizer step over `microBatches` (each [batch, seqLen + 1] tokens): forward, loss,
   * backward of each, gradients averaged, clipped to `s.maxNorm`, AdamW with `s.lr` as step
   * `step` (1-based). Non-finite loss or gradients leave the weights as they were (ok = false).
   */
  async step(microBatches: readonly Int32Array[], step: number, s: AdamWSettings): Promise<StepResult> {
    if (microBatches.length < 1) throw new TrainError('TRAIN_CONFIG', 'a step needs at least one micro-batch');
    this.ensureLossSlots(microBatches.length);
    const clear = this.ctx.batch('train:zero-grads');
    clear.clear(this.grads);
    clear.submit();
    const scale = 1 / (this.rows * microBatches.length);
    microBatches.forEach((tokens, i) => {
      this.upload(tokens);
      const b = this.ctx.batch('train:micro-batch');
      this.dropoutAt = { step, micro: i };
      this.forward(b);
      this.lin.crossEntropy(b, { logits: this.logits, targets: this.targets, rowLoss: this.rowLoss, rows: this.rows, vocab: this.cfg.vocab, scale });
      this.backward(b);
      this.dropoutAt = null;
      b.copy(this.rowLoss, 0, this.stepLosses, i * this.rows * 4, this.rows * 4);
      b.submit();
    });
    const b = this.ctx.batch('train:optimizer');
    this.opt.gradNorm(b, { grad: this.grads, partial: this.partial, stats: this.stats, n: this.layout.total, maxNorm: s.maxNorm });
    this.opt.adamw(b, { param: this.params, grad: this.grads, m: this.m, v: this.v, stats: this.stats, n: this.layout.total, decayEnd: this.layout.decayEnd, step, s });
    this.recordCast(b);
    b.submit();
    const [losses, stats] = await Promise.all([this.ctx.readF32(this.stepLosses, microBatches.length * this.rows), this.ctx.readF32(this.stats, 4)]);
    const loss = this.meanOf(losses);
    return { loss, gradNorm: stats[1]!, clipScale: stats[2]!, ok: stats[3] === 1 && Number.isFinite(loss) };
  }

  /** Mean loss of one micro-batch, forward only (validation). */
  async loss(tokens: Int32Array): Promise<number> {
    this.upload(tokens);
    const b = this.ctx.batch('train:eval');
    this.forward(b);
    this.lin.crossEntropy(b, { logits: this.logits, targets: this.targets, rowLoss: this.rowLoss, rows: this.rows, vocab: this.cfg.vocab, scale: 1 });
    b.submit();
    return this.meanOf(await this.ctx.readF32(this.rowLoss, this.rows));
  }

  /**
   * Loss and every gradient of one micro-batch, the weights unchanged (for the checks); with
   * `dropoutAt`, LoRA dropout's masks are those of that step and micro-batch (else none).
   */
  async lossAndGrads(tokens: Int32Array, dropoutAt?: { step: number; micro: number }): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
    const clear = this.ctx.batch('train:zero-grads');
    clear.clear(this.grads);
    clear.submit();
    this.upload(tokens);
    const b = this.ctx.batch('train:grads');
    this.dropoutAt = dropoutAt ?? null;
    this.forward(b);
    this.lin.crossEntropy(b, { logits: this.logits, targets: this.targets, rowLoss: this.rowLoss, rows: this.rows, vocab: this.cfg.vocab, scale: 1 / this.rows });
    this.backward(b);
    this.dropoutAt = null;
    b.submit();
    const loss = this.meanOf(await this.ctx.readF32(this.rowLoss, this.rows));
    return { loss, grads: await this.readGrads() };
  }

  /** Names of parameters whose gradient holds a NaN or an infinity (after a failed step). */
  async nonFiniteGradients(): Promise<string[]> {
    const grads = await this.readGrads();
    const bad: string[] = [];
    for (const [name, g] of grads) if (!g.every(Number.isFinite)) bad.push(name);
    return bad;
  }

  destroy(): void {
    for (const b of this.bufs) b.destroy();
    this.bufs.length = 0;
  }
}
