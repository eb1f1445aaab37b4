/**
 * Training from the workstation (shared/ipc/channels/train.ts; specs/training.md, "The Training
 * view"): the `model.train` task of electron/train/task.ts in the services' queue, on Dawn in the
 * services' process, with its events pushed to the renderer as `train:event`, and the channels
 * that start, list, follow, pause, resume and cancel runs.
 *
 * Pause is the queue's cancel (the session writes a checkpoint, the task ends `cancelled`),
 * resume its retry (the session resumes from that checkpoint); cancel stops the task, then
 * removes the run's checkpoints.
 *
 * Fine-tunes (`model.finetune` tasks: electron/train/finetune-task.ts, started by `train:finetune`
 * or `pxi finetune`) are runs too: the same events, figures, pause, resume and cancel, their
 * checkpoints in the same `train/RUN/` namespace, so a run name is one run's whichever kind it
 * is; what is particular to them (the base, the adapter, the request's checks) is ./finetune-runs.ts.
 *
 * The parts beside this file: what a run is (./train-runs.ts), its events and live figures
 * (./train-events.ts), what a run shows (./train-run-info.ts), the checks of a new run
 * (./train-checks.ts), runs that train in a window (./train-window-runs.ts), and the weight
 * change of each checkpoint (electron/ops/train-weight-change.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { TRAIN_LIMITS } from '../../shared/ipc/channels/train';
import type { TrainEvent } from '../../shared/train/loop';
import { parseRecipe, type Recipe } from '../../shared/train/recipe';
import type { FinetuneRecipe } from '../../shared/train/finetune-recipe';
import { writeFileDurable } from '../pixelfs/file-ops';
import type { TaskHandler, TaskRecord } from '../tasks/queue';
import { checkpointSteps, removeRun } from '../train/checkpoint';
import { TrainServiceError } from '../ops/train-error';
import { WeightChangeRecords } from '../ops/train-weight-change';
import { FINETUNE_TASK, FinetuneRunDetails, finetuneEstimate, finetuneRecipeOf } from './finetune-runs';
import { checkNewFinetune, checkNewRun, type RunsKnown } from './train-checks';
import { RunEvents } from './train-events';
import { RunViews } from './train-run-info';
import { isFinished, runParamsOf, TRAIN_TASK, type RunTask, type TrainHandlers, type TrainServiceOptions } from './train-runs';
import { WindowRuns } from './train-window-runs';
// Types only: the training engine (electron/train/task.ts and what it imports: the GPU trainer,
// the data loader, Dawn) is loaded on first use, so the services start, and every other
// channel works, even where it cannot load.
import type { TrainTaskParams, TrainTaskResult } from '../train/task';
import type { FinetuneTaskParams, FinetuneTaskResult } from '../train/finetune-task';

export class TrainService {
  private readonly runOfTask = new Map<number, string>();
  private readonly dir: string;
  private discarded: Set<number>;
  private inner: TaskHandler | null = null;
  private innerLoading: Promise<TaskHandler> | null = null;
  private finetuneInner: TaskHandler | null = null;
  private finetuneLoading: Promise<TaskHandler> | null = null;
  private readonly changes: WeightChangeRecords;
  private readonly events: RunEvents;
  private readonly windows: WindowRuns;
  private readonly views: RunViews;
  private readonly known: RunsKnown;

  constructor(private readonly o: TrainServiceOptions) {
    this.dir = path.join(o.dataDir, 'training');
    this.discarded = new Set(this.readDiscarded());
    this.changes = new WeightChangeRecords(this.dir, () => this.o.store(), (m) => this.o.log?.(m));
    this.events = new RunEvents(o, this.changes);
    const tasks = () => this.trainTasks();
    this.known = { tasks, window: (run) => this.windows.get(run), windowState: (w) => this.windows.state(w) };
    this.windows = new WindowRuns({ o, dir: this.dir, events: this.events, changes: this.changes, tasks, checkNewRun: (recipe, run) => checkNewRun(this.known, () => this.o.store(), recipe, run) });
    this.views = new RunViews({ events: this.events, windows: this.windows, tasks, taskOf: (run) => this.taskOf(run), finetunes: new FinetuneRunDetails() });
  }

  // ------------------------------------------------------------------ the tasks

  /** What a task module of the training engine is given: the store, the GPU, and where its events and messages go. */
  private engineDeps(what: string) {
    return {
      store: () => this.o.store(),
      openContext: this.o.openContext ?? (async () => (await import('../engine/index')).openNodeContext()),
      onEvent: (taskId: number, e: TrainEvent) => this.onTrainEvent(taskId, e),
      onMessage: (taskId: number, m: string) => this.o.log?.(`${what} task #${taskId}: ${m}`),
    };
  }

  /** The training task handler of electron/train/task.ts, loaded on first use. */
  private loadInner(): Promise<TaskHandler> {
    this.innerLoading ??= import('../train/task')
      .then((m) => (this.inner = m.trainTaskHandler(this.engineDeps('training'))))
      .catch((e: unknown) => {
        this.innerLoading = null;
        throw new TrainServiceError('TRAIN_UNAVAILABLE', `training is not available in this process: ${(e as Error).message}`);
      });
    return this.innerLoading;
  }

  /** The fine-tuning task handler of electron/train/finetune-task.ts, loaded on first use. */
  private loadFinetune(): Promise<TaskHandler> {
    this.finetuneLoading ??= import('../train/finetune-task')
      .then((m) => (this.finetuneInner = m.finetuneTaskHandler(this.engineDeps('fine-tuning'))))
      .catch((e: unknown) => {
        this.finetuneLoading = null;
        throw new TrainServiceError('TRAIN_UNAVAILABLE', `fine-tuning is not available in this process: ${(e as Error).message}`);
      });
    return this.finetuneLoading;
  }

  /** Builds the map pyramid of a model a run imported (its weights' heat on the map), as an import task would. */
  private async buildPyramidOf(model: string, taskId: number, signal: AbortSignal): Promise<void> {
    try {
      const store = await this.o.store();
      await store.buildPyramid(model, { signal });
    } catch (e) {
      this.o.log?.(`task #${taskId}: the map pyramid of ${model} was not built: ${(e as Error).message}`);
    }
  }

  /** Refuses to run a task whose run was cancelled (a task cut off by a restart must not come back). */
  private refuseDiscarded(taskId: number): void {
    if (this.discarded.has(taskId)) throw new TrainServiceError('TRAIN_DISCARDED', `task #${taskId} belongs to a run that was cancelled; it does not run again`);
  }

  /** The queue's `model.train` handler: electron/train/task.ts's, with its events forwarded and kept. */
  taskHandler(): TaskHandler {
    return {
      kind: TRAIN_TASK,
      unit: 'steps',
      validate: (params) => {
        // train:start loads the module before it enqueues; nothing else enqueues here.
        if (!this.inner) throw new TrainServiceError('TRAIN_UNAVAILABLE', 'training is not loaded yet: start the run with train:start');
        return this.inner.validate(params);
      },
      run: async (raw, ctx) => {
        this.refuseDiscarded(ctx.taskId);
        const inner = await this.loadInner();
        const params = raw as TrainTaskParams;
        this.runOfTask.set(ctx.taskId, params.run);
        const result = (await inner.run(raw, ctx)) as TrainTaskResult;
        // The explorer reads the change records once the model is there: let them land first.
        await this.changes.settled(params.run);
        if (result.model) await this.buildPyramidOf(result.model, ctx.taskId, ctx.signal);
        await this.events.record(`task:${ctx.taskId}`, 'training', 'Dawn in the services', result.model ?? null);
        return result;
      },
    };
  }

  /** The queue's `model.finetune` handler: electron/train/finetune-task.ts's, with its events forwarded and kept as a training's are. */
  finetuneTaskHandler(): TaskHandler {
    return {
      kind: FINETUNE_TASK,
      unit: 'steps',
      validate: (params) => {
        // train:finetune loads the module before it enqueues.
        if (!this.finetuneInner) throw new TrainServiceError('TRAIN_UNAVAILABLE', 'fine-tuning is not loaded yet: start the run with train:finetune');
        return this.finetuneInner.validate(params);
      },
      run: async (raw, ctx) => {
        this.refuseDiscarded(ctx.taskId);
        const inner = await this.loadFinetune();
        this.runOfTask.set(ctx.taskId, (raw as FinetuneTaskParams).recipe.name);
        const result = (await inner.run(raw, ctx)) as FinetuneTaskResult;
        // Full fine-tuning imported a model: its weights' heat on the map, as for a trained model.
        if (result.model) await this.buildPyramidOf(result.model, ctx.taskId, ctx.signal);
        await this.events.record(`task:${ctx.taskId}`, 'fine-tuning', 'Dawn in the services', result.model ?? null);
        return result;
      },
    };
  }

  private runName(taskId: number): string | null {
    let run = this.runOfTask.get(taskId);
    if (run === undefined) {
      try {
        const p = runParamsOf(this.o.queue().get(taskId));
        if (!p) return null;
        run = p.run;
        this.runOfTask.set(taskId, run);
      } catch {
        return null;
      }
    }
    return run;
  }

  private onTrainEvent(taskId: number, e: TrainEvent): void {
    const run = this.runName(taskId);
    if (run === null) return;
    const task = this.o.queue().get(taskId);
    this.events.take(
      {
        key: `task:${taskId}`,
        taskId,
        where: 'background',
        run,
        // A fine-tune's checkpoints hold adapters (or a base's weights), not a recipe's model: no weight-change record.
        recipe: task.kind === TRAIN_TASK ? () => parseRecipe((this.o.queue().get(taskId).params as TrainTaskParams).recipe) : null,
        discarded: () => this.discarded.has(taskId),
      },
      e,
    );
  }

  // ------------------------------------------------------------------ runs

  private readDiscarded(): number[] {
    try {
      const v = JSON.parse(fs.readFileSync(path.join(this.dir, 'discarded.json'), 'utf8')) as { tasks?: unknown };
      return Array.isArray(v.tasks) ? v.tasks.filter((x): x is number => Number.isInteger(x)) : [];
    } catch {
      return [];
    }
  }

  private async discard(taskIds: number[]): Promise<void> {
    for (const id of taskIds) this.discarded.add(id);
    fs.mkdirSync(this.dir, { recursive: true });
    await writeFileDurable(path.join(this.dir, 'discarded.json'), new TextEncoder().encode(JSON.stringify({ tasks: [...this.discarded].sort((a, b) => a - b) })));
  }

  /** The latest task of each run, `model.train` or `model.finetune` (cancelled runs left out). */
  private trainTasks(): Map<string, RunTask> {
    const byRun = new Map<string, RunTask>();
    for (const t of this.o.queue().list(1000)) {
      if (this.discarded.has(t.id)) continue;
      const p = runParamsOf(t);
      if (!p) continue;
      const had = byRun.get(p.run);
      if (!had || had.task.id < t.id) byRun.set(p.run, { task: t, params: p });
    }
    return byRun;
  }

  private taskOf(run: string): RunTask {
    const t = this.trainTasks().get(run);
    if (!t) throw new TrainServiceError('TRAIN_RUN_NOT_FOUND', `no training run named ${run}`, { run });
    return t;
  }

  /** Resolves once the task is no longer queued or running. */
  private whenStopped(id: number): Promise<TaskRecord> {
    const q = this.o.queue();
    return new Promise((resolve) => {
      const off = q.onChange((t) => {
        if (t.id === id && isFinished(t)) {
          off();
          resolve(t);
        }
      });
      const now = q.get(id);
      if (isFinished(now)) {
        off();
        resolve(now);
      }
    });
  }

  // ------------------------------------------------------------------ channels

  handlers(): TrainHandlers {
    return {
      ...this.windows.handlers(),

      'train:start': async ({ recipe: raw, run: runName }) => {
        const recipe = parseRecipe(raw, 'recipe');
        const run = runName ?? recipe.name;
        await checkNewRun(this.known, () => this.o.store(), recipe, run);
        await this.loadInner();
        const params: TrainTaskParams = { recipe, recipeDir: this.o.dataDir, run, import: true };
        const task = this.o.queue().enqueue(TRAIN_TASK, params);
        return { taskId: task.id, run };
      },

      'train:finetune': async (req) => {
        const store = await this.o.store();
        const recipe = finetuneRecipeOf(store, req);
        checkNewFinetune(this.known, store, recipe);
        await this.loadFinetune();
        const params: FinetuneTaskParams = { recipe };
        const task = this.o.queue().enqueue(FINETUNE_TASK, params);
        return { taskId: task.id, run: recipe.name };
      },

      'train:finetune-estimate': async ({ model }) => {
        const store = await this.o.store();
        return finetuneEstimate(store, model, await this.views.allRuns(store));
      },

      'train:runs': async () => ({ runs: (await this.views.allRuns(await this.o.store())).slice(0, TRAIN_LIMITS.runs) }),

      'train:history': async ({ run, maxPoints }) => this.views.history(await this.o.store(), run, maxPoints),

      'train:pause': async ({ run }) => {
        const w = this.windows.get(run);
        if (w) {
          const state = this.windows.state(w);
          if (state !== 'running') throw new TrainServiceError('TRAIN_NOT_RUNNING', `run ${run} is ${state}: only a running run can be paused`, { run });
          // The window hears it in the answer to its next event or ping, checkpoints, and says it paused.
          this.windows.requestStop(run, 'pause');
          await this.windows.whenStopped(run);
          return this.views.currentInfo(await this.o.store(), run);
        }
        const { task } = this.taskOf(run);
        if (task.state !== 'running' && task.state !== 'queued') {
          throw new TrainServiceError('TRAIN_NOT_RUNNING', `run ${run} is ${task.state === 'cancelled' ? 'paused' : task.state}: only a queued or running run can be paused`, { run });
        }
        this.o.queue().cancel(task.id);
        // The session writes a checkpoint of the step it reached, then the task ends.
        await this.whenStopped(task.id);
        const store = await this.o.store();
        const now = this.taskOf(run);
        return this.views.runInfo(store, now.task, now.params);
      },

      'train:resume': async ({ run }) => {
        const w = this.windows.get(run);
        if (w) {
          // A window run continues in the background: the same checkpoint, read by the queue's task.
          const state = this.windows.state(w);
          if (state !== 'paused' && state !== 'failed') throw new TrainServiceError('TRAIN_NOT_PAUSED', `run ${run} is ${state}: only a paused or failed run can be resumed`, { run });
          await this.loadInner();
          const t = this.trainTasks().get(run);
          await this.windows.remove(run);
          const store = await this.o.store();
          if (t && (t.task.state === 'cancelled' || t.task.state === 'failed')) return this.views.runInfo(store, this.o.queue().retry(t.task.id), t.params);
          const params: TrainTaskParams = { recipe: w.recipe, recipeDir: this.o.dataDir, run, import: true };
          const task = this.o.queue().enqueue(TRAIN_TASK, params);
          return this.views.runInfo(store, task, { kind: 'train', run, recipe: w.recipe });
        }
        const { task, params } = this.taskOf(run);
        if (task.state !== 'cancelled' && task.state !== 'failed') {
          throw new TrainServiceError('TRAIN_NOT_PAUSED', `run ${run} is ${task.state}: only a paused or failed run can be resumed`, { run });
        }
        const next = this.o.queue().retry(task.id);
        return this.views.runInfo(await this.o.store(), next, params);
      },

      'train:cancel': async ({ run }) => {
        const store = await this.o.store();
        const t = this.trainTasks().get(run);
        const w = this.windows.get(run);
        const ids = this.o
          .queue()
          .list(1000)
          .filter((x) => runParamsOf(x)?.run === run)
          .map((x) => x.id);
        if (!t && !w && checkpointSteps(store.volume, run).length === 0) throw new TrainServiceError('TRAIN_RUN_NOT_FOUND', `no training run named ${run}`, { run });
        if (w) {
          // The window stops at its next event or ping (no checkpoint), then the record goes.
          if (this.windows.hasSession(run) && this.windows.state(w) === 'running') {
            this.windows.requestStop(run, 'cancel');
            await this.windows.whenStopped(run, 60_000);
          }
          await this.windows.remove(run);
          this.events.delete(`window:${run}`);
        }
        // Marked first: were the services to stop before the task does, it would not come back.
        await this.discard(ids);
        if (t && (t.task.state === 'running' || t.task.state === 'queued')) {
          this.o.queue().cancel(t.task.id);
          await this.whenStopped(t.task.id);
        }
        await this.changes.settled(run);
        const removed = checkpointSteps(store.volume, run).length;
        await removeRun(store.volume, run);
        this.changes.forget(run);
        this.views.forget(run);
        for (const id of ids) this.events.delete(`task:${id}`);
        return { run, checkpointsRemoved: removed };
      },

      'train:weight-change': async ({ run, step }) => {
        const store = await this.o.store();
        const t = this.trainTasks().get(run);
        const checkpoints = checkpointSteps(store.volume, run);
        const w = this.windows.get(run);
        const stored: Recipe | FinetuneRecipe | undefined = w?.recipe ?? t?.params.recipe ?? (checkpoints.length ? (await this.views.checkpointState(store.volume, run, checkpoints[checkpoints.length - 1]!))?.recipe : undefined);
        if (!stored) throw new TrainServiceError('TRAIN_RUN_NOT_FOUND', `no training run named ${run}`, { run });
        if ('kind' in stored && stored.kind === 'finetune') {
          throw new TrainServiceError('TRAIN_NO_CHANGE', `run ${run} is a fine-tune of ${stored.base.model}: the weight-change layer shows runs that trained a model from scratch`, { run });
        }
        const shown = await this.changes.show(store, run, stored as Recipe, checkpoints, step);
        const resultModel = w ? w.modelId : (t?.task.result as Partial<TrainTaskResult> | null)?.model;
        const modelId = typeof resultModel === 'string' && store.list().some((m) => m.id === resultModel) ? resultModel : null;
        return { run, modelId, ...shown };
      },
    };
  }
}
