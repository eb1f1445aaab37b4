import { afterAll, describe, it } from 'vitest';
import {
  encodeMatmul,
  padWeightBytes,
  WEIGHT_TYPES,
  weightBytes,
  type WeightKernelTuning,
  type WeightType,
} from '../../shared/engine/quant-matmul';
import { openGpuAtCollection } from '../support/gpu';
import { MatmulCases, type MatmulCase } from '../support/matmul-cases';

// y = W·x and Y = X·Wᵀ for every weight type over many shapes, against the f64 reference, with
// the tolerance tests/support/matmul-cases.ts explains (8u·max Σ|w·x| + 2^-20·|ref|). Weights are
// random valid blocks (every nibble, high-bit and scale pattern occurs).

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
const { ctx, title: SUITE } = await openGpuAtCollection('weight kernels on WebGPU');

const cases = new MatmulCases<WeightType>(MAX_ROWS, MAX_T, (type, cols) => cols * 31 + WEIGHT_TYPES.indexOf(type));

async function runMatmul(
  c: MatmulCase,
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

describe.skipIf(!ctx)(SUITE, () => {
  for (const type of WEIGHT_TYPES) {
    describe(type, () => {
      for (const cols of COLS[type]) {
        for (const rows of ROWS) {
          it(`${rows}×${cols}: matvec and matmul T=${TOKENS.join(',')}`, async () => {
            const c = cases.get(type, cols);
            cases.check(c, rows, 1, await runMatmul(c, rows, 1), `${type} matvec ${rows}×${cols}`);
            for (const T of TOKENS) {
              const got = await runMatmul(c, rows, T, { entryPoint: 'matmul' });
              cases.check(c, rows, T, got, `${type} matmul ${rows}×${cols} T=${T}`);
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
        const c = cases.get(type, cols);
        for (const rows of [65, 257]) {
          cases.check(c, rows, 1, await runMatmul(c, rows, 1, { tuning }), `${type} matvec ${rows}×${cols} WG 32 TPR 8`);
          cases.check(c, rows, 7, await runMatmul(c, rows, 7, { tuning }), `${type} matmul ${rows}×${cols} T=7 WG 32 TPR 8`);
        }
      }
    });
  }

  afterAll(() => console.log('worst |err| in u·max Σ|w·x|:', cases.worstSeen));
});
