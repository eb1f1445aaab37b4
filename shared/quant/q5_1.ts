import { checkBytes, checkFinite, checkLength } from './errors';
import { clamp, readU16, writeU16, type QuantFormat } from './format';
import { f16DecodeTable } from './half';
import { minScale } from './q4_1';
import { readU32, writeQ5 } from './q5_0';

/**
 * Q5_1: blocks of 32 values, 24 bytes: f16 d, f16 m, u32 qh, 16 bytes of nibbles (the Q5_0
 * packing: byte j low nibble = element j, high nibble = element j+16, qh bit i = fifth bit of
 * element i). Value = d · q + m, q in 0..31.
 */
export const Q5_1: QuantFormat = {
  name: 'Q5_1',
  blockSize: 32,
  bytesPerBlock: 24,
  quantize(values) {
    checkLength('Q5_1', values.length, 32, 'value count');
    checkFinite('Q5_1', values);
    const nb = values.length / 32;
    const out = new Uint8Array(nb * 24);
    const q = new Uint8Array(32);
    for (let b = 0; b < nb; b++) {
      const x = values.subarray(b * 32, b * 32 + 32);
      const { d, m, dh, mh } = minScale(x, 31);
      for (let j = 0; j < 32; j++) q[j] = d > 0 ? clamp(Math.round((x[j] - m) / d), 0, 31) : 0;
      writeQ5(out, b * 24, dh, q, 4);
      writeU16(out, b * 24 + 2, mh);
    }
    return out;
  },
  dequantize(bytes, n) {
    checkBytes('Q5_1', bytes, n, 32, 24);
    const t = f16DecodeTable();
    const out = new Float32Array(n);
    for (let b = 0; b < n / 32; b++) {
      const o = b * 24;
      const d = t[readU16(bytes, o)];
      const m = t[readU16(bytes, o + 2)];
      const qh = readU32(bytes, o + 4);
      for (let j = 0; j < 16; j++) {
        const q = bytes[o + 8 + j];
        // x·d is exact (11-bit d, 5-bit x): one rounding, as ggml's f32 x·d + m.
        out[b * 32 + j] = Math.fround(d * ((q & 0xf) | (((qh >>> j) & 1) << 4)) + m);
        out[b * 32 + j + 16] = Math.fround(d * ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) + m);
      }
    }
    return out;
  },
};
