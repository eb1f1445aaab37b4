/**
 * What a loaded Model is made of on the GPU: its blocks' weights and vectors, the activation
 * buffers, the prepared pipelines (by key), the kernel choices; model-load.ts builds it, model.ts
 * runs the forward pass over it (forward-encoder.ts and weight-products.ts record it).
 */
import type { CoreKernels, GpuContext } from '../gpu';
import type { ModelArchSpec, ModelConfig } from '../model';
import type { DecodeLayerPlan } from './decode-layer';
import type { IntDispatch, IntVariant } from './int-matvec';
import type { GpuLora } from './lora';
import type { ModelMemory } from './model-types';
import type { PrefillVariant, WeightDispatch, WeightKernelTuning, WeightType } from './quant-matmul';
import type { ResidencyPlan } from './residency';
import type { WeightStream } from './weight-stream';
import type { GpuWeight } from './weights';

export interface Block {
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

export interface Activations {
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

/** Everything Model's constructor takes (model-load.ts's loadModelParts makes it). */
export interface ModelParts {
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
    /** The one-dispatch decode block (shaders/decode_layer_f32.wgsl) with each block's weight pack, or null. */
    decodeLayer: DecodeLayer | null;
    residency: ResidencyPlan;
    stream: WeightStream | null;
}

/** The one-dispatch decode block of a model that takes it (ModelLoadOptions.decodeLayers). */
export interface DecodeLayer {
  plan: DecodeLayerPlan;
  pipeline: GPUComputePipeline;
  /** Block i's weights, packed (decode-layer.ts's packLayer). */
  packs: GPUBuffer[];
}

/** The key of a weight kernel's prepared pipeline. */
export function pipelineKey(d: WeightDispatch): string {
  return `${d.shader}|${d.entryPoint}|${d.constants.WG}|${d.constants.TPR}`;
}

/** The key of an integer kernel's prepared pipeline. */
export function intPipelineKey(d: IntDispatch): string {
  return `${d.shader}|${d.entryPoint}|${JSON.stringify(d.constants)}`;
}
