/**
 * The float64 reference ops (shared/train/reference/ops.ts): every backward against central
 * finite differences of its own forward, plus a few forward facts that hold exactly.
 *
 * Method: for an op y = f(x) and a fixed random upstream gradient g, the scalar L(x) = Σ g·f(x)
 * has ∂L/∂x = backward(g). Every input coordinate is perturbed (the shapes are small), so a wrong
 * index anywhere shows.
 *
 * Tolerance: |analytic − FD| ≤ 1e-7 + 1e-6·|FD|. In float64 with h = 1e-5 and inputs of order
 * one, the central difference's truncation error is h²/6·|L'''| ≈ 1e-11 (L''' is O(1..100) here)
 * and its rounding error ε·|L|/h ≈ 1e-16·10/1e-5 = 1e-10; a real mistake (a wrong index, a
 * missing term) gives errors of order |∂L/∂x| itself, 1e-2 and up. Measured worst errors are
 * 3e-12 .. 1.4e-10 (the largest with logits of ±60), so the bound has a margin of about 1000.
 */
import { describe, expect, it } from 'vitest';
import { centralDifferences, compareClose, randomF32, rng } from '../support/compare';
import { ropeInvFreq } from '../../shared/engine/reference/rope';
import {
  addBackward,
  addForward,
  attentionBackward,
  attentionForward,
  crossEntropyBackward,
  crossEntropyForward,
  embeddingBackward,
  embeddingForward,
  linearBackward,
  linearForward,
  rmsnormBackward,
  rmsnormForward,
  ropeBackward,
  ropeForward,
  swigluBackward,
  swigluForward,
} from '../../shared/train/reference/ops';

const TOL = { atol: 1e-7, rtol: 1e-6 };
const H = 1e-5;

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Central differences of the scalar loss(x) at x0, every coordinate. */
function fdGrad(loss: (x: Float64Array) => number, x0: ArrayLike<number>, h = H): Float64Array {
  const x = Float64Array.from(x0);
  return centralDifferences(x, () => loss(x), h);
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, label: string, tol = TOL): void {
  const msg = compareClose(got, want, tol, label);
  expect(msg, msg ?? '').toBeNull();
}

describe('train reference ops: backward vs finite differences (f64)', () => {
  it('embedding: scatter-add over repeated ids', () => {
    const r = rng(1);
    const V = 7;
    const D = 3;
    const ids = new Int32Array([3, 0, 3, 6, 1, 3, 0, 2, 5, 3]); // 3 four times, 0 twice, 4 never
    const table = randomF32(V * D, r);
    const gy = randomF32(ids.length * D, r);
    expect(Array.from(embeddingForward(table, ids, D).subarray(0, D))).toEqual(Array.from(table.subarray(3 * D, 4 * D)));
    const got = embeddingBackward(gy, ids, V, D);
    expectClose(got, fdGrad((t) => dot(gy, embeddingForward(t, ids, D)), table), 'dTable');
    expect(Array.from(got.subarray(4 * D, 5 * D))).toEqual([0, 0, 0]); // unused row: exactly zero
    expect(() => embeddingForward(table, new Int32Array([V]), D)).toThrow(RangeError);
  });

  for (const [N, D, eps] of [
    [3, 5, 1e-5],
    [4, 8, 1e-6],
    [2, 16, 0.5], // a large eps makes its term in rstd matter
  ] as const) {
    it(`rmsnorm N=${N} D=${D} eps=${eps}`, () => {
      const r = rng(2 + D);
      const x = randomF32(N * D, r, -2, 2);
      const w = randomF32(D, r, 0.5, 1.5);
      const gy = randomF32(N * D, r);
      const { y, rstd } = rmsnormForward(x, w, N, D, eps);
      // Forward fact: with w = 1 and eps → 0 each row's mean square is 1; here check rstd directly.
      for (let n = 0; n < N; n++) {
        let ss = 0;
        for (let d = 0; d < D; d++) ss += x[n * D + d]! ** 2;
        expect(rstd[n]).toBeCloseTo(1 / Math.sqrt(ss / D + eps), 14);
      }
      expect(y.length).toBe(N * D);
      const { dx, dw } = rmsnormBackward(gy, x, w, rstd, N, D);
      expectClose(dx, fdGrad((xx) => dot(gy, rmsnormForward(xx, w, N, D, eps).y), x), 'dx');
      expectClose(dw, fdGrad((ww) => dot(gy, rmsnormForward(x, ww, N, D, eps).y), w), 'dw');
    });
  }

  for (const [N, In, Out, bias] of [
    [3, 4, 5, true],
    [6, 7, 2, false],
    [1, 3, 3, true],
  ] as const) {
    it(`linear N=${N} In=${In} Out=${Out}${bias ? ' +bias' : ''}`, () => {
      const r = rng(10 + N * In);
      const x = randomF32(N * In, r);
      const w = randomF32(Out * In, r);
      const b = bias ? randomF32(Out, r) : null;
      const gy = randomF32(N * Out, r);
      const { dx, dw, db } = linearBackward(gy, x, w, N, In, Out);
      expectClose(dx, fdGrad((xx) => dot(gy, linearForward(xx, w, b, N, In, Out)), x), 'dx');
      expectClose(dw, fdGrad((ww) => dot(gy, linearForward(x, ww, b, N, In, Out)), w), 'dw');
      const bb = b ?? new Float32Array(Out);
      expectClose(db, fdGrad((v) => dot(gy, linearForward(x, w, v, N, In, Out)), bb), 'db');
    });
  }

  // B > 1 with T > 1: positions restart at each sequence (t = n % T).
  for (const [B, T, heads, hd, neox, theta] of [
    [2, 3, 2, 4, false, 10000],
    [2, 3, 2, 4, true, 10000],
    [3, 9, 1, 6, false, 10], // small theta: large angles in every pair
    [1, 9, 3, 8, true, 10],
  ] as const) {
    it(`rope B=${B} T=${T} heads=${heads} hd=${hd} ${neox ? 'neox' : 'normal'} theta=${theta}`, () => {
      const r = rng(20 + hd + (neox ? 1 : 0));
      const N = B * T;
      const inv = ropeInvFreq(hd, theta);
      const x = randomF32(N * heads * hd, r);
      const gy = randomF32(N * heads * hd, r);
      const y = ropeForward(x, inv, N, T, heads, hd, neox);
      // Forward facts: position 0 of every sequence is unrotated; a rotation keeps each pair's norm.
      for (let b = 0; b < B; b++) {
        const row = b * T * heads * hd;
        for (let c = 0; c < heads * hd; c++) expect(y[row + c]).toBe(x[row + c]);
      }
      const norm2 = (a: ArrayLike<number>) => dot(a, a);
      expect(norm2(y)).toBeCloseTo(norm2(x), 10);
      const dx = ropeBackward(gy, inv, N, T, heads, hd, neox);
      expectClose(dx, fdGrad((xx) => dot(gy, ropeForward(xx, inv, N, T, heads, hd, neox)), x), 'dx');
      // Backward is the inverse rotation: rope⁻¹(rope(x)) = x.
      expectClose(ropeBackward(y, inv, N, T, heads, hd, neox), x, 'inverse', { atol: 1e-14, rtol: 0 });
    });
  }

  for (const [B, T, Hq, Hk, hd] of [
    [2, 4, 4, 2, 4], // GQA, two query heads per kv head
    [2, 3, 2, 2, 2], // plain multi-head
    [1, 5, 3, 1, 4], // MQA: all query heads on one kv head
  ] as const) {
    it(`attention B=${B} T=${T} H=${Hq} Hk=${Hk} hd=${hd}`, () => {
      const r = rng(30 + Hq * 7 + Hk);
      const N = B * T;
      const q = randomF32(N * Hq * hd, r, -1.5, 1.5);
      const k = randomF32(N * Hk * hd, r, -1.5, 1.5);
      const v = randomF32(N * Hk * hd, r);
      const gy = randomF32(N * Hq * hd, r);
      const { out, probs } = attentionForward(q, k, v, B, T, Hq, Hk, hd);
      // Forward facts: rows sum to one, zero above the diagonal, the first query sees only v[0].
      for (let row = 0; row < B * Hq * T; row++) {
        const i = row % T;
        let s = 0;
        for (let j = 0; j < T; j++) {
          if (j > i) expect(probs[row * T + j]).toBe(0);
          s += probs[row * T + j]!;
        }
        expect(s).toBeCloseTo(1, 14);
      }
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < Hq; h++) {
          const kh = Math.floor(h / (Hq / Hk));
          for (let d = 0; d < hd; d++) expect(out[b * T * Hq * hd + h * hd + d]).toBe(v[b * T * Hk * hd + kh * hd + d]);
        }
      }
      const { dq, dk, dv } = attentionBackward(gy, q, k, v, probs, B, T, Hq, Hk, hd);
      const L = (qq: ArrayLike<number>, kk: ArrayLike<number>, vv: ArrayLike<number>) =>
        dot(gy, attentionForward(qq, kk, vv, B, T, Hq, Hk, hd).out);
      expectClose(dq, fdGrad((x) => L(x, k, v), q), 'dq');
      expectClose(dk, fdGrad((x) => L(q, x, v), k), 'dk');
      expectClose(dv, fdGrad((x) => L(q, k, x), v), 'dv');
    });
  }

  it('swiglu, including large |gate| where the sigmoid saturates', () => {
    const r = rng(40);
    const gate = randomF32(24, r, -4, 4);
    gate.set([30, -30, 0, 1e-3], 0);
    const up = randomF32(24, r, -2, 2);
    const gy = randomF32(24, r);
    const a = swigluForward(gate, up);
    expect(a[2]).toBe(0);
    expect(a[0]).toBeCloseTo(30 * up[0]!, 10);
    const { dgate, dup } = swigluBackward(gy, gate, up);
    expectClose(dgate, fdGrad((g) => dot(gy, swigluForward(g, up)), gate), 'dgate');
    expectClose(dup, fdGrad((u) => dot(gy, swigluForward(gate, u)), up), 'dup');
    // Extreme gates stay finite (e^{800} overflows to Infinity; the formula must still give ±0 or g).
    const ext = swigluBackward([1, 1], [800, -800], [1, 1]);
    // (+ 0 folds −0 into 0: the sign of a zero gradient does not matter.)
    expect(Array.from(swigluForward([800, -800], [1, 1]), (x) => x + 0)).toEqual([800, 0]);
    expect(Array.from(ext.dgate, (x) => x + 0)).toEqual([1, 0]);
  });

  it('add passes the gradient to both inputs', () => {
    const r = rng(50);
    const a = randomF32(9, r);
    const b = randomF32(9, r);
    const gy = randomF32(9, r);
    const { da, db } = addBackward(gy);
    expectClose(da, fdGrad((x) => dot(gy, addForward(x, b)), a), 'da');
    expectClose(db, fdGrad((x) => dot(gy, addForward(a, x)), b), 'db');
  });

  for (const [N, V, spread] of [
    [4, 6, 3],
    [5, 11, 1],
    [3, 4, 60], // logits of ±60: exp overflows in f32 without the max subtracted
  ] as const) {
    it(`cross-entropy N=${N} V=${V} logits ±${spread}`, () => {
      const r = rng(60 + V);
      const logits = randomF32(N * V, r, -spread, spread);
      const targets = new Int32Array(N).map(() => Math.floor(r() * V));
      const { loss, rowLoss } = crossEntropyForward(logits, targets, N, V);
      expect(Number.isFinite(loss)).toBe(true);
      for (let n = 0; n < N; n++) expect(rowLoss[n]).toBeGreaterThanOrEqual(0);
      expect(loss).toBeCloseTo(rowLoss.reduce((s, x) => s + x, 0) / N, 14);
      // dlogits of the mean: FD of the mean loss; the rows of softmax − onehot sum to zero.
      const got = crossEntropyBackward(logits, targets, N, V, 1 / N);
      expectClose(got, fdGrad((l) => crossEntropyForward(l, targets, N, V).loss, logits), 'dlogits');
      for (let n = 0; n < N; n++) expect(Math.abs(got.subarray(n * V, (n + 1) * V).reduce((s, x) => s + x, 0))).toBeLessThan(1e-15);
    });
  }

  it('cross-entropy of uniform logits is log V, and the scale multiplies the gradient', () => {
    const V = 8;
    const { loss } = crossEntropyForward(new Float32Array(2 * V).fill(3), new Int32Array([1, 7]), 2, V);
    expect(loss).toBeCloseTo(Math.log(V), 14);
    const g1 = crossEntropyBackward(new Float32Array(V).fill(0), new Int32Array([2]), 1, V, 1);
    const g3 = crossEntropyBackward(new Float32Array(V).fill(0), new Int32Array([2]), 1, V, 3);
    expect(g1[2]).toBeCloseTo(1 / V - 1, 15);
    expect(g3[0]).toBeCloseTo(3 / V, 15);
  });
});
