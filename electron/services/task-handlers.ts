import type { Handlers } from '../../shared/ipc/dispatch';
import type { TaskQueue } from '../tasks/queue';

type TaskChannel = 'tasks:list' | 'tasks:enqueue' | 'tasks:cancel' | 'tasks:retry';

/** The task queue over IPC; progress reaches the renderer as `tasks:changed` events. */
export function taskHandlers(queue: () => TaskQueue): Pick<Handlers, TaskChannel> {
  return {
    'tasks:list': () => ({ tasks: queue().list() }),
    'tasks:enqueue': ({ kind, params }) => queue().enqueue(kind, params),
    'tasks:cancel': ({ id }) => queue().cancel(id),
    'tasks:retry': ({ id }) => queue().retry(id),
  };
}
