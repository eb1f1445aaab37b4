/**
 * The forward pass of every family we run (llama and its variants, qwen2, qwen3, phi3, gemma2,
 * gemma3: what each adds is its ModelArchSpec, shared/model/arch.ts) on WebGPU. One `Model` owns the weights (GGUF block layout,
 * split by rows past a binding), the paged KV cache (kv-pages.ts: grown by pages as the
 * context fills), and activation buffers for up to `maxBatch` tokens. `forward(tokens)` appends tokens at the current position:
 *
 *   x = token_embd[ids]                                     get_rows (straight from the stored type)
 *   (gemma: x *= √embd)
 *   per block:  h = rmsnorm(x) · attn_norm
 *               q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ (+ bias)       matvec (1 token) / matmul (prefill); phi3: one fused qkv product
 *               (qwen3, gemma3: q, k = per-head rmsnorm)
 *               rope(q), rope(k)                             normal (llama) or NEOX, over rope.dimension_count dims
 *               kv_append(k, v); a = attention(q, K, V)      causal GQA, online softmax (gemma: soft-cap, sliding window)
 *               o = a·Woᵀ (gemma: o = rmsnorm(o) · post_attention_norm); x += o
 *               h = rmsnorm(x) · ffn_norm
 *               f = (act(h·Wgᵀ) ⊙ h·Wuᵀ)·Wdᵀ                 act = silu, gelu (gemma); phi3: gate | up fused
 *               (gemma: f = rmsnorm(f) · post_ffw_norm); x += f
 *   logits = rmsnorm(x) · output_norm · Woutᵀ               Wout = token_embd when output.weight is absent
 *   (gemma2: logits = 30 tanh(logits / 30))
 *
 * Prefill runs T tokens per pass (chunks of maxBatch) through the matrix-matrix kernels; a single
 * token goes through the matrix-vector ones. Output: nothing, the argmax of the last row (computed
 * on the GPU, 8 bytes read back), the last row of logits, or every row (parity tests). *
 * Beside this file: the options and results (model-types.ts), the load that builds what a Model
 * is made of (model-load.ts, making model-parts.ts's ModelParts), the RoPE tables (rope-tables.ts).
 */
import { CoreKernels, checkContextWindow, type GpuBatch, type GpuBinding, type GpuContext } from '../gpu';
import { params } from '../gpu/params';
import type { ModelArchSpec, ModelConfig } from '../model';
import { EngineError } from './errors';
import { recordDecodeLayer } from './decode-layer';
import { planFusedMatvec, recordFusedMatvec, type FusedInput } from './fused-matvec';
import { intVariantFits, planIntMatmul, prefillIntVariant, planIntMatvec, planQuantize, planQuantizeTokens, recordIntDispatch, type IntDispatch, type IntVariant } from './int-matvec';
import { isTileVariant, planGetRows, planMatmul, PREFILL_ENTRY, type PrefillVariant, type WeightDispatch, type WeightKernelTuning, type WeightType } from './quant-matmul';
import type { GpuLora } from './lora';
import { PagedKvCache } from './kv-pages';
import { DispatchCache } from './replay';
import type { ResidencyPlan } from './residency';
import type { TensorSource } from './tensor-source';
import { WeightStream, type StreamPass, type StreamRead } from './weight-stream';
import type { GpuWeight, WeightPart } from './weights';
import { loadModelParts } from './model-load';
import { intPipelineKey, pipelineKey, type Activations, type Block, type DecodeLayer, type ModelParts } from './model-parts';
import type { ForwardOutput, ForwardResult, ForwardTrace, ForwardTraceEvent, ModelLoadOptions, ModelMemory } from './model-types';

// The public shapes and the RoPE tables live beside this file; this is their import path.
export { DEFAULT_CONTEXT_CAP, DEFAULT_MAX_BATCH, type ForwardOutput, type ForwardResult, type ForwardTrace, type ForwardTraceEvent, type LoadProgress, type ModelLoadOptions, type ModelMemory } from './model-types';
export { layerRopeInvFreq, llamaRopeInvFreq } from './rope-tables';

/** What the argmax kernel answers when no logit can win (all NaN). */
const ARGMAX_NONE = 0xffffffff;

/** NaN logits everywhere mean NaN (or infinite) weights or activations upstream, not a bad token. */
function nonFiniteLogits(position: number): EngineError {
  return new EngineError(
    'ENGINE_NONFINITE_LOGITS',
    `every logit at position ${position} is NaN: the model's weights or activations are not finite numbers (a damaged or wrongly converted file? \`pxi verify\` checks a stored model)`,
    { position },
  );
}

export class Model {
  readonly config: ModelConfig;
  readonly arch: ModelArchSpec;
  readonly contextLength: number;
  readonly maxBatch: number;
  /** What stays on the GPU and what streams, and why (residency.ts). */
  readonly residency: ResidencyPlan;
  private readonly ctx: GpuContext;
  private readonly k: CoreKernels;
  private readonly tuning: WeightKernelTuning;
  private readonly matvecTuning: Partial<Record<WeightType, WeightKernelTuning>>;
  private readonly intMatvec: Partial<Record<WeightType, IntVariant>>;
  private readonly prefillMatmul: Partial<Record<WeightType, PrefillVariant>>;
  private readonly pipelines: Map<string, GPUComputePipeline>;
  private readonly embd: GpuWeight;
  private readonly output: GpuWeight;
  private readonly outputNorm: GPUBuffer;
  private readonly blocks: Block[];
  /** LoRA pairs by base tensor name (empty without an adapter). */
  private readonly loras: ReadonlyMap<string, GpuLora>;
  private readonly a: Activations;
  /** Rows of logits one output pass writes ('all' reads them back in groups of this many). */
  private readonly logitRows: number;
  private readonly owned: GPUBuffer[];
  /** Weights and activations: fixed at load (the KV cache's bytes follow the context). */
  private readonly fixedMemory: Omit<ModelMemory, 'kvCache'>;
  private readonly kv: PagedKvCache;
  private readonly replay: DispatchCache;
  /** See ModelLoadOptions.fuse. */
  private readonly fuse: boolean;
  /** See ModelLoadOptions.fuseDecode (with `fuse`). */
  private readonly fuseDecode: boolean;
  /** The fused decode products' pipeline where fuseDecode and the model allow them, or null. */
  private readonly fusedMatvec: GPUComputePipeline | null;
  /** The one-dispatch decode block where the model takes it (ModelLoadOptions.decodeLayers), else null. */
  private readonly decodeLayer: DecodeLayer | null;
  /** Streamed matrices and their slots; null when everything is resident. */
  private readonly stream: WeightStream | null;
  /** The streamed pieces one pass's body reads, in dispatch order (the output's come after). */
  private readonly streamBody: StreamRead[];
  /** During a pass with streamed weights: its reads, and how to close the batch being recorded and open the next. */
  private feed: StreamPass | null = null;
  private cut: (() => GpuBatch) | null = null;
  private history: number[] = [];
  private computed = 0;
  /** Whether a.xq holds the x of the last product recorded (for `sameX`). */
  private xqFresh = false;
  private busy = false;
  /**
   * When set, every forward pass submits one command buffer per block and reports each as the
   * GPU completes it (a few more submits per token; results are unchanged). Null: one submit.
   */
  trace: ForwardTrace | null = null;
  /** The residual stream after each block (last token of a traced pass), made on first trace. */
  private residuals: GPUBuffer | null = null;
  private destroyed = false;

  private constructor(init: ModelParts) {
    this.ctx = init.ctx;
    this.k = init.k;
    this.config = init.config;
    this.arch = init.arch;
    this.contextLength = init.contextLength;
    this.maxBatch = init.maxBatch;
    this.tuning = init.tuning;
    this.matvecTuning = init.matvecTuning;
    this.intMatvec = init.intMatvec;
    this.prefillMatmul = init.prefillMatmul;
    this.pipelines = init.pipelines;
    this.embd = init.embd;
    this.output = init.output;
    this.outputNorm = init.outputNorm;
    this.blocks = init.blocks;
    this.loras = init.loras;
    this.a = init.a;
    this.logitRows = init.logitRows;
    this.owned = init.owned;
    this.fixedMemory = init.memory;
    this.fuse = init.fuse;
    this.fuseDecode = init.fuseDecode;
    this.fusedMatvec = init.fusedMatvec;
    this.decodeLayer = init.decodeLayer;
    this.residency = init.residency;
    this.stream = init.stream;
    this.replay = new DispatchCache(init.ctx);
    const streamed = (w: GpuWeight | null): StreamRead[] => (w?.streamed ? this.stream!.reads(w.name) : []);
    this.streamBody = [
      ...streamed(this.embd),
      ...this.blocks.flatMap((b) => [b.qkv, b.q, b.k, b.v, b.o, b.gate, b.up, b.down].flatMap(streamed)),
    ];
    const c = init.config;
    this.kv = new PagedKvCache(
      init.ctx,
      init.k,
      { blocks: c.blockCount, kvHeads: c.headCountKv, headDim: c.headDim, maxContext: init.contextLength, pageSize: init.kvPageSize },
      // Bind groups naming the replaced buffers would keep them alive and are never used again.
      () => this.replay.forgetBindGroups(),
    );
  }

  /** Reads the configuration, checks it against the device, uploads the weights and allocates the caches (model-load.ts). */
  static async load(ctx: GpuContext, source: TensorSource, opts: ModelLoadOptions = {}): Promise<Model> {
    return new Model(await loadModelParts(ctx, source, opts));
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  /** Whether one-token passes run through the fused decode products (ModelLoadOptions.fuseDecode). */
  get fusedProducts(): boolean {
    return this.fusedMatvec !== null;
  }

  /** Whether one-token passes run each block as one dispatch (ModelLoadOptions.decodeLayers). */
  get decodeLayers(): boolean {
    return this.decodeLayer !== null;
  }

  /** Bytes written to the streamed weights' slots since the load (0 when everything is resident). */
  get streamedBytes(): number {
    return this.stream?.uploadedBytes ?? 0;
  }

  /** Bytes the model holds on the GPU now, by kind; the KV cache's are the pages it holds. */
  get memory(): ModelMemory {
    return { weights: this.fixedMemory.weights, kvCache: this.kv.bytes, activations: this.fixedMemory.activations };
  }

  /** Bytes one position takes in the KV cache (every block, K and V). */
  get kvBytesPerToken(): number {
    return this.kv.bytesPerPosition;
  }

  /** The KV cache's pages: positions per page, pages held, and the positions they cover. */
  get kvPages(): { pageSize: number; pages: number; capacity: number } {
    return { pageSize: this.kv.pageSize, pages: this.kv.pages, capacity: this.kv.capacity };
  }

  /** Tokens forward() has computed since the load (what a turn reused from the cache it did not). */
  get tokensComputed(): number {
    return this.computed;
  }

  /** Tokens in the KV cache (the position the next token takes). */
  get position(): number {
    return this.history.length;
  }

  /** The tokens in the KV cache, in order. */
  get tokens(): readonly number[] {
    return this.history;
  }

  /**
   * Forgets everything after the first `n` cached tokens (the next forward continues at n).
   * rewind(0) ends the conversation: every KV page goes back (the next forward takes new ones).
   * Other rewinds keep the pages, as the next turn usually refills them; releaseKv() trims them.
   */
  rewind(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.history.length) {
      throw new EngineError('ENGINE_BAD_OPTION', `rewind(${n}): the cache holds ${this.history.length} tokens`, { field: 'n', value: n });
    }
    this.history.length = n;
    // A running pass still encodes with the pages; it ends with them and leaves them held.
    if (n === 0 && !this.busy) this.kv.clear();
  }

  /** Gives back the KV pages past those the cached tokens need. */
  async releaseKv(): Promise<void> {
    if (this.destroyed || this.busy) return;
    this.busy = true;
    try {
      await this.kv.shrink(this.position);
    } finally {
      this.busy = false;
    }
  }

  /**
   * Runs `tokens` at the current position, appending them to the KV cache, and returns what
   * `output` asks for. Throws ContextWindowExceededError (nothing run) when they do not fit.
   */
  async forward(tokens: readonly number[], output: ForwardOutput = 'last'): Promise<ForwardResult> {
    if (this.destroyed) throw new EngineError('ENGINE_DESTROYED', 'the model was destroyed');
    if (this.busy) throw new EngineError('ENGINE_BAD_OPTION', 'forward() called while another forward() is running on the same model');
    if (tokens.length === 0) throw new EngineError('ENGINE_BAD_OPTION', 'forward() needs at least one token');
    checkContextWindow(this.position, tokens.length, this.contextLength);
    for (const id of tokens) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new EngineError('ENGINE_BAD_TOKEN', `token id ${id} is outside the vocabulary of ${this.vocabSize}`, { token: id });
      }
    }
    this.ctx.assertAlive();
    this.busy = true;
    try {
      await this.kv.grow(this.position + tokens.length, this.position);
      const V = this.vocabSize;
      const all = output === 'all' ? new Float32Array(tokens.length * V) : null;
      let result: ForwardResult = { logits: all, token: null };
      for (let start = 0; start < tokens.length; start += this.maxBatch) {
        const chunk = tokens.slice(start, start + this.maxBatch);
        const last = start + chunk.length === tokens.length;
        const pos0 = this.position;
        const trace = this.trace;
        const report = (stage: ForwardTraceEvent['stage'], block: number) => {
          if (!trace) return;
          const e: ForwardTraceEvent = { stage, block, blocks: this.blocks.length, pos0, tokens: chunk.length };
          // Completion order is submit order, so events arrive block by block.
          void this.ctx.device.queue.onSubmittedWorkDone().then(() => trace(e), () => undefined);
        };
        const E = this.config.embeddingLength;
        const residuals = trace ? (this.residuals ??= this.traceBuffer()) : null;
        const label = `forward ${pos0}+${chunk.length}`;
        let cur = this.begin(label);
        // Streamed weights: the pass's reads in order; after each, the batch is submitted so
        // the slot it read can be written again (weight-stream.ts).
        const outputPasses = output === 'all' ? Math.ceil(chunk.length / this.logitRows) : last && output !== 'none' ? 1 : 0;
        if (this.stream) {
          const outputReads = this.output.streamed ? this.stream.reads(this.output.name) : [];
          this.feed = this.stream.pass([...this.streamBody, ...Array.from({ length: outputPasses }, () => outputReads).flat()]);
          this.cut = () => {
            cur.submit();
            cur = this.begin(label);
            return cur.b;
          };
        }
        this.encodeBody(cur.b, chunk, pos0, (i) => {
          if (!trace) return;
          cur.submit();
          report('block', i);
          // The last token's row of x, as the block left it.
          this.ctx.copyBuffer(this.a.x, (chunk.length - 1) * E * 4, residuals!, i * E * 4, E * 4);
          cur = this.begin(`${label} after block ${i}`);
          return cur.b;
        });
        // The body leaves rmsnorm(x) · output_norm in xn (its last residual add), or with the
        // fused products x alone (the output product normalises it).
        const fused = this.fusedMatvec !== null && chunk.length === 1;
        if (output === 'all') {
          cur.submit();
          for (let r0 = 0; r0 < chunk.length; r0 += this.logitRows) {
            const rows = Math.min(this.logitRows, chunk.length - r0);
            cur = this.begin('logits');
            this.encodeOutput(cur.b, r0, rows, fused);
            cur.submit();
            report('output', this.blocks.length);
            all!.set(await this.ctx.readF32(this.a.logits, rows * V), (start + r0) * V);
          }
        } else if (last && output !== 'none') {
          const b = this.encodeOutput(cur.b, chunk.length - 1, 1, fused);
          if (output === 'argmax') this.k.argmax(b, { x: this.a.logits, n: V, out: this.a.best, scratch: this.a.scratch });
          cur.submit();
          report('output', this.blocks.length);
          if (output === 'argmax') {
            const best = await this.ctx.readU32(this.a.best, 2);
            // The kernel answers no index (0xFFFFFFFF) only when every logit is NaN.
            if (best[1] === ARGMAX_NONE) throw nonFiniteLogits(pos0 + chunk.length - 1);
            result = { logits: null, token: best[1]! };
          } else {
            const logits = await this.ctx.readF32(this.a.logits, V);
            if (logits.every(Number.isNaN)) throw nonFiniteLogits(pos0 + chunk.length - 1);
            result = { logits, token: null };
          }
        } else {
          cur.submit();
        }
        this.feed?.finish();
        if (trace) {
          // Read back without holding the pass: the copy to the staging buffer is queued now, so
          // the next pass cannot overwrite the rows before it runs.
          void this.ctx.readF32(residuals!, this.blocks.length * E).then(
            (values) => trace({ stage: 'activations', block: this.blocks.length, blocks: this.blocks.length, pos0, tokens: chunk.length, values }),
            () => undefined,
          );
        }
        for (const id of chunk) this.history.push(id);
        this.computed += chunk.length;
      }
      if (output === 'none') await this.ctx.sync();
      return result;
    } finally {
      this.busy = false;
      this.feed = null;
      this.cut = null;
    }
  }

  private traceBuffer(): GPUBuffer {
    const buf = this.ctx.storage(this.blocks.length * this.config.embeddingLength * 4, 'trace:residuals');
    this.owned.push(buf);
    return buf;
  }

  /** The weight matrices on the GPU: type, shape and the row parts each is split into. */
  describeWeights(): { name: string; type: WeightType; rows: number; cols: number; bytes: number; parts: number }[] {
    const all = [this.embd, ...this.blocks.flatMap((b) => [b.q, b.k, b.v, b.qkv, b.o, b.gate, b.up, b.down].filter((w): w is GpuWeight => w !== null))];
    if (this.output !== this.embd) all.splice(1, 0, this.output);
    return all.map((w) => ({ name: w.name, type: w.type, rows: w.rows, cols: w.cols, bytes: w.bytes, parts: w.parts.length }));
  }

  /** Frees every GPU buffer of the model; the context stays open. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.replay.destroy();
    for (const b of this.owned) b.destroy();
    this.kv.destroy();
  }

  // ---- encoders --------------------------------------------------------------------------

  /**
   * Where a pass records: the bind-group-caching replay normally, a GpuBatch when per-pass GPU
   * timing is on (the batch brackets each dispatch with timestamps).
   */
  private begin(label: string): { b: GpuBatch; submit: () => void } {
    if (this.ctx.activeTimingHook) {
      const b = this.ctx.batch(label);
      return { b, submit: () => b.submit() };
    }
    const rec = this.replay.recorder();
    return { b: rec.asBatch(), submit: () => this.replay.submit(rec, label) };
  }

  /** Encodes the embedding and every block; `afterBlock` may hand back a fresh batch for the next block (tracing). */
  private encodeBody(b: GpuBatch, ids: readonly number[], pos0: number, afterBlock?: (block: number) => GpuBatch | void): void {
    const c = this.config;
    const arch = this.arch;
    const a = this.a;
    const T = ids.length;
    const E = c.embeddingLength;
    const HD = c.headDim;
    const qDim = c.headCount * HD;
    const kvDim = c.headCountKv * HD;
    const F = c.feedForwardLength;
    const neox = c.ropeType === 'neox';
    const ropeDims = c.ropeDimensionCount;
    // Phi-3's attn_factor multiplies RoPE's cos and sin: q·k grows by its square.
    const scale = arch.attentionScale * arch.ropeAttnFactor * arch.ropeAttnFactor;
    // One token through the fused products (ModelLoadOptions.fuseDecode): each norm is done
    // by the product that reads it, each residual add by the product before it, SwiGLU by down.
    const fp = this.fusedMatvec !== null && T === 1;
    const norm: FusedInput = { kind: 'rmsnorm', eps: c.rmsEps };
    b = this.encodeEmbedding(b, ids);
    if (arch.embeddingScale !== 1) this.k.scale(b, { x: a.x, n: T * E, s: arch.embeddingScale });
    // Block 0's attention norm stands alone; every later norm (the next block's, the output
    // norm after the last) is done by the residual add before it (addResidual).
    if (!fp) this.k.rmsnorm(b, { x: a.x, w: this.blocks[0]!.attnNorm, y: a.xn, rows: T, n: E, eps: c.rmsEps });
    if (fp && this.decodeLayer) {
      // One token, each block one dispatch: the fused products' block, in one workgroup.
      const dl = this.decodeLayer;
      for (const [i, blk] of this.blocks.entries()) {
        const cache = this.kv.block(i);
        checkContextWindow(pos0, 1, cache.maxContext);
        recordDecodeLayer(b, dl.pipeline, dl.plan, { pos0, scale, eps: c.rmsEps }, { pack: dl.packs[i]!, x: a.x, kCache: cache.k, vCache: cache.v, invFreq: blk.invFreq }, `decode_layer ${blk.qkv!.name} ${blk.o.name} ${blk.up.name} ${blk.down.name}`);
        b = afterBlock?.(i) ?? b;
      }
      return;
    }
    for (const [i, blk] of this.blocks.entries()) {
      // Where q, k and v are: three buffers, or one fused [T, q | k | v] buffer read through strides.
      let q = { buf: a.q, stride: qDim, offset: 0 };
      let k = { buf: a.k, stride: kvDim, offset: 0 };
      let v = { buf: a.v, stride: kvDim, offset: 0 };
      if (blk.qkv) {
        const w = qDim + 2 * kvDim;
        if (fp) this.fusedProduct(b, blk.qkv, a.x, a.q, norm, blk.attnNorm, false);
        else b = this.matmul(b, blk.qkv, a.xn, a.q, T);
        q = { buf: a.q, stride: w, offset: 0 };
        k = { buf: a.q, stride: w, offset: qDim };
        v = { buf: a.q, stride: w, offset: qDim + kvDim };
      } else if (fp) {
        this.fusedProduct(b, blk.q!, a.x, a.q, norm, blk.attnNorm, false);
        this.fusedProduct(b, blk.k!, a.x, a.k, norm, blk.attnNorm, false);
        this.fusedProduct(b, blk.v!, a.x, a.v, norm, blk.attnNorm, false);
      } else {
        b = this.matmul(b, blk.q!, a.xn, a.q, T);
        b = this.matmul(b, blk.k!, a.xn, a.k, T, 0, true);
        b = this.matmul(b, blk.v!, a.xn, a.v, T, 0, true);
      }
      if (blk.qkvBias) this.k.biasAdd(b, { x: a.q, bias: blk.qkvBias, T, cols: qDim + 2 * kvDim });
      if (blk.qBias) this.k.biasAdd(b, { x: a.q, bias: blk.qBias, T, cols: qDim });
      if (blk.kBias) this.k.biasAdd(b, { x: a.k, bias: blk.kBias, T, cols: kvDim });
      if (blk.vBias) this.k.biasAdd(b, { x: a.v, bias: blk.vBias, T, cols: kvDim });
      if (blk.qNorm && blk.kNorm) {
        // Per head: T · heads rows of headDim (q and k are unfused here).
        this.k.rmsnorm(b, { x: a.q, w: blk.qNorm, y: a.qn, rows: T * c.headCount, n: HD, eps: c.rmsEps });
        this.k.rmsnorm(b, { x: a.k, w: blk.kNorm, y: a.kn, rows: T * c.headCountKv, n: HD, eps: c.rmsEps });
        q = { buf: a.qn, stride: qDim, offset: 0 };
        k = { buf: a.kn, stride: kvDim, offset: 0 };
      }
      // Three buffers (k and v may share one), or one packed [T, q | k | v]: rope_kv_append reads either.
      const packed = q.buf === k.buf && q.buf === v.buf;
      const ropeAttention = this.fuseDecode && T === 1;
      if (ropeAttention) {
        // One token: RoPE, the KV append and attention in one dispatch (attention.wgsl's decode_rope).
        this.k.attentionRope(b, {
          q: q.buf,
          k: k.buf,
          v: v.buf,
          cache: this.kv.block(i),
          out: a.att,
          invFreq: blk.invFreq,
          heads: c.headCount,
          pos0,
          neox,
          ropeDims,
          qOffset: q.offset,
          kOffset: k.offset,
          vOffset: v.offset,
          scale,
          softcap: arch.attnSoftcap,
          window: blk.window,
        });
      } else if (this.fuse && (packed || (q.buf !== k.buf && q.buf !== v.buf))) {
        this.k.ropeKvAppend(b, {
          q: q.buf,
          k: k.buf,
          v: v.buf,
          cache: this.kv.block(i),
          invFreq: blk.invFreq,
          T,
          qHeads: c.headCount,
          pos0,
          neox,
          ropeDims,
          qStride: q.stride,
          qOffset: q.offset,
          kStride: k.stride,
          kOffset: k.offset,
          vStride: v.stride,
          vOffset: v.offset,
        });
      } else {
        this.k.rope(b, { x: q.buf, invFreq: blk.invFreq, T, heads: c.headCount, headDim: HD, pos0, neox, ropeDims, stride: q.stride, offset: q.offset });
        this.k.rope(b, { x: k.buf, invFreq: blk.invFreq, T, heads: c.headCountKv, headDim: HD, pos0, neox, ropeDims, stride: k.stride, offset: k.offset });
        this.k.kvAppend(b, { cache: this.kv.block(i), k: k.buf, v: v.buf, T, pos0, kStride: k.stride, kOffset: k.offset, vStride: v.stride, vOffset: v.offset });
      }
      if (!ropeAttention) this.k.attention(b, {
        q: q.buf,
        qStride: q.stride,
        qOffset: q.offset,
        cache: this.kv.block(i),
        out: a.att,
        T,
        heads: c.headCount,
        pos0,
        scale,
        softcap: arch.attnSoftcap,
        window: blk.window,
      });
      if (fp) {
        // x += o·att; x += down·swiglu(gate|up · rmsnorm(x)); the next norm is the next product's.
        this.fusedProduct(b, blk.o, a.att, a.x, { kind: 'plain' }, null, true);
        this.fusedProduct(b, blk.up, a.x, a.gate, norm, blk.ffnNorm, false);
        this.fusedProduct(b, blk.down, a.gate, a.x, { kind: 'swiglu', upOffset: F }, null, true);
        b = afterBlock?.(i) ?? b;
        continue;
      }
      b = this.matmul(b, blk.o, a.att, a.proj, T);
      this.addResidual(b, a.proj, blk.attnPostNorm, blk.ffnNorm, T);
      if (blk.gate) {
        b = this.matmul(b, blk.gate, a.xn, a.gate, T);
        b = this.matmul(b, blk.up, a.xn, a.up, T, 0, true);
        if (arch.activation === 'gelu') this.k.geglu(b, { gate: a.gate, up: a.up, out: a.act, n: T * F });
        else this.k.swiglu(b, { gate: a.gate, up: a.up, out: a.act, n: T * F });
      } else {
        // Fused [T, gate | up] (phi3, SiLU).
        b = this.matmul(b, blk.up, a.xn, a.gate, T);
        this.k.swigluFused(b, { x: a.gate, out: a.act, T, cols: F });
      }
      b = this.matmul(b, blk.down, a.act, a.proj, T);
      this.addResidual(b, a.proj, blk.ffnPostNorm, this.blocks[i + 1]?.attnNorm ?? this.outputNorm, T);
      b = afterBlock?.(i) ?? b;
    }
  }

  /**
   * x += y, or x += rmsnorm(y) · postNorm (gemma's post-norms; xn is free by then); then
   * xn = rmsnorm(x) · norm, the norm that follows (the FFN's, the next block's, the output's).
   * Without a post-norm and with fusion on, both are one add_rmsnorm dispatch.
   */
  private addResidual(b: GpuBatch, y: GPUBuffer, postNorm: GPUBuffer | null, norm: GPUBuffer, T: number): void {
    const c = this.config;
    const E = c.embeddingLength;
    const a = this.a;
    if (postNorm) {
      this.k.rmsnorm(b, { x: y, w: postNorm, y: a.xn, rows: T, n: E, eps: c.rmsEps });
      this.k.addInPlace(b, { x: a.x, b: a.xn, n: T * E });
    } else if (this.fuse) {
      this.k.addRmsnorm(b, { x: a.x, d: y, w: norm, y: a.xn, rows: T, n: E, eps: c.rmsEps });
      return;
    } else {
      this.k.addInPlace(b, { x: a.x, b: y, n: T * E });
    }
    this.k.rmsnorm(b, { x: a.x, w: norm, y: a.xn, rows: T, n: E, eps: c.rmsEps });
  }

  /**
   * y = W · input(x) (+ y when `add`) through the fused decode product, one dispatch per row part
   * of W; `normWeight` is the norm's weight for an rmsnorm input.
   */
  private fusedProduct(b: GpuBatch, w: GpuWeight, x: GPUBuffer, y: GPUBuffer, input: FusedInput, normWeight: GPUBuffer | null, add: boolean): void {
    this.xqFresh = false;
    for (const part of w.parts) {
      const d = planFusedMatvec({ rows: part.rows, cols: w.cols, yOffset: part.rowStart, input, add });
      recordFusedMatvec(b, this.fusedMatvec!, d, { w: part.buffer, x, y, norm: normWeight ?? x }, `matvec_fused ${w.name}`);
    }
  }

  /**
   * logits[0 .. rows) = xn[row0 .. row0 + rows) · Woutᵀ, or after a fused one-token body (`fused`)
   * rmsnorm(x) · output_norm · Woutᵀ in one product. Returns the batch to go on recording in.
   */
  private encodeOutput(b: GpuBatch, row0: number, rows: number, fused = false): GpuBatch {
    if (fused) this.fusedProduct(b, this.output, this.a.x, this.a.logits, { kind: 'rmsnorm', eps: this.config.rmsEps }, this.outputNorm, false);
    else b = this.matmul(b, this.output, this.a.xn, this.a.logits, rows, row0 * this.config.embeddingLength);
    if (this.arch.finalSoftcap) this.k.softcap(b, { x: this.a.logits, n: rows * this.config.vocabSize, cap: this.arch.finalSoftcap });
    return b;
  }

  /** x[t] = token_embd[ids[t]]; with a split table, each run of tokens in one part is one gather. */
  private encodeEmbedding(b: GpuBatch, ids: readonly number[]): GpuBatch {
    const w = this.embd;
    const E = this.config.embeddingLength;
    const partOf = (id: number) => w.parts.findIndex((p) => id >= p.rowStart && id < p.rowStart + p.rows);
    const local = new Uint32Array(ids.length);
    const owner = ids.map((id, i) => {
      const p = partOf(id);
      local[i] = id - w.parts[p]!.rowStart;
      return p;
    });
    this.ctx.write(this.a.ids, local);
    // One gather per run of tokens in one part, from the part's buffer (a slot when streamed).
    const gather = (b: GpuBatch, p: number, part: WeightPart) => {
      for (let i = 0; i < ids.length; ) {
        let j = i + 1;
        while (j < ids.length && owner[j] === owner[i]) j++;
        if (owner[i] === p) {
          const d = planGetRows({
            weights: { type: w.type, rows: part.rows, cols: w.cols, buffer: part.buffer },
            count: j - i,
            idsOffset: i,
            outOffset: i * E,
            outStride: E,
            tuning: this.tuning,
          });
          this.dispatchWeight(b, d, [part.buffer, undefined, this.a.x, this.a.ids], `get_rows ${w.name}`);
        }
        i = j;
      }
    };
    if (!w.streamed) {
      w.parts.forEach((part, p) => gather(b, p, part));
      return b;
    }
    // Streamed: every piece in order (the pass planned them all), each one submit.
    for (let p = 0; p < w.parts.length; p++) {
      gather(b, p, this.feed!.bind(w.name, p));
      b = this.nextAfterStreamed();
    }
    return b;
  }

  /** After the dispatches that read a streamed piece: submit them and free its slot for the read after next (weight-stream.ts). */
  private nextAfterStreamed(): GpuBatch {
    const next = this.cut!();
    this.feed!.release();
    return next;
  }

  /**
   * y[t, :] = W · x[t, :] for T rows of x starting at element xOffset; one dispatch per row part
   * of W (per piece, each its own submit, when W streams). Returns the batch to go on recording in.
   * `sameX`: x is what the previous product read (its quantised copy is reused by the integer kernels).
   */
  private matmul(b: GpuBatch, w: GpuWeight, x: GPUBuffer, y: GPUBuffer, T: number, xOffset = 0, sameX = false): GpuBatch {
    // The integer decode kernels read resident weights only (a streamed piece goes through the f32 path).
    const variant = T === 1 && !w.streamed ? this.intMatvec[w.type] : undefined;
    if (variant && intVariantFits(variant, { cols: w.cols }, w.type) && !this.loras.has(w.name)) {
      if (!sameX || !this.xqFresh) {
        const q = planQuantize(w.cols, xOffset);
        this.dispatchInt(b, q, [x, this.a.xq], `quantize_q8 ${w.name}`);
      }
      for (const part of w.parts) {
        const d = planIntMatvec({ weights: { type: w.type, rows: part.rows, cols: w.cols }, variant, yOffset: part.rowStart });
        this.dispatchInt(b, d, [part.buffer, this.a.xq, y], `matvec ${w.name}`);
      }
      this.xqFresh = true;
      return b;
    }
    const prefill = T > 1 ? this.prefillMatmul[w.type] : undefined;
    // The integer prefill product, on resident weights without an adapter (else the f32 kernels).
    if (prefill && !isTileVariant(prefill) && !w.streamed && !this.loras.has(w.name)) {
      if (!sameX || !this.xqFresh) {
        const q = planQuantizeTokens(w.cols, T, xOffset, w.cols);
        this.dispatchInt(b, q, [x, this.a.xq], `quantize_q8 ${w.name}`);
      }
      for (const part of w.parts) {
        const d = planIntMatmul({ weights: { type: w.type, rows: part.rows, cols: w.cols }, variant: prefillIntVariant(prefill), tokens: T, yOffset: part.rowStart, yStride: w.rows });
        this.dispatchInt(b, d, [part.buffer, this.a.xq, y], `matmul ${w.name}`);
      }
      this.xqFresh = true;
      return b;
    }
    this.xqFresh = false;
    const product = (b: GpuBatch, part: WeightPart) => {
      const d = planMatmul({
        weights: { type: w.type, rows: part.rows, cols: w.cols, buffer: part.buffer },
        tokens: T,
        xOffset,
        xStride: w.cols,
        yOffset: part.rowStart,
        yStride: w.rows,
        tuning: T === 1 ? (this.matvecTuning[w.type] ?? this.tuning) : this.tuning,
        entryPoint: T === 1 ? 'matvec' : prefill && isTileVariant(prefill) ? PREFILL_ENTRY[prefill] : 'matmul',
      });
      this.dispatchWeight(b, d, [part.buffer, x, y], w.name);
    };
    if (w.streamed) {
      for (let p = 0; p < w.parts.length; p++) {
        product(b, this.feed!.bind(w.name, p));
        b = this.nextAfterStreamed();
      }
    } else {
      for (const part of w.parts) product(b, part);
    }
    const lora = this.loras.get(w.name);
    if (lora) {
      // y += s · B·(A·x), as llama.cpp's build_lora_mm adds it.
      this.matmul(b, lora.a, x, this.a.loraR, T, xOffset);
      this.matmul(b, lora.b, this.a.loraR, this.a.loraO, T);
      this.k.scale(b, { x: this.a.loraO, n: T * w.rows, s: lora.scale });
      this.k.addInPlace(b, { x: y, b: this.a.loraO, n: T * w.rows });
    }
    return b;
  }

  private dispatchInt(b: GpuBatch, d: IntDispatch, bindings: GpuBinding[], label: string): void {
    const p = this.pipelines.get(intPipelineKey(d));
    if (!p) throw new EngineError('ENGINE_BAD_OPTION', `no pipeline prepared for ${intPipelineKey(d)}`);
    recordIntDispatch(b, p, d, bindings, label);
  }

  private dispatchWeight(b: GpuBatch, d: WeightDispatch, bindings: (GpuBinding | undefined)[], label: string): void {
    const p = this.pipelines.get(pipelineKey(d));
    if (!p) throw new EngineError('ENGINE_BAD_OPTION', `no pipeline prepared for ${pipelineKey(d)}`);
    const u = params();
    for (const v of d.params) u.u32(v);
    b.dispatch(p, [b.uniform(u), ...bindings], d.workgroups, `${d.entryPoint} ${label}`);
  }
}
