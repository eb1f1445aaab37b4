import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../electron/models/store';
import { modelTaskHandlers } from '../../electron/ops/model-tasks';
import { TilePool } from '../../electron/pixelfs/index';
import { TaskQueue, type TaskContext, type TaskRecord } from '../../electron/tasks/queue';
import { sha256File, writeTinyModel } from './models-support';

let tmp: string;
let pool: TilePool;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'models-tasks-'));
  pool = new TilePool({ size: 1 });
});

afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const openStore = (dir: string): Promise<ModelStore> => ModelStore.open(dir, { create: { tileWidth: 64, tileHeight: 64, level: 0 }, pool });

describe('model task handlers', () => {
  it('refuses bad params at enqueue, naming the field', async () => {
    const store = await openStore(path.join(tmp, 'v-params'));
    const q = new TaskQueue(path.join(tmp, 'params.sqlite'), modelTaskHandlers(() => store));
    expect(() => q.enqueue('model.import', { path: 'relative.gguf' })).toThrow(/model\.import: params\.path = "relative\.gguf": must be an absolute path/);
    expect(() => q.enqueue('model.export', { model: 'm', out: '/tmp/x.gguf', extra: 1 })).toThrow(/TASK_INVALID_PARAMS|Unrecognized key/);
    expect(() => q.enqueue('model.verify', {})).toThrow(/params\.model/);
    expect(q.enqueue('map.pyramid', { model: 'm' }).params).toEqual({ model: 'm', rebuild: false });
    await q.close();
    await store.close();
  });

  it('imports, verifies, exports and builds the pyramid as queued tasks', async () => {
    const store = await openStore(path.join(tmp, 'v-flow'));
    const file = path.join(tmp, 'flow.gguf');
    const want = writeTinyModel(file, { seed: 51 });
    const q = new TaskQueue(path.join(tmp, 'flow.sqlite'), modelTaskHandlers(() => store));
    const progress: TaskRecord[] = [];
    q.onChange((t) => progress.push(t));
    const imp = q.enqueue('model.import', { path: file, name: 'flow', pyramid: false });
    const ver = q.enqueue('model.verify', { model: 'flow' });
    const out = path.join(tmp, 'flow-out.gguf');
    const exp = q.enqueue('model.export', { model: 'flow', out });
    const pyr = q.enqueue('map.pyramid', { model: 'flow' });
    q.start();
    await q.idle();
    for (const t of [imp, ver, exp, pyr]) expect(q.get(t.id).state, `${t.kind}: ${JSON.stringify(q.get(t.id).error)}`).toBe('succeeded');
    expect(q.get(imp.id).result).toMatchObject({ name: 'flow', sha256: want, alreadyImported: false, pyramid: null });
    expect(q.get(ver.id).result).toMatchObject({ ok: true, problems: 0 });
    expect(q.get(exp.id).result).toMatchObject({ path: out, sha256: want, reused: false });
    expect(sha256File(out)).toBe(want);
    expect((q.get(pyr.id).result as { built: number }).built).toBeGreaterThan(10);
    expect(progress.some((p) => p.id === imp.id && p.progress.unit === 'bytes' && p.progress.total === fs.statSync(file).size)).toBe(true);
    expect(store.pyramidReady('flow')).toBe(true);
    await q.close();
    await store.close();
  });

  it('an import builds the pyramid in its one pass and reports its whole duration', async () => {
    const store = await openStore(path.join(tmp, 'v-duration'));
    const file = path.join(tmp, 'duration.gguf');
    writeTinyModel(file, { seed: 53 });
    const q = new TaskQueue(path.join(tmp, 'duration.sqlite'), modelTaskHandlers(() => store));
    const imp = q.enqueue('model.import', { path: file, name: 'duration', pyramid: true });
    q.start();
    await q.idle();
    const rec = q.get(imp.id);
    expect(rec.state).toBe('succeeded');
    const r = rec.result as { seconds: number; storeSeconds: number; pyramidSeconds: number | null; pyramid: { built: number } };
    expect(r.pyramid.built).toBeGreaterThan(0);
    // Built from the bytes as they were stored: no read-back build after the import.
    expect(r.pyramidSeconds).toBeNull();
    expect(store.pyramidReady('duration')).toBe(true);
    expect(r.storeSeconds).toBeGreaterThan(0);
    // The whole covers the import, and no more than the task's own run.
    expect(r.seconds).toBeGreaterThanOrEqual(r.storeSeconds);
    expect(r.seconds * 1000).toBeLessThanOrEqual(rec.finishedAt! - rec.startedAt! + 1);
    await q.close();
    await store.close();
  });

  it('an import cut off by a shutdown resumes when the queue starts again', async () => {
    const dir = path.join(tmp, 'v-resume');
    const file = path.join(tmp, 'resume.gguf');
    const want = writeTinyModel(file, { seed: 52, blocks: 2 });
    const db = path.join(tmp, 'resume.sqlite');
    let store = await openStore(dir);
    const q1 = new TaskQueue(db, modelTaskHandlers(() => store));
    const t = q1.enqueue('model.import', { path: file, name: 'resume' });
    let closing: Promise<void> | null = null;
    q1.onChange((r) => {
      if (!closing && r.state === 'running' && r.progress.done > fs.statSync(file).size / 2) closing = q1.close();
    });
    q1.start();
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        if (closing) {
          clearInterval(tick);
          resolve();
        }
      }, 5);
    });
    await closing;
    expect(store.list()).toEqual([]);
    expect(store.pendingImports()).toHaveLength(1);
    await store.close();

    store = await openStore(dir);
    const q2 = new TaskQueue(db, modelTaskHandlers(() => store));
    q2.start();
    await q2.idle();
    const rec = q2.get(t.id);
    expect(rec).toMatchObject({ state: 'succeeded', resumes: 1, attempts: 2 });
    expect(rec.result).toMatchObject({ resumed: true, sha256: want });
    expect(store.pyramidReady('resume')).toBe(true);
    await q2.close();
    await store.close();
  });

  it('an export rerun after a kill reuses the finished file and removes temp files', async () => {
    const store = await openStore(path.join(tmp, 'v-export'));
    const file = path.join(tmp, 'exp.gguf');
    const want = writeTinyModel(file, { seed: 53 });
    await store.import(file, { name: 'exp' });
    const handler = modelTaskHandlers(() => store).find((h) => h.kind === 'model.export')!;
    const out = path.join(tmp, 'exp-out.gguf');
    const ctx = (resuming: boolean): TaskContext => ({ taskId: 1, signal: new AbortController().signal, resuming, progress: () => undefined });
    const params = handler.validate({ model: 'exp', out });
    expect(await handler.run(params, ctx(false))).toMatchObject({ reused: false, sha256: want });
    fs.writeFileSync(path.join(tmp, '.exp-out.gguf.pxpart-deadbeef'), 'partial');
    expect(await handler.run(params, ctx(true))).toMatchObject({ reused: true, leftoversRemoved: 1 });
    expect(fs.existsSync(path.join(tmp, '.exp-out.gguf.pxpart-deadbeef'))).toBe(false);
    // Not a resume: the existing file is not replaced without overwrite.
    await expect(handler.run(params, ctx(false))).rejects.toMatchObject({ code: 'MODEL_EXPORT_EXISTS' });
    expect(sha256File(out)).toBe(want);
    await store.close();
  });
});
