import { checkBytes, checkFinite, checkLength } from './errors';
import { clamp, readU16, roundHalfAway, writeU16, type QuantFormat } from './format';
import { f16DecodeTable, f16ToF32, f32ToF16 } from './half';
import { fitIq4Scale, IQ4_KVALUES, nearestCode } from './iq4_nl';

/**
 * IQ4_XS: super-blocks of 256 values, 136 bytes:
 *   [0..1]    f16 d
 *   [2..3]    u16 scales_h: bits 2j..2j+1 are the high 2 bits of sub-block j's scale
 *   [4..7]    scales_l: byte j/2, nibble j%2 holds the low 4 bits of sub-block j's scale
 *   [8..135]  8 sub-blocks of 32 values, 16 bytes each in the IQ4_NL packing (byte l low
 *             nibble = value l, high nibble = value l+16)
 * Sub-block j: ls = 6-bit scale, dl = d · (ls − 32) in f32; value = dl · KVALUES[code].
 */

const QK = 256;
const BYTES = 136;

export const IQ4_XS: QuantFormat = {
  name: 'IQ4_XS',
  blockSize: QK,
  bytesPerBlock: BYTES,
  quantize(values) {
    checkLength('IQ4_XS', values.length, QK, 'value count');
    checkFinite('IQ4_XS', values);
    const nb = values.length / QK;
    const out = new Uint8Array(nb * BYTES);
    const scales = new Float64Array(8);
    for (let b = 0; b < nb; b++) {
      const x = values.subarray(b * QK, b * QK + QK);
      let maxScale = 0;
      for (let j = 0; j < 8; j++) {
        scales[j] = fitIq4Scale(x.subarray(32 * j, 32 * j + 32));
        if (Math.abs(scales[j]) > Math.abs(maxScale)) maxScale = scales[j];
      }
      // As ggml: the sub-block scale of largest magnitude maps to −32.
      const dh = f32ToF16(clamp(maxScale / -32, -65504, 65504));
      const d = f16ToF32(dh);
      const o = b * BYTES;
      writeU16(out, o, dh);
      let sh = 0;
      for (let j = 0; j < 8; j++) {
        const ls = d !== 0 ? clamp(roundHalfAway(scales[j] / d), -32, 31) + 32 : 32;
        out[o + 4 + (j >> 1)] |= (ls & 0xf) << (4 * (j & 1));
        sh |= (ls >> 4) << (2 * j);
        const dl = Math.fround(d * (ls - 32));
        const q = (v: number) => (dl !== 0 ? nearestCode(v / dl) : 8);
        for (let l = 0; l < 16; l++) out[o + 8 + 16 * j + l] = q(x[32 * j + l]) | (q(x[32 * j + l + 16]) << 4);
      }
      writeU16(out, o + 2, sh);
    }
    return out;
  },
  dequantize(bytes, n) {
    checkBytes('IQ4_XS', bytes, n, QK, BYTES);
    const t = f16DecodeTable();
    const out = new Float32Array(n);
    for (let b = 0; b < n / QK; b++) {
      const o = b * BYTES;
      const d = t[readU16(bytes, o)];
      const sh = readU16(bytes, o + 2);
      for (let j = 0; j < 8; j++) {
        const ls = ((bytes[o + 4 + (j >> 1)] >> (4 * (j & 1))) & 0xf) | (((sh >> (2 * j)) & 3) << 4);
        // d·(ls − 32) and then ·KVALUES are both exact in f32 (at most 11 + 5 + 7 significant bits).
        const dl = d * (ls - 32);
        const y = b * QK + 32 * j;
        const q = o + 8 + 16 * j;
        for (let l = 0; l < 16; l++) {
          out[y + l] = dl * IQ4_KVALUES[bytes[q + l] & 0xf];
          out[y + l + 16] = dl * IQ4_KVALUES[bytes[q + l] >> 4];
        }
      }
    }
    return out;
  },
};
