import { checkBytes, checkFinite, checkLength } from './errors';
import { clamp, readU16, writeU16, type QuantFormat } from './format';
import { f16DecodeTable, f16ToF32, f32ToF16 } from './half';

/**
 * Q5_0: blocks of 32 values, 22 bytes: f16 d, u32 qh (little-endian), 16 bytes of nibbles.
 * Byte j holds the low 4 bits of element j (low nibble) and of element j+16 (high nibble);
 * bit i of qh is the fifth bit of element i. Value = d · (q − 16), q in 0..31.
 */
export const Q5_0: QuantFormat = {
  name: 'Q5_0',
  blockSize: 32,
  bytesPerBlock: 22,
  quantize(values) {
    checkLength('Q5_0', values.length, 32, 'value count');
    checkFinite('Q5_0', values);
    const nb = values.length / 32;
    const out = new Uint8Array(nb * 22);
    const q = new Uint8Array(32);
    for (let b = 0; b < nb; b++) {
      const x = values.subarray(b * 32, b * 32 + 32);
      // As ggml (and Q4_0): the value of largest magnitude maps to −16.
      let max = 0;
      for (let j = 0; j < 32; j++) if (Math.abs(x[j]) > Math.abs(max)) max = x[j];
      const dh = f32ToF16(clamp(max / -16, -65504, 65504));
      const d = f16ToF32(dh);
      const id = d !== 0 ? 1 / d : 0;
      for (let j = 0; j < 32; j++) q[j] = clamp(Math.floor(x[j] * id + 16.5), 0, 31);
      writeQ5(out, b * 22, dh, q, 2);
    }
    return out;
  },
  dequantize(bytes, n) {
    checkBytes('Q5_0', bytes, n, 32, 22);
    const t = f16DecodeTable();
    const out = new Float32Array(n);
    for (let b = 0; b < n / 32; b++) {
      const o = b * 22;
      const d = t[readU16(bytes, o)];
      const qh = readU32(bytes, o + 2);
      for (let j = 0; j < 16; j++) {
        const q = bytes[o + 6 + j];
        out[b * 32 + j] = d * (((q & 0xf) | (((qh >>> j) & 1) << 4)) - 16);
        out[b * 32 + j + 16] = d * (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16);
      }
    }
    return out;
  },
};

/** Little-endian u32 at any byte offset. */
export function readU32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

/** Packs 32 five-bit quants as Q5_0/Q5_1 store them: qh (u32) at o + qhAt, nibbles after it; d at o. */
export function writeQ5(out: Uint8Array, o: number, dh: number, q: Uint8Array, qhAt: number): void {
  writeU16(out, o, dh);
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    out[o + qhAt + 4 + j] = (q[j] & 0xf) | ((q[j + 16] & 0xf) << 4);
    qh |= ((q[j] >> 4) << j) | ((q[j + 16] >> 4) << (j + 16));
  }
  for (let i = 0; i < 4; i++) out[o + qhAt + i] = (qh >>> (8 * i)) & 0xff;
}
