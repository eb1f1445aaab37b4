/**
 * What a run is to the services' training modules (./train-handlers.ts and the modules beside it):
 * a `model.train` or `model.finetune` task of the queue, known by its run name, and the options
 * the services give training. Fine-tunes share the `train/RUN/` checkpoint namespace with
 * trainings, so a run name is one run's whichever kind it is.
 */
import { z } from 'zod';
import type { Handlers } from '../../shared/ipc/dispatch';
import type { EventPayload } from '../../shared/ipc/contract';
import { RunName, type trainChannels } from '../../shared/ipc/channels/train';
import type { FinetuneRecipe } from '../../shared/train/finetune-recipe';
import type { GpuContext } from '../../shared/gpu';
import { RecipeSchema, type Recipe } from '../../shared/train/recipe';
import type { NewSession } from '../../shared/sessions/record';
import type { ModelStore } from '../models/store';
import type { TaskQueue, TaskRecord } from '../tasks/queue';
import { FINETUNE_TASK, StoredFinetuneParams } from './finetune-runs';

/** The queue's task kind (electron/train/task.ts `TRAIN_TASK`). */
export const TRAIN_TASK = 'model.train';

export type TrainChannel = keyof typeof trainChannels;
export type TrainHandlers = Pick<Handlers, TrainChannel>;

export interface TrainServiceOptions {
  dataDir: string;
  store: () => Promise<ModelStore>;
  queue: () => TaskQueue;
  /** Pushes `train:event` to the renderers. */
  emit: (payload: EventPayload<'train:event'>) => void;
  /** The GPU the sessions train on (default: Dawn in this process, `openNodeContext`). */
  openContext?: () => Promise<GpuContext>;
  log?: (message: string) => void;
  /** Records a finished run as a self-improvement session (the Dashboard's list); best effort. */
  recordSession?: (s: NewSession) => Promise<unknown>;
}

/** What the services read of a `model.train` task's params (the task module checks them all). */
const StoredParams = z.looseObject({ run: RunName, recipe: RecipeSchema });

/** A run's task settings, whichever kind: a training's recipe, or a fine-tune's (run = its name). */
export type RunParams = { kind: 'train'; run: string; recipe: Recipe } | { kind: 'finetune'; run: string; recipe: FinetuneRecipe };

/** A run's latest task and its settings. */
export interface RunTask {
  task: TaskRecord;
  params: RunParams;
}

/** The latest task of each run (cancelled runs left out), by run name. */
export type RunTasks = () => Map<string, RunTask>;

/** The run a task belongs to and its settings; null for a task of another kind or params that do not parse. */
export function runParamsOf(t: Pick<TaskRecord, 'kind' | 'params'>): RunParams | null {
  if (t.kind === TRAIN_TASK) {
    const p = StoredParams.safeParse(t.params);
    return p.success ? { kind: 'train', run: p.data.run, recipe: p.data.recipe } : null;
  }
  if (t.kind === FINETUNE_TASK) {
    const p = StoredFinetuneParams.safeParse(t.params);
    return p.success ? { kind: 'finetune', run: p.data.recipe.name, recipe: p.data.recipe } : null;
  }
  return null;
}

export function isFinished(t: TaskRecord): boolean {
  return t.state === 'succeeded' || t.state === 'failed' || t.state === 'cancelled';
}
