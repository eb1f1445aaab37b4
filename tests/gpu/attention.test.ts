import { describe, expect, it } from 'vitest';
import { attentionHeadsPerWorkgroup, attentionShader, attentionWg, ContextWindowExceededError, GpuUsageError, type AttnShader } from '../../shared/gpu';
import { attentionRef, kvAppendRef, type AttentionShape } from '../../shared/engine/reference/attention';
import { compareClose, randomF32, rng } from '../support/compare';
import { useKernelSuite } from '../support/gpu';

// Tolerance: each output is a weighted mean of V values in [-1, 1], accumulated in f32 over
// L <= ~300 keys, so its absolute error is bounded by ~L·2^-24 ≈ 2e-5 (typically ~sqrt(L)·2^-24);
// scores (f32 dots over headDim <= 256 of values in [-1, 1]) and exp add ~1e-6 relative.
// atol 2e-5 covers the worst case; rtol 1e-4 the larger outputs.
// The same holds with a softcap: cap·tanh(s/cap) has slope <= 1, so it never enlarges the score's
// error, and safe_tanh (_tanh.wgsl) adds < 1e-6 relative, i.e. < 5e-6 on a score at cap 5.
// The sliding window only drops keys: fewer terms, no new error.
const TOL = { atol: 2e-5, rtol: 1e-4 };

const g = useKernelSuite();

interface Case {
  T: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  pos0: number;
  maxContext?: number;
  /** q, k, v as slices of one fused [T, (heads + 2 kvHeads) * headDim] buffer. */
  fused?: boolean;
  softcap?: number;
  window?: number;
  scale?: number;
  /** q values in [-qRange, qRange] (default 1): larger scores, so a softcap bites. */
  qRange?: number;
  /**
   * Expect the options (softcap, window) to change the result: the reference with them must
   * differ from the reference without by more than the tolerance, so the kernel's match is not
   * a kernel that ignores them.
   */
  changes?: boolean;
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
  // Rows before the first query's window are never read: poison them, so reading them (rather
  // than starting the key loop past them) turns the output into NaN.
  const unread = c.window ? Math.max(0, c.pos0 + 1 - c.window) : 0;
  kCache.fill(NaN, 0, unread * kvw);
  vCache.fill(NaN, 0, unread * kvw);
  let qSrc: Float32Array;
  let kSrc: Float32Array;
  let vSrc: Float32Array;
  let qs = { qStride: qw, qOffset: 0 };
  let ks = { kStride: kvw, kOffset: 0, vStride: kvw, vOffset: 0 };
  const qr = c.qRange ?? 1;
  if (c.fused) {
    const row = qw + 2 * kvw;
    qSrc = kSrc = vSrc = randomF32(c.T * row, r);
    for (let t = 0; t < c.T; t++) for (let i = 0; i < qw; i++) qSrc[t * row + i]! *= qr;
    qs = { qStride: row, qOffset: 0 };
    ks = { kStride: row, kOffset: qw, vStride: row, vOffset: qw + kvw };
  } else {
    qSrc = randomF32(c.T * qw, r, -qr, qr);
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
  const opts = { softcap: c.softcap, window: c.window, scale: c.scale };
  k!.attention(b, { q: qb, cache, out, T: c.T, heads: c.heads, pos0: c.pos0, ...qs, ...opts });
  b.submit();
  const got = await ctx!.readF32(out);
  const gotK = await ctx!.readF32(cache.k);
  const gotV = await ctx!.readF32(cache.v);
  new Set([qb, kb, vb, out, cache.k, cache.v]).forEach((x) => x.destroy());

  kvAppendRef(kSrc, vSrc, kCache, vCache, { T: c.T, width: kvw, dstRow0: c.pos0, ...ks });
  const label = `attention ${JSON.stringify(c)}`;
  const cacheErr = compareClose(gotK, kCache, { atol: 0, rtol: 0 }, `${label} K cache`) ?? compareClose(gotV, vCache, { atol: 0, rtol: 0 }, `${label} V cache`);
  if (cacheErr) return cacheErr;
  const shape: AttentionShape = { T: c.T, heads: c.heads, kvHeads: c.kvHeads, headDim: hd, pos0: c.pos0, ...qs, scale: c.scale };
  const want = attentionRef(qSrc, kCache, vCache, { ...shape, softcap: c.softcap, window: c.window });
  if (c.changes && compareClose(want, attentionRef(qSrc, kCache, vCache, shape), TOL) === null) return `${label}: the options do not change the result`;
  return compareClose(got, want, TOL, label);
}

describe('attentionWg', () => {
  it('sizes the workgroup to the head: the next power of two >= headDim in 16..64, within the device limit', () => {
    const got = [1, 8, 16, 17, 32, 33, 64, 65, 128, 256].map((hd) => attentionWg(hd));
    expect(got).toEqual([16, 16, 16, 32, 32, 64, 64, 64, 64, 64]);
    expect(attentionWg(128, 32)).toBe(32);
    for (let hd = 1; hd <= 256; hd++) expect(4 * attentionWg(hd)).toBeGreaterThanOrEqual(hd); // DPT = 4 dims per invocation
  });
});

/** attention_v4.wgsl (CoreKernels' choice for heads of a multiple of 4 values) against attention.wgsl on the same inputs: bit for bit. */
async function v4SameAsScalar(c: Case, seed: number): Promise<string | null> {
  const { ctx, k } = g;
  const r = rng(seed);
  const hd = c.headDim;
  const maxContext = c.pos0 + c.T + 3;
  const qw = c.heads * hd;
  const kvw = c.kvHeads * hd;
  const cache0 = { k: randomF32(maxContext * kvw, r), v: randomF32(maxContext * kvw, r) };
  const q = randomF32(c.T * qw, r, -4, 4);
  const run = async (shader: AttnShader, headsPerWorkgroup?: number) => {
    const cache = k!.createKvCache(maxContext, c.kvHeads, hd);
    ctx!.write(cache.k, cache0.k);
    ctx!.write(cache.v, cache0.v);
    const qb = ctx!.storage(q, 'q');
    const out = ctx!.storage(c.T * qw * 4, 'out');
    const b = ctx!.batch('attention');
    k!.attention(b, { q: qb, cache, out, T: c.T, heads: c.heads, pos0: c.pos0, softcap: c.softcap, window: c.window, shader, headsPerWorkgroup });
    b.submit();
    const got = await ctx!.readF32(out);
    [qb, out, cache.k, cache.v].forEach((x) => x.destroy());
    return got;
  };
  // One head per workgroup in attention.wgsl against the default grouping (attentionHeadsPerWorkgroup) in both shaders.
  const base = await run('attention', 1);
  for (const [name, got] of [
    [`attention.wgsl at ${attentionHeadsPerWorkgroup(c.heads / c.kvHeads)} heads per workgroup`, await run('attention')],
    [`attention_v4.wgsl at ${attentionHeadsPerWorkgroup(c.heads / c.kvHeads)} heads per workgroup`, await run('attention_v4')],
    ['attention_v4.wgsl at 1 head per workgroup', await run('attention_v4', 1)],
  ] as const) {
    for (let i = 0; i < base.length; i++) if (!Object.is(base[i], got[i])) return `${JSON.stringify(c)}: out[${i}] attention.wgsl at 1 head per workgroup ${base[i]}, ${name} ${got[i]}`;
  }
  return null;
}

describe('attention_v4.wgsl and several heads per workgroup against attention.wgsl one head at a time', () => {
  it('gives the same outputs bit for bit: heads of 4..256 values, one and many keys and queries, chunk edges, GQA 1..8 (and 6: 2 per workgroup), softcap, window', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    expect(attentionShader(128)).toBe('attention_v4');
    expect(attentionShader(66)).toBe('attention');
    expect([1, 2, 3, 4, 6, 8, 12, 16].map(attentionHeadsPerWorkgroup)).toEqual([1, 2, 1, 4, 2, 8, 4, 8]);
    const cases: Case[] = [
      { T: 1, heads: 1, kvHeads: 1, headDim: 4, pos0: 0 },
      { T: 16, heads: 8, kvHeads: 2, headDim: 128, pos0: 0 },
      { T: 3, heads: 4, kvHeads: 4, headDim: 64, pos0: 62 }, // across the 64-key chunk edge
      { T: 1, heads: 2, kvHeads: 1, headDim: 256, pos0: 130 },
      { T: 5, heads: 6, kvHeads: 2, headDim: 80, pos0: 60, softcap: 5 },
      { T: 4, heads: 4, kvHeads: 2, headDim: 8, pos0: 20, window: 7 }, // WG 16
      { T: 2, heads: 2, kvHeads: 2, headDim: 20, pos0: 40 }, // WG 32
      { T: 3, heads: 12, kvHeads: 2, headDim: 64, pos0: 70, window: 40 }, // 6 heads per KV group: 2 per workgroup
      { T: 2, heads: 16, kvHeads: 1, headDim: 32, pos0: 9, softcap: 3 }, // 16 per KV group: 8 per workgroup
    ];
    for (const [i, c] of cases.entries()) expect(await v4SameAsScalar(c, 300 + i)).toBeNull();
  });

  it('refuses a head that is not a multiple of 4 values, and a grouping that does not divide the KV group', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const cache = g.k!.createKvCache(4, 1, 6);
    const buf = g.ctx.storage(1024, 'buf');
    expect(() => g.k!.attention(g.ctx!.batch('refuse'), { q: buf, cache, out: buf, T: 1, heads: 1, pos0: 0, shader: 'attention_v4' })).toThrow(GpuUsageError);
    expect(() => g.k!.attention(g.ctx!.batch('refuse'), { q: buf, cache, out: buf, T: 1, heads: 6, pos0: 0, headsPerWorkgroup: 4 })).toThrow(/divide the KV group's 6 heads/);
    expect(() => g.k!.attention(g.ctx!.batch('refuse'), { q: buf, cache, out: buf, T: 1, heads: 6, pos0: 0, headsPerWorkgroup: 3 })).toThrow(/must be 1, 2, 4 or 8/);
    [buf, cache.k, cache.v].forEach((x) => x.destroy());
  });
});

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
      // small heads take a smaller workgroup (attentionWg: 16 up to headDim 16, 32 up to 32): its chunk edges
      { T: 1, heads: 8, kvHeads: 8, headDim: 8, pos0: 14 }, // 15 keys at WG 16
      { T: 1, heads: 8, kvHeads: 8, headDim: 8, pos0: 15 }, // 16 keys
      { T: 1, heads: 8, kvHeads: 4, headDim: 8, pos0: 16 }, // 17 keys
      { T: 6, heads: 4, kvHeads: 2, headDim: 12, pos0: 13 }, // prefill across the 16-key edge
      { T: 1, heads: 2, kvHeads: 1, headDim: 17, pos0: 32 }, // WG 32: 33 keys
      { T: 3, heads: 4, kvHeads: 4, headDim: 32, pos0: 30, fused: true }, // 31..33 keys
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

  it('sliding window: windows smaller than, equal to and larger than the context, GQA, pos0 > 0', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const cases: Case[] = [
      { T: 1, heads: 2, kvHeads: 1, headDim: 64, pos0: 100, window: 1, changes: true }, // only itself
      { T: 7, heads: 4, kvHeads: 2, headDim: 32, pos0: 0, window: 3, changes: true }, // prefill from empty: early rows see < window keys
      { T: 1, heads: 4, kvHeads: 2, headDim: 64, pos0: 200, window: 64, changes: true }, // exactly one chunk of keys
      { T: 1, heads: 4, kvHeads: 1, headDim: 64, pos0: 200, window: 65, changes: true }, // chunk + 1
      { T: 3, heads: 8, kvHeads: 2, headDim: 48, pos0: 150, window: 63, changes: true }, // GQA 4:1, chunk - 1
      { T: 5, heads: 6, kvHeads: 3, headDim: 80, pos0: 140, window: 130, changes: true }, // window crosses chunks, unaligned start
      { T: 4, heads: 2, kvHeads: 2, headDim: 16, pos0: 10, window: 14 }, // window = context (pos0 + T): no change
      { T: 4, heads: 2, kvHeads: 2, headDim: 16, pos0: 10, window: 15 }, // larger than the context
      { T: 2, heads: 2, kvHeads: 1, headDim: 16, pos0: 3, window: 4096 }, // far larger
      { T: 3, heads: 4, kvHeads: 2, headDim: 16, pos0: 40, window: 5, fused: true, changes: true },
    ];
    for (const [i, c] of cases.entries()) expect(await check(c, 700 + i)).toBeNull();
  });

  it('softcap: small caps that bite, alone and with a window, GQA, pos0 > 0', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const cases: Case[] = [
      { T: 1, heads: 2, kvHeads: 1, headDim: 64, pos0: 70, softcap: 5, qRange: 8, changes: true },
      { T: 1, heads: 1, kvHeads: 1, headDim: 1, pos0: 0, softcap: 5 }, // one key: the output is V either way, so no change
      { T: 6, heads: 4, kvHeads: 2, headDim: 32, pos0: 0, softcap: 1, qRange: 4, changes: true },
      { T: 3, heads: 8, kvHeads: 2, headDim: 128, pos0: 90, softcap: 5, qRange: 8, changes: true },
      { T: 2, heads: 4, kvHeads: 4, headDim: 256, pos0: 30, softcap: 50, scale: 0.5, qRange: 4, changes: true }, // Gemma 2's cap, scores past it
      { T: 4, heads: 3, kvHeads: 1, headDim: 65, pos0: 9, softcap: 0.25, fused: true, changes: true },
      { T: 1, heads: 4, kvHeads: 2, headDim: 64, pos0: 300, softcap: 5, window: 100, qRange: 8, changes: true }, // both
      { T: 5, heads: 6, kvHeads: 2, headDim: 80, pos0: 60, softcap: 2, window: 7, qRange: 4, changes: true },
      { T: 2, heads: 2, kvHeads: 1, headDim: 16, pos0: 5, softcap: 1e-3, window: 4, changes: true }, // tiny cap: near-uniform weights
      { T: 3, heads: 2, kvHeads: 1, headDim: 32, pos0: 10, softcap: 5, scale: 1e4, changes: true }, // huge scores: tanh saturates, stays finite
    ];
    for (const [i, c] of cases.entries()) expect(await check(c, 800 + i)).toBeNull();
  });

  it('matches with softcap and window on random shapes', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const r = rng(78);
    for (let i = 0; i < 10; i++) {
      const kvHeads = 1 + Math.floor(r() * 3);
      const heads = kvHeads * (1 + Math.floor(r() * 4));
      const T = 1 + Math.floor(r() * 6);
      const pos0 = Math.floor(r() * 200);
      const c: Case = {
        T,
        heads,
        kvHeads,
        headDim: 1 + Math.floor(r() * 140),
        pos0,
        fused: r() < 0.3,
        softcap: r() < 0.7 ? 0.5 + r() * 10 : undefined,
        window: r() < 0.7 ? 1 + Math.floor(r() * (pos0 + T + 10)) : undefined,
        qRange: 4,
      };
      expect(await check(c, 1000 + i)).toBeNull();
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
    const runWith = async (steps: number[], opts: { softcap?: number; window?: number } = {}) => {
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
        k!.attention(b, { q: qb, cache, out: ob, T: n, heads, pos0: pos, ...opts });
        b.copy(ob, 0, out, pos * heads * headDim * 4, n * heads * headDim * 4);
        b.submit();
        pos += n;
      }
      return ctx!.readF32(out);
    };
    const prefill = await runWith([T]);
    const decode = await runWith([2, 1, 1, 1, 1]);
    expect(compareClose(decode, prefill, { atol: 1e-6, rtol: 1e-5 }, 'decode vs prefill')).toBeNull();
    const opts = { softcap: 0.5, window: 3 };
    const prefillOpts = await runWith([T], opts);
    const decodeOpts = await runWith([2, 1, 1, 1, 1], opts);
    expect(compareClose(decodeOpts, prefillOpts, { atol: 1e-6, rtol: 1e-5 }, 'decode vs prefill, softcap + window')).toBeNull();
    expect(compareClose(prefillOpts, prefill, { atol: 1e-3, rtol: 0 })).not.toBeNull();
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

  it('refuses a negative or non-finite softcap and a window that is not a u32', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { ctx, k } = g;
    const cache = k!.createKvCache(8, 1, 4);
    const src = ctx!.storage(4 * 4 * 4);
    const b = ctx!.batch();
    const base = { q: src, cache, out: src, T: 1, heads: 1, pos0: 0 };
    for (const softcap of [-1, NaN, Infinity, 1e-50, 1e-40]) expect(() => k!.attention(b, { ...base, softcap }), `softcap=${softcap}`).toThrow(GpuUsageError);
    for (const window of [-1, 2.5, 2 ** 32, NaN]) expect(() => k!.attention(b, { ...base, window }), `window=${window}`).toThrow(GpuUsageError);
    expect(() => k!.attention(b, { ...base, softcap: 0, window: 0 })).not.toThrow();
    expect(() => k!.attention(b, { ...base, softcap: 30, window: 4096 })).not.toThrow();
  });
});
