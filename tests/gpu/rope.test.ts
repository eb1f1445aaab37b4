import { describe, expect, it } from 'vitest';
import { GpuUsageError } from '../../shared/gpu';
import { ropeInvFreq, ropeRef, type RopeShape } from '../../shared/engine/reference/rope';
import { compareClose, randomF32, rng } from '../support/compare';
import { useKernelSuite } from '../support/gpu';

// Tolerance: kernel and reference form the same f32 angle (f32(pos) * invFreq[i], one correctly
// rounded product). The kernel's range reduction to [-pi, pi] loses ~2 ulp of pi (~5e-7) and f32
// cos/sin add ~1e-7 on common hardware (WGSL itself only promises 2^-11 on [-pi, pi]; a GPU that
// bad would fail here on purpose). With |x| <= 1 each output sums two such products:
// atol 4e-6 + rtol 1e-5 leaves a margin of ~4x over that.
const TOL = { atol: 4e-6, rtol: 1e-5 };

const g = useKernelSuite();

async function run(x: Float32Array, invFreq: Float32Array, s: RopeShape): Promise<Float32Array> {
  const { ctx, k } = g;
  const xb = ctx!.storage(x, 'x');
  const fb = ctx!.storage(invFreq, 'invFreq');
  const b = ctx!.batch('rope');
  k!.rope(b, { x: xb, invFreq: fb, ...s });
  b.submit();
  const got = await ctx!.readF32(xb, x.length);
  xb.destroy();
  fb.destroy();
  return got;
}

async function check(s: RopeShape, theta: number, seed: number, extra = 0) {
  const stride = s.stride ?? s.heads * s.headDim;
  const x = randomF32((s.offset ?? 0) + s.T * stride + extra, rng(seed));
  // Partial rotation: the table spans the rotated dims (llama.cpp: theta_scale = base^(-2/n_dims)).
  const f = ropeInvFreq(s.ropeDims ?? s.headDim, theta);
  const got = await run(x, f, s);
  const label = `rope ${JSON.stringify(s)} theta=${theta}`;
  const err = compareClose(got, ropeRef(x, f, s), TOL, label);
  if (err || s.ropeDims === undefined) return err;
  // Dims past ropeDims are never written: they must be bit-identical, not merely close.
  for (let t = 0; t < s.T; t++) {
    for (let h = 0; h < s.heads; h++) {
      const base = (s.offset ?? 0) + t * stride + h * s.headDim;
      for (let d = s.ropeDims; d < s.headDim; d++) {
        if (!Object.is(got[base + d], x[base + d])) return `${label}: pass-through dim ${d} of t=${t} h=${h} changed: ${x[base + d]} -> ${got[base + d]}`;
      }
    }
  }
  return null;
}

describe('rope kernel vs reference', () => {
  it('matches both arrangements on edge shapes', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    for (const neox of [false, true]) {
      for (const [T, heads, headDim, pos0] of [
        [1, 1, 2, 0],
        [1, 1, 2, 1],
        [1, 3, 64, 5],
        [5, 2, 128, 0],
        [3, 1, 6, 63],
        [2, 5, 128, 64],
        [1, 33, 64, 999],
        [4, 1, 130, 7],
      ] as const) {
        expect(await check({ T, heads, headDim, pos0, neox }, 10000, T * 131 + heads * 7 + headDim)).toBeNull();
      }
    }
  });

  it('matches at large positions and another theta (range reduction)', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    for (const [pos0, theta] of [[4000, 10000], [32760, 1e6], [131000, 500000], [300000, 10000]] as const) {
      for (const neox of [false, true]) {
        expect(await check({ T: 3, heads: 2, headDim: 64, pos0, neox }, theta, pos0)).toBeNull();
      }
    }
  });

  it('matches on random shapes, including strided rows inside a fused QKV buffer', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const r = rng(9);
    for (let i = 0; i < 10; i++) {
      const heads = 1 + Math.floor(r() * 6);
      const headDim = 2 * (1 + Math.floor(r() * 70));
      const T = 1 + Math.floor(r() * 7);
      const fused = r() < 0.5;
      // q | k | v per token: rotate the k slice (offset heads * headDim, stride 3 * heads * headDim).
      const s: RopeShape = fused
        ? { T, heads, headDim, pos0: Math.floor(r() * 5000), neox: r() < 0.5, stride: 3 * heads * headDim, offset: heads * headDim }
        : { T, heads, headDim, pos0: Math.floor(r() * 5000), neox: r() < 0.5 };
      expect(await check(s, 10000, 100 + i)).toBeNull();
    }
  });

  it('is the identity at position 0, preserves pair norms, and the arrangements differ', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const s = { T: 1, heads: 2, headDim: 8, pos0: 0 };
    const x = randomF32(16, rng(3));
    const f = ropeInvFreq(8, 10000);
    expect(compareClose(await run(x, f, { ...s, neox: false }), x, { atol: 0, rtol: 0 })).toBeNull();
    const a = await run(x, f, { ...s, pos0: 7, neox: false });
    const b = await run(x, f, { ...s, pos0: 7, neox: true });
    for (let i = 0; i < 16; i += 2) {
      expect(Math.hypot(a[i]!, a[i + 1]!)).toBeCloseTo(Math.hypot(x[i]!, x[i + 1]!), 5);
    }
    expect(compareClose(a, b, { atol: 1e-3, rtol: 0 })).not.toBeNull();
  });

  it('rotates only the first ropeDims dims (partial rotation), both arrangements, on many shapes', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    for (const neox of [false, true]) {
      for (const [T, heads, headDim, ropeDims, pos0] of [
        [1, 1, 4, 2, 3], // smallest partial
        [1, 1, 2, 2, 5], // ropeDims = headDim = 2
        [2, 3, 64, 32, 5],
        [3, 2, 80, 32, 100], // Phi-2 shape: 32 of 80
        [1, 4, 128, 96, 1000], // Phi-4-mini shape: 0.75 of 128
        [4, 1, 96, 64, 7],
        [2, 2, 64, 64, 9], // explicit ropeDims = headDim
        [3, 2, 7, 4, 11], // odd headDim is fine when ropeDims is even
        [5, 3, 130, 2, 31000], // one pair only, large position
        [2, 33, 64, 48, 999],
      ] as const) {
        expect(await check({ T, heads, headDim, ropeDims, pos0, neox }, 10000, T * 131 + heads * 7 + headDim + ropeDims)).toBeNull();
      }
    }
  });

  it('matches partial rotation on random shapes, including strided rows inside a fused QKV buffer', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const r = rng(19);
    for (let i = 0; i < 12; i++) {
      const heads = 1 + Math.floor(r() * 6);
      const headDim = 2 + Math.floor(r() * 140);
      const ropeDims = 2 * (1 + Math.floor(r() * Math.floor(headDim / 2)));
      const T = 1 + Math.floor(r() * 7);
      const pos0 = Math.floor(r() * 5000);
      const neox = r() < 0.5;
      const s: RopeShape =
        r() < 0.5
          ? { T, heads, headDim, ropeDims, pos0, neox, stride: 3 * heads * headDim, offset: heads * headDim }
          : { T, heads, headDim, ropeDims, pos0, neox };
      expect(await check(s, 1e6, 300 + i, 5)).toBeNull();
    }
  });

  it('partial rotation changes the result, and for normal pairs equals a zero-padded full table', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const s = { T: 3, heads: 2, headDim: 16, pos0: 5 };
    const x = randomF32(3 * 2 * 16, rng(21));
    const full = ropeInvFreq(16, 10000);
    const part = ropeInvFreq(8, 10000);
    for (const neox of [false, true]) {
      const a = await run(x, full, { ...s, neox });
      const b = await run(x, part, { ...s, neox, ropeDims: 8 });
      expect(compareClose(b, a, { atol: 1e-3, rtol: 0 }), `neox=${neox}`).not.toBeNull();
      expect(compareClose(b, x, { atol: 1e-3, rtol: 0 }), `neox=${neox}`).not.toBeNull();
    }
    // llama.cpp's normal-mode partial rotation is also a full-width table with angle 0 past
    // ropeDims/2 (what the engine passes for llama): cos 0 = 1, sin 0 = 0 leave those pairs exact.
    const padded = new Float32Array(8);
    padded.set(part);
    const a = await run(x, padded, { ...s, neox: false });
    const b = await run(x, part, { ...s, neox: false, ropeDims: 8 });
    expect(compareClose(b, a, { atol: 0, rtol: 0 })).toBeNull();
  });

  it('refuses ropeDims that are odd, out of 2..headDim or not integers, and a short invFreq table', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { ctx, k } = g;
    const xb = ctx!.storage(64 * 4);
    const fb = ctx!.storage(ropeInvFreq(16, 10000));
    const b = ctx!.batch();
    const base = { x: xb, invFreq: fb, T: 1, heads: 2, headDim: 16, pos0: 0, neox: true };
    for (const ropeDims of [0, 3, 18, 6.5, -2, NaN]) {
      expect(() => k!.rope(b, { ...base, ropeDims }), `ropeDims=${ropeDims}`).toThrow(GpuUsageError);
    }
    expect(() => k!.rope(b, { ...base, headDim: 15 })).toThrow(GpuUsageError);
    const short = ctx!.storage(ropeInvFreq(8, 10000));
    expect(() => k!.rope(b, { ...base, invFreq: short })).toThrow(/invFreq needs 8 values/);
    expect(() => k!.rope(b, { ...base, invFreq: short, ropeDims: 8 })).not.toThrow();
    expect(() => k!.rope(b, { ...base, ropeDims: 16 })).not.toThrow();
    [xb, fb, short].forEach((z) => z.destroy());
  });
});
