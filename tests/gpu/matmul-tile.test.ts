import { afterAll, describe, expect, it } from 'vitest';
import { encodeMatmul, MATMUL_TILE_TOKENS, padWeightBytes, planMatmul, PREFILL_ENTRY, TILE_VARIANTS, TILE_WEIGHT_TYPES, weightBytes, type TileVariant, type TileWeightType } from '../../shared/engine/quant-matmul';
import { openGpuAtCollection } from '../support/gpu';
import { MatmulCases, type MatmulCase } from '../support/matmul-cases';

// The tiled prefill products (shaders/_matmul_tile.wgsl: WG rows × 8 tokens per workgroup;
// matmul_tile_wg shares x in workgroup memory per 256-value chunk of K, matmul_tile reads it
// from storage) against the f64 reference
// matmulRef over the dequantised weights, for every type that has it, over many shapes: rows not
// a multiple of the 64-row tile, token counts not a multiple of the 8-token tile (ragged last
// tile), cols of one block, of a partial last chunk (Q8_0/Q4_0: 96, 288) and ~4096 with an odd
// number of blocks (every other 2-byte-aligned row starts mid-word), and offsets/strides of x and
// y as the model's stacked and split products use them.

const ROWS = [1, 63, 64, 65, 130, 257];
const MAX_ROWS = 257;
const TOKENS = [2, 7, 8, 9, 17];
const MAX_T = 17;
const COLS: Record<TileWeightType, number[]> = {
  Q8_0: [32, 96, 288, 4128],
  Q4_0: [32, 96, 288, 4128],
  Q4_K: [256, 768, 4352],
  Q6_K: [256, 768, 4352],
};

const { ctx, title: SUITE } = await openGpuAtCollection('tiled prefill kernels on WebGPU');
const cases = new MatmulCases<TileWeightType>(MAX_ROWS, MAX_T, (type, cols) => cols * 17 + TILE_WEIGHT_TYPES.indexOf(type));

// Tolerance as tests/gpu/matvec.test.ts (tests/support/matmul-cases.ts): |gpu − ref| <=
// 8u·max Σ|w·x| + 2^-20·|ref|. The reference sums in f64 over the very values the kernel decodes
// (exact in f32), so only the kernel's f32 accumulation is left: one chain of cols/4 dot products
// per output, as matvec's.
// A type's first test compiles its two pipelines (LLVM on lavapipe: tens of seconds on a busy machine).
const COMPILE_TIMEOUT = 300_000;

/**
 * Runs matmul_tile on the first `rows` rows and `tokens` tokens of the case. x is placed at
 * element xPad of a buffer with stride cols + xPad between tokens; y goes to yPad + t·(rows + yPad) + r
 * (the model's split parts write at an offset with the whole matrix's stride). Returns Y [tokens, rows].
 */
async function runTile(v: TileVariant, c: MatmulCase<TileWeightType>, rows: number, tokens: number, xPad = 0, yPad = 0): Promise<Float32Array> {
  const g = ctx!;
  const xStride = c.cols + xPad;
  const xHost = new Float32Array(xPad + tokens * xStride).fill(Number.NaN);
  for (let t = 0; t < tokens; t++) xHost.set(c.x.subarray(t * c.cols, (t + 1) * c.cols), xPad + t * xStride);
  const yStride = rows + yPad;
  const wbuf = g.storage(padWeightBytes(c.bytes.subarray(0, weightBytes(c.type, rows, c.cols))), 'w');
  const xbuf = g.storage(xHost, 'x');
  const ybuf = g.storage((yPad + tokens * yStride) * 4, 'y');
  const b = g.batch('test');
  await encodeMatmul(g, b, {
    weights: { type: c.type, rows, cols: c.cols, buffer: wbuf },
    x: xbuf,
    y: ybuf,
    tokens,
    xOffset: xPad,
    xStride,
    yOffset: yPad,
    yStride,
    entryPoint: PREFILL_ENTRY[v],
  });
  b.submit();
  const all = await g.readF32(ybuf, yPad + tokens * yStride);
  wbuf.destroy();
  xbuf.destroy();
  ybuf.destroy();
  const out = new Float32Array(tokens * rows);
  for (let t = 0; t < tokens; t++) out.set(all.subarray(yPad + t * yStride, yPad + t * yStride + rows), t * rows);
  // Nothing outside the outputs is written (the padding keeps its zeros).
  for (let t = 0; t < tokens; t++) for (let i = 0; i < yPad; i++) expect(all[t * yStride + i]).toBe(0);
  return out;
}

describe('matmul_tile dispatch plan', () => {
  it('covers rows by WG and tokens by tiles of 8, one invocation per row, types with the kernel only', () => {
    const weights = { type: 'Q4_K' as const, rows: 130, cols: 256, buffer: {} as GPUBuffer };
    const d = planMatmul({ weights, tokens: 17, entryPoint: 'matmul_tile', tuning: { workgroupSize: 64, threadsPerRow: 4 } });
    expect(d.entryPoint).toBe('matmul_tile');
    expect(d.constants).toEqual({ WG: 64, TPR: 1 });
    expect(d.workgroups).toEqual([3, 1, Math.ceil(17 / MATMUL_TILE_TOKENS)]);
    expect(planMatmul({ weights, tokens: 8, entryPoint: 'matmul_tile_wg' }).workgroups).toEqual([3, 1, 1]);
    expect(() => planMatmul({ weights: { ...weights, type: 'Q5_K' }, tokens: 2, entryPoint: 'matmul_tile' })).toThrow(/no tiled prefill kernel for Q5_K/);
  });
});

describe.skipIf(!ctx)(SUITE, () => {
  for (const type of TILE_WEIGHT_TYPES) {
    describe(type, () => {
      for (const cols of COLS[type]) {
        it(`rows ${ROWS.join(',')} × ${cols}, T=${TOKENS.join(',')}, ${TILE_VARIANTS.join(' and ')}`, async () => {
          const c = cases.get(type, cols);
          for (const v of TILE_VARIANTS) {
            for (const rows of ROWS) {
              for (const T of TOKENS) cases.check(c, rows, T, await runTile(v, c, rows, T), `${type} ${v} ${rows}×${cols} T=${T}`);
            }
          }
        }, COMPILE_TIMEOUT);
      }
      it('x and y at offsets with strides (stacked and split products)', async () => {
        const cols = COLS[type][1]!;
        const c = cases.get(type, cols);
        for (const [rows, T] of [
          [65, 9],
          [130, 3],
        ] as const) {
          for (const v of TILE_VARIANTS) cases.check(c, rows, T, await runTile(v, c, rows, T, 8, 5), `${type} ${v} ${rows}×${cols} T=${T} offsets`);
        }
      });
    });
  }
  afterAll(() => console.log('matmul_tile worst |err| in u·max Σ|w·x|:', cases.worstSeen));
});
