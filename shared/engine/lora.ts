/**
 * A LoRA adapter applied by the engine as llama.cpp applies it: for a base matrix W with a
 * pair (A: r × in, B: out × r), y = W·x + s · B·(A·x) with s = the pair's scale (user scale ×
 * alpha / rank). The base stays as stored (any weight type); A and B go to the GPU as f32,
 * the rank padded with zero rows of A and zero columns of B to a multiple of 4 (the f32 kernels
 * read 4 columns at a time; zeros add nothing).
 */
import type { GpuContext } from '../gpu';
import { getQuantFormat, isQuantTypeName } from '../quant';
import type { LoraAdapter, LoraPair } from '../lora';
import { loraScale } from '../lora';
import { EngineError } from './errors';
import { tensorTypeName, type TensorSource } from './tensor-source';
import { paddedWeightBytes, type GpuWeight } from './weights';

/** One pair on the GPU. */
export interface GpuLora {
  /** [rank', in] f32. */
  a: GpuWeight;
  /** [out, rank'] f32. */
  b: GpuWeight;
  /** The padded rank (a multiple of 4). */
  rank: number;
  scale: number;
}

/** A pair's A and B as f32 values, row-major (what the reference multiplies by). */
export interface LoraValues {
  a: Float32Array;
  b: Float32Array;
  rank: number;
  rows: number;
  cols: number;
  scale: number;
}

const RANK_ALIGN = 4;

/** The rank a pair has on the GPU: a multiple of the f32 kernels' 4 columns. */
export function paddedLoraRank(rank: number): number {
  return Math.ceil(rank / RANK_ALIGN) * RANK_ALIGN;
}

async function values(source: TensorSource, t: LoraPair['a']): Promise<Float32Array> {
  const type = tensorTypeName(t);
  if (!isQuantTypeName(type) || (type !== 'F32' && type !== 'F16')) {
    throw new EngineError('ENGINE_UNSUPPORTED_TYPE', `LoRA tensor ${JSON.stringify(t.name)} is ${type}; adapters must be F32 or F16`, { tensor: t.name, type });
  }
  return getQuantFormat(type).dequantize(await source.read(t.name, 0, t.byteSize), t.elementCount);
}

/** Reads every pair of the adapter as f32 (for the reference, and before the upload). */
export async function readLoraValues(source: TensorSource, adapter: LoraAdapter, userScale = 1): Promise<Map<string, LoraValues>> {
  const out = new Map<string, LoraValues>();
  for (const [target, pair] of adapter.pairs) {
    const cols = pair.a.dims[0]!;
    const rows = pair.b.dims[1] ?? 1;
    out.set(target, { a: await values(source, pair.a), b: await values(source, pair.b), rank: pair.rank, rows, cols, scale: loraScale(adapter, pair, userScale) });
  }
  return out;
}

function f32Matrix(ctx: GpuContext, name: string, data: Float32Array, rows: number, cols: number): GpuWeight {
  const bytes = rows * cols * 4;
  const padded = new Float32Array(paddedWeightBytes(bytes) / 4);
  padded.set(data);
  const buffer = ctx.storage(padded, name);
  return { name, type: 'F32', rows, cols, bytes, parts: [{ rowStart: 0, rows, buffer }] };
}

/** Uploads the pairs, rank padded to a multiple of 4. */
export function uploadLora(ctx: GpuContext, pairs: ReadonlyMap<string, LoraValues>): Map<string, GpuLora> {
  const out = new Map<string, GpuLora>();
  for (const [target, p] of pairs) {
    const r = paddedLoraRank(p.rank);
    const a = new Float32Array(r * p.cols);
    a.set(p.a); // rows past `rank` stay 0
    const b = new Float32Array(p.rows * r);
    for (let i = 0; i < p.rows; i++) b.set(p.b.subarray(i * p.rank, (i + 1) * p.rank), i * r);
    out.set(target, { a: f32Matrix(ctx, `${target}.lora_a`, a, r, p.cols), b: f32Matrix(ctx, `${target}.lora_b`, b, p.rows, r), rank: r, scale: p.scale });
  }
  return out;
}
