import { afterAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../shared/gpu';
import {
  encodeMatmul,
  padWeightBytes,
  WEIGHT_TYPES,
  weightBytes,
  type WeightKernelTuning,
  type WeightType,
} from '../../shared/engine/quant-matmul';
import { matmulAbsRef, matmulRef } from '../../shared/engine/reference/matmul';
import { QUANT_FORMATS } from '../../shared/quant';
import { compareClose } from '../support/compare';
import { openTestContext } from '../support/gpu';
import { randomBlocks, uniform } from '../shared/quant-helpers';

// y = W·x and Y = X·Wᵀ for every weight type over many shapes, against the f64 reference.
// Weights are random valid blocks (every nibble, high-bit and scale pattern occurs).

const ROWS = [1, 63, 64, 65, 257];
const MAX_ROWS = 257;
const TOKENS = [1, 2, 7];
const MAX_T = 7;

// cols: one block (or chunk), three blocks, and ~4096 with an odd number of blocks, so that in
// the 2-byte-aligned formats (18, 22, 34, 110, 210 bytes) every other row starts mid-word.
const COLS: Record<WeightType, number[]> = {
  F32: [4, 12, 4100],
  F16: [4, 12, 4100],
  BF16: [4, 12, 4100],
  Q8_0: [32, 96, 4128],
  Q4_0: [32, 96, 4128],
  Q4_1: [32, 96, 4128],
  Q5_0: [32, 96, 4128],
  Q5_1: [32, 96, 4128],
  Q2_K: [256, 768, 4352],
  Q3_K: [256, 768, 4352],
  Q4_K: [256, 768, 4352],
  Q5_K: [256, 768, 4352],
  Q6_K: [256, 768, 4352],
  IQ4_NL: [32, 96, 4128],
  IQ4_XS: [256, 768, 4352],
};

// Opened at collection time so that a missing device skips with its reason in the title.
const opened = await openTestContext();
const ctx: GpuContext | null = opened.ctx;
const SUITE = ctx ? 'weight kernels on WebGPU' : `weight kernels on WebGPU (skipped: ${opened.reason})`;
afterAll(() => ctx?.destroy());

interface Case {
  type: WeightType;
  cols: number;
  bytes: Uint8Array;
  w: Float32Array; // dequantised, MAX_ROWS × cols
  x: Float32Array; // MAX_T × cols
  ref: Float64Array; // MAX_T × MAX_ROWS
  mag: Float64Array; // Σ|w·x| per output
}

const cases = new Map<string, Case>();
function getCase(type: WeightType, cols: number): Case {
  const key = `${type}/${cols}`;
  let c = cases.get(key);
  if (!c) {
    const f = QUANT_FORMATS[type];
    const seed = cols * 31 + WEIGHT_TYPES.indexOf(type);
    const bytes = randomBlocks(type, (MAX_ROWS * cols) / f.blockSize, seed);
    const w = f.dequantize(bytes, MAX_ROWS * cols);
    const x = uniform(MAX_T * cols, seed + 1);
    c = { type, cols, bytes, w, x, ref: matmulRef(w, MAX_ROWS, cols, x, MAX_T), mag: matmulAbsRef(w, MAX_ROWS, cols, x, MAX_T) };
    cases.set(key, c);
  }
  return c;
}

// Tolerance: |gpu − ref| <= atol + rtol·|ref| with
//   atol = 8·u·max Σ_c|W[r,c]·X[t,c]| over the outputs compared (u = 2^-24, f32 unit roundoff),
//   rtol = 2^-20.
// Why: the reference sums in f64 over the very weights the kernel decodes (shared/quant gives
// ggml's values, which are exact in f32), so the only difference is the kernel's f32
// accumulation. A dot product summed in any order errs by at most γ_m·Σ|w·x| with m the longest
// chain of sequential adds (cols/4 here, less with TPR > 1); random rounding makes it grow like
// sqrt(m)·u, and 8u·Σ|w·x| sits several times above the worst seen (F32 4100 cols: ~1.5u·Σ|w·x|)
// while a real fault — one wrong nibble, scale or offset — moves an output by about one term,
// |w·x| ~ Σ|w·x|/cols, thousands of times more than atol at these sizes.
const U = 2 ** -24;
const ATOL_ULPS = 8;
const RTOL = 2 ** -20;

async function runMatmul(
  c: Case,
  rows: number,
  tokens: number,
  opts: { tuning?: Partial<WeightKernelTuning>; entryPoint?: 'matvec' | 'matmul' } = {},
): Promise<Float32Array> {
  const g = ctx!;
  const wbuf = g.storage(padWeightBytes(c.bytes.subarray(0, weightBytes(c.type, rows, c.cols))), 'w');
  const xbuf = g.storage(c.x.subarray(0, tokens * c.cols), 'x');
  const ybuf = g.storage(tokens * rows * 4, 'y');
  const b = g.batch('test');
  await encodeMatmul(g, b, {
    weights: { type: c.type, rows, cols: c.cols, buffer: wbuf },
    x: xbuf,
    y: ybuf,
    tokens,
    tuning: opts.tuning,
    entryPoint: opts.entryPoint,
  });
  b.submit();
  const out = await g.readF32(ybuf, tokens * rows);
  wbuf.destroy();
  xbuf.destroy();
  ybuf.destroy();
  return out;
}

/** Compares, and returns the worst error in units of u·max Σ|w·x| (to keep the bound honest). */
function check(c: Case, rows: number, tokens: number, got: Float32Array, label: string): number {
  const want = new Float64Array(tokens * rows);
  let mag = 0;
  for (let t = 0; t < tokens; t++) {
    for (let r = 0; r < rows; r++) {
      want[t * rows + r] = c.ref[t * MAX_ROWS + r];
      mag = Math.max(mag, c.mag[t * MAX_ROWS + r]);
    }
  }
  const msg = compareClose(got, want, { atol: ATOL_ULPS * U * mag, rtol: RTOL }, label);
  expect(msg, msg ?? '').toBeNull();
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (U * mag));
  return worst;
}

const worstSeen: Record<string, number> = {};
function note(type: string, v: number) {
  worstSeen[type] = Math.max(worstSeen[type] ?? 0, v);
}

describe.skipIf(!ctx)(SUITE, () => {
  for (const type of WEIGHT_TYPES) {
    describe(type, () => {
      for (const cols of COLS[type]) {
        for (const rows of ROWS) {
          it(`${rows}×${cols}: matvec and matmul T=${TOKENS.join(',')}`, async () => {
            const c = getCase(type, cols);
            note(type, check(c, rows, 1, await runMatmul(c, rows, 1), `${type} matvec ${rows}×${cols}`));
            for (const T of TOKENS) {
              const got = await runMatmul(c, rows, T, { entryPoint: 'matmul' });
              note(type, check(c, rows, T, got, `${type} matmul ${rows}×${cols} T=${T}`));
            }
          });
        }
      }
    });
  }
  // Another workgroup shape, the one GPUs want: several invocations per row summed in
  // workgroup memory (3 reduction levels), 4 rows per workgroup (65 rows leave the last group
  // partial), and idle lanes where a row has fewer than 8 chunks (Q8_0 with 96 cols has 3).
  // One shape only: on lavapipe every distinct pipeline is another LLVM compile.
  const tuning: WeightKernelTuning = { workgroupSize: 32, threadsPerRow: 8 };
  for (const type of WEIGHT_TYPES) {
    it(`${type} WG 32 TPR 8: 65 and 257 rows, matvec and matmul T=7`, async () => {
      for (const cols of COLS[type].slice(1)) {
        const c = getCase(type, cols);
        for (const rows of [65, 257]) {
          note(type, check(c, rows, 1, await runMatmul(c, rows, 1, { tuning }), `${type} matvec ${rows}×${cols} WG 32 TPR 8`));
          note(type, check(c, rows, 7, await runMatmul(c, rows, 7, { tuning }), `${type} matmul ${rows}×${cols} T=7 WG 32 TPR 8`));
        }
      }
    });
  }

  afterAll(() => console.log('worst |err| in u·max Σ|w·x|:', worstSeen));
});
