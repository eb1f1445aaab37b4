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
 * is made of (model-load.ts, making model-parts.ts's ModelParts), the RoPE tables (rope-tables.ts),
 * what a pass records block by block (forward-encoder.ts) and how each product with a weight
 * matrix is recorded (weight-products.ts). This file holds the Model itself: its state, and
 * forward() running passes over it (chunks, output read-back, tracing, streamed weights).
 */
import { CoreKernels, checkContextWindow, type GpuBatch, type GpuContext } from '../gpu';
import type { ModelArchSpec, ModelConfig } from '../model';
import { EngineError } from './errors';
import { ForwardEncoder } from './forward-encoder';
import type { WeightType } from './quant-matmul';
import { PagedKvCache } from './kv-pages';
import { DispatchCache } from './replay';
import type { ResidencyPlan } from './residency';
import type { TensorSource } from './tensor-source';
import { WeightStream, type StreamRead } from './weight-stream';
import { WeightProducts } from './weight-products';
import type { GpuWeight } from './weights';
import { loadModelParts } from './model-load';
import type { Activations, Block, DecodeLayer, ModelParts } from './model-parts';
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
  private readonly embd: GpuWeight;
  private readonly output: GpuWeight;
  private readonly blocks: Block[];
  private readonly a: Activations;
  /** Rows of logits one output pass writes ('all' reads them back in groups of this many). */
  private readonly logitRows: number;
  private readonly owned: GPUBuffer[];
  /** Weights and activations: fixed at load (the KV cache's bytes follow the context). */
  private readonly fixedMemory: Omit<ModelMemory, 'kvCache'>;
  private readonly kv: PagedKvCache;
  private readonly replay: DispatchCache;
  /** Records the products with weight matrices (weight-products.ts). */
  private readonly products: WeightProducts;
  /** Records a pass's blocks and output head (forward-encoder.ts). */
  private readonly encoder: ForwardEncoder;
  /** The fused decode products' pipeline where fuseDecode and the model allow them, or null. */
  private readonly fusedMatvec: GPUComputePipeline | null;
  /** The one-dispatch decode block where the model takes it (ModelLoadOptions.decodeLayers), else null. */
  private readonly decodeLayer: DecodeLayer | null;
  /** Streamed matrices and their slots; null when everything is resident. */
  private readonly stream: WeightStream | null;
  /** The streamed pieces one pass's body reads, in dispatch order (the output's come after). */
  private readonly streamBody: StreamRead[];
  private history: number[] = [];
  private computed = 0;
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
    this.embd = init.embd;
    this.output = init.output;
    this.blocks = init.blocks;
    this.a = init.a;
    this.logitRows = init.logitRows;
    this.owned = init.owned;
    this.fixedMemory = init.memory;
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
    this.products = new WeightProducts(init);
    this.encoder = new ForwardEncoder(init, this.kv, this.products);
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
          this.products.feed = this.stream.pass([...this.streamBody, ...Array.from({ length: outputPasses }, () => outputReads).flat()]);
          this.products.cut = () => {
            cur.submit();
            cur = this.begin(label);
            return cur.b;
          };
        }
        this.encoder.encodeBody(cur.b, chunk, pos0, (i) => {
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
            this.encoder.encodeOutput(cur.b, r0, rows, fused);
            cur.submit();
            report('output', this.blocks.length);
            all!.set(await this.ctx.readF32(this.a.logits, rows * V), (start + r0) * V);
          }
        } else if (last && output !== 'none') {
          const b = this.encoder.encodeOutput(cur.b, chunk.length - 1, 1, fused);
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
        this.products.feed?.finish();
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
      this.products.feed = null;
      this.products.cut = null;
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
}
