import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { PxiError } from '../../shared/errors';
import { TaskQueue, type TaskHandler, type TaskRecord } from '../../electron/tasks/queue';
import { projectRoot } from '../support/fixtures';

const made: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'pxi-tasks-'));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function handler(run: TaskHandler['run'], validate: TaskHandler['validate'] = (p) => p): TaskHandler {
  return { kind: 'job', unit: 'items', validate, run };
}

describe('task queue', () => {
  it('runs queued tasks in order, records progress and results', async () => {
    const seen: number[] = [];
    const q = new TaskQueue(join(tmp(), 't.sqlite'), [
      handler(async (p, ctx) => {
        seen.push((p as { n: number }).n);
        ctx.progress(1, 2, 'half');
        ctx.progress(2, 2, 'done');
        return { doubled: (p as { n: number }).n * 2 };
      }),
    ]);
    const changes: TaskRecord[] = [];
    q.onChange((t) => changes.push(t));
    q.enqueue('job', { n: 1 });
    q.enqueue('job', { n: 2 });
    q.start();
    await q.idle();
    expect(seen).toEqual([1, 2]);
    const [second, first] = q.list();
    expect(first).toMatchObject({ state: 'succeeded', result: { doubled: 2 }, attempts: 1, progress: { done: 2, total: 2, unit: 'items' } });
    expect(second!.state).toBe('succeeded');
    expect(changes.some((c) => c.progress.message === 'half')).toBe(true);
    await q.close();
  });

  it('leaves a task of a kind it has no handler for queued, for the process that has one', async () => {
    const file = join(tmp(), 't.sqlite');
    const other: TaskHandler = { kind: 'other', unit: 'items', validate: (p) => p, run: () => Promise.resolve('ran elsewhere') };
    const a = new TaskQueue(file, [handler(() => Promise.resolve('ran')), other]);
    const theirs = a.enqueue('other', {}).id;
    await a.close();
    // A process that only runs 'job' tasks: it runs its own and leaves the other queued.
    const b = new TaskQueue(file, [handler(() => Promise.resolve('ran'))]);
    const mine = b.enqueue('job', {}).id;
    b.start();
    await b.idle();
    expect(b.get(mine)!.state).toBe('succeeded');
    expect(b.get(theirs)!.state).toBe('queued');
    await b.close();
    const c = new TaskQueue(file, [other]);
    c.start();
    await c.idle();
    expect(c.get(theirs)).toMatchObject({ state: 'succeeded', result: 'ran elsewhere' });
    await c.close();
  });

  it('records when the latest run started, apart from when the task was queued', async () => {
    let clock = 1000;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new TaskQueue(join(tmp(), 't.sqlite'), [handler(async () => gate)], { now: () => clock });
    const t = q.enqueue('job', {});
    expect(t.startedAt).toBeNull();
    clock = 5000; // waited 4 s in the queue
    const running = new Promise<void>((r) => q.onChange((c) => c.id === t.id && c.state === 'running' && r()));
    q.start();
    await running;
    expect(q.get(t.id)).toMatchObject({ state: 'running', createdAt: 1000, startedAt: 5000 });
    clock = 7500;
    release();
    await q.idle();
    expect(q.get(t.id)).toMatchObject({ state: 'succeeded', createdAt: 1000, startedAt: 5000, finishedAt: 7500 });
    await q.close();
  });

  it('opens a version-1 task database, adding started_at and keeping its tasks', async () => {
    const file = join(tmp(), 'v1.sqlite');
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(file);
    db.exec(`CREATE TABLE tasks (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, params TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled')), progress TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, resumes INTEGER NOT NULL DEFAULT 0, result TEXT, error TEXT,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, finished_at INTEGER);
      INSERT INTO tasks (kind, params, state, progress, attempts, created_at, updated_at, finished_at)
        VALUES ('job', '{}', 'succeeded', '{"done":1,"total":1,"unit":"items","message":""}', 1, 10, 20, 20);
      PRAGMA user_version = 1;`);
    db.close();
    const q = new TaskQueue(file, [handler(async () => null)]);
    expect(q.list()).toEqual([expect.objectContaining({ id: 1, state: 'succeeded', createdAt: 10, startedAt: null, finishedAt: 20 })]);
    await q.close();
    const again = new Database(file, { readonly: true });
    expect(again.pragma('user_version', { simple: true })).toBe(2);
    again.close();
  });

  it('refuses unknown kinds and invalid params at enqueue', async () => {
    const q = new TaskQueue(join(tmp(), 't.sqlite'), [
      handler(
        async () => null,
        (p) => {
          if (typeof (p as { path?: unknown }).path !== 'string') throw new PxiError('TASK_PARAMS', 'params.path must be a string');
          return p;
        },
      ),
    ]);
    expect(() => q.enqueue('nope', {})).toThrow(/unknown task kind "nope"/);
    expect(() => q.enqueue('job', { path: 3 })).toThrow(/params.path/);
    expect(q.list()).toEqual([]);
    await q.close();
  });

  it('a failure is kept with its typed error, and retry runs it again', async () => {
    let calls = 0;
    const q = new TaskQueue(join(tmp(), 't.sqlite'), [
      handler(async () => {
        calls++;
        if (calls === 1) throw new PxiError('GGUF_TRUNCATED', 'model.gguf: file ends at byte 10');
        return 'ok';
      }),
    ]);
    const t = q.enqueue('job', {});
    q.start();
    await q.idle();
    expect(q.get(t.id)).toMatchObject({ state: 'failed', error: { code: 'GGUF_TRUNCATED', message: 'model.gguf: file ends at byte 10' } });
    expect(() => q.cancel(t.id)).toThrow(/only queued or running/);
    q.retry(t.id);
    await q.idle();
    expect(q.get(t.id)).toMatchObject({ state: 'succeeded', result: 'ok', attempts: 2, error: null });
    expect(() => q.retry(t.id)).toThrow(/only failed or cancelled/);
    await q.close();
  });

  it('cancels queued tasks at once and running tasks through their signal', async () => {
    const q = new TaskQueue(join(tmp(), 't.sqlite'), [
      handler(
        (_p, ctx) =>
          new Promise((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
          }),
      ),
    ]);
    const a = q.enqueue('job', {});
    const b = q.enqueue('job', {});
    const running = new Promise<void>((r) => q.onChange((c) => c.id === a.id && c.state === 'running' && r()));
    q.start();
    await running;
    expect(q.get(a.id).state).toBe('running');
    expect(q.cancel(b.id).state).toBe('cancelled');
    q.cancel(a.id);
    await q.idle();
    expect(q.get(a.id)).toMatchObject({ state: 'cancelled', error: { code: 'TASK_CANCELLED' } });
    await q.close();
  });

  it('a task killed with SIGKILL resumes after restart, and no step is done twice', async () => {
    const dir = tmp();
    const run = (mode: string) => spawn(process.execPath, ['--import', 'tsx', 'tests/node/helpers/task-child.ts', dir, mode], { cwd: projectRoot });
    const first = run('enqueue');
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: first.stdout }).on('line', (l) => l === 'half' && resolve());
      first.once('exit', (c) => reject(new Error(`child exited early with ${c}`)));
    });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const second = run('resume');
    let out = '';
    second.stdout.on('data', (d) => (out += String(d)));
    const code = await new Promise((r) => second.once('exit', r));
    expect(code).toBe(0);
    const [task] = JSON.parse(out.trim()) as TaskRecord[];
    expect(task).toMatchObject({ state: 'succeeded', result: { steps: 10 }, attempts: 2, resumes: 1 });
    expect(readFileSync(join(dir, 'resumed'), 'utf8')).toBe('yes\n');
    const steps = readFileSync(join(dir, 'steps.log'), 'utf8').trim().split('\n').map(Number);
    expect(steps).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
