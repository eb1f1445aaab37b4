/**
 * The kernel tuner on Dawn/lavapipe: it checks every shape against the default's product,
 * times them (here with a scripted clock, so the choice is deterministic), and a model loaded
 * with the chosen shapes computes what the default shapes compute.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { intMatvecTable, kernelsKey, PREFILL_TOKENS, prefillTable, tunedShaders, TUNING_CANDIDATES, tuneWeightKernels, type CandidateTiming } from '../../shared/engine/autotune';
import { intPrefillOffered, intVariantsFor } from '../../shared/engine/int-matvec';
import type { WeightType } from '../../shared/engine/quant-matmul';
import type { GpuContext } from '../../shared/gpu';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { fixturePath } from '../support/fixtures';
import { useGpu } from '../support/gpu';
import { diffLogProbs, loadBytes, logProbsOf } from '../node/engine-support';

const g = useGpu();

/**
 * A clock that makes candidate `fast` take 1 ms per product and every other 10 ms. The tuner
 * reads it twice per timed product; rounds go through the candidates forwards, then backwards.
 */
function scriptedClock(fast: number, candidates: number, reps: number): () => number {
  let calls = 0;
  let t = 0;
  return () => {
    const call = calls++;
    if (call % 2 === 0) return t; // a product starts
    const product = Math.floor(call / 2);
    const round = Math.floor(product / candidates);
    const at = product % candidates;
    const candidate = round % 2 ? candidates - 1 - at : at;
    t += (candidate === fast ? 1 : 10) * reps;
    return t;
  };
}

describe('kernel tuner', () => {
  it('every candidate shape of every type computes the default shape\'s product, and the fastest wins', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const types: WeightType[] = ['F32', 'F16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'];
    const seen = new Map<WeightType, readonly CandidateTiming[]>();
    const fast = 3; // 64x8
    const record = await tuneWeightKernels(g.ctx, {
      types,
      rows: 96,
      cols: 512,
      rounds: 2,
      reps: 2,
      intVariants: false,
      now: scriptedClock(fast, TUNING_CANDIDATES.length, 2),
      onTimings: (type, timings) => seen.set(type, timings.map((x) => ({ ...x }))),
    });
    expect(record.kernels).toBe(kernelsKey(g.ctx));
    expect(record.rows).toBe(96);
    for (const type of types) {
      const timings = seen.get(type)!;
      expect(timings.map((x) => x.agrees), type).toEqual(TUNING_CANDIDATES.map(() => true));
      expect(timings.map((x) => x.ms)).toEqual(TUNING_CANDIDATES.map((_, i) => (i === fast ? 1 : 10)));
      expect(timings.map((x) => x.rounds)).toEqual(TUNING_CANDIDATES.map((_, i) => (i === fast ? [1, 1] : [10, 10])));
      expect(record.types[type]).toMatchObject({ tuning: TUNING_CANDIDATES[fast], ms: 1, defaultMs: 10, speedup: 10, interval: { lo: 10, hi: 10, confidence: 0.95 }, reason: expect.stringMatching(/^Kept/) });
    }
  });

  it('with the GPU clock, samples are the kernels\' own pass times (no wall clock read) and the caller\'s timing hook is restored', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    if (!g.ctx.caps.timestamps) return t.skip('this adapter has no timestamp-query');
    const mine = () => undefined;
    g.ctx.setTimingHook(mine);
    const seen: CandidateTiming[] = [];
    const record = await tuneWeightKernels(g.ctx, {
      types: ['Q8_0'],
      rows: 64,
      cols: 256,
      rounds: 2,
      reps: 2,
      clock: 'gpu',
      intVariants: false,
      now: () => {
        throw new Error('the wall clock was read');
      },
      onTimings: (_type, timings) => seen.push(...timings),
    });
    expect(record.clock).toBe('gpu');
    expect(seen).toHaveLength(TUNING_CANDIDATES.length);
    for (const c of seen) {
      expect(c.rounds).toHaveLength(2);
      for (const ms of c.rounds) expect(Number.isFinite(ms) && ms >= 0, String(ms)).toBe(true);
    }
    expect(record.types.Q8_0!.reason).toMatch(/^(Kept|Not kept)/);
    expect(g.ctx.activeTimingHook).toBe(mine);
    g.ctx.setTimingHook(null);
  });

  it('the integer decode kernels are candidates: each checked against its integer reference, kept only when faster, named in the record', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    // The record's kernels key covers the integer kernels and quantize_q8.
    expect(tunedShaders()).toEqual(expect.arrayContaining(['quantize_q8', 'matvec_q4_k_i8', 'matvec_q6_k_i8x', 'matvec_q8_0_i8', 'matvec_q4_0_i8sg']));
    for (const [fast, want] of [
      [1, 'dot4'],
      [0, undefined],
    ] as const) {
      const types: WeightType[] = ['Q4_K', 'Q6_K', 'Q8_0'];
      const seen = new Map<WeightType, readonly CandidateTiming[]>();
      const variants = ['dot4', 'int'] as const;
      // Only the default f32 shape and two integer kernels: 3 candidates per type.
      const record = await tuneWeightKernels(g.ctx, {
        types,
        rows: 72,
        cols: 768,
        rounds: 2,
        reps: 1,
        candidates: [],
        intVariants: variants,
        now: scriptedClock(fast, 3, 1),
        onTimings: (type, timings) => seen.set(type, timings.map((x) => ({ ...x }))),
      });
      for (const type of types) {
        const timings = seen.get(type)!;
        expect(intVariantsFor(g.ctx, type)).toEqual(expect.arrayContaining([...variants]));
        expect(timings.map((x) => x.int), type).toEqual([undefined, 'dot4', 'int']);
        // Every integer kernel computed its reference's product (the check runs on the real kernels).
        expect(timings.map((x) => x.agrees), type).toEqual([true, true, true]);
        expect(record.types[type]!.intMatvec, type).toBe(want);
        expect(record.types[type]!.tuning).toEqual(TUNING_CANDIDATES[0]);
      }
      expect(intMatvecTable(record)).toEqual(want ? { Q4_K: want, Q6_K: want, Q8_0: want } : {});
    }
  });

  it('with prefill, the tiled products are checked against matmul over 16 tokens and one is kept only when faster', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    // Per type, with only the default decode shape: 2 decode products, then the prefill rounds
    // matmul, tile, tile-wg and back (2 rounds, 1 product each). `durations` scripts them.
    const cycled = (durations: number[]) => {
      let calls = 0;
      let now = 0;
      return () => {
        const call = calls++;
        if (call % 2 === 1) now += durations[Math.floor(call / 2) % durations.length]!;
        return now;
      };
    };
    for (const [durations, want] of [
      [[10, 10, 10, 1, 10, 10, 1, 10], 'tile'],
      [[10, 10, 10, 10, 2, 2, 10, 10], 'tile-wg'],
      [[10, 10, 10, 10, 10, 10, 10, 10], undefined],
    ] as const) {
      const types: WeightType[] = ['Q8_0', 'Q4_K'];
      const record = await tuneWeightKernels(g.ctx, { types, rows: 72, cols: 768, rounds: 2, reps: 1, candidates: [], intVariants: false, prefill: ['tile', 'tile-wg'], now: cycled([...durations]) });
      for (const type of types) {
        const f = record.types[type]!.prefill!;
        // Both tiled products computed matmul's product (else they would not have been timed: no challenger).
        expect(f, type).toMatchObject({ tokens: PREFILL_TOKENS, defaultMs: 10 });
        expect(f.variant, type).toBe(want);
        if (!want) expect(f.challenger, type).toBeDefined();
      }
      expect(prefillTable(record)).toEqual(want ? { Q8_0: want, Q4_K: want } : {});
    }
    // The integer prefill product: checked against its integer reference per token (it rounds x to
    // 8 bits), then timed like the others: Q8_0, Q4_0, Q4_K and Q6_K have one; Q5_K has none (only
    // the decode shape is timed for it).
    const int = await tuneWeightKernels(g.ctx, { types: ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K', 'Q5_K'], rows: 72, cols: 768, rounds: 2, reps: 1, candidates: [], intVariants: false, prefill: ['i8x'], now: cycled([10, 10, 10, 1, 1, 10]) });
    expect(prefillTable(int)).toEqual({ Q8_0: 'i8x', Q4_0: 'i8x', Q4_K: 'i8x', Q6_K: 'i8x' });
    expect(int.types.Q5_K!.prefill).toBeUndefined();
    // Q4_K's subgroup prefill product, where subgroups are 8 lanes: checked against the same integer reference and timed alike.
    if (intPrefillOffered(g.ctx, 'Q4_K', 'i8xsg')) {
      const sg = await tuneWeightKernels(g.ctx, { types: ['Q4_K'], rows: 72, cols: 768, rounds: 2, reps: 1, candidates: [], intVariants: false, prefill: ['i8xsg', 'i8sg'], now: cycled([10, 10, 10, 1, 1, 10, 10, 10]) });
      const f = sg.types.Q4_K!.prefill!;
      // Both agreed with the reference (else neither would be timed nor named).
      expect([f.variant, f.challenger].filter(Boolean).length, JSON.stringify(f)).toBeGreaterThan(0);
      expect(['i8xsg', 'i8sg']).toContain(f.variant ?? f.challenger);
    }
    // Off by default, and only for the types that have the kernels.
    const plain = await tuneWeightKernels(g.ctx, { types: ['Q8_0', 'F16'], rows: 8, cols: 256, rounds: 1, reps: 1, candidates: [], intVariants: false });
    expect(plain.types.Q8_0!.prefill).toBeUndefined();
    const f16 = await tuneWeightKernels(g.ctx, { types: ['F16'], rows: 8, cols: 256, rounds: 1, reps: 1, candidates: [], intVariants: false, prefill: true });
    expect(f16.types.F16!.prefill).toBeUndefined();
  });

  it('an integer kernel whose product is wrong is never kept, however fast', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    // The same device, but Q6_K's dot4 kernel swapped for Q4_K's: it runs, and computes the wrong product.
    const real = g.ctx;
    const wrong = Object.create(real, {
      pipeline: { value: (shader: string, opts: Parameters<GpuContext['pipeline']>[1]) => real.pipeline(shader === 'matvec_q6_k_i8' ? 'matvec_q4_k_i8' : shader, opts) },
    }) as GpuContext;
    const seen: CandidateTiming[] = [];
    const record = await tuneWeightKernels(wrong, {
      types: ['Q6_K'],
      rows: 40,
      cols: 512,
      rounds: 2,
      reps: 1,
      candidates: [],
      intVariants: ['dot4', 'int'],
      now: scriptedClock(1, 3, 1), // dot4 would be the fastest
      onTimings: (_type, timings) => seen.push(...timings),
    });
    expect(seen.map((x) => [x.int, x.agrees])).toEqual([
      [undefined, true],
      ['dot4', false],
      ['int', true],
    ]);
    expect(seen[1]!.rounds).toEqual([]);
    expect(record.types.Q6_K!.intMatvec).toBeUndefined();
  });

  it('a model loaded with tuned decode shapes gives the default shapes\' logits', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const cases: [string, Uint8Array][] = [
      ['stories260K.gguf', new Uint8Array(readFileSync(fixturePath('models', 'stories260K.gguf')))],
      ['tiny-q8.gguf', await generateModelBytes(planModel({ preset: 'tiny-qwen2', type: 'Q8_0', seed: 5, method: 'direct' }))],
    ];
    for (const [name, bytes] of cases) {
      const plain = await loadBytes(g.ctx, bytes, name, { contextLength: 16 });
      const tuned = await loadBytes(g.ctx, bytes, name, {
        contextLength: 16,
        matvecTuning: { F32: { workgroupSize: 64, threadsPerRow: 4 }, Q8_0: { workgroupSize: 32, threadsPerRow: 4 }, F16: { workgroupSize: 128, threadsPerRow: 8 } },
      });
      try {
        const ids = plain.tokenizer.encode('Once upon a time there was').slice(0, 6);
        const run = async (m: typeof plain.model) => {
          const out: Float64Array[] = [];
          for (const id of ids) out.push(logProbsOf((await m.forward([id], 'last')).logits!, 1, m.vocabSize)[0]!);
          return out;
        };
        const d = diffLogProbs(await run(tuned.model), await run(plain.model));
        // Only the summation order differs.
        expect(d.max, name).toBeLessThan(5e-5);
      } finally {
        plain.model.destroy();
        tuned.model.destroy();
      }
    }
    // The table is consulted: a shape the kernels cannot take fails the load.
    await expect(loadBytes(g.ctx, cases[0]![1], 'stories260K.gguf', { contextLength: 16, matvecTuning: { F32: { workgroupSize: 64, threadsPerRow: 3 } } })).rejects.toThrow(/threadsPerRow/);
  });
});
