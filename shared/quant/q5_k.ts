import { checkBytes, checkFinite, checkLength } from './errors';
import { clamp, readU16, writeU16, type QuantFormat } from './format';
import { f16DecodeTable } from './half';
import { fitSuperBlockK, getScaleMinK4, packScaleMinK4 } from './q4_k';

/**
 * Q5_K: super-blocks of 256 values, 176 bytes:
 *   [0..1]    f16 d      (scale of the sub-block scales)
 *   [2..3]    f16 dmin   (scale of the sub-block mins)
 *   [4..15]   eight 6-bit scales and mins, packed as Q4_K's (get_scale_min_k4)
 *   [16..47]  qh: 32 bytes of high bits
 *   [48..175] qs: 128 bytes of nibbles
 * As Q4_K, chunk c (0..3) of 32 qs bytes holds sub-block 2c in its low nibbles and 2c+1 in its
 * high nibbles; the fifth bit of value l of sub-block 2c is bit 2c of qh[l], of sub-block 2c+1
 * bit 2c+1. Value = d·sc_j·q − dmin·m_j, q in 0..31.
 */

const QK = 256;
const BYTES = 176;

export const Q5_K: QuantFormat = {
  name: 'Q5_K',
  blockSize: QK,
  bytesPerBlock: BYTES,
  quantize(values) {
    checkLength('Q5_K', values.length, QK, 'value count');
    checkFinite('Q5_K', values);
    const nb = values.length / QK;
    const out = new Uint8Array(nb * BYTES);
    const sc = new Uint8Array(8);
    const mn = new Uint8Array(8);
    for (let b = 0; b < nb; b++) {
      const x = values.subarray(b * QK, b * QK + QK);
      const { dh, mh, d, dmin } = fitSuperBlockK(x, 31, sc, mn);
      const o = b * BYTES;
      writeU16(out, o, dh);
      writeU16(out, o + 2, mh);
      packScaleMinK4(sc, mn, out, o + 4);
      // Final quants against the scale and min exactly as the decoder computes them.
      for (let j = 0; j < 8; j++) {
        const ds = Math.fround(d * sc[j]);
        const dm = Math.fround(dmin * mn[j]);
        const c = j >> 1;
        const hi = j & 1;
        for (let l = 0; l < 32; l++) {
          const q = ds > 0 ? clamp(Math.round((x[32 * j + l] + dm) / ds), 0, 31) : 0;
          out[o + 48 + 32 * c + l] |= (q & 0xf) << (4 * hi);
          out[o + 16 + l] |= (q >> 4) << j;
        }
      }
    }
    return out;
  },
  dequantize(bytes, n) {
    checkBytes('Q5_K', bytes, n, QK, BYTES);
    const t = f16DecodeTable();
    const out = new Float32Array(n);
    for (let b = 0; b < n / QK; b++) {
      const o = b * BYTES;
      const d = t[readU16(bytes, o)];
      const dmin = t[readU16(bytes, o + 2)];
      for (let c = 0; c < 4; c++) {
        const [s1, m1] = getScaleMinK4(2 * c, bytes, o + 4);
        const [s2, m2] = getScaleMinK4(2 * c + 1, bytes, o + 4);
        // ggml computes these products in f32; d·sc·q is exact, the subtraction rounds once.
        const d1 = Math.fround(d * s1);
        const n1 = Math.fround(dmin * m1);
        const d2 = Math.fround(d * s2);
        const n2 = Math.fround(dmin * m2);
        const y = b * QK + 64 * c;
        const q = o + 48 + 32 * c;
        for (let l = 0; l < 32; l++) {
          const h = bytes[o + 16 + l] >> (2 * c);
          out[y + l] = Math.fround(d1 * ((bytes[q + l] & 0xf) | ((h & 1) << 4))) - n1;
          out[y + 32 + l] = Math.fround(d2 * ((bytes[q + l] >> 4) | ((h & 2) << 3))) - n2;
        }
      }
    }
    return out;
  },
};
