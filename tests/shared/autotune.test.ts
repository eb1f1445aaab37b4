import { describe, expect, it } from 'vitest';
import {
  adapterKey,
  candidateName,
  choosePrefill,
  chooseTuning,
  compareCandidates,
  emptyTuningFile,
  findTuning,
  intMatvecTable,
  parseTuningFile,
  PREFILL_TOKENS,
  prefillTable,
  TUNING_MAX_RECORDS,
  tuningTable,
  withTuning,
  type CandidateTiming,
  type TuningRecord,
} from '../../shared/engine/autotune';
import { PxiError } from '../../shared/errors';
import type { IntVariant } from '../../shared/engine/int-matvec';
import { parsePrefillMatmul } from '../../shared/engine/quant-matmul';
import { kernelTuningSession } from '../../shared/sessions/kernel-tuning';

const t = (wg: number, tpr: number, rounds: number[], agrees = true): CandidateTiming => ({
  tuning: { workgroupSize: wg, threadsPerRow: tpr },
  ms: Math.min(...rounds),
  rounds,
  agrees,
});

/** An integer decode kernel as a candidate (its f32 shape is the default's, unused by it). */
const ti = (v: IntVariant, rounds: number[], agrees = true): CandidateTiming => ({ ...t(64, 1, rounds, agrees), int: v });

function record(adapter: string, kernels = '0123456789abcdef'): TuningRecord {
  return {
    adapter,
    kernels,
    measuredAt: '2026-11-26T09:00:00.000Z',
    rows: 2048,
    cols: 2048,
    types: { Q8_0: { tuning: { workgroupSize: 64, threadsPerRow: 4 }, ms: 1, defaultMs: 2.5, speedup: 2.5 }, F32: { tuning: { workgroupSize: 64, threadsPerRow: 1 }, ms: 3, defaultMs: 3, speedup: 1 } },
  };
}

describe('kernel tuning: the choice', () => {
  it('keeps the shape that beats the default round by round by more than the margin', () => {
    const r = (ms: number) => [ms, ms, ms];
    expect(chooseTuning([t(64, 1, r(10)), t(64, 2, r(6)), t(64, 4, r(4))]).tuning).toEqual({ workgroupSize: 64, threadsPerRow: 4 });
    // 4 % faster is noise: the default stays.
    expect(chooseTuning([t(64, 1, r(10)), t(64, 4, r(9.6))])).toMatchObject({
      tuning: { workgroupSize: 64, threadsPerRow: 1 },
      ms: 10,
      defaultMs: 10,
      speedup: 1,
      challenger: { workgroupSize: 64, threadsPerRow: 4 },
      reason: expect.stringMatching(/^Not kept: .*at least 1\.11×/),
    });
    expect(chooseTuning([t(64, 1, r(10)), t(64, 4, r(9.6))], 0.01).tuning.threadsPerRow).toBe(4);
    // One lucky round (or one slow round of the default) does not make a winner: the median of
    // the per-round ratios does. Best-of would have said 8 < 10.
    expect(chooseTuning([t(64, 1, [10, 30, 10]), t(64, 4, [9, 8, 11])]).tuning.threadsPerRow).toBe(1);
    expect(chooseTuning([t(64, 1, [10, 30, 10]), t(64, 4, [7, 8, 8])])).toMatchObject({ tuning: { workgroupSize: 64, threadsPerRow: 4 }, ms: 7, defaultMs: 10, reason: expect.stringMatching(/^Kept/) });
    // A shape whose product disagreed is never chosen, however fast it looked.
    expect(chooseTuning([t(64, 1, r(10)), t(64, 8, r(1), false), t(64, 2, r(8))]).tuning.threadsPerRow).toBe(2);
    expect(() => chooseTuning([])).toThrow(PxiError);
    expect(() => chooseTuning([{ tuning: { workgroupSize: 64, threadsPerRow: 1 }, ms: Infinity, rounds: [], agrees: true }])).toThrow(PxiError);
  });

  it('keeps only a shape whose whole speed-up interval clears the minimum win, and records the interval', () => {
    // 64x4 looks faster by the median (1.43×) but two rounds in five it was slower: the interval's
    // low end falls below 1.11×, so it is not kept; 64x2 is steadily 1.25× as fast and is.
    const base = [10, 10, 10, 10, 10];
    const wobbly = t(64, 4, [7, 7, 7, 12, 12]);
    const steady = t(64, 2, [8, 8, 8, 8, 8]);
    const compared = compareCandidates([t(64, 1, base), wobbly, steady]);
    expect(compared[0]!.speedup!.estimate).toBeCloseTo(10 / 7, 6);
    expect(compared[0]!.decision!.keep).toBe(false);
    expect(compared[1]!.decision!.keep).toBe(true);
    const chosen = chooseTuning([t(64, 1, base), wobbly, steady]);
    expect(chosen).toMatchObject({ tuning: { workgroupSize: 64, threadsPerRow: 2 }, ms: 8, defaultMs: 10, speedup: 1.25, interval: { lo: 1.25, hi: 1.25, confidence: 0.95 } });
    // Without the steady one the default stays, and the record names the closest challenger and its interval.
    const none = chooseTuning([t(64, 1, base), wobbly]);
    expect(none).toMatchObject({ tuning: { threadsPerRow: 1 }, speedup: 1, challenger: { threadsPerRow: 4 } });
    expect(none.interval!.lo).toBeLessThan(1 / 0.9);
    expect(none.interval!.hi).toBeCloseTo(10 / 7, 6);
    // A shape that disagreed, or whose rounds do not pair with the default's, is not compared.
    expect(compareCandidates([t(64, 1, base), t(64, 8, [1, 1, 1, 1, 1], false), t(64, 2, [1, 1])]).map((c) => c.speedup)).toEqual([null, null]);
    // The decision is the same every time for the same samples (the bootstrap is seeded).
    expect(chooseTuning([t(64, 1, [10, 12, 9]), t(64, 4, [8, 9, 8.5])])).toEqual(chooseTuning([t(64, 1, [10, 12, 9]), t(64, 4, [8, 9, 8.5])]));
  });

  it('a record with an interval, a challenger and a reason round-trips through the file; older records without them still read', () => {
    const rec = record('a');
    rec.types.F32 = { ...rec.types.F32!, interval: { lo: 0.9, hi: 1.05, confidence: 0.95 }, challenger: { workgroupSize: 64, threadsPerRow: 2 }, reason: 'Not kept: …' };
    const f = withTuning(emptyTuningFile(), rec);
    expect(parseTuningFile(JSON.stringify(f), 'k.json')).toEqual(f);
    expect(parseTuningFile(JSON.stringify(withTuning(emptyTuningFile(), record('b'))), 'k.json').records[0]!.types.F32!.interval).toBeUndefined();
  });

  it('a record becomes the per-type table Model.load takes', () => {
    expect(tuningTable(record('a'))).toEqual({ Q8_0: { workgroupSize: 64, threadsPerRow: 4 }, F32: { workgroupSize: 64, threadsPerRow: 1 } });
    expect(adapterKey({ vendor: 'mesa', architecture: '', device: 'llvmpipe', description: 'LLVM 15' })).toBe('mesa |  | llvmpipe | LLVM 15');
  });
});

describe('kernel tuning: the integer decode kernels', () => {
  const r = (ms: number) => [ms, ms, ms];
  it('an integer kernel proven faster than the default f32 shape is kept and named; the f32 shape stays the default', () => {
    const chosen = chooseTuning([t(64, 1, r(10)), t(64, 4, r(7)), ti('dot4', r(4)), ti('int', r(5))]);
    expect(chosen).toMatchObject({ tuning: { workgroupSize: 64, threadsPerRow: 1 }, intMatvec: 'dot4', ms: 4, defaultMs: 10, speedup: 2.5, reason: expect.stringMatching(/^Kept/) });
    // A faster f32 shape beats a slower integer kernel: no intMatvec.
    const shape = chooseTuning([t(64, 1, r(10)), t(64, 4, r(4)), ti('dot4', r(6))]);
    expect(shape.tuning.threadsPerRow).toBe(4);
    expect(shape.intMatvec).toBeUndefined();
  });

  it('one that is not proven faster (or disagreed with its reference) is not kept: the integer path stays off', () => {
    const noise = chooseTuning([t(64, 1, r(10)), ti('dot4', r(9.6))]);
    expect(noise).toMatchObject({ tuning: { threadsPerRow: 1 }, speedup: 1, challengerIntMatvec: 'dot4', reason: expect.stringMatching(/^Not kept/) });
    expect(noise.intMatvec).toBeUndefined();
    const wrong = chooseTuning([t(64, 1, r(10)), ti('dot4', r(1), false), ti('int', r(9.8))]);
    expect(wrong.intMatvec).toBeUndefined();
    expect(wrong.challengerIntMatvec).toBe('int');
    // The default itself must be an f32 shape.
    expect(() => compareCandidates([ti('dot4', r(1)), t(64, 1, r(2))])).toThrow(PxiError);
  });

  it('names candidates, becomes the intMatvec table, round-trips through the file, and a kernel a type lacks is refused', () => {
    expect(candidateName(t(64, 4, [1]))).toBe('64x4');
    expect(candidateName(ti('dot4-r2', [1]))).toBe('int dot4-r2');
    const rec = record('a');
    rec.types.Q4_K = { tuning: { workgroupSize: 64, threadsPerRow: 1 }, intMatvec: 'int', ms: 1, defaultMs: 3, speedup: 3 };
    rec.types.Q6_K = { tuning: { workgroupSize: 64, threadsPerRow: 1 }, challengerIntMatvec: 'dot4', ms: 3, defaultMs: 3, speedup: 1 };
    expect(intMatvecTable(rec)).toEqual({ Q4_K: 'int' });
    expect(intMatvecTable(record('b'))).toEqual({});
    const f = withTuning(emptyTuningFile(), rec);
    expect(parseTuningFile(JSON.stringify(f), 'k.json')).toEqual(f);
    const bad = JSON.parse(JSON.stringify(f)) as { records: { types: Record<string, { intMatvec?: string }> }[] };
    bad.records[0]!.types.Q4_K!.intMatvec = 'dot4-r2';
    expect(() => parseTuningFile(JSON.stringify(bad), 'k.json')).toThrow(/records\.0\.types\.Q4_K\.intMatvec: no integer kernel dot4-r2 for Q4_K/);
    bad.records[0]!.types.F32 = { ...bad.records[0]!.types.Q8_0!, intMatvec: 'dot4' };
    bad.records[0]!.types.Q4_K!.intMatvec = 'int';
    expect(() => parseTuningFile(JSON.stringify(bad), 'k.json')).toThrow(/types\.F32\.intMatvec/);
    bad.records[0]!.types.F32!.intMatvec = 'fast';
    expect(() => parseTuningFile(JSON.stringify(bad), 'k.json')).toThrow(/types\.F32\.intMatvec/);
  });

  it('the session a run records shows the integer kernels as trials and the kept one in use', () => {
    const timings = [t(64, 1, r(10)), t(64, 4, r(9)), ti('dot4', r(4)), ti('int', r(6))];
    const rec: TuningRecord = { ...record('a'), types: { Q4_K: chooseTuning(timings) } };
    const s = kernelTuningSession({ record: rec, timings: { Q4_K: timings }, startedAt: 'a', finishedAt: 'b', driver: 'lavapipe', model: null, by: 'pxi tune' });
    const trial = s.trials[0]!;
    expect(trial.variants.map((v) => v.name)).toEqual(['64x1', '64x4', 'int dot4', 'int int']);
    expect(trial).toMatchObject({ subject: 'Q4_K', baseline: '64x1', challenger: 'int dot4', kept: true, inUse: 'int dot4' });
    expect(s.decision).toBe('kept');
  });
});

describe('kernel tuning: the tiled prefill products', () => {
  const r = (ms: number) => [ms, ms, ms];
  const p = (variant: 'tile' | 'tile-wg' | null, rounds: number[], agrees = true) => ({ variant, ms: Math.min(...rounds), rounds, agrees });
  it('a tiled product proven faster than matmul is kept (the fastest by the median); noise, a wrong product or none keeps matmul', () => {
    expect(choosePrefill([p(null, r(10)), p('tile', r(5)), p('tile-wg', r(4))])).toMatchObject({ variant: 'tile-wg', tokens: PREFILL_TOKENS, ms: 4, defaultMs: 10, speedup: 2.5, reason: expect.stringMatching(/^Kept/) });
    const noise = choosePrefill([p(null, r(10)), p('tile', r(9.6))]);
    expect(noise).toMatchObject({ speedup: 1, ms: 10, challenger: 'tile', reason: expect.stringMatching(/^Not kept/) });
    expect(noise.variant).toBeUndefined();
    const wrong = choosePrefill([p(null, r(10)), p('tile', r(1), false)]);
    expect(wrong.variant).toBeUndefined();
    expect(wrong.reason).toMatch(/no tiled product computed the same product/);
    // One lucky round does not carry it: the interval must clear the minimum win.
    expect(choosePrefill([p(null, [10, 10, 10, 10, 10]), p('tile', [2, 10.5, 10.2, 9.9, 10.4])]).variant).toBeUndefined();
    expect(() => choosePrefill([p('tile', r(1)), p(null, r(2))])).toThrow(PxiError);
  });

  it('becomes the prefillMatmul table, round-trips through the file, and a type without the kernel is refused', () => {
    const rec = record('a');
    rec.types.Q8_0 = { ...rec.types.Q8_0!, prefill: { variant: 'tile', tokens: 16, ms: 50, defaultMs: 100, speedup: 2, interval: { lo: 1.8, hi: 2.2, confidence: 0.95 }, reason: 'Kept' } };
    rec.types.F32 = { ...rec.types.F32!, rows: 512 };
    expect(prefillTable(rec)).toEqual({ Q8_0: 'tile' });
    expect(prefillTable(record('b'))).toEqual({});
    const f = withTuning(emptyTuningFile(), rec);
    expect(parseTuningFile(JSON.stringify(f), 'k.json')).toEqual(f);
    const bad = JSON.parse(JSON.stringify(f)) as { records: { types: Record<string, { prefill?: { variant?: string } }> }[] };
    bad.records[0]!.types.F32!.prefill = { ...bad.records[0]!.types.Q8_0!.prefill! };
    expect(() => parseTuningFile(JSON.stringify(bad), 'k.json')).toThrow(/records\.0\.types\.F32\.prefill: no prefill kernel tile for F32/);
    delete bad.records[0]!.types.F32!.prefill;
    bad.records[0]!.types.Q8_0!.prefill!.variant = 'tile-64';
    expect(() => parseTuningFile(JSON.stringify(bad), 'k.json')).toThrow(/types\.Q8_0\.prefill\.variant/);
    // Q4_K's subgroup prefill product is Q4_K's alone.
    bad.records[0]!.types.Q8_0!.prefill!.variant = 'i8xsg';
    expect(() => parseTuningFile(JSON.stringify(bad), 'k.json')).toThrow(/types\.Q8_0\.prefill: no prefill kernel i8xsg for Q8_0/);
    expect(parsePrefillMatmul('i8xsg')).toEqual({ Q4_K: 'i8xsg' });
    expect(parsePrefillMatmul('Q4_K=i8sg,Q8_0=i8x')).toEqual({ Q4_K: 'i8sg', Q8_0: 'i8x' });
    expect(() => parsePrefillMatmul('Q6_K=i8sg')).toThrow(/no prefill kernel i8sg for "Q6_K"/);
  });
});

describe('kernel tuning: the file', () => {
  it('round-trips, replaces the record of the same adapter and kernels, and keeps the newest few', () => {
    let f = withTuning(emptyTuningFile(), record('a'));
    f = withTuning(f, record('b'));
    f = withTuning(f, { ...record('a'), measuredAt: 'later' });
    expect(f.records.map((r) => `${r.adapter}:${r.measuredAt}`)).toEqual(['a:later', 'b:2026-11-26T09:00:00.000Z']);
    expect(parseTuningFile(JSON.stringify(f), 'k.json')).toEqual(f);
    expect(findTuning(f, 'b', '0123456789abcdef')?.adapter).toBe('b');
    expect(findTuning(f, 'b', 'fedcba9876543210')).toBeUndefined();
    for (let i = 0; i < TUNING_MAX_RECORDS + 5; i++) f = withTuning(f, record(`x${i}`));
    expect(f.records).toHaveLength(TUNING_MAX_RECORDS);
    expect(f.records[0]!.adapter).toBe(`x${TUNING_MAX_RECORDS + 4}`);
  });

  it('refuses damaged files with ENGINE_BAD_TUNING_FILE naming the file and the field', () => {
    const good = withTuning(emptyTuningFile(), record('a'));
    const bad = (mutate: (j: Record<string, unknown>) => void) => {
      const j = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
      mutate(j);
      return JSON.stringify(j);
    };
    const records = (j: Record<string, unknown>) => j.records as Record<string, unknown>[];
    const cases: [string, RegExp][] = [
      ['{not json', /k\.json: not JSON/],
      ['[]', /k\.json: \(root\)/],
      [bad((j) => (j.format = 'other')), /k\.json: format/],
      [bad((j) => (j.version = 2)), /k\.json: version/],
      [bad((j) => (records(j)[0]!.kernels = 'xyz')), /records\.0\.kernels/],
      [bad((j) => (records(j)[0]!.rows = -1)), /records\.0\.rows/],
      [bad((j) => ((records(j)[0]!.types as Record<string, unknown>).Q9_9 = {})), /records\.0\.types/],
      [bad((j) => (((records(j)[0]!.types as Record<string, { tuning: { threadsPerRow: number } }>).Q8_0!.tuning.threadsPerRow = 3))), /records\.0\.types\.Q8_0\.tuning: 64x3 is not a kernel shape/],
      [bad((j) => (((records(j)[0]!.types as Record<string, { tuning: { threadsPerRow: number } }>).Q8_0!.tuning.threadsPerRow = 128))), /64x128 is not a kernel shape/],
      [bad((j) => (j.records = Array.from({ length: TUNING_MAX_RECORDS + 1 }, () => record('a')))), /records/],
      [bad((j) => (j.extra = 1)), /extra|Unrecognized/i],
    ];
    for (const [text, want] of cases) {
      let err: unknown;
      try {
        parseTuningFile(text, 'k.json');
      } catch (e) {
        err = e;
      }
      expect(err, text.slice(0, 80)).toBeInstanceOf(PxiError);
      expect((err as PxiError).code).toBe('ENGINE_BAD_TUNING_FILE');
      expect((err as PxiError).message).toMatch(want);
    }
  });
});
