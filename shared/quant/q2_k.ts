import { checkBytes, checkFinite, checkLength } from './errors';
import { clamp, readU16, writeU16, type QuantFormat } from './format';
import { f16DecodeTable, f16ToF32, f32ToF16 } from './half';
import { fitScaleMin } from './q4_k';

/**
 * Q2_K: super-blocks of 256 values, 84 bytes:
 *   [0..15]   sixteen bytes, one per sub-block of 16 values: low nibble scale, high nibble min
 *   [16..79]  qs: 2-bit quants, four per byte
 *   [80..81]  f16 d     (scale of the scales)
 *   [82..83]  f16 dmin  (scale of the mins)
 * Value i: half n = i/128, j = (i%128)/32, r = i%32; q = (qs[32n + r] >> 2j) & 3 (the Q3_K
 * order); sub-block s = 8n + 2j + (r ≥ 16); value = d·(sc_s)·q − dmin·(m_s).
 */

const QK = 256;
const BYTES = 84;

export const Q2_K: QuantFormat = {
  name: 'Q2_K',
  blockSize: QK,
  bytesPerBlock: BYTES,
  quantize(values) {
    checkLength('Q2_K', values.length, QK, 'value count');
    checkFinite('Q2_K', values);
    const nb = values.length / QK;
    const out = new Uint8Array(nb * BYTES);
    const scales = new Float64Array(16);
    const mins = new Float64Array(16);
    for (let b = 0; b < nb; b++) {
      const x = values.subarray(b * QK, b * QK + QK);
      let maxScale = 0;
      let maxMin = 0;
      for (let s = 0; s < 16; s++) {
        const f = fitScaleMin(x.subarray(16 * s, 16 * s + 16), 3);
        scales[s] = f.scale;
        mins[s] = f.min;
        maxScale = Math.max(maxScale, f.scale);
        maxMin = Math.max(maxMin, f.min);
      }
      const dh = f32ToF16(Math.min(maxScale / 15, 65504));
      const mh = f32ToF16(Math.min(maxMin / 15, 65504));
      const d = f16ToF32(dh);
      const dmin = f16ToF32(mh);
      const o = b * BYTES;
      for (let s = 0; s < 16; s++) {
        const sc = d > 0 ? clamp(Math.round(scales[s] / d), 0, 15) : 0;
        const mn = dmin > 0 ? clamp(Math.round(mins[s] / dmin), 0, 15) : 0;
        out[o + s] = sc | (mn << 4);
      }
      for (let i = 0; i < QK; i++) {
        const n = i >> 7;
        const j = (i >> 5) & 3;
        const r = i & 31;
        const s = 8 * n + 2 * j + (r >> 4);
        const ds = Math.fround(d * (out[o + s] & 0xf));
        const dm = Math.fround(dmin * (out[o + s] >> 4));
        const q = ds > 0 ? clamp(Math.round((x[i] + dm) / ds), 0, 3) : 0;
        out[o + 16 + 32 * n + r] |= q << (2 * j);
      }
      writeU16(out, o + 80, dh);
      writeU16(out, o + 82, mh);
    }
    return out;
  },
  dequantize(bytes, n) {
    checkBytes('Q2_K', bytes, n, QK, BYTES);
    const t = f16DecodeTable();
    const out = new Float32Array(n);
    const dl = new Float64Array(16);
    const ml = new Float64Array(16);
    for (let b = 0; b < n / QK; b++) {
      const o = b * BYTES;
      const d = t[readU16(bytes, o + 80)];
      const dmin = t[readU16(bytes, o + 82)];
      // ggml: dl = d·sc, ml = dmin·m in f32 (exact), then dl·q − ml (one rounding).
      for (let s = 0; s < 16; s++) {
        dl[s] = d * (bytes[o + s] & 0xf);
        ml[s] = dmin * (bytes[o + s] >> 4);
      }
      for (let i = 0; i < QK; i++) {
        const h = i >> 7;
        const j = (i >> 5) & 3;
        const r = i & 31;
        const s = 8 * h + 2 * j + (r >> 4);
        out[b * QK + i] = dl[s] * ((bytes[o + 16 + 32 * h + r] >> (2 * j)) & 3) - ml[s];
      }
    }
    return out;
  },
};
