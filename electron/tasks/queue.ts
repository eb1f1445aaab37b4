import Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import { PxiError, serializeError, type SerializedError } from '../../shared/errors';

/**
 * The durable task queue (import, verify, export, pyramid jobs), owned by the main process.
 *
 * Every state change is a committed SQLite row (WAL, synchronous=FULL), so a crash or kill
 * loses nothing: on the next start, a task that was running is queued again and its handler is
 * told it is resuming. Handlers must therefore be idempotent or resumable (import resumes from
 * PixelFS's pending tiles; verify is read-only; export writes a temp file and renames), which
 * is what makes "nothing done twice" hold for their effects.
 */

export type TaskState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface TaskProgress {
  done: number;
  total: number | null;
  unit: string;
  message: string;
}

export interface TaskRecord {
  id: number;
  kind: string;
  params: unknown;
  state: TaskState;
  progress: TaskProgress;
  attempts: number;
  /** How many times a run was cut off by a crash or kill and resumed. */
  resumes: number;
  result: unknown;
  error: SerializedError | null;
  createdAt: number;
  /** When the latest run began (null while it never ran); a retry or a resume moves it. */
  startedAt: number | null;
  updatedAt: number;
  finishedAt: number | null;
}

export interface TaskContext {
  taskId: number;
  signal: AbortSignal;
  /** True when an earlier run of this task was interrupted (crash, kill, restart). */
  resuming: boolean;
  progress(done: number, total: number | null, message?: string): void;
}

export interface TaskHandler {
  kind: string;
  unit: string;
  /** Checks and normalises params at enqueue time; throw a PxiError to refuse. */
  validate(params: unknown): unknown;
  run(params: unknown, ctx: TaskContext): Promise<unknown>;
}

export class TaskError extends PxiError {}

interface Row {
  id: number;
  kind: string;
  params: string;
  state: TaskState;
  progress: string;
  attempts: number;
  resumes: number;
  result: string | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  updated_at: number;
  finished_at: number | null;
}

/** 1: first schema; 2: started_at. */
const SCHEMA_VERSION = 2;
const PROGRESS_WRITE_MS = 500;

function toRecord(r: Row): TaskRecord {
  return {
    id: r.id,
    kind: r.kind,
    params: JSON.parse(r.params) as unknown,
    state: r.state,
    progress: JSON.parse(r.progress) as TaskProgress,
    attempts: r.attempts,
    resumes: r.resumes,
    result: r.result === null ? null : (JSON.parse(r.result) as unknown),
    error: r.error === null ? null : (JSON.parse(r.error) as SerializedError),
    createdAt: r.created_at,
    startedAt: r.started_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

export interface TaskQueueOptions {
  /** Tasks run at once (default 1: imports are I/O- and CPU-bound on a 2-core machine). */
  concurrency?: number;
  now?: () => number;
}

export class TaskQueue {
  private readonly db: Database.Database;
  private readonly handlers = new Map<string, TaskHandler>();
  private readonly running = new Map<number, AbortController>();
  private readonly events = new EventEmitter();
  private readonly concurrency: number;
  private readonly now: () => number;
  private started = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(dbPath: string, handlers: TaskHandler[], opts: TaskQueueOptions = {}) {
    this.concurrency = Math.max(1, opts.concurrency ?? 1);
    this.now = opts.now ?? Date.now;
    for (const h of handlers) this.handlers.set(h.kind, h);
    this.db = new Database(dbPath);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new TaskError('TASKS_SCHEMA_NEWER', `${dbPath}: task database schema ${version} is newer than this version of Pixel-LLM understands (${SCHEMA_VERSION})`);
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS tasks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        params TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled')),
        progress TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        resumes INTEGER NOT NULL DEFAULT 0,
        result TEXT,
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        finished_at INTEGER,
        started_at INTEGER
      );
      CREATE INDEX IF NOT EXISTS tasks_state ON tasks(state, id);
    `);
    // A version-1 database (no started_at) gains the column; its old tasks keep null.
    this.db.transaction(() => {
      const cols = (this.db.prepare(`PRAGMA table_info(tasks)`).all() as { name: string }[]).map((c) => c.name);
      if (!cols.includes('started_at')) this.db.exec(`ALTER TABLE tasks ADD COLUMN started_at INTEGER`);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }

  /** Recovers tasks a crash left running, then starts working through the queue. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const t = this.now();
    this.db.prepare(`UPDATE tasks SET state = 'queued', resumes = resumes + 1, started_at = NULL, updated_at = ? WHERE state = 'running'`).run(t);
    this.pump();
  }

  enqueue(kind: string, params: unknown): TaskRecord {
    const handler = this.handlers.get(kind);
    if (!handler) throw new TaskError('TASK_UNKNOWN_KIND', `unknown task kind ${JSON.stringify(kind)}; known: ${[...this.handlers.keys()].join(', ')}`);
    const checked = handler.validate(params);
    const t = this.now();
    const progress: TaskProgress = { done: 0, total: null, unit: handler.unit, message: 'queued' };
    const info = this.db
      .prepare(`INSERT INTO tasks (kind, params, state, progress, created_at, updated_at) VALUES (?, ?, 'queued', ?, ?, ?)`)
      .run(kind, JSON.stringify(checked), JSON.stringify(progress), t, t);
    const rec = this.get(Number(info.lastInsertRowid));
    this.changed(rec);
    this.pump();
    return rec;
  }

  get(id: number): TaskRecord {
    const row = this.db.prepare(`SELECT * FROM tasks WHERE id = ?`).get(id) as Row | undefined;
    if (!row) throw new TaskError('TASK_NOT_FOUND', `no task with id ${id}`);
    return toRecord(row);
  }

  list(limit = 200): TaskRecord[] {
    return (this.db.prepare(`SELECT * FROM tasks ORDER BY id DESC LIMIT ?`).all(limit) as Row[]).map(toRecord);
  }

  /** A queued task is cancelled at once; a running one is asked to stop through its signal. */
  cancel(id: number): TaskRecord {
    const rec = this.get(id);
    if (rec.state === 'queued') {
      this.finish(id, 'cancelled', null, null);
    } else if (rec.state === 'running') {
      this.running.get(id)?.abort(new TaskError('TASK_CANCELLED', `task ${id} was cancelled`));
    } else {
      throw new TaskError('TASK_NOT_CANCELLABLE', `task ${id} is ${rec.state}; only queued or running tasks can be cancelled`);
    }
    return this.get(id);
  }

  retry(id: number): TaskRecord {
    const rec = this.get(id);
    if (rec.state !== 'failed' && rec.state !== 'cancelled') {
      throw new TaskError('TASK_NOT_RETRYABLE', `task ${id} is ${rec.state}; only failed or cancelled tasks can be retried`);
    }
    this.db.prepare(`UPDATE tasks SET state = 'queued', error = NULL, started_at = NULL, finished_at = NULL, updated_at = ? WHERE id = ?`).run(this.now(), id);
    const next = this.get(id);
    this.changed(next);
    this.pump();
    return next;
  }

  onChange(listener: (task: TaskRecord) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.running.size === 0 && !this.nextQueued()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops taking work; running tasks are aborted and stay 'running' in the database, to resume. */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.running.values()) c.abort(new TaskError('TASK_SHUTDOWN', 'Pixel-LLM is shutting down'));
    while (this.running.size) await new Promise((r) => setTimeout(r, 10));
    this.db.close();
  }

  /**
   * The oldest queued task this queue has a handler for. A task of another kind stays queued for
   * the process that runs it (`pxi train`'s queue must not fail the app's fine-tune, nor the
   * other way round: several processes open one tasks.sqlite, each with its own handlers).
   */
  private nextQueued(): Row | undefined {
    const kinds = [...this.handlers.keys()];
    if (kinds.length === 0) return undefined;
    return this.db.prepare(`SELECT * FROM tasks WHERE state = 'queued' AND kind IN (${kinds.map(() => '?').join(', ')}) ORDER BY id LIMIT 1`).get(...kinds) as Row | undefined;
  }

  private pump(): void {
    if (!this.started || this.closed) return;
    while (this.running.size < this.concurrency) {
      const row = this.nextQueued();
      if (!row) break;
      void this.runTask(row);
    }
    if (this.running.size === 0) {
      const waiters = this.idleWaiters.splice(0);
      for (const w of waiters) w();
    }
  }

  private async runTask(row: Row): Promise<void> {
    const handler = this.handlers.get(row.kind);
    const controller = new AbortController();
    this.running.set(row.id, controller);
    const t = this.now();
    this.db.prepare(`UPDATE tasks SET state = 'running', attempts = attempts + 1, started_at = ?, updated_at = ? WHERE id = ?`).run(t, t, row.id);
    this.changed(this.get(row.id));
    if (!handler) {
      this.running.delete(row.id);
      this.finish(row.id, 'failed', null, serializeError(new TaskError('TASK_UNKNOWN_KIND', `no handler for task kind ${row.kind}`)));
      this.pump();
      return;
    }
    let lastWrite = 0;
    const ctx: TaskContext = {
      taskId: row.id,
      signal: controller.signal,
      resuming: row.resumes > 0,
      progress: (done, total, message = '') => {
        const now = this.now();
        const p: TaskProgress = { done, total, unit: handler.unit, message };
        // Progress is frequent; persist it at most twice a second, but tell listeners each time.
        if (now - lastWrite >= PROGRESS_WRITE_MS || (total !== null && done >= total)) {
          lastWrite = now;
          this.db.prepare(`UPDATE tasks SET progress = ?, updated_at = ? WHERE id = ?`).run(JSON.stringify(p), now, row.id);
        }
        this.events.emit('change', { ...this.get(row.id), progress: p });
      },
    };
    try {
      const result = await handler.run(JSON.parse(row.params), ctx);
      this.running.delete(row.id);
      if (controller.signal.aborted && this.closed) return; // stays 'running' → resumes next start
      this.finish(row.id, 'succeeded', result ?? null, null);
    } catch (e) {
      this.running.delete(row.id);
      if (this.closed) return;
      if (controller.signal.aborted) this.finish(row.id, 'cancelled', null, serializeError(controller.signal.reason));
      else this.finish(row.id, 'failed', null, serializeError(e));
    }
    this.pump();
  }

  private finish(id: number, state: TaskState, result: unknown, error: SerializedError | null): void {
    const t = this.now();
    this.db
      .prepare(`UPDATE tasks SET state = ?, result = ?, error = ?, finished_at = ?, updated_at = ? WHERE id = ?`)
      .run(state, result === null ? null : JSON.stringify(result), error === null ? null : JSON.stringify(error), t, t, id);
    this.changed(this.get(id));
  }

  private changed(rec: TaskRecord): void {
    this.events.emit('change', rec);
  }
}
