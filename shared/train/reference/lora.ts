/**
 * Float64 reference of a LoRA training step, by the chain rule through the effective weights:
 * an adapted matrix is W' = W + s·B·A (A [r, in], B [out, r]), the whole model's loss and dW' come
 * from referenceLossAndGrads, and since W' is linear in A and B,
 *   dA = s·Bᵀ·dW'   and   dB = s·dW'·Aᵀ.
 * This is a different route from the GPU engine's (which never forms W' and back-propagates
 * through x·Aᵀ and u·Bᵀ as separate products), so agreement checks both. The base weights are
 * given as float values (a quantised base dequantised by shared/quant).
 *
 * With dropout the update no longer folds into one W' (each token's input is masked
 * differently), so `referenceLoraDropoutLossAndGrads` takes the GPU's own route instead, op by op
 * in float64 through the whole-model reference's LinearExtra hook: with all-ones masks the two
 * routes must agree, which checks the hook route itself.
 */
import type { TrainModelConfig } from '../config';
import { loraAName, loraBName, loraParamSpecs, loraTargetNames, loraUpdateScale, type LoraSettings } from '../lora';
import { referenceLossAndGrads, referenceOptimize, type LinearExtra, type ReferenceTrainOptions, type ReferenceTrainResult } from './model';

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

/**
 * Loss and A/B gradients with LoRA dropout: the adapted layer is y = x·Wᵀ + (s·(x ⊙ M)·Aᵀ)·Bᵀ
 * with M the mask of that matrix ([N, in] factors: 1/(1−p) kept, 0 dropped; shared/train/dropout.ts),
 * added to the base model through the reference's LinearExtra hook. `masks` maps a target
 * weight name to its mask; a target without one is not masked.
 */
export function referenceLoraDropoutLossAndGrads(
  cfg: TrainModelConfig,
  lora: LoraSettings,
  base: Params,
  adapters: Params,
  tokens: Int32Array,
  B: number,
  T: number,
  masks: ReadonlyMap<string, ArrayLike<number>>,
): { loss: number; grads: Map<string, Float64Array> } {
  const s = loraUpdateScale(lora);
  const r = lora.rank;
  const targets = new Set(loraTargetNames(cfg, lora));
  const grads = new Map<string, Float64Array>();
  for (const spec of loraParamSpecs(cfg, lora)) grads.set(spec.name, new Float64Array(spec.size));
  const masked = (name: string, x: Float64Array): Float64Array => {
    const m = masks.get(name);
    return m ? x.map((v, i) => v * m[i]!) : x;
  };
  const extra: LinearExtra = {
    forward(name, x, y, N, In, Out) {
      if (!targets.has(name)) return;
      const A = adapters.get(loraAName(name))!;
      const Bm = adapters.get(loraBName(name))!;
      const xd = masked(name, x);
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < r; k++) {
          let u = 0;
          for (let i = 0; i < In; i++) u += xd[n * In + i]! * A[k * In + i]!;
          u *= s;
          for (let o = 0; o < Out; o++) y[n * Out + o] = y[n * Out + o]! + u * Bm[o * r + k]!;
        }
      }
    },
    backward(name, dy, x, dx, N, In, Out) {
      if (!targets.has(name)) return;
      const A = adapters.get(loraAName(name))!;
      const Bm = adapters.get(loraBName(name))!;
      const dA = grads.get(loraAName(name))!;
      const dB = grads.get(loraBName(name))!;
      const m = masks.get(name);
      const xd = masked(name, x);
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < r; k++) {
          let u = 0;
          for (let i = 0; i < In; i++) u += xd[n * In + i]! * A[k * In + i]!;
          u *= s;
          let du = 0;
          for (let o = 0; o < Out; o++) {
            dB[o * r + k] = dB[o * r + k]! + dy[n * Out + o]! * u;
            du += dy[n * Out + o]! * Bm[o * r + k]!;
          }
          du *= s;
          for (let i = 0; i < In; i++) {
            dA[k * In + i] = dA[k * In + i]! + du * xd[n * In + i]!;
            dx[n * In + i] = dx[n * In + i]! + du * A[k * In + i]! * (m ? m[n * In + i]! : 1);
          }
        }
      }
    },
  };
  const full = referenceLossAndGrads(cfg, base, tokens, B, T, extra);
  return { loss: full.loss, grads };
}
