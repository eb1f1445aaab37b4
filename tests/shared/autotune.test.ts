import { describe, expect, it } from 'vitest';
import {
  adapterKey,
  chooseTuning,
  emptyTuningFile,
  findTuning,
  parseTuningFile,
  TUNING_MAX_RECORDS,
  tuningTable,
  withTuning,
  type CandidateTiming,
  type TuningRecord,
} from '../../shared/engine/autotune';
import { PxiError } from '../../shared/errors';

const t = (wg: number, tpr: number, rounds: number[], agrees = true): CandidateTiming => ({
  tuning: { workgroupSize: wg, threadsPerRow: tpr },
  ms: Math.min(...rounds),
  rounds,
  agrees,
});

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
    expect(chooseTuning([t(64, 1, r(10)), t(64, 4, r(9.6))])).toEqual({ tuning: { workgroupSize: 64, threadsPerRow: 1 }, ms: 10, defaultMs: 10, speedup: 1 });
    expect(chooseTuning([t(64, 1, r(10)), t(64, 4, r(9.6))], 0.01).tuning.threadsPerRow).toBe(4);
    // One lucky round (or one slow round of the default) does not make a winner: the median of
    // the per-round ratios does. Best-of would have said 8 < 10.
    expect(chooseTuning([t(64, 1, [10, 30, 10]), t(64, 4, [9, 8, 11])]).tuning.threadsPerRow).toBe(1);
    expect(chooseTuning([t(64, 1, [10, 30, 10]), t(64, 4, [7, 8, 8])])).toMatchObject({ tuning: { workgroupSize: 64, threadsPerRow: 4 }, ms: 7, defaultMs: 10 });
    // A shape whose product disagreed is never chosen, however fast it looked.
    expect(chooseTuning([t(64, 1, r(10)), t(64, 8, r(1), false), t(64, 2, r(8))]).tuning.threadsPerRow).toBe(2);
    expect(() => chooseTuning([])).toThrow(PxiError);
    expect(() => chooseTuning([{ tuning: { workgroupSize: 64, threadsPerRow: 1 }, ms: Infinity, rounds: [], agrees: true }])).toThrow(PxiError);
  });

  it('a record becomes the per-type table Model.load takes', () => {
    expect(tuningTable(record('a'))).toEqual({ Q8_0: { workgroupSize: 64, threadsPerRow: 4 }, F32: { workgroupSize: 64, threadsPerRow: 1 } });
    expect(adapterKey({ vendor: 'mesa', architecture: '', device: 'llvmpipe', description: 'LLVM 15' })).toBe('mesa |  | llvmpipe | LLVM 15');
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
