/**
 * The weight products' test cases and check (tests/gpu/matvec.test.ts, matmul-tile.test.ts):
 * random valid blocks of a weight type (every nibble, high-bit and scale pattern occurs), inputs,
 * and the f64 reference over the dequantised weights.
 *
 * Tolerance: |gpu − ref| <= atol + rtol·|ref| with
 *   atol = 8·u·max Σ_c|W[r,c]·X[t,c]| over the outputs compared (u = 2^-24, f32 unit roundoff),
 *   rtol = 2^-20.
 * Why: the reference sums in f64 over the very weights the kernel decodes (shared/quant gives
 * ggml's values, which are exact in f32), so the only difference is the kernel's f32
 * accumulation. A dot product summed in any order errs by at most γ_m·Σ|w·x| with m the longest
 * chain of sequential adds (cols/4 here, less with TPR > 1); random rounding makes it grow like
 * sqrt(m)·u, and 8u·Σ|w·x| sits several times above the worst seen (F32 4100 cols: ~1.5u·Σ|w·x|)
 * while a real fault — one wrong nibble, scale or offset — moves an output by about one term,
 * |w·x| ~ Σ|w·x|/cols, thousands of times more than atol at these sizes.
 */
import { expect } from 'vitest';
import type { WeightType } from '../../shared/engine/quant-matmul';
import { matmulAbsRef, matmulRef } from '../../shared/engine/reference/matmul';
import { QUANT_FORMATS } from '../../shared/quant';
import { randomBlocks, uniform } from '../shared/quant-helpers';
import { compareClose } from './compare';

export const U = 2 ** -24;
const ATOL_ULPS = 8;
const RTOL = 2 ** -20;

export interface MatmulCase<T extends WeightType = WeightType> {
  type: T;
  cols: number;
  /** maxRows × cols weights: the blocks, and their values. */
  bytes: Uint8Array;
  w: Float32Array;
  x: Float32Array; // maxTokens × cols
  ref: Float64Array; // maxTokens × maxRows
  mag: Float64Array; // Σ|w·x| per output
}

/**
 * The cases of one file, made once per (type, cols): weights of `maxRows` rows and `maxTokens`
 * tokens of x, seeded by `seed(type, cols)`; `check` compares the first `rows` rows and `tokens`
 * tokens of a product with the reference and keeps each type's worst error (in u·max Σ|w·x|).
 */
export class MatmulCases<T extends WeightType> {
  private readonly cases = new Map<string, MatmulCase<T>>();
  /** The worst error seen per type, in units of u·max Σ|w·x| (to keep the bound honest). */
  readonly worstSeen: Record<string, number> = {};

  constructor(
    readonly maxRows: number,
    readonly maxTokens: number,
    private readonly seed: (type: T, cols: number) => number,
  ) {}

  get(type: T, cols: number): MatmulCase<T> {
    const key = `${type}/${cols}`;
    let c = this.cases.get(key);
    if (!c) {
      const f = QUANT_FORMATS[type];
      const seed = this.seed(type, cols);
      const bytes = randomBlocks(type, (this.maxRows * cols) / f.blockSize, seed);
      const w = f.dequantize(bytes, this.maxRows * cols);
      const x = uniform(this.maxTokens * cols, seed + 1);
      c = { type, cols, bytes, w, x, ref: matmulRef(w, this.maxRows, cols, x, this.maxTokens), mag: matmulAbsRef(w, this.maxRows, cols, x, this.maxTokens) };
      this.cases.set(key, c);
    }
    return c;
  }

  /** Expects `got` (Y [tokens, rows]) within the tolerance of the reference. */
  check(c: MatmulCase<T>, rows: number, tokens: number, got: Float32Array, label: string): void {
    const want = new Float64Array(tokens * rows);
    let mag = 0;
    for (let t = 0; t < tokens; t++) {
      for (let r = 0; r < rows; r++) {
        want[t * rows + r] = c.ref[t * this.maxRows + r]!;
        mag = Math.max(mag, c.mag[t * this.maxRows + r]!);
      }
    }
    const msg = compareClose(got, want, { atol: ATOL_ULPS * U * mag, rtol: RTOL }, label);
    expect(msg, msg ?? '').toBeNull();
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (U * mag));
    this.worstSeen[c.type] = Math.max(this.worstSeen[c.type] ?? 0, worst);
  }
}
