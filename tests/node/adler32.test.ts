/**
 * Adler-32, both routes (electron/pixelfs/tile-bytes.ts): the WebAssembly SIMD one
 * (adler32.wat via adler32Simd) and the JavaScript one, against zlib's own Adler-32 (the
 * last four bytes of a zlib stream, big-endian) over lengths around every boundary either route
 * has (32-byte blocks, 5536-byte chunks, 256 KiB pieces), the largest bytes (0xff, the sums'
 * worst case), unaligned starts, sub-ranges, continued states, and shared memory.
 */
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ADLER32_WASM } from '../../electron/pixelfs/adler32-wasm';
import { adler32, adler32Js, adler32Simd } from '../../electron/pixelfs/tile-bytes';
import { generatedModule, WASM_SOURCES } from '../../scripts/wasm/build-wasm';

/** zlib's Adler-32 of data: the trailer of a zlib stream. */
function zlibAdler(data: Uint8Array): number {
  const z = zlib.deflateSync(data, { level: 0 });
  return z.readUInt32BE(z.length - 4);
}

const LENGTHS = [0, 1, 2, 15, 31, 32, 33, 63, 64, 100, 1023, 1024, 1025, 5535, 5536, 5537, 5536 * 2 + 31, 65535, 262143, 262144, 262145, 262144 * 2 + 7, 1_000_003];

describe('Adler-32', () => {
  it('the SIMD route runs here (Node has WebAssembly SIMD)', () => {
    expect(adler32Simd(1, new Uint8Array(64), 0, 64)).not.toBeNull();
  });

  for (const fill of ['random', '0xff', 'zeros'] as const) {
    it(`matches zlib over lengths around every boundary (${fill} bytes)`, () => {
      for (const n of LENGTHS) {
        const data = fill === 'random' ? randomBytes(n) : Buffer.alloc(n, fill === '0xff' ? 0xff : 0);
        const want = zlibAdler(data);
        expect(adler32Js(1, data), `js, ${n} bytes`).toBe(want);
        expect(adler32Simd(1, data, 0, n), `simd, ${n} bytes`).toBe(want);
        expect(adler32(1, data), `adler32, ${n} bytes`).toBe(want);
      }
    });
  }

  it('continues a stream: any split gives the whole checksum, from any offset and in shared memory', () => {
    const whole = randomBytes(700_001);
    const shared = new Uint8Array(new SharedArrayBuffer(whole.length + 13), 13, whole.length);
    shared.set(whole);
    const want = zlibAdler(whole);
    for (const cut of [0, 1, 17, 5536, 262_145, 400_000, whole.length]) {
      for (const data of [whole, shared]) {
        const first = adler32Simd(1, data, 0, cut)!;
        expect(adler32Simd(first, data, cut, data.length), `cut at ${cut}`).toBe(want);
        expect(adler32(adler32(1, data, 0, cut), data, cut, data.length), `cut at ${cut}`).toBe(want);
        expect(adler32Js(adler32Js(1, data, 0, cut), data, cut, data.length), `cut at ${cut}`).toBe(want);
      }
    }
  });

  it('gives the same as the JavaScript route from states near the modulus', () => {
    const data = Buffer.alloc(300_000, 0xff);
    for (const state of [1, 0, 0xfff0fff0, (65520 << 16) | 65520, 0x12345678 % 65521]) {
      expect(adler32Simd(state, data, 5, data.length - 3)).toBe(adler32Js(state, data, 5, data.length - 3));
    }
  });

  it('is the module its .wat source compiles to (scripts/wasm/build-wasm.ts)', async () => {
    const text = await generatedModule(WASM_SOURCES.find((s) => s.name === 'ADLER32_WASM')!);
    const b64 = [...text.matchAll(/'([A-Za-z0-9+/=]+)'/g)].map((m) => m[1]).join('');
    expect(b64).toBe(ADLER32_WASM);
  });
});
