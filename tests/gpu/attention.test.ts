import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContextWindowExceededError } from '../../shared/gpu';
import { attentionRef, kvAppendRef } from '../../shared/engine/reference/attention';
import { compareClose, randomF32, rng } from '../support/compare';
import { openKernelSuite, type GpuSuite } from '../support/gpu';

// Tolerance: each output is a weighted mean of V values in [-1, 1], accumulated in f32 over
// L <= ~300 keys, so its absolute error is bounded by ~L·2^-24 ≈ 2e-5 (typically ~sqrt(L)·2^-24);
// scores (f32 dots over headDim <= 256 of values in [-1, 1]) and exp add ~1e-6 relative.
// atol 2e-5 covers the worst case; rtol 1e-4 the larger outputs.
const TOL = { atol: 2e-5, rtol: 1e-4 };

let g: GpuSuite = { ctx: null, k: null, reason: 'not opened' };
beforeAll(async () => {
  g = await openKernelSuite();
});
afterAll(() => g.ctx?.destroy());

interface Case {
  T: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  pos0: number;
  maxContext?: number;
  /** q, k, v as slices of one fused [T, (heads + 2 kvHeads) * headDim] buffer. */
  fused?: boolean;
}

/** Fills rows 0..pos0-1 of the caches as earlier steps would have, appends T tokens, attends. */
async function check(c: Case, seed: number) {
  const { ctx, k } = g;
  const r = rng(seed);
  const maxContext = c.maxContext ?? c.pos0 + c.T + 3;
  const hd = c.headDim;
  const qw = c.heads * hd;
  const kvw = c.kvHeads * hd;
  const kCache = new Float32Array(maxContext * kvw);
  const vCache = new Float32Array(maxContext * kvw);
  kCache.set(randomF32(c.pos0 * kvw, r));
  vCache.set(randomF32(c.pos0 * kvw, r));
  let qSrc: Float32Array;
  let kSrc: Float32Array;
  let vSrc: Float32Array;
  let qs = { qStride: qw, qOffset: 0 };
  let ks = { kStride: kvw, kOffset: 0, vStride: kvw, vOffset: 0 };
  if (c.fused) {
    const row = qw + 2 * kvw;
    qSrc = kSrc = vSrc = randomF32(c.T * row, r);
    qs = { qStride: row, qOffset: 0 };
    ks = { kStride: row, kOffset: qw, vStride: row, vOffset: qw + kvw };
  } else {
    qSrc = randomF32(c.T * qw, r);
    kSrc = randomF32(c.T * kvw, r);
    vSrc = randomF32(c.T * kvw, r);
  }

  const cache = k!.createKvCache(maxContext, c.kvHeads, hd);
  ctx!.write(cache.k, kCache);
  ctx!.write(cache.v, vCache);
  const qb = ctx!.storage(qSrc, 'q');
  const kb = c.fused ? qb : ctx!.storage(kSrc, 'k');
  const vb = c.fused ? qb : ctx!.storage(vSrc, 'v');
  const out = ctx!.storage(c.T * qw * 4, 'out');
  const b = ctx!.batch('attention');
  k!.kvAppend(b, { cache, k: kb, v: vb, T: c.T, pos0: c.pos0, ...ks });
  k!.attention(b, { q: qb, cache, out, T: c.T, heads: c.heads, pos0: c.pos0, ...qs });
  b.submit();
  const got = await ctx!.readF32(out);
  const gotK = await ctx!.readF32(cache.k);
  const gotV = await ctx!.readF32(cache.v);
  new Set([qb, kb, vb, out, cache.k, cache.v]).forEach((x) => x.destroy());

  kvAppendRef(kSrc, vSrc, kCache, vCache, { T: c.T, width: kvw, dstRow0: c.pos0, ...ks });
  const label = `attention ${JSON.stringify(c)}`;
  const cacheErr = compareClose(gotK, kCache, { atol: 0, rtol: 0 }, `${label} K cache`) ?? compareClose(gotV, vCache, { atol: 0, rtol: 0 }, `${label} V cache`);
  if (cacheErr) return cacheErr;
  return compareClose(got, attentionRef(qSrc, kCache, vCache, { T: c.T, heads: c.heads, kvHeads: c.kvHeads, headDim: hd, pos0: c.pos0, ...qs }), TOL, label);
}

describe('kv_append + attention kernels vs reference', () => {
  it('matches on edge shapes: one key, chunk size ±1, GQA groups, prefill with causal mask', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const cases: Case[] = [
      { T: 1, heads: 1, kvHeads: 1, headDim: 1, pos0: 0 },
      { T: 1, heads: 1, kvHeads: 1, headDim: 64, pos0: 62 }, // 63 keys
      { T: 1, heads: 2, kvHeads: 1, headDim: 64, pos0: 63 }, // 64 keys
      { T: 1, heads: 4, kvHeads: 2, headDim: 64, pos0: 64 }, // 65 keys
      { T: 7, heads: 4, kvHeads: 4, headDim: 32, pos0: 0 }, // prefill from empty
      { T: 5, heads: 6, kvHeads: 2, headDim: 80, pos0: 60 }, // prefill across a chunk edge
      { T: 1, heads: 2, kvHeads: 1, headDim: 256, pos0: 130 }, // largest headDim
      { T: 2, heads: 3, kvHeads: 1, headDim: 65, pos0: 9 }, // odd headDim
      { T: 3, heads: 4, kvHeads: 2, headDim: 16, pos0: 5, fused: true },
    ];
    for (const [i, c] of cases.entries()) expect(await check(c, 500 + i)).toBeNull();
  });

  it('matches on random shapes', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const r = rng(77);
    for (let i = 0; i < 8; i++) {
      const kvHeads = 1 + Math.floor(r() * 3);
      const heads = kvHeads * (1 + Math.floor(r() * 4));
      const c: Case = {
        T: 1 + Math.floor(r() * 6),
        heads,
        kvHeads,
        headDim: 1 + Math.floor(r() * 140),
        pos0: Math.floor(r() * 200),
        fused: r() < 0.3,
      };
      expect(await check(c, 900 + i)).toBeNull();
    }
  });

  it('gives the same result decoding token by token as in one prefill', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { ctx, k } = g;
    const T = 6;
    const heads = 4;
    const kvHeads = 2;
    const headDim = 16;
    const r = rng(5);
    const q = randomF32(T * heads * headDim, r);
    const kk = randomF32(T * kvHeads * headDim, r);
    const vv = randomF32(T * kvHeads * headDim, r);
    const runWith = async (steps: number[]) => {
      const cache = k!.createKvCache(16, kvHeads, headDim);
      const out = ctx!.storage(T * heads * headDim * 4);
      let pos = 0;
      for (const n of steps) {
        const qb = ctx!.storage(q.subarray(pos * heads * headDim, (pos + n) * heads * headDim));
        const kb = ctx!.storage(kk.subarray(pos * kvHeads * headDim, (pos + n) * kvHeads * headDim));
        const vb = ctx!.storage(vv.subarray(pos * kvHeads * headDim, (pos + n) * kvHeads * headDim));
        const ob = ctx!.storage(n * heads * headDim * 4);
        const b = ctx!.batch();
        k!.kvAppend(b, { cache, k: kb, v: vb, T: n, pos0: pos });
        k!.attention(b, { q: qb, cache, out: ob, T: n, heads, pos0: pos });
        b.copy(ob, 0, out, pos * heads * headDim * 4, n * heads * headDim * 4);
        b.submit();
        pos += n;
      }
      return ctx!.readF32(out);
    };
    const prefill = await runWith([T]);
    const decode = await runWith([2, 1, 1, 1, 1]);
    expect(compareClose(decode, prefill, { atol: 1e-6, rtol: 1e-5 }, 'decode vs prefill')).toBeNull();
  });

  it('refuses to write past the context window', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { ctx, k } = g;
    const cache = k!.createKvCache(8, 1, 4);
    const src = ctx!.storage(4 * 4 * 4);
    const b = ctx!.batch();
    expect(() => k!.kvAppend(b, { cache, k: src, v: src, T: 4, pos0: 5 })).toThrow(ContextWindowExceededError);
    expect(() => k!.attention(b, { q: src, cache, out: src, T: 4, heads: 1, pos0: 5 })).toThrow(ContextWindowExceededError);
    expect(() => k!.kvAppend(b, { cache, k: src, v: src, T: 3, pos0: 5 })).not.toThrow();
  });
});
