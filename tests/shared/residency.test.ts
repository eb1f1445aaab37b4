/**
 * The residency planner over sizes alone: the plan fits its budget, streams only what it must,
 * uploads the least per pass in cases worked out by hand, and refuses a budget nothing fits
 * with the field and the least that would do. Many random cases against a brute force.
 */
import { describe, expect, it } from 'vitest';
import { planResidency, STREAM_SLOTS, type ResidencyMatrix } from '../../shared/engine/residency';
import { PxiError } from '../../shared/errors';

const m = (name: string, bytes: number, uses = 1): ResidencyMatrix => ({ name, parts: [bytes], uses });

/** GPU bytes the plan holds: fixed + resident matrices + the slots. */
function held(plan: ReturnType<typeof planResidency>, fixed: number): number {
  return fixed + plan.residentBytes + plan.slotBytes;
}

describe('planResidency', () => {
  it('keeps everything resident without a budget, or when it fits', () => {
    const ms = [m('a', 100), m('b', 200)];
    for (const budget of [null, 1300]) {
      const p = planResidency({ matrices: ms, fixedBytes: 1000, budget });
      expect(p.streamed).toEqual([]);
      expect(p.resident).toEqual(['a', 'b']);
      expect(p.uploadBytesPerPass).toBe(0);
      expect(p.explanation.join('\n')).toMatch(/all 2 weight matrices/);
    }
  });

  it('streams the small matrices through two slots when the big one must stay', () => {
    // room 700 for 800: streaming the 400 would cost 800 of slots, so it stays; the 100s take turns in 2 × 100.
    const ms = [m('e', 400), m('q', 100), m('o', 100), m('d', 100), m('x', 100)];
    const p = planResidency({ matrices: ms, fixedBytes: 300, budget: 1000 });
    expect(p.slotBytes).toBe(STREAM_SLOTS * 100);
    expect(p.resident).toContain('e');
    // 700 - 200 slots - 400 = 100 left: one 100 resident, three streamed.
    expect(p.streamed).toHaveLength(3);
    expect(p.uploadBytesPerPass).toBe(300);
    expect(held(p, 300)).toBeLessThanOrEqual(1000);
    expect(p.explanation.join('\n')).toMatch(/3 stream from host memory/);
  });

  it('keeps a matrix read twice per pass before one read once', () => {
    const ms = [m('a', 100), m('embd', 100, 2), m('b', 100), m('c', 100)];
    const p = planResidency({ matrices: ms, fixedBytes: 0, budget: 300 });
    expect(p.resident).toEqual(['embd']);
    expect(p.streamed).toEqual(['a', 'b', 'c']);
    expect(p.uploadBytesPerPass).toBe(300);
  });

  it('sizes each slot part for the largest part at that index', () => {
    const ms: ResidencyMatrix[] = [
      { name: 'a', parts: [50, 30] },
      { name: 'b', parts: [40, 45] },
      { name: 'c', parts: [50, 30] },
      { name: 'd', parts: [40, 45] },
    ];
    const p = planResidency({ matrices: ms, fixedBytes: 0, budget: 190 });
    expect(p.resident).toEqual([]);
    expect(p.slotParts).toEqual([50, 45]);
    expect(p.slotBytes).toBe(190);
  });

  it('refuses a budget that even streaming everything exceeds, naming the field and the least', () => {
    const ms = [m('a', 400), m('b', 100)];
    let err: unknown;
    try {
      planResidency({ matrices: ms, fixedBytes: 300, budget: 750 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PxiError);
    expect((err as PxiError).code).toBe('ENGINE_BAD_OPTION');
    expect((err as PxiError).details).toMatchObject({ field: 'gpuMemory', value: 750, needed: 1100 });
    for (const bad of [0, -5, Number.NaN, Infinity]) expect(() => planResidency({ matrices: ms, fixedBytes: 0, budget: bad })).toThrow(/gpuMemory must be a positive/);
  });

  it('fits whenever some split fits, and never holds more than the budget (random cases, brute force)', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    let streamedCases = 0;
    for (let c = 0; c < 400; c++) {
      const ms = Array.from({ length: 1 + rand(7) }, (_, i) => m(`w${i}`, 16 * (1 + rand(20)), 1 + (rand(5) === 0 ? 1 : 0)));
      const fixed = 16 * rand(30);
      const budget = fixed + 16 * (1 + rand(60));
      // Brute force: the cheapest upload among every split that fits.
      let bestUpload = Infinity;
      for (let mask = 0; mask < 1 << ms.length; mask++) {
        const streamed = ms.filter((_, i) => mask & (1 << i));
        const resident = ms.filter((_, i) => !(mask & (1 << i)));
        const slot = streamed.length ? Math.max(...streamed.map((x) => x.parts[0]!)) : 0;
        const need = fixed + resident.reduce((s, x) => s + x.parts[0]!, 0) + STREAM_SLOTS * slot;
        if (need <= budget) bestUpload = Math.min(bestUpload, streamed.reduce((s, x) => s + x.parts[0]! * (x.uses ?? 1), 0));
      }
      if (bestUpload === Infinity) {
        expect(() => planResidency({ matrices: ms, fixedBytes: fixed, budget })).toThrow(/too small/);
        continue;
      }
      const p = planResidency({ matrices: ms, fixedBytes: fixed, budget });
      expect(held(p, fixed)).toBeLessThanOrEqual(budget);
      expect(new Set([...p.resident, ...p.streamed]).size).toBe(ms.length);
      expect(p.uploadBytesPerPass).toBeGreaterThanOrEqual(bestUpload);
      if (bestUpload === 0) expect(p.streamed).toEqual([]);
      if (p.streamed.length) streamedCases++;
    }
    expect(streamedCases).toBeGreaterThan(30);
  });
});
