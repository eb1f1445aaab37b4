import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ropeInvFreq, ropeRef, type RopeShape } from '../../shared/engine/reference/rope';
import { compareClose, randomF32, rng } from '../support/compare';
import { openKernelSuite, type GpuSuite } from '../support/gpu';

// Tolerance: kernel and reference form the same f32 angle (f32(pos) * invFreq[i], one correctly
// rounded product). The kernel's range reduction to [-pi, pi] loses ~2 ulp of pi (~5e-7) and f32
// cos/sin add ~1e-7 on common hardware (WGSL itself only promises 2^-11 on [-pi, pi]; a GPU that
// bad would fail here on purpose). With |x| <= 1 each output sums two such products:
// atol 4e-6 + rtol 1e-5 leaves a margin of ~4x over that.
const TOL = { atol: 4e-6, rtol: 1e-5 };

let g: GpuSuite = { ctx: null, k: null, reason: 'not opened' };
beforeAll(async () => {
  g = await openKernelSuite();
});
afterAll(() => g.ctx?.destroy());

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
  const f = ropeInvFreq(s.headDim, theta);
  const got = await run(x, f, s);
  return compareClose(got, ropeRef(x, f, s), TOL, `rope ${JSON.stringify(s)} theta=${theta}`);
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
});
