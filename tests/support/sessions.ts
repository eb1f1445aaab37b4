/** A kernel tuner run with synthetic timings, as a session (tests/shared/sessions.test.ts, tests/node/session-store.test.ts). */
import { chooseTuning, type CandidateTiming, type TuningRecord } from '../../shared/engine/autotune';
import { kernelTuningSession } from '../../shared/sessions/kernel-tuning';
import type { NewSession } from '../../shared/sessions/record';

const t = (tpr: number, rounds: number[], agrees = true): CandidateTiming => ({ tuning: { workgroupSize: 64, threadsPerRow: tpr }, ms: Math.min(...rounds), rounds, agrees });

/** Q8_0: 64x4 steadily twice as fast; F32: nothing reliably faster; 64x8 computed a wrong product. */
export function syntheticRun() {
  const timings = {
    Q8_0: [t(1, [10, 11, 10, 12, 10]), t(2, [8, 9, 8, 9, 8]), t(4, [5, 5.5, 5, 6, 5]), t(8, [], false)],
    F32: [t(1, [4, 4, 4, 4, 4]), t(2, [3.9, 4.1, 4, 3.8, 4.2]), t(4, [6, 6, 6, 6, 6]), t(8, [], false)],
  };
  const record: TuningRecord = {
    adapter: 'google | swiftshader | | SwiftShader',
    kernels: '0123456789abcdef',
    measuredAt: '2026-12-06T10:00:00.000Z',
    rows: 256,
    cols: 256,
    types: { Q8_0: chooseTuning(timings.Q8_0), F32: chooseTuning(timings.F32) },
  };
  return { record, timings };
}

export function syntheticSession(over: Partial<NewSession> = {}): NewSession {
  const { record, timings } = syntheticRun();
  return { ...kernelTuningSession({ record, timings, startedAt: '2026-12-06T10:00:00.000Z', finishedAt: '2026-12-06T10:01:00.000Z', driver: 'SwiftShader', model: null, by: 'a test' }), ...over };
}

