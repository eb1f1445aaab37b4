import { checkBytes, checkFinite, checkLength } from './errors';
import { clamp, readU16, writeU16, type QuantFormat } from './format';
import { f16DecodeTable, f16ToF32, f32ToF16 } from './half';

/**
 * Q4_0: blocks of 32 values, 18 bytes: f16 d, then 16 bytes of nibbles. Byte j holds element j
 * in its low nibble and element j+16 in its high nibble. Value = d · (nibble − 8).
 */
export const Q4_0: QuantFormat = {
  name: 'Q4_0',
  blockSize: 32,
  bytesPerBlock: 18,
  quantize(values) {
    checkLength('Q4_0', values.length, 32, 'value count');
    checkFinite('Q4_0', values);
    const nb = values.length / 32;
    const out = new Uint8Array(nb * 18);
    for (let b = 0; b < nb; b++) {
      const x = values.subarray(b * 32, b * 32 + 32);
      // As ggml: the value of largest magnitude maps to −8, using the whole asymmetric range.
      let max = 0;
      for (let j = 0; j < 32; j++) if (Math.abs(x[j]) > Math.abs(max)) max = x[j];
      const dh = f32ToF16(clamp(max / -8, -65504, 65504));
      const d = f16ToF32(dh);
      const id = d !== 0 ? 1 / d : 0;
      const o = b * 18;
      writeU16(out, o, dh);
      for (let j = 0; j < 16; j++) {
        const q0 = clamp(Math.floor(x[j] * id + 8.5), 0, 15);
        const q1 = clamp(Math.floor(x[j + 16] * id + 8.5), 0, 15);
        out[o + 2 + j] = q0 | (q1 << 4);
      }
    }
    return out;
  },
  dequantize(bytes, n) {
    checkBytes('Q4_0', bytes, n, 32, 18);
    const t = f16DecodeTable();
    const out = new Float32Array(n);
    for (let b = 0; b < n / 32; b++) {
      const o = b * 18;
      const d = t[readU16(bytes, o)];
      for (let j = 0; j < 16; j++) {
        const q = bytes[o + 2 + j];
        out[b * 32 + j] = ((q & 0xf) - 8) * d;
        out[b * 32 + j + 16] = ((q >> 4) - 8) * d;
      }
    }
    return out;
  },
};
