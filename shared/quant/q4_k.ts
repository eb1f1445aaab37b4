import { checkBytes, checkFinite, checkLength, checkOut } from './errors';
import { clamp, readU16, writeU16, type QuantFormat } from './format';
import { f16DecodeTable, f16ToF32, f32ToF16 } from './half';

/**
 * Q4_K: super-blocks of 256 values, 144 bytes:
 *   [0..1]   f16 d      (scale of the sub-block scales)
 *   [2..3]   f16 dmin   (scale of the sub-block mins)
 *   [4..15]  12 bytes: eight 6-bit scales and eight 6-bit mins, packed as get_scale_min_k4 reads
 *   [16..143] 128 bytes of nibbles
 * The 256 values are 8 sub-blocks of 32. Chunk c (0..3) of 32 bytes holds sub-block 2c in its
 * low nibbles and sub-block 2c+1 in its high nibbles. Value = d·sc_j·q − dmin·m_j.
 */

const QK = 256;
const BYTES = 144;

/** ggml's get_scale_min_k4: sub-block j's 6-bit scale and min from the 12 packed bytes at o. */
export function getScaleMinK4(j: number, s: Uint8Array, o: number): [number, number] {
  if (j < 4) return [s[o + j] & 63, s[o + j + 4] & 63];
  return [(s[o + j + 4] & 0xf) | ((s[o + j - 4] >> 6) << 4), (s[o + j + 4] >> 4) | ((s[o + j] >> 6) << 4)];
}

/** The inverse of getScaleMinK4: packs 8 scales and 8 mins (each 0..63) into 12 bytes at o. */
export function packScaleMinK4(sc: ArrayLike<number>, mn: ArrayLike<number>, out: Uint8Array, o: number): void {
  for (let j = 0; j < 4; j++) {
    out[o + j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6);
    out[o + j + 4] = (mn[j] & 63) | ((mn[j + 4] >> 4) << 6);
    out[o + j + 8] = (sc[j + 4] & 0xf) | ((mn[j + 4] & 0xf) << 4);
  }
}

/**
 * Fits x ≈ s·q − m with q in 0..nmax and m ≥ 0 (as ggml, the offset never goes above zero): a
 * few trial step sizes around the range/nmax, each assignment refitted by least squares;
 * the fit with the smallest squared error wins.
 */
export function fitScaleMin(x: Float32Array, nmax: number): { scale: number; min: number } {
  const n = x.length;
  let lo = 0;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  if (hi <= lo) return { scale: 0, min: -lo };
  let best = { scale: (hi - lo) / nmax, min: -lo };
  let bestErr = sqErr(x, best.scale, lo, nmax, lo, best.scale);
  for (let k = -6; k <= 6; k++) {
    const step = (hi - lo) / (nmax + 0.1 * k);
    let sq = 0;
    let sqq = 0;
    let sx = 0;
    let sqx = 0;
    for (let i = 0; i < n; i++) {
      const q = clamp(Math.round((x[i] - lo) / step), 0, nmax);
      sq += q;
      sqq += q * q;
      sx += x[i];
      sqx += q * x[i];
    }
    const det = n * sqq - sq * sq;
    if (det <= 0) continue;
    let s = (n * sqx - sq * sx) / det;
    let off = (sqq * sx - sq * sqx) / det;
    if (off > 0) {
      off = 0;
      s = sqx / sqq;
    }
    if (!(s > 0)) continue;
    // Score the refitted (s, off) with a fresh assignment, as the decoder will see it.
    const err = sqErr(x, s, off, nmax, off, s);
    if (err < bestErr) {
      bestErr = err;
      best = { scale: s, min: -off };
    }
  }
  return best;
}

/** Squared error of x against s·q + off with q = round((x − qOff)/qStep) clamped to 0..nmax. */
function sqErr(x: Float32Array, s: number, off: number, nmax: number, qOff: number, qStep: number): number {
  let e = 0;
  for (let i = 0; i < x.length; i++) {
    const q = qStep > 0 ? clamp(Math.round((x[i] - qOff) / qStep), 0, nmax) : 0;
    const r = s * q + off - x[i];
    e += r * r;
  }
  return e;
}

/**
 * The scales of one 256-value super-block of Q4_K/Q5_K: each sub-block of 32 fitted with codes
 * 0..nmax (fitScaleMin), then d and dmin as f16 and the 6-bit scale and min of each sub-block
 * (into sc, mn) against those f16 values, as the decoder will read them.
 */
export function fitSuperBlockK(x: Float32Array, nmax: number, sc: Uint8Array, mn: Uint8Array): { dh: number; mh: number; d: number; dmin: number } {
  const scales = new Float64Array(8);
  const mins = new Float64Array(8);
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    const f = fitScaleMin(x.subarray(32 * j, 32 * j + 32), nmax);
    scales[j] = f.scale;
    mins[j] = f.min;
    maxScale = Math.max(maxScale, f.scale);
    maxMin = Math.max(maxMin, f.min);
  }
  const dh = f32ToF16(Math.min(maxScale / 63, 65504));
  const mh = f32ToF16(Math.min(maxMin / 63, 65504));
  const d = f16ToF32(dh);
  const dmin = f16ToF32(mh);
  for (let j = 0; j < 8; j++) {
    sc[j] = d > 0 ? clamp(Math.round(scales[j] / d), 0, 63) : 0;
    mn[j] = dmin > 0 ? clamp(Math.round(mins[j] / dmin), 0, 63) : 0;
  }
  return { dh, mh, d, dmin };
}

export const Q4_K: QuantFormat = {
  name: 'Q4_K',
  blockSize: QK,
  bytesPerBlock: BYTES,
  quantize(values) {
    checkLength('Q4_K', values.length, QK, 'value count');
    checkFinite('Q4_K', values);
    const nb = values.length / QK;
    const out = new Uint8Array(nb * BYTES);
    const sc = new Uint8Array(8);
    const mn = new Uint8Array(8);
    for (let b = 0; b < nb; b++) {
      const x = values.subarray(b * QK, b * QK + QK);
      const { dh, mh, d, dmin } = fitSuperBlockK(x, 15, sc, mn);
      const o = b * BYTES;
      writeU16(out, o, dh);
      writeU16(out, o + 2, mh);
      packScaleMinK4(sc, mn, out, o + 4);
      // Final nibbles against the scale and min exactly as the decoder computes them.
      for (let c = 0; c < 4; c++) {
        const qa = subBlockQuants(x, 64 * c, Math.fround(d * sc[2 * c]), Math.fround(dmin * mn[2 * c]));
        const qb = subBlockQuants(x, 64 * c + 32, Math.fround(d * sc[2 * c + 1]), Math.fround(dmin * mn[2 * c + 1]));
        for (let l = 0; l < 32; l++) out[o + 16 + 32 * c + l] = qa[l] | (qb[l] << 4);
      }
    }
    return out;
  },
  dequantize(bytes, n) {
    const out = new Float32Array(n);
    Q4_K.dequantizeInto!(bytes, n, out);
    return out;
  },
  dequantizeInto(bytes, n, out) {
    checkBytes('Q4_K', bytes, n, QK, BYTES);
    checkOut('Q4_K', out, n);
    const t = f16DecodeTable();
    for (let b = 0; b < n / QK; b++) {
      const o = b * BYTES;
      const d = t[readU16(bytes, o)];
      const dmin = t[readU16(bytes, o + 2)];
      for (let c = 0; c < 4; c++) {
        // getScaleMinK4 inlined: this loop runs for every block of every imported tensor, and
        // a pair returned per sub-block was most of its allocations.
        const j = 2 * c;
        const sm1 = scaleMinPacked(j, bytes, o + 4);
        const sm2 = scaleMinPacked(j + 1, bytes, o + 4);
        // ggml computes these products in f32; fround mirrors each rounding step.
        const d1 = Math.fround(d * (sm1 & 63));
        const n1 = Math.fround(dmin * (sm1 >> 6));
        const d2 = Math.fround(d * (sm2 & 63));
        const n2 = Math.fround(dmin * (sm2 >> 6));
        // The 16 values each sub-block can take, rounded to f32 as `out` stores them: one
        // table load per value instead of a multiply, two roundings and a subtraction.
        for (let k = 0; k < 16; k++) {
          lut[k] = Math.fround(d1 * k) - n1;
          lut[16 + k] = Math.fround(d2 * k) - n2;
        }
        const y = b * QK + 64 * c;
        const q = o + 16 + 32 * c;
        for (let l = 0; l < 32; l++) {
          const v = bytes[q + l];
          out[y + l] = lut[v & 0xf];
          out[y + 32 + l] = lut[16 + (v >> 4)];
        }
      }
    }
  },
};

const lut = new Float32Array(32);

/** getScaleMinK4 as one number, scale | min << 6 (no array per call). */
function scaleMinPacked(j: number, s: Uint8Array, o: number): number {
  if (j < 4) return (s[o + j] & 63) | ((s[o + j + 4] & 63) << 6);
  return ((s[o + j + 4] & 0xf) | ((s[o + j - 4] >> 6) << 4)) | (((s[o + j + 4] >> 4) | ((s[o + j] >> 6) << 4)) << 6);
}

const qbuf = new Uint8Array(32);
function subBlockQuants(x: Float32Array, at: number, ds: number, dm: number): Uint8Array {
  for (let l = 0; l < 32; l++) qbuf[l] = ds > 0 ? clamp(Math.round((x[at + l] + dm) / ds), 0, 15) : 0;
  return qbuf.slice();
}
