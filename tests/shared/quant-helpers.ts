import { f32ToBf16, f32ToF16 } from '../../shared/quant';
import { createRng as rng } from '../../shared/engine/sampling';
// The project's one seeded PRNG (mulberry32) drives reproducible test data too.
export { rng };

/** n values uniform in [-scale, scale). */
export function uniform(n: number, seed: number, scale = 1): Float32Array<ArrayBuffer> {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * r() - 1) * scale;
  return out;
}

/** n values roughly normal (sum of 4 uniforms), with a few 8x outliers as real weights have. */
export function weightLike(n: number, seed: number): Float32Array<ArrayBuffer> {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const g = (r() + r() + r() + r() - 2) * 0.87;
    out[i] = r() < 0.005 ? g * 8 : g;
  }
  return out;
}

/**
 * nBlocks random but valid ggml blocks of a type: every quant byte random (all nibble, high-bit
 * and scale patterns occur), the f16 super-scales random in a range that keeps values O(1).
 * Decoded by shared/quant, these exercise a kernel's unpacking far better than quantised data.
 */
export function randomBlocks(type: string, nBlocks: number, seed: number): Uint8Array<ArrayBuffer> {
  const r = rng(seed);
  const byte = () => Math.floor(r() * 256);
  const f16Bits = (lo: number, hi: number, signed: boolean) => {
    const v = lo * (hi / lo) ** r(); // log-uniform in [lo, hi]
    return f32ToF16(signed && r() < 0.5 ? -v : v);
  };
  const put16 = (b: Uint8Array, o: number, h: number) => {
    b[o] = h & 0xff;
    b[o + 1] = h >> 8;
  };
  switch (type) {
    case 'F32':
      return new Uint8Array(uniform(nBlocks, seed).buffer);
    case 'F16': {
      const b = new Uint8Array(2 * nBlocks);
      const x = uniform(nBlocks, seed);
      for (let i = 0; i < nBlocks; i++) put16(b, 2 * i, f32ToF16(x[i]));
      return b;
    }
    case 'BF16': {
      const b = new Uint8Array(2 * nBlocks);
      const x = uniform(nBlocks, seed);
      for (let i = 0; i < nBlocks; i++) put16(b, 2 * i, f32ToBf16(x[i]));
      return b;
    }
    case 'Q8_0': {
      const b = new Uint8Array(34 * nBlocks).map(byte);
      for (let i = 0; i < nBlocks; i++) put16(b, 34 * i, f16Bits(1 / 256, 1 / 64, true));
      return b;
    }
    case 'Q4_0': {
      const b = new Uint8Array(18 * nBlocks).map(byte);
      for (let i = 0; i < nBlocks; i++) put16(b, 18 * i, f16Bits(1 / 64, 1 / 8, true));
      return b;
    }
    case 'Q4_1': {
      // m of either sign and up to ~16·d: values d·q + m span both signs or one, as real blocks do.
      const b = new Uint8Array(20 * nBlocks).map(byte);
      for (let i = 0; i < nBlocks; i++) {
        put16(b, 20 * i, f16Bits(1 / 64, 1 / 8, false));
        put16(b, 20 * i + 2, f16Bits(1 / 16, 1, true));
      }
      return b;
    }
    case 'Q5_0': {
      const b = new Uint8Array(22 * nBlocks).map(byte);
      for (let i = 0; i < nBlocks; i++) put16(b, 22 * i, f16Bits(1 / 128, 1 / 16, true));
      return b;
    }
    case 'Q5_1': {
      const b = new Uint8Array(24 * nBlocks).map(byte);
      for (let i = 0; i < nBlocks; i++) {
        put16(b, 24 * i, f16Bits(1 / 128, 1 / 16, false));
        put16(b, 24 * i + 2, f16Bits(1 / 16, 1, true));
      }
      return b;
    }
    case 'IQ4_NL': {
      const b = new Uint8Array(18 * nBlocks).map(byte);
      for (let i = 0; i < nBlocks; i++) put16(b, 18 * i, f16Bits(1 / 1024, 1 / 128, true));
      return b;
    }
    case 'Q2_K': {
      const b = new Uint8Array(84 * nBlocks).map(byte);
      for (let i = 0; i < nBlocks; i++) {
        put16(b, 84 * i + 80, f16Bits(1 / 64, 1 / 16, false));
        put16(b, 84 * i + 82, f16Bits(1 / 64, 1 / 16, false));
      }
      return b;
    }
    case 'Q3_K': {
      const b = new Uint8Array(110 * nBlocks).map(byte);
      for (let i = 0; i < nBlocks; i++) put16(b, 110 * i + 108, f16Bits(1 / 256, 1 / 64, true));
      return b;
    }
    case 'Q5_K': {
      const b = new Uint8Array(176 * nBlocks).map(byte);
      for (let i = 0; i < nBlocks; i++) {
        put16(b, 176 * i, f16Bits(1 / 2048, 1 / 512, false));
        put16(b, 176 * i + 2, f16Bits(1 / 2048, 1 / 512, false));
      }
      return b;
    }
    case 'IQ4_XS': {
      const b = new Uint8Array(136 * nBlocks).map(byte);
      for (let i = 0; i < nBlocks; i++) put16(b, 136 * i, f16Bits(1 / 4096, 1 / 1024, true));
      return b;
    }
    case 'Q4_K': {
      const b = new Uint8Array(144 * nBlocks).map(byte);
      for (let i = 0; i < nBlocks; i++) {
        put16(b, 144 * i, f16Bits(1 / 1024, 1 / 256, false));
        put16(b, 144 * i + 2, f16Bits(1 / 1024, 1 / 256, false));
      }
      return b;
    }
    case 'Q6_K': {
      const b = new Uint8Array(210 * nBlocks).map(byte);
      for (let i = 0; i < nBlocks; i++) put16(b, 210 * i + 208, f16Bits(1 / 2048, 1 / 512, true));
      return b;
    }
    default:
      throw new Error(`randomBlocks: no generator for ${type}`);
  }
}
