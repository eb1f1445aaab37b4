/**
 * CPU references for the integer decode products (shaders/quantize_q8.wgsl,
 * shaders/matvec_<type>_i8*.wgsl; host side shared/engine/int-matvec.ts). The activation
 * quantisation follows the kernel's f32 arithmetic step by step (Math.fround), so its int8 values
 * and scales must match bit for bit; the product's block sums are exact integers, and only the
 * f32 accumulation over blocks is left to a tolerance.
 */
import { f16ToF32 } from '../../quant';

/** x quantised in blocks of 32: x[c] ≈ d[c / 32] · q[c]; sum[b] = Σ q over block b. */
export interface Q8Blocks {
  d: Float32Array;
  q: Int8Array;
  sum: Int32Array;
}

/** Each block's sum of its 32 quants (what quantize_q8 writes after the scales). */
export function q8BlockSums(q: Int8Array): Int32Array {
  const sum = new Int32Array(q.length / 32);
  for (let c = 0; c < q.length; c++) sum[c >> 5] += q[c]!;
  return sum;
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
  return { d, q, sum: q8BlockSums(q) };
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
  return { d, q, sum: q8BlockSums(q) };
}

/**
 * A super-block type's integers, from ggml's layout (facts of the format): per value its quant
 * (Q4_K 0..15, Q6_K q − 32 in −32..31), per sub-block its integer scale (Q4_K: 32 values, 6-bit
 * sc and m; Q6_K: 16 values, int8), per super-block d (and Q4_K's dmin), so that a value is
 * d·sc·q − dmin·m (Q4_K) or d·sc·q (Q6_K).
 */
export interface SuperBlockInts {
  q: Int8Array;
  sc: Int16Array;
  m: Int16Array;
  d: Float32Array;
  dmin: Float32Array;
  /** Values per sub-block (32 or 16). */
  sub: number;
}

export function superBlockInts(type: 'Q4_K' | 'Q6_K', bytes: Uint8Array, n: number): SuperBlockInts {
  if (n % 256 !== 0) throw new Error(`superBlockInts: ${n} values is not a whole number of super-blocks`);
  const ns = n / 256;
  const sub = type === 'Q4_K' ? 32 : 16;
  const out: SuperBlockInts = { q: new Int8Array(n), sc: new Int16Array(n / sub), m: new Int16Array(n / sub), d: new Float32Array(ns), dmin: new Float32Array(ns), sub };
  const f16 = (o: number) => f16ToF32(bytes[o]! | (bytes[o + 1]! << 8));
  for (let k = 0; k < ns; k++) {
    if (type === 'Q4_K') {
      // d, dmin, scales[12] (6-bit sc/m of 8 sub-blocks; get_scale_min_k4's packing), qs[128].
      const o = 144 * k;
      out.d[k] = f16(o);
      out.dmin[k] = f16(o + 2);
      const s = (i: number) => bytes[o + 4 + i]!;
      for (let j = 0; j < 8; j++) {
        out.sc[8 * k + j] = j < 4 ? s(j) & 63 : (s(j + 4) & 15) | ((s(j - 4) >> 6) << 4);
        out.m[8 * k + j] = j < 4 ? s(j + 4) & 63 : (s(j + 4) >> 4) | ((s(j) >> 6) << 4);
      }
      // 64 values per 32 bytes: low nibbles first, then high nibbles.
      for (let v = 0; v < 256; v++) {
        const c = v >> 6;
        const l = v & 63;
        const byte = bytes[o + 16 + 32 * c + (l & 31)]!;
        out.q[256 * k + v] = l < 32 ? byte & 15 : byte >> 4;
      }
    } else {
      // ql[128], qh[64], scales[16] (int8), d.
      const o = 210 * k;
      out.d[k] = f16(o + 208);
      for (let j = 0; j < 16; j++) out.sc[16 * k + j] = (bytes[o + 192 + j]! << 24) >> 24;
      for (let v = 0; v < 256; v++) {
        const h = v >> 7;
        const t = (v >> 5) & 3;
        const l = v & 31;
        const lb = bytes[o + 64 * h + 32 * (t & 1) + l]!;
        const nib = t < 2 ? lb & 15 : lb >> 4;
        const hb = (bytes[o + 128 + 32 * h + l]! >> (2 * t)) & 3;
        out.q[256 * k + v] = (nib | (hb << 4)) - 32;
      }
    }
  }
  return out;
}

/**
 * The super-block types: per row and 32-value x block b, the kernel's integer sums and f32
 * factors. Q4_K: A = sc·Σ q·xq, B = m·Σ xq, term A·fround(d·dx) − B·fround(dmin·dx); Q6_K: S =
 * Σ over its two 16-value sub-blocks of sc·Σ q·xq, term S·fround(d·dx). Summed in f64.
 */
function superBlockMatvecRef(type: 'Q4_K' | 'Q6_K', bytes: Uint8Array, rows: number, cols: number, xq: Q8Blocks): { y: Float64Array; mag: Float64Array } {
  const wi = superBlockInts(type, bytes, rows * cols);
  const nb = cols / 32;
  const y = new Float64Array(rows);
  const mag = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    let m = 0;
    for (let b = 0; b < nb; b++) {
      const v0 = r * cols + 32 * b;
      const k = v0 >> 8;
      const dx = xq.d[b]!;
      if (type === 'Q4_K') {
        let qs = 0;
        let xs = 0;
        for (let j = 0; j < 32; j++) {
          qs += wi.q[v0 + j]! * xq.q[32 * b + j]!;
          xs += xq.q[32 * b + j]!;
        }
        const t1 = wi.sc[v0 / 32]! * qs * Math.fround(wi.d[k]! * dx);
        const t2 = wi.m[v0 / 32]! * xs * Math.fround(wi.dmin[k]! * dx);
        s += t1 - t2;
        m += Math.abs(t1) + Math.abs(t2);
      } else {
        let S = 0;
        for (let j = 0; j < 32; j++) S += wi.sc[(v0 + j) >> 4]! * wi.q[v0 + j]! * xq.q[32 * b + j]!;
        const t = S * Math.fround(wi.d[k]! * dx);
        s += t;
        m += Math.abs(t);
      }
    }
    y[r] = s;
    mag[r] = m;
  }
  return { y, mag };
}

/**
 * y[r] = Σ_blocks fround(dw · dx) · Σ_j wq·xq (the super-block types: superBlockMatvecRef), summed
 * in f64, and Σ of the terms' magnitudes (the scale of the kernel's f32 accumulation error).
 */
export function intMatvecRef(type: 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q6_K', bytes: Uint8Array, rows: number, cols: number, xq: Q8Blocks): { y: Float64Array; mag: Float64Array } {
  if (type === 'Q4_K' || type === 'Q6_K') return superBlockMatvecRef(type, bytes, rows, cols, xq);
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
