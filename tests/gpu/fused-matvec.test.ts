import { beforeAll, describe, expect, it } from 'vitest';
import { GpuUsageError } from '../../shared/gpu';
import {
  FUSED_MATVEC_ENTRY,
  FUSED_MATVEC_SHADER,
  FUSED_MATVEC_WG,
  planFusedMatvec,
  recordFusedMatvec,
  type FusedInput,
} from '../../shared/engine/fused-matvec';
import { encodeMatmul } from '../../shared/engine/quant-matmul';
import { fusedMatvecRef } from '../../shared/engine/reference/fused';
import { rmsnormRef } from '../../shared/engine/reference/rmsnorm';
import { swigluRef } from '../../shared/engine/reference/elementwise';
import { compareClose, randomF32, rng } from '../support/compare';
import { useKernelSuite } from '../support/gpu';

// The fused decode product (shaders/matvec_fused_f32.wgsl: x normalised or SwiGLU'd on the
// read, the residual added on the write) over many shapes, checked two ways:
// - against fusedMatvecRef (the references of rmsnorm, swiglu, matvec and add composed, f64
//   sums) with an explicit tolerance, |gpu − ref| <= atol + rtol·|ref|, rtol = 2^-20 and
//   atol = K·u·max_r Σ_c|W[r,c]·x_in[c]| (u = 2^-24):
//     plain   K = 8: the f32 dot product's own rounding (as tests/gpu/matvec.test.ts argues);
//     rmsnorm K = 16 + cols/32: plus the f32 norm (its sum of squares runs in chains of
//             cols/64 + 6 adds, then sqrt, a division and two products per input);
//     swiglu  K = 80: plus SiLU's f32 exp (WGSL allows 3 + 2|g| ulp; |g| < 8 here, about
//             4e-6 relative with the division and the product, as tests/gpu/elementwise.test.ts).
// - against the unfused kernels on the same GPU (rmsnorm / swiglu_fused, then matvec_f32's
//   matvec, then add_inplace), bit for bit: the engine swaps them for this kernel on small
//   models and its logits must not move (tests/gpu/engine-fused.test.ts checks whole models).
const U = 2 ** -24;
const RTOL = 2 ** -20;

const g = useKernelSuite();
let pipeline: GPUComputePipeline | null = null;
beforeAll(async () => {
  if (g.ctx) pipeline = await g.ctx.pipeline(FUSED_MATVEC_SHADER, { entryPoint: FUSED_MATVEC_ENTRY, constants: { WG: FUSED_MATVEC_WG } });
});

type Mode = FusedInput['kind'];

interface Case {
  rows: number;
  cols: number;
  mode: Mode;
  add: boolean;
  /** Offsets (elements; the weight's in f32 values, a multiple of 4). */
  wOff?: number;
  xOff?: number;
  yOff?: number;
}

function firstDifference(a: Float32Array, b: Float32Array, label: string): string | null {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `${label}: element ${i}: fused ${a[i]}, unfused ${b[i]}`;
  return a.length === b.length ? null : `${label}: lengths ${a.length} and ${b.length}`;
}

async function runCase(c: Case, seed: number): Promise<{ ref: string | null; bits: string | null; worst: number }> {
  const ctx = g.ctx!;
  const k = g.k!;
  const { rows, cols, mode, add } = c;
  const wOff = c.wOff ?? 0;
  const xOff = c.xOff ?? 0;
  const yOff = c.yOff ?? 0;
  const r = rng(seed);
  const wAll = randomF32(wOff + rows * cols, r);
  const w = wAll.subarray(wOff);
  // x: cols values (plain, rmsnorm) or [gate | up] (swiglu), after xOff values of padding.
  const xLen = mode === 'swiglu' ? 2 * cols : cols;
  const xAll = randomF32(xOff + xLen, r, mode === 'swiglu' ? -8 : -2, mode === 'swiglu' ? 8 : 2);
  const x = xAll.subarray(xOff, xOff + cols);
  const up = mode === 'swiglu' ? xAll.subarray(xOff + cols, xOff + 2 * cols) : null;
  const norm = randomF32(cols, r, 0.5, 1.5);
  const resid = randomF32(yOff + rows, r, -4, 4);
  const eps = 1e-5;
  const input: FusedInput = mode === 'rmsnorm' ? { kind: 'rmsnorm', eps } : mode === 'swiglu' ? { kind: 'swiglu', upOffset: xOff + cols } : { kind: 'plain' };
  const label = `${mode}${add ? '+add' : ''} rows=${rows} cols=${cols} offsets w${wOff} x${xOff} y${yOff}`;

  const wb = ctx.storage(wAll, 'w');
  const xb = ctx.storage(xAll, 'x');
  const nb = ctx.storage(norm, 'norm');
  const yb = ctx.storage(resid, 'y');
  const b = ctx.batch('fused');
  const d = planFusedMatvec({ rows, cols, byteOffset: wOff * 4, xOffset: xOff, yOffset: yOff, input, add });
  recordFusedMatvec(b, pipeline!, d, { w: wb, x: xb, y: yb, norm: mode === 'rmsnorm' ? nb : xb }, label);
  b.submit();
  const got = (await ctx.readF32(yb, yOff + rows)).slice(yOff);

  const xin = mode === 'rmsnorm' ? rmsnormRef(x, norm, 1, cols, eps) : mode === 'swiglu' ? swigluRef(x, up!) : x;
  let mag = 0;
  for (let row = 0; row < rows; row++) {
    let s = 0;
    for (let col = 0; col < cols; col++) s += Math.abs(w[row * cols + col]! * xin[col]!);
    mag = Math.max(mag, s);
  }
  const K = mode === 'plain' ? 8 : mode === 'rmsnorm' ? 16 + cols / 32 : 80;
  const want = fusedMatvecRef({
    w,
    rows,
    cols,
    x,
    input: mode === 'rmsnorm' ? { kind: 'rmsnorm', norm, eps } : mode === 'swiglu' ? { kind: 'swiglu', up: up! } : { kind: 'plain' },
    residual: add ? resid.subarray(yOff) : undefined,
  });
  const ref = compareClose(got, want, { atol: K * U * mag, rtol: RTOL }, label);
  let worst = 0;
  for (let i = 0; i < rows; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (U * mag));

  // The unfused kernels the engine ran before, on the same bytes (offsets 0 only: rmsnorm and
  // swiglu_fused take rows from 0).
  let bits: string | null = null;
  if (wOff === 0 && xOff === 0 && yOff === 0) {
    const xinb = ctx.storage(cols * 4, 'x_in');
    const prod = ctx.storage(rows * 4, 'product');
    const yu = ctx.storage(resid, 'y_unfused');
    const u = ctx.batch('unfused');
    if (mode === 'rmsnorm') k.rmsnorm(u, { x: xb, w: nb, y: xinb, rows: 1, n: cols, eps });
    else if (mode === 'swiglu') k.swigluFused(u, { x: xb, out: xinb, T: 1, cols });
    await encodeMatmul(ctx, u, { weights: { type: 'F32', rows, cols, buffer: wb }, x: mode === 'plain' ? xb : xinb, y: add ? prod : yu, tokens: 1 });
    if (add) k.addInPlace(u, { x: yu, b: prod, n: rows });
    u.submit();
    bits = firstDifference(got, await ctx.readF32(yu, rows), label);
    for (const buf of [xinb, prod, yu]) buf.destroy();
  }
  for (const buf of [wb, xb, nb, yb]) buf.destroy();
  return { ref, bits, worst };
}

describe('fused decode product (matvec_fused_f32)', () => {
  it('matches the reference within tolerance and the unfused kernels bit for bit over many shapes', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const worst: Record<string, number> = {};
    let seed = 1;
    let cases = 0;
    for (const mode of ['plain', 'rmsnorm', 'swiglu'] as const) {
      for (const add of [false, true]) {
        for (const rows of [1, 63, 64, 65, 130]) {
          for (const cols of [4, 8, 64, 68, 172, 256, 1024]) {
            const res = await runCase({ rows, cols, mode, add }, seed++);
            expect(res.ref).toBeNull();
            expect(res.bits).toBeNull();
            worst[mode] = Math.max(worst[mode] ?? 0, res.worst);
            cases++;
          }
        }
      }
    }
    expect(cases).toBe(3 * 2 * 5 * 7);
    // The bound is not vacuous: the worst error seen stays well inside it.
    expect(worst.plain!).toBeLessThan(8);
    expect(worst.rmsnorm!).toBeLessThan(16 + 1024 / 32);
  });

  it('honours the weight, x, up and y offsets', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    let seed = 1000;
    for (const mode of ['plain', 'rmsnorm', 'swiglu'] as const) {
      for (const [rows, cols, wOff, xOff, yOff] of [
        [3, 8, 4, 4, 1],
        [70, 172, 64, 172, 5],
        [65, 64, 256, 8, 64],
      ] as const) {
        const res = await runCase({ rows, cols, mode, add: true, wOff, xOff, yOff }, seed++);
        expect(res.ref).toBeNull();
        const plain = await runCase({ rows, cols, mode, add: false, wOff, xOff, yOff }, seed++);
        expect(plain.ref).toBeNull();
      }
    }
  });

  it('refuses shapes the kernel cannot read', () => {
    const plain: FusedInput = { kind: 'plain' };
    expect(() => planFusedMatvec({ rows: 0, cols: 4, input: plain, add: false })).toThrow(GpuUsageError);
    expect(() => planFusedMatvec({ rows: 1, cols: 6, input: plain, add: false })).toThrow(GpuUsageError);
    expect(() => planFusedMatvec({ rows: 1, cols: 8, byteOffset: 8, input: plain, add: false })).toThrow(GpuUsageError);
    expect(() => planFusedMatvec({ rows: 1, cols: 8, xOffset: 2, input: plain, add: false })).toThrow(GpuUsageError);
    expect(() => planFusedMatvec({ rows: 1, cols: 8, input: { kind: 'swiglu', upOffset: 6 }, add: false })).toThrow(GpuUsageError);
    expect(() => planFusedMatvec({ rows: 1, cols: 8, input: { kind: 'rmsnorm', eps: Number.NaN }, add: false })).toThrow(GpuUsageError);
    const d = planFusedMatvec({ rows: 200, cols: 64, input: { kind: 'swiglu', upOffset: 64 }, add: true });
    expect(d.workgroups).toEqual([Math.ceil(200 / FUSED_MATVEC_WG), 1, 1]);
    expect(d.u32s).toEqual([200, 64, 0, 0, 0, 64, 2, 1]);
  });
});
