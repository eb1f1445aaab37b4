import { describe, expect, it } from 'vitest';
import { ContextWindowExceededError, GpuUsageError, type AttnShader } from '../../shared/gpu';
import { addRmsnormRef, attentionRopeRef, ropeKvAppendRef, type AttentionRopeShape, type RopeKvAppendShape } from '../../shared/engine/reference/fused';
import { ropeInvFreq } from '../../shared/engine/reference/rope';
import { compareClose, randomF32, rng } from '../support/compare';
import { useKernelSuite } from '../support/gpu';

// The fused kernels (add_rmsnorm, rope_kv_append) are checked two ways over many shapes:
// - against the references of the kernels they replace, with those kernels' own tolerances
//   (rmsnorm: f32 sum of squares vs f64, rope: the range reduction and f32 cos/sin);
// - against the unfused kernels on the same GPU, bit for bit: they compute the same f32
//   expressions in the same order, which is what lets the engine swap them without changing a
//   single logit (tests/gpu/engine-model.test.ts checks that on whole models).
const RMS_TOL = { atol: 1e-5, rtol: 1e-5 };
const ROPE_TOL = { atol: 4e-6, rtol: 1e-5 };
// attention_rope's output: attention's tolerance (tests/gpu/attention.test.ts: f32 sums over
// <= ~300 keys, 2e-5 absolute) plus rope's on q (4e-6 on each input of a score).
const ATTN_ROPE_TOL = { atol: 3e-5, rtol: 1e-4 };

const g = useKernelSuite();

function firstDifference(a: Float32Array, b: Float32Array, label: string): string | null {
  if (a.length !== b.length) return `${label}: lengths ${a.length} and ${b.length}`;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `${label}: element ${i}: fused ${a[i]}, unfused ${b[i]}`;
  return null;
}

async function addRmsnormCase(rows: number, n: number, seed: number): Promise<string | null> {
  const ctx = g.ctx!;
  const k = g.k!;
  const r = rng(seed);
  const x = randomF32(rows * n, r);
  const d = randomF32(rows * n, r);
  const w = randomF32(n, r);
  const eps = 1e-5;
  const label = `add_rmsnorm rows=${rows} n=${n}`;
  const bufs = { x: ctx.storage(x, 'x'), d: ctx.storage(d, 'd'), w: ctx.storage(w, 'w'), y: ctx.storage(rows * n * 4, 'y') };
  const b = ctx.batch('fused');
  k.addRmsnorm(b, { ...bufs, rows, n, eps });
  b.submit();
  const gotX = await ctx.readF32(bufs.x, rows * n);
  const gotY = await ctx.readF32(bufs.y, rows * n);
  // The unfused pair on fresh copies.
  const ux = ctx.storage(x, 'ux');
  const uy = ctx.storage(rows * n * 4, 'uy');
  const u = ctx.batch('unfused');
  k.addInPlace(u, { x: ux, b: bufs.d, n: rows * n });
  k.rmsnorm(u, { x: ux, w: bufs.w, y: uy, rows, n, eps });
  u.submit();
  const wantX = await ctx.readF32(ux, rows * n);
  const wantY = await ctx.readF32(uy, rows * n);
  for (const buf of [...Object.values(bufs), ux, uy]) buf.destroy();
  const ref = addRmsnormRef(x, d, w, rows, n, eps);
  return (
    compareClose(gotX, ref.x, { atol: 0, rtol: 0 }, `${label} x`) ??
    compareClose(gotY, ref.y, RMS_TOL, `${label} y`) ??
    firstDifference(gotX, wantX, `${label} x`) ??
    firstDifference(gotY, wantY, `${label} y`)
  );
}

interface RopeCase extends RopeKvAppendShape {
  maxContext: number;
  /** q, k and v in one fused [T, q | k | v] buffer for k and v (q must stay separate). */
  kvShared?: boolean;
}

async function ropeKvAppendCase(s: RopeCase, seed: number): Promise<string | null> {
  const ctx = g.ctx!;
  const k = g.k!;
  const r = rng(seed);
  const width = s.kvHeads * s.headDim;
  const qLen = (s.qOffset ?? 0) + s.T * (s.qStride ?? s.qHeads * s.headDim);
  const kLen = (s.kOffset ?? 0) + s.T * (s.kStride ?? width);
  const vLen = (s.vOffset ?? 0) + s.T * (s.vStride ?? width);
  const q = randomF32(qLen, r);
  const kv = randomF32(Math.max(kLen, vLen), r);
  const kSrc = kv;
  const vSrc = s.kvShared ? kv : randomF32(vLen, r);
  const cacheLen = s.maxContext * width;
  const kCache0 = randomF32(cacheLen, r);
  const vCache0 = randomF32(cacheLen, r);
  const f = ropeInvFreq(s.ropeDims ?? s.headDim, 10000);
  const label = `rope_kv_append ${JSON.stringify(s)}`;

  const fb = ctx.storage(f, 'invFreq');
  const kb = ctx.storage(kSrc, 'k');
  const vb = s.kvShared ? kb : ctx.storage(vSrc, 'v');
  const run = async (fused: boolean) => {
    const qb = ctx.storage(q, 'q');
    const cache = { k: ctx.storage(kCache0, 'kc'), v: ctx.storage(vCache0, 'vc'), maxContext: s.maxContext, kvHeads: s.kvHeads, headDim: s.headDim };
    const b = ctx.batch('case');
    if (fused) {
      k.ropeKvAppend(b, { q: qb, k: kb, v: vb, cache, invFreq: fb, ...s });
    } else {
      // The unfused sequence rotates k in place: give it a copy.
      const kCopy = ctx.storage(kSrc, 'kcopy');
      const rope = { invFreq: fb, T: s.T, headDim: s.headDim, pos0: s.pos0, neox: s.neox, ropeDims: s.ropeDims };
      k.rope(b, { x: qb, heads: s.qHeads, stride: s.qStride, offset: s.qOffset, ...rope });
      k.rope(b, { x: kCopy, heads: s.kvHeads, stride: s.kStride ?? width, offset: s.kOffset, ...rope });
      k.kvAppend(b, { cache, k: kCopy, v: vb, T: s.T, pos0: s.pos0, kStride: s.kStride, kOffset: s.kOffset, vStride: s.vStride, vOffset: s.vOffset });
    }
    b.submit();
    const out = { q: await ctx.readF32(qb, qLen), kc: await ctx.readF32(cache.k, cacheLen), vc: await ctx.readF32(cache.v, cacheLen) };
    qb.destroy();
    cache.k.destroy();
    cache.v.destroy();
    return out;
  };
  const fused = await run(true);
  const unfused = await run(false);
  const kSrcAfter = await ctx.readF32(kb, kSrc.length);
  for (const buf of new Set([fb, kb, vb])) buf.destroy();

  const kCache = Float32Array.from(kCache0);
  const vCache = Float32Array.from(vCache0);
  const qRef = ropeKvAppendRef(q, kSrc, vSrc, f, kCache, vCache, s);
  return (
    compareClose(fused.q, qRef, ROPE_TOL, `${label} q`) ??
    compareClose(fused.kc, kCache, ROPE_TOL, `${label} kCache`) ??
    compareClose(fused.vc, vCache, { atol: 0, rtol: 0 }, `${label} vCache`) ??
    firstDifference(fused.q, unfused.q, `${label} q`) ??
    firstDifference(fused.kc, unfused.kc, `${label} kCache`) ??
    firstDifference(fused.vc, unfused.vc, `${label} vCache`) ??
    firstDifference(kSrcAfter, kSrc, `${label} k left as it was`)
  );
}

describe('add_rmsnorm kernel vs add_inplace + rmsnorm', () => {
  it('matches the reference and the unfused kernels bit for bit over many shapes', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const shapes: [number, number][] = [[1, 1], [1, 7], [1, 64], [3, 63], [2, 65], [5, 128], [1, 288], [4, 1000], [7, 2048], [1, 4096]];
    for (const [i, [rows, n]] of shapes.entries()) expect(await addRmsnormCase(rows, n, 100 + i)).toBeNull();
  });

  it('refuses aliased buffers by name', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const a = g.ctx.storage(64, 'a');
    const w = g.ctx.storage(64, 'w');
    const b = g.ctx.batch('alias');
    expect(() => g.k!.addRmsnorm(b, { x: a, d: a, w, y: w, rows: 1, n: 16, eps: 1e-5 })).toThrow(GpuUsageError);
    a.destroy();
    w.destroy();
  });
});

/** q, k and v in one [T, q | k | v] buffer (a stacked or fused QKV product): the packed entry point. */
async function packedCase(s: { T: number; qHeads: number; kvHeads: number; headDim: number; pos0: number; neox: boolean; ropeDims?: number; maxContext: number }, seed: number): Promise<string | null> {
  const ctx = g.ctx!;
  const k = g.k!;
  const r = rng(seed);
  const qDim = s.qHeads * s.headDim;
  const width = s.kvHeads * s.headDim;
  const w = qDim + 2 * width;
  const shape = { ...s, qStride: w, qOffset: 0, kStride: w, kOffset: qDim, vStride: w, vOffset: qDim + width };
  const qkv = randomF32(s.T * w, r);
  const cacheLen = s.maxContext * width;
  const kCache0 = randomF32(cacheLen, r);
  const vCache0 = randomF32(cacheLen, r);
  const f = ropeInvFreq(s.ropeDims ?? s.headDim, 10000);
  const label = `rope_kv_append packed ${JSON.stringify(s)}`;
  const fb = ctx.storage(f, 'invFreq');
  const run = async (fused: boolean) => {
    const buf = ctx.storage(qkv, 'qkv');
    const cache = { k: ctx.storage(kCache0, 'kc'), v: ctx.storage(vCache0, 'vc'), maxContext: s.maxContext, kvHeads: s.kvHeads, headDim: s.headDim };
    const b = ctx.batch('packed');
    if (fused) k.ropeKvAppend(b, { q: buf, k: buf, v: buf, cache, invFreq: fb, ...shape });
    else {
      const rope = { x: buf, invFreq: fb, T: s.T, headDim: s.headDim, pos0: s.pos0, neox: s.neox, ropeDims: s.ropeDims, stride: w };
      k.rope(b, { ...rope, heads: s.qHeads, offset: 0 });
      k.rope(b, { ...rope, heads: s.kvHeads, offset: qDim });
      k.kvAppend(b, { cache, k: buf, v: buf, T: s.T, pos0: s.pos0, kStride: w, kOffset: qDim, vStride: w, vOffset: qDim + width });
    }
    b.submit();
    const out = { qkv: await ctx.readF32(buf, qkv.length), kc: await ctx.readF32(cache.k, cacheLen), vc: await ctx.readF32(cache.v, cacheLen) };
    for (const x of [buf, cache.k, cache.v]) x.destroy();
    return out;
  };
  const fused = await run(true);
  const unfused = await run(false);
  fb.destroy();
  const kCache = Float32Array.from(kCache0);
  const vCache = Float32Array.from(vCache0);
  const qRef = ropeKvAppendRef(qkv, qkv, qkv, f, kCache, vCache, shape);
  // Only q's columns of each row are compared as q: the unfused sequence also rotates k in place.
  const qCols = (x: Float32Array) => Float32Array.from({ length: s.T * qDim }, (_, i) => x[Math.floor(i / qDim) * w + (i % qDim)]!);
  return (
    compareClose(qCols(fused.qkv), qCols(qRef), ROPE_TOL, `${label} q`) ??
    compareClose(fused.kc, kCache, ROPE_TOL, `${label} kCache`) ??
    compareClose(fused.vc, vCache, { atol: 0, rtol: 0 }, `${label} vCache`) ??
    firstDifference(qCols(fused.qkv), qCols(unfused.qkv), `${label} q`) ??
    firstDifference(fused.kc, unfused.kc, `${label} kCache`) ??
    firstDifference(fused.vc, unfused.vc, `${label} vCache`)
  );
}

describe('rope_kv_append kernel vs rope, rope, kv_append', () => {
  it('packed [T, q | k | v]: matches the reference and the unfused kernels bit for bit', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    let seed = 900;
    for (const neox of [false, true]) {
      for (const c of [
        { T: 1, qHeads: 1, kvHeads: 1, headDim: 2, pos0: 0, maxContext: 2 },
        { T: 4, qHeads: 8, kvHeads: 2, headDim: 16, pos0: 3, maxContext: 8 },
        { T: 3, qHeads: 4, kvHeads: 4, headDim: 64, pos0: 100, maxContext: 110 },
        { T: 2, qHeads: 6, kvHeads: 3, headDim: 96, ropeDims: 32, pos0: 5, maxContext: 7 },
      ]) {
        expect(await packedCase({ ...c, neox }, seed++)).toBeNull();
      }
    }
  });

  it('matches the reference and the unfused kernels bit for bit over many shapes', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const cases: RopeCase[] = [];
    for (const neox of [false, true]) {
      cases.push(
        { T: 1, qHeads: 1, kvHeads: 1, headDim: 2, pos0: 0, neox, maxContext: 4 },
        { T: 1, qHeads: 8, kvHeads: 4, headDim: 8, pos0: 5, neox, maxContext: 16 },
        { T: 5, qHeads: 6, kvHeads: 2, headDim: 64, pos0: 0, neox, maxContext: 8 },
        { T: 3, qHeads: 4, kvHeads: 4, headDim: 48, pos0: 61, neox, maxContext: 64 },
        { T: 2, qHeads: 32, kvHeads: 8, headDim: 128, pos0: 4000, neox, maxContext: 4002 },
        // Partial rotation (Phi-3-style): dims from ropeDims on pass through.
        { T: 4, qHeads: 4, kvHeads: 2, headDim: 96, ropeDims: 32, pos0: 9, neox, maxContext: 13 },
        { T: 3, qHeads: 2, kvHeads: 1, headDim: 10, ropeDims: 6, pos0: 1, neox, maxContext: 4 },
        // Strided rows, as in qwen3's normed q/k or slices of wider buffers; k and v in one buffer.
        { T: 3, qHeads: 4, kvHeads: 2, headDim: 16, pos0: 2, neox, maxContext: 5, qStride: 80, qOffset: 3, kStride: 96, kOffset: 0, vStride: 96, vOffset: 32, kvShared: true },
        { T: 2, qHeads: 3, kvHeads: 3, headDim: 20, pos0: 7, neox, maxContext: 9, kStride: 70, kOffset: 5, vStride: 61, vOffset: 1 },
      );
    }
    for (const [i, c] of cases.entries()) expect(await ropeKvAppendCase(c, 500 + i)).toBeNull();
  });

  it('refuses a q that shares its buffer with k but not v, and tokens past the cache', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const ctx = g.ctx;
    const buf = ctx.storage(4096, 'qkv');
    const f = ctx.storage(64, 'f');
    const cache = { k: ctx.storage(1024, 'kc'), v: ctx.storage(1024, 'vc'), maxContext: 4, kvHeads: 2, headDim: 16 };
    const b = ctx.batch('refuse');
    const q = ctx.storage(4096, 'q');
    expect(() => g.k!.ropeKvAppend(b, { q: buf, k: buf, v: q, cache, invFreq: f, T: 1, qHeads: 2, pos0: 0, neox: false })).toThrow(GpuUsageError);
    expect(() => g.k!.ropeKvAppend(b, { q, k: buf, v: buf, cache, invFreq: f, T: 2, qHeads: 2, pos0: 3, neox: false })).toThrow(/context/i);
    for (const x of [buf, f, cache.k, cache.v, q]) x.destroy();
  });
});

interface AttentionRopeCase extends AttentionRopeShape {
  maxContext: number;
  /** q, k and v in one [q | k | v] buffer (a stacked QKV product). */
  packed?: boolean;
}

/** attention.wgsl's decode_rope against rope_kv_append + attention (bit for bit) and the reference. */
async function attentionRopeCase(s: AttentionRopeCase, seed: number): Promise<string | null> {
  const ctx = g.ctx!;
  const k = g.k!;
  const r = rng(seed);
  const hd = s.headDim;
  const qDim = s.heads * hd;
  const width = s.kvHeads * hd;
  // Packed: [q | k | v]; else three buffers, each after some padding (the offsets).
  const shape: AttentionRopeShape = s.packed ? { ...s, qOffset: 0, kOffset: qDim, vOffset: qDim + width } : s;
  const qLen = s.packed ? qDim + 2 * width : (s.qOffset ?? 0) + qDim;
  const q = randomF32(qLen, r);
  const kSrc = s.packed ? q : randomF32((s.kOffset ?? 0) + width, r);
  const vSrc = s.packed ? q : randomF32((s.vOffset ?? 0) + width, r);
  const cacheLen = s.maxContext * width;
  const kCache0 = randomF32(cacheLen, r);
  const vCache0 = randomF32(cacheLen, r);
  const f = ropeInvFreq(s.ropeDims ?? hd, 10000);
  const label = `attention_rope ${JSON.stringify(s)}`;
  const fb = ctx.storage(f, 'invFreq');
  const run = async (fused: boolean, shader?: AttnShader, headsPerWorkgroup?: number) => {
    const qb = ctx.storage(q, 'q');
    const kb = s.packed ? qb : ctx.storage(kSrc, 'k');
    const vb = s.packed ? qb : ctx.storage(vSrc, 'v');
    const cache = { k: ctx.storage(kCache0, 'kc'), v: ctx.storage(vCache0, 'vc'), maxContext: s.maxContext, kvHeads: s.kvHeads, headDim: hd };
    const out = ctx.storage(qDim * 4, 'out');
    const b = ctx.batch('case');
    const attn = { cache, out, heads: s.heads, pos0: s.pos0, scale: s.scale, softcap: s.softcap, window: s.window, ...(shader ? { shader } : {}), ...(headsPerWorkgroup ? { headsPerWorkgroup } : {}) };
    if (fused) {
      k.attentionRope(b, { q: qb, k: kb, v: vb, invFreq: fb, neox: s.neox, ropeDims: s.ropeDims, qOffset: shape.qOffset, kOffset: shape.kOffset, vOffset: shape.vOffset, ...attn });
    } else {
      const w = qDim + 2 * width;
      k.ropeKvAppend(b, {
        q: qb,
        k: kb,
        v: vb,
        cache,
        invFreq: fb,
        T: 1,
        qHeads: s.heads,
        pos0: s.pos0,
        neox: s.neox,
        ropeDims: s.ropeDims,
        ...(s.packed ? { qStride: w, kStride: w, vStride: w } : {}),
        qOffset: shape.qOffset,
        kOffset: shape.kOffset,
        vOffset: shape.vOffset,
      });
      k.attention(b, { q: qb, T: 1, qOffset: shape.qOffset, ...attn });
    }
    b.submit();
    const res = {
      out: await ctx.readF32(out, qDim),
      kc: await ctx.readF32(cache.k, cacheLen),
      vc: await ctx.readF32(cache.v, cacheLen),
      q: await ctx.readF32(qb, qLen),
      k: await ctx.readF32(kb, kSrc.length),
    };
    for (const x of new Set([qb, kb, vb, cache.k, cache.v, out])) x.destroy();
    return res;
  };
  const fused = await run(true);
  const unfused = await run(false);
  // Heads of a multiple of 4 values run attention_v4.wgsl, a KV group's heads go several to a
  // workgroup: attention.wgsl one head at a time must give the same bits.
  const scalar = await run(true, 'attention', 1);
  fb.destroy();
  const kCache = Float32Array.from(kCache0);
  const vCache = Float32Array.from(vCache0);
  const want = attentionRopeRef(q, kSrc, vSrc, f, kCache, vCache, shape);
  return (
    compareClose(fused.out, want, ATTN_ROPE_TOL, `${label} out`) ??
    compareClose(fused.kc, kCache, ROPE_TOL, `${label} kCache`) ??
    compareClose(fused.vc, vCache, { atol: 0, rtol: 0 }, `${label} vCache`) ??
    firstDifference(fused.out, unfused.out, `${label} out`) ??
    firstDifference(fused.kc, unfused.kc, `${label} kCache`) ??
    firstDifference(fused.vc, unfused.vc, `${label} vCache`) ??
    firstDifference(scalar.out, fused.out, `${label} out, attention.wgsl one head at a time against the default`) ??
    firstDifference(scalar.kc, fused.kc, `${label} kCache, attention.wgsl one head at a time against the default`) ??
    firstDifference(fused.q, q, `${label} q left as it was`) ??
    firstDifference(fused.k, kSrc, `${label} k left as it was`)
  );
}

describe('attention_rope (decode_rope) vs rope_kv_append + attention', () => {
  it('matches the reference and the unfused kernels bit for bit over many shapes', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    let seed = 2000;
    let cases = 0;
    for (const neox of [false, true]) {
      for (const packed of [false, true]) {
        for (const c of [
          { heads: 1, kvHeads: 1, headDim: 2, pos0: 0, maxContext: 1 },
          { heads: 8, kvHeads: 4, headDim: 8, pos0: 5, maxContext: 16, qOffset: 4, kOffset: 8, vOffset: 12 },
          { heads: 8, kvHeads: 4, headDim: 8, ropeDims: 4, pos0: 63, maxContext: 64 },
          { heads: 4, kvHeads: 1, headDim: 64, pos0: 64, maxContext: 70 },
          { heads: 6, kvHeads: 3, headDim: 96, ropeDims: 32, pos0: 130, maxContext: 131, kOffset: 3 },
          { heads: 2, kvHeads: 2, headDim: 256, pos0: 200, maxContext: 300, window: 50 },
          { heads: 4, kvHeads: 2, headDim: 16, pos0: 127, maxContext: 128, softcap: 5, window: 64, scale: 0.3 },
          { heads: 8, kvHeads: 8, headDim: 8, pos0: 16, maxContext: 20 }, // WG 16 (attentionWg): 17 keys, the new one alone in its chunk
          { heads: 4, kvHeads: 2, headDim: 24, pos0: 32, maxContext: 40 }, // WG 32: 33 keys
        ] as AttentionRopeCase[]) {
          expect(await attentionRopeCase({ ...c, neox, packed }, seed++)).toBeNull();
          cases++;
        }
      }
    }
    expect(cases).toBe(36);
  });

  it('refuses a token past the cache and a bad shape', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const ctx = g.ctx;
    const buf = ctx.storage(1024, 'buf');
    const cache = { k: ctx.storage(1024, 'kc'), v: ctx.storage(1024, 'vc'), maxContext: 4, kvHeads: 2, headDim: 8 };
    const b = ctx.batch('refuse');
    const a = { q: buf, k: buf, v: buf, cache, out: buf, invFreq: buf, heads: 4, pos0: 3, neox: false };
    expect(() => g.k!.attentionRope(b, { ...a, pos0: 4 })).toThrow(ContextWindowExceededError);
    expect(() => g.k!.attentionRope(b, { ...a, heads: 3 })).toThrow(GpuUsageError);
    expect(() => g.k!.attentionRope(b, { ...a, ropeDims: 3 })).toThrow(GpuUsageError);
    for (const x of [buf, cache.k, cache.v]) x.destroy();
  });
});
