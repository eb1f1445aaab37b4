/**
 * CPU references for the integer decode products (shaders/quantize_q8.wgsl,
 * shaders/matvec_<type>_i8*.wgsl; host side shared/engine/int-matvec.ts). The activation
 * quantisation follows the kernel's f32 arithmetic step by step (Math.fround), so its int8 values
 * and scales must match bit for bit; the product's block sums are exact integers, and only the
 * f32 accumulation over blocks is left to a tolerance.
 */
import { f16ToF32 } from '../../quant';

/** x quantised in blocks of 32: x[c] ≈ d[c / 32] · q[c]. */
export interface Q8Blocks {
  d: Float32Array;
  q: Int8Array;
}

/** As quantize_q8.wgsl: d = max|x| / 127 (f32), q = round-half-away(x · (1 / d)), 0 where d = 0. */
export function quantizeQ8Ref(x: Float32Array): Q8Blocks {
  if (x.length % 32 !== 0) throw new Error(`quantizeQ8Ref: length ${x.length} is not a multiple of 32`);
  const nb = x.length / 32;
  const d = new Float32Array(nb);
  const q = new Int8Array(x.length);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
    const db = Math.fround(amax / 127);
    const id = db !== 0 ? Math.fround(1 / db) : 0;
    d[b] = db;
    for (let j = 0; j < 32; j++) {
      const v = Math.fround(x[b * 32 + j] * id);
      q[b * 32 + j] = Math.max(-127, Math.min(127, Math.sign(v) * Math.floor(Math.abs(v) + 0.5)));
    }
  }
  return { d, q };
}

/** The weight blocks' scales and integer values (Q8_0: q; Q4_0: nibble − 8), row-major. */
function weightInts(type: 'Q8_0' | 'Q4_0', bytes: Uint8Array, rows: number, cols: number): Q8Blocks {
  const nb = (rows * cols) / 32;
  const bpb = type === 'Q8_0' ? 34 : 18;
  const d = new Float32Array(nb);
  const q = new Int8Array(rows * cols);
  for (let b = 0; b < nb; b++) {
    const o = b * bpb;
    d[b] = f16ToF32(bytes[o] | (bytes[o + 1] << 8));
    for (let j = 0; j < 32; j++) {
      if (type === 'Q8_0') q[b * 32 + j] = (bytes[o + 2 + j] << 24) >> 24;
      else q[b * 32 + j] = (j < 16 ? bytes[o + 2 + j] & 15 : bytes[o + 2 + j - 16] >> 4) - 8;
    }
  }
  return { d, q };
}

/**
 * y[r] = Σ_blocks fround(dw · dx) · Σ_j wq·xq, summed in f64, and Σ of the terms' magnitudes (the
 * scale of the kernel's f32 accumulation error).
 */
export function intMatvecRef(type: 'Q8_0' | 'Q4_0', bytes: Uint8Array, rows: number, cols: number, xq: Q8Blocks): { y: Float64Array; mag: Float64Array } {
  const wi = weightInts(type, bytes, rows, cols);
  const nb = cols / 32;
  const y = new Float64Array(rows);
  const mag = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    let m = 0;
    for (let k = 0; k < nb; k++) {
      let isum = 0;
      const wo = r * cols + k * 32;
      for (let j = 0; j < 32; j++) isum += wi.q[wo + j] * xq.q[k * 32 + j];
      const t = isum * Math.fround(wi.d[r * nb + k] * xq.d[k]);
      s += t;
      m += Math.abs(t);
    }
    y[r] = s;
    mag[r] = m;
  }
  return { y, mag };
}

/**
 * A bound on what quantising x costs an output against the exact product over unquantised x:
 * each x value moves by at most d/2 of its block, so |y_int − y_exact| ≤ Σ_b d_b/2 · Σ_{c∈b} |W[r, c]|.
 */
export function q8ErrorBound(w: Float32Array, rows: number, cols: number, xq: Q8Blocks): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += (xq.d[c >> 5] / 2) * Math.abs(w[r * cols + c]);
    out[r] = s;
  }
  return out;
}
