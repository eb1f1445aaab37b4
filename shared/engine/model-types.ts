/**
 * What a Model takes and gives (model.ts runs the forward pass, model-load.ts loads it): the
 * load options, the forward pass's outputs and trace events, the bytes it holds. Re-exported by
 * model.ts, the import path the rest of the project uses.
 */
import type { LoraAdapter } from '../lora';
import type { IntVariant } from './int-matvec';
import type { PrefillVariant, WeightKernelTuning, WeightType } from './quant-matmul';
import type { TensorSource } from './tensor-source';

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
   * differs) or the integer prefill product (`i8`, `i8x`: Q8_0/Q4_0/Q4_K/Q6_K, x quantised to Q8 blocks as
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
   * With the fused decode products: each block of a one-token pass as one dispatch of one
   * workgroup (shaders/decode_layer_f32.wgsl), where every activation fits the device's workgroup
   * memory and the blocks have no biases, q/k norms or sliding window (stories260K-sized models).
   * The block's weights are copied once into a buffer of their own. The same logits bit for bit.
   * Default true; false keeps five dispatches per block.
   */
  decodeLayers?: boolean;
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
