import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { directCaller } from '../../shared/ipc/dispatch';
import { Services } from '../../electron/services';
import { ModelStore } from '../../electron/models/store';
import { TaskQueue } from '../../electron/tasks/queue';
import { projectRoot } from '../support/fixtures';

const dirs: string[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'pxi-services-volume-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('services take the volume at start', () => {
  it('a volume held elsewhere is refused at start, and the refusal is not cached once it is free', async () => {
    const dataDir = temp();
    const other = await ModelStore.open(join(dataDir, 'volume'), { create: true });
    const services = new Services({ dataDir, mode: 'browser', version: '0.0.0-test', log: () => {} });
    const call = directCaller(services.dispatch);
    try {
      await expect(services.ready()).rejects.toMatchObject({ code: 'PIXELFS_VOLUME_LOCKED' });
      await expect(call('models:list', {})).rejects.toMatchObject({ code: 'PIXELFS_VOLUME_LOCKED' });
      await other.close();
      // The other holder is gone: the next call opens the volume instead of answering the old failure.
      expect((await call('models:list', {})).models).toEqual([]);
      await services.ready();
    } finally {
      await services.close();
    }
  });

  it('a second host on a held data folder does not recover (re-run or fail) the first one\'s running task', async () => {
    const dataDir = temp();
    mkdirSync(dataDir, { recursive: true });
    const tasksDb = join(dataDir, 'tasks.sqlite');
    await new TaskQueue(tasksDb, []).close(); // makes the schema
    const db = new Database(tasksDb);
    const progress = JSON.stringify({ done: 1, total: 10, unit: 'bytes', message: 'importing' });
    db.prepare(`INSERT INTO tasks (kind, params, state, progress, created_at, updated_at, started_at) VALUES ('model.import', ?, 'running', ?, 1, 1, 1)`).run(
      JSON.stringify({ path: join(dataDir, 'some.gguf'), name: 'x' }),
      progress,
    );
    db.close();
    // The first host: it owns the volume and is running that import.
    const first = await ModelStore.open(join(dataDir, 'volume'), { create: true });
    const second = new Services({ dataDir, mode: 'browser', version: '0.0.0-test', log: () => {} });
    try {
      await expect(second.ready()).rejects.toMatchObject({ code: 'PIXELFS_VOLUME_LOCKED' });
      const row = new Database(tasksDb, { readonly: true });
      try {
        expect(row.prepare('SELECT state, resumes, error FROM tasks').get()).toEqual({ state: 'running', resumes: 0, error: null });
      } finally {
        row.close();
      }
    } finally {
      await second.close();
      await first.close();
    }
  });

  it('pxi serve on a data folder another host holds is refused before it listens, with the folder named', async () => {
    const dataDir = temp();
    const first = await ModelStore.open(join(dataDir, 'volume'), { create: true });
    try {
      const r = spawnSync(process.execPath, ['bin/pxi.js', 'serve', '--port', '0', '--json', '--no-default-model', '--data-dir', dataDir], {
        cwd: projectRoot,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe(''); // no URL printed: it never listened
      expect(r.stderr).toContain(`${dataDir} is in use by another process`);
      expect(r.stderr).toContain('[PIXELFS_VOLUME_LOCKED]');
      expect(r.stderr).not.toContain('unexpected error');
    } finally {
      await first.close();
    }
  });
});

describe('app:log', () => {
  it('strips escape sequences and control characters from a page\'s text before it reaches the terminal', async () => {
    const logged: string[] = [];
    const services = new Services({ dataDir: temp(), mode: 'browser', version: '0.0.0-test', log: (level, message) => logged.push(`${level} ${message}`) });
    try {
      await directCaller(services.dispatch)('app:log', { level: 'info', message: 'red \x1b[31mtext\x1b[0m\x1b]0;title\x07 bell\x07 back\b\r\ndone\ttab\u009b2J' });
      expect(logged).toHaveLength(1);
      expect(logged[0]).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(logged[0]).toBe('info red text bell back\ndone\ttab');
    } finally {
      await services.close();
    }
  });
});
