import { describe, expect, it } from 'vitest';
import { GpuUsageError } from '../../shared/gpu';
import { addRef, biasAddRef, gegluRef, gelu, scaleRef, softcapRef, swigluFusedRef, swigluRef } from '../../shared/engine/reference/elementwise';
import { compareClose, randomF32, rng } from '../support/compare';
import { useKernelSuite } from '../support/gpu';

// Tolerances: add, bias add and scale are one correctly rounded f32 operation, the same as the
// reference rounded to f32, so they must match exactly. SwiGLU uses f32 exp (WGSL allows
// 3 + 2|x| ulp, |x| <= 8 here: ~20 ulp ≈ 1.2e-6 relative) plus a division and a product:
// rtol 4e-6; atol 1e-7 for outputs near zero (silu(g) -> 0 for very negative g).
// GeGLU: gelu is x / (1 + exp(-2u)) with u an f32 polynomial (a few ulp): the relative error is
// exp's (~1e-6 at |2u| <= 50, within WGSL's 3 + 2|x| ulp only on good hardware) plus 2|u| times
// u's, which grows for very negative x where gelu(x) ~ x exp(2u) is < 1e-6 |x|: there atol covers
// it. Same bounds as SwiGLU: rtol 4e-6, atol 1e-7.
// Softcap: s * tanh(x / s) is a division (2.5 ulp), safe_tanh (< 1e-6 relative, _tanh.wgsl) and a
// product; tanh's relative condition number is <= 1, so rtol 2e-6; atol 0 (tanh(0) = 0 exactly).
const EXACT = { atol: 0, rtol: 0 };
const SWIGLU = { atol: 1e-7, rtol: 4e-6 };
const GEGLU = { atol: 1e-7, rtol: 4e-6 };
const SOFTCAP = { atol: 0, rtol: 2e-6 };
const WG = 256;
const SIZES = [1, 2, WG - 1, WG, WG + 1, 1000, 3 * WG + 7, 65537];

const g = useKernelSuite();

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

  it('geglu matches gelu(gate) * up (tanh approximation), including |gate| past the clamp', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { ctx, k } = g;
    const run = async (gate: Float32Array, up: Float32Array) => {
      const n = gate.length;
      const [gb, ub, ob] = [ctx!.storage(gate), ctx!.storage(up), ctx!.storage(n * 4)];
      const b = ctx!.batch();
      k!.geglu(b, { gate: gb, up: ub, out: ob, n });
      b.submit();
      const got = await ctx!.readF32(ob, n);
      [gb, ub, ob].forEach((x) => x.destroy());
      return got;
    };
    for (const n of SIZES) {
      const r = rng(n + 3);
      const gate = randomF32(n, r, -12, 12);
      const up = randomF32(n, r, -2, 2);
      const want = gegluRef(gate, up);
      expect(compareClose(await run(gate, up), want, GEGLU, `geglu n=${n}`)).toBeNull();
      // GELU is not SiLU: the op must differ from swiglu on the same data.
      if (n >= WG) expect(compareClose(swigluRef(gate, up), want, GEGLU)).not.toBeNull();
    }
    // Edges: 0, tiny, the clamp at ±10, far outside it, the f32 extremes; up = 1 reads gelu itself.
    const edges = Float32Array.from([0, 1e-30, -1e-30, 1e-4, -1e-4, 0.5, -0.5, 1, -1, 3, -3, 9.99, -9.99, 10, -10, 10.5, -10.5, 50, -50, 1e20, -1e20, 3e38, -3e38]);
    const got = await run(edges, new Float32Array(edges.length).fill(1));
    expect(compareClose(got, gegluRef(edges, new Float32Array(edges.length).fill(1)), GEGLU, 'geglu edges')).toBeNull();
    expect(got.every(Number.isFinite)).toBe(true);
    // Known values of the tanh approximation: gelu(1) = 0.841192, gelu(-1) = -0.158808.
    expect(gelu(1)).toBeCloseTo(0.8411919906, 9);
    expect(gelu(-1)).toBeCloseTo(-0.1588080094, 9);
  });

  it('softcap (x = s tanh(x / s) in place) matches, saturates at ±s and stays finite', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { ctx, k } = g;
    const run = async (x: Float32Array, cap: number) => {
      const xb = ctx!.storage(x);
      const b = ctx!.batch();
      k!.softcap(b, { x: xb, n: x.length, cap });
      b.submit();
      const got = await ctx!.readF32(xb, x.length);
      xb.destroy();
      return got;
    };
    for (const [i, n] of SIZES.entries()) {
      const cap = [0.5, 5, 30, 50][i % 4]!;
      const x = randomF32(n, rng(n + 4), -4 * cap, 4 * cap);
      const want = softcapRef(x, Math.fround(cap));
      expect(compareClose(await run(x, cap), want, SOFTCAP, `softcap n=${n} cap=${cap}`)).toBeNull();
      // Values past the cap are pulled in: the op is not the identity.
      if (n >= WG) expect(compareClose(x, want, SOFTCAP)).not.toBeNull();
    }
    // Edges: both branches of safe_tanh (|x / s| below and above 0.25), tiny, huge, the f32 extremes.
    const edges = Float32Array.from([0, 1e-30, -1e-30, 1e-3, -1e-3, 7.49, -7.49, 7.5, -7.5, 7.51, 30, -30, 300, -300, 1e6, -1e6, 3e38, -3e38]);
    const got = await run(edges, 30);
    expect(compareClose(got, softcapRef(edges, 30), SOFTCAP, 'softcap edges')).toBeNull();
    expect(got.every((v) => Number.isFinite(v) && Math.abs(v) <= 30)).toBe(true);
  });

  it('softcap refuses a cap that is not a finite number > 0', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { ctx, k } = g;
    const xb = ctx!.storage(16);
    const b = ctx!.batch();
    for (const cap of [0, -1, NaN, Infinity, 1e-50, 1e-40]) expect(() => k!.softcap(b, { x: xb, n: 4, cap }), `cap=${cap}`).toThrow(GpuUsageError);
    expect(() => k!.softcap(b, { x: xb, n: 4, cap: 30 })).not.toThrow();
    xb.destroy();
  });
});
