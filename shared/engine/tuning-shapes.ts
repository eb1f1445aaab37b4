/**
 * What the kernel tuner times for a model (specs/engine.md, "Kernel tuning"): the weight types of
 * its matrices, the shape of its largest matrix of each, and random weights of a type to time.
 */
import { Xoshiro128 } from '../model-gen/prng';
import { padWeightBytes, isWeightType, weightBytes, type WeightType } from './quant-matmul';
import { tensorTypeName, type TensorInfo } from './tensor-source';

/**
 * Random weight bytes for timing a kernel, padded for upload: every byte's top two bits are
 * cleared, so every f16 block scale is small and finite (no NaN or inf in the arithmetic).
 */
export function randomWeightBytes(type: WeightType, rows: number, cols: number, seed: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(weightBytes(type, rows, cols));
  const rng = new Xoshiro128(seed);
  for (let i = 0; i < b.length; i++) b[i] = rng.nextU32() & 0x3f;
  return padWeightBytes(b);
}

/** A model's matrices the weight kernels read (2-D tensors of a weight type), with their type. */
function modelMatrices(tensors: readonly Pick<TensorInfo, 'dims' | 'type'>[]): { dims: readonly number[]; type: WeightType }[] {
  const out: { dims: readonly number[]; type: WeightType }[] = [];
  for (const t of tensors) {
    const type = tensorTypeName(t);
    if (t.dims.length === 2 && isWeightType(type)) out.push({ dims: t.dims, type });
  }
  return out;
}

/** The weight types of a model's matrices, sorted: what the tuner measures for it. */
export function modelWeightTypes(tensors: readonly Pick<TensorInfo, 'dims' | 'type'>[]): WeightType[] {
  return [...new Set(modelMatrices(tensors).map((m) => m.type))].sort();
}

/**
 * Per weight type, the shape of a model's largest matrix of that type (by values), with its rows
 * capped so that timing it stays short: what the tuner should time for that model.
 */
export function modelTuningShapes(tensors: readonly Pick<TensorInfo, 'dims' | 'type'>[], maxRows = 4096): Partial<Record<WeightType, { rows: number; cols: number }>> {
  const out: Partial<Record<WeightType, { rows: number; cols: number; n: number }>> = {};
  for (const t of modelMatrices(tensors)) {
    const [cols, rows] = t.dims as [number, number];
    const n = rows * cols;
    if (!out[t.type] || n > out[t.type]!.n) out[t.type] = { rows, cols, n };
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { rows: Math.min(v.rows, maxRows), cols: v.cols }]));
}
