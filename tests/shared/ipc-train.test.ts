/**
 * The train channels' contract through the dispatcher, with stand-in handlers: what requests are
 * refused (naming the field), what answers are refused (unbounded, non-finite), and the event.
 */
import { describe, expect, it } from 'vitest';
import { CheckpointStateSchema, TRAIN_LIMITS, type TrainingRun } from '../../shared/ipc/channels/train';
import { channelNames, events, eventNames } from '../../shared/ipc/contract';
import { createDispatcher } from '../../shared/ipc/dispatch';
import { ctx, handlers, refused } from '../support/ipc';

const recipe = {
  name: 'tiny',
  model: { dim: 32, layers: 2, heads: 2, ff: 64, context: 64 },
  data: { train: ['/data/train.txt'], vocab: 300 },
  train: { steps: 60 },
};

const run = (over: Partial<TrainingRun> = {}): TrainingRun => ({
  kind: 'train',
  run: 'tiny',
  taskId: 1,
  where: 'background',
  state: 'running',
  recipe: {
    name: 'tiny',
    model: { arch: 'llama', dim: 32, layers: 2, heads: 2, ff: 64, context: 64, ropeTheta: 10000, rmsEps: 1e-5, tied: true },
    data: { train: ['/data/train.txt'], valid: [], vocab: 300, fixMojibake: true },
    train: { seed: 1, batch: 8, accum: 1, steps: 60, lr: 1e-3, warmup: 100, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, clip: 1, evalEvery: 100, evalBatches: 8, checkpointEvery: 100, sampleEvery: 0, precision: 'f32' },
  },
  parameters: 30000,
  step: 3,
  steps: 60,
  latest: { loss: 5.5, lr: 1e-4, gradNorm: 1.2, tokensPerSec: 900, etaSec: 20 },
  validLoss: null,
  checkpoints: [],
  modelId: null,
  error: null,
  createdAt: 1,
  updatedAt: 2,
  ...over,
});

describe('train channels in the contract', () => {
  it('declares the train channels and the train:event event', () => {
    expect(channelNames.filter((c) => c.startsWith('train:')).sort()).toEqual([
      'train:cancel',
      'train:finetune',
      'train:finetune-estimate',
      'train:history',
      'train:pause',
      'train:resume',
      'train:runs',
      'train:start',
      'train:weight-change',
      'train:window-batches',
      'train:window-commit',
      'train:window-event',
      'train:window-ping',
      'train:window-put',
      'train:window-read',
      'train:window-resume',
      'train:window-start',
    ]);
    expect(eventNames).toContain('train:event');
  });

  it('train:start takes a recipe with defaults filled in and refuses bad ones naming the field', async () => {
    const seen: unknown[] = [];
    const d = createDispatcher(
      handlers({
        'train:start': (req) => {
          seen.push(req);
          return { taskId: 7, run: req.run ?? req.recipe.name };
        },
      }),
    );
    const ok = await d('train:start', { recipe, run: 'first-run' }, ctx);
    expect(ok).toEqual({ ok: true, value: { taskId: 7, run: 'first-run' } });
    // The dispatcher hands the handler the parsed recipe: defaults filled in.
    expect(seen[0]).toMatchObject({ recipe: { model: { arch: 'llama', tied: true }, data: { valid: [], fixMojibake: true }, train: { batch: 8, lr: 1e-3 } } });
    await refused(d, 'train:start', { recipe, run: 'has space' }, 'IPC_INVALID_REQUEST', /run: a run name/);
    await refused(d, 'train:start', { recipe, run: '' }, 'IPC_INVALID_REQUEST', /run/);
    await refused(d, 'train:start', { recipe: { ...recipe, model: { ...recipe.model, dim: 0 } } }, 'IPC_INVALID_REQUEST', /recipe\.model\.dim/);
    await refused(d, 'train:start', { recipe: { ...recipe, model: { ...recipe.model, layers: 2.5 } } }, 'IPC_INVALID_REQUEST', /recipe\.model\.layers/);
    await refused(d, 'train:start', { recipe: { ...recipe, train: { steps: -1 } } }, 'IPC_INVALID_REQUEST', /recipe\.train\.steps/);
    await refused(d, 'train:start', { recipe: { ...recipe, train: { steps: 10, lr: 2 } } }, 'IPC_INVALID_REQUEST', /recipe\.train\.lr/);
    await refused(d, 'train:start', { recipe: { ...recipe, data: { train: [] } } }, 'IPC_INVALID_REQUEST', /recipe\.data\.train/);
    await refused(d, 'train:start', { recipe: { ...recipe, name: 'a/b' } }, 'IPC_INVALID_REQUEST', /recipe\.name/);
    await refused(d, 'train:start', { recipe: { ...recipe, extra: 1 } }, 'IPC_INVALID_REQUEST', /extra|Unrecognized/i);
    await refused(d, 'train:start', { recipe, run: 'x', more: true }, 'IPC_INVALID_REQUEST', /more|Unrecognized/i);
    expect(seen).toHaveLength(1);
  });

  it('refuses run names that are not names, on every channel that takes one', async () => {
    const d = createDispatcher(handlers({}));
    for (const ch of ['train:history', 'train:pause', 'train:resume', 'train:cancel', 'train:weight-change']) {
      for (const bad of ['../x', 'a b', '', 'x'.repeat(129), 3]) await refused(d, ch, { run: bad }, 'IPC_INVALID_REQUEST', /run/);
    }
    await refused(d, 'train:history', { run: 'ok', maxPoints: 5 }, 'IPC_INVALID_REQUEST', /maxPoints/);
    await refused(d, 'train:history', { run: 'ok', maxPoints: TRAIN_LIMITS.historyPoints + 1 }, 'IPC_INVALID_REQUEST', /maxPoints/);
    await refused(d, 'train:weight-change', { run: 'ok', step: 1.5 }, 'IPC_INVALID_REQUEST', /step/);
    await refused(d, 'train:weight-change', { run: 'ok', step: -1 }, 'IPC_INVALID_REQUEST', /step/);
  });

  it('refuses answers that break the contract: non-finite figures, unbounded lists, unknown states', async () => {
    for (const [bad, msg] of [
      [run({ latest: { loss: NaN, lr: 1, gradNorm: 1, tokensPerSec: 1, etaSec: null } }), /latest\.loss/],
      [run({ validLoss: Infinity }), /validLoss/],
      [run({ state: 'cancelled' as never }), /state/],
      [run({ checkpoints: Array.from({ length: TRAIN_LIMITS.checkpoints + 1 }, (_, i) => i) }), /checkpoints/],
    ] as const) {
      const d = createDispatcher(handlers({ 'train:runs': () => ({ runs: [bad] }) }));
      await refused(d, 'train:runs', {}, 'IPC_INVALID_RESPONSE', msg);
    }
    const good = createDispatcher(handlers({ 'train:runs': () => ({ runs: [run(), run({ run: 'b', state: 'paused', latest: null })] }) }));
    expect((await good('train:runs', {}, ctx)).ok).toBe(true);
    const history = (n: number) => ({
      run: 'tiny',
      steps: 60,
      history: Array.from({ length: n }, (_, i) => ({ step: i + 1, loss: 5, lr: 1e-3, gradNorm: 1, tokensPerSec: 100 })),
      bucket: 1,
      valid: [],
      samples: [],
      checkpoints: [],
      seconds: 0,
    });
    expect((await createDispatcher(handlers({ 'train:history': () => history(TRAIN_LIMITS.historyPoints) }))('train:history', { run: 'tiny' }, ctx)).ok).toBe(true);
    await refused(createDispatcher(handlers({ 'train:history': () => history(TRAIN_LIMITS.historyPoints + 1) })), 'train:history', { run: 'tiny' }, 'IPC_INVALID_RESPONSE', /history/);
    const change = { run: 'tiny', modelId: null, step: 20, base: 0, tileValues: 1 << 20, changes: [{ step: 20, base: 0 }], tensors: [{ name: 'token_embd.weight', values: 9600, rms: NaN, tiles: [0.01] }] };
    await refused(createDispatcher(handlers({ 'train:weight-change': () => change })), 'train:weight-change', { run: 'tiny' }, 'IPC_INVALID_RESPONSE', /rms/);
    const fine = { ...change, tensors: [{ ...change.tensors[0]!, rms: 0.01 }] };
    expect(await createDispatcher(handlers({ 'train:weight-change': () => fine }))('train:weight-change', { run: 'tiny' }, ctx)).toEqual({ ok: true, value: fine });
  });

  it('train:event carries every kind of training event, and nothing else', () => {
    const e = events['train:event'];
    for (const event of [
      { kind: 'start', step: 0, steps: 60, resumedFrom: null, parameters: 30000, gpuBytes: 1 << 20 },
      { kind: 'start', step: 20, steps: 60, resumedFrom: 20, parameters: 30000, gpuBytes: 1 << 20 },
      { kind: 'step', step: 1, steps: 60, loss: 5.7, lr: 3e-4, gradNorm: 2.1, tokensPerSec: 812.5, etaSec: 40 },
      { kind: 'valid', step: 20, loss: 4.9 },
      { kind: 'sample', step: 20, text: 'Once upon a time' },
      { kind: 'checkpoint', step: 20 },
      { kind: 'done', step: 60 },
    ]) {
      expect(e.safeParse({ taskId: 3, run: 'tiny', event }).success, JSON.stringify(event)).toBe(true);
    }
    for (const event of [
      { kind: 'step', step: 1, steps: 60, loss: NaN, lr: 3e-4, gradNorm: 2.1, tokensPerSec: 1, etaSec: 1 },
      { kind: 'valid', step: 20 },
      { kind: 'sample', step: 1, text: 'x'.repeat(TRAIN_LIMITS.sampleChars + 1) },
      { kind: 'weights', step: 1 },
    ]) {
      expect(e.safeParse({ taskId: 3, run: 'tiny', event }).success, JSON.stringify(event)).toBe(false);
    }
    expect(e.safeParse({ taskId: 0, run: 'tiny', event: { kind: 'done', step: 1 } }).success).toBe(false);
    // A window run's events: no task, where = window; `where` defaults to background.
    expect(e.parse({ taskId: null, run: 'tiny', where: 'window', event: { kind: 'done', step: 1 } })).toMatchObject({ taskId: null, where: 'window' });
    expect(e.parse({ taskId: 3, run: 'tiny', event: { kind: 'done', step: 1 } })).toMatchObject({ where: 'background' });
    expect(e.safeParse({ taskId: null, run: 'tiny', where: 'elsewhere', event: { kind: 'done', step: 1 } }).success).toBe(false);
  });
});

describe('window-run channels in the contract', () => {
  const session = 'a1b2c3d4-0000-4000-8000-123456789abc';
  const ref = { run: 'tiny', session };
  const echo = (value: unknown) => () => value as never;

  it('train:window-start / -resume: a recipe (defaults filled in) or a run; the answer holds the session, tokenizer and checkpoint sizes', async () => {
    const seen: unknown[] = [];
    const answer = { run: 'tiny', session, recipe: run().recipe, tokenizer: '{"format":"pxi-tokenizer/1"}', validBatches: 2, checkpoint: { step: 20, params: 4096, optim: 8192, state: 300 } };
    const d = createDispatcher(
      handlers({
        'train:window-start': (req) => {
          seen.push(req);
          return answer;
        },
        'train:window-resume': echo({ ...answer, checkpoint: null }),
      }),
    );
    expect(await d('train:window-start', { recipe, run: 'tiny' }, ctx)).toEqual({ ok: true, value: answer });
    expect(seen[0]).toMatchObject({ recipe: { train: { batch: 8, accum: 1 } } });
    expect((await d('train:window-resume', { run: 'tiny' }, ctx)).ok).toBe(true);
    await refused(d, 'train:window-start', { recipe: { ...recipe, model: { ...recipe.model, heads: 0 } } }, 'IPC_INVALID_REQUEST', /recipe\.model\.heads/);
    await refused(d, 'train:window-resume', { run: '../x' }, 'IPC_INVALID_REQUEST', /run/);
    // A session id that is not one, or a tokenizer past its bound, breaks the contract.
    for (const [bad, msg] of [
      [{ ...answer, session: 'short' }, /session/],
      [{ ...answer, session: 'has space in it' }, /session/],
      [{ ...answer, tokenizer: 'x'.repeat(TRAIN_LIMITS.tokenizerChars + 1) }, /tokenizer/],
      [{ ...answer, checkpoint: { step: 1, params: -1, optim: 0, state: 0 } }, /checkpoint\.params/],
    ] as const) {
      await refused(createDispatcher(handlers({ 'train:window-start': echo(bad) })), 'train:window-start', { recipe }, 'IPC_INVALID_RESPONSE', msg);
    }
  });

  it('train:window-read, -batches and -put carry bytes (a Uint8Array), bounded; never numbers or base64 text', async () => {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const d = createDispatcher(
      handlers({
        'train:window-read': echo({ bytes }),
        'train:window-batches': echo({ batches: 1, tokens: bytes }),
        'train:window-put': (req) => ({ received: req.offset + req.bytes.length }),
      }),
    );
    expect(await d('train:window-read', { ...ref, step: 20, file: 'params', offset: 0, length: 4 }, ctx)).toEqual({ ok: true, value: { bytes } });
    await refused(d, 'train:window-read', { ...ref, step: 20, file: 'weights', offset: 0, length: 4 }, 'IPC_INVALID_REQUEST', /file/);
    await refused(d, 'train:window-read', { ...ref, step: 20, file: 'params', offset: 0, length: TRAIN_LIMITS.chunkBytes + 1 }, 'IPC_INVALID_REQUEST', /length/);
    await refused(d, 'train:window-read', { ...ref, session: 'x', step: 20, file: 'params', offset: 0, length: 4 }, 'IPC_INVALID_REQUEST', /session/);
    expect((await d('train:window-batches', { ...ref, kind: 'train', from: 1, count: 4 }, ctx)).ok).toBe(true);
    await refused(d, 'train:window-batches', { ...ref, kind: 'test', from: 1, count: 4 }, 'IPC_INVALID_REQUEST', /kind/);
    await refused(d, 'train:window-batches', { ...ref, kind: 'train', from: 1, count: TRAIN_LIMITS.batchSteps + 1 }, 'IPC_INVALID_REQUEST', /count/);
    await refused(d, 'train:window-batches', { ...ref, kind: 'train', from: -1, count: 1 }, 'IPC_INVALID_REQUEST', /from/);
    expect(await d('train:window-put', { ...ref, step: 20, file: 'optim', offset: 8, total: 16, bytes }, ctx)).toEqual({ ok: true, value: { received: 12 } });
    await refused(d, 'train:window-put', { ...ref, step: 20, file: 'optim', offset: 0, total: 16, bytes: [1, 2, 3] }, 'IPC_INVALID_REQUEST', /bytes/);
    await refused(d, 'train:window-put', { ...ref, step: 20, file: 'optim', offset: 0, total: 16, bytes: 'AQID' }, 'IPC_INVALID_REQUEST', /bytes/);
    await refused(d, 'train:window-put', { ...ref, step: 20, file: 'optim', offset: 0, total: 16, bytes: new Uint8Array(TRAIN_LIMITS.chunkBytes + 1) }, 'IPC_INVALID_REQUEST', /bytes/);
    await refused(d, 'train:window-put', { ...ref, step: 20, file: 'optim', offset: 0, total: 0, bytes }, 'IPC_INVALID_REQUEST', /total/);
    // An answer of numbers instead of bytes, or too many bytes, breaks the contract.
    await refused(createDispatcher(handlers({ 'train:window-read': echo({ bytes: [1, 2] }) })), 'train:window-read', { ...ref, step: 1, file: 'state', offset: 0, length: 2 }, 'IPC_INVALID_RESPONSE', /bytes/);
    await refused(
      createDispatcher(handlers({ 'train:window-batches': echo({ batches: 1, tokens: new Uint8Array(TRAIN_LIMITS.chunkBytes + 1) }) })),
      'train:window-batches',
      { ...ref, kind: 'valid', from: 0, count: 1 },
      'IPC_INVALID_RESPONSE',
      /tokens/,
    );
  });

  it('train:window-event takes every training event and answers a stop; -ping and -commit are checked', async () => {
    const d = createDispatcher(
      handlers({
        'train:window-event': echo({ stop: 'pause' }),
        'train:window-ping': echo({ stop: null }),
        'train:window-commit': (req) => ({ step: req.step, checkpoints: [10, req.step] }),
      }),
    );
    for (const event of [
      { kind: 'start', step: 0, steps: 60, resumedFrom: null, parameters: 30000, gpuBytes: 1 << 20 },
      { kind: 'step', step: 1, steps: 60, loss: 5.7, lr: 3e-4, gradNorm: 2.1, tokensPerSec: 812.5, etaSec: 40 },
      { kind: 'checkpoint', step: 20 },
      { kind: 'done', step: 60 },
    ]) {
      expect(await d('train:window-event', { ...ref, event }, ctx)).toEqual({ ok: true, value: { stop: 'pause' } });
    }
    await refused(d, 'train:window-event', { ...ref, event: { kind: 'step', step: 1 } }, 'IPC_INVALID_REQUEST', /event/);
    await refused(d, 'train:window-event', { ...ref, event: { kind: 'weights', step: 1 } }, 'IPC_INVALID_REQUEST', /event/);
    await refused(createDispatcher(handlers({ 'train:window-event': echo({ stop: 'halt' }) })), 'train:window-event', { ...ref, event: { kind: 'done', step: 1 } }, 'IPC_INVALID_RESPONSE', /stop/);
    expect(await d('train:window-ping', { ...ref, state: 'running' }, ctx)).toEqual({ ok: true, value: { stop: null } });
    expect((await d('train:window-ping', { ...ref, state: 'failed', error: { code: 'GPU_DEVICE_LOST', message: 'lost' } }, ctx)).ok).toBe(true);
    await refused(d, 'train:window-ping', { ...ref, state: 'queued' }, 'IPC_INVALID_REQUEST', /state/);
    expect(await d('train:window-commit', { ...ref, step: 20 }, ctx)).toEqual({ ok: true, value: { step: 20, checkpoints: [10, 20] } });
    await refused(d, 'train:window-commit', { ...ref, step: 1.5 }, 'IPC_INVALID_REQUEST', /step/);
  });

  it('a window run sends its checkpoint state as the background runs write it; anything else is refused', () => {
    const state = {
      version: 1,
      run: 'tiny',
      recipe: run().recipe,
      step: 2,
      paramTotal: 640,
      paramsSha256: '',
      optimSha256: '',
      history: [
        { step: 1, loss: 5.7, lr: 1e-4, gradNorm: 2, tokensPerSec: 100 },
        { step: 2, loss: 5.6, lr: 2e-4, gradNorm: 2, tokensPerSec: 110 },
      ],
      valid: [{ step: 2, loss: 5.5 }],
      samples: [{ step: 2, text: 'Once upon a time' }],
      seconds: 1.5,
    };
    expect(CheckpointStateSchema.parse(state)).toEqual(state);
    // The parsed state keeps the key order the loop writes (state.json is the same file either way).
    expect(JSON.stringify(CheckpointStateSchema.parse(JSON.parse(JSON.stringify(state))))).toBe(JSON.stringify(state));
    for (const bad of [{ ...state, version: 2 }, { ...state, run: '../x' }, { ...state, seconds: -1 }, { ...state, history: [{ step: 1 }] }, { ...state, extra: 1 }, { ...state, recipe: { ...state.recipe, name: '' } }]) {
      expect(CheckpointStateSchema.safeParse(bad).success, JSON.stringify(bad).slice(0, 80)).toBe(false);
    }
  });
});
