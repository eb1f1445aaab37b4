import { describe, expect, it } from 'vitest';
import { INT_WEIGHT_TYPES, intVariantFits, intVariantsOfType, parseIntMatvec, planIntMatvec } from '../../shared/engine/int-matvec';
import { intMatvecRef, quantizeQ8Ref, superBlockInts } from '../../shared/engine/reference/int-matvec';
import { QUANT_FORMATS } from '../../shared/quant';
import { randomBlocks, uniform } from './quant-helpers';

// The super-block types' integer reference (shared/engine/reference/int-matvec.ts) checked on the
// CPU against the project's own decoders (shared/quant): the integers it reads out of ggml's layout
// must give back the dequantised values, and its product must equal the plain product over the
// dequantised weights and the Q8 values of x.

describe('superBlockInts', () => {
  for (const type of ['Q4_K', 'Q6_K'] as const) {
    it(`${type}: d·sc·q − dmin·m gives shared/quant's dequantised values`, () => {
      const ns = 12;
      const bytes = randomBlocks(type, ns, 41);
      const want = QUANT_FORMATS[type].dequantize(bytes, 256 * ns);
      const wi = superBlockInts(type, bytes, 256 * ns);
      for (let v = 0; v < 256 * ns; v++) {
        const k = v >> 8;
        const j = Math.floor(v / wi.sub);
        const got = wi.d[k]! * wi.sc[j]! * wi.q[v]! - wi.dmin[k]! * wi.m[j]!;
        // shared/quant rounds d·sc (and dmin·m) to f32 first: a few f32 ulps.
        expect(Math.abs(got - want[v]!), `${type} value ${v}`).toBeLessThanOrEqual(4 * 2 ** -24 * (Math.abs(want[v]!) + Math.abs(wi.dmin[k]! * wi.m[j]!)) + 1e-30);
      }
      // Every quant and scale range of the format is reached (the random bytes are not degenerate).
      expect(Math.min(...wi.q)).toBe(type === 'Q4_K' ? 0 : -32);
      expect(Math.max(...wi.q)).toBe(type === 'Q4_K' ? 15 : 31);
    });

    it(`${type}: the integer product equals Σ dequantised W · dequantised x`, () => {
      const rows = 3;
      const cols = 512;
      const bytes = randomBlocks(type, (rows * cols) / 256, 7);
      const w = QUANT_FORMATS[type].dequantize(bytes, rows * cols);
      const xq = quantizeQ8Ref(uniform(cols, 5));
      const { y, mag } = intMatvecRef(type, bytes, rows, cols, xq);
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += w[r * cols + c]! * xq.d[c >> 5]! * xq.q[c]!;
        expect(Math.abs(y[r]! - s)).toBeLessThanOrEqual(1e-5 * mag[r]!);
      }
    });
  }
});

describe('integer variants per type', () => {
  it('the super-block types have dot4 and int (Q4_K also its 16-byte and subgroup shapes; Q4_K, Q8_0 and Q6_K the shapes sharing x through the subgroup); a global spec sets only the types that have it', () => {
    expect(intVariantsOfType('Q8_0')).toEqual(['dot4', 'dot4-r2', 'dot4-r4', 'int', 'int-r2', 'int-r4', 'dot4-v16', 'int-v16', 'dot4-sg', 'dot4-sg-r2', 'dot4-sg-r4', 'int-sg', 'int-sg-r2', 'int-sg-r4', 'dot4-sh', 'int-sh']);
    expect(intVariantsOfType('Q4_K')).toEqual(['dot4', 'int', 'dot4-v16', 'int-v16', 'dot4-v16-r2', 'int-v16-r2', 'dot4-v16-r4', 'int-v16-r4', 'dot4-sg', 'dot4-sg-r2', 'dot4-sg-r4', 'int-sg', 'int-sg-r2', 'int-sg-r4', 'dot4-sh', 'dot4-sh-r2', 'dot4-sh-r4', 'int-sh', 'int-sh-r2', 'int-sh-r4']);
    expect(intVariantsOfType('Q6_K')).toEqual(['dot4', 'int', 'dot4-sh', 'int-sh']);
    expect(parseIntMatvec('dot4-r2')).toEqual({ Q8_0: 'dot4-r2', Q4_0: 'dot4-r2' });
    expect(parseIntMatvec('dot4-v16')).toEqual({ Q8_0: 'dot4-v16', Q4_0: 'dot4-v16', Q4_K: 'dot4-v16' });
    expect(parseIntMatvec('int-v16-r2')).toEqual({ Q4_K: 'int-v16-r2' });
    expect(parseIntMatvec('dot4-sg')).toEqual({ Q8_0: 'dot4-sg', Q4_0: 'dot4-sg', Q4_K: 'dot4-sg' });
    expect(parseIntMatvec('int-sg-r4')).toEqual({ Q8_0: 'int-sg-r4', Q4_K: 'int-sg-r4' });
    expect(() => parseIntMatvec('Q4_0=dot4-sg-r2')).toThrow(/no integer kernel dot4-sg-r2 for Q4_0/);
    expect(() => parseIntMatvec('Q6_K=dot4-v16')).toThrow(/no integer kernel dot4-v16 for Q6_K/);
    expect(parseIntMatvec('int')).toEqual(Object.fromEntries(INT_WEIGHT_TYPES.map((t) => [t, 'int'])));
    expect(parseIntMatvec('Q4_K=dot4,Q6_K=int')).toEqual({ Q4_K: 'dot4', Q6_K: 'int' });
    expect(() => parseIntMatvec('Q4_K=dot4-r2')).toThrow(/no integer kernel dot4-r2 for Q4_K/);
    expect(() => planIntMatvec({ weights: { type: 'Q6_K', rows: 4, cols: 256 }, variant: 'dot4-sg' })).toThrow(/dot4-sg/);
    expect(parseIntMatvec('int-sh')).toEqual({ Q8_0: 'int-sh', Q4_K: 'int-sh', Q6_K: 'int-sh' });
    expect(parseIntMatvec('int-sh-r2')).toEqual({ Q4_K: 'int-sh-r2' });
    // Q6_K's -sh shape has no NR override, Q4_K's has.
    expect(planIntMatvec({ weights: { type: 'Q6_K', rows: 130, cols: 512 }, variant: 'int-sh' }).constants).toEqual({ WG: 64 });
    expect(planIntMatvec({ weights: { type: 'Q4_K', rows: 130, cols: 512 }, variant: 'int-sh-r2' }).constants).toEqual({ WG: 64, NR: 2 });
  });

  it("plans Q4_K's 16-byte shape with NR rows per invocation", () => {
    const d = planIntMatvec({ weights: { type: 'Q4_K', rows: 130, cols: 512 }, variant: 'dot4-v16-r2' });
    expect(d.shader).toBe('matvec_q4_k_i8v');
    expect(d.constants).toEqual({ WG: 64, NR: 2 });
    expect(d.workgroups).toEqual([2, 1, 1]);
    expect(() => planIntMatvec({ weights: { type: 'Q4_K', rows: 130, cols: 512 }, variant: 'dot4-v16-r2', qOffset: 2 })).toThrow(/16-byte aligned/);
  });

  it("plans Q4_K's and Q8_0's subgroup shapes with 8 lanes per NR rows (cols % 256, 16-byte aligned weights and x), Q4_0's with TPR", () => {
    const d = planIntMatvec({ weights: { type: 'Q4_K', rows: 130, cols: 512 }, variant: 'int-sg-r4' });
    expect(d.shader).toBe('matvec_q4_k_i8xsg');
    expect(d.constants).toEqual({ WG: 64, NR: 4 });
    // 64 lanes are 8 subgroups of 4 rows: 32 rows per workgroup.
    expect(d.workgroups).toEqual([5, 1, 1]);
    const one = planIntMatvec({ weights: { type: 'Q4_K', rows: 130, cols: 512 }, variant: 'dot4-sg' });
    expect([one.shader, one.constants, one.workgroups]).toEqual(['matvec_q4_k_i8sg', { WG: 64, NR: 1 }, [17, 1, 1]]);
    expect(() => planIntMatvec({ weights: { type: 'Q4_K', rows: 130, cols: 512 }, variant: 'dot4-sg-r2', qOffset: 2 })).toThrow(/16-byte aligned/);
    expect(intVariantFits('dot4-sg', { cols: 512, byteOffset: 4 }, 'Q4_K')).toBe(false);
    expect(intVariantFits('dot4-sg', { cols: 96, byteOffset: 2 }, 'Q4_0')).toBe(true);
    const q4 = planIntMatvec({ weights: { type: 'Q4_0', rows: 130, cols: 96 }, variant: 'dot4-sg', qOffset: 2 });
    expect([q4.shader, q4.constants, q4.workgroups]).toEqual(['matvec_q4_0_i8sg', { WG: 64, TPR: 8 }, [17, 1, 1]]);
    expect(intVariantFits('dot4-sg', { cols: 96 }, 'Q8_0')).toBe(false);
    expect(intVariantFits('int-sg-r2', { cols: 512, byteOffset: 8 }, 'Q8_0')).toBe(false);
    expect(intVariantFits('int-sg-r2', { cols: 512, byteOffset: 16 }, 'Q8_0')).toBe(true);
    const q8 = planIntMatvec({ weights: { type: 'Q8_0', rows: 130, cols: 512 }, variant: 'int-sg-r2' });
    expect([q8.shader, q8.constants, q8.workgroups]).toEqual(['matvec_q8_0_i8xsg', { WG: 64, NR: 2 }, [9, 1, 1]]);
    expect(() => planIntMatvec({ weights: { type: 'Q8_0', rows: 130, cols: 512 }, variant: 'dot4-sg', qOffset: 2 })).toThrow(/16-byte aligned/);
  });

  it('plans one invocation per row for the super-block types, without the NR constant', () => {
    const d = planIntMatvec({ weights: { type: 'Q4_K', rows: 130, cols: 512 }, variant: 'int', yOffset: 8 });
    expect(d.shader).toBe('matvec_q4_k_i8x');
    expect(d.constants).toEqual({ WG: 64 });
    expect(d.workgroups).toEqual([3, 1, 1]);
    expect(d.params.slice(0, 3)).toEqual([130, 512, 1]);
    expect(planIntMatvec({ weights: { type: 'Q6_K', rows: 1, cols: 256 }, variant: 'dot4' }).shader).toBe('matvec_q6_k_i8');
  });
});
