/**
 * The train channels on the real services (electron/services/train-handlers.ts): a tiny run is
 * started, paused, resumed and finished on Dawn through the dispatcher, its events pushed as
 * train:event; its history, runs list and weight changes read back (also after a restart of
 * the services), its checkpoints removed by cancel; and the refusals, each with its code.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weightChange } from '../../electron/ops/train-weight-change';
import { bucketHistory } from '../../electron/services/train-run-info';
import { readCheckpoint } from '../../electron/train/checkpoint';
import { directCaller } from '../../shared/ipc/dispatch';
import type { EventPayload } from '../../shared/ipc/contract';
import { paramLayout } from '../../shared/train/param-layout';
import { paramSpecs } from '../../shared/train/config';
import { initParams } from '../../shared/train/init';
import { modelConfigOf, parseRecipe } from '../../shared/train/recipe';
import { changeTiles, logRange } from '../../renderer/src/explorer/weight-change';
import { code, collectTrainEvents, taskSettled, testServices, trainEventWhere, writeTextSlices } from '../support/services';
import { openNodeGpu } from '../support/webgpu-node';

let tmp: string;
let gpuReason = '';
let trainText: string;
let validText: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'train-handlers-'));
  // A slice of the fixture text: the tokenizer and the token shards are made in a second or two.
  ({ trainText, validText } = writeTextSlices(tmp, 60_000, 16_000));
  const r = await openNodeGpu();
  if (!r.gpu) gpuReason = r.reason;
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const recipe = (name: string, steps = 40) => ({
  name,
  model: { dim: 32, layers: 2, heads: 2, ff: 64, context: 32 },
  data: { train: [trainText], valid: [validText], vocab: 300 },
  train: { steps, batch: 4, lr: 3e-3, warmup: 4, evalEvery: 10, evalBatches: 2, checkpointEvery: 10, sampleEvery: 20 },
});

describe('weight change and history buckets (pure)', () => {
  it('takes the RMS of the change per tensor and per tile of its stored values', () => {
    const r = parseRecipe({ name: 'w', model: { dim: 8, layers: 1, heads: 2, ff: 16, context: 8 }, data: { train: ['x'], vocab: 260 }, train: { steps: 1 } });
    const cfg = modelConfigOf(r);
    const layout = paramLayout(cfg);
    const init = initParams(cfg, r.train.seed);
    const cur = new Float32Array(layout.total);
    for (const slot of layout.order) cur.set(init.get(slot.spec.name)!, slot.offset);
    // token_embd (260 × 8 = 2080 values): rows 0..9 move by 0.5, the rest stay; ffn_up all by 0.25.
    const emb = layout.slots.get('token_embd.weight')!;
    for (let i = 0; i < 80; i++) cur[emb.offset + i]! += 0.5;
    const up = layout.slots.get('blk.0.ffn_up.weight')!;
    for (let i = 0; i < up.spec.size; i++) cur[up.offset + i]! += 0.25;
    const tensors = weightChange(r, cur, init, 1024);
    expect(tensors.map((t) => t.name)).toEqual(paramSpecs(cfg).map((s) => s.name));
    const e = tensors.find((t) => t.name === 'token_embd.weight')!;
    expect(e.values).toBe(2080);
    expect(e.tiles).toHaveLength(3); // 1024 + 1024 + 32 values
    expect(e.tiles[0]).toBeCloseTo(Math.sqrt((80 * 0.25) / 1024), 6);
    expect(e.tiles[1]).toBe(0);
    expect(e.tiles[2]).toBe(0);
    expect(e.rms).toBeCloseTo(Math.sqrt((80 * 0.25) / 2080), 6);
    const u = tensors.find((t) => t.name === 'blk.0.ffn_up.weight')!;
    expect(u.rms).toBeCloseTo(0.25, 6);
    expect(tensors.find((t) => t.name === 'output_norm.weight')!.rms).toBe(0);
    // Against another flat buffer: the difference only.
    const tensors2 = weightChange(r, cur, cur.slice(), 1024);
    expect(tensors2.every((t) => t.rms === 0)).toBe(true);

    // What the explorer draws: one rectangle per stored tile, where the grid says it is.
    const regions = [
      {
        id: 'm/token_embd.weight', modelId: 'm', name: 'token_embd.weight', kind: 'weights' as const, rect: { x: 100, y: 50, width: 64, height: 64 }, order: 0, block: null,
        grid: { tileWidth: 32, tileHeight: 32, cols: 2, rows: 2, tileCount: 3 }, tensor: { type: 'F32', dims: [8, 260], bytes: 8320 },
        pyramid: { state: 'none' as const, note: null, levels: null, heatSize: null, heatMin: null, heatMax: null, stats: null },
      },
      {
        id: 'm/blk.0.ffn_up.weight', modelId: 'm', name: 'blk.0.ffn_up.weight', kind: 'weights' as const, rect: { x: 200, y: 50, width: 32, height: 32 }, order: 1, block: 0,
        grid: { tileWidth: 32, tileHeight: 32, cols: 1, rows: 1, tileCount: 1 }, tensor: { type: 'F16', dims: [8, 16], bytes: 256 },
        pyramid: { state: 'none' as const, note: null, levels: null, heatSize: null, heatMin: null, heatMax: null, stats: null },
      },
    ];
    const tiles = changeTiles({ tensors, tileValues: 1024 }, regions);
    expect(tiles.map((t) => [t.tensor, t.tile, t.rect.x, t.rect.y])).toEqual([
      ['token_embd.weight', 0, 100, 50],
      ['token_embd.weight', 1, 132, 50],
      ['token_embd.weight', 2, 100, 82],
      // Not stored as F32 here: one value over the whole tensor.
      ['blk.0.ffn_up.weight', null, 200, 50],
    ]);
    // The colour range: over the positive values only (two tiles did not change).
    const range = logRange(tiles.map((t) => t.value))!;
    expect(range.lo).toBeCloseTo(Math.sqrt((80 * 0.25) / 1024), 6);
    expect(range.hi).toBeCloseTo(0.25, 6);
    expect(logRange([0, 0])).toBeNull();
  });

  it('averages buckets of steps when a history is longer than asked for', () => {
    const pts = Array.from({ length: 10 }, (_, i) => ({ step: i + 1, loss: i, lr: 1, gradNorm: 2 * i, tokensPerSec: 100 }));
    expect(bucketHistory(pts, 20)).toEqual({ points: pts, bucket: 1 });
    const b = bucketHistory(pts, 4);
    expect(b.bucket).toBe(3);
    expect(b.points.map((p) => [p.step, p.loss])).toEqual([
      [3, 1],
      [6, 4],
      [9, 7],
      [10, 9],
    ]);
  });
});

describe('train channels on the services', () => {
  it('starts, pauses, resumes and finishes a run; reads it back after a restart; cancels it', async (t) => {
    if (gpuReason) return t.skip(`no WebGPU adapter: ${gpuReason}`);
    const dataDir = path.join(tmp, 'data');
    let services = testServices(dataDir);
    let call = directCaller(services.dispatch);
    const seen: EventPayload<'train:event'>[] = [];
    collectTrainEvents(services, seen);
    try {
      // Refusals before anything runs.
      expect(await code(call('train:start', { recipe: { ...recipe('r'), data: { ...recipe('r').data, train: ['relative/train.txt'] } } }))).toMatch(/^TRAIN_BAD_PATH: .*relative\/train\.txt.*absolute/);
      expect(await code(call('train:start', { recipe: { ...recipe('r'), data: { ...recipe('r').data, valid: [path.join(tmp, 'missing.txt')] } } }))).toMatch(/^TRAIN_BAD_PATH: validation text .*missing\.txt: no such file/);
      expect(await code(call('train:start', { recipe: { ...recipe('r'), data: { ...recipe('r').data, train: [tmp + '/'] } } }))).toMatch(/^TRAIN_BAD_PATH: .*is not a file/);
      expect(await code(call('train:start', { recipe: { ...recipe('r'), model: { ...recipe('r').model, heads: 3 } } }))).toMatch(/^TRAIN_CONFIG: .*heads = 3 does not divide dim = 32/);
      expect(await code(call('train:history', { run: 'nothing' }))).toMatch(/^TRAIN_RUN_NOT_FOUND/);
      expect(await code(call('train:pause', { run: 'nothing' }))).toMatch(/^TRAIN_RUN_NOT_FOUND/);
      expect((await call('train:runs', {})).runs).toEqual([]);

      const t0 = Date.now();
      const firstStep = trainEventWhere(services, (e) => e.run === 'tiny-run' && e.event.kind === 'step');
      const started = await call('train:start', { recipe: recipe('tiny-run'), run: 'tiny-run' });
      expect(started.run).toBe('tiny-run');
      expect(await code(call('train:start', { recipe: recipe('other'), run: 'tiny-run' }))).toMatch(/^TRAIN_RUN_EXISTS: a run named tiny-run already exists/);

      // Pause as soon as it steps: the session checkpoints the step it reached.
      await firstStep;
      expect(seen.some((e) => e.event.kind === 'step')).toBe(true);
      const paused = await call('train:pause', { run: 'tiny-run' });
      expect(paused.state).toBe('paused');
      const p = paused.step;
      expect(p).toBeGreaterThan(0);
      expect(p).toBeLessThan(40);
      expect(paused.checkpoints.at(-1)).toBe(p);
      expect(await code(call('train:pause', { run: 'tiny-run' }))).toMatch(/^TRAIN_NOT_RUNNING: run tiny-run is paused/);
      const h1 = await call('train:history', { run: 'tiny-run' });
      expect(h1.history.map((x) => x.step)).toEqual(Array.from({ length: p }, (_, i) => i + 1));

      // The resumed run is a new task; the paused one ended as cancelled.
      const settled = taskSettled(services, 'model.train', ['succeeded', 'failed']);
      const resumed = await call('train:resume', { run: 'tiny-run' });
      expect(['queued', 'running']).toContain(resumed.state);
      await settled;
      const done = (await call('train:runs', {})).runs[0]!;
      expect(done.error).toBeNull();
      expect(done).toMatchObject({ run: 'tiny-run', state: 'succeeded', step: 40, steps: 40, checkpoints: [30, 40] });
      const firstLoss = (seen.find((e) => e.event.kind === 'step')!.event as { loss: number }).loss;
      expect(done.latest!.loss).toBeLessThan(firstLoss);
      expect(done.validLoss).not.toBeNull();
      expect(done.modelId).not.toBeNull();
      const seconds = (Date.now() - t0) / 1000;

      // The run is a session in the Dashboard's list: what it did to the loss, at what speed.
      const trained = (await call('sessions:list', {})).sessions.filter((s) => s.kind === 'training');
      expect(trained).toHaveLength(1);
      expect(trained[0]).toMatchObject({ model: done.modelId, decision: 'recorded', driver: 'Dawn in the services', confirmation: { tokensPerSecond: expect.any(Number) } });
      expect(trained[0]!.effect).toMatch(new RegExp(`^training loss [0-9.]+ at step ${p + 1} → [0-9.]+ at step 40; validation loss ([0-9.]+ → [0-9.]+|[0-9.]+ at step 40)\\.$`));
      expect(trained[0]!.details.at(-1)).toMatch(/^Validation at step 40: loss /);

      // The events: a start, then a resumed start, every step once after the pause, validation, samples, checkpoints, done.
      const kinds = seen.map((e) => e.event.kind);
      const starts = seen.filter((e) => e.event.kind === 'start').map((e) => e.event);
      expect(starts).toHaveLength(2);
      expect(starts[1]).toMatchObject({ step: p, resumedFrom: p });
      expect(seen.filter((e) => e.event.kind === 'valid').map((e) => e.event.step)).toEqual([10, 20, 30, 40]);
      expect(seen.filter((e) => e.event.kind === 'sample').map((e) => e.event.step)).toEqual([20, 40]);
      expect(kinds.at(-1)).toBe('done');
      expect(seen.every((e) => e.run === 'tiny-run' && e.taskId === started.taskId)).toBe(true);

      const h = await call('train:history', { run: 'tiny-run' });
      expect(h.history.map((x) => x.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(h.bucket).toBe(1);
      expect(h.valid.map((v) => v.step)).toEqual([10, 20, 30, 40]);
      expect(h.samples.map((s) => s.step)).toEqual([20, 40]);
      expect(h.samples[1]!.text.startsWith('Once upon a time')).toBe(true);
      expect(h.checkpoints).toEqual([30, 40]);
      expect((await call('train:history', { run: 'tiny-run', maxPoints: 10 })).history).toHaveLength(10);

      // Every checkpoint's weight change, against the one before it (the first against the init).
      const wc = await call('train:weight-change', { run: 'tiny-run' });
      const chain = [...new Set([p, 10, 20, 30, 40])].sort((a, b) => a - b);
      expect(wc.changes).toEqual(chain.map((s, i) => ({ step: s, base: i === 0 ? 0 : chain[i - 1]! })));
      expect(wc).toMatchObject({ run: 'tiny-run', modelId: done.modelId, step: 40, base: 30, tileValues: 1024 * 1024 });
      const cfg = modelConfigOf(parseRecipe(recipe('tiny-run')));
      expect(wc.tensors.map((x) => x.name)).toEqual(paramSpecs(cfg).map((s) => s.name));
      expect(wc.tensors.every((x) => x.rms > 0 && x.tiles.length === 1 && x.tiles[0] === x.rms)).toBe(true);
      // The recorded change equals one computed now from the two checkpoints.
      const store = await services.store();
      const [a, b] = await Promise.all([readCheckpoint(store.volume, 'tiny-run', 30), readCheckpoint(store.volume, 'tiny-run', 40)]);
      const direct = weightChange(parseRecipe(recipe('tiny-run')), b.params, a.params, 1024 * 1024);
      for (const [i, x] of wc.tensors.entries()) expect(x.rms).toBeCloseTo(direct[i]!.rms, 12);
      const first = await call('train:weight-change', { run: 'tiny-run', step: chain[0]! });
      expect(first.base).toBe(0);
      expect(first.tensors.every((x) => x.rms > 0)).toBe(true);
      expect(await code(call('train:weight-change', { run: 'tiny-run', step: 41 }))).toMatch(/^TRAIN_NO_CHANGE: run tiny-run has no checkpoint at step 41/);

      // The model is imported with its map pyramid built.
      const overview = await call('map:overview', {});
      const m = overview.models.find((x) => x.modelId === done.modelId)!;
      expect(m.name).toBe('tiny-run');
      const { regions } = await call('map:regions', { viewport: { x0: m.box.x, y0: m.box.y, x1: m.box.x + m.box.width, y1: m.box.y + m.box.height }, modelId: m.modelId, kinds: ['weights'], limit: 5000 });
      expect(regions.length).toBe(paramSpecs(cfg).length);
      expect(regions.every((r) => r.pyramid.state === 'built')).toBe(true);
      expect(await code(call('train:start', { recipe: recipe('tiny-run'), run: 'another-run' }))).toMatch(/^TRAIN_RUN_EXISTS: a model named tiny-run is already in the store/);
      expect(await code(call('train:resume', { run: 'tiny-run' }))).toMatch(/^TRAIN_NOT_PAUSED/);

      // A restart: the same run, history and changes, from the checkpoints and the records.
      await services.close();
      services = testServices(dataDir);
      call = directCaller(services.dispatch);
      const again = (await call('train:runs', {})).runs;
      expect(again).toHaveLength(1);
      expect(again[0]).toMatchObject({ run: 'tiny-run', state: 'succeeded', step: 40, modelId: done.modelId, validLoss: done.validLoss });
      expect((await call('train:history', { run: 'tiny-run' })).history).toHaveLength(40);
      expect((await call('train:weight-change', { run: 'tiny-run' })).changes).toEqual(wc.changes);

      // Cancel removes the checkpoints and the run; the model stays.
      const removed = await call('train:cancel', { run: 'tiny-run' });
      expect(removed).toEqual({ run: 'tiny-run', checkpointsRemoved: 2 });
      expect((await call('train:runs', {})).runs).toEqual([]);
      expect(await code(call('train:history', { run: 'tiny-run' }))).toMatch(/^TRAIN_RUN_NOT_FOUND/);
      expect(fs.existsSync(path.join(dataDir, 'training', 'tiny-run.weight-change.json'))).toBe(false);
      expect((await call('models:list', {})).models.map((x) => x.name)).toEqual(['tiny-run']);
      console.log(`tiny run: ${seconds.toFixed(1)} s to train ${40} steps with a pause`);
    } finally {
      await services.close();
    }
  }, 300_000);

  it('cancels a running run: it stops, its checkpoints go, and it never comes back', async (t) => {
    if (gpuReason) return t.skip(`no WebGPU adapter: ${gpuReason}`);
    const dataDir = path.join(tmp, 'data-cancel');
    let services = testServices(dataDir);
    let call = directCaller(services.dispatch);
    let steps = 0;
    services.onEvent((name, payload) => {
      if (name === 'train:event' && (payload as EventPayload<'train:event'>).event.kind === 'step') steps++;
    });
    try {
      const firstStep = trainEventWhere(services, (e) => e.event.kind === 'step');
      await call('train:start', { recipe: recipe('doomed', 400) });
      await firstStep;
      expect(steps).toBeGreaterThan(0);
      const r = await call('train:cancel', { run: 'doomed' });
      expect(r.checkpointsRemoved).toBeGreaterThanOrEqual(1); // at least the one written as it stopped
      expect((await call('train:runs', {})).runs).toEqual([]);
      const store = await services.store();
      expect(store.volume.ls().filter((f) => f.name.startsWith('train/doomed/'))).toEqual([]);
      // The same name can be used again, and a restart does not bring the cancelled task back.
      await services.close();
      services = testServices(dataDir);
      call = directCaller(services.dispatch);
      expect((await call('train:runs', {})).runs).toEqual([]);
      const tasks = (await call('tasks:list', {})).tasks.filter((x) => x.kind === 'model.train');
      expect(tasks.map((x) => x.state)).toEqual(['cancelled']);
    } finally {
      await services.close();
    }
  }, 300_000);
});
