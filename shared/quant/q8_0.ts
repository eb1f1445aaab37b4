import { checkBytes, checkFinite, checkLength } from './errors';
import { clamp, readU16, roundHalfAway, writeU16, type QuantFormat } from './format';
import { f16DecodeTable, f32ToF16, f16ToF32 } from './half';

/**
 * Q8_0: blocks of 32 values, 34 bytes: f16 d, then 32 × int8 q. Value = d · q.
 */
export const Q8_0: QuantFormat = {
  name: 'Q8_0',
  blockSize: 32,
  bytesPerBlock: 34,
  quantize(values) {
    checkLength('Q8_0', values.length, 32, 'value count');
    checkFinite('Q8_0', values);
    const nb = values.length / 32;
    const out = new Uint8Array(nb * 34);
    for (let b = 0; b < nb; b++) {
      const x = values.subarray(b * 32, b * 32 + 32);
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[j]));
      // Quantise against the scale as stored (f16), not the exact amax/127, so the decoded
      // block is the best this d allows.
      const dh = f32ToF16(Math.min(amax / 127, 65504));
      const d = f16ToF32(dh);
      const id = d > 0 ? 1 / d : 0;
      const o = b * 34;
      writeU16(out, o, dh);
      for (let j = 0; j < 32; j++) out[o + 2 + j] = clamp(roundHalfAway(x[j] * id), -128, 127) & 0xff;
    }
    return out;
  },
  dequantize(bytes, n) {
    checkBytes('Q8_0', bytes, n, 32, 34);
    const t = f16DecodeTable();
    const out = new Float32Array(n);
    for (let b = 0; b < n / 32; b++) {
      const o = b * 34;
      const d = t[readU16(bytes, o)];
      for (let j = 0; j < 32; j++) out[b * 32 + j] = d * ((bytes[o + 2 + j] << 24) >> 24);
    }
    return out;
  },
};
