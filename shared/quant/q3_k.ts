import { checkBytes, checkFinite, checkLength } from './errors';
import { clamp, readU16, roundHalfAway, writeU16, type QuantFormat } from './format';
import { f16DecodeTable, f16ToF32, f32ToF16 } from './half';
import { fitScaleSymmetric } from './q6_k';

/**
 * Q3_K: super-blocks of 256 values, 110 bytes:
 *   [0..31]    hmask: the third bit of each quant
 *   [32..95]   qs: the low 2 bits of each quant, four per byte
 *   [96..107]  sixteen 6-bit scales (sub-blocks of 16 values), packed as below
 *   [108..109] f16 d
 * Value i: half n = i/128, j = (i%128)/32, r = i%32. Low bits = (qs[32n + r] >> 2j) & 3,
 * high bit = bit 4n + j of hmask[r]; q = low − (high ? 0 : 4), in −4..3. Scale s = 8n + 2j +
 * (r ≥ 16): low 4 bits = s < 8 ? scales[s] & 15 : scales[s − 8] >> 4, high 2 bits =
 * (scales[8 + s%4] >> 2·(s/4)) & 3; value = d · (scale − 32) · q.
 */

const QK = 256;
const BYTES = 110;

/** Sub-block s's 6-bit scale (0..63, stored +32) from the 12 packed bytes at o. */
export function q3kScale(b: Uint8Array, o: number, s: number): number {
  const lo = s < 8 ? b[o + s] & 0xf : b[o + s - 8] >> 4;
  return lo | (((b[o + 8 + (s & 3)] >> (2 * (s >> 2))) & 3) << 4);
}

export const Q3_K: QuantFormat = {
  name: 'Q3_K',
  blockSize: QK,
  bytesPerBlock: BYTES,
  quantize(values) {
    checkLength('Q3_K', values.length, QK, 'value count');
    checkFinite('Q3_K', values);
    const nb = values.length / QK;
    const out = new Uint8Array(nb * BYTES);
    const scales = new Float64Array(16);
    for (let b = 0; b < nb; b++) {
      const x = values.subarray(b * QK, b * QK + QK);
      let maxScale = 0;
      for (let s = 0; s < 16; s++) {
        scales[s] = fitScaleSymmetric(x.subarray(16 * s, 16 * s + 16), 4);
        if (Math.abs(scales[s]) > Math.abs(maxScale)) maxScale = scales[s];
      }
      // As ggml: the sub-block scale of largest magnitude maps to −32.
      const dh = f32ToF16(clamp(maxScale / -32, -65504, 65504));
      const d = f16ToF32(dh);
      const o = b * BYTES;
      for (let s = 0; s < 16; s++) {
        const ls = d !== 0 ? clamp(roundHalfAway(scales[s] / d), -32, 31) + 32 : 32;
        if (s < 8) out[o + 96 + s] |= ls & 0xf;
        else out[o + 96 + s - 8] |= (ls & 0xf) << 4;
        out[o + 104 + (s & 3)] |= (ls >> 4) << (2 * (s >> 2));
      }
      for (let i = 0; i < QK; i++) {
        const n = i >> 7;
        const j = (i >> 5) & 3;
        const r = i & 31;
        const s = 8 * n + 2 * j + (r >> 4);
        const ds = Math.fround(d * (q3kScale(out, o + 96, s) - 32));
        const q = (ds !== 0 ? clamp(Math.round(x[i] / ds), -4, 3) : 0) + 4; // 0..7
        out[o + 32 + 32 * n + r] |= (q & 3) << (2 * j);
        out[o + r] |= (q >> 2) << (4 * n + j);
      }
      writeU16(out, o + 108, dh);
    }
    return out;
  },
  dequantize(bytes, n) {
    checkBytes('Q3_K', bytes, n, QK, BYTES);
    const t = f16DecodeTable();
    const out = new Float32Array(n);
    const ds = new Float64Array(16);
    for (let b = 0; b < n / QK; b++) {
      const o = b * BYTES;
      const d = t[readU16(bytes, o + 108)];
      // d·(scale − 32) and its product with q are exact in f32 (11 + 6 + 3 bits).
      for (let s = 0; s < 16; s++) ds[s] = d * (q3kScale(bytes, o + 96, s) - 32);
      for (let i = 0; i < QK; i++) {
        const h = i >> 7;
        const j = (i >> 5) & 3;
        const r = i & 31;
        const low = (bytes[o + 32 + 32 * h + r] >> (2 * j)) & 3;
        const high = (bytes[o + r] >> (4 * h + j)) & 1;
        out[b * QK + i] = ds[8 * h + 2 * j + (r >> 4)] * (low - (high ? 0 : 4));
      }
    }
    return out;
  },
};
