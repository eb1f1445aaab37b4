/**
 * The residency planner over sizes alone: the plan fits its budget, keeps resident what it can
 * (matrices read twice first), streams in row pieces only when whole matrices cannot take turns
 * in two slots, and refuses a budget below two slots of the widest row with the field and the
 * least that would do. Cases worked by hand (rows of 1024 bytes: a matrix of n rows takes
 * 1024·n + 16 bytes on the GPU), then many random ones.
 */
import { describe, expect, it } from 'vitest';
import { pieceSizes, planResidency, STREAM_SLOTS, type ResidencyMatrix, type ResidencyPlan } from '../../shared/engine/residency';
import { PxiError } from '../../shared/errors';

const BIG_BINDING = 1 << 30;
const m = (name: string, rows: number, uses = 1): ResidencyMatrix => ({ name, rows, rowBytes: 1024, uses });
const plan = (matrices: ResidencyMatrix[], fixedBytes: number, budget: number | null) => planResidency({ matrices, fixedBytes, budget, maxBindingBytes: BIG_BINDING });
const held = (p: ResidencyPlan, fixed: number) => fixed + p.residentBytes + p.slotsBytes;

describe('planResidency', () => {
  it('keeps everything resident without a budget, or when it fits', () => {
    const ms = [m('a', 10), m('b', 20)];
    for (const budget of [null, 1000 + 30 * 1024 + 32]) {
      const p = plan(ms, 1000, budget);
      expect(p.streamed).toEqual([]);
      expect(p.resident).toEqual(['a', 'b']);
      expect(p.uploadBytesPerPass).toBe(0);
      expect(p.explanation.join('\n')).toMatch(/all 2 weight matrices/);
    }
  });

  it('keeps the largest resident and streams whole small matrices through two slots', () => {
    // 71744 of room: two slots of 10256 and the 40976 leave 10256, one more small one.
    const ms = [m('e', 40), m('q', 10), m('o', 10), m('d', 10), m('x', 10)];
    const p = plan(ms, 0, 71744);
    expect(p.resident).toEqual(['e', 'q']);
    expect(p.streamed).toEqual(['o', 'd', 'x']);
    expect(p.slotsBytes).toBe(STREAM_SLOTS * 10256);
    expect(p.uploadBytesPerPass).toBe(3 * 10256);
    expect(p.piecesPerPass).toBe(3);
    expect(held(p, 0)).toBeLessThanOrEqual(71744);
    expect(p.explanation.join('\n')).toMatch(/3 matrices stream from host memory/);
  });

  it('keeps a matrix read twice per pass before one read once', () => {
    const ms = [m('a', 10), m('embd', 10, 2), m('b', 10), m('c', 10)];
    const p = plan(ms, 0, 3 * 10256);
    expect(p.resident).toEqual(['embd']);
    expect(p.streamed).toEqual(['a', 'b', 'c']);
  });

  it('streams a large matrix in pieces of the small one when the large one cannot take two slots', () => {
    const ms = [m('embd', 64), m('a', 8)];
    const p = plan(ms, 0, 40000);
    expect(p.resident).toEqual(['a']);
    expect(p.streamed).toEqual(['embd']);
    expect(p.pieceBytes).toBe(8208);
    expect(p.piecesPerPass).toBe(8);
    expect(held(p, 0)).toBeLessThanOrEqual(40000);
  });

  it('halves the pieces until two slots fit, down to one row', () => {
    const p = plan([m('embd', 64)], 0, 10000);
    expect(p.streamed).toEqual(['embd']);
    expect(p.slotsBytes).toBeLessThanOrEqual(10000);
    expect(p.piecesPerPass).toBeGreaterThan(8);
    expect(p.piecesPerPass).toBe(pieceSizes(m('embd', 64), p.pieceBytes).length);
    expect(p.explanation.join('\n')).toMatch(/row pieces/);
  });

  it('refuses a budget below two slots of the widest row, naming the field and the least', () => {
    const ms = [m('a', 40), m('b', 10)];
    let err: unknown;
    try {
      plan(ms, 300, 300 + 2000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PxiError);
    expect((err as PxiError).code).toBe('ENGINE_BAD_OPTION');
    expect((err as PxiError).details).toMatchObject({ field: 'gpuMemory', value: 2300, needed: 300 + 2 * 1040 });
    expect(plan(ms, 300, 300 + 2 * 1040).streamed).toEqual(['a', 'b']);
    for (const bad of [0, -5, Number.NaN, Infinity]) expect(() => plan(ms, 0, bad)).toThrow(/gpuMemory must be a positive/);
  });

  it('random cases: fits its budget, streams only when it must, refuses only below the least', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    let streamedCases = 0;
    for (let c = 0; c < 300; c++) {
      const ms = Array.from({ length: 1 + rand(7) }, (_, i) => ({ name: `w${i}`, rows: 1 + rand(40), rowBytes: 4 * (1 + rand(300)), uses: rand(5) === 0 ? 2 : 1 }));
      const binding = rand(2) ? BIG_BINDING : 4096;
      const fixed = 16 * rand(300);
      const total = ms.reduce((s, x) => s + pieceSizes(x, binding).reduce((a, b) => a + b, 0), 0);
      const budget = fixed + rand(total + 64);
      const least = fixed + STREAM_SLOTS * Math.max(...ms.map((x) => Math.ceil((x.rowBytes + 4) / 16) * 16));
      const p = () => planResidency({ matrices: ms, fixedBytes: fixed, budget, maxBindingBytes: binding });
      if (budget < least && budget < fixed + total) {
        expect(p).toThrow(/too small/);
        continue;
      }
      const r = p();
      expect(held(r, fixed)).toBeLessThanOrEqual(Math.max(budget, fixed + total));
      expect(new Set([...r.resident, ...r.streamed]).size).toBe(ms.length);
      expect(r.streamed.length === 0).toBe(fixed + total <= budget);
      if (r.streamed.length) streamedCases++;
    }
    expect(streamedCases).toBeGreaterThan(50);
  });
});
