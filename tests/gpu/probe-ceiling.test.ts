import { describe, expect, it } from 'vitest';
import { encodeIdotRate, encodeNoop, encodeProductRows, encodeProductStrided, encodeReadRows, encodeReadStrided, PRODUCT_PROBE } from '../../shared/engine/probe-ceiling';
import { dot4I8PackedRef, idotRateRef, productRowsRef, productStridedRef, readRowsRef, readStridedRef } from '../../shared/engine/reference/probe-ceiling';
import { rng } from '../support/compare';
import { useKernelSuite } from '../support/gpu';

// The ceiling probes' speed is only believed if they read every byte they claim to: their wrapping
// u32 sums must equal the reference exactly (integers: tolerance 0), over ragged shapes and
// workgroup sizes, including counts past one dispatch dimension's 65535 workgroups.
const g = useKernelSuite();

function randomWords(n: number, seed: number): Uint32Array {
  const r = rng(seed);
  return Uint32Array.from({ length: n }, () => Math.floor(r() * 2 ** 32) >>> 0);
}

describe('adapter-ceiling probes vs reference', () => {
  it('read_rows sums each row of words', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const ctx = g.ctx;
    for (const [rows, wordsPerRow, wg] of [
      [1, 1, 64],
      [63, 5, 64],
      [65, 17, 64],
      [300, 64, 128],
      [1000, 3, 256],
      [70000, 1, 1],
    ] as const) {
      const words = randomWords(rows * wordsPerRow, rows + wordsPerRow);
      const wb = ctx.storage(words);
      const out = ctx.storage(rows * 4);
      const b = ctx.batch();
      await encodeReadRows(ctx, b, { words: wb, rows, wordsPerRow, out, wg });
      b.submit();
      const got = new Uint32Array(await ctx.read(out));
      expect(got, `rows ${rows} × ${wordsPerRow} words, WG ${wg}`).toEqual(readRowsRef(words, rows, wordsPerRow));
      wb.destroy();
      out.destroy();
    }
  });

  it('read_strided sums every 16-byte word once across its invocations', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const ctx = g.ctx;
    for (const [vec4s, invocations, wg] of [
      [1, 1, 64],
      [10, 64, 64],
      [1000, 64, 64],
      [1023, 100, 32],
      [4096, 1024, 256],
      [5000, 4999, 64],
    ] as const) {
      const words = randomWords(vec4s * 4, vec4s * 7 + invocations);
      const wb = ctx.storage(words);
      const out = ctx.storage(invocations * 4);
      const b = ctx.batch();
      await encodeReadStrided(ctx, b, { words: wb, vec4s, invocations, out, wg });
      b.submit();
      const got = new Uint32Array(await ctx.read(out));
      const want = readStridedRef(words, vec4s, invocations);
      expect(got, `${vec4s} quads over ${invocations} invocations, WG ${wg}`).toEqual(want);
      // Every word counted exactly once: the partial sums add up to the sum of all words.
      const total = (a: Uint32Array): number => a.reduce((s, w) => (s + w) >>> 0, 0);
      expect(total(got)).toBe(total(words));
      wb.destroy();
      out.destroy();
    }
  });

  it('noop writes its one word', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const ctx = g.ctx;
    const out = ctx.storage(4);
    const b = ctx.batch();
    await encodeNoop(ctx, b, { out, value: 0xdeadbeef });
    b.submit();
    expect(new Uint32Array(await ctx.read(out))[0]).toBe(0xdeadbeef);
    out.destroy();
  });

  it('product_strided reads every 16-byte word once and does its k packed products on each', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const ctx = g.ctx;
    // At most the products a weight product needs per 16 bytes: Q4_K 64 per 144 bytes, Q8_0 8 per 34.
    expect(PRODUCT_PROBE.Q4_K!.k).toBeLessThanOrEqual((64 * 16) / 144);
    expect(PRODUCT_PROBE.Q8_0!.k).toBeLessThanOrEqual((8 * 16) / 34);
    for (const [vec4s, invocations, wg, k, nibbles] of [
      [1, 1, 64, 7, true],
      [1000, 64, 64, 7, true],
      [1023, 100, 32, 3, false],
      [4096, 1024, 256, 8, true],
      [300, 7, 1, 4, false],
      [5000, 130, 64, 1, true],
    ] as const) {
      const words = randomWords(4 * vec4s, vec4s * 7 + k);
      const wb = ctx.storage(words);
      const out = ctx.storage(invocations * 4);
      const b = ctx.batch();
      await encodeProductStrided(ctx, b, { words: wb, vec4s, invocations, out, k, nibbles, wg });
      b.submit();
      const got = new Uint32Array(await ctx.read(out));
      expect(got, `${vec4s} vec4s over ${invocations} invocations, WG ${wg}, k ${k}${nibbles ? ' nibbles' : ''}`).toEqual(productStridedRef(words, vec4s, invocations, k, nibbles));
      wb.destroy();
      out.destroy();
    }
  });

  it('product_rows and product_rows_out read every row once and do its k packed products on each word, as a loop or written out', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const ctx = g.ctx;
    for (const [rows, vec4sPerRow, k, nibbles, writtenOut] of [
      [1, 17, 3, false, 17],
      [70, 34, 3, false, 17],
      [65, 18, 7, true, 9],
      [9, 12, 8, true, 4],
      [3, 5, 1, false, 1],
    ] as const) {
      const words = randomWords(4 * rows * vec4sPerRow, rows * 13 + k);
      const want = productRowsRef(words, rows, vec4sPerRow, k, nibbles);
      for (const n of [undefined, writtenOut]) {
        const wb = ctx.storage(words);
        const out = ctx.storage(rows * 4);
        const b = ctx.batch();
        await encodeProductRows(ctx, b, { words: wb, rows, vec4sPerRow, out, k, nibbles, writtenOut: n });
        b.submit();
        const got = new Uint32Array(await ctx.read(out));
        expect(got, `${rows} rows of ${vec4sPerRow} vec4s, k ${k}${nibbles ? ' nibbles' : ''}, ${n ? `written out ${n}` : 'loop'}`).toEqual(want);
        wb.destroy();
        out.destroy();
      }
    }
    await expect(encodeProductRows(ctx, ctx.batch(), { words: ctx.storage(64), rows: 1, vec4sPerRow: 4, out: ctx.storage(4), k: 3, nibbles: false, writtenOut: 3 })).rejects.toThrow(/dividing the row's 4/);
  });

  it('idot_rate (dot4I8Packed and the plain-i32 products) computes every product it claims to', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const ctx = g.ctx;
    // The reference's dot4I8Packed on the extremes of a signed byte.
    expect(dot4I8PackedRef(0x80808080, 0x80808080)).toBe(4 * 128 * 128);
    expect(dot4I8PackedRef(0x7f7f7f7f, 0x80808080)).toBe(-4 * 127 * 128);
    expect(dot4I8PackedRef(0x000000ff, 0x00000002)).toBe(-2);
    // Exact integers (tolerance 0), ragged invocation counts and workgroup sizes, iteration counts
    // long enough for the i32 accumulators to wrap.
    for (const packed of [true, false]) {
      for (const [invocations, iterations, wg] of [
        [1, 1, 64],
        [63, 7, 64],
        [130, 33, 32],
        [1000, 300, 256],
        [7, 5000, 1],
      ] as const) {
        const seeds = randomWords(8 * invocations, invocations * 31 + iterations);
        const sb = ctx.storage(seeds);
        const out = ctx.storage(invocations * 4);
        const b = ctx.batch();
        await encodeIdotRate(ctx, b, { seeds: sb, invocations, iterations, out, packed, wg });
        b.submit();
        const got = new Uint32Array(await ctx.read(out));
        expect(got, `${packed ? 'dot4' : 'int'}: ${invocations} invocations × ${iterations} iterations, WG ${wg}`).toEqual(idotRateRef(seeds, invocations, iterations));
        sb.destroy();
        out.destroy();
      }
    }
  });
});
