/**
 * The integer prefill products (`matmul` of shaders/_matvec_i8.wgsl for Q8_0 and Q4_0: one row per
 * invocation × 4 tokens; `matmul` of shaders/_matvec_i8_k_v16.wgsl for Q4_K: 1 to 8 rows per
 * invocation × 4 tokens; `matmul` of shaders/_q6_k_i8.wgsl for Q6_K: one row × 4 tokens; x quantised for all the tokens by one quantize_q8 dispatch) against the
 * integer reference per token (intMatvecRef over quantizeQ8Ref of that token's x), with
 * dot4I8Packed and with the plain-i32 products, over rows not a multiple of the 64-row workgroup
 * (nor of the rows per invocation), token counts that leave a ragged last tile, and cols with odd
 * block counts (Q8_0/Q4_0: every other 2-byte-aligned row starts mid-word; Q4_K, Q6_K: 1, 3 and 11
 * super-blocks, Q6_K's 210-byte rows starting mid-word every other one); the quantised tokens are checked bit for bit too.
 * Q4_K's subgroup product (`matmul` of shaders/_matvec_i8_k_sg.wgsl, 'dot4-sg' / 'int-sg', where
 * subgroups are 8 lanes) likewise, over rows per subgroup 1..8 × tokens per pass 1..8 with token
 * counts that leave a ragged last pass, and past one workgroup's 64 tokens along z. The products
 * with x shared through the subgroup (`matmul` of shaders/_matvec_i8_k_sh.wgsl for Q4_K, 1..8 rows
 * × 1..16 tokens per invocation, and of shaders/_matvec_q8_0_sh.wgsl for Q8_0, 2 rows × 1..16
 * tokens; `matmul` of shaders/_matvec_q6_k_sh.wgsl for Q6_K, one row × 4 tokens; 'dot4-sh' /
 * 'int-sh', where subgroups are 8 lanes) likewise, over cols that are whole groups of 256 values
 * (1, 3 and 11 or 17 of them).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { hasIntMatmul, intPipeline, intPrefillOffered, intVariantsFor, INT_MATMUL_ROWS, INT_MATMUL_TOKENS, INT_MATMUL_TYPES, planIntMatmul, planQuantizeTokens, prefillIntVariant, quantizedXWords, recordIntDispatch, SG_MATMUL_ROWS, SG_MATMUL_TOKENS, SH_MATMUL_ROWS, SH_MATMUL_TOKENS, SH_MATMUL_WG, SH_PAIRS_MATMUL_ROWS, Q8_0_SH_MATMUL_ROWS, type IntVariant } from '../../shared/engine/int-matvec';
import { padWeightBytes, weightBytes } from '../../shared/engine/quant-matmul';
import { intMatvecRef, quantizeQ8Ref } from '../../shared/engine/reference/int-matvec';
import { compareClose } from '../support/compare';
import { openGpuAtCollection } from '../support/gpu';
import { randomBlocks, uniform } from '../shared/quant-helpers';

const ROWS = [1, 63, 65, 130];
const TOKENS = [2, 4, 5, 9];
const COLS: Record<IntMatmulType, number[]> = { Q8_0: [32, 96, 4128], Q4_0: [32, 96, 4128], Q4_K: [256, 768, 2816], Q6_K: [256, 768, 2816] };
type IntMatmulType = 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q6_K';
/** Rows per invocation tried: Q4_K's shape takes 1..4 (default INT_MATMUL_ROWS), the others 1. */
const NRS: Record<IntMatmulType, (number | undefined)[]> = { Q8_0: [undefined], Q4_0: [undefined], Q4_K: [undefined, 1, 3, 4, 7], Q6_K: [undefined] };
/** Q4_K's subgroup product: rows per subgroup × tokens per pass tried (the defaults first). */
const SG_SHAPES: { nr?: number; tt?: number }[] = [{}, { nr: 1, tt: 1 }, { nr: 2, tt: 3 }, { nr: 3, tt: 8 }, { nr: 8, tt: 4 }];
const isSg = (v: IntVariant) => v === 'dot4-sg' || v === 'int-sg';
/** The products with x shared through the subgroup: rows × tokens per invocation tried (the defaults first; Q8_0 its Q8_0_SH_MATMUL_ROWS rows). */
const SH_SHAPES: Record<'Q4_K' | 'Q8_0' | 'Q6_K', { nr?: number; tt?: number }[]> = {
  Q4_K: [{}, { nr: 1, tt: 1 }, { nr: 3, tt: 5 }, { nr: 8, tt: 2 }, { nr: 2, tt: 8 }],
  Q8_0: [{}, { tt: 1 }, { tt: 3 }, { tt: 8 }],
  Q6_K: [{}],
};
const isSh = (v: IntVariant) => v === 'dot4-sh' || v === 'int-sh';
/** Their cols: whole groups of 256 values (Q8_0: 1, 3 and 17 groups of 8 blocks). */
const COLS_SH: Record<'Q4_K' | 'Q8_0' | 'Q6_K', number[]> = { Q4_K: [256, 768, 2816], Q8_0: [256, 768, 4352], Q6_K: [256, 768, 2816] };
const MAX_ROWS = 130;
const MAX_T = 9;
const U = 2 ** -24;

const { ctx, title: SUITE } = await openGpuAtCollection('integer prefill product on WebGPU');

async function run(type: IntMatmulType, bytes: Uint8Array, rows: number, cols: number, x: Float32Array, tokens: number, variant: IntVariant, rowsPerInvocation?: number, tokensPerPass?: number) {
  const g = ctx!;
  const words = quantizedXWords(cols);
  const wbuf = g.storage(padWeightBytes(bytes.subarray(0, weightBytes(type, rows, cols))), 'w');
  const xbuf = g.storage(x.subarray(0, tokens * cols), 'x');
  const xqbuf = g.storage(tokens * words * 4, 'xq');
  const ybuf = g.storage(tokens * rows * 4, 'y');
  const b = g.batch('test');
  const q = planQuantizeTokens(cols, tokens);
  recordIntDispatch(b, await intPipeline(g, q), q, [xbuf, xqbuf]);
  const d = planIntMatmul({ weights: { type, rows, cols }, variant, tokens, rowsPerInvocation, tokensPerPass });
  recordIntDispatch(b, await intPipeline(g, d), d, [wbuf, xqbuf, ybuf]);
  b.submit();
  const y = await g.readF32(ybuf, tokens * rows);
  const xq = await g.readU32(xqbuf, tokens * words);
  for (const buf of [wbuf, xbuf, xqbuf, ybuf]) buf.destroy();
  return { y, xq };
}

describe('integer prefill dispatch plan', () => {
  it('covers rows by 64 (Q4_K: by 64 × its rows per invocation) and tokens by tiles of 4; Q8_0/Q4_0/Q4_K with dot4 or int only', () => {
    const d = planIntMatmul({ weights: { type: 'Q8_0', rows: 130, cols: 64 }, variant: 'dot4', tokens: 9 });
    expect(d.workgroups).toEqual([3, 1, Math.ceil(9 / INT_MATMUL_TOKENS)]);
    expect(d.params.slice(0, 3)).toEqual([130, 64, 9]);
    expect(d.params[5]).toBe(quantizedXWords(64));
    expect(planQuantizeTokens(64, 9).params).toEqual([64, 9, 0, 64, 0, quantizedXWords(64)]);
    const k = planIntMatmul({ weights: { type: 'Q4_K', rows: 130, cols: 512 }, variant: 'int', tokens: 5 });
    expect(k.shader).toBe('matvec_q4_k_i8xv');
    expect(k.constants).toEqual({ WG: 64, NR: INT_MATMUL_ROWS });
    expect(k.workgroups).toEqual([Math.ceil(130 / (64 * INT_MATMUL_ROWS)), 1, 2]);
    expect(planIntMatmul({ weights: { type: 'Q4_K', rows: 130, cols: 512 }, variant: 'dot4', tokens: 5, rowsPerInvocation: 1 }).shader).toBe('matvec_q4_k_i8v');
    expect(() => planIntMatmul({ weights: { type: 'Q4_K', rows: 1, cols: 256 }, variant: 'dot4', tokens: 2, rowsPerInvocation: 9 })).toThrow(/rowsPerInvocation/);
    expect(() => planIntMatmul({ weights: { type: 'Q8_0', rows: 1, cols: 32 }, variant: 'dot4', tokens: 2, rowsPerInvocation: 2 })).toThrow(/rowsPerInvocation/);
    expect(() => planIntMatmul({ weights: { type: 'Q4_K', rows: 1, cols: 256, byteOffset: 8 }, variant: 'dot4', tokens: 2 })).toThrow(/multiple of 16 bytes/);
    const q6 = planIntMatmul({ weights: { type: 'Q6_K', rows: 130, cols: 512 }, variant: 'int', tokens: 5 });
    expect([q6.shader, q6.constants, q6.workgroups]).toEqual(['matvec_q6_k_i8x', { WG: 64 }, [3, 1, 2]]);
    expect(() => planIntMatmul({ weights: { type: 'Q6_K', rows: 1, cols: 256 }, variant: 'dot4', tokens: 2, rowsPerInvocation: 2 })).toThrow(/rowsPerInvocation/);
    expect(hasIntMatmul('Q5_K', 'dot4')).toBe(false);
    expect(() => planIntMatmul({ weights: { type: 'Q5_K', rows: 1, cols: 256 }, variant: 'dot4', tokens: 2 })).toThrow(/no integer prefill product/);
    expect(() => planIntMatmul({ weights: { type: 'Q8_0', rows: 1, cols: 32 }, variant: 'dot4-r2', tokens: 2 })).toThrow(/no integer prefill product/);
  });

  it("Q4_K's subgroup product: 8 subgroups of 8 lanes per workgroup, SG_MATMUL_ROWS rows each, 64 tokens per workgroup along z; Q4_K only", () => {
    const s = planIntMatmul({ weights: { type: 'Q4_K', rows: 130, cols: 512 }, variant: 'int-sg', tokens: 70 });
    expect([s.shader, s.entryPoint, s.constants]).toEqual(['matvec_q4_k_i8xsg', 'matmul', { WG: 64, NR: SG_MATMUL_ROWS, TT: SG_MATMUL_TOKENS }]);
    expect(s.workgroups).toEqual([Math.ceil(130 / (8 * SG_MATMUL_ROWS)), 1, 2]);
    expect(s.params.slice(0, 3)).toEqual([130, 512, 70]);
    const d = planIntMatmul({ weights: { type: 'Q4_K', rows: 130, cols: 512 }, variant: 'dot4-sg', tokens: 5, rowsPerInvocation: 1, tokensPerPass: 3 });
    expect([d.shader, d.constants, d.workgroups]).toEqual(['matvec_q4_k_i8sg', { WG: 64, NR: 1, TT: 3 }, [17, 1, 1]]);
    expect(() => planIntMatmul({ weights: { type: 'Q4_K', rows: 1, cols: 256 }, variant: 'int-sg', tokens: 2, rowsPerInvocation: 9 })).toThrow(/rows per subgroup/);
    expect(() => planIntMatmul({ weights: { type: 'Q4_K', rows: 1, cols: 256 }, variant: 'int-sg', tokens: 2, tokensPerPass: 9 })).toThrow(/tokens per pass/);
    expect(() => planIntMatmul({ weights: { type: 'Q4_K', rows: 1, cols: 256 }, variant: 'int', tokens: 2, tokensPerPass: 4 })).toThrow(/tokensPerPass/);
    expect(() => planIntMatmul({ weights: { type: 'Q4_K', rows: 1, cols: 256, byteOffset: 8 }, variant: 'int-sg', tokens: 2 })).toThrow(/multiple of 16 bytes/);
    expect(() => planIntMatmul({ weights: { type: 'Q8_0', rows: 1, cols: 32 }, variant: 'int-sg', tokens: 2 })).toThrow(/no integer prefill product/);
    expect(() => planIntMatmul({ weights: { type: 'Q4_K', rows: 1, cols: 256 }, variant: 'int-sg-r4', tokens: 2 })).toThrow(/no integer prefill product/);
    expect([prefillIntVariant('i8'), prefillIntVariant('i8x'), prefillIntVariant('i8sg'), prefillIntVariant('i8xsg')]).toEqual(['dot4', 'int', 'dot4-sg', 'int-sg']);
    // Offered only where subgroups are exactly 8 lanes, as the decode -sg kernels.
    const dev = (sg: boolean, min: number, max: number) => ({ caps: { subgroups: sg }, adapter: { subgroupMinSize: min, subgroupMaxSize: max } }) as unknown as Parameters<typeof intPrefillOffered>[0];
    expect(intPrefillOffered(dev(true, 8, 8), 'Q4_K', 'i8xsg')).toBe(true);
    expect(intPrefillOffered(dev(true, 4, 64), 'Q4_K', 'i8xsg')).toBe(false);
    expect(intPrefillOffered(dev(false, 8, 8), 'Q4_K', 'i8sg')).toBe(false);
    expect(intPrefillOffered(dev(true, 8, 8), 'Q8_0', 'i8xsg')).toBe(false);
    expect(intPrefillOffered(dev(false, 8, 8), 'Q8_0', 'i8x')).toBe(true);
  });

  it('the products with x shared through the subgroup: Q4_K SH_MATMUL_ROWS rows (int-sh: SH_PAIRS_MATMUL_ROWS) × SH_MATMUL_TOKENS tokens per invocation, Q8_0 Q8_0_SH_MATMUL_ROWS rows, Q6_K one row × 4 tokens; subgroups of 8 only', () => {
    const k = planIntMatmul({ weights: { type: 'Q4_K', rows: 130, cols: 512 }, variant: 'int-sh', tokens: 9 });
    expect([k.shader, k.entryPoint, k.constants]).toEqual(['matvec_q4_k_i8xsh', 'matmul', { WG: SH_MATMUL_WG, NR: SH_PAIRS_MATMUL_ROWS, TT: SH_MATMUL_TOKENS }]);
    expect(k.workgroups).toEqual([Math.ceil(130 / (SH_MATMUL_WG * SH_PAIRS_MATMUL_ROWS)), 1, Math.ceil(9 / SH_MATMUL_TOKENS)]);
    const kd = planIntMatmul({ weights: { type: 'Q4_K', rows: 1000, cols: 512 }, variant: 'dot4-sh', tokens: 9 });
    expect([kd.shader, kd.constants, kd.workgroups]).toEqual(['matvec_q4_k_i8sh', { WG: SH_MATMUL_WG, NR: SH_MATMUL_ROWS, TT: SH_MATMUL_TOKENS }, [Math.ceil(1000 / (SH_MATMUL_WG * SH_MATMUL_ROWS)), 1, 1]]);
    const q = planIntMatmul({ weights: { type: 'Q8_0', rows: 130, cols: 512 }, variant: 'dot4-sh', tokens: 9, tokensPerPass: 3 });
    expect([q.shader, q.constants, q.workgroups]).toEqual(['matvec_q8_0_i8sh', { WG: SH_MATMUL_WG, TT: 3 }, [Math.ceil(130 / (SH_MATMUL_WG * Q8_0_SH_MATMUL_ROWS)), 1, 3]]);
    expect(Q8_0_SH_MATMUL_ROWS).toBe(2);
    expect(() => planIntMatmul({ weights: { type: 'Q8_0', rows: 1, cols: 256 }, variant: 'int-sh', tokens: 2, rowsPerInvocation: 1 })).toThrow(/2 rows/);
    expect(() => planIntMatmul({ weights: { type: 'Q4_K', rows: 1, cols: 256 }, variant: 'int-sh', tokens: 2, tokensPerPass: 17 })).toThrow(/1..16 tokens/);
    expect(() => planIntMatmul({ weights: { type: 'Q8_0', rows: 1, cols: 96 }, variant: 'int-sh', tokens: 2 })).toThrow(/multiple of 256/);
    expect(() => planIntMatmul({ weights: { type: 'Q4_0', rows: 1, cols: 256 }, variant: 'int-sh', tokens: 2 })).toThrow(/no integer prefill product/);
    // Q6_K's: one row × INT_MATMUL_TOKENS tokens per invocation, as its 4-byte super-block walk.
    const q6 = planIntMatmul({ weights: { type: 'Q6_K', rows: 130, cols: 512 }, variant: 'int-sh', tokens: 9 });
    expect([q6.shader, q6.constants, q6.workgroups]).toEqual(['matvec_q6_k_i8xsh', { WG: SH_MATMUL_WG }, [Math.ceil(130 / SH_MATMUL_WG), 1, Math.ceil(9 / INT_MATMUL_TOKENS)]]);
    expect(() => planIntMatmul({ weights: { type: 'Q6_K', rows: 1, cols: 256 }, variant: 'int-sh', tokens: 2, tokensPerPass: 8 })).toThrow(/one row and 4 tokens/);
    expect([prefillIntVariant('i8sh'), prefillIntVariant('i8xsh')]).toEqual(['dot4-sh', 'int-sh']);
    const dev = (sg: boolean, min: number, max: number) => ({ caps: { subgroups: sg }, adapter: { subgroupMinSize: min, subgroupMaxSize: max } }) as unknown as Parameters<typeof intPrefillOffered>[0];
    expect(intPrefillOffered(dev(true, 8, 8), 'Q8_0', 'i8xsh')).toBe(true);
    expect(intPrefillOffered(dev(true, 32, 32), 'Q8_0', 'i8xsh')).toBe(false);
    expect(intPrefillOffered(dev(false, 8, 8), 'Q4_K', 'i8sh')).toBe(false);
    expect(intPrefillOffered(dev(true, 8, 8), 'Q6_K', 'i8sh')).toBe(true);
    expect(intPrefillOffered(dev(true, 8, 8), 'Q4_0', 'i8sh')).toBe(false);
  });
});

describe.skipIf(!ctx)(SUITE, () => {
  const worst: Record<string, number> = {};
  for (const type of INT_MATMUL_TYPES as IntMatmulType[]) {
    it(`${type}: every offered variant, rows ${ROWS.join(',')} × cols ${COLS[type].join(',')} × tokens ${TOKENS.join(',')}`, async () => {
      const variants = intVariantsFor(ctx!, type).filter((v) => hasIntMatmul(type, v));
      expect(variants.length).toBeGreaterThan(0);
      const shCols = type === 'Q4_K' || type === 'Q8_0' || type === 'Q6_K' ? COLS_SH[type] : [];
      for (const cols of [...new Set([...COLS[type], ...shCols])]) {
        const bytes = randomBlocks(type, (MAX_ROWS * cols) / (type === 'Q4_K' || type === 'Q6_K' ? 256 : 32), cols + 7);
        const x = uniform(MAX_T * cols, cols + 8, 2);
        const refs = Array.from({ length: MAX_T }, (_, t) => quantizeQ8Ref(x.subarray(t * cols, (t + 1) * cols)));
        // The -sh products take whole groups of 256 values only; the others take the type's own cols.
        for (const v of variants.filter((v) => (isSh(v) ? shCols : COLS[type]).includes(cols))) {
          for (const rows of ROWS) {
            const ref = refs.map((q) => intMatvecRef(type, bytes, rows, cols, q));
            const shapes = isSg(v) ? SG_SHAPES : isSh(v) ? SH_SHAPES[type as 'Q4_K' | 'Q8_0' | 'Q6_K'] : NRS[type].map((nr) => ({ nr, tt: undefined }));
            for (const [T, { nr, tt }] of TOKENS.flatMap((T) => shapes.map((s) => [T, s] as const))) {
              const { y, xq } = await run(type, bytes, rows, cols, x, T, v, nr, tt);
              // The quantised tokens, bit for bit (quants as bytes, then the scales).
              const words = quantizedXWords(cols);
              for (let t = 0; t < T; t++) {
                const tw = xq.subarray(t * words, (t + 1) * words);
                expect(Array.from(new Int8Array(tw.buffer, tw.byteOffset, cols)), `${type} x ${t}`).toEqual(Array.from(refs[t]!.q));
                expect(Array.from(new Float32Array(tw.buffer, tw.byteOffset + cols, cols / 32)), `${type} dx ${t}`).toEqual(Array.from(refs[t]!.d));
              }
              const want = new Float64Array(T * rows);
              let mag = 0;
              for (let t = 0; t < T; t++) {
                want.set(ref[t]!.y, t * rows);
                for (const m of ref[t]!.mag) mag = Math.max(mag, m);
              }
              // As the integer matvec's test: block sums exact; f32 rounding of the terms and their sum only.
              const msg = compareClose(y, want, { atol: 8 * U * mag, rtol: 2 ** -20 }, `${type} ${v} ${rows}×${cols} T=${T} NR=${nr ?? 'default'} TT=${tt ?? 'default'}`);
              expect(msg, msg ?? '').toBeNull();
              for (let i = 0; i < want.length; i++) worst[type] = Math.max(worst[type] ?? 0, Math.abs(y[i]! - want[i]!) / (U * mag));
            }
          }
        }
      }
    }, 300_000);
  }
  it("Q4_K's subgroup product past one workgroup's 64 tokens (z) and a ragged last pass: 70 tokens", async (t) => {
    const variants = intVariantsFor(ctx!, 'Q4_K').filter((v) => isSg(v) && hasIntMatmul('Q4_K', v));
    if (!variants.length) return t.skip('subgroups of 8 lanes not offered by this adapter');
    const [rows, cols, T] = [65, 512, 70];
    const bytes = randomBlocks('Q4_K', (rows * cols) / 256, 11);
    const x = uniform(T * cols, 12, 2);
    const refs = Array.from({ length: T }, (_, t) => intMatvecRef('Q4_K', bytes, rows, cols, quantizeQ8Ref(x.subarray(t * cols, (t + 1) * cols))));
    const want = new Float64Array(T * rows);
    let mag = 0;
    refs.forEach((r, t) => {
      want.set(r.y, t * rows);
      for (const m of r.mag) mag = Math.max(mag, m);
    });
    for (const v of variants) {
      for (const { nr, tt } of [{}, { nr: 2, tt: 3 }]) {
        const { y } = await run('Q4_K', bytes, rows, cols, x, T, v, nr, tt);
        const msg = compareClose(y, want, { atol: 8 * U * mag, rtol: 2 ** -20 }, `Q4_K ${v} T=${T} NR=${nr ?? 'default'} TT=${tt ?? 'default'}`);
        expect(msg, msg ?? '').toBeNull();
      }
    }
  }, 300_000);
  afterAll(() => console.log('integer prefill worst |err| in u·max Σ|terms|:', worst));
});
