/**
 * Float64 reference of a LoRA training step, by the chain rule through the effective weights:
 * an adapted matrix is W' = W + s·B·A (A [r, in], B [out, r]), the whole model's loss and dW' come
 * from referenceLossAndGrads, and since W' is linear in A and B,
 *   dA = s·Bᵀ·dW'   and   dB = s·dW'·Aᵀ.
 * This is a different route from the GPU engine's (which never forms W' and back-propagates
 * through x·Aᵀ and u·Bᵀ as separate products), so agreement checks both. The base weights are
 * given as float values (a quantised base dequantised by shared/quant).
 */
import type { TrainModelConfig } from '../config';
import { loraAName, loraBName, loraParamSpecs, loraTargetNames, loraUpdateScale, type LoraSettings } from '../lora';
import { referenceLossAndGrads, referenceOptimize, type ReferenceTrainOptions, type ReferenceTrainResult } from './model';

type Params = ReadonlyMap<string, ArrayLike<number>>;

/** The model's parameters with every adapted matrix replaced by W + s·B·A (float64). */
export function loraEffectiveParams(cfg: TrainModelConfig, lora: LoraSettings, base: Params, adapters: Params): Map<string, Float64Array> {
  const s = loraUpdateScale(lora);
  const r = lora.rank;
  const out = new Map<string, Float64Array>();
  for (const [name, w] of base) out.set(name, Float64Array.from(w));
  for (const w of loraTargetNames(cfg, lora)) {
    const W = out.get(w)!;
    const A = adapters.get(loraAName(w))!;
    const B = adapters.get(loraBName(w))!;
    const inDim = A.length / r;
    const outDim = B.length / r;
    for (let o = 0; o < outDim; o++) {
      for (let i = 0; i < inDim; i++) {
        let sum = 0;
        for (let k = 0; k < r; k++) sum += B[o * r + k]! * A[k * inDim + i]!;
        W[o * inDim + i] = W[o * inDim + i]! + s * sum;
      }
    }
  }
  return out;
}

/** Loss and the gradient of every A and B (named as loraParamSpecs names them) for one micro-batch. */
export function referenceLoraLossAndGrads(
  cfg: TrainModelConfig,
  lora: LoraSettings,
  base: Params,
  adapters: Params,
  tokens: Int32Array,
  B: number,
  T: number,
): { loss: number; grads: Map<string, Float64Array> } {
  const full = referenceLossAndGrads(cfg, loraEffectiveParams(cfg, lora, base, adapters), tokens, B, T);
  const s = loraUpdateScale(lora);
  const r = lora.rank;
  const grads = new Map<string, Float64Array>();
  for (const spec of loraParamSpecs(cfg, lora)) grads.set(spec.name, new Float64Array(spec.size));
  for (const w of loraTargetNames(cfg, lora)) {
    const dW = full.grads.get(w)!;
    const A = adapters.get(loraAName(w))!;
    const Bm = adapters.get(loraBName(w))!;
    const dA = grads.get(loraAName(w))!;
    const dB = grads.get(loraBName(w))!;
    const inDim = A.length / r;
    const outDim = Bm.length / r;
    for (let o = 0; o < outDim; o++) {
      for (let i = 0; i < inDim; i++) {
        const g = s * dW[o * inDim + i]!;
        for (let k = 0; k < r; k++) {
          dA[k * inDim + i] = dA[k * inDim + i]! + Bm[o * r + k]! * g;
          dB[o * r + k] = dB[o * r + k]! + g * A[k * inDim + i]!;
        }
      }
    }
  }
  return { loss: full.loss, grads };
}

/** referenceTrain for the adapters: AdamW over A and B of every adapted matrix, the base fixed. */
export function referenceLoraTrain(
  cfg: TrainModelConfig,
  lora: LoraSettings,
  base: Params,
  adapters0: Params,
  batches: readonly Int32Array[],
  B: number,
  T: number,
  opt: ReferenceTrainOptions,
): ReferenceTrainResult {
  return referenceOptimize(loraParamSpecs(cfg, lora), adapters0, batches, opt, (adapters, tokens) => referenceLoraLossAndGrads(cfg, lora, base, adapters, tokens, B, T));
}
