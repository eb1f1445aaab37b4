/**
 * Self-improvement sessions in shared/: a kernel tuner run turned into a session (synthetic
 * timings, no clock), the schema's bounds, and the sessions channels through the dispatcher.
 */
import { describe, expect, it } from 'vitest';
import { channelNames } from '../../shared/ipc/contract';
import { createDispatcher, type Handlers } from '../../shared/ipc/dispatch';
import { kernelTuningSession } from '../../shared/sessions/kernel-tuning';
import { NewSession, Session, SESSION_LIMITS } from '../../shared/sessions/record';
import { syntheticRun, syntheticSession } from '../support/sessions';
import { residencySession } from '../../shared/sessions/residency';
import type { ResidencyPlan } from '../../shared/engine/residency';
import { trainingSession } from '../../shared/sessions/training';
import { layoutSession, layoutUndoTarget, parseLayoutUndoTarget } from '../../shared/sessions/layout';
import type { LayoutDecision } from '../../shared/model/layout-journal';

const session = () => syntheticSession();

describe('a kernel tuner run as a session', () => {
  it('holds every variant with its correctness and rounds, the speed-up with its interval, and the decision per type', () => {
    const s = session();
    expect(NewSession.parse(s)).toEqual(s);
    expect(s).toMatchObject({ kind: 'kernel-tuning', codeHash: '0123456789abcdef', decision: 'kept', adapter: 'google | swiftshader | | SwiftShader' });
    // Weight types in the engine's order, F32 first.
    expect(s.trials.map((x) => x.subject)).toEqual(['F32', 'Q8_0']);
    const [f32, q8] = s.trials;
    expect(q8).toMatchObject({ baseline: '64x1', challenger: '64x4', kept: true, inUse: '64x4' });
    expect(q8!.variants.map((v) => [v.name, v.correct, v.samplesMs.length])).toEqual([
      ['64x1', true, 5],
      ['64x2', true, 5],
      ['64x4', true, 5],
      ['64x8', false, 0],
    ]);
    expect(q8!.speedup!.estimate).toBeCloseTo(2, 6);
    expect(q8!.speedup!.lo).toBeGreaterThan(1 / 0.9);
    expect(q8!.speedup!.lo).toBeLessThanOrEqual(q8!.speedup!.estimate);
    expect(q8!.reason).toMatch(/^Kept: .*\(256 × 256 matrix\.\)$/);
    // F32: the default stays; the closest challenger (64x2) and why it lost are recorded.
    expect(f32).toMatchObject({ kept: false, inUse: '64x1', challenger: '64x2' });
    expect(f32!.speedup!.lo).toBeLessThan(1 / 0.9);
    expect(f32!.reason).toMatch(/^Not kept/);
    expect(s.effect).toMatch(/Q8_0 \(64x4, about 2\.00× as fast\)/);
    expect(s.effect).toMatch(/1 other weight type keep/);
  });

  it('a run that kept nothing is "unchanged" and says so', () => {
    const { record, timings } = syntheticRun();
    const s = kernelTuningSession({ record, timings: { F32: timings.F32 }, startedAt: 'a', finishedAt: 'b', driver: 'd', model: 'tiny', by: 'x' });
    expect(s.decision).toBe('unchanged');
    expect(s.effect).toMatch(/^Nothing changed/);
    expect(s.model).toBe('tiny');
  });

  it('the schema bounds what a session may hold', () => {
    const s = session();
    expect(NewSession.safeParse({ ...s, kind: 'other' }).success).toBe(false);
    expect(NewSession.safeParse({ ...s, trials: Array.from({ length: SESSION_LIMITS.trials + 1 }, () => s.trials[0]) }).success).toBe(false);
    expect(NewSession.safeParse({ ...s, trials: [{ ...s.trials[0]!, variants: [{ name: 'a', correct: true, samplesMs: [-1] }] }] }).success).toBe(false);
    expect(NewSession.safeParse({ ...s, extra: 1 }).success).toBe(false);
    expect(Session.safeParse({ ...s, id: 'Bad Id', undone: null }).success).toBe(false);
  });
});

describe('a residency plan as a session', () => {
  const plan = (streamed: string[], budget: number | null): ResidencyPlan => ({
    budget,
    resident: ['blk.0.attn_q.weight', 'blk.0.ffn_up.weight'],
    streamed,
    pieceBytes: 0,
    slotBytes: 0,
    residentBytes: 1000,
    slotsBytes: 0,
    uploadBytesPerPass: streamed.length ? 614_400 : 0,
    piecesPerPass: streamed.length,
    explanation: ['budget 1.00 MB', 'why it streams'],
  });
  const meta = { model: 'stories260K.gguf', adapter: 'a | b | c | d', driver: 'lavapipe', startedAt: 's', finishedAt: 'f', by: 'pxi run' };

  it('says what streams and why, with nothing to undo', () => {
    const s = residencySession({ plan: plan(['token_embd.weight'], 1_000_000), ...meta });
    expect(NewSession.parse(s)).toEqual(s);
    expect(s).toMatchObject({ kind: 'residency', decision: 'recorded', trials: [], codeHash: null, confirmation: null });
    expect(s.effect).toBe('1 of 3 weight matrices stream from host memory each token (614.4 KB per token) so the model fits 1.00 MB; the others stay on the GPU.');
    expect(s.details).toEqual(['budget 1.00 MB', 'why it streams', 'Streamed: token_embd.weight']);
    expect(residencySession({ plan: plan([], 1_000_000), ...meta }).effect).toMatch(/^All 2 weight matrices stay on the GPU/);
  });
});

describe('a layout decision as a session', () => {
  const decision = (action: 'apply' | 'undo', coldReadMs: number | null): LayoutDecision => ({
    kind: 'layout',
    modelId: 'm-0a1b2c',
    at: '2026-12-06T22:00:00.000Z',
    action,
    strategy: 'read-order-packs/1',
    generation: '1f2e3d4c',
    before: { tileLoads: 75, seeks: 75, files: 75, tileBytesLoaded: 75 << 22, coldReadMs },
    after: { tileLoads: 26, seeks: 10, files: 10, tileBytesLoaded: 26 << 22, coldReadMs: coldReadMs === null ? null : coldReadMs / 4 },
    decision: 'packed 75 tensors into 10 files in read order: 75 → 26 tile loads',
    undo: action === 'apply' ? { action: 'undo', modelId: 'm-0a1b2c', generation: '1f2e3d4c', command: 'pxi layout undo m-0a1b2c' } : null,
  });

  it('an apply is kept, with the counts it was decided on, the cold reads as evidence and an undo target', () => {
    const s = layoutSession({ decision: decision('apply', 3513), model: 'tiny', startedAt: '2026-12-06T21:59:00.000Z', by: 'pxi layout apply' });
    expect(NewSession.parse(s)).toEqual(s);
    expect(s).toMatchObject({ kind: 'layout', model: 'tiny', decision: 'kept', finishedAt: '2026-12-06T22:00:00.000Z', undoTarget: 'm-0a1b2c/1f2e3d4c' });
    expect(s.trials[0]!.variants.map((v) => [v.name, v.samplesMs])).toEqual([
      ['import layout', [3513]],
      ['packed layout 1f2e3d4c', [878.25]],
    ]);
    // One timing per layout: no interval is claimed.
    expect(s.trials[0]!.speedup).toBeNull();
    expect(s.trials[0]!.reason).toBe('The traced reads load 75 tiles in the import layout and 26 in the packs (counted, not timed).');
    expect(s.details).toEqual(['Before: 75 tile loads, 75 seeks, 75 files, cold read 3513.0 ms.', 'After: 26 tile loads, 10 seeks, 10 files, cold read 878.3 ms.', 'Undo from a terminal: pxi layout undo m-0a1b2c']);
    // Not measured: no samples, and the details say nothing about time.
    const quiet = layoutSession({ decision: decision('apply', null), model: 'tiny', startedAt: 's', by: 'pxi layout apply' });
    expect(quiet.trials[0]!.variants.every((v) => v.samplesMs.length === 0)).toBe(true);
    expect(quiet.details[0]).toBe('Before: 75 tile loads, 75 seeks, 75 files.');
    // An undo keeps nothing.
    expect(layoutSession({ decision: decision('undo', null), model: 'tiny', startedAt: 's', by: 'x' })).toMatchObject({ decision: 'recorded', trials: [{ kept: false, inUse: 'import layout' }] });
  });

  it('the undo target names the model and the generation, and nothing else parses as one', () => {
    expect(parseLayoutUndoTarget(layoutUndoTarget('m-0a1b2c', '1f2e3d4c'))).toEqual({ modelId: 'm-0a1b2c', generation: '1f2e3d4c' });
    for (const bad of ['', '/', 'm-1/', '/1f2e3d4c', 'no-slash']) expect(parseLayoutUndoTarget(bad)).toBeNull();
  });
});

describe('a training run as a session', () => {
  const run = { run: 'tiny', what: 'training', where: 'Dawn in the services', startedAt: 's', finishedAt: 'f', model: 'm-1' };
  it('says what the run did to the loss, with its median speed, and keeps nothing to undo', () => {
    const points = [
      { step: 5, loss: 4.5, tokensPerSec: 100 },
      { step: 6, loss: 4.25, tokensPerSec: 300 },
      { step: 7, loss: 4, tokensPerSec: 200 },
    ];
    const s = trainingSession({ ...run, points, valid: [{ step: 5, loss: 4.4 }, { step: 7, loss: 4.1 }] });
    expect(NewSession.parse(s)).toEqual(s);
    expect(s).toMatchObject({ kind: 'training', model: 'm-1', decision: 'recorded', trials: [] });
    expect(s.effect).toBe('training loss 4.5000 at step 5 → 4.0000 at step 7; validation loss 4.4000 → 4.1000.');
    expect(s.confirmation).toEqual({ tokensPerSecond: 200, baselineTokensPerSecond: null, note: 'Median training speed over 3 steps (tokens/s).' });
    expect(s.details).toEqual(['Validation at step 5: loss 4.4000', 'Validation at step 7: loss 4.1000']);
  });
  it('a run this process saw no step of says so, with no speed', () => {
    const s = trainingSession({ ...run, model: null, points: [], valid: [{ step: 40, loss: 3 }] });
    expect(s).toMatchObject({ model: 'tiny', confirmation: null, effect: 'no step was seen by this process; validation loss 3.0000 at step 40.' });
  });
});

describe('the sessions channels', () => {
  const ctx = { transport: 'direct' as const, origin: 'test' };
  const stored: Session = { ...session(), id: 'kernel-tuning-abc-01234567', undone: null };
  const all = Object.fromEntries(channelNames.map((c) => [c, () => Promise.reject(new Error(`${c} is not under test`))])) as unknown as Handlers;
  const seen: unknown[] = [];
  const under: Partial<Handlers> = {
    'sessions:list': () => ({ sessions: [stored] }),
    'sessions:get': ({ id }) => (id === stored.id ? stored : ({ ...stored, id: 'NOT VALID' } as Session)),
    'sessions:add': ({ session: s }) => {
      seen.push(s);
      return { ...s, id: 'kernel-tuning-new-89abcdef', undone: null };
    },
    'sessions:undo': () => ({ session: { ...stored, undone: { at: 'now', note: 'Undone' } }, forgotten: true, alsoUndone: [] }),
  };
  const d = createDispatcher({ ...all, ...under });

  it('checks requests: ids are lowercase words, a session must match the schema', async () => {
    const bad = await d('sessions:get', { id: '../etc' }, ctx);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.message).toMatch(/id/);
    const add = await d('sessions:add', { session: { ...session(), decision: 'maybe' } }, ctx);
    expect(add.ok).toBe(false);
    if (!add.ok) expect(add.error.message).toMatch(/decision/);
    expect(seen).toEqual([]);
    // A session can not choose its id or arrive already undone.
    expect((await d('sessions:add', { session: { ...session(), id: 'chosen' } }, ctx)).ok).toBe(false);
    const ok = await d('sessions:add', { session: session() }, ctx);
    expect(ok.ok).toBe(true);
    expect(seen).toHaveLength(1);
  });

  it('checks answers too', async () => {
    expect(await d('sessions:list', {}, ctx)).toMatchObject({ ok: true, value: { sessions: [{ id: stored.id }] } });
    expect(await d('sessions:undo', { id: stored.id }, ctx)).toMatchObject({ ok: true, value: { forgotten: true } });
    const wrong = await d('sessions:get', { id: 'other' }, ctx);
    expect(wrong.ok).toBe(false);
    if (!wrong.ok) expect(wrong.error.code).toBe('IPC_INVALID_RESPONSE');
  });
});
