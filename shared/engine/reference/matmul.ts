/**
 * CPU references for the weight kernels of shaders/matvec_*.wgsl, over dequantised weights
 * (shared/quant decodes them with ggml's semantics). Sums run in f64 so the reference carries
 * no rounding of its own worth speaking of; W is [rows, cols] row-major, as ggml stores it.
 */
import { getQuantFormat } from '../../quant';

/** Y[t, r] = Σ_c W[r, c]·X[t, c] for T tokens (X is [T, cols], Y is [T, rows]); T = 1 is matvec. */
export function matmulRef(w: Float32Array, rows: number, cols: number, x: Float32Array, tokens = 1): Float64Array {
  const y = new Float64Array(tokens * rows);
  for (let t = 0; t < tokens; t++) {
    const xo = t * cols;
    for (let r = 0; r < rows; r++) {
      const wo = r * cols;
      let s = 0;
      for (let c = 0; c < cols; c++) s += w[wo + c] * x[xo + c];
      y[t * rows + r] = s;
    }
  }
  return y;
}

/**
 * Σ_c |W[r, c]·X[t, c]|: the scale of the rounding error any order of f32 summation can make in
 * output [t, r] (a dot product's forward error is bounded by n·u times this).
 */
export function matmulAbsRef(w: Float32Array, rows: number, cols: number, x: Float32Array, tokens = 1): Float64Array {
  const y = new Float64Array(tokens * rows);
  for (let t = 0; t < tokens; t++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += Math.abs(w[r * cols + c] * x[t * cols + c]);
      y[t * rows + r] = s;
    }
  }
  return y;
}

export function matvecRef(w: Float32Array, rows: number, cols: number, x: Float32Array): Float64Array {
  return matmulRef(w, rows, cols, x, 1);
}

/** out[i, :] = W[ids[i], :]; an id outside the table gives a row of NaN (as the kernel does). */
export function getRowsRef(w: Float32Array, rows: number, cols: number, ids: ArrayLike<number>): Float32Array {
  const out = new Float32Array(ids.length * cols);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id >= rows) out.fill(NaN, i * cols, (i + 1) * cols);
    else out.set(w.subarray(id * cols, (id + 1) * cols), i * cols);
  }
  return out;
}

/** Decodes a [rows, cols] tensor of a ggml type (GGUF bytes) to f32, row by row. */
export function dequantizeMatrix(type: string, bytes: Uint8Array, rows: number, cols: number): Float32Array {
  return getQuantFormat(type).dequantize(bytes, rows * cols);
}
