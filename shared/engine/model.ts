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
 * on the GPU, 8 bytes read back), the last row of logits, or every row (parity tests).
 */
import {
  CoreKernels,
  checkBuffersFit,
  checkContextWindow,
  type BufferNeed,
  type GpuBatch,
  type GpuBinding,
  type GpuContext,
} from '../gpu';
import { params } from '../gpu/params';
import type { LoraAdapter } from '../lora';
import { blockMatrixNames, modelArchFromGguf, modelConfigFromGguf, modelVectorNames, type ModelArchSpec, type ModelConfig } from '../model';
import { EngineError } from './errors';
import { FUSED_MATVEC_ENTRY, FUSED_MATVEC_MAX_COLS, FUSED_MATVEC_SHADER, FUSED_MATVEC_WG, planFusedMatvec, recordFusedMatvec, type FusedInput } from './fused-matvec';
import { intPipeline, intVariantFits, intVariantsFor, isIntWeightType, planIntMatmul, planIntMatvec, planQuantize, planQuantizeTokens, quantizedXWords, recordIntDispatch, type IntDispatch, type IntVariant, type IntWeightType } from './int-matvec';
import { DEFAULT_TUNING, isTileVariant, planGetRows, planMatmul, PREFILL_ENTRY, PREFILL_VARIANTS, prefillVariantFits, type PrefillVariant, type WeightDispatch, type WeightKernelTuning, type WeightType } from './quant-matmul';
import { paddedLoraRank, readLoraValues, uploadLora, type GpuLora } from './lora';
import { KV_PAGE_POSITIONS, PagedKvCache } from './kv-pages';
import { DispatchCache } from './replay';
import { planResidency, type ResidencyMatrix, type ResidencyPlan } from './residency';
import { MAX_HEAD_DIM } from './support';
import type { TensorInfo, TensorSource } from './tensor-source';
import { WeightStream, type StreamPass, type StreamRead } from './weight-stream';
import { matrixShape, planRowParts, readVector, weightTypeOf, WeightUploader, type GpuWeight, type HostWeight, type WeightPart } from './weights';

/** Default KV-cache length when the caller does not choose: the model's, capped (memory grows with it). */
export const DEFAULT_CONTEXT_CAP = 4096;
/** Default tokens per prefill pass. */
export const DEFAULT_MAX_BATCH = 128;

export interface LoadProgress {
  tensor: string;
  tensorIndex: number;
  tensorCount: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface ModelLoadOptions {
  /** KV-cache length in tokens. Default: the model's context length, at most DEFAULT_CONTEXT_CAP. */
  contextLength?: number;
  /**
   * Positions per KV-cache page (the cache grows and shrinks by whole pages). Default
   * KV_PAGE_POSITIONS; tests take small pages to cross many page boundaries.
   */
  kvPageSize?: number;
  /** Tokens per prefill pass (activations are sized for it). Default DEFAULT_MAX_BATCH. */
  maxBatch?: number;
  /** Cap on bytes per storage binding, below the device's (to exercise row splits). */
  maxBindingBytes?: number;
  /** Weight-kernel shape (see quant-matmul.ts). Default: one invocation per row, 64 per workgroup. */
  tuning?: Partial<WeightKernelTuning>;
  /**
   * Decode-kernel (matvec) shape per weight type, as the tuner measured it on this adapter
   * (shared/engine/autotune.ts). Ignored when `tuning` is given; types not named use the default.
   */
  matvecTuning?: Partial<Record<WeightType, WeightKernelTuning>>;
  /**
   * Decode products (one token) of these types through the integer kernels of int-matvec.ts (x
   * quantised to Q8 blocks once per product, packed int8 dot products), as the tuner chose them
   * or forced. Default none: the f32 kernels. Matrices a variant cannot take keep the f32 kernel.
   */
  intMatvec?: Partial<Record<WeightType, IntVariant>>;
  /**
   * Prefill products (more than one token) of these types through a tiled kernel of
   * quant-matmul.ts (`tile`: WG rows × 8 tokens per workgroup, each weight unit decoded once per
   * tile; `tile-wg`: the same with x shared in workgroup memory; f32, only the summation order
   * differs) or the integer prefill product (`i8`, `i8x`: Q8_0/Q4_0, x quantised to Q8 blocks as
   * the integer decode kernels do), as the tuner chose them or forced. Default none: `matmul`.
   */
  prefillMatmul?: Partial<Record<WeightType, PrefillVariant>>;
  /**
   * A LoRA adapter (shared/lora: checked against this model by loraAdapterFromGguf) and the
   * source of its tensors; `scale` multiplies alpha / rank (default 1), as llama.cpp's.
   */
  lora?: { adapter: LoraAdapter; source: TensorSource; scale?: number };
  /**
   * Fused kernels (default true): each residual add with the RMSNorm after it (add_rmsnorm), and
   * RoPE on q and k with the KV-cache append (rope_kv_append): four fewer dispatches per block,
   * identical results. false runs the unfused kernels (tests compare the two bit for bit).
   */
  fuse?: boolean;
  /**
   * Fusions of one-token passes (decode; default true, only with `fuse`; issue 15 §3): RoPE, the
   * KV append and attention as one dispatch (attention.wgsl's decode_rope), on every model; and
   * on a model whose widths are at most FUSED_MATVEC_MAX_COLS and whose products are all F32,
   * resident and without an adapter (gate and up stacked, SiLU, no post-norms), the fused decode
   * products (shaders/matvec_fused_f32.wgsl): every RMSNorm folded into the product after it,
   * each residual add into the o and down products' write, SwiGLU into the down product's read.
   * Four fewer dispatches per block on such a model, one elsewhere; the same logits bit for bit.
   * Prefill is unchanged. false keeps the fused kernels and stacked products of `fuse` only.
   */
  fuseDecode?: boolean;
  /**
   * Bytes the model may hold on the GPU (weights, KV cache, activations). When the weights do not
   * fit, the residency planner (residency.ts) streams some matrices per pass from host memory;
   * the tokens and logits are those of a fully resident run. Default: no budget, all resident
   * (WebGPU reports no memory size to derive one from).
   */
  gpuMemory?: number;
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
}

/** What `forward` returns besides filling the KV cache. */
export type ForwardOutput = 'none' | 'argmax' | 'last' | 'all';

export interface ForwardResult {
  /** 'last': [vocab]; 'all': [tokens, vocab] row-major; otherwise null. */
  logits: Float32Array | null;
  /** 'argmax': the id of the largest logit of the last token (lowest id on ties); otherwise null. */
  token: number | null;
}

/**
 * What a traced forward pass reports as the GPU finishes each stage: 'block' N of `blocks`
 * (its KV cache then holds `pos0 + tokens` entries), then 'output' (final norm and logits)
 * when the pass computes logits, and 'activations': the residual stream after every block for
 * the pass's last token. The explorer draws it live.
 */
export interface ForwardTraceEvent {
  stage: 'block' | 'output' | 'activations';
  /** Block index for 'block'; `blocks` otherwise. */
  block: number;
  blocks: number;
  /** Position of the pass's first token, and how many tokens it runs. */
  pos0: number;
  tokens: number;
  /** 'activations' only: [blocks × embedding] row-major, row b = x after block b. */
  values?: Float32Array;
}

export type ForwardTrace = (e: ForwardTraceEvent) => void;

/** Bytes the model holds on the GPU, by kind. */
export interface ModelMemory {
  weights: number;
  kvCache: number;
  activations: number;
}

interface Block {
  attnNorm: GPUBuffer;
  ffnNorm: GPUBuffer;
  /** q, k, v: three matrices, or (phi3) one fused matrix in `qkv` and the three null. */
  q: GpuWeight | null;
  k: GpuWeight | null;
  v: GpuWeight | null;
  qkv: GpuWeight | null;
  o: GpuWeight;
  /** Null when `up` holds gate and up fused (phi3). */
  gate: GpuWeight | null;
  up: GpuWeight;
  down: GpuWeight;
  qBias: GPUBuffer | null;
  /** The q | k | v biases as one vector, where q, k and v are one stacked product (then q/k/vBias are null). */
  qkvBias: GPUBuffer | null;
  kBias: GPUBuffer | null;
  vBias: GPUBuffer | null;
  qNorm: GPUBuffer | null;
  kNorm: GPUBuffer | null;
  attnPostNorm: GPUBuffer | null;
  ffnPostNorm: GPUBuffer | null;
  /** The RoPE table of this block (sliding layers may have their own base). */
  invFreq: GPUBuffer;
  /** Keys a query sees; 0: all before it. */
  window: number;
}

interface Activations {
  ids: GPUBuffer;
  x: GPUBuffer;
  xn: GPUBuffer;
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  att: GPUBuffer;
  proj: GPUBuffer;
  gate: GPUBuffer;
  up: GPUBuffer;
  act: GPUBuffer;
  /** Per-head normalised q and k (qwen3, gemma3); a 16-byte stand-in otherwise. */
  qn: GPUBuffer;
  kn: GPUBuffer;
  logits: GPUBuffer;
  /** LoRA intermediates: A·x [T, rank] and B·(A·x) [T, out] (16-byte stand-ins without an adapter). */
  loraR: GPUBuffer;
  loraO: GPUBuffer;
  best: GPUBuffer;
  scratch: GPUBuffer;
  /** x quantised for the integer decode kernels (a 16-byte stand-in when none is used). */
  xq: GPUBuffer;
}

/**
 * Inverse frequencies for the rope kernel, as llama.cpp forms them: theta_scale =
 * base^(-2 / ropeDims) in f32 and theta_i = theta_scale^i by repeated f32 products; pairs past
 * ropeDims / 2 get 0 (angle 0: passed through, llama.cpp's partial rotation for normal RoPE).
 */
export function llamaRopeInvFreq(headDim: number, ropeDims: number, base: number): Float32Array {
  const out = new Float32Array(headDim / 2);
  const scale = Math.fround(Math.pow(base, -2 / ropeDims));
  let f = 1;
  for (let i = 0; i < ropeDims / 2; i++) {
    out[i] = f;
    f = Math.fround(f * scale);
  }
  return out;
}

/**
 * The RoPE table of a block: llamaRopeInvFreq of its base (gemma3's sliding layers have their
 * own), each pair divided by its factor (Llama 3.1's rope_freqs, Phi-3's short factors) and
 * times the linear scale, as llama.cpp forms theta = freq_scale · (p · base^(-2i/d)) / factor.
 */
export function layerRopeInvFreq(c: ModelConfig, arch: ModelArchSpec, sliding: boolean, factors: Float32Array | null): Float32Array {
  const out = llamaRopeInvFreq(c.headDim, c.ropeDimensionCount, sliding ? arch.ropeThetaSliding : c.ropeTheta);
  const scale = sliding ? arch.ropeFreqScaleSliding : arch.ropeFreqScale;
  for (let i = 0; i < c.ropeDimensionCount / 2; i++) {
    let f = out[i]!;
    if (factors) f = Math.fround(f / factors[i]!);
    out[i] = Math.fround(f * scale);
  }
  return out;
}

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

  private constructor(init: {
    ctx: GpuContext;
    k: CoreKernels;
    config: ModelConfig;
    arch: ModelArchSpec;
    contextLength: number;
    maxBatch: number;
    tuning: WeightKernelTuning;
    matvecTuning: Partial<Record<WeightType, WeightKernelTuning>>;
    intMatvec: Partial<Record<WeightType, IntVariant>>;
    prefillMatmul: Partial<Record<WeightType, PrefillVariant>>;
    pipelines: Map<string, GPUComputePipeline>;
    embd: GpuWeight;
    output: GpuWeight;
    outputNorm: GPUBuffer;
    blocks: Block[];
    loras: ReadonlyMap<string, GpuLora>;
    a: Activations;
    logitRows: number;
    owned: GPUBuffer[];
    memory: Omit<ModelMemory, 'kvCache'>;
    kvPageSize: number;
    fuse: boolean;
    fuseDecode: boolean;
    fusedMatvec: GPUComputePipeline | null;
    residency: ResidencyPlan;
    stream: WeightStream | null;
  }) {
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

  /** Reads the configuration, checks it against the device, uploads the weights and allocates the caches. */
  static async load(ctx: GpuContext, source: TensorSource, opts: ModelLoadOptions = {}): Promise<Model> {
    const header = source.header;
    const config = modelConfigFromGguf(header);
    const arch = modelArchFromGguf(header, config);
    const file = header.file;
    const contextLength = opts.contextLength ?? Math.min(config.contextLength, DEFAULT_CONTEXT_CAP);
    if (!Number.isInteger(contextLength) || contextLength < 1) {
      throw new EngineError('ENGINE_BAD_OPTION', `contextLength must be a positive integer, got ${contextLength}`, { field: 'contextLength', value: contextLength });
    }
    const kvPageSize = opts.kvPageSize ?? KV_PAGE_POSITIONS;
    if (!Number.isInteger(kvPageSize) || kvPageSize < 1) {
      throw new EngineError('ENGINE_BAD_OPTION', `kvPageSize must be a positive integer, got ${opts.kvPageSize}`, { field: 'kvPageSize', value: opts.kvPageSize });
    }
    const maxBatch = Math.min(opts.maxBatch ?? DEFAULT_MAX_BATCH, contextLength);
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new EngineError('ENGINE_BAD_OPTION', `maxBatch must be a positive integer, got ${opts.maxBatch}`, { field: 'maxBatch', value: opts.maxBatch });
    }
    if (arch.ropeFactorsMaxContext !== null && contextLength > arch.ropeFactorsMaxContext) {
      throw new EngineError(
        'ENGINE_UNSUPPORTED_SHAPE',
        `${file}: a context of ${contextLength} needs the long-context RoPE factors (past ${arch.ropeFactorsMaxContext} tokens), which are not supported; choose a context of at most ${arch.ropeFactorsMaxContext}`,
      );
    }
    if (config.headDim > MAX_HEAD_DIM || config.headDim % 2) {
      throw new EngineError('ENGINE_UNSUPPORTED_SHAPE', `${file}: head size ${config.headDim}; the attention kernel takes even sizes up to ${MAX_HEAD_DIM}`);
    }
    const tuning = { ...DEFAULT_TUNING, ...opts.tuning };
    // An explicit shape (a sweep, a test) wins over what the tuner measured.
    const matvecTuning = opts.tuning ? {} : { ...opts.matvecTuning };
    const byName = new Map(header.tensors.map((t) => [t.name, t] as const));
    const tensor = (name: string): TensorInfo => byName.get(name)!; // presence checked by modelConfigFromGguf

    // Check every weight type before anything is uploaded.
    const matrixNames: string[] = ['token_embd.weight'];
    if (!config.tiedOutput) matrixNames.push('output.weight');
    for (let b = 0; b < config.blockCount; b++) matrixNames.push(...blockMatrixNames(arch, b));
    const types = new Set<WeightType>(matrixNames.map((n) => weightTypeOf(tensor(n))));
    const intMatvec = checkIntMatvec(ctx, opts.intMatvec ?? {}, types);
    const prefillMatmul = checkPrefillMatmul(ctx, opts.prefillMatmul ?? {}, types);
    const intPrefill = Object.values(prefillMatmul).some((v) => !isTileVariant(v));

    // Activations and caches, checked against the device before any allocation.
    const maxBinding = Math.min(opts.maxBindingBytes ?? Infinity, ctx.caps.limits.maxStorageBufferBindingSize);
    const { embeddingLength: E, feedForwardLength: F, headCount: H, headCountKv: KVH, headDim: HD, vocabSize: V } = config;
    const logitRows = Math.max(1, Math.min(maxBatch, Math.floor(maxBinding / (V * 4))));
    const f32 = (n: number) => Math.ceil((n * 4) / 16) * 16; // vec4 bindings want multiples of 16 bytes
    // Every pair's values are read now (they are small): a bad adapter fails before any upload.
    const loraValues = opts.lora ? await readLoraValues(opts.lora.source, opts.lora.adapter, opts.lora.scale ?? 1) : null;
    const loraShape = loraValues?.size
      ? { rank: Math.max(...[...loraValues.values()].map((p) => paddedLoraRank(p.rank))), rows: Math.max(...[...loraValues.values()].map((p) => p.rows)) }
      : null;
    if (loraValues) {
      types.add('F32'); // A and B go up as f32
      for (const [target, p] of loraValues) {
        const t = byName.get(target);
        if (!t || !matrixNames.includes(target)) throw new EngineError('ENGINE_BAD_OPTION', `${opts.lora!.adapter.file}: the adapter adapts ${JSON.stringify(target)}, which is not a weight matrix of ${file}`, { tensor: target });
        const { rows, cols } = matrixShape(t);
        if (rows !== p.rows || cols !== p.cols) {
          throw new EngineError('ENGINE_BAD_OPTION', `${opts.lora!.adapter.file}: ${target}.lora_a/b make [${p.rows}, ${p.cols}]; the base's ${target} is [${rows}, ${cols}]`, { tensor: target });
        }
      }
    }
    // Stacked products (with fusion on, no adapter): per block, q | k | v as one matrix where they
    // share a type and nothing between the product and RoPE reads them apart (qwen3/gemma3's
    // per-head norms), and gate | up where the activation has a fused kernel (SiLU). One dispatch
    // instead of three and two; rows are whole blocks, so the logits do not change.
    const fuse = opts.fuse ?? true;
    // A stacked product's output must also fit one binding for a whole prefill batch.
    const fitsBinding = (values: number) => Math.ceil((maxBatch * values * 4) / 16) * 16 <= maxBinding;
    const stackable = fuse && !loraValues?.size;
    const oneType = (names: string[]) => names.every((n) => weightTypeOf(tensor(n)) === weightTypeOf(tensor(names[0]!)));
    const qkvOf = (b: number) => [`blk.${b}.attn_q.weight`, `blk.${b}.attn_k.weight`, `blk.${b}.attn_v.weight`];
    const gateUpOf = (b: number) => [`blk.${b}.ffn_gate.weight`, `blk.${b}.ffn_up.weight`];
    const stacks = new Map<string, string[]>(); // stacked name -> its matrices, in row order
    for (let b = 0; b < config.blockCount; b++) {
      if (stackable && !arch.fusedQkv && !arch.qkNorm && fitsBinding((H + 2 * KVH) * HD) && oneType(qkvOf(b))) stacks.set(`blk.${b}.attn_q|k|v.weight`, qkvOf(b));
      if (stackable && !arch.fusedGateUp && arch.activation === 'silu' && fitsBinding(2 * F) && oneType(gateUpOf(b))) stacks.set(`blk.${b}.ffn_gate|up.weight`, gateUpOf(b));
    }
    const stackOf = new Map([...stacks].flatMap(([name, members]) => members.map((m) => [m, name] as const)));
    const anyStackedQkv = [...stacks.keys()].some((n) => n.includes('attn_q|k|v'));
    const anyStackedGateUp = [...stacks.keys()].some((n) => n.includes('ffn_gate|up'));
    const sizes: Record<keyof Activations, number> = {
      ids: f32(maxBatch),
      x: f32(maxBatch * E),
      xn: f32(maxBatch * E),
      // Fused: one [T, q | k | v] buffer, read in place through strides.
      q: f32(maxBatch * (arch.fusedQkv || anyStackedQkv ? (H + 2 * KVH) * HD : H * HD)),
      k: f32(maxBatch * KVH * HD),
      v: f32(maxBatch * KVH * HD),
      att: f32(maxBatch * H * HD),
      proj: f32(maxBatch * E),
      gate: f32(maxBatch * (arch.fusedGateUp || anyStackedGateUp ? 2 * F : F)),
      up: f32(maxBatch * F),
      act: f32(maxBatch * F),
      qn: arch.qkNorm ? f32(maxBatch * H * HD) : 16,
      kn: arch.qkNorm ? f32(maxBatch * KVH * HD) : 16,
      logits: f32(logitRows * V),
      loraR: loraShape ? f32(maxBatch * loraShape.rank) : 16,
      loraO: loraShape ? f32(maxBatch * loraShape.rows) : 16,
      best: 16,
      scratch: f32(CoreKernels.argmaxScratchBytes(V) / 4),
      // One token for the integer decode kernels, a whole prefill batch for the integer prefill product.
      xq: Object.keys(intMatvec).length || intPrefill ? f32((intPrefill ? maxBatch : 1) * quantizedXWords(Math.ceil(Math.max(E, F, H * HD) / 32) * 32)) : 16,
    };
    const kvBytes = contextLength * KVH * HD * 4;
    const needs: BufferNeed[] = Object.entries(sizes).map(([name, bytes]) => ({ name: `activation ${name}`, bytes }));
    needs.push({ name: 'kv cache (one block, K or V)', bytes: kvBytes });
    checkBuffersFit({ ...ctx.caps, limits: { ...ctx.caps.limits, maxStorageBufferBindingSize: maxBinding } }, needs, file);
    // A weight row that fits no binding is refused now, not halfway through the upload.
    for (const n of matrixNames) {
      const t = tensor(n);
      const { rows } = matrixShape(t);
      planRowParts(n, rows, t.byteSize / rows, maxBinding);
    }

    // The residency plan: the matrices as the GPU holds them (stacks as one), in pass order, and
    // what stays whatever the plan (activations, KV cache, vectors, RoPE tables, an adapter).
    const units: ResidencyMatrix[] = [];
    const unitNames = ['token_embd.weight'];
    for (let b = 0; b < config.blockCount; b++) for (const n of blockMatrixNames(arch, b)) if (!unitNames.includes(stackOf.get(n) ?? n)) unitNames.push(stackOf.get(n) ?? n);
    if (!config.tiedOutput) unitNames.push('output.weight');
    for (const name of unitNames) {
      const members = (stacks.get(name) ?? [name]).map(tensor);
      const rows = members.reduce((s, t) => s + matrixShape(t).rows, 0);
      const rowBytes = members[0]!.byteSize / matrixShape(members[0]!).rows;
      units.push({ name, rows, rowBytes, uses: name === 'token_embd.weight' && config.tiedOutput ? 2 : 1 });
    }
    const vectorNames = modelVectorNames(config, arch);
    const vectorBytes = vectorNames.reduce((s, n) => s + Math.max(4, tensor(n).elementCount * 4), 0);
    const stackedBiasBytes = config.qkvBias ? [...stacks.keys()].filter((n) => n.includes('attn_q|k|v')).length * (H + 2 * KVH) * HD * 4 : 0;
    const loraBytes = loraValues ? [...loraValues.values()].reduce((s, p) => s + paddedLoraRank(p.rank) * (p.rows + p.cols) * 4, 0) : 0;
    const fixedBytes =
      Object.values(sizes).reduce((s, n) => s + n, 0) + 2 * kvBytes * config.blockCount + vectorBytes + stackedBiasBytes + loraBytes + 2 * Math.max(4, (HD / 2) * 4);
    if (opts.gpuMemory !== undefined && (!Number.isFinite(opts.gpuMemory) || opts.gpuMemory <= 0)) {
      throw new EngineError('ENGINE_BAD_OPTION', `gpuMemory must be a positive number of bytes, got ${opts.gpuMemory}`, { field: 'gpuMemory', value: opts.gpuMemory });
    }
    const residency = planResidency({ matrices: units, fixedBytes, budget: opts.gpuMemory ?? null, maxBindingBytes: maxBinding });
    const streamedNames = new Set(residency.streamed);

    const k = await CoreKernels.create(ctx);
    const pipelines = new Map<string, GPUComputePipeline>();
    const want: [WeightType, 'matvec' | 'matmul' | 'matmul_tile' | 'matmul_tile_wg' | 'get_rows'][] = [];
    for (const t of types) want.push([t, 'matvec'], [t, 'matmul']);
    for (const [t, v] of Object.entries(prefillMatmul) as [WeightType, PrefillVariant][]) if (isTileVariant(v)) want.push([t, PREFILL_ENTRY[v]]);
    want.push([weightTypeOf(tensor('token_embd.weight')), 'get_rows']);
    await Promise.all(
      want.map(async ([type, entry]) => {
        // Only the shader, entry point and constants matter here; the shape is any valid one.
        const weights = { type, rows: 1, cols: 256, buffer: {} as GPUBuffer };
        const d =
          entry === 'get_rows'
            ? planGetRows({ weights, count: 1, tuning })
            : planMatmul({ weights, tokens: entry === 'matvec' ? 1 : 2, entryPoint: entry, tuning: entry === 'matvec' ? (matvecTuning[type] ?? tuning) : tuning });
        pipelines.set(pipelineKey(d), await ctx.pipeline(d.shader, { entryPoint: d.entryPoint, constants: d.constants }));
      }),
    );
    for (const [type, v] of Object.entries(prefillMatmul) as [IntWeightType, PrefillVariant][]) {
      if (isTileVariant(v)) continue;
      for (const d of [planQuantize(256), planIntMatmul({ weights: { type, rows: 1, cols: 256 }, variant: v === 'i8' ? 'dot4' : 'int', tokens: 2 })]) pipelines.set(intPipelineKey(d), await intPipeline(ctx, d));
    }
    for (const [type, variant] of Object.entries(intMatvec) as [IntWeightType, IntVariant][]) {
      // As above, any valid shape: only the shader and constants matter.
      for (const d of [planQuantize(256), planIntMatvec({ weights: { type, rows: 1, cols: 256 }, variant })]) pipelines.set(intPipelineKey(d), await intPipeline(ctx, d));
    }

    const owned: GPUBuffer[] = [];
    const used = new Set([...matrixNames, ...vectorNames]);
    // Upload in file order, so a file source reads forward.
    const order = header.tensors.filter((t) => used.has(t.name));
    const bytesTotal = order.reduce((s, t) => s + t.byteSize, 0);
    let bytesDone = 0;
    let index = 0;
    const report = () => opts.onProgress?.({ tensor: order[Math.min(index, order.length - 1)]?.name ?? '', tensorIndex: index, tensorCount: order.length, bytesDone, bytesTotal });
    const uploader = new WeightUploader(ctx, source, {
      maxBindingBytes: maxBinding,
      signal: opts.signal,
      onBytes: (n) => {
        bytesDone += n;
        report();
      },
    });
    const matrices = new Map<string, GpuWeight>();
    const vectors = new Map<string, GPUBuffer>();
    const hostWeights: HostWeight[] = [];
    let stream: WeightStream | null = null;
    try {
      for (; index < order.length; index++) {
        const t = order[index]!;
        if (matrices.has(t.name) || vectors.has(t.name)) continue;
        if (matrices.has(stackOf.get(t.name) ?? '')) {
          report(); // uploaded with its stack: its bytes are counted, its name still shows
          continue;
        }
        if (vectorNames.includes(t.name)) {
          const values = await readVector(source, t, t.elementCount);
          const buf = await ctx.checked(t.name, () => ctx.storage(values, t.name));
          owned.push(buf);
          vectors.set(t.name, buf);
          bytesDone += t.byteSize;
          report();
        } else {
          const stack = stackOf.get(t.name);
          if (streamedNames.has(stack ?? t.name)) {
            // Kept in host memory; a placeholder marks it done until the slots exist.
            const h = await uploader.host(stack ?? t.name, stack ? stacks.get(stack)!.map(tensor) : [t], residency.pieceBytes);
            hostWeights.push(h);
            matrices.set(h.name, { name: h.name, type: h.type, rows: h.rows, cols: h.cols, bytes: h.bytes, parts: [], streamed: true });
            continue;
          }
          const w = stack ? await uploader.stacked(stack, stacks.get(stack)!.map(tensor)) : await uploader.matrix(t);
          for (const p of w.parts) owned.push(p.buffer);
          matrices.set(w.name, w);
        }
      }
      if (hostWeights.length) {
        const s = await ctx.checked('streamed weight slots', () => new WeightStream(ctx, hostWeights, residency.slotBytes));
        stream = s;
        owned.push(...s.buffers);
        for (const h of hostWeights) matrices.set(h.name, s.weight(h.name));
      }

      const a = await ctx.checked('activations', () => {
        const out = {} as Record<keyof Activations, GPUBuffer>;
        for (const [name, bytes] of Object.entries(sizes) as [keyof Activations, number][]) {
          out[name] = ctx.storage(bytes, `act.${name}`);
          owned.push(out[name]);
        }
        return out as Activations;
      });
      // One table for the global layers, another for the sliding ones when they differ.
      const factors = arch.ropeFactorsTensor ? await readVector(source, tensor(arch.ropeFactorsTensor), config.ropeDimensionCount / 2) : null;
      const tables = [false, true].map((sliding) => layerRopeInvFreq(config, arch, sliding, factors));
      const invFreq = tables.map((t, i) => {
        const buf = ctx.storage(t, i ? 'rope.invFreq.sliding' : 'rope.invFreq');
        owned.push(buf);
        return buf;
      });

      const loras = loraValues ? await ctx.checked('LoRA adapter', () => uploadLora(ctx, loraValues)) : new Map<string, GpuLora>();
      for (const l of loras.values()) owned.push(l.a.parts[0]!.buffer, l.b.parts[0]!.buffer);
      const m = (n: string) => matrices.get(n)!;
      const vec = (n: string) => vectors.get(n)!;
      // A stacked q | k | v product takes its biases as one vector (read again: they are small).
      const stackedBias = async (b: number): Promise<GPUBuffer | null> => {
        if (!config.qkvBias || !matrices.has(`blk.${b}.attn_q|k|v.weight`)) return null;
        const parts = await Promise.all(['q', 'k', 'v'].map((x) => tensor(`blk.${b}.attn_${x}.bias`)).map((t) => readVector(source, t, t.elementCount)));
        const all = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
        let at = 0;
        for (const p of parts) {
          all.set(p, at);
          at += p.length;
        }
        const buf = ctx.storage(all, `blk.${b}.attn_q|k|v.bias`);
        owned.push(buf);
        return buf;
      };
      const blockIds = Array.from({ length: config.blockCount }, (_, b) => b);
      const qkvBiases = await Promise.all(blockIds.map((b) => stackedBias(b)));
      const blocks: Block[] = blockIds.map((b) => {
        const p = `blk.${b}.`;
        const sliding = arch.sliding[b] ?? false;
        const opt = (on: boolean, n: string) => (on ? vec(n) : null);
        const sq = matrices.get(`${p}attn_q|k|v.weight`) ?? null;
        const sg = matrices.get(`${p}ffn_gate|up.weight`) ?? null;
        return {
          attnNorm: vec(`${p}attn_norm.weight`),
          ffnNorm: vec(`${p}ffn_norm.weight`),
          q: arch.fusedQkv || sq ? null : m(`${p}attn_q.weight`),
          k: arch.fusedQkv || sq ? null : m(`${p}attn_k.weight`),
          v: arch.fusedQkv || sq ? null : m(`${p}attn_v.weight`),
          qkv: arch.fusedQkv ? m(`${p}attn_qkv.weight`) : sq,
          o: m(`${p}attn_output.weight`),
          gate: arch.fusedGateUp || sg ? null : m(`${p}ffn_gate.weight`),
          up: sg ?? m(`${p}ffn_up.weight`),
          down: m(`${p}ffn_down.weight`),
          qBias: opt(config.qkvBias && !sq, `${p}attn_q.bias`),
          kBias: opt(config.qkvBias && !sq, `${p}attn_k.bias`),
          vBias: opt(config.qkvBias && !sq, `${p}attn_v.bias`),
          qkvBias: qkvBiases[b]!,
          qNorm: opt(arch.qkNorm, `${p}attn_q_norm.weight`),
          kNorm: opt(arch.qkNorm, `${p}attn_k_norm.weight`),
          attnPostNorm: opt(arch.postNorms, `${p}post_attention_norm.weight`),
          ffnPostNorm: opt(arch.postNorms, `${p}post_ffw_norm.weight`),
          invFreq: invFreq[sliding ? 1 : 0]!,
          window: sliding ? arch.slidingWindow : 0,
        };
      });
      const embd = m('token_embd.weight');
      const output = config.tiedOutput ? embd : m('output.weight');
      // The fused decode products (ModelLoadOptions.fuseDecode): narrow F32 models only.
      const fuseDecode = fuse && (opts.fuseDecode ?? true);
      const products = [output, ...blocks.flatMap((b) => [b.q, b.k, b.v, b.qkv, b.o, b.gate, b.up, b.down])].filter((w): w is GpuWeight => w !== null);
      const fusable =
        fuseDecode &&
        !loras.size &&
        !stream &&
        !arch.postNorms &&
        arch.activation === 'silu' &&
        Math.max(E, F, H * HD) <= FUSED_MATVEC_MAX_COLS &&
        blocks.every((b) => b.gate === null) &&
        products.every((w) => w.type === 'F32' && !w.streamed && w.cols % 4 === 0);
      const fusedMatvec = fusable ? await ctx.pipeline(FUSED_MATVEC_SHADER, { entryPoint: FUSED_MATVEC_ENTRY, constants: { WG: FUSED_MATVEC_WG } }) : null;
      const weightBytes = [...matrices.values()].filter((w) => !w.streamed).reduce((s, w) => s + w.parts.reduce((t, p) => t + p.buffer.size, 0), 0) + residency.slotsBytes;
      return new Model({
        ctx,
        k,
        fuse,
        fuseDecode,
        fusedMatvec,
        residency,
        stream,
        config,
        arch,
        contextLength,
        maxBatch,
        tuning,
        matvecTuning,
        intMatvec,
        prefillMatmul,
        pipelines,
        embd,
        output,
        outputNorm: vec('output_norm.weight'),
        blocks,
        loras,
        a,
        logitRows,
        owned,
        memory: {
          weights:
            weightBytes +
            [...vectors.values()].reduce((s, b) => s + b.size, 0) +
            [...loras.values()].reduce((s, l) => s + l.a.parts[0]!.buffer.size + l.b.parts[0]!.buffer.size, 0) +
            invFreq.reduce((s, b) => s + b.size, 0),
          activations: Object.values(sizes).reduce((s, n) => s + n, 0),
        },
        kvPageSize,
      });
    } catch (e) {
      for (const b of owned) b.destroy();
      throw e;
    }
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  /** Whether one-token passes run through the fused decode products (ModelLoadOptions.fuseDecode). */
  get fusedProducts(): boolean {
    return this.fusedMatvec !== null;
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
    if (variant && intVariantFits(variant, { cols: w.cols }) && !this.loras.has(w.name)) {
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
        const d = planIntMatmul({ weights: { type: w.type, rows: part.rows, cols: w.cols }, variant: prefill === 'i8' ? 'dot4' : 'int', tokens: T, yOffset: part.rowStart, yStride: w.rows });
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

function intPipelineKey(d: IntDispatch): string {
  return `${d.shader}|${d.entryPoint}|${JSON.stringify(d.constants)}`;
}

/** Model.load's `intMatvec`, kept for the types the model has; a variant this device cannot run is refused. */
function checkIntMatvec(ctx: GpuContext, want: Partial<Record<WeightType, IntVariant>>, types: ReadonlySet<WeightType>): Partial<Record<IntWeightType, IntVariant>> {
  const out: Partial<Record<IntWeightType, IntVariant>> = {};
  for (const [type, variant] of Object.entries(want) as [WeightType, IntVariant][]) {
    if (!isIntWeightType(type) || !intVariantsFor(ctx, type).includes(variant)) {
      throw new EngineError('ENGINE_BAD_OPTION', `intMatvec: no integer kernel ${String(variant)} for ${type} on this device (offered: ${intVariantsFor(ctx, type).join(', ') || 'none'})`, { field: 'intMatvec', type, variant });
    }
    if (types.has(type)) out[type] = variant;
  }
  return out;
}

/** Model.load's `prefillMatmul`, kept for the types the model has; a variant the type (or, for 'i8', the device) lacks is refused. */
function checkPrefillMatmul(ctx: GpuContext, want: Partial<Record<WeightType, PrefillVariant>>, types: ReadonlySet<WeightType>): Partial<Record<WeightType, PrefillVariant>> {
  const out: Partial<Record<WeightType, PrefillVariant>> = {};
  for (const [type, variant] of Object.entries(want) as [WeightType, PrefillVariant][]) {
    if (!PREFILL_VARIANTS.includes(variant) || !prefillVariantFits(type, variant) || (variant === 'i8' && !intVariantsFor(ctx, type).includes('dot4'))) {
      throw new EngineError('ENGINE_BAD_OPTION', `prefillMatmul: no prefill kernel ${String(variant)} for ${type} on this device (variants: ${PREFILL_VARIANTS.join(', ')})`, { field: 'prefillMatmul', type, variant });
    }
    if (types.has(type)) out[type] = variant;
  }
  return out;
}

function pipelineKey(d: WeightDispatch): string {
  return `${d.shader}|${d.entryPoint}|${d.constants.WG}|${d.constants.TPR}`;
}
