import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addRef, biasAddRef, scaleRef, swigluFusedRef, swigluRef } from '../../shared/engine/reference/elementwise';
import { compareClose, randomF32, rng } from '../support/compare';
import { openKernelSuite, type GpuSuite } from '../support/gpu';

// Tolerances: add, bias add and scale are one correctly rounded f32 operation, the same as the
// reference rounded to f32, so they must match exactly. SwiGLU uses f32 exp (WGSL allows
// 3 + 2|x| ulp, |x| <= 8 here: ~20 ulp ≈ 1.2e-6 relative) plus a division and a product:
// rtol 4e-6; atol 1e-7 for outputs near zero (silu(g) -> 0 for very negative g).
const EXACT = { atol: 0, rtol: 0 };
const SWIGLU = { atol: 1e-7, rtol: 4e-6 };
const WG = 256;
const SIZES = [1, 2, WG - 1, WG, WG + 1, 1000, 3 * WG + 7, 65537];

let g: GpuSuite = { ctx: null, k: null, reason: 'not opened' };
beforeAll(async () => {
  g = await openKernelSuite();
});
afterAll(() => g.ctx?.destroy());

describe('element-wise kernels vs reference', () => {
  it('add and residual add (in place) match exactly', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { ctx, k } = g;
    for (const n of SIZES) {
      const r = rng(n);
      const a = randomF32(n, r, -10, 10);
      const bv = randomF32(n, r, -10, 10);
      const [ab, bb, ob] = [ctx!.storage(a), ctx!.storage(bv), ctx!.storage(n * 4)];
      const b = ctx!.batch();
      k!.add(b, { a: ab, b: bb, out: ob, n });
      k!.addInPlace(b, { x: ab, b: bb, n });
      b.submit();
      const want = addRef(a, bv);
      expect(compareClose(await ctx!.readF32(ob, n), want, EXACT, `add n=${n}`)).toBeNull();
      expect(compareClose(await ctx!.readF32(ab, n), want, EXACT, `add_inplace n=${n}`)).toBeNull();
      [ab, bb, ob].forEach((x) => x.destroy());
    }
  });

  it('swiglu (separate and fused gate|up) matches', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { ctx, k } = g;
    for (const n of SIZES) {
      const r = rng(n + 1);
      const gate = randomF32(n, r, -8, 8);
      const up = randomF32(n, r, -2, 2);
      const [gb, ub, ob] = [ctx!.storage(gate), ctx!.storage(up), ctx!.storage(n * 4)];
      const b = ctx!.batch();
      k!.swiglu(b, { gate: gb, up: ub, out: ob, n });
      b.submit();
      expect(compareClose(await ctx!.readF32(ob, n), swigluRef(gate, up), SWIGLU, `swiglu n=${n}`)).toBeNull();
      [gb, ub, ob].forEach((x) => x.destroy());
    }
    for (const [T, cols] of [[1, 1], [1, WG + 1], [3, 100], [5, 1000]] as const) {
      const x = randomF32(T * 2 * cols, rng(T * cols), -8, 8);
      const [xb, ob] = [ctx!.storage(x), ctx!.storage(T * cols * 4)];
      const b = ctx!.batch();
      k!.swigluFused(b, { x: xb, out: ob, T, cols });
      b.submit();
      expect(compareClose(await ctx!.readF32(ob), swigluFusedRef(x, T, cols), SWIGLU, `swiglu_fused T=${T} cols=${cols}`)).toBeNull();
      [xb, ob].forEach((z) => z.destroy());
    }
  });

  it('bias add over [T, cols] and scale match exactly', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { ctx, k } = g;
    for (const [T, cols] of [[1, 1], [1, WG - 1], [2, WG + 1], [7, 96], [300, 3]] as const) {
      const r = rng(T * 31 + cols);
      const x = randomF32(T * cols, r, -5, 5);
      const bias = randomF32(cols, r, -1, 1);
      const [xb, bb] = [ctx!.storage(x), ctx!.storage(bias)];
      const b = ctx!.batch();
      k!.biasAdd(b, { x: xb, bias: bb, T, cols });
      b.submit();
      expect(compareClose(await ctx!.readF32(xb), biasAddRef(x, bias, cols), EXACT, `bias_add T=${T} cols=${cols}`)).toBeNull();
      [xb, bb].forEach((z) => z.destroy());
    }
    for (const n of SIZES) {
      const x = randomF32(n, rng(n + 2), -5, 5);
      const s = 0.125 + n / 7;
      const xb = ctx!.storage(x);
      const b = ctx!.batch();
      k!.scale(b, { x: xb, n, s });
      b.submit();
      expect(compareClose(await ctx!.readF32(xb, n), scaleRef(x, Math.fround(s)), EXACT, `scale n=${n}`)).toBeNull();
      xb.destroy();
    }
  });
});
