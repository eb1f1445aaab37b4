import type { PxiApi } from '../../../shared/ipc/client';
import type { Response } from '../../../shared/ipc/contract';
import { baseName } from './format';

/** A task record as the services report it (tasks:list, tasks:enqueue, tasks:changed). */
export type Task = Response<'tasks:list'>['tasks'][number];
export type TaskState = Task['state'];

export function isFinished(state: TaskState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}

const KIND_LABELS: Record<string, string> = {
  'model.import': 'Import',
  'model.verify': 'Verify',
  'model.export': 'Export',
  'map.pyramid': 'Map pyramid',
  'model.train': 'Training',
  'model.finetune': 'Fine-tune',
};

export function kindLabel(kind: string): string {
  return KIND_LABELS[kind] ?? kind;
}

function param(t: Task, key: string): string | null {
  const p = t.params as Record<string, unknown> | null;
  const v = p && typeof p === 'object' ? p[key] : undefined;
  return typeof v === 'string' ? v : null;
}

/** The model a task works on (its id or name as enqueued), null for imports. */
export function taskModel(t: Task): string | null {
  return param(t, 'model');
}

/** What the task works on, in a few words: the file for an import, the model (and file) otherwise. */
export function taskTarget(t: Task, modelName: (ref: string) => string = (r) => r): string {
  if (t.kind === 'model.import') {
    const path = param(t, 'path');
    const name = param(t, 'name');
    return `${path ? baseName(path) : '?'}${name ? ` as ${name}` : ''}`;
  }
  if (t.kind === 'model.train') return `run ${param(t, 'run') ?? '?'}`;
  if (t.kind === 'model.finetune') {
    const r = (t.params as { recipe?: { name?: unknown; base?: { model?: unknown } } } | null)?.recipe;
    const base = typeof r?.base?.model === 'string' ? modelName(r.base.model) : '?';
    return `run ${typeof r?.name === 'string' ? r.name : '?'} (fine-tune of ${base})`;
  }
  const model = taskModel(t);
  const out = param(t, 'out');
  return `${model ? modelName(model) : '?'}${out ? ` → ${baseName(out)}` : ''}`;
}

/**
 * Follows one task until it finishes: every `tasks:changed` for it goes to `onUpdate`, then
 * `done` resolves with the finished record. Subscribing first and then reading the list once
 * catches a task that finished before the subscription (events and replies share one ordered
 * connection, so the list answer is never older than an event already seen).
 */
export function followTask(api: PxiApi, id: number, onUpdate: (t: Task) => void): { done: Promise<Task>; stop(): void } {
  let finish: (t: Task) => void = () => undefined;
  const done = new Promise<Task>((resolve) => (finish = resolve));
  let over = false;
  const see = (t: Task) => {
    if (over || t.id !== id) return;
    onUpdate(t);
    if (isFinished(t.state)) {
      over = true;
      off();
      finish(t);
    }
  };
  const off = api.on('tasks:changed', see);
  void api
    .call('tasks:list', {})
    .then(({ tasks }) => {
      const t = tasks.find((x) => x.id === id);
      if (t) see(t);
    })
    .catch(() => undefined); // the events still arrive; a failed catch-up read changes nothing
  return {
    done,
    stop: () => {
      over = true;
      off();
    },
  };
}

/**
 * Calls `fn` at most once per animation frame with everything queued since the last call, so
 * a burst of progress events costs one DOM update, not one per event.
 */
export function frameBatcher<T>(fn: (items: T[]) => void): (item: T) => void {
  let queue: T[] = [];
  let scheduled = false;
  return (item) => {
    queue.push(item);
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      const items = queue;
      queue = [];
      fn(items);
    });
  };
}

/**
 * Subscribes to task events for as long as `node` is in the document: the shell replaces a
 * view's nodes when the person navigates, and the listener removes itself at its next event.
 */
export function onTasksWhileMounted(api: PxiApi, node: Node, listener: (t: Task) => void): () => void {
  const off = api.on('tasks:changed', (t) => {
    if (!node.isConnected) {
      off();
      return;
    }
    listener(t);
  });
  return off;
}
