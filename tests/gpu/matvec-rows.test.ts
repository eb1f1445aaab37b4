import { describe, expect, it } from 'vitest';
import {
  encodeGetRows,
  encodeMatmul,
  padWeightBytes,
  WEIGHT_ALIGN,
  WEIGHT_TYPES,
  weightBytes,
  type WeightType,
} from '../../shared/engine/quant-matmul';
import { getRowsRef, matmulAbsRef, matmulRef } from '../../shared/engine/reference/matmul';
import { QUANT_FORMATS } from '../../shared/quant';
import { compareClose } from '../support/compare';
import { openGpuAtCollection } from '../support/gpu';
import { randomBlocks, uniform, weightLike } from '../shared/quant-helpers';

// Embedding gather (get_rows), tensors inside bigger buffers (offsets and strides), and
// dispatches split past 65535 workgroups. Products proper: matvec.test.ts.

const { ctx, title: SUITE } = await openGpuAtCollection('weight kernels: gather, offsets, large dispatches');

const COLS: Record<WeightType, number> = {
  F32: 12,
  F16: 12,
  BF16: 12,
  Q8_0: 96,
  Q4_0: 96,
  Q4_1: 96,
  Q5_0: 96,
  Q5_1: 96,
  Q2_K: 768,
  Q3_K: 768,
  Q4_K: 768,
  Q5_K: 768,
  Q6_K: 768,
  IQ4_NL: 96,
  IQ4_XS: 768,
};
const BIG_COLS: Record<WeightType, number> = {
  F32: 4100,
  F16: 4100,
  BF16: 4100,
  Q8_0: 4128,
  Q4_0: 4128,
  Q4_1: 4128,
  Q5_0: 4128,
  Q5_1: 4128,
  Q2_K: 4352,
  Q3_K: 4352,
  Q4_K: 4352,
  Q5_K: 4352,
  Q6_K: 4352,
  IQ4_NL: 4128,
  IQ4_XS: 4352,
};
const TABLE_ROWS = 70;

/** Bit-for-bit equality where NaN matches NaN; returns the first mismatches. */
function exactDiff(got: Float32Array, want: Float32Array): string | null {
  const bad: string[] = [];
  let n = 0;
  for (let i = 0; i < want.length; i++) {
    const ok = Number.isNaN(want[i]) ? Number.isNaN(got[i]) : Object.is(got[i], want[i]);
    if (!ok && n++ < 5) bad.push(`[${i}] got ${got[i]}, want ${want[i]}`);
  }
  return n ? `${n}/${want.length} differ: ${bad.join('; ')}` : null;
}

async function gather(type: WeightType, bytes: Uint8Array, rows: number, cols: number, ids: number[], opts: { idsOffset?: number; outOffset?: number; outStride?: number } = {}) {
  const g = ctx!;
  const idsOffset = opts.idsOffset ?? 0;
  const outOffset = opts.outOffset ?? 0;
  const outStride = opts.outStride ?? cols;
  const outLen = outOffset + ids.length * outStride;
  const w = g.storage(padWeightBytes(bytes), 'table');
  const idb = g.storage(Uint32Array.from([...new Array<number>(idsOffset).fill(0), ...ids]), 'ids');
  const out = g.storage(new Float32Array(outLen).fill(-777), 'out');
  const b = g.batch('gather');
  await encodeGetRows(g, b, { weights: { type, rows, cols, buffer: w }, ids: idb, count: ids.length, idsOffset, out, outOffset, outStride });
  b.submit();
  const res = await g.readF32(out, outLen);
  w.destroy();
  idb.destroy();
  out.destroy();
  return res;
}

describe.skipIf(!ctx)(SUITE, () => {
  // get_rows writes the decoded weights themselves, so it must match shared/quant bit for bit:
  // every decode step is exact in f32 or rounds once in the same order as ggml (Q4_K: d·sc·q
  // is exact, then one subtraction; Q6_K: (d·sc)·q, d·sc exact), and a fused multiply-add gives
  // the same single rounding.
  describe.each(WEIGHT_TYPES)('get_rows %s', (type) => {
    const ids = [0, TABLE_ROWS - 1, 5, 5, 33, TABLE_ROWS, 0xffffffff, 1];

    it.each([
      ['random blocks', COLS[type]],
      ['random blocks', BIG_COLS[type]],
      ['quantised weights', COLS[type]],
    ] as const)('%s, %i cols: ids incl. repeats; out-of-range ids give NaN rows', async (kind, cols) => {
      const f = QUANT_FORMATS[type];
      const bytes =
        kind === 'random blocks'
          ? randomBlocks(type, (TABLE_ROWS * cols) / f.blockSize, cols + 7)
          : f.quantize(weightLike(TABLE_ROWS * cols, cols + 8));
      const table = f.dequantize(bytes, TABLE_ROWS * cols);
      const got = await gather(type, bytes, TABLE_ROWS, cols, ids);
      const msg = exactDiff(got, getRowsRef(table, TABLE_ROWS, cols, ids));
      expect(msg, msg ?? '').toBeNull();
    });

    it('honours ids offset, output offset and row stride, and writes nothing else', async () => {
      const cols = COLS[type];
      const f = QUANT_FORMATS[type];
      const bytes = randomBlocks(type, (TABLE_ROWS * cols) / f.blockSize, 99);
      const table = f.dequantize(bytes, TABLE_ROWS * cols);
      const sel = [3, 69, 0];
      const got = await gather(type, bytes, TABLE_ROWS, cols, sel, { idsOffset: 2, outOffset: 3, outStride: cols + 5 });
      const want = new Float32Array(3 + sel.length * (cols + 5)).fill(-777);
      const rowsRef = getRowsRef(table, TABLE_ROWS, cols, sel);
      for (let i = 0; i < sel.length; i++) want.set(rowsRef.subarray(i * cols, (i + 1) * cols), 3 + i * (cols + 5));
      const msg = exactDiff(got, want);
      expect(msg, msg ?? '').toBeNull();
    });
  });

  // A tensor 12 bytes into its buffer (3 words: for the 2-byte-aligned formats this flips which
  // rows start mid-word; F32 and Q4_K need 16-byte alignment and get 16), X rows with a stride and an offset, Y written with an offset and a
  // stride into a sentinel-filled buffer that must otherwise stay untouched.
  describe.each(WEIGHT_TYPES)('offsets and strides %s', (type) => {
    it.each([1, 3])('T=%i', async (T) => {
      const g = ctx!;
      const rows = 33;
      const cols = COLS[type];
      const f = QUANT_FORMATS[type];
      const wBytes = randomBlocks(type, (rows * cols) / f.blockSize, 5 + T);
      const wLen = weightBytes(type, rows, cols);
      const wOff = WEIGHT_ALIGN[type] === 16 ? 16 : 12;
      const padded = new Uint8Array(wOff + wLen).fill(0xff);
      padded.set(wBytes, wOff);
      const xOffset = 8;
      const xStride = cols + 4;
      const xs = uniform(T * cols, 17);
      const xbuf = new Float32Array(xOffset + T * xStride).fill(1e6);
      for (let t = 0; t < T; t++) xbuf.set(xs.subarray(t * cols, (t + 1) * cols), xOffset + t * xStride);
      const yOffset = 5;
      const yStride = rows + 3;
      const yLen = yOffset + T * yStride;
      const wb = g.storage(padWeightBytes(padded), 'w');
      const xb = g.storage(xbuf, 'x');
      const yb = g.storage(new Float32Array(yLen).fill(-777), 'y');
      const b = g.batch('offsets');
      await encodeMatmul(g, b, {
        weights: { type, rows, cols, buffer: wb, byteOffset: wOff },
        x: xb,
        y: yb,
        tokens: T,
        xOffset,
        xStride,
        yOffset,
        yStride,
      });
      b.submit();
      const got = await g.readF32(yb, yLen);
      [wb, xb, yb].forEach((v) => v.destroy());

      const wf = f.dequantize(wBytes, rows * cols);
      const ref = matmulRef(wf, rows, cols, xs, T);
      const mag = matmulAbsRef(wf, rows, cols, xs, T);
      const want = new Float64Array(yLen).fill(-777);
      let magMax = 0;
      for (let t = 0; t < T; t++) {
        for (let r = 0; r < rows; r++) {
          want[yOffset + t * yStride + r] = ref[t * rows + r];
          magMax = Math.max(magMax, mag[t * rows + r]);
        }
      }
      // Same tolerance as matvec.test.ts: 8 units of roundoff of max Σ|w·x|; sentinels exact.
      const msg = compareClose(got, want, { atol: 8 * 2 ** -24 * magMax, rtol: 2 ** -20 }, `${type} T=${T}`);
      expect(msg, msg ?? '').toBeNull();
    });
  });

  // Past 65535 workgroups the dispatch is split over y; one invocation per workgroup gets there
  // with small buffers. Checks that every row / gathered row is produced exactly once.
  it('splits a matvec of 65537 rows (one row per workgroup) over two dimensions', async () => {
    const g = ctx!;
    const rows = 65537;
    const cols = 32;
    const bytes = randomBlocks('Q8_0', rows, 3);
    const x = uniform(cols, 4);
    const wb = g.storage(padWeightBytes(bytes), 'w');
    const xb = g.storage(x, 'x');
    const yb = g.storage(new Float32Array(rows).fill(NaN), 'y');
    const b = g.batch('split');
    const d = await encodeMatmul(g, b, { weights: { type: 'Q8_0', rows, cols, buffer: wb }, x: xb, y: yb, tuning: { workgroupSize: 1, threadsPerRow: 1 } });
    b.submit();
    expect(d.workgroups[1]).toBeGreaterThan(1);
    const got = await g.readF32(yb, rows);
    [wb, xb, yb].forEach((v) => v.destroy());
    const wf = QUANT_FORMATS.Q8_0.dequantize(bytes, rows * cols);
    const ref = matmulRef(wf, rows, cols, x, 1);
    const mag = matmulAbsRef(wf, rows, cols, x, 1);
    const msg = compareClose(got, ref, { atol: 8 * 2 ** -24 * Math.max(...mag), rtol: 2 ** -20 }, 'split matvec');
    expect(msg, msg ?? '').toBeNull();
  });

  it('splits a gather of 70000 ids (one chunk per workgroup) over two dimensions', async () => {
    const g = ctx!;
    const cols = 4;
    const table = uniform(16 * cols, 6);
    const ids = Array.from({ length: 70000 }, (_, i) => (i * 7) % 16);
    const w = g.storage(padWeightBytes(new Uint8Array(table.buffer)), 'table');
    const idb = g.storage(Uint32Array.from(ids), 'ids');
    const out = g.storage(ids.length * cols * 4, 'out');
    const b = g.batch('split gather');
    const d = await encodeGetRows(g, b, { weights: { type: 'F32', rows: 16, cols, buffer: w }, ids: idb, count: ids.length, out, tuning: { workgroupSize: 1, threadsPerRow: 1 } });
    b.submit();
    expect(d.workgroups[1]).toBeGreaterThan(1);
    const got = await g.readF32(out, ids.length * cols);
    [w, idb, out].forEach((v) => v.destroy());
    const msg = exactDiff(got, getRowsRef(table, 16, cols, ids));
    expect(msg, msg ?? '').toBeNull();
  });
});
