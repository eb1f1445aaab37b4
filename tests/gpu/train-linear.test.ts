import { beforeAll, describe, expect, it } from 'vitest';
import type { GpuBatch, GpuBinding } from '../../shared/gpu';
import { TrainError } from '../../shared/train/errors';
import { LinearKernels, embeddingIndex, packEmbeddingIndex } from '../../shared/train/kernels-linear';
import * as ref from '../../shared/train/reference/ops';
import { compareClose, randomF32, rng } from '../support/compare';
import { useGpu } from '../support/gpu';

// LinearKernels (shared/train/kernels-linear.ts) against the float64 reference ops. Inputs are
// f32 and the reference computes in f64 from the same values, so every error is the kernel's own
// f32 arithmetic. Both matrix-product kernels are checked: the one `create` picks (subgroup8 on
// lavapipe) and the portable tiled one, forced.
//
// Tolerances, u = 2⁻²⁴ (f32 unit roundoff):
// - Products: each output is a K-term f32 sum of products (fma), so |err| ≤ γ_K·Σ_k |a_k b_k| with
//   γ_K ≈ K·u (the classical bound for recursive summation). The tests bound every element by
//   (K + 2)·u·(Σ|a||b| + |bias| + |c₀|) (two more roundings for the bias and the accumulate add),
//   computed per element from |A|·|B| in f64. The bound is rigorous, so never flaky, and still
//   tight: dropping one k term (error ≈ Σ|a||b| / K) exceeds it for every K < 4096 tested here.
// - Column sums (db) and the embedding scatter-add: the same bound with K = rows summed.
// - Embedding forward is a copy: exact.
// - Cross-entropy (vocab V): each exp(x − m) with x ≤ m has an absolute error ≤ 3u (Vulkan allows
//   3 + 2|x| ulp; (3 + 2t)e⁻ᵗ ≤ 3) and the V-term sum adds ≤ V·u relative, with s ≥ 1, so
//   log(s) is off by ≤ 4V·u + log's own ≤ 2⁻²¹; m − x_t is exact. rowLoss: atol (4V + 8)·u,
//   rtol 4u. dlogits = (p − onehot)·scale with p = e/s: |err| ≤ (4V + 8)·u·scale.
const U = 2 ** -24;

const gpu = useGpu();
let auto: LinearKernels | null = null;
let tiled: LinearKernels | null = null;
const live: GPUBuffer[] = [];

beforeAll(async () => {
  if (gpu.ctx) [auto, tiled] = await Promise.all([LinearKernels.create(gpu.ctx), LinearKernels.create(gpu.ctx, { matmul: 'tiled' })]);
});

function up(a: Float32Array | Int32Array | Uint32Array): GPUBuffer {
  const b = gpu.ctx!.storage(a, 'test');
  live.push(b);
  return b;
}
function zeros(n: number): GPUBuffer {
  return up(new Float32Array(Math.max(1, n)));
}
function free(): void {
  for (const b of live.splice(0)) b.destroy();
}
async function run(fn: (b: GpuBatch) => void): Promise<void> {
  const b = gpu.ctx!.batch('test');
  fn(b);
  b.submit();
  await gpu.ctx!.sync();
}
const readF = (b: GPUBuffer, n: number, off = 0) => gpu.ctx!.readF32(b, n, off);

/** null when |got − want| ≤ bound[i] everywhere, else where and by how much. */
function within(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number>, label: string): string | null {
  if (got.length !== want.length) return `${label}: length ${got.length}, expected ${want.length}`;
  const bad: string[] = [];
  let nBad = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    if (!(err <= bound[i]!)) {
      nBad++;
      if (bad.length < 5) bad.push(`  [${i}] got ${got[i]}, want ${want[i]}, |err| ${err.toExponential(2)} > ${bound[i]!.toExponential(2)}`);
    }
  }
  return nBad ? `${label}: ${nBad}/${want.length} outside the bound\n${bad.join('\n')}` : null;
}

const abs = (a: ArrayLike<number>) => Float64Array.from(a, Math.abs);

/** [r, c] → [c, r]. */
function transpose(a: ArrayLike<number>, r: number, c: number): Float64Array {
  const t = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = a[i * c + j]!;
  return t;
}

interface Shape {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  accumulate: boolean;
  bias: boolean;
}

/** op(A)·op(B) (+ bias) (+ c0) in f64 via the reference linearForward (y = x·wᵀ), and its bound. */
function matmulRef(A: Float32Array, B: Float32Array, bias: Float32Array | null, c0: Float32Array | null, s: Shape) {
  const { M, N, K } = s;
  const x = s.transA ? transpose(A, K, M) : A; // op(A) as [M, K]
  const w = s.transB ? B : transpose(B, K, N); // op(B)ᵀ as [N, K]
  const want = ref.linearForward(x, w, bias, M, K, N);
  const mag = ref.linearForward(abs(x), abs(w), bias ? abs(bias) : null, M, K, N);
  const bound = new Float64Array(M * N);
  for (let i = 0; i < M * N; i++) {
    if (c0) want[i]! += c0[i]!;
    bound[i] = (K + 2) * U * (mag[i]! + (c0 ? Math.abs(c0[i]!) : 0));
  }
  return { want, bound };
}

/** Work recorded into a shared batch; its output buffers are read back together and checked. */
interface Case {
  record(b: GpuBatch): void;
  outputs: GPUBuffer[];
  verify(values: Float32Array[]): string | null;
}

/**
 * Records every case into one batch and reads every output back with one copy (lavapipe's
 * submit and map round trips, not the kernels, dominate small cases).
 */
async function runCases(cases: Case[]): Promise<string> {
  const outs = cases.flatMap((c) => c.outputs);
  const total = outs.reduce((n, o) => n + o.size, 0);
  const gather = gpu.ctx!.storage(total, 'gather');
  const b = gpu.ctx!.batch('test');
  for (const c of cases) c.record(b);
  let at = 0;
  for (const o of outs) {
    b.copy(o, 0, gather, at, o.size);
    at += o.size;
  }
  b.submit();
  const all = await gpu.ctx!.readF32(gather);
  gather.destroy();
  free();
  at = 0;
  const errs: string[] = [];
  for (const c of cases) {
    const values = c.outputs.map((o) => {
      const v = all.subarray(at / 4, (at + o.size) / 4);
      at += o.size;
      return v;
    });
    const e = c.verify(values);
    if (e) errs.push(e);
  }
  // A short summary keeps a failure's report readable (and vitest's diff fast).
  return errs.length ? `${errs.length} of ${cases.length} cases fail; the first:\n${errs.slice(0, 3).join('\n')}` : '';
}

/** The shape on both kernels, against one reference. */
function matmulCases(s: Shape, seed: number): Case[] {
  const r = rng(seed);
  const A = randomF32(s.M * s.K, r);
  const B = randomF32(s.K * s.N, r);
  const bias = s.bias ? randomF32(s.N, r) : null;
  const c0 = randomF32(s.M * s.N, r, -2, 2);
  const expected = matmulRef(A, B, bias, s.accumulate ? c0 : null, s);
  return [auto!, tiled!].map((k) => {
    const cb = up(c0);
    return {
      record: (b) =>
        k.matmul(b, { a: up(A), b: up(B), c: cb, M: s.M, N: s.N, K: s.K, transA: s.transA, transB: s.transB, accumulate: s.accumulate, bias: bias ? up(bias) : null }),
      outputs: [cb],
      verify: ([c]) => {
        const path = k.usesSubgroup8(s) ? 'subgroup8' : 'tiled';
        return within(c!.subarray(0, s.M * s.N), expected.want, expected.bound, `matmul ${path} ${JSON.stringify(s)} seed ${seed}`);
      },
    };
  });
}

const flagsOf = (i: number) => ({ transA: !!(i & 1), transB: !!(i & 2), accumulate: !!(i & 4), bias: !!(i & 8) });

describe('matmul vs reference', () => {
  it('matches on edge shapes (1, tile ±1, odd, K not a multiple of 4), every transposition', async (t) => {
    if (!gpu.ctx) return t.skip(gpu.reason);
    // Tiles: tiled 64×64 (k slices of 16), subgroup8 16×32 (k steps of 4).
    const sizes: [number, number, number][] = [
      [1, 1, 1],
      [1, 1, 4],
      [4, 1, 8],
      [1, 9, 4],
      [4, 4, 4],
      [15, 17, 4],
      [17, 15, 12],
      [16, 16, 16],
      [15, 28, 8],
      [17, 36, 12],
      [16, 32, 16],
      [33, 31, 4],
      [7, 9, 11],
      [3, 5, 13],
      [63, 65, 17],
      [65, 64, 16],
      [64, 63, 20],
      [8, 130, 36],
    ];
    const cases: Case[] = [];
    let i = 0;
    for (const [M, N, K] of sizes) {
      for (let f = 0; f < 16; f += 1) {
        if ((f + i) % 3 !== 0 && M * N * K > 64) continue; // every flag set on the small shapes, a third on the others
        cases.push(...matmulCases({ M, N, K, ...flagsOf(f) }, 100 + i));
        i++;
      }
    }
    expect(await runCases(cases)).toBe('');
  });

  it('matches on random shapes', async (t) => {
    if (!gpu.ctx) return t.skip(gpu.reason);
    const r = rng(9);
    const cases: Case[] = [];
    for (let i = 0; i < 14; i++) {
      const f = flagsOf(Math.floor(r() * 16));
      let M = 1 + Math.floor(r() * 130);
      let N = 1 + Math.floor(r() * 130);
      let K = 1 + Math.floor(r() * 260);
      // Half the shapes on the subgroup8 kernel's terms (K % 4 == 0; M % 4 == 0 with transA;
      // N % 4 == 0 without transB).
      if (i % 2 === 0) {
        K = 4 * Math.ceil(K / 4);
        if (f.transA) M = 4 * Math.ceil(M / 4);
        if (!f.transB) N = 4 * Math.ceil(N / 4);
      }
      cases.push(...matmulCases({ M, N, K, ...f }, 500 + i));
    }
    expect(await runCases(cases)).toBe('');
  });

  it('matches on training-shaped products (rows 256, in 96, out 40)', async (t) => {
    if (!gpu.ctx) return t.skip(gpu.reason);
    const [rows, inDim, outDim] = [256, 96, 40];
    const uses: Shape[] = [
      { M: rows, N: outDim, K: inDim, transA: false, transB: true, accumulate: false, bias: true }, // y = x·Wᵀ + b
      { M: rows, N: inDim, K: outDim, transA: false, transB: false, accumulate: false, bias: false }, // dX = dy·W
      { M: outDim, N: inDim, K: rows, transA: true, transB: false, accumulate: true, bias: false }, // dW += dyᵀ·x
    ];
    expect(await runCases(uses.flatMap((s, i) => matmulCases(s, 900 + i)))).toBe('');
  });

  it('rejects sizes that are not positive integers and bindings that are too small', async (t) => {
    if (!gpu.ctx) return t.skip(gpu.reason);
    const a = zeros(16);
    const b = gpu.ctx.batch();
    expect(() => auto!.matmul(b, { a, b: a, c: zeros(16), M: 0, N: 1, K: 1 })).toThrow(/M must be a positive integer/);
    expect(() => auto!.matmul(b, { a, b: a, c: zeros(16), M: 2, N: 2, K: 1.5 })).toThrow(/K must be a positive integer/);
    expect(() => auto!.matmul(b, { a, b: a, c: zeros(16), M: 8, N: 8, K: 8 })).toThrow(/a needs 256 bytes, the binding has 64/);
    free();
  });
});

describe('linear layer encoders vs reference', () => {
  /** linearForward + linearBackward of one layer on one kernel set, as a batched case. */
  function layerCase(k: LinearKernels, rows: number, inDim: number, outDim: number, withBias: boolean, accumulateDx: boolean, seed: number): Case {
    const r = rng(seed);
    const x = randomF32(rows * inDim, r);
    const w = randomF32(outDim * inDim, r, -0.5, 0.5);
    const bias = withBias ? randomF32(outDim, r) : null;
    const dy = randomF32(rows * outDim, r);
    // Gradients accumulate onto what is there (dw, db always; dx when accumulateDx).
    const dx0 = randomF32(rows * inDim, r);
    const dw0 = randomF32(outDim * inDim, r);
    const db0 = randomF32(outDim, r);
    const [yb, dxb, dwb, dbb] = [zeros(rows * outDim), up(dx0), up(dw0), up(db0)];
    return {
      record: (b) => {
        const [xb, wb, dyb] = [up(x), up(w), up(dy)];
        k.linearForward(b, { x: xb, w: wb, bias: bias ? up(bias) : undefined, y: yb, rows, inDim, outDim });
        k.linearBackward(b, { dy: dyb, x: xb, w: wb, dx: dxb, dw: dwb, db: withBias ? dbb : undefined, rows, inDim, outDim, accumulateDx });
      },
      outputs: [yb, dxb, dwb, dbb],
      verify: (v) => {
        const [y, dx, dw, db] = [v[0]!.subarray(0, rows * outDim), v[1]!.subarray(0, rows * inDim), v[2]!.subarray(0, outDim * inDim), v[3]!.subarray(0, outDim)];
        const label = `${k.matmulVariant} rows=${rows} in=${inDim} out=${outDim} bias=${withBias} accDx=${accumulateDx}`;
        const wantY = ref.linearForward(x, w, bias, rows, inDim, outDim);
        const magY = ref.linearForward(abs(x), abs(w), bias ? abs(bias) : null, rows, inDim, outDim);
        const g = ref.linearBackward(dy, x, w, rows, inDim, outDim);
        const m = ref.linearBackward(abs(dy), abs(x), abs(w), rows, inDim, outDim); // Σ|terms| of each sum
        const bound = (mag: Float64Array, K: number, c0?: Float32Array) => mag.map((v, i) => (K + 2) * U * (v + (c0 ? Math.abs(c0[i]!) : 0)));
        const plus = (a: Float64Array, c0: Float32Array) => a.map((v, i) => v + c0[i]!);
        const errs = [
          within(y, wantY, bound(magY, inDim), `y ${label}`),
          within(dx, accumulateDx ? plus(g.dx, dx0) : g.dx, bound(m.dx, outDim, accumulateDx ? dx0 : undefined), `dx ${label}`),
          within(dw, plus(g.dw, dw0), bound(m.dw, rows, dw0), `dw ${label}`),
          // Without a bias db is not passed and must stay as it was.
          within(db, withBias ? plus(g.db, db0) : Float64Array.from(db0), withBias ? bound(m.db, rows, db0) : new Float64Array(outDim), `db ${label}`),
        ].filter((e) => e !== null);
        return errs.length ? errs.join('\n') : null;
      },
    };
  }

  it('forward, dx (written or added), dw += and db += match on several shapes', async (t) => {
    if (!gpu.ctx) return t.skip(gpu.reason);
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [5, 3, 7],
      [17, 12, 20],
      [64, 36, 40],
      [130, 64, 48],
      [33, 65, 17],
    ];
    const cases: Case[] = [];
    let i = 0;
    for (const [rows, inDim, outDim] of shapes) {
      for (const k of [auto!, tiled!]) {
        cases.push(layerCase(k, rows, inDim, outDim, i % 2 === 0, i % 3 === 0, 1000 + i));
        i++;
      }
    }
    expect(await runCases(cases)).toBe('');
  });

  it('works on ranges of flat buffers at 256-byte offsets and leaves the rest untouched', async (t) => {
    if (!gpu.ctx) return t.skip(gpu.reason);
    const [rows, inDim, outDim] = [24, 20, 12];
    const r = rng(77);
    // As a trainer keeps them: parameters (w | bias), inputs (x | dy) and outputs (y | dx | dw |
    // db) each in one flat buffer, every tensor at a 256-aligned offset, the gaps filled with a
    // sentinel that must survive. (WebGPU forbids one buffer bound both read-only and writable
    // in one dispatch, so what a product writes lives in another buffer than what it reads.)
    type Name = 'w' | 'bias' | 'x' | 'dy' | 'y' | 'dx' | 'dw' | 'db';
    const groups: Name[][] = [
      ['w', 'bias'],
      ['x', 'dy'],
      ['y', 'dx', 'dw', 'db'],
    ];
    const size: Record<Name, number> = { w: outDim * inDim, bias: outDim, x: rows * inDim, dy: rows * outDim, y: rows * outDim, dx: rows * inDim, dw: outDim * inDim, db: outDim };
    const SENTINEL = -777;
    const off = {} as Record<Name, number>;
    const val = {} as Record<Name, Float32Array>;
    const flat: Float32Array[] = [];
    for (const g of groups) {
      let at = 64; // nothing at offset 0, so an ignored offset shows
      for (const n of g) {
        off[n] = at;
        at += Math.ceil(size[n] / 64) * 64 + 64; // 64 f32 = 256 bytes
      }
      const f = new Float32Array(at).fill(SENTINEL);
      for (const n of g) {
        val[n] = n === 'y' || n === 'dx' ? new Float32Array(size[n]) : randomF32(size[n], r);
        f.set(val[n], off[n]);
      }
      flat.push(f);
    }
    const fwd = ref.linearForward(val.x, val.w, val.bias, rows, inDim, outDim);
    const g = ref.linearBackward(val.dy, val.x, val.w, rows, inDim, outDim);
    for (const k of [auto!, tiled!]) {
      const bufs = flat.map((f) => up(f));
      const at = (n: Name): GpuBinding => ({ buffer: bufs[groups.findIndex((gr) => gr.includes(n))]!, offset: off[n] * 4, size: size[n] * 4 });
      await run((b) => {
        k.linearForward(b, { x: at('x'), w: at('w'), bias: at('bias'), y: at('y'), rows, inDim, outDim });
        k.linearBackward(b, { dy: at('dy'), x: at('x'), w: at('w'), dx: at('dx'), dw: at('dw'), db: at('db'), rows, inDim, outDim, accumulateDx: false });
      });
      const got = await Promise.all(bufs.map((b) => gpu.ctx!.readF32(b)));
      const part = (n: Name) => {
        const gi = groups.findIndex((gr) => gr.includes(n));
        return got[gi]!.subarray(off[n], off[n] + size[n]);
      };
      const TOL = { atol: 4e-5, rtol: 0 }; // sums of ≤ 24 terms of size ≤ 1 (+ one add): (24 + 2)·u·25 ≈ 3.9e-5
      expect(compareClose(part('y'), fwd, TOL, `${k.matmulVariant} y`)).toBeNull();
      expect(compareClose(part('dx'), g.dx, TOL, `${k.matmulVariant} dx`)).toBeNull();
      expect(compareClose(part('dw'), g.dw.map((d, i) => d + val.dw[i]!), TOL, `${k.matmulVariant} dw`)).toBeNull();
      expect(compareClose(part('db'), g.db.map((d, i) => d + val.db[i]!), TOL, `${k.matmulVariant} db`)).toBeNull();
      for (const n of ['w', 'bias', 'x', 'dy'] as const) expect([...part(n)]).toEqual([...val[n]]);
      groups.forEach((gr, gi) => {
        const inside = new Uint8Array(flat[gi]!.length);
        for (const n of gr) inside.fill(1, off[n], off[n] + size[n]);
        expect([...got[gi]!].filter((x, i) => !inside[i] && x !== SENTINEL).length).toBe(0);
      });
      free();
    }
  });

  it('is deterministic: the same inputs give the same bits', async (t) => {
    if (!gpu.ctx) return t.skip(gpu.reason);
    const [rows, inDim, outDim] = [200, 72, 52];
    const r = rng(5);
    const x = up(randomF32(rows * inDim, r));
    const w = up(randomF32(outDim * inDim, r));
    const dy = up(randomF32(rows * outDim, r));
    for (const k of [auto!, tiled!]) {
      const outs: Uint32Array[][] = [];
      for (let rep = 0; rep < 2; rep++) {
        const [y, dx, dw, db] = [zeros(rows * outDim), zeros(rows * inDim), zeros(outDim * inDim), zeros(outDim)];
        await run((b) => {
          k.linearForward(b, { x, w, y, rows, inDim, outDim });
          k.linearBackward(b, { dy, x, w, dx, dw, db, rows, inDim, outDim });
        });
        outs.push(await Promise.all([y, dx, dw, db].map(async (t) => new Uint32Array((await gpu.ctx!.readF32(t)).buffer))));
      }
      for (let i = 0; i < 4; i++) expect(outs[1]![i]!).toEqual(outs[0]![i]!);
    }
    free();
  });
});

describe('embedding vs reference', () => {
  function embCase(rows: number, dim: number, vocab: number, seed: number, packed: boolean): Case {
    const r = rng(seed);
    const table = randomF32(vocab * dim, r);
    // Few distinct ids so that ids repeat (the scatter-add's interesting case).
    const ids = Int32Array.from({ length: rows }, () => Math.floor(r() * r() * vocab));
    const dy = randomF32(rows * dim, r);
    const dt0 = randomF32(vocab * dim, r);
    const ix = embeddingIndex(ids, vocab);
    const [yb, dtb] = [zeros(rows * dim), up(dt0)];
    return {
      record: (b) => {
        auto!.embeddingForward(b, { table: up(table), ids: up(ids), y: yb, rows, dim });
        const common = { dy: up(dy), dTable: dtb, rows, dim, vocab };
        if (packed) auto!.embeddingBackward(b, { ...common, index: up(packEmbeddingIndex(ix)) });
        else auto!.embeddingBackward(b, { ...common, offsets: up(ix.offsets), rowIndex: up(ix.rows) });
      },
      outputs: [yb, dtb],
      verify: (v) => {
        const [y, dt] = [v[0]!.subarray(0, rows * dim), v[1]!.subarray(0, vocab * dim)];
        const label = `rows=${rows} dim=${dim} vocab=${vocab} packed=${packed}`;
        const want = ref.embeddingBackward(dy, ids, vocab, dim).map((v, i) => v + dt0[i]!);
        const mag = ref.embeddingBackward(abs(dy), ids, vocab, dim);
        const errs = [
          compareClose(y, ref.embeddingForward(table, ids, dim), { atol: 0, rtol: 0 }, `y ${label}`),
          within(dt, want, mag.map((m, i) => (rows + 1) * U * (m + Math.abs(dt0[i]!))), `dTable ${label}`),
        ].filter((e) => e !== null);
        return errs.length ? errs.join('\n') : null;
      },
    };
  }

  it('gathers exactly and scatter-adds onto dTable on several shapes, both index layouts', async (t) => {
    if (!gpu.ctx) return t.skip(gpu.reason);
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [6, 3, 2],
      [50, 65, 7],
      [33, 64, 100],
      [128, 130, 40],
      [257, 24, 300],
    ];
    expect(await runCases(shapes.map(([rows, dim, vocab], i) => embCase(rows, dim, vocab, 40 + i, i % 2 === 0)))).toBe('');
  });

  it('embeddingIndex groups rows by id in ascending order', () => {
    const ix = embeddingIndex(Int32Array.from([3, 0, 3, 1, 3, 0]), 5);
    expect([...ix.offsets]).toEqual([0, 2, 3, 3, 6, 6]);
    expect([...ix.rows]).toEqual([1, 5, 3, 0, 2, 4]);
    expect([...packEmbeddingIndex(ix)]).toEqual([0, 2, 3, 3, 6, 6, 1, 5, 3, 0, 2, 4]);
  });

  it('embeddingIndex names a bad id and its position', () => {
    const bad = (ids: number[], vocab: number) => () => embeddingIndex(Int32Array.from(ids), vocab);
    expect(bad([0, 1, 5, 2], 5)).toThrow(TrainError);
    expect(bad([0, 1, 5, 2], 5)).toThrow('token id 5 at position 2 is outside the vocabulary [0, 5)');
    expect(bad([-1], 5)).toThrow('token id -1 at position 0');
    expect(bad([0], 0)).toThrow(/vocab must be a positive integer/);
    let code = '';
    try {
      embeddingIndex(Int32Array.from([7]), 4);
    } catch (e) {
      code = (e as TrainError).code;
    }
    expect(code).toBe('TRAIN_DATA');
  });

  it('is deterministic with many repeated ids', async (t) => {
    if (!gpu.ctx) return t.skip(gpu.reason);
    const [rows, dim, vocab] = [512, 40, 3];
    const r = rng(11);
    const ids = Int32Array.from({ length: rows }, () => Math.floor(r() * vocab));
    const index = up(packEmbeddingIndex(embeddingIndex(ids, vocab)));
    const dy = up(randomF32(rows * dim, r, -100, 100));
    const bits: Uint32Array[] = [];
    for (let rep = 0; rep < 2; rep++) {
      const dt = zeros(vocab * dim);
      await run((b) => auto!.embeddingBackward(b, { dy, index, dTable: dt, rows, dim, vocab }));
      bits.push(new Uint32Array((await readF(dt, vocab * dim)).buffer));
    }
    expect(bits[1]).toEqual(bits[0]);
    free();
  });
});

describe('cross-entropy vs reference', () => {
  function lossCase(rows: number, vocab: number, seed: number, spread: number, shift = 0): Case {
    const r = rng(seed);
    const logits = randomF32(rows * vocab, r, shift - spread, shift + spread);
    const targets = Int32Array.from({ length: rows }, () => Math.floor(r() * vocab));
    const scale = seed % 2 ? 1 / rows : 1;
    const [lb, lossb] = [up(logits), zeros(rows)];
    return {
      record: (b) => auto!.crossEntropy(b, { logits: lb, targets: up(targets), rowLoss: lossb, rows, vocab, scale }),
      outputs: [lb, lossb],
      verify: (v) => {
        const [dl, rowLoss] = [v[0]!.subarray(0, rows * vocab), v[1]!.subarray(0, rows)];
        const label = `rows=${rows} vocab=${vocab} spread=${spread} shift=${shift}`;
        const tol = (4 * vocab + 8) * U;
        const errs = [
          compareClose(rowLoss, ref.crossEntropyForward(logits, targets, rows, vocab).rowLoss, { atol: tol, rtol: 4 * U }, `rowLoss ${label}`),
          compareClose(dl, ref.crossEntropyBackward(logits, targets, rows, vocab, scale), { atol: tol * scale, rtol: 0 }, `dlogits ${label}`),
        ].filter((e) => e !== null);
        return errs.length ? errs.join('\n') : null;
      },
    };
  }

  it('matches rowLoss and writes dlogits in place on several shapes', async (t) => {
    if (!gpu.ctx) return t.skip(gpu.reason);
    const shapes: [number, number][] = [
      [1, 1],
      [1, 2],
      [3, 63],
      [2, 64],
      [5, 65],
      [4, 512],
      [7, 1000],
      [2, 4097],
    ];
    expect(await runCases(shapes.map(([rows, vocab], i) => lossCase(rows, vocab, 60 + i, 4)))).toBe('');
  });

  it('is numerically stable for large logits (exp would overflow without the max)', async (t) => {
    if (!gpu.ctx) return t.skip(gpu.reason);
    const cases = [
      lossCase(3, 300, 71, 30, 1000), // logits around 1000: e^1000 is inf in f32 and f64
      lossCase(3, 300, 72, 30, -1000),
      lossCase(2, 100, 73, 200), // a wide row: most probabilities underflow to 0
    ];
    expect(await runCases(cases)).toBe('');
  });

  it('gives NaN rowLoss for a target outside the vocabulary', async (t) => {
    if (!gpu.ctx) return t.skip(gpu.reason);
    const [rows, vocab] = [3, 10];
    const lb = up(randomF32(rows * vocab, rng(3)));
    const lossb = zeros(rows);
    await run((b) => auto!.crossEntropy(b, { logits: lb, targets: up(Int32Array.from([2, 10, -1])), rowLoss: lossb, rows, vocab, scale: 1 }));
    const loss = await readF(lossb, rows);
    expect(Number.isFinite(loss[0])).toBe(true);
    expect(Number.isNaN(loss[1])).toBe(true);
    expect(Number.isNaN(loss[2])).toBe(true);
    free();
  });

  it('is deterministic', async (t) => {
    if (!gpu.ctx) return t.skip(gpu.reason);
    const [rows, vocab] = [16, 777];
    const logits = randomF32(rows * vocab, rng(8), -6, 6);
    const targets = up(Int32Array.from({ length: rows }, (_, i) => (i * 37) % vocab));
    const bits: Uint32Array[] = [];
    for (let rep = 0; rep < 2; rep++) {
      const [lb, lossb] = [up(logits), zeros(rows)];
      await run((b) => auto!.crossEntropy(b, { logits: lb, targets, rowLoss: lossb, rows, vocab, scale: 1 / rows }));
      const [dl, l] = await Promise.all([readF(lb, rows * vocab), readF(lossb, rows)]);
      bits.push(new Uint32Array([...new Uint32Array(dl.buffer), ...new Uint32Array(l.buffer)]));
    }
    expect(bits[1]).toEqual(bits[0]);
    free();
  });
});
