/**
 * Q4_K's dequantizeInto (the pyramid's decode: a 16-entry table per sub-block, no allocation)
 * against ggml's formula written out value by value, on random blocks — scales of every f16
 * bit pattern included, NaN and infinities too — compared with Object.is (bit for bit, -0 and
 * NaN included).
 */
import { describe, expect, it } from 'vitest';
import { getQuantFormat, QuantError } from '../../shared/quant';
import { f16ToF32 } from '../../shared/quant/half';
import { getScaleMinK4 } from '../../shared/quant/q4_k';
import { rng } from './map-helpers';

function ggmlQ4K(bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let b = 0; b < n / 256; b++) {
    const o = b * 144;
    const d = f16ToF32(bytes[o]! | (bytes[o + 1]! << 8));
    const dmin = f16ToF32(bytes[o + 2]! | (bytes[o + 3]! << 8));
    for (let j = 0; j < 8; j++) {
      const [sc, m] = getScaleMinK4(j, bytes, o + 4);
      const d1 = Math.fround(d * sc);
      const m1 = Math.fround(dmin * m);
      for (let l = 0; l < 32; l++) {
        const byte = bytes[o + 16 + 32 * (j >> 1) + l]!;
        const q = j % 2 === 0 ? byte & 0xf : byte >> 4;
        out[256 * b + 32 * j + l] = Math.fround(d1 * q) - m1;
      }
    }
  }
  return out;
}

describe('Q4_K dequantizeInto', () => {
  it('decodes random blocks exactly as ggml, into a caller buffer', () => {
    const fmt = getQuantFormat('Q4_K');
    const r = rng(5);
    const blocks = 3000;
    const bytes = new Uint8Array(blocks * 144);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
    const want = ggmlQ4K(bytes, blocks * 256);
    const out = new Float32Array(blocks * 256 + 7).fill(123);
    fmt.dequantizeInto!(bytes, blocks * 256, out);
    let diff = -1;
    for (let i = 0; i < want.length && diff < 0; i++) if (!Object.is(out[i], want[i])) diff = i;
    expect(diff).toBe(-1);
    expect(want.some((x) => Number.isNaN(x))).toBe(true); // the random scales reached NaN
    expect(out[blocks * 256]).toBe(123); // nothing written past n
    expect(fmt.dequantize(bytes, blocks * 256)).toEqual(want);
  });

  it('refuses an output buffer shorter than n', () => {
    const fmt = getQuantFormat('Q4_K');
    const err = (() => {
      try {
        fmt.dequantizeInto!(new Uint8Array(144), 256, new Float32Array(255));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(QuantError);
    expect((err as QuantError).code).toBe('QUANT_LENGTH');
  });
});
