import { afterAll, describe, expect, it } from 'vitest';
import { encodeIntMatvec, intVariantFits, intVariantsFor, intVariantsOfType, quantizedXWords, type IntVariant, type IntWeightType } from '../../shared/engine/int-matvec';
import { padWeightBytes, weightBytes } from '../../shared/engine/quant-matmul';
import { intMatvecRef, q8ErrorBound, quantizeQ8Ref, type Q8Blocks } from '../../shared/engine/reference/int-matvec';
import { matmulAbsRef, matmulRef } from '../../shared/engine/reference/matmul';
import { QUANT_FORMATS } from '../../shared/quant';
import { compareClose } from '../support/compare';
import { openGpuAtCollection } from '../support/gpu';
import { randomBlocks, uniform } from '../shared/quant-helpers';

// The integer decode products (quantize_q8 + matvec_<type>_i8*) against their references over
// many shapes, and the integer path's error against the exact product over unquantised x.

const TYPES: IntWeightType[] = ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'];
const ROWS = [1, 63, 64, 65, 257];
const MAX_ROWS = 257;
// One block, three, and 129 blocks: with an odd block count every other row starts mid-word.
const COLS = [32, 96, 4128];
// The -v16 variants, and Q8_0's subgroup ones, take groups of 8 blocks: one group, three, and 17.
const COLS_V16 = [256, 768, 4352];
// The super-block types (Q4_K, Q6_K): one super-block, three, and 11 (with Q6_K's 210-byte blocks
// an odd count puts every other row mid-word).
const COLS_K = [256, 768, 2816];
const colsOf = (type: IntWeightType, variant: IntVariant) =>
  type === 'Q4_K' || type === 'Q6_K' ? COLS_K : intVariantFits(variant, { cols: 4096 }, type) && !intVariantFits(variant, { cols: 4128 }, type) ? COLS_V16 : COLS;

const { ctx, title: SUITE } = await openGpuAtCollection('integer weight kernels on WebGPU');

const U = 2 ** -24;

/** Decodes quantize_q8's output words (cols/4 words of packed int8, then one f32 scale per block, then one i32 sum per block). */
function decodeXq(words: Uint32Array, cols: number): Q8Blocks {
  const nb = cols / 32;
  const d = new Float32Array(nb);
  const q = new Int8Array(cols);
  const f = new Float32Array(words.buffer, words.byteOffset, words.length);
  const bytes = new Int8Array(words.buffer, words.byteOffset, words.length * 4);
  const ints = new Int32Array(words.buffer, words.byteOffset, words.length);
  const sum = new Int32Array(nb);
  for (let b = 0; b < nb; b++) {
    d[b] = f[cols / 4 + b];
    sum[b] = ints[cols / 4 + nb + b];
    for (let j = 0; j < 32; j++) q[32 * b + j] = bytes[32 * b + j];
  }
  return { d, q, sum };
}

async function run(type: IntWeightType, bytes: Uint8Array, rows: number, cols: number, x: Float32Array, variant: IntVariant): Promise<{ y: Float32Array; xq: Q8Blocks }> {
  const g = ctx!;
  const wbuf = g.storage(padWeightBytes(bytes.subarray(0, weightBytes(type, rows, cols))), 'w');
  const xbuf = g.storage(x, 'x');
  const xqbuf = g.storage(quantizedXWords(cols) * 4, 'xq');
  const ybuf = g.storage(rows * 4, 'y');
  const b = g.batch('test');
  await encodeIntMatvec(g, b, { weights: { type, rows, cols, buffer: wbuf }, x: xbuf, xq: xqbuf, y: ybuf, variant });
  b.submit();
  const y = await g.readF32(ybuf, rows);
  const xq = decodeXq(await g.readU32(xqbuf, quantizedXWords(cols)), cols);
  for (const buf of [wbuf, xbuf, xqbuf, ybuf]) buf.destroy();
  return { y, xq };
}

describe.skipIf(!ctx)(SUITE, () => {
  it('quantize_q8 gives the reference scales, int8 values and block sums, bit for bit', async () => {
    for (const cols of COLS) {
      // Mixed magnitudes per block, zero blocks, exact halves (x · id lands on .5 often with d = 1/127·2^k).
      const x = uniform(cols, cols, 3);
      for (let j = 0; j < 32; j++) x[j] = 0; // an all-zero block: d = 0, q = 0
      if (cols > 32) for (let j = 32; j < 64; j++) x[j] = (j - 48) * (127 / 16 / 2); // values on .5 steps of d
      const { xq } = await run('Q8_0', randomBlocks('Q8_0', cols / 32, 1), 1, cols, x, intVariantsFor(ctx!, 'Q8_0')[0]!);
      const want = quantizeQ8Ref(x);
      expect(Array.from(xq.d)).toEqual(Array.from(want.d));
      expect(Array.from(xq.q)).toEqual(Array.from(want.q));
      expect(Array.from(xq.sum)).toEqual(Array.from(want.sum));
    }
  });

  const worst: Record<string, number> = {};
  for (const type of TYPES) {
    for (const variant of intVariantsOfType(type)) {
      it(`${type} ${variant}: rows ${ROWS.join(',')} × ${colsOf(type, variant).join(', ')} cols against the integer reference`, async (t) => {
        if (!intVariantsFor(ctx!, type).includes(variant)) return t.skip(`${variant} is not offered on this adapter`);
        for (const cols of colsOf(type, variant)) {
          const f = QUANT_FORMATS[type];
          const bytes = randomBlocks(type, (MAX_ROWS * cols) / f.blockSize, cols * 7 + TYPES.indexOf(type));
          const x = uniform(cols, cols + 5);
          for (const rows of ROWS) {
            const got = await run(type, bytes, rows, cols, x, variant);
            // The reference over the int8 values the kernel quantised (quantize_q8 is checked above).
            const ref = intMatvecRef(type, bytes, rows, cols, got.xq);
            const mag = Math.max(...ref.mag);
            // Block sums are exact integers and fround(dw·dx) is what the kernel multiplies by;
            // what is left is f32 rounding of each term and of the sum over cols/32 blocks.
            const msg = compareClose(got.y, ref.y, { atol: 8 * U * mag, rtol: 2 ** -20 }, `${type} ${variant} ${rows}×${cols}`);
            expect(msg, msg ?? '').toBeNull();
            let w = 0;
            for (let r = 0; r < rows; r++) w = Math.max(w, Math.abs(got.y[r]! - ref.y[r]!) / (U * mag));
            worst[`${type} ${variant}`] = Math.max(worst[`${type} ${variant}`] ?? 0, w);
          }
        }
      });
    }
  }

  // Q4_K's extremes: every nibble 15 and x's quants all +127 or all −127 (or alternating in sign),
  // where int-sg's two-products-per-multiply sums come closest to the i32 range
  // (shaders/_q4_k_sg_pairs.wgsl); every offered variant against the reference.
  it('Q4_K: every offered variant at the extremes (all nibbles 15, x quants ±127)', async () => {
    const rows = 65;
    const cols = 768;
    const bytes = randomBlocks('Q4_K', (MAX_ROWS * cols) / 256, 5);
    for (let b = 0; b < bytes.length; b += 144) bytes.fill(0xff, b + 16, b + 144);
    for (const [label, x] of [
      ['x all +1', new Float32Array(cols).fill(1)],
      ['x all −1', new Float32Array(cols).fill(-1)],
      ['x ±1 by pairs', Float32Array.from({ length: cols }, (_, i) => ((i >> 1) & 1 ? -1 : 1))],
    ] as const) {
      for (const variant of intVariantsFor(ctx!, 'Q4_K', { cols })) {
        const got = await run('Q4_K', bytes, rows, cols, x, variant);
        expect(Math.max(...Array.from(got.xq.q, Math.abs))).toBe(127);
        const ref = intMatvecRef('Q4_K', bytes, rows, cols, got.xq);
        const mag = Math.max(...ref.mag);
        const msg = compareClose(got.y, ref.y, { atol: 8 * U * mag, rtol: 2 ** -20 }, `Q4_K ${variant} ${label}`);
        expect(msg, msg ?? '').toBeNull();
      }
    }
  });

  // Q8_0's extremes: every quant −128 or +127 (by byte, so every word mixes both and each block's
  // first and last quants sit in the words Q8_0's subgroup shape shares with the scales), x's
  // quants ±127; every offered variant against the reference. Tolerance as above: 8u·Σ|terms|.
  it('Q8_0: every offered variant at the extremes (quants −128/+127, x quants ±127)', async () => {
    const rows = 65;
    const cols = 768;
    const bytes = randomBlocks('Q8_0', (MAX_ROWS * cols) / 32, 6);
    for (let b = 0; b < bytes.length; b += 34) for (let i = 2; i < 34; i++) bytes[b + i] = (b / 34 + i) & 1 ? 0x80 : 0x7f;
    for (const [label, x] of [
      ['x all +1', new Float32Array(cols).fill(1)],
      ['x ±1 alternating', Float32Array.from({ length: cols }, (_, i) => (i & 1 ? -1 : 1))],
    ] as const) {
      for (const variant of intVariantsFor(ctx!, 'Q8_0', { cols })) {
        const got = await run('Q8_0', bytes, rows, cols, x, variant);
        expect(Math.max(...Array.from(got.xq.q, Math.abs))).toBe(127);
        const ref = intMatvecRef('Q8_0', bytes, rows, cols, got.xq);
        const mag = Math.max(...ref.mag);
        const msg = compareClose(got.y, ref.y, { atol: 8 * U * mag, rtol: 2 ** -20 }, `Q8_0 ${variant} ${label}`);
        expect(msg, msg ?? '').toBeNull();
      }
    }
  });

  // The integer path's error against the exact f32-path product (f64 over the dequantised weights
  // and the unquantised x). Bound per output: each x value moves by ≤ d/2 of its block, so
  // |y_int − y| ≤ Σ_b d_b/2 · Σ_{c∈b}|W[r, c]| (+ f32 rounding). And the figure stated in
  // specs/engine.md: the relative RMS error ‖y_int − y‖ / ‖y‖ stays under 1 % on random weights
  // and x (measured ~0.3–0.5 %; x quantised to 8 bits has ~0.4 % RMS error per value), under 3 % with
  // outliers (measured on lavapipe: Q4_K 0.40 % / 0.60 %, Q6_K 0.37 % / 1.13 %).
  for (const type of TYPES) {
    it(`${type}: integer path vs the exact product, per-output bound and relative RMS error ≤ 1e-2`, async () => {
      const cols = 2048;
      const rows = 256;
      const f = QUANT_FORMATS[type];
      const bytes = randomBlocks(type, (rows * cols) / f.blockSize, 99);
      const w = f.dequantize(bytes, rows * cols);
      for (const [label, x] of [
        ['uniform x', uniform(cols, 11)],
        ['x with outliers', outliers(uniform(cols, 12))],
      ] as const) {
        const { y, xq } = await run(type, bytes, rows, cols, x, intVariantsFor(ctx!, type, { cols })[0]!);
        const exact = matmulRef(w, rows, cols, x);
        const mag = matmulAbsRef(w, rows, cols, x);
        const bound = q8ErrorBound(w, rows, cols, xq);
        let num = 0;
        let den = 0;
        for (let r = 0; r < rows; r++) {
          const e = Math.abs(y[r]! - exact[r]!);
          expect(e, `${type} ${label} row ${r}`).toBeLessThanOrEqual(bound[r]! + 8 * U * mag[r]!);
          num += e * e;
          den += exact[r]! * exact[r]!;
        }
        const rel = Math.sqrt(num / den);
        console.log(`${type} ${label}: relative RMS error of the integer path vs exact ${rel.toExponential(2)}`);
        expect(rel).toBeLessThan(label === 'uniform x' ? 1e-2 : 3e-2);
      }
    });
  }

  afterAll(() => console.log('worst |err| vs the integer reference, in u·max Σ|terms|:', worst));
});

/** A few large values, as real activations have: they set their blocks' scales. */
function outliers(x: Float32Array): Float32Array {
  for (let i = 5; i < x.length; i += 97) x[i] *= 20;
  return x;
}
