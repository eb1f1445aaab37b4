/**
 * Training from the workstation (shared/ipc/channels/train.ts; specs/training.md, "The Training
 * view"): the `model.train` task of electron/train/task.ts in the services' queue, on Dawn in the
 * services' process, with its events pushed to the renderer as `train:event`, and the channels
 * that start, list, follow, pause, resume and cancel runs.
 *
 * A run's figures come from two places: its latest checkpoint's state.json (what survives a
 * restart or a reload) and, while its task runs in this process, the events since the session
 * started (the steps after that checkpoint). Pause is the queue's cancel (the session writes a
 * checkpoint, the task ends `cancelled`), resume its retry (the session resumes from that
 * checkpoint); cancel stops the task, then removes the run's checkpoints.
 *
 * Weight change (the explorer's heat layer): for checkpoint s of a run and the checkpoint before
 * it (or the initial weights, regenerated from the recipe's seed), the RMS of the difference per
 * tensor and per tile of that tensor's stored bytes. Checkpoints are pruned (the lead's
 * checkpoint.ts keeps two), so each checkpoint's change is computed when its `checkpoint` event
 * arrives, while the one before it still exists, and kept in `<dataDir>/training/RUN.weight-change.json`;
 * checkpoints still in the volume can always be compared on request.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PxiError } from '../../shared/errors';
import type { Handlers } from '../../shared/ipc/dispatch';
import type { EventPayload } from '../../shared/ipc/contract';
import { RunName, TRAIN_LIMITS, type TrainEventInfo, type TrainRun, type WeightChangeInfo, type trainChannels } from '../../shared/ipc/channels/train';
import type { GpuContext } from '../../shared/gpu';
import { parameterCount } from '../../shared/train/config';
import { paramLayout } from '../../shared/train/gpu-trainer';
import { initParams } from '../../shared/train/init';
import { modelConfigOf, parseRecipe, RecipeSchema, type Recipe } from '../../shared/train/recipe';
import { writeFileDurable } from '../pixelfs/file-ops';
import type { Volume } from '../pixelfs/index';
import type { ModelStore } from '../models/store';
import type { TaskHandler, TaskQueue, TaskRecord } from '../tasks/queue';
import { checkpointSteps, readCheckpoint, removeRun, type CheckpointState, type HistoryPoint } from '../train/checkpoint';
import type { TrainEvent } from '../train/session';
// Types only: the training engine (electron/train/task.ts and what it imports: the GPU trainer,
// the data loader, Dawn) is loaded on first use, so the services start, and every other
// channel works, even where it cannot load.
import type { TrainTaskParams, TrainTaskResult } from '../train/task';

/** The queue's task kind (electron/train/task.ts `TRAIN_TASK`). */
export const TRAIN_TASK = 'model.train';

/** What the services read of a `model.train` task's params (the task module checks them all). */
const StoredParams = z.looseObject({ run: RunName, recipe: RecipeSchema });
type RunParams = z.infer<typeof StoredParams>;

export type TrainChannel = keyof typeof trainChannels;
export type TrainHandlers = Pick<Handlers, TrainChannel>;

export type TrainServiceErrorCode =
  | 'TRAIN_RUN_EXISTS' // a run (or a model) of that name is already there
  | 'TRAIN_RUN_NOT_FOUND' // no task and no checkpoint under that run name
  | 'TRAIN_NOT_RUNNING' // pause of a run that is not queued or running
  | 'TRAIN_NOT_PAUSED' // resume of a run that is not paused or failed
  | 'TRAIN_BAD_PATH' // a training text path that is relative, missing or not a file
  | 'TRAIN_NO_CHANGE' // no weight change to show (no checkpoint yet, or not that step)
  | 'TRAIN_DISCARDED' // a task whose run was cancelled came back after a restart
  | 'TRAIN_UNAVAILABLE'; // the training engine could not be loaded in this process

export class TrainServiceError extends PxiError {
  constructor(code: TrainServiceErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

export interface TrainServiceOptions {
  dataDir: string;
  store: () => Promise<ModelStore>;
  queue: () => TaskQueue;
  /** Pushes `train:event` to the renderers. */
  emit: (payload: EventPayload<'train:event'>) => void;
  /** The GPU the sessions train on (default: Dawn in this process, `openNodeContext`). */
  openContext?: () => Promise<GpuContext>;
  log?: (message: string) => void;
}

/** What this process saw of a task's session since it (re)started. */
interface LiveRun {
  run: string;
  startStep: number;
  points: HistoryPoint[];
  valid: { step: number; loss: number }[];
  samples: { step: number; text: string }[];
  last: Extract<TrainEvent, { kind: 'step' }> | null;
  /** The checkpoint the next one is compared with (0: the initial weights). */
  lastCheckpoint: number;
}

interface StoredChange {
  step: number;
  base: number;
  tileValues: number;
  tensors: WeightChangeInfo['tensors'];
}

interface ChangeFile {
  version: 1;
  run: string;
  /** The task whose checkpoints these are (a new run under the same name starts a new file). */
  changes: StoredChange[];
}

const stepDir = (run: string, step: number) => `train/${run}/step-${String(step).padStart(9, '0')}/`;

function isFinished(t: TaskRecord): boolean {
  return t.state === 'succeeded' || t.state === 'failed' || t.state === 'cancelled';
}

/** Looks like a file path rather than a corpus name. */
function looksLikePath(s: string): boolean {
  return /[\\/]/.test(s) || /\.[A-Za-z0-9]{1,5}$/.test(s);
}

/**
 * The RMS of `cur − base` per tensor and per tile of each tensor (`tileValues` values a tile,
 * in the tensor's row-major order, as PixelFS stores an F32 tensor's bytes): `cur` is a flat
 * checkpoint buffer in paramLayout order, `base` another or the initial weights by name.
 */
export function weightChange(recipe: Recipe, cur: Float32Array, base: Float32Array | ReadonlyMap<string, Float32Array>, tileValues: number): WeightChangeInfo['tensors'] {
  const layout = paramLayout(modelConfigOf(recipe));
  const out: WeightChangeInfo['tensors'] = [];
  for (const slot of layout.order) {
    const n = slot.spec.size;
    const from = base instanceof Float32Array ? base.subarray(slot.offset, slot.offset + n) : base.get(slot.spec.name);
    if (!from || from.length !== n) throw new TrainServiceError('TRAIN_NO_CHANGE', `weight change: no base values for ${slot.spec.name}`);
    const tiles = Math.ceil(n / tileValues);
    const sums = new Float64Array(tiles);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = cur[slot.offset + i]! - from[i]!;
      sums[Math.floor(i / tileValues)]! += d * d;
    }
    const perTile: number[] = [];
    for (let t = 0; t < tiles; t++) {
      total += sums[t]!;
      const count = Math.min(tileValues, n - t * tileValues);
      perTile.push(Math.sqrt(sums[t]! / count));
    }
    out.push({ name: slot.spec.name, values: n, rms: Math.sqrt(total / n), tiles: perTile });
  }
  return out;
}

/** Means of consecutive buckets of `bucket` points (the bucket's step is its last one). */
export function bucketHistory(points: readonly HistoryPoint[], maxPoints: number): { points: HistoryPoint[]; bucket: number } {
  const bucket = Math.max(1, Math.ceil(points.length / maxPoints));
  if (bucket === 1) return { points: points.map((p) => ({ ...p })), bucket };
  const out: HistoryPoint[] = [];
  for (let i = 0; i < points.length; i += bucket) {
    const part = points.slice(i, i + bucket);
    const mean = (k: keyof HistoryPoint) => part.reduce((s, p) => s + p[k], 0) / part.length;
    out.push({ step: part[part.length - 1]!.step, loss: mean('loss'), lr: mean('lr'), gradNorm: mean('gradNorm'), tokensPerSec: mean('tokensPerSec') });
  }
  return { points: out, bucket };
}

const finite = (...v: number[]) => v.every((x) => Number.isFinite(x));

export class TrainService {
  private readonly live = new Map<number, LiveRun>();
  private readonly runOfTask = new Map<number, string>();
  private readonly stateCache = new Map<string, CheckpointState>();
  private readonly changeCache = new Map<string, StoredChange>();
  /** Per run: the weight-change records being written, in checkpoint order. */
  private readonly recording = new Map<string, Promise<void>>();
  /** Per run: the last checkpoint's weights, so the next one is compared without a read. */
  private readonly lastParams = new Map<string, { step: number; params: Float32Array }>();
  private readonly dir: string;
  private discarded: Set<number>;
  private inner: TaskHandler | null = null;
  private innerLoading: Promise<TaskHandler> | null = null;

  constructor(private readonly o: TrainServiceOptions) {
    this.dir = path.join(o.dataDir, 'training');
    this.discarded = new Set(this.readDiscarded());
  }

  // ------------------------------------------------------------------ the task

  /** The training task handler of electron/train/task.ts, loaded on first use. */
  private loadInner(): Promise<TaskHandler> {
    this.innerLoading ??= import('../train/task')
      .then((m) =>
        (this.inner = m.trainTaskHandler({
          store: () => this.o.store(),
          openContext: this.o.openContext ?? (async () => (await import('../engine/index')).openNodeContext()),
          onEvent: (taskId, e) => this.onTrainEvent(taskId, e),
          onMessage: (taskId, m) => this.o.log?.(`training task #${taskId}: ${m}`),
        })),
      )
      .catch((e: unknown) => {
        this.innerLoading = null;
        throw new TrainServiceError('TRAIN_UNAVAILABLE', `training is not available in this process: ${(e as Error).message}`);
      });
    return this.innerLoading;
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
        if (this.discarded.has(ctx.taskId)) {
          throw new TrainServiceError('TRAIN_DISCARDED', `training task #${ctx.taskId} belongs to a run that was cancelled; it does not run again`);
        }
        const inner = await this.loadInner();
        const params = raw as TrainTaskParams;
        this.runOfTask.set(ctx.taskId, params.run);
        const result = (await inner.run(raw, ctx)) as TrainTaskResult;
        // The explorer reads the change records once the model is there: let them land first.
        await this.recording.get(params.run)?.catch(() => undefined);
        if (result.model) {
          // The map's heat of the new model's weights, as an import task would build it.
          try {
            const store = await this.o.store();
            await store.buildPyramid(result.model, { signal: ctx.signal });
          } catch (e) {
            this.o.log?.(`training task #${ctx.taskId}: the map pyramid of ${result.model} was not built: ${(e as Error).message}`);
          }
        }
        return result;
      },
    };
  }

  private runName(taskId: number): string | null {
    let run = this.runOfTask.get(taskId);
    if (run === undefined) {
      try {
        const p = StoredParams.safeParse(this.o.queue().get(taskId).params);
        if (!p.success) return null;
        run = p.data.run;
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
    let live = this.live.get(taskId);
    if (e.kind === 'start' || !live) {
      // A session starts (or resumes) here; an event without its start (not expected) counts from itself.
      live = { run, startStep: e.step, points: [], valid: [], samples: [], last: null, lastCheckpoint: e.kind === 'start' ? (e.resumedFrom ?? 0) : e.step };
      this.live.set(taskId, live);
    }
    let event: TrainEventInfo = e;
    switch (e.kind) {
      case 'step':
        if (!finite(e.loss, e.lr, e.gradNorm, e.tokensPerSec)) return;
        live.last = e;
        live.points.push({ step: e.step, loss: e.loss, lr: e.lr, gradNorm: e.gradNorm, tokensPerSec: e.tokensPerSec });
        if (!Number.isFinite(e.etaSec)) event = { ...e, etaSec: 0 };
        break;
      case 'valid':
        if (!finite(e.loss)) return;
        live.valid.push({ step: e.step, loss: e.loss });
        break;
      case 'sample': {
        const text = e.text.slice(0, TRAIN_LIMITS.sampleChars);
        live.samples.push({ step: e.step, text });
        event = { ...e, text };
        break;
      }
      case 'checkpoint': {
        const base = live.lastCheckpoint;
        live.lastCheckpoint = e.step;
        if (e.step > base) this.recordChange(taskId, run, e.step, base);
        break;
      }
      default:
        break;
    }
    try {
      this.o.emit({ taskId, run, event });
    } catch (err) {
      // An event the contract refuses must never stop the training.
      this.o.log?.(`train:event of task #${taskId} not sent: ${(err as Error).message}`);
    }
  }

  // ------------------------------------------------------------------ weight change records

  private changeFile(run: string): string {
    return path.join(this.dir, `${run}.weight-change.json`);
  }

  private readChanges(run: string): StoredChange[] {
    try {
      const f = JSON.parse(fs.readFileSync(this.changeFile(run), 'utf8')) as ChangeFile;
      return f.version === 1 && Array.isArray(f.changes) ? f.changes : [];
    } catch {
      return [];
    }
  }

  private recordChange(taskId: number, run: string, step: number, base: number): void {
    const prev = this.recording.get(run) ?? Promise.resolve();
    const next = prev
      .catch(() => undefined)
      .then(async () => {
        const store = await this.o.store();
        const recipe = parseRecipe((this.o.queue().get(taskId).params as TrainTaskParams).recipe);
        const cur = (await readCheckpoint(store.volume, run, step)).params;
        const held = this.lastParams.get(run);
        const from = held?.step === base ? held.params : base === 0 ? initParams(modelConfigOf(recipe), recipe.train.seed) : (await readCheckpoint(store.volume, run, base)).params;
        this.lastParams.set(run, { step, params: cur });
        const tileValues = store.volume.settings.tileWidth * store.volume.settings.tileHeight;
        const change: StoredChange = { step, base, tileValues, tensors: weightChange(recipe, cur, from, tileValues) };
        if (this.discarded.has(taskId)) return;
        const changes = this.readChanges(run).filter((c) => c.step !== step);
        changes.push(change);
        changes.sort((a, b) => a.step - b.step);
        fs.mkdirSync(this.dir, { recursive: true });
        const file: ChangeFile = { version: 1, run, changes: changes.slice(-TRAIN_LIMITS.changes) };
        await writeFileDurable(this.changeFile(run), new TextEncoder().encode(JSON.stringify(file)));
      })
      .catch((e: unknown) => {
        // The checkpoint may be gone already (pruned, or the run cancelled): it can still be
        // compared on request while it exists.
        this.o.log?.(`weight change of ${run} at step ${step} not recorded: ${(e as Error).message}`);
      });
    this.recording.set(run, next);
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

  /** The latest `model.train` task of each run (cancelled runs left out), newest first. */
  private trainTasks(): Map<string, { task: TaskRecord; params: RunParams }> {
    const byRun = new Map<string, { task: TaskRecord; params: RunParams }>();
    for (const t of this.o.queue().list(1000)) {
      if (t.kind !== TRAIN_TASK || this.discarded.has(t.id)) continue;
      const p = StoredParams.safeParse(t.params);
      if (!p.success) continue;
      const had = byRun.get(p.data.run);
      if (!had || had.task.id < t.id) byRun.set(p.data.run, { task: t, params: p.data });
    }
    return byRun;
  }

  private taskOf(run: string): { task: TaskRecord; params: RunParams } {
    const t = this.trainTasks().get(run);
    if (!t) throw new TrainServiceError('TRAIN_RUN_NOT_FOUND', `no training run named ${run}`, { run });
    return t;
  }

  /** A checkpoint's state.json only (not its weights), cached: checkpoints never change. */
  private async checkpointState(volume: Volume, run: string, step: number): Promise<CheckpointState | null> {
    const key = `${run}@${step}`;
    const hit = this.stateCache.get(key);
    if (hit) return hit;
    const name = `${stepDir(run, step)}state.json`;
    const info = volume.stat(name);
    if (!info) return null;
    try {
      const buf = await volume.read(name, 0, info.size);
      const state = JSON.parse(buf.toString('utf8')) as CheckpointState;
      if (this.stateCache.size > 64) this.stateCache.clear();
      this.stateCache.set(key, state);
      return state;
    } catch {
      return null;
    }
  }

  private liveOf(taskId: number): LiveRun | undefined {
    return this.live.get(taskId);
  }

  private async runInfo(store: ModelStore, task: TaskRecord, params: RunParams): Promise<TrainRun> {
    const run = params.run;
    const recipe = params.recipe;
    const checkpoints = checkpointSteps(store.volume, run);
    const last = checkpoints[checkpoints.length - 1];
    const state = last === undefined ? null : await this.checkpointState(store.volume, run, last);
    const live = this.liveOf(task.id);
    const lastPoint = state?.history[state.history.length - 1];
    const fromLive = live?.last && (!lastPoint || live.last.step >= lastPoint.step) ? live.last : null;
    const running = task.state === 'running';
    const latest = fromLive
      ? { loss: fromLive.loss, lr: fromLive.lr, gradNorm: fromLive.gradNorm, tokensPerSec: fromLive.tokensPerSec, etaSec: running && Number.isFinite(fromLive.etaSec) ? fromLive.etaSec : null }
      : lastPoint
        ? { loss: lastPoint.loss, lr: lastPoint.lr, gradNorm: lastPoint.gradNorm, tokensPerSec: lastPoint.tokensPerSec, etaSec: null }
        : null;
    const valid = [...(state?.valid ?? []), ...(live?.valid ?? [])].sort((a, b) => a.step - b.step);
    const resultModel = (task.result as Partial<TrainTaskResult> | null)?.model ?? null;
    const models = store.list();
    const modelId = typeof resultModel === 'string' && models.some((m) => m.id === resultModel) ? resultModel : null;
    return {
      run,
      taskId: task.id,
      state: task.state === 'cancelled' ? 'paused' : task.state,
      recipe,
      parameters: parameterCount(modelConfigOf(recipe)),
      step: Math.max(fromLive?.step ?? 0, state?.step ?? 0),
      steps: recipe.train.steps,
      latest,
      validLoss: valid.length ? valid[valid.length - 1]!.loss : null,
      checkpoints: checkpoints.slice(-TRAIN_LIMITS.checkpoints),
      modelId,
      error: task.state === 'failed' && task.error ? { code: task.error.code, message: task.error.message } : null,
      createdAt: task.createdAt,
      updatedAt: task.updatedAt,
    };
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

  private checkDataPath(p: string, what: string): void {
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

  // ------------------------------------------------------------------ channels

  handlers(): TrainHandlers {
    return {
      'train:start': async ({ recipe: raw, run: runName }) => {
        const recipe = parseRecipe(raw, 'recipe');
        const run = runName ?? recipe.name;
        for (const p of recipe.data.train) this.checkDataPath(p, 'training text');
        for (const p of recipe.data.valid) this.checkDataPath(p, 'validation text');
        const store = await this.o.store();
        const existing = this.trainTasks().get(run);
        if (existing || checkpointSteps(store.volume, run).length > 0) {
          const state = existing ? (existing.task.state === 'cancelled' ? 'paused' : existing.task.state) : 'stopped, with checkpoints';
          throw new TrainServiceError('TRAIN_RUN_EXISTS', `a run named ${run} already exists (${state}): resume or cancel it, or choose another name`, { run });
        }
        if (store.list().some((m) => m.name === recipe.name)) {
          throw new TrainServiceError('TRAIN_RUN_EXISTS', `a model named ${recipe.name} is already in the store: the trained model would replace it; choose another name`, { model: recipe.name });
        }
        await this.loadInner();
        const params: TrainTaskParams = { recipe, recipeDir: this.o.dataDir, run, import: true };
        const task = this.o.queue().enqueue(TRAIN_TASK, params);
        return { taskId: task.id, run };
      },

      'train:runs': async () => {
        const store = await this.o.store();
        const runs: TrainRun[] = [];
        for (const { task, params } of this.trainTasks().values()) runs.push(await this.runInfo(store, task, params));
        runs.sort((a, b) => b.taskId - a.taskId);
        return { runs: runs.slice(0, TRAIN_LIMITS.runs) };
      },

      'train:history': async ({ run, maxPoints }) => {
        const store = await this.o.store();
        const t = this.trainTasks().get(run);
        const checkpoints = checkpointSteps(store.volume, run);
        if (!t && checkpoints.length === 0) throw new TrainServiceError('TRAIN_RUN_NOT_FOUND', `no training run named ${run}`, { run });
        const last = checkpoints[checkpoints.length - 1];
        const state = last === undefined ? null : await this.checkpointState(store.volume, run, last);
        const live = t ? this.liveOf(t.task.id) : undefined;
        const byStep = <T extends { step: number }>(a: readonly T[], b: readonly T[]) => {
          const m = new Map<number, T>();
          for (const x of a) m.set(x.step, x);
          for (const x of b) m.set(x.step, x);
          return [...m.values()].sort((x, y) => x.step - y.step);
        };
        const history = byStep(state?.history ?? [], live?.points ?? []);
        const { points, bucket } = bucketHistory(history, maxPoints ?? 2000);
        const steps = t?.params.recipe.train.steps ?? state?.recipe.train.steps ?? 0;
        return {
          run,
          steps,
          history: points,
          bucket,
          valid: byStep(state?.valid ?? [], live?.valid ?? []).slice(-TRAIN_LIMITS.validPoints),
          samples: byStep(state?.samples ?? [], live?.samples ?? [])
            .slice(-TRAIN_LIMITS.samples)
            .map((s) => ({ step: s.step, text: s.text.slice(0, TRAIN_LIMITS.sampleChars) })),
          checkpoints: checkpoints.slice(-TRAIN_LIMITS.checkpoints),
          seconds: state?.seconds ?? 0,
        };
      },

      'train:pause': async ({ run }) => {
        const { task } = this.taskOf(run);
        if (task.state !== 'running' && task.state !== 'queued') {
          throw new TrainServiceError('TRAIN_NOT_RUNNING', `run ${run} is ${task.state === 'cancelled' ? 'paused' : task.state}: only a queued or running run can be paused`, { run });
        }
        this.o.queue().cancel(task.id);
        // The session writes a checkpoint of the step it reached, then the task ends.
        await this.whenStopped(task.id);
        const store = await this.o.store();
        const now = this.taskOf(run);
        return this.runInfo(store, now.task, now.params);
      },

      'train:resume': async ({ run }) => {
        const { task, params } = this.taskOf(run);
        if (task.state !== 'cancelled' && task.state !== 'failed') {
          throw new TrainServiceError('TRAIN_NOT_PAUSED', `run ${run} is ${task.state}: only a paused or failed run can be resumed`, { run });
        }
        const next = this.o.queue().retry(task.id);
        return this.runInfo(await this.o.store(), next, params);
      },

      'train:cancel': async ({ run }) => {
        const store = await this.o.store();
        const t = this.trainTasks().get(run);
        const ids = this.o
          .queue()
          .list(1000)
          .filter((x) => x.kind === TRAIN_TASK && (x.params as Partial<TrainTaskParams> | null)?.run === run)
          .map((x) => x.id);
        if (!t && checkpointSteps(store.volume, run).length === 0) throw new TrainServiceError('TRAIN_RUN_NOT_FOUND', `no training run named ${run}`, { run });
        // Marked first: were the services to stop before the task does, it would not come back.
        await this.discard(ids);
        if (t && (t.task.state === 'running' || t.task.state === 'queued')) {
          this.o.queue().cancel(t.task.id);
          await this.whenStopped(t.task.id);
        }
        await this.recording.get(run)?.catch(() => undefined);
        const removed = checkpointSteps(store.volume, run).length;
        await removeRun(store.volume, run);
        fs.rmSync(this.changeFile(run), { force: true });
        this.lastParams.delete(run);
        for (const k of [...this.changeCache.keys()]) if (k.startsWith(`${run}@`)) this.changeCache.delete(k);
        for (const k of [...this.stateCache.keys()]) if (k.startsWith(`${run}@`)) this.stateCache.delete(k);
        for (const id of ids) this.live.delete(id);
        return { run, checkpointsRemoved: removed };
      },

      'train:weight-change': async ({ run, step }) => {
        const store = await this.o.store();
        const t = this.trainTasks().get(run);
        const checkpoints = checkpointSteps(store.volume, run);
        const recorded = this.readChanges(run);
        const recipe: Recipe | undefined = t?.params.recipe ?? (checkpoints.length ? (await this.checkpointState(store.volume, run, checkpoints[checkpoints.length - 1]!))?.recipe : undefined);
        if (!recipe) throw new TrainServiceError('TRAIN_RUN_NOT_FOUND', `no training run named ${run}`, { run });
        // Every change this run can show: the recorded ones, and checkpoints still in the volume
        // against the one before them (or the initial weights when none is left before them).
        const refs = new Map<number, number>();
        checkpoints.forEach((s, i) => refs.set(s, i > 0 ? checkpoints[i - 1]! : 0));
        for (const c of recorded) refs.set(c.step, c.base);
        const changes = [...refs].map(([s, base]) => ({ step: s, base })).sort((a, b) => a.step - b.step);
        if (changes.length === 0) throw new TrainServiceError('TRAIN_NO_CHANGE', `run ${run} has no checkpoint yet: its weight change shows after the first one`, { run });
        const want = step ?? changes[changes.length - 1]!.step;
        const ref = changes.find((c) => c.step === want);
        if (!ref) throw new TrainServiceError('TRAIN_NO_CHANGE', `run ${run} has no checkpoint at step ${want}; it has ${changes.map((c) => c.step).join(', ')}`, { run, step: want });
        let change = recorded.find((c) => c.step === want && c.base === ref.base) ?? this.changeCache.get(`${run}@${want}-${ref.base}`);
        if (!change) {
          const tileValues = store.volume.settings.tileWidth * store.volume.settings.tileHeight;
          const cur = (await readCheckpoint(store.volume, run, want)).params;
          const from = ref.base === 0 ? initParams(modelConfigOf(recipe), recipe.train.seed) : (await readCheckpoint(store.volume, run, ref.base)).params;
          change = { step: want, base: ref.base, tileValues, tensors: weightChange(recipe, cur, from, tileValues) };
          if (this.changeCache.size > 16) this.changeCache.clear();
          this.changeCache.set(`${run}@${want}-${ref.base}`, change);
        }
        const resultModel = (t?.task.result as Partial<TrainTaskResult> | null)?.model;
        const modelId = typeof resultModel === 'string' && store.list().some((m) => m.id === resultModel) ? resultModel : null;
        return {
          run,
          modelId,
          step: change.step,
          base: change.base,
          tileValues: change.tileValues,
          changes: changes.slice(-TRAIN_LIMITS.changes),
          tensors: change.tensors,
        };
      },
    };
  }
}
