import { checkBytes, checkFinite, checkLength } from './errors';
import { clamp, readU16, roundHalfAway, writeU16, type QuantFormat } from './format';
import { f16DecodeTable, f16ToF32, f32ToF16 } from './half';

/**
 * Q6_K: super-blocks of 256 values, 210 bytes:
 *   [0..127]   ql: low 4 bits of the quants
 *   [128..191] qh: high 2 bits of the quants
 *   [192..207] 16 × int8 sub-block scales (sub-blocks of 16 values)
 *   [208..209] f16 d
 * Each half h (0..1) of 128 values uses ql[64h..64h+63] and qh[32h..32h+31]: for l in 0..31,
 *   value 128h+l    low = ql[64h+l] & 15,    high = qh[32h+l] bits 0-1
 *   value 128h+l+32 low = ql[64h+l+32] & 15, high = qh[32h+l] bits 2-3
 *   value 128h+l+64 low = ql[64h+l] >> 4,    high = qh[32h+l] bits 4-5
 *   value 128h+l+96 low = ql[64h+l+32] >> 4, high = qh[32h+l] bits 6-7
 * q = (low | high << 4) − 32; value i = d · scales[i / 16] · q.
 */

const QK = 256;
const BYTES = 210;

/**
 * Fits x ≈ s·q with q in −nmax..nmax−1: the largest-magnitude value maps to −nmax (as ggml),
 * then trial steps around it are refitted by least squares; the smallest squared error wins.
 */
export function fitScaleSymmetric(x: Float32Array, nmax: number): number {
  let max = 0;
  for (let i = 0; i < x.length; i++) if (Math.abs(x[i]) > Math.abs(max)) max = x[i];
  if (max === 0) return 0;
  let best = max / -nmax;
  let bestErr = symErr(x, best, nmax);
  for (let k = -6; k <= 6; k++) {
    const is = -(nmax + 0.1 * k) / max;
    let sqq = 0;
    let sqx = 0;
    for (let i = 0; i < x.length; i++) {
      const q = clamp(Math.round(x[i] * is), -nmax, nmax - 1);
      sqq += q * q;
      sqx += q * x[i];
    }
    if (sqq === 0) continue;
    const s = sqx / sqq;
    const err = symErr(x, s, nmax);
    if (err < bestErr) {
      bestErr = err;
      best = s;
    }
  }
  return best;
}

function symErr(x: Float32Array, s: number, nmax: number): number {
  let e = 0;
  for (let i = 0; i < x.length; i++) {
    const q = s !== 0 ? clamp(Math.round(x[i] / s), -nmax, nmax - 1) : 0;
    const r = s * q - x[i];
    e += r * r;
  }
  return e;
}

export const Q6_K: QuantFormat = {
  name: 'Q6_K',
  blockSize: QK,
  bytesPerBlock: BYTES,
  quantize(values) {
    checkLength('Q6_K', values.length, QK, 'value count');
    checkFinite('Q6_K', values);
    const nb = values.length / QK;
    const out = new Uint8Array(nb * BYTES);
    const scales = new Float64Array(16);
    const sc = new Int8Array(16);
    const q = new Uint8Array(QK);
    for (let b = 0; b < nb; b++) {
      const x = values.subarray(b * QK, b * QK + QK);
      let maxScale = 0;
      for (let j = 0; j < 16; j++) {
        scales[j] = fitScaleSymmetric(x.subarray(16 * j, 16 * j + 16), 32);
        if (Math.abs(scales[j]) > Math.abs(maxScale)) maxScale = scales[j];
      }
      // The scale of largest magnitude maps to −128, as ggml does with its int8 scales.
      const dh = f32ToF16(clamp(maxScale / -128, -65504, 65504));
      const d = f16ToF32(dh);
      for (let j = 0; j < 16; j++) sc[j] = d !== 0 ? clamp(roundHalfAway(scales[j] / d), -128, 127) : 0;
      for (let j = 0; j < 16; j++) {
        const ds = Math.fround(d * sc[j]);
        for (let i = 16 * j; i < 16 * j + 16; i++) q[i] = (ds !== 0 ? clamp(Math.round(x[i] / ds), -32, 31) : 0) + 32;
      }
      const o = b * BYTES;
      for (let h = 0; h < 2; h++) {
        for (let l = 0; l < 32; l++) {
          const y = 128 * h + l;
          const q1 = q[y];
          const q2 = q[y + 32];
          const q3 = q[y + 64];
          const q4 = q[y + 96];
          out[o + 64 * h + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
          out[o + 64 * h + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
          out[o + 128 + 32 * h + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
        }
      }
      for (let j = 0; j < 16; j++) out[o + 192 + j] = sc[j] & 0xff;
      writeU16(out, o + 208, dh);
    }
    return out;
  },
  dequantize(bytes, n) {
    checkBytes('Q6_K', bytes, n, QK, BYTES);
    const t = f16DecodeTable();
    const out = new Float32Array(n);
    const ds = new Float64Array(16);
    for (let b = 0; b < n / QK; b++) {
      const o = b * BYTES;
      const d = t[readU16(bytes, o + 208)];
      // ggml evaluates d * sc * q left to right in f32.
      for (let j = 0; j < 16; j++) ds[j] = Math.fround(d * ((bytes[o + 192 + j] << 24) >> 24));
      for (let h = 0; h < 2; h++) {
        const ql = o + 64 * h;
        const qh = o + 128 + 32 * h;
        const y = b * QK + 128 * h;
        for (let l = 0; l < 32; l++) {
          const is = 8 * h + (l >> 4);
          const hb = bytes[qh + l];
          out[y + l] = ds[is] * (((bytes[ql + l] & 0xf) | ((hb & 3) << 4)) - 32);
          out[y + l + 32] = ds[is + 2] * (((bytes[ql + l + 32] & 0xf) | (((hb >> 2) & 3) << 4)) - 32);
          out[y + l + 64] = ds[is + 4] * (((bytes[ql + l] >> 4) | (((hb >> 4) & 3) << 4)) - 32);
          out[y + l + 96] = ds[is + 6] * (((bytes[ql + l + 32] >> 4) | (((hb >> 6) & 3) << 4)) - 32);
        }
      }
    }
    return out;
  },
};
