/**
 * Fine-tuning through the services (electron/services/train-handlers.ts, finetune-runs.ts): the
 * `model.finetune` task in the services' queue started by train:finetune, its events pushed as
 * train:event, the run in train:runs / train:history with its base, mode and adapter, paused,
 * resumed and cancelled like a training run; the adapter listed by models:adapters and
 * models:list; the refusals (a model the engine cannot fine-tune, settings that do not fit,
 * paths, names taken), each with its code and a plain reason.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directCaller } from '../../shared/ipc/dispatch';
import type { EventPayload } from '../../shared/ipc/contract';
import type { FinetuneRun } from '../../shared/ipc/channels/train';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { stepFlops } from '../../shared/train/estimate';
import { fixturePath } from '../support/fixtures';
import { code, collectTrainEvents, taskSettled, testServices, trainEventWhere, writeTextSlices } from '../support/services';
import { FINETUNE_TASK } from '../../electron/services/finetune-runs';
import { openNodeGpu } from '../support/webgpu-node';

let tmp: string;
let gpuReason = '';
let trainText: string;
let validText: string;
let gemma: string;
let quantised: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'finetune-handlers-'));
  ({ trainText, validText } = writeTextSlices(tmp, 40_000, 8_000));
  gemma = path.join(tmp, 'tiny-gemma2.gguf');
  fs.writeFileSync(gemma, await generateModelBytes(planModel({ preset: 'tiny-gemma2', type: 'F32', seed: 1, method: 'quantize' })));
  quantised = path.join(tmp, 'tiny-llama-q8.gguf');
  fs.writeFileSync(quantised, await generateModelBytes(planModel({ preset: 'tiny-llama', type: 'Q8_0', seed: 1, method: 'quantize' })));
  const r = await openNodeGpu();
  if (!r.gpu) gpuReason = r.reason;
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Waits until the run's state is one of `states` (polling train:runs: the services' own answer). */
/** A run as train:runs lists it now. */
async function runNamed(call: ReturnType<typeof directCaller>, run: string): Promise<FinetuneRun> {
  const r = (await call('train:runs', {})).runs.find((x) => x.run === run);
  if (!r) throw new Error(`no run ${run}`);
  return r as FinetuneRun;
}

describe('fine-tuning through the services', () => {
  it('refuses what cannot be fine-tuned, fine-tunes stories260K as a task, lists its adapter, pauses, resumes and cancels', async (t) => {
    const dataDir = path.join(tmp, 'data');
    let services = testServices(dataDir);
    let call = directCaller(services.dispatch);
    const seen: EventPayload<'train:event'>[] = [];
    collectTrainEvents(services, seen);
    try {
      const store = await services.store();
      const stories = (await store.import(fixturePath('models', 'stories260K.gguf'), { name: 'stories260K' })).model.id;
      const gem = (await store.import(gemma, { name: 'tiny-gemma2' })).model.id;
      const q8 = (await store.import(quantised, { name: 'tiny-llama-q8' })).model.id;

      // models:list says which models can be fine-tuned, and why not.
      const listed = (await call('models:list', {})).models;
      expect(listed.find((m) => m.id === stories)).toMatchObject({ finetunes: true, finetuneProblem: null, adapters: [] });
      expect(listed.find((m) => m.id === q8)).toMatchObject({ finetunes: true, finetuneProblem: null });
      expect(listed.find((m) => m.id === gem)).toMatchObject({ finetunes: false, finetuneProblem: expect.stringMatching(/^the architecture is not llama or qwen2 \(gemma2\); LoRA fine-tuning runs on llama and qwen2 models/) });

      // Refusals, before anything is queued.
      const req = (over: Record<string, unknown> = {}) => ({ model: stories, data: { train: [trainText], valid: [validText] }, train: { steps: 6, batch: 2, seqLen: 32, evalEvery: 3, checkpointEvery: 3 }, ...over });
      expect(await code(call('train:finetune', req({ model: 'nothing' })))).toMatch(/^MODEL_NOT_FOUND: .*no model with id or name "nothing"/);
      expect(await code(call('train:finetune', req({ model: gem })))).toMatch(/^FINETUNE_UNSUPPORTED: tiny-gemma2 cannot be fine-tuned: the architecture is not llama or qwen2 \(gemma2\)/);
      expect(await code(call('train:finetune', req({ model: q8, mode: 'full' })))).toMatch(/^TRAIN_CONFIG: tiny-llama-q8: .* is Q8_0; full fine-tuning trains F32, F16 and BF16 models \(LoRA trains over quantised ones\)/);
      expect(await code(call('train:finetune', req({ mode: 'full', lora: { rank: 4 } })))).toMatch(/^TRAIN_CONFIG: rank, alpha and targets are LoRA settings/);
      expect(await code(call('train:finetune', req({ lora: { rank: 1000 } })))).toMatch(/^TRAIN_CONFIG: LoRA rank = 1000/);
      expect(await code(call('train:finetune', req({ train: { seqLen: 4096 } })))).toMatch(/^TRAIN_CONFIG: train\.seqLen = 4096 is longer than stories260K's context \(\d+ tokens\)/);
      expect(await code(call('train:finetune', req({ data: { train: ['relative/text.txt'] } })))).toMatch(/^TRAIN_BAD_PATH: training text "relative\/text\.txt" must be an absolute path/);
      expect(await code(call('train:finetune', req({ data: { train: [trainText], valid: [path.join(tmp, 'missing.txt')] } })))).toMatch(/^TRAIN_BAD_PATH: validation text .*missing\.txt: no such file/);
      expect((await call('tasks:list', {})).tasks.filter((x) => x.kind === 'model.finetune')).toEqual([]);

      // The form's estimate: the configuration and the base's bytes; no measured rate before a run finished.
      const before = await call('train:finetune-estimate', { model: 'stories260K' });
      expect(before).toMatchObject({ model: stories, config: { arch: 'llama', dim: 64, layers: 5, heads: 8 }, rate: null });
      expect(before.baseBytes).toBeGreaterThan(200_000);
      expect(await code(call('train:finetune-estimate', { model: gem }))).toMatch(/^FINETUNE_UNSUPPORTED: tiny-gemma2 cannot be fine-tuned/);
      expect(await code(call('train:finetune-estimate', { model: 'nothing' }))).toMatch(/^MODEL_NOT_FOUND/);
      if (gpuReason) return t.skip(`no WebGPU adapter: ${gpuReason}`);

      // A short LoRA fine-tune to its end; its default name is the model's.
      const firstDone = taskSettled(services, FINETUNE_TASK, ['succeeded', 'failed']);
      const started = await call('train:finetune', req());
      expect(started.run).toBe('stories260K-lora');
      expect(await code(call('train:finetune', req()))).toMatch(/^TRAIN_RUN_EXISTS: a fine-tune named stories260K-lora already exists/);
      expect(await code(call('train:start', { recipe: { name: 'x', model: { dim: 32, layers: 2, heads: 2, ff: 64, context: 32 }, data: { train: [trainText], vocab: 300 }, train: { steps: 2 } }, run: 'stories260K-lora' }))).toMatch(/^TRAIN_RUN_EXISTS/);
      await firstDone;
      const done = await runNamed(call, 'stories260K-lora');
      expect(done.error).toBeNull();
      expect(done).toMatchObject({
        kind: 'finetune',
        state: 'succeeded',
        step: 6,
        steps: 6,
        checkpoints: [3, 6],
        modelId: null,
        base: { modelId: stories, name: 'stories260K' },
        finetune: { mode: 'lora', base: { model: stories }, lora: { rank: 8, alpha: 16 }, train: { steps: 6, batch: 2, seqLen: 32 } },
      });
      expect(done.parameters).toBeGreaterThan(0);
      expect(done.adapter).toMatchObject({ name: 'stories260K-lora', bytes: expect.any(Number) });
      expect(done.validLoss).not.toBeNull();
      // Now this machine has a measured rate: the run's tokens/s times its FLOPs per token.
      const after = await call('train:finetune-estimate', { model: q8 });
      const perToken = stepFlops(before.config, 2, 32, { lora: { rank: 8, alpha: 16, targets: ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] } }) / 64;
      expect(after.rate).toEqual({ run: 'stories260K-lora', kind: 'finetune', tokensPerSec: done.latest!.tokensPerSec, flopsPerSec: done.latest!.tokensPerSec * perToken });

      // Its events, as a training run's: a start, every step once, validation before the first step and every 3, checkpoints, done.
      const mine = seen.filter((e) => e.run === 'stories260K-lora');
      expect(mine.every((e) => e.taskId === started.taskId && e.where === 'background')).toBe(true);
      expect(mine[0]!.event).toMatchObject({ kind: 'start', step: 0, resumedFrom: null, parameters: done.parameters });
      expect(mine.filter((e) => e.event.kind === 'step').map((e) => e.event.step)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(mine.filter((e) => e.event.kind === 'valid').map((e) => e.event.step)).toEqual([0, 3, 6]);
      expect(mine.filter((e) => e.event.kind === 'checkpoint').map((e) => e.event.step)).toEqual([3, 6]);
      expect(mine.at(-1)!.event.kind).toBe('done');
      const h = await call('train:history', { run: 'stories260K-lora' });
      expect(h.history.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(h.valid.map((p) => p.step)).toEqual([0, 3, 6]);
      expect(h.steps).toBe(6);

      // The adapter is listed under its model, as its header describes it.
      const { adapters } = await call('models:adapters', { id: 'stories260K' });
      expect(adapters).toHaveLength(1);
      expect(adapters[0]).toMatchObject({ name: 'stories260K-lora', bytes: done.adapter!.bytes, rank: 8, alpha: 16, steps: 6, targets: ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] });
      expect(adapters[0]!.validLoss).toBeCloseTo(done.validLoss!, 5);
      expect((await call('models:list', {})).models.find((m) => m.id === stories)!.adapters).toEqual([{ name: 'stories260K-lora', bytes: done.adapter!.bytes }]);
      expect((await call('models:adapters', { id: gem })).adapters).toEqual([]);
      expect(await code(call('models:adapters', { id: 'nothing' }))).toMatch(/^MODEL_NOT_FOUND/);

      // What a fine-tune does not have: a weight-change layer, a window to resume in.
      expect(await code(call('train:weight-change', { run: 'stories260K-lora' }))).toMatch(/^TRAIN_NO_CHANGE: run stories260K-lora is a fine-tune of .*: the weight-change layer shows runs that trained a model from scratch/);
      expect(await code(call('train:resume', { run: 'stories260K-lora' }))).toMatch(/^TRAIN_NOT_PAUSED/);

      // A second run, paused at its first step and resumed to the end.
      const secondStep = trainEventWhere(services, (e) => e.run === 'second' && e.event.kind === 'step');
      const second = await call('train:finetune', req({ run: 'second', lora: { rank: 4, targets: ['attn_q', 'attn_v'] }, train: { steps: 30, batch: 2, seqLen: 32, evalEvery: 10, checkpointEvery: 10 } }));
      await secondStep;
      const paused = (await call('train:pause', { run: 'second' })) as FinetuneRun;
      expect(paused).toMatchObject({ kind: 'finetune', state: 'paused', adapter: null });
      expect(paused.step).toBeGreaterThan(0);
      expect(paused.step).toBeLessThan(30);
      expect(paused.checkpoints.at(-1)).toBe(paused.step);
      expect(await code(call('train:window-resume', { run: 'second' }))).toMatch(/^TRAIN_UNAVAILABLE: run second is a fine-tune: fine-tunes train in the background only/);

      // A restart of the services: the paused fine-tune is there, and resumes from its checkpoint.
      await services.close();
      services = testServices(dataDir);
      call = directCaller(services.dispatch);
      collectTrainEvents(services, seen);
      expect((await call('train:runs', {})).runs.find((r) => r.run === 'second')).toMatchObject({ kind: 'finetune', state: 'paused', step: paused.step });
      const secondDone = taskSettled(services, FINETUNE_TASK, ['succeeded', 'failed']);
      const resumed = await call('train:resume', { run: 'second' });
      expect(['queued', 'running']).toContain(resumed.state);
      await secondDone;
      const end = await runNamed(call, 'second');
      expect(end).toMatchObject({ state: 'succeeded', step: 30, error: null, adapter: { name: 'second' }, taskId: second.taskId });
      const starts = seen.filter((e) => e.run === 'second' && e.event.kind === 'start').map((e) => e.event);
      expect(starts.at(-1)).toMatchObject({ step: paused.step, resumedFrom: paused.step });
      expect((await call('train:history', { run: 'second' })).history.map((p) => p.step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect((await call('models:adapters', { id: stories })).adapters.map((a) => [a.name, a.rank, a.targets])).toEqual([
        ['second', 4, ['attn_q', 'attn_v']],
        ['stories260K-lora', 8, ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down']],
      ]);

      // Cancel removes the run's checkpoints; its adapter stays, and its name is still taken by it.
      expect(await call('train:cancel', { run: 'stories260K-lora' })).toEqual({ run: 'stories260K-lora', checkpointsRemoved: 2 });
      expect((await call('train:runs', {})).runs.map((r) => r.run)).toEqual(['second']);
      expect(await code(call('train:finetune', req()))).toMatch(/^TRAIN_RUN_EXISTS: stories260K already has an adapter named stories260K-lora/);

      // Deleting the model deletes its adapters.
      await call('models:delete', { id: stories });
      expect((await services.store()).volume.ls().filter((f) => f.name.startsWith('adapters/'))).toEqual([]);
      expect((await call('train:runs', {})).runs.find((r) => r.run === 'second')).toMatchObject({ base: { modelId: null, name: stories }, adapter: null });
    } finally {
      await services.close();
    }
  }, 600_000);
});
