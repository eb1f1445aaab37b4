import { checkBytes, checkFinite, checkLength } from './errors';
import { clamp, readU16, writeU16, type QuantFormat } from './format';
import { f16DecodeTable, f16ToF32, f32ToF16 } from './half';

/**
 * Q4_1: blocks of 32 values, 20 bytes: f16 d, f16 m, then 16 bytes of nibbles. Byte j holds
 * element j in its low nibble and element j+16 in its high nibble. Value = d · nibble + m.
 */
export const Q4_1: QuantFormat = {
  name: 'Q4_1',
  blockSize: 32,
  bytesPerBlock: 20,
  quantize(values) {
    checkLength('Q4_1', values.length, 32, 'value count');
    checkFinite('Q4_1', values);
    const nb = values.length / 32;
    const out = new Uint8Array(nb * 20);
    for (let b = 0; b < nb; b++) {
      const x = values.subarray(b * 32, b * 32 + 32);
      const { d, m, dh, mh } = minScale(x, 15);
      const o = b * 20;
      writeU16(out, o, dh);
      writeU16(out, o + 2, mh);
      // Round to nearest against the stored (f16) d and m, so the decode is the best they allow.
      const q = (v: number) => (d > 0 ? clamp(Math.round((v - m) / d), 0, 15) : 0);
      for (let j = 0; j < 16; j++) out[o + 4 + j] = q(x[j]) | (q(x[j + 16]) << 4);
    }
    return out;
  },
  dequantize(bytes, n) {
    checkBytes('Q4_1', bytes, n, 32, 20);
    const t = f16DecodeTable();
    const out = new Float32Array(n);
    for (let b = 0; b < n / 32; b++) {
      const o = b * 20;
      const d = t[readU16(bytes, o)];
      const m = t[readU16(bytes, o + 2)];
      for (let j = 0; j < 16; j++) {
        const q = bytes[o + 4 + j];
        // ggml: x·d + m in f32; x·d is exact (11-bit d, 4-bit x), so one rounding.
        out[b * 32 + j] = Math.fround(d * (q & 0xf) + m);
        out[b * 32 + j + 16] = Math.fround(d * (q >> 4) + m);
      }
    }
    return out;
  },
};

/**
 * The affine grid of the "_1" formats (Q4_1, Q5_1): m = the block's minimum, d = range / nmax,
 * both rounded to f16 as stored (a minimum that rounds up only clips the lowest value by < 1 ulp).
 */
export function minScale(x: Float32Array, nmax: number): { d: number; m: number; dh: number; mh: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < x.length; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  const mh = f32ToF16(clamp(lo, -65504, 65504));
  const m = f16ToF32(mh);
  const dh = f32ToF16(Math.min((hi - m) / nmax, 65504));
  return { d: f16ToF32(dh), m, dh, mh };
}
