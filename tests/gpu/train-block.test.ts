import { describe, expect, it } from 'vitest';
import { ropeInvFreq } from '../../shared/engine/reference/rope';
import type { GpuBinding, GpuContext } from '../../shared/gpu';
import { BlockKernels } from '../../shared/train/kernels-block';
import * as ref from '../../shared/train/reference/ops';
import { compareClose, randomF32, rng } from '../support/compare';
import { useGpu } from '../support/gpu';

// Training block kernels (shared/train/kernels-block.ts) against the float64 reference ops.
// Inputs are f32; the reference computes in f64 from the same f32 values, so every error below
// is the kernel's own f32 arithmetic. Tolerances (|got − want| <= atol + rtol·|want|):
//
// - rmsnorm y, rstd: sum of dim squares in f32 (dim/64 terms per invocation + a 6-level tree):
//   relative error <= ~(dim/64 + 6) ulp ≈ 1e-6 at dim 1000, plus a few ulp for 1/sqrt and two
//   products: rtol 1e-5; atol 1e-6 for outputs near zero.
// - rmsnorm dx = r·w·dy − c·x: the two terms (each O(1) here) cancel, so the error is absolute,
//   a few ulp of the larger term plus c's error (a dim-term dot): atol 1e-5, rtol 1e-5.
// - rmsnorm dw: a sum over rows (rows/8 terms per lane, then 8 partials) of O(1) terms: error
//   ~ ulp·√(rows/8)·Σ|t|; measured 4e-6 at 300 rows and 1e-5 at 1000 rows; atol 2e-5 + rtol 1e-5
//   covers the ≤ 300 rows tested here with ≥ 4x margin.
// - rope: the same f32 angle on both sides; range reduction (~5e-7) and f32 cos/sin (~1e-7 on
//   lavapipe) per product, two products per output with |x| <= 1: atol 4e-6, rtol 1e-5.
// - swiglu: a handful of correctly rounded ops plus exp: rtol 4e-6 (forward), 1e-5 (backward,
//   ~10 ops); atol 1e-7 for outputs near zero. add is exact (one rounding of the exact sum, which
//   the reference rounded to f32 reproduces).
// - attention (q, k, v, dout uniform in [−1, 1]): scores are hd-term dots (abs error ~√hd·ulp·√hd
//   ≤ 1e-5 at hd 128) and the probabilities inherit it as relative error; out, dq, dk, dv are
//   sums of up to T (dk, dv: T·H/Hk) terms of size O(1). Measured worst absolute errors on
//   lavapipe, both paths: out 1.4e-7, probs 1e-7, dq 6e-8, dk 3e-7, dv 2.8e-6 (T = 300, where dv
//   sums 300 terms); atol 2e-5 leaves ~7x over the worst, rtol 1e-4 covers the large dv values.
//   probs above the diagonal are exactly zero.
const TOL_RMS_Y = { atol: 1e-6, rtol: 1e-5 };
const TOL_RMS_DX = { atol: 1e-5, rtol: 1e-5 };
const TOL_RMS_DW = { atol: 2e-5, rtol: 1e-5 };
const TOL_ROPE = { atol: 4e-6, rtol: 1e-5 };
const TOL_SWIGLU_FWD = { atol: 1e-7, rtol: 4e-6 };
const TOL_SWIGLU_BWD = { atol: 1e-7, rtol: 1e-5 };
const EXACT = { atol: 0, rtol: 0 };
const TOL_ATT = { atol: 2e-5, rtol: 1e-4 };

const g = useGpu((ctx) => BlockKernels.create(ctx));

// ---- helpers ----------------------------------------------------------------------------

const live: GPUBuffer[] = [];
function up(data: Float32Array | number, label = 't'): GPUBuffer {
  const buf = typeof data === 'number' ? g.ctx!.storage(nanF32(data), label) : g.ctx!.storage(data, label);
  live.push(buf);
  return buf;
}
/** Outputs start as NaN: a kernel that should write everything and skips an element fails. */
function nanF32(n: number): Float32Array {
  return new Float32Array(n).fill(Number.NaN);
}
function freeAll(): void {
  for (const b of live.splice(0)) b.destroy();
}
async function read(b: GPUBuffer, n: number): Promise<Float32Array> {
  return g.ctx!.readF32(b, n);
}
function run(fn: (b: ReturnType<GpuContext['batch']>) => void): void {
  const b = g.ctx!.batch('train-block-test');
  fn(b);
  b.submit();
}
function f32(a: ArrayLike<number>): Float32Array {
  return Float32Array.from(a);
}
function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

// ---- rmsnorm ----------------------------------------------------------------------------

async function checkRmsnorm(rows: number, dim: number, seed: number, accumulate: boolean, eps = 1e-5): Promise<string | null> {
  const r = rng(seed);
  const x = randomF32(rows * dim, r, -2, 2);
  const w = randomF32(dim, r, 0.5, 1.5);
  const dy = randomF32(rows * dim, r);
  const dx0 = randomF32(rows * dim, r);
  const dw0 = randomF32(dim, r);
  const [xb, wb, yb, rb, dyb] = [up(x), up(w), up(rows * dim), up(rows), up(dy)];
  const dxb = up(accumulate ? dx0 : rows * dim);
  const dwb = up(dw0); // parameter gradients always accumulate
  run((b) => {
    g.k!.rmsnormForward(b, { x: xb, w: wb, y: yb, rstd: rb, rows, dim, eps });
    g.k!.rmsnormBackward(b, { dy: dyb, x: xb, w: wb, rstd: rb, dx: dxb, dw: dwb, rows, dim, accumulateDx: accumulate });
  });
  const [y, rstd, dx, dw] = [await read(yb, rows * dim), await read(rb, rows), await read(dxb, rows * dim), await read(dwb, dim)];
  freeAll();
  const label = `rmsnorm rows=${rows} dim=${dim} acc=${accumulate}`;
  const f = ref.rmsnormForward(x, w, rows, dim, eps);
  // The backward reference gets the kernel's own rstd, so dx/dw errors are the backward's alone.
  const bw = ref.rmsnormBackward(dy, x, w, rstd, rows, dim);
  const wantDx = accumulate ? bw.dx.map((v, i) => v + dx0[i]!) : bw.dx;
  const wantDw = bw.dw.map((v, i) => v + dw0[i]!);
  return (
    compareClose(y, f.y, TOL_RMS_Y, `${label} y`) ??
    compareClose(rstd, f.rstd, TOL_RMS_Y, `${label} rstd`) ??
    compareClose(dx, wantDx, TOL_RMS_DX, `${label} dx`) ??
    compareClose(dw, wantDw, TOL_RMS_DW, `${label} dw`)
  );
}

describe('train rmsnorm vs reference', () => {
  it('forward and backward on edge shapes, written and accumulated dx', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    for (const [rows, dim] of [[1, 1], [1, 2], [1, 63], [2, 64], [3, 65], [33, 31], [7, 1000], [300, 128], [1, 4096]] as const) {
      for (const acc of [false, true]) expect(await checkRmsnorm(rows, dim, rows * 977 + dim, acc)).toBeNull();
    }
  });

  it('forward and backward on random shapes', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const r = rng(11);
    for (let i = 0; i < 8; i++) {
      const rows = 1 + Math.floor(r() * 200);
      const dim = 1 + Math.floor(r() * 700);
      expect(await checkRmsnorm(rows, dim, 50 + i, r() < 0.5, r() < 0.5 ? 1e-6 : 1e-5)).toBeNull();
    }
  });
});

// ---- rope -------------------------------------------------------------------------------

async function checkRope(B: number, T: number, heads: number, hd: number, neox: boolean, seed: number): Promise<string | null> {
  const rows = B * T;
  const r = rng(seed);
  const x = randomF32(rows * heads * hd, r);
  const dy = randomF32(rows * heads * hd, r);
  const inv = ropeInvFreq(hd, seed % 2 ? 10000 : 1e6);
  const [xb, dyb, fb] = [up(x), up(dy), up(inv)];
  run((b) => {
    g.k!.ropeForward(b, { x: xb, invFreq: fb, rows, seqLen: T, heads, headDim: hd, neox });
    g.k!.ropeBackward(b, { x: dyb, invFreq: fb, rows, seqLen: T, heads, headDim: hd, neox });
  });
  const [y, dx] = [await read(xb, x.length), await read(dyb, dy.length)];
  freeAll();
  const label = `rope B=${B} T=${T} heads=${heads} hd=${hd} neox=${neox}`;
  return (
    compareClose(y, ref.ropeForward(x, inv, rows, T, heads, hd, neox), TOL_ROPE, `${label} forward`) ??
    compareClose(dx, ref.ropeBackward(dy, inv, rows, T, heads, hd, neox), TOL_ROPE, `${label} backward`)
  );
}

describe('train rope vs reference', () => {
  it('normal and NEOX on edge shapes (T = 1, one row, head dims 2..128)', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    for (const neox of [false, true]) {
      for (const [B, T, heads, hd] of [[1, 1, 1, 2], [3, 1, 2, 4], [2, 5, 3, 8], [1, 300, 2, 128], [4, 17, 5, 6], [2, 64, 1, 126]] as const) {
        expect(await checkRope(B, T, heads, hd, neox, B * 1000 + T * 10 + hd)).toBeNull();
      }
    }
  });

  it('random shapes; backward undoes forward', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const r = rng(12);
    for (let i = 0; i < 8; i++) {
      const B = 1 + Math.floor(r() * 4);
      const T = 1 + Math.floor(r() * 100);
      const heads = 1 + Math.floor(r() * 6);
      const hd = 2 * (1 + Math.floor(r() * 40));
      expect(await checkRope(B, T, heads, hd, r() < 0.5, 200 + i)).toBeNull();
    }
    const x = randomF32(4 * 8 * 3 * 16, rng(5));
    const [xb, fb] = [up(x), up(ropeInvFreq(16, 10000))];
    const a = { x: xb, invFreq: fb, rows: 32, seqLen: 8, heads: 3, headDim: 16, neox: true };
    run((b) => {
      g.k!.ropeForward(b, a);
      g.k!.ropeBackward(b, a);
    });
    expect(compareClose(await read(xb, x.length), x, { atol: 2e-6, rtol: 0 }, 'rope round trip')).toBeNull();
    freeAll();
  });
});

// ---- element-wise -----------------------------------------------------------------------

describe('train element-wise vs reference', () => {
  it('swiglu forward and backward, add, addInPlace, scale', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    for (const n of [1, 255, 256, 257, 5000, 70_000]) {
      const r = rng(n);
      const gate = randomF32(n, r, -12, 12);
      const upv = randomF32(n, r, -3, 3);
      const dout = randomF32(n, r);
      const [gb, ub, ob, db, dgb, dub] = [up(gate), up(upv), up(n), up(dout), up(n), up(n)];
      const [sumb, xb] = [up(n), up(gate)];
      run((b) => {
        g.k!.swigluForward(b, { gate: gb, up: ub, out: ob, n });
        g.k!.swigluBackward(b, { dout: db, gate: gb, up: ub, dgate: dgb, dup: dub, n });
        g.k!.add(b, { a: gb, b: ub, out: sumb, n });
        g.k!.addInPlace(b, { x: xb, y: ub, n });
        g.k!.scale(b, { x: xb, n, s: 0.375 });
      });
      const bw = ref.swigluBackward(dout, gate, upv);
      const sum = f32(ref.addForward(gate, upv));
      expect(compareClose(await read(ob, n), ref.swigluForward(gate, upv), TOL_SWIGLU_FWD, `swiglu n=${n}`)).toBeNull();
      expect(compareClose(await read(dgb, n), bw.dgate, TOL_SWIGLU_BWD, `swiglu dgate n=${n}`)).toBeNull();
      expect(compareClose(await read(dub, n), bw.dup, TOL_SWIGLU_BWD, `swiglu dup n=${n}`)).toBeNull();
      expect(compareClose(await read(sumb, n), sum, EXACT, `add n=${n}`)).toBeNull();
      // (a + b)·0.375: the sum rounds once, the product by 3/8 is exact.
      expect(compareClose(await read(xb, n), sum.map((v) => v * 0.375), EXACT, `addInPlace+scale n=${n}`)).toBeNull();
      freeAll();
    }
  });
});

// ---- attention --------------------------------------------------------------------------

interface AttShape {
  B: number;
  T: number;
  H: number;
  Hk: number;
  hd: number;
}

async function attentionGpu(s: AttShape, q: Float32Array, k: Float32Array, v: Float32Array, dout: Float32Array) {
  const { B, T, H, Hk, hd } = s;
  const shape = { batch: B, seqLen: T, heads: H, kvHeads: Hk, headDim: hd };
  const [qb, kb, vb, db] = [up(q), up(k), up(v), up(dout)];
  const [ob, pb, dpb] = [up(B * T * H * hd), up(B * H * T * T), up(B * H * T * T)];
  const [dqb, dkb, dvb] = [up(B * T * H * hd), up(B * T * Hk * hd), up(B * T * Hk * hd)];
  run((b) => {
    g.k!.attentionForward(b, { q: qb, k: kb, v: vb, out: ob, probs: pb, ...shape });
    g.k!.attentionBackward(b, { dout: db, q: qb, k: kb, v: vb, probs: pb, dq: dqb, dk: dkb, dv: dvb, dprobs: dpb, ...shape });
  });
  const res = {
    out: await read(ob, B * T * H * hd),
    probs: await read(pb, B * H * T * T),
    dq: await read(dqb, B * T * H * hd),
    dk: await read(dkb, B * T * Hk * hd),
    dv: await read(dvb, B * T * Hk * hd),
  };
  freeAll();
  return res;
}

function attentionInputs(s: AttShape, seed: number) {
  const r = rng(seed);
  const N = s.B * s.T;
  return {
    q: randomF32(N * s.H * s.hd, r),
    k: randomF32(N * s.Hk * s.hd, r),
    v: randomF32(N * s.Hk * s.hd, r),
    dout: randomF32(N * s.H * s.hd, r),
  };
}

async function checkAttention(s: AttShape, seed: number): Promise<string | null> {
  const { B, T, H, Hk, hd } = s;
  const x = attentionInputs(s, seed);
  const got = await attentionGpu(s, x.q, x.k, x.v, x.dout);
  const label = `attention B=${B} T=${T} H=${H} Hk=${Hk} hd=${hd}`;
  const f = ref.attentionForward(x.q, x.k, x.v, B, T, H, Hk, hd);
  // The backward reference reads the kernel's probs (as the kernel does), so its errors are its own.
  const bw = ref.attentionBackward(x.dout, x.q, x.k, x.v, got.probs, B, T, H, Hk, hd);
  for (let i = 0; i < got.probs.length; i++) {
    const row = Math.floor(i / T) % T;
    if (i % T > row && got.probs[i] !== 0) return `${label}: probs[${i}] above the diagonal is ${got.probs[i]}, not 0`;
  }
  return (
    compareClose(got.out, f.out, TOL_ATT, `${label} out`) ??
    compareClose(got.probs, f.probs, TOL_ATT, `${label} probs`) ??
    compareClose(got.dq, bw.dq, TOL_ATT, `${label} dq`) ??
    compareClose(got.dk, bw.dk, TOL_ATT, `${label} dk`) ??
    compareClose(got.dv, bw.dv, TOL_ATT, `${label} dv`)
  );
}

describe('train attention vs reference', () => {
  it('forward and backward on edge shapes (T = 1, kvHeads = heads / 1, odd dims, hd 128, T 300; both paths)', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const shapes: AttShape[] = [
      { B: 1, T: 1, H: 1, Hk: 1, hd: 1 },
      { B: 2, T: 1, H: 2, Hk: 1, hd: 4 },
      { B: 1, T: 3, H: 3, Hk: 3, hd: 5 },
      { B: 2, T: 31, H: 4, Hk: 2, hd: 33 },
      { B: 1, T: 33, H: 2, Hk: 1, hd: 17 },
      { B: 1, T: 64, H: 4, Hk: 4, hd: 128 },
      { B: 3, T: 47, H: 6, Hk: 3, hd: 16 },
      { B: 1, T: 300, H: 2, Hk: 1, hd: 32 },
      { B: 2, T: 100, H: 4, Hk: 2, hd: 36 }, // fast path, second head-dim chunk partial
      { B: 1, T: 65, H: 1, Hk: 1, hd: 12 },
      { B: 1, T: 130, H: 2, Hk: 1, hd: 6 }, // generic path (hd % 4 != 0), several tiles
    ];
    for (const [i, s] of shapes.entries()) expect(await checkAttention(s, 300 + i)).toBeNull();
  });

  it('forward and backward on random shapes', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const r = rng(13);
    for (let i = 0; i < 6; i++) {
      const Hk = 1 + Math.floor(r() * 3);
      const H = Hk * (1 + Math.floor(r() * 3));
      const s = { B: 1 + Math.floor(r() * 3), T: 1 + Math.floor(r() * 90), H, Hk, hd: 1 + Math.floor(r() * 70) };
      expect(await checkAttention(s, 400 + i)).toBeNull();
    }
  });

  it('stays finite and matches with large scores (max-subtracted softmax)', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const s = { B: 1, T: 40, H: 2, Hk: 1, hd: 64 };
    const x = attentionInputs(s, 77);
    // Scores up to ~±60·64/8 = ±480: exp would overflow f32 without the max subtracted.
    const q = x.q.map((v) => v * 60);
    const got = await attentionGpu(s, q, x.k, x.v, x.dout);
    const f = ref.attentionForward(q, x.k, x.v, s.B, s.T, s.H, s.Hk, s.hd);
    expect(got.out.every(Number.isFinite) && got.dq.every(Number.isFinite)).toBe(true);
    // Scores of ±480 carry an absolute error ~480·ulp·√hd ≈ 2e-4, which becomes relative error in probs.
    expect(compareClose(got.out, f.out, { atol: 1e-3, rtol: 1e-3 }, 'large-score out')).toBeNull();
  });
});

// ---- bindings into one buffer, determinism ------------------------------------------------

describe('train block kernels: ranges of one buffer, accumulation, determinism', () => {
  // hd 24: the fast attention path (hd % 4 == 0); hd 10: the generic one.
  it.for([24, 10])('works on 256-aligned ranges of one arena (inputs and outputs side by side) and is bitwise reproducible (hd %i)', async (hd0, t) => {
    if (!g.ctx) return t.skip(g.reason);
    const ctx = g.ctx;
    const s = { B: 2, T: 37, H: 4, Hk: 2, hd: hd0 };
    const { B, T, H, Hk, hd } = s;
    const N = B * T;
    const D = H * hd;
    const x = attentionInputs(s, 5);
    const rx = randomF32(N * D, rng(6), -2, 2);
    const rw = randomF32(D, rng(7), 0.5, 1.5);
    const rdy = randomF32(N * D, rng(8));
    // Lay every tensor out in one activation arena and the weight/gradient in flat buffers.
    const sizes: Record<string, number> = {
      q: N * D, k: N * Hk * hd, v: N * Hk * hd, dout: N * D, out: N * D, probs: B * H * T * T, dprobs: B * H * T * T,
      dq: N * D, dk: N * Hk * hd, dv: N * Hk * hd, x: N * D, y: N * D, rstd: N, dy: N * D, dx: N * D,
    };
    let off = 0;
    const at: Record<string, { offset: number; size: number }> = {};
    for (const [name, n] of Object.entries(sizes)) {
      at[name] = { offset: off, size: n * 4 };
      off += Math.ceil((n * 4) / 256) * 256;
    }
    const arenaInit = new Float32Array(off / 4).fill(Number.NaN);
    for (const [name, data] of [['q', x.q], ['k', x.k], ['v', x.v], ['dout', x.dout], ['x', rx], ['dy', rdy]] as const) {
      arenaInit.set(data, at[name]!.offset / 4);
    }
    // Parameters: [pad 64 | w]; gradients: [pad 64 | dw], dw pre-filled (accumulation).
    const params = new Float32Array(64 + D);
    params.set(rw, 64);
    const dw0 = randomF32(D, rng(9));
    const grads = new Float32Array(64 + D).fill(Number.NaN);
    grads.set(dw0, 64);

    const once = async () => {
      const arena = up(arenaInit, 'arena');
      const pbuf = up(params, 'params');
      const gbuf = up(grads, 'grads');
      const r = (name: string): GpuBinding => ({ buffer: arena, ...at[name]! });
      const shape = { batch: B, seqLen: T, heads: H, kvHeads: Hk, headDim: hd };
      run((b) => {
        g.k!.attentionForward(b, { q: r('q'), k: r('k'), v: r('v'), out: r('out'), probs: r('probs'), ...shape });
        g.k!.attentionBackward(b, { dout: r('dout'), q: r('q'), k: r('k'), v: r('v'), probs: r('probs'), dq: r('dq'), dk: r('dk'), dv: r('dv'), dprobs: r('dprobs'), ...shape });
        const w = { buffer: pbuf, offset: 256, size: D * 4 };
        g.k!.rmsnormForward(b, { x: r('x'), w, y: r('y'), rstd: r('rstd'), rows: N, dim: D, eps: 1e-5 });
        g.k!.rmsnormBackward(b, { dy: r('dy'), x: r('x'), w, rstd: r('rstd'), dx: r('dx'), dw: { buffer: gbuf, offset: 256, size: D * 4 }, rows: N, dim: D });
      });
      const all = new Float32Array(await ctx.read(arena));
      const dwAll = await read(gbuf, 64 + D);
      freeAll();
      return { all, dwAll };
    };
    const a = await once();
    const view = (z: Float32Array, name: string) => z.subarray(at[name]!.offset / 4, at[name]!.offset / 4 + sizes[name]!);
    const f = ref.attentionForward(x.q, x.k, x.v, B, T, H, Hk, hd);
    const bw = ref.attentionBackward(x.dout, x.q, x.k, x.v, view(a.all, 'probs'), B, T, H, Hk, hd);
    expect(compareClose(view(a.all, 'out'), f.out, TOL_ATT, 'arena out')).toBeNull();
    expect(compareClose(view(a.all, 'dq'), bw.dq, TOL_ATT, 'arena dq')).toBeNull();
    expect(compareClose(view(a.all, 'dk'), bw.dk, TOL_ATT, 'arena dk')).toBeNull();
    expect(compareClose(view(a.all, 'dv'), bw.dv, TOL_ATT, 'arena dv')).toBeNull();
    const rf = ref.rmsnormForward(rx, rw, N, D, 1e-5);
    const rb = ref.rmsnormBackward(rdy, rx, rw, view(a.all, 'rstd'), N, D);
    expect(compareClose(view(a.all, 'y'), rf.y, TOL_RMS_Y, 'arena rmsnorm y')).toBeNull();
    expect(compareClose(view(a.all, 'dx'), rb.dx, TOL_RMS_DX, 'arena rmsnorm dx')).toBeNull();
    expect(compareClose(a.dwAll.subarray(64), rb.dw.map((v, i) => v + dw0[i]!), TOL_RMS_DW, 'arena rmsnorm dw')).toBeNull();
    // Nothing outside the ranges was touched: the gradient buffer's padding is still NaN, and
    // the arena's gaps between tensors too.
    expect(a.dwAll.subarray(0, 64).every(Number.isNaN)).toBe(true);
    for (const [name, n] of Object.entries(sizes)) {
      const end = at[name]!.offset / 4 + n;
      const gapEnd = Math.ceil(end / 64) * 64;
      expect(a.all.subarray(end, gapEnd).every(Number.isNaN), `gap after ${name}`).toBe(true);
    }
    // Same inputs, fresh buffers: bitwise the same (no atomics, fixed reduction orders).
    const b2 = await once();
    expect(bitsEqual(a.all, b2.all)).toBe(true);
    expect(bitsEqual(a.dwAll, b2.dwAll)).toBe(true);
  });

  it('rejects mismatched heads, odd rope head dims, short and misaligned bindings', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const buf = up(1024);
    const b = g.ctx.batch('bad');
    const shape = { batch: 1, seqLen: 4, heads: 3, kvHeads: 2, headDim: 8 };
    expect(() => g.k!.attentionForward(b, { q: buf, k: buf, v: buf, out: buf, probs: buf, ...shape })).toThrow(/multiple of kvHeads/);
    expect(() => g.k!.ropeForward(b, { x: buf, invFreq: buf, rows: 1, seqLen: 1, heads: 1, headDim: 3, neox: false })).toThrow(/even/);
    expect(() => g.k!.add(b, { a: buf, b: buf, out: buf, n: 2000 })).toThrow(/needs 8000/);
    expect(() => g.k!.scale(b, { x: { buffer: buf, offset: 4 }, n: 1, s: 2 })).toThrow(/multiple of/);
    b.submit();
    freeAll();
  });
});

// Timing of attention forward + backward at the training size (not a check: prints the figure
// recorded in specs/training.md). PXI_TRAIN_BLOCK_TIMING=1 npx vitest run tests/gpu/train-block -t timing
describe('train attention timing', () => {
  it('timing: attention fwd+bwd at B=8 T=256 H=4 hd=32', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    if (!process.env.PXI_TRAIN_BLOCK_TIMING) return t.skip('set PXI_TRAIN_BLOCK_TIMING=1 to measure');
    const ctx = g.ctx;
    const s = { B: 8, T: 256, H: 4, Hk: 4, hd: 32 };
    const x = attentionInputs(s, 1);
    const N = s.B * s.T;
    const [qb, kb, vb, db] = [up(x.q), up(x.k), up(x.v), up(x.dout)];
    const [ob, pb, dpb, dqb, dkb, dvb] = [up(N * 128), up(s.B * s.H * s.T * s.T), up(s.B * s.H * s.T * s.T), up(N * 128), up(N * 128), up(N * 128)];
    const shape = { batch: s.B, seqLen: s.T, heads: s.H, kvHeads: s.Hk, headDim: s.hd };
    const times: Record<string, number[]> = { fwd: [], bwd: [], both: [] };
    for (let i = 0; i < 7; i++) {
      for (const mode of ['fwd', 'bwd', 'both'] as const) {
        await ctx.sync();
        const t0 = performance.now();
        run((b) => {
          if (mode !== 'bwd') g.k!.attentionForward(b, { q: qb, k: kb, v: vb, out: ob, probs: pb, ...shape });
          if (mode !== 'fwd') g.k!.attentionBackward(b, { dout: db, q: qb, k: kb, v: vb, probs: pb, dq: dqb, dk: dkb, dv: dvb, dprobs: dpb, ...shape });
        });
        await ctx.sync();
        if (i > 1) times[mode]!.push(performance.now() - t0); // the first runs compile and warm up
      }
    }
    const med = (a: number[]) => a.sort((p, q) => p - q)[Math.floor(a.length / 2)]!.toFixed(1);
    console.log(`attention B=8 T=256 H=4 hd=32 on ${ctx.adapter.description || ctx.adapter.device}: fwd ${med(times.fwd!)} ms, bwd ${med(times.bwd!)} ms, fwd+bwd ${med(times.both!)} ms (median of 5)`);
    expect((await read(dqb, 64)).every(Number.isFinite)).toBe(true);
    freeAll();
  });
});
