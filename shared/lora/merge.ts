/**
 * Merging a LoRA adapter into its base: W' = W + s·B·A for every adapted matrix, stored again in
 * the base tensor's own type (so the file's header, sizes and offsets do not change: only the
 * adapted tensors' bytes do). For a quantised base the requantisation adds an error; it is
 * measured per tensor against the exact merged values and reported beside the size of the
 * update itself, so a user can see whether the merge kept the adapter's effect.
 */
import { getQuantFormat, isQuantTypeName } from '../quant';
import { LoraError } from './errors';

export interface MergeInput {
  /** The base tensor's ggml type name and its bytes. */
  type: string;
  bytes: Uint8Array;
  rows: number;
  cols: number;
  /** A [rank × cols] and B [rows × rank], f32 row-major, and the pair's scale. */
  a: Float32Array;
  b: Float32Array;
  rank: number;
  scale: number;
}

export interface MergeStats {
  /** RMS of the update s·B·A. */
  updateRms: number;
  /** RMS of (stored merged values − exact merged values): what requantising lost (0 for F32). */
  requantRms: number;
  /** Largest |stored − exact|. */
  requantMax: number;
}

/** The merged tensor's bytes (same type, same size as the base's) and what requantising cost. */
export function mergeLoraTensor(file: string, name: string, m: MergeInput): { bytes: Uint8Array; stats: MergeStats } {
  if (!isQuantTypeName(m.type)) throw new LoraError('LORA_TYPE', { file, field: `tensor[${JSON.stringify(name)}]` }, m.type, 'the base tensor has a type we cannot decode and re-encode, so it cannot be merged');
  const fmt = getQuantFormat(m.type);
  const n = m.rows * m.cols;
  const w = fmt.dequantize(m.bytes, n);
  const merged = new Float32Array(n);
  let updSq = 0;
  const ba = new Float64Array(m.cols);
  for (let r = 0; r < m.rows; r++) {
    ba.fill(0);
    for (let k = 0; k < m.rank; k++) {
      const bk = m.b[r * m.rank + k]!;
      if (bk === 0) continue;
      const ao = k * m.cols;
      for (let c = 0; c < m.cols; c++) ba[c] = ba[c]! + bk * m.a[ao + c]!;
    }
    for (let c = 0; c < m.cols; c++) {
      const u = m.scale * ba[c]!;
      updSq += u * u;
      merged[r * m.cols + c] = w[r * m.cols + c]! + u;
    }
  }
  const bytes = fmt.quantize(merged);
  if (bytes.length !== m.bytes.length) throw new LoraError('LORA_TYPE', { file, field: `tensor[${JSON.stringify(name)}]` }, m.type, `re-encoding gave ${bytes.length} bytes, the base has ${m.bytes.length}`);
  const back = fmt.dequantize(bytes, n);
  let errSq = 0;
  let errMax = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(back[i]! - merged[i]!);
    errSq += d * d;
    if (d > errMax) errMax = d;
  }
  return { bytes, stats: { updateRms: Math.sqrt(updSq / n), requantRms: Math.sqrt(errSq / n), requantMax: errMax } };
}
