import { describe, expect, it } from 'vitest';
import { rmsnormRef } from '../../shared/engine/reference/rmsnorm';
import { compareClose, randomF32, rng } from '../support/compare';
import { useKernelSuite } from '../support/gpu';

// Tolerance: the GPU sums squares in f32 (n / 64 terms per invocation, then a 6-level tree), so
// the sum's relative error is at most ~(n/64 + 6) ulp ≈ 4e-6 for n = 4096 and far less in
// practice; 1/sqrt and two products add a few ulp. rtol 1e-5 covers that with margin; atol 1e-6
// covers outputs near zero where the relative bound says nothing.
const TOL = { atol: 1e-6, rtol: 1e-5 };
const WG = 64;

const g = useKernelSuite();

async function check(rows: number, n: number, seed: number, eps = 1e-5, spread = 4) {
  const { ctx, k } = g;
  const r = rng(seed);
  const x = randomF32(rows * n, r, -spread, spread);
  const w = randomF32(n, r, 0.5, 1.5);
  const xb = ctx!.storage(x, 'x');
  const wb = ctx!.storage(w, 'w');
  const yb = ctx!.storage(rows * n * 4, 'y');
  const b = ctx!.batch('rmsnorm');
  k!.rmsnorm(b, { x: xb, w: wb, y: yb, rows, n, eps });
  b.submit();
  const got = await ctx!.readF32(yb, rows * n);
  [xb, wb, yb].forEach((z) => z.destroy());
  return compareClose(got, rmsnormRef(x, w, rows, n, eps), TOL, `rmsnorm rows=${rows} n=${n} seed=${seed}`);
}

describe('rmsnorm kernel vs reference', () => {
  it('matches on edge shapes (1, workgroup size ±1, odd sizes)', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    for (const [rows, n] of [[1, 1], [1, 2], [2, WG - 1], [3, WG], [1, WG + 1], [5, 2 * WG + 1], [1, 4096], [7, 1000], [2, 3]] as const) {
      expect(await check(rows, n, rows * 1000 + n)).toBeNull();
    }
  });

  it('matches on random shapes', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const r = rng(42);
    for (let i = 0; i < 12; i++) {
      const rows = 1 + Math.floor(r() * 9);
      const n = 1 + Math.floor(r() * 3000);
      expect(await check(rows, n, 7 + i, r() < 0.5 ? 1e-6 : 1e-5)).toBeNull();
    }
  });

  it('uses eps: an all-zero row gives zeros, not NaN', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { ctx, k } = g;
    const n = 70;
    const xb = ctx!.storage(new Float32Array(n), 'x');
    const wb = ctx!.storage(new Float32Array(n).fill(1), 'w');
    const yb = ctx!.storage(new Float32Array(n).fill(99), 'y');
    const b = ctx!.batch();
    k!.rmsnorm(b, { x: xb, w: wb, y: yb, rows: 1, n, eps: 1e-6 });
    b.submit();
    const got = await ctx!.readF32(yb);
    expect([...got].every((v) => v === 0)).toBe(true);
  });
});
