/**
 * Window runs on the real services: the renderer's runner (renderer/src/train/window-run.ts,
 * the shared step loop) drives a run through the train:window-* channels of electron/services —
 * token windows from the services, events re-broadcast as train:event, checkpoints sent in chunks
 * and written by the services in PixelFS — here on Dawn in this process (the browser does the
 * same on its WebGPU: tests/e2e/training.spec.ts). A run paused in the window and resumed in
 * the background, and one paused in the background and resumed in the window, end with the same
 * weights, bit for bit, as one trained in the window without a stop: one checkpoint format,
 * one loop.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestCheckpoint } from '../../electron/train/checkpoint';
import type { EventPayload } from '../../shared/ipc/contract';
import { directCaller } from '../../shared/ipc/dispatch';
import { WindowRun } from '../../renderer/src/train/window-run';
import { code, collectTrainEvents, taskSettled, testServices, trainEventWhere, writeTextSlices } from '../support/services';
import { useGpu } from '../support/gpu';

let tmp: string;
const g = useGpu();
let trainText: string;
let validText: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'train-window-'));
  ({ trainText, validText } = writeTextSlices(tmp, 60_000, 16_000));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const recipe = (name: string) => ({
  name,
  model: { dim: 32, layers: 2, heads: 2, ff: 64, context: 32 },
  data: { train: [trainText], valid: [validText], vocab: 300 },
  train: { steps: 12, batch: 4, accum: 2, lr: 3e-3, warmup: 3, evalEvery: 4, evalBatches: 2, checkpointEvery: 4, sampleEvery: 6 },
});

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('window runs through the services', () => {
  it('train in the window with the services’ data and checkpoints; pause and resume across window and background to the same weights', async (t) => {
    if (!g.ctx) return t.skip(`no WebGPU adapter: ${g.reason}`);
    const gpu = g.ctx;
    const services = testServices(path.join(tmp, 'data'));
    const call = directCaller(services.dispatch);
    const api = { call };
    const seen: EventPayload<'train:event'>[] = [];
    collectTrainEvents(services, seen);
    const runOf = async (run: string) => (await call('train:runs', {})).runs.find((r) => r.run === run)!;
    try {
      // 1. A whole run in the window.
      const s1 = await call('train:window-start', { recipe: recipe('w-whole') });
      expect(s1).toMatchObject({ run: 'w-whole', checkpoint: null, validBatches: 2 });
      expect(s1.recipe.train).toMatchObject({ batch: 4, accum: 2, seed: 1 });
      expect(await code(call('train:window-start', { recipe: recipe('w-whole') }))).toMatch(/^TRAIN_RUN_EXISTS: a run named w-whole already exists \(running, in a window\)/);
      expect(await code(call('train:start', { recipe: recipe('w-whole') }))).toMatch(/^TRAIN_RUN_EXISTS/);
      const whole = new WindowRun(api, gpu, s1);
      expect((await runOf('w-whole')).where).toBe('window');
      expect(await whole.done).toEqual({ state: 'succeeded' });
      const r1 = await runOf('w-whole');
      expect(r1).toMatchObject({ where: 'window', taskId: null, state: 'succeeded', step: 12, steps: 12, checkpoints: [8, 12], error: null });
      expect(r1.modelId).not.toBeNull();
      expect(r1.validLoss).not.toBeNull();
      const ev1 = seen.filter((e) => e.run === 'w-whole');
      expect(ev1.every((e) => e.where === 'window' && e.taskId === null)).toBe(true);
      expect(ev1.filter((e) => e.event.kind === 'step').map((e) => e.event.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(ev1.filter((e) => e.event.kind === 'checkpoint').map((e) => e.event.step)).toEqual([4, 8, 12]);
      expect(ev1.filter((e) => e.event.kind === 'valid').map((e) => e.event.step)).toEqual([4, 8, 12]);
      expect(ev1.at(-1)!.event.kind).toBe('done');
      const h1 = await call('train:history', { run: 'w-whole' });
      expect(h1.history.map((p) => p.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(h1.samples.map((s) => s.step)).toEqual([6, 12]);
      expect(h1.samples[1]!.text).toMatch(/^Once upon a time/);
      expect((await call('train:weight-change', { run: 'w-whole' })).changes.map((c) => c.step)).toEqual([4, 8, 12]);
      // The session is over: its id no longer opens anything.
      expect(await code(call('train:window-batches', { run: 'w-whole', session: s1.session, kind: 'train', from: 1, count: 1 }))).toMatch(/^TRAIN_WINDOW_STALE/);

      const store = await services.store();
      const wholeParams = (await latestCheckpoint(store.volume, 'w-whole'))!.params;

      // 2. Paused in the window (train:pause, as from any window), resumed in the background.
      const s2 = await call('train:window-start', { recipe: recipe('w-pause') });
      const pausing: { call?: ReturnType<typeof runOf> } = {};
      const w2 = new WindowRun(api, gpu, s2, {
        onEvent: (e) => {
          if (e.kind === 'step' && e.step === 5) pausing.call ??= call('train:pause', { run: 'w-pause' });
        },
      });
      expect(await w2.done).toEqual({ state: 'paused' });
      const paused = await pausing.call!;
      expect(paused.state).toBe('paused');
      const p = paused.step;
      expect(p).toBeGreaterThanOrEqual(5);
      expect(p).toBeLessThan(12);
      expect(paused.checkpoints.at(-1)).toBe(p);
      expect(await code(call('train:window-event', { run: 'w-pause', session: s2.session, event: { kind: 'done', step: 1 } }))).toMatch(/^TRAIN_WINDOW_STALE/);
      // Resumed in the background: a task of the queue, waited on by its final event.
      const backDone = taskSettled(services, 'model.train', ['succeeded', 'failed']);
      const back = await call('train:resume', { run: 'w-pause' });
      expect(back.where).toBe('background');
      await backDone;
      const r2 = await runOf('w-pause');
      expect(r2.error).toBeNull();
      expect(r2).toMatchObject({ where: 'background', state: 'succeeded', step: 12 });
      expect(seen.filter((e) => e.run === 'w-pause' && e.event.kind === 'start').map((e) => [e.where, e.event.step])).toEqual([
        ['window', 0],
        ['background', p],
      ]);
      const c2 = (await latestCheckpoint(store.volume, 'w-pause'))!;
      expect(c2.state.history.map((x) => x.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(bits(c2.params).equals(bits(wholeParams))).toBe(true);

      // 3. Paused in the background, resumed in the window.
      const third = trainEventWhere(services, (e) => e.run === 'b-pause' && e.event.kind === 'step' && e.event.step >= 3);
      await call('train:start', { recipe: recipe('b-pause') });
      await third;
      const bp = await call('train:pause', { run: 'b-pause' });
      expect(bp.state).toBe('paused');
      const s3 = await call('train:window-resume', { run: 'b-pause' });
      expect(s3.checkpoint?.step).toBe(bp.step);
      expect(await code(call('train:window-resume', { run: 'b-pause' }))).toMatch(/^TRAIN_NOT_PAUSED/);
      const w3 = new WindowRun(api, gpu, s3);
      expect(await w3.done).toEqual({ state: 'succeeded' });
      const r3 = await runOf('b-pause');
      expect(r3).toMatchObject({ where: 'window', state: 'succeeded', step: 12 });
      expect(r3.taskId).not.toBeNull();
      expect(r3.modelId).not.toBeNull();
      const c3 = (await latestCheckpoint(store.volume, 'b-pause'))!;
      expect(bits(c3.params).equals(bits(wholeParams))).toBe(true);

      // A checkpoint that does not fit its run is refused, and cancel removes a window run.
      const s4 = await call('train:window-start', { recipe: recipe('w-bad') });
      expect(await code(call('train:window-put', { run: 'w-bad', session: s4.session, step: 1, file: 'params', offset: 0, total: 12, bytes: new Uint8Array(12) }))).toMatch(/^TRAIN_WINDOW_UPLOAD: .*does not fit the model/);
      expect(await code(call('train:window-commit', { run: 'w-bad', session: s4.session, step: 1 }))).toMatch(/^TRAIN_WINDOW_UPLOAD: .*incomplete/);
      expect(await call('train:window-ping', { run: 'w-bad', session: s4.session, state: 'paused' })).toEqual({ stop: null });
      expect((await runOf('w-bad')).state).toBe('paused');
      expect(await call('train:cancel', { run: 'w-bad' })).toEqual({ run: 'w-bad', checkpointsRemoved: 0 });
      expect((await call('train:runs', {})).runs.map((r) => r.run).sort()).toEqual(['b-pause', 'w-pause', 'w-whole']);
    } finally {
      await services.close();
    }
  }, 600_000);
});
