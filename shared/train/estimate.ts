/**
 * What a training or fine-tune run will take before it starts (specs/training.md, "Fine-tuning",
 * the form's estimate): the GPU memory — exactly the bytes GpuTrainer (shared/train/gpu-trainer.ts)
 * and, for LoRA, FrozenBase (shared/train/frozen-base.ts) allocate — and the arithmetic of a step,
 * which a measured FLOP rate turns into a predicted time. Pure: no GPU is touched.
 */
import { ropeInvFreq } from '../engine/reference/rope';
import { paddedWeightBytes, planRowParts } from '../engine/weights';
import { headDim, paramSpecs, type TrainModelConfig } from './config';
import type { BatchShape, TrainPrecision } from './gpu-trainer';
import { loraParamLayout, paramLayout } from './param-layout';
import { loraTargetNames, targetShape, type LoraSettings, type LoraTarget } from './lora';
import { OptimKernels } from './kernels-optim';

/** The bytes GpuContext.createBuffer gives a buffer asked for `bytes`: at least 4, a multiple of 4. */
function bufferBytes(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}
const f32 = (n: number) => bufferBytes(n * 4);

export interface TrainerEstimateOptions {
  /** Default 'f32' (LoRA runs in f32 only). */
  precision?: TrainPrecision;
  /** LoRA mode: the adapters' settings (the base's own bytes are frozenBaseGpuBytes). */
  lora?: LoraSettings;
  /** Micro-batches per step (the step-loss buffer grows to hold them all). Default 1. */
  accum?: number;
}

/**
 * The bytes of GPU memory GpuTrainer holds for this model, batch shape and options: the flat
 * parameter, gradient and AdamW buffers, the norm partials, the f16 copy (mixed), the
 * activations the backward pass reads and their gradients, and in LoRA mode the f32 scratch a
 * base matrix expands into, u and du of each adapted matrix and the dropout scratch.
 * Equals `trainer.gpuBytes` (tests/gpu/train-estimate.test.ts).
 */
export function trainerGpuBytes(cfg: TrainModelConfig, shape: BatchShape, opts: TrainerEstimateOptions = {}): number {
  const { dim: D, ff: F, vocab: V, heads: H, kvHeads: Hk, layers: L } = cfg;
  const hd = headDim(cfg);
  const { batch: B, seqLen: T } = shape;
  const N = B * T;
  const lora = opts.lora ?? null;
  const layout = lora ? loraParamLayout(cfg, lora) : paramLayout(cfg);
  const P = layout.total;
  let bytes = 4 * f32(P) + f32(OptimKernels.partialCount(P)) + f32(4);
  if ((opts.precision ?? 'f32') === 'mixed') bytes += bufferBytes(Math.ceil(layout.decayEnd / 2) * 4);
  bytes += bufferBytes(ropeInvFreq(hd, cfg.ropeTheta).byteLength);
  bytes += 3 * f32(N) + f32(V + 1); // ids, targets, embedding rows; embedding offsets
  bytes += (L + 1) * f32(N * D); // the residual stream entering each layer and leaving the last
  const perLayer = 3 * f32(N * D) + 2 * f32(N) + 2 * f32(N * H * hd) + 2 * f32(N * Hk * hd) + f32(B * H * T * T) + 3 * f32(N * F);
  bytes += L * perLayer;
  // rstdF, hF, logits, row losses, tmpD, dX, dH, dQ, dK, dV, dAtt, dProbs, dGate, dUp, dAct
  bytes += f32(N) + f32(N * D) + f32(N * V) + f32(N) + 3 * f32(N * D) + 2 * f32(N * H * hd) + 2 * f32(N * Hk * hd) + f32(B * H * T * T) + 3 * f32(N * F);
  bytes += f32(Math.max(1, opts.accum ?? 1) * N); // the step's row losses
  if (lora) {
    const largest = Math.max(...paramSpecs(cfg).filter((s) => s.shape.length === 2).map((s) => s.size));
    bytes += f32(largest) + f32(D) + f32(N * lora.rank); // expand scratch, frozen gains' gradients, du
    bytes += loraTargetNames(cfg, lora).length * f32(N * lora.rank); // u of each adapted matrix
    if ((lora.dropout ?? 0) > 0) bytes += 2 * f32(N * Math.max(D, F, H * hd));
  }
  return bytes;
}

/** A tensor of the base as its GGUF header gives it. */
export interface BaseTensorBytes {
  readonly name: string;
  /** Bytes of its data in its GGUF type. */
  readonly byteSize: number;
}

/**
 * The bytes of GPU memory FrozenBase.load takes for a model: each matrix in its GGUF type, padded
 * as the engine's weight buffers are (paddedWeightBytes; split into row parts where one exceeds
 * `maxBindingBytes`), each norm gain and bias as f32, and the u32 row ids of the tallest part.
 * Equals `frozen.gpuBytes`.
 */
export function frozenBaseGpuBytes(cfg: TrainModelConfig, tensors: readonly BaseTensorBytes[], maxBindingBytes = Infinity): number {
  const byName = new Map(tensors.map((t) => [t.name, t] as const));
  let bytes = 0;
  let maxRows = 1;
  for (const spec of paramSpecs(cfg)) {
    if (spec.shape.length !== 2) {
      bytes += f32(spec.size);
      continue;
    }
    const t = byName.get(spec.name);
    if (!t) throw new Error(`the model has no tensor ${spec.name}`);
    const rows = spec.shape[0]!;
    const rowBytes = t.byteSize / rows;
    for (const part of planRowParts(spec.name, rows, rowBytes, maxBindingBytes)) {
      bytes += bufferBytes(paddedWeightBytes(part.rows * rowBytes));
      maxRows = Math.max(maxRows, part.rows);
    }
  }
  return bytes + f32(maxRows);
}

/** What a step trains: every weight, or LoRA adapters over a frozen base. */
export type StepMode = 'full' | { lora: LoraSettings };

/** Multiply-adds of a forward pass's products with the weights, per token: Σ in·out over every matrix product (the output layer included, tied or not). */
function matrixMacsPerToken(cfg: TrainModelConfig): number {
  const { dim: D, ff: F, heads: H, kvHeads: Hk, vocab: V, layers: L } = cfg;
  const hd = headDim(cfg);
  return L * (D * H * hd + 2 * D * Hk * hd + H * hd * D + 3 * D * F) + D * V;
}

/**
 * Floating-point operations of one optimizer step over `batch` sequences of `seqLen` tokens
 * (one micro-batch; multiply by the accumulation for more). An approximation that counts the
 * products only (2 flops per multiply-add), not the elementwise kernels, norms or AdamW:
 *
 * - forward = 2·N·(Σ in·out of the weight matrices) + attention's two products per layer,
 *   QKᵀ and P·V over the whole T×T square as the kernels compute them: 4·B·H·T²·headDim;
 * - a full step ≈ 3 × forward (the backward pass computes dX and dW, each as much as the forward);
 * - a LoRA step ≈ 2 × forward (the backward pass computes dX but no dW of the frozen base) plus the
 *   adapters' own products: forward x·Aᵀ and u·Bᵀ (2·N·r·(in + out)), backward dB, du, dA and
 *   du·A (4·N·r·(in + out)), so 6·N·r·(in + out) per adapted matrix.
 */
export function stepFlops(cfg: TrainModelConfig, batch: number, seqLen: number, mode: StepMode): number {
  const N = batch * seqLen;
  const attention = 4 * batch * cfg.heads * seqLen * seqLen * headDim(cfg) * cfg.layers;
  const forward = 2 * N * matrixMacsPerToken(cfg) + attention;
  if (mode === 'full') return 3 * forward;
  const r = mode.lora.rank;
  let adapters = 0;
  for (const name of loraTargetNames(cfg, mode.lora)) {
    const { out, in: inDim } = targetShape(cfg, name.split('.')[2] as LoraTarget);
    adapters += 6 * N * r * (inDim + out);
  }
  return 2 * forward + adapters;
}
