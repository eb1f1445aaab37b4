import { DEFAULT_MODEL_NAME } from '../../electron/models/default-model';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { directCaller } from '../../shared/ipc/dispatch';
import type { EventPayload } from '../../shared/ipc/contract';
import { Services } from '../../electron/services';
import { fixturePath } from '../support/fixtures';
import { taskSettled } from '../support/services';

const dirs: string[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'pxi-services-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('main-process services through the IPC contract', () => {
  it('imports a model the engine cannot run, and says so before and after: the architecture is named', async () => {
    // stories260K with general.architecture = "mamba" (same length, so only the value changes).
    const bytes = readFileSync(fixturePath('models', 'stories260K.gguf'));
    const key = Buffer.from('general.architecture');
    const at = bytes.indexOf(key) + key.length + 4 + 8; // value type u32, string length u64
    expect(bytes.subarray(at, at + 5).toString()).toBe('llama');
    bytes.write('mamba', at);
    const path = join(temp(), 'mamba.gguf');
    writeFileSync(path, bytes);
    const services = new Services({ dataDir: temp(), mode: 'browser', version: '0.0.0-test' });
    const call = directCaller(services.dispatch);
    try {
      const info = await call('models:inspectFile', { path });
      expect(info.architecture).toBe('mamba');
      expect(info.engineProblem).toMatch(/^architecture: .*"mamba"/);
      const done = new Promise<void>((resolve) => services.onEvent((name, p) => name === 'tasks:changed' && ['succeeded', 'failed'].includes((p as EventPayload<'tasks:changed'>).state) && resolve()));
      await call('tasks:enqueue', { kind: 'model.import', params: { path, name: 'mamba' } });
      await done;
      expect((await call('tasks:list', {})).tasks[0]).toMatchObject({ state: 'succeeded', error: null });
      const { models } = await call('models:list', {});
      expect(models).toHaveLength(1);
      expect(models[0]).toMatchObject({ name: 'mamba', runs: false, runProblem: expect.stringMatching(/^architecture: .*mamba/) });
    } finally {
      await services.close();
    }
  });

  it('inspects a GGUF file, imports it as a task with progress events, lists and deletes it', async () => {
    const services = new Services({ dataDir: temp(), mode: 'browser', version: '0.0.0-test' });
    const call = directCaller(services.dispatch);
    try {
      expect((await call('models:list', {})).models).toEqual([]);
      const path = fixturePath('models', 'stories260K.gguf');
      const info = await call('models:inspectFile', { path });
      expect(info).toMatchObject({ architecture: 'llama', tensorCount: expect.any(Number), engineProblem: null, tokenizer: { model: 'llama', vocabSize: 512 } });
      expect(info.tensorTypes).toEqual([expect.objectContaining({ type: 'F32', runnable: true })]);
      const plan = await call('files:importPlan', { path });
      expect(plan.importProblem).toBeNull();
      expect(plan.tensors.length).toBe(info.tensorCount);
      expect(plan.tensors.find((t) => t.name === 'blk.0.attn_q.weight')).toEqual({ name: 'blk.0.attn_q.weight', type: 'F32', bytes: 64 * 64 * 4 });
      expect(plan.volume).toMatchObject({ perImport: false, tileBytes: plan.volume.tileWidth * plan.volume.tileHeight * 4 });

      const events: EventPayload<'tasks:changed'>[] = [];
      services.onEvent((name, payload) => name === 'tasks:changed' && events.push(payload as EventPayload<'tasks:changed'>));
      const settled = taskSettled(services, 'model.import');
      const task = await call('tasks:enqueue', { kind: 'model.import', params: { path, name: 'stories' } });
      expect(task.state).toBe('queued');
      expect((await settled).id).toBe(task.id);
      const last = events.filter((e) => e.id === task.id).at(-1)!;
      expect(last.error).toBeNull();
      expect(last.state).toBe('succeeded');
      expect(events.some((e) => e.id === task.id && e.state === 'running')).toBe(true);

      const { models } = await call('models:list', {});
      expect(models).toHaveLength(1);
      expect(models[0]).toMatchObject({ name: 'stories', architecture: 'llama', tensorTypes: ['F32'], runs: true, runProblem: null });
      expect((await call('tasks:list', {})).tasks[0]).toMatchObject({ id: task.id, state: 'succeeded' });
      await call('models:delete', { id: models[0]!.id });
      expect((await call('models:list', {})).models).toEqual([]);
    } finally {
      await services.close();
    }
  });

  it('refuses relative paths, missing files and malformed GGUFs with their reasons', async () => {
    const dir = temp();
    const services = new Services({ dataDir: dir, mode: 'browser', version: '0.0.0-test' });
    const call = directCaller(services.dispatch);
    try {
      await expect(call('models:inspectFile', { path: 'model.gguf' })).rejects.toMatchObject({ code: 'INSPECT_BAD_PATH' });
      await expect(call('models:inspectFile', { path: join(dir, 'missing.gguf') })).rejects.toMatchObject({ code: 'INSPECT_NOT_FOUND' });
      const truncated = join(dir, 'truncated.gguf');
      writeFileSync(truncated, readFileSync(fixturePath('models', 'stories260K.gguf')).subarray(0, 300));
      await expect(call('models:inspectFile', { path: truncated })).rejects.toMatchObject({ code: 'GGUF_TRUNCATED', message: expect.stringContaining(truncated) });
      await expect(call('tasks:enqueue', { kind: 'model.import', params: { path: 'relative.gguf' } })).rejects.toMatchObject({ code: 'TASK_INVALID_PARAMS' });
      await expect(call('tasks:cancel', { id: 999 })).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
      // The native dialog exists only in the desktop app; browser mode says so by code.
      await expect(call('files:chooseGguf', {})).rejects.toMatchObject({ code: 'FILES_DIALOG_UNAVAILABLE' });
      await expect(call('files:importPlan', { path: 'relative.gguf' })).rejects.toMatchObject({ code: 'FILES_BAD_PATH' });
    } finally {
      await services.close();
    }
  });

  it('on the first start of an empty data folder, imports the trained default model once', async () => {
    const dir = temp();
    const first = new Services({ dataDir: dir, mode: 'browser', version: '0.0.0-test', importDefaultModel: true });
    // Subscribed before anything can run: the import is enqueued while the volume opens.
    const settled = taskSettled(first, 'model.import');
    const call = directCaller(first.dispatch);
    try {
      const task = await settled;
      expect(task.error).toBeNull();
      expect(task.state).toBe('succeeded');
      const models = (await call('models:list', {})).models;
      expect(models.map((m) => m.name)).toEqual([DEFAULT_MODEL_NAME]);
      await call('models:delete', { id: models[0]!.id });
    } finally {
      await first.close();
    }
    // Deleted by the user: a later start does not bring it back.
    const second = new Services({ dataDir: dir, mode: 'browser', version: '0.0.0-test', importDefaultModel: true });
    try {
      // ready(): the volume is open and the start-up decision (offer the default model or not) is made.
      await second.ready();
      expect((await directCaller(second.dispatch)('tasks:list', {})).tasks.filter((t) => t.kind === 'model.import')).toHaveLength(1);
      expect((await directCaller(second.dispatch)('models:list', {})).models).toEqual([]);
    } finally {
      await second.close();
    }
  });
});
