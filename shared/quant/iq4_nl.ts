import { checkBytes, checkFinite, checkLength } from './errors';
import { clamp, readU16, writeU16, type QuantFormat } from './format';
import { f16DecodeTable, f16ToF32, f32ToF16 } from './half';

/**
 * IQ4_NL: blocks of 32 values, 18 bytes: f16 d, then 16 bytes of 4-bit codes (the Q4_0
 * packing: byte j low nibble = element j, high nibble = element j+16). Value = d · KVALUES[code]:
 * a fixed non-uniform grid (ggml's kvalues_iq4nl), denser near zero.
 */
export const IQ4_KVALUES: readonly number[] = Object.freeze([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]);

/** The code whose grid value is nearest to v (v in grid units). */
export function nearestCode(v: number): number {
  if (v <= IQ4_KVALUES[0]) return 0;
  if (v >= IQ4_KVALUES[15]) return 15;
  // Binary search for the grid interval [lo, lo + 1] holding v.
  let lo = 0;
  let hi = 15;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (IQ4_KVALUES[mid] < v) lo = mid;
    else hi = mid;
  }
  return v - IQ4_KVALUES[lo] <= IQ4_KVALUES[hi] - v ? lo : hi;
}

/**
 * A scale s with x ≈ s · KVALUES[code]: the value of largest magnitude first maps to either
 * end of the grid (−127 or 113, whichever side fits its sign better), then trial scales around
 * that are refitted by least squares; the smallest squared error wins. Round-to-nearest with a
 * small search, not ggml's importance-weighted search.
 */
export function fitIq4Scale(x: Float32Array): number {
  let max = 0;
  for (let i = 0; i < x.length; i++) if (Math.abs(x[i]) > Math.abs(max)) max = x[i];
  if (max === 0) return 0;
  let best = 0;
  let bestErr = Infinity;
  for (const end of [-127, 113]) {
    for (let k = -4; k <= 4; k++) {
      const s0 = max / (end + (end < 0 ? -1 : 1) * 3 * k);
      let sqq = 0;
      let sqx = 0;
      for (let i = 0; i < x.length; i++) {
        const kv = IQ4_KVALUES[nearestCode(x[i] / s0)];
        sqq += kv * kv;
        sqx += kv * x[i];
      }
      const s = sqq > 0 ? sqx / sqq : 0;
      if (s === 0) continue;
      let e = 0;
      for (let i = 0; i < x.length; i++) {
        const r = s * IQ4_KVALUES[nearestCode(x[i] / s)] - x[i];
        e += r * r;
      }
      if (e < bestErr) {
        bestErr = e;
        best = s;
      }
    }
  }
  return best;
}

export const IQ4_NL: QuantFormat = {
  name: 'IQ4_NL',
  blockSize: 32,
  bytesPerBlock: 18,
  quantize(values) {
    checkLength('IQ4_NL', values.length, 32, 'value count');
    checkFinite('IQ4_NL', values);
    const nb = values.length / 32;
    const out = new Uint8Array(nb * 18);
    for (let b = 0; b < nb; b++) {
      const x = values.subarray(b * 32, b * 32 + 32);
      const dh = f32ToF16(clamp(fitIq4Scale(x), -65504, 65504));
      const d = f16ToF32(dh);
      const o = b * 18;
      writeU16(out, o, dh);
      const q = (v: number) => (d !== 0 ? nearestCode(v / d) : 8);
      for (let j = 0; j < 16; j++) out[o + 2 + j] = q(x[j]) | (q(x[j + 16]) << 4);
    }
    return out;
  },
  dequantize(bytes, n) {
    checkBytes('IQ4_NL', bytes, n, 32, 18);
    const t = f16DecodeTable();
    const out = new Float32Array(n);
    for (let b = 0; b < n / 32; b++) {
      const o = b * 18;
      const d = t[readU16(bytes, o)];
      for (let j = 0; j < 16; j++) {
        const q = bytes[o + 2 + j];
        out[b * 32 + j] = d * IQ4_KVALUES[q & 0xf];
        out[b * 32 + j + 16] = d * IQ4_KVALUES[q >> 4];
      }
    }
    return out;
  },
};
