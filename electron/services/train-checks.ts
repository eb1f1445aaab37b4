/**
 * The checks a new run passes before it is queued or opened in a window (specs/training.md,
 * "The Training view"; "Fine-tuning", "In the app"): its training and validation texts are
 * files on the server's disk (or corpus names), its run name is free (no task of either kind, no
 * window run, no checkpoints under it), and what it would write (a model, an adapter) would
 * replace nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TrainRun } from '../../shared/ipc/channels/train';
import type { FinetuneRecipe } from '../../shared/train/finetune-recipe';
import type { Recipe } from '../../shared/train/recipe';
import type { ModelStore } from '../models/store';
import { listAdapters } from '../train/adapters';
import { checkpointSteps } from '../train/checkpoint';
import { TrainServiceError } from '../ops/train-error';
import type { RunTasks } from './train-runs';
import type { WindowRecord } from './train-window-runs';

/** What the checks read of the runs there are. */
export interface RunsKnown {
  tasks: RunTasks;
  window: (run: string) => WindowRecord | undefined;
  windowState: (w: WindowRecord) => TrainRun['state'];
}

/** Looks like a file path rather than a corpus name. */
function looksLikePath(s: string): boolean {
  return /[\\/]/.test(s) || /\.[A-Za-z0-9]{1,5}$/.test(s);
}

function checkDataPath(p: string, what: string): void {
  if (!looksLikePath(p)) return; // a corpus name: the task's data loader looks it up
  if (!path.isAbsolute(p)) throw new TrainServiceError('TRAIN_BAD_PATH', `${what} ${JSON.stringify(p)} must be an absolute path on the server's disk (or a corpus name)`, { path: p });
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new TrainServiceError('TRAIN_BAD_PATH', `${what} ${p}: no such file`, { path: p });
  }
  if (!st.isFile()) throw new TrainServiceError('TRAIN_BAD_PATH', `${what} ${p} is not a file`, { path: p });
}

/** Refuses a run name that is taken: a task of either kind, a window run, or checkpoints under it. */
function checkRunFree(known: RunsKnown, store: ModelStore, run: string): void {
  const existing = known.tasks().get(run);
  const w = known.window(run);
  if (existing || w || checkpointSteps(store.volume, run).length > 0) {
    const state = w ? `${known.windowState(w)}, in a window` : existing ? (existing.task.state === 'cancelled' ? 'paused' : existing.task.state) : 'stopped, with checkpoints';
    const kind = existing?.params.kind === 'finetune' ? 'a fine-tune' : 'a run';
    throw new TrainServiceError('TRAIN_RUN_EXISTS', `${kind} named ${run} already exists (${state}): resume or cancel it, or choose another name`, { run });
  }
}

/** Refuses a new run whose paths are not files, whose name is taken (a task, a window run, checkpoints), or whose model name is. */
export async function checkNewRun(known: RunsKnown, store: () => Promise<ModelStore>, recipe: Recipe, run: string): Promise<void> {
  for (const p of recipe.data.train) checkDataPath(p, 'training text');
  for (const p of recipe.data.valid) checkDataPath(p, 'validation text');
  const s = await store();
  checkRunFree(known, s, run);
  if (s.list().some((m) => m.name === recipe.name)) {
    throw new TrainServiceError('TRAIN_RUN_EXISTS', `a model named ${recipe.name} is already in the store: the trained model would replace it; choose another name`, { model: recipe.name });
  }
}

/** Refuses a new fine-tune whose paths are not files, whose name is taken, or whose adapter (model, in full mode) would replace one. */
export function checkNewFinetune(known: RunsKnown, store: ModelStore, recipe: FinetuneRecipe): void {
  for (const p of recipe.data.train) checkDataPath(p, 'training text');
  for (const p of recipe.data.valid) checkDataPath(p, 'validation text');
  checkRunFree(known, store, recipe.name);
  const base = store.get(recipe.base.model);
  if (recipe.mode === 'lora' && listAdapters(store.volume, base.id).some((a) => a.name === recipe.name)) {
    throw new TrainServiceError('TRAIN_RUN_EXISTS', `${base.name} already has an adapter named ${recipe.name}: the new one would replace it; choose another name`, { model: base.id, adapter: recipe.name });
  }
  if (recipe.mode === 'full' && store.list().some((m) => m.name === recipe.name)) {
    throw new TrainServiceError('TRAIN_RUN_EXISTS', `a model named ${recipe.name} is already in the store: the fine-tuned model would replace it; choose another name`, { model: recipe.name });
  }
}
