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
 * Fine-tunes (`model.finetune` tasks: electron/train/finetune-task.ts, started by `train:finetune`
 * or `pxi finetune`) are runs too: the same events, figures, pause, resume and cancel, their
 * checkpoints in the same `train/RUN/` namespace, so a run name is one run's whichever kind it
 * is; what is particular to them (the base, the adapter, the request's checks) is ./finetune-runs.ts.
 *
 * Weight change (the explorer's heat layer): for checkpoint s of a run and the checkpoint before
 * it (or the initial weights, regenerated from the recipe's seed), the RMS of the difference per
 * tensor and per tile of that tensor's stored bytes. Checkpoints are pruned (the lead's
 * checkpoint.ts keeps two), so each checkpoint's change is computed when its `checkpoint` event
 * arrives, while the one before it still exists, and kept in `<dataDir>/training/RUN.weight-change.json`;
 * checkpoints still in the volume can always be compared on request.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PxiError } from '../../shared/errors';
import { ownedBytes } from '../../shared/ipc/channels/common';
import { trainingSession } from '../../shared/sessions/training';
import type { NewSession } from '../../shared/sessions/record';
import type { Handlers } from '../../shared/ipc/dispatch';
import type { EventPayload } from '../../shared/ipc/contract';
import { CheckpointStateSchema, RunName, TRAIN_LIMITS, type TrainEventInfo, type TrainRun, type TrainWhereName, type WeightChangeInfo, type WindowSessionInfo, type trainChannels } from '../../shared/ipc/channels/train';
import type { FinetuneRecipe } from '../../shared/train/finetune-recipe';
import type { GpuContext } from '../../shared/gpu';
import { parameterCount } from '../../shared/train/config';
import { paramLayout } from '../../shared/train/gpu-trainer';
import { initParams } from '../../shared/train/init';
import { modelConfigOf, parseRecipe, RecipeSchema, type Recipe } from '../../shared/train/recipe';
import { writeFileDurable } from '../pixelfs/file-ops';
import type { Volume } from '../pixelfs/index';
import type { ModelStore } from '../models/store';
import type { TaskHandler, TaskQueue, TaskRecord } from '../tasks/queue';
import { checkpointSteps, latestCheckpoint, readCheckpoint, removeRun, writeCheckpoint, type CheckpointState, type HistoryPoint } from '../train/checkpoint';
import type { TrainEvent } from '../../shared/train/loop';
import { tokenStreamData, type LoopData } from '../../shared/train/loop';
import { seqLenOf } from '../../shared/train/recipe';
import { serializeTrainedTokenizer } from '../../shared/tokenizer-train';
import type { TrainData } from '../train/session';
import { listAdapters } from '../train/adapters';
import { FINETUNE_TASK, FinetuneRunDetails, finetuneEstimate, finetuneRecipeOf, StoredFinetuneParams } from './finetune-runs';
// Types only: the training engine (electron/train/task.ts and what it imports: the GPU trainer,
// the data loader, Dawn) is loaded on first use, so the services start, and every other
// channel works, even where it cannot load.
import type { TrainTaskParams, TrainTaskResult } from '../train/task';
import type { FinetuneTaskParams, FinetuneTaskResult } from '../train/finetune-task';

/** The queue's task kind (electron/train/task.ts `TRAIN_TASK`). */
export const TRAIN_TASK = 'model.train';

/** What the services read of a `model.train` task's params (the task module checks them all). */
const StoredParams = z.looseObject({ run: RunName, recipe: RecipeSchema });

/** A run's task settings, whichever kind: a training's recipe, or a fine-tune's (run = its name). */
type RunParams = { kind: 'train'; run: string; recipe: Recipe } | { kind: 'finetune'; run: string; recipe: FinetuneRecipe };

/** The run a task belongs to and its settings; null for a task of another kind or params that do not parse. */
function runParamsOf(t: Pick<TaskRecord, 'kind' | 'params'>): RunParams | null {
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

const StoredWindow = z.strictObject({
  run: RunName,
  recipe: RecipeSchema,
  state: z.enum(['running', 'paused', 'succeeded', 'failed']),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
  modelId: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});

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
  | 'TRAIN_UNAVAILABLE' // the training engine could not be loaded in this process (or a fine-tune asked to train in a window)
  | 'TRAIN_WINDOW_STALE' // a window run's call with a session that is no longer the run's
  | 'TRAIN_WINDOW_UPLOAD'; // a window run's checkpoint that is incomplete or does not fit its run

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
  /** Records a finished run as a self-improvement session (the Dashboard's list); best effort. */
  recordSession?: (s: NewSession) => Promise<unknown>;
}

/** What this process saw of a task's session since it (re)started. */
interface LiveRun {
  run: string;
  /** When this process saw the session start (ISO 8601). */
  startedAt: string;
  startStep: number;
  points: HistoryPoint[];
  valid: { step: number; loss: number }[];
  samples: { step: number; text: string }[];
  last: Extract<TrainEvent, { kind: 'step' }> | null;
  /** The checkpoint the next one is compared with (0: the initial weights). */
  lastCheckpoint: number;
}

/** A run training in a window, as the services keep it (`<dataDir>/training/window-runs.json`). */
interface WindowRecord {
  run: string;
  recipe: Recipe;
  /** `running` while a window trains it (shown paused once the window is silent for WINDOW_STALE_MS). */
  state: 'running' | 'paused' | 'succeeded' | 'failed';
  error: { code: string; message: string } | null;
  modelId: string | null;
  createdAt: number;
  updatedAt: number;
}

/** The live side of a window run's session (memory only: a restart of the services ends it). */
interface WindowSessionRt {
  session: string;
  data: TrainData;
  loop: LoopData;
  tokenizer: string;
  stop: 'pause' | 'cancel' | null;
  lastSeen: number;
  /** The checkpoint being received: its step and the files' bytes. */
  upload: { step: number; files: Map<string, { bytes: Uint8Array; received: number }> } | null;
  /** Writing the final model (after `done`). */
  finishing: Promise<void> | null;
  /** The checkpoint offered to the session (train:window-read). */
  resume: { step: number; files: Map<string, Uint8Array> } | null;
}

/** A window that sent nothing (events, pings) for this long is taken as closed: its run shows paused. */
export const WINDOW_STALE_MS = 20_000;

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
  /** Keyed `task:ID` (a background run's task) or `window:RUN`. */
  private readonly live = new Map<string, LiveRun>();
  private readonly windows = new Map<string, WindowRecord>();
  private readonly windowRt = new Map<string, WindowSessionRt>();
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
  private finetuneInner: TaskHandler | null = null;
  private finetuneLoading: Promise<TaskHandler> | null = null;
  private readonly finetunes = new FinetuneRunDetails();

  constructor(private readonly o: TrainServiceOptions) {
    this.dir = path.join(o.dataDir, 'training');
    this.discarded = new Set(this.readDiscarded());
    for (const w of this.readWindows()) this.windows.set(w.run, w);
  }

  // ------------------------------------------------------------------ the task

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
        await this.recording.get(params.run)?.catch(() => undefined);
        if (result.model) await this.buildPyramidOf(result.model, ctx.taskId, ctx.signal);
        await this.recordRun(`task:${ctx.taskId}`, 'training', 'Dawn in the services', result.model ?? null);
        return result;
      },
    };
  }

  /** A run that finished, as a session (what this process saw of it); a store that fails costs a log line. */
  private async recordRun(key: string, what: string, where: string, model: string | null): Promise<void> {
    const live = this.live.get(key);
    if (!live || !this.o.recordSession) return;
    const session = trainingSession({ run: live.run, what, where, points: live.points, valid: live.valid, startedAt: live.startedAt, finishedAt: new Date().toISOString(), model });
    await this.o.recordSession(session).catch((e: Error) => this.o.log?.(`run ${live.run} was not recorded as a session: ${e.message}`));
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
        await this.recordRun(`task:${ctx.taskId}`, 'fine-tuning', 'Dawn in the services', result.model ?? null);
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
    this.onRunEvent(
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

  /** One event of a run's session (a background task's or a window's): kept for the live figures, recorded, broadcast. */
  private onRunEvent(src: { key: string; taskId: number | null; where: TrainWhereName; run: string; recipe: (() => Recipe) | null; discarded: () => boolean }, e: TrainEvent): void {
    const { run, taskId } = src;
    let live = this.live.get(src.key);
    if (e.kind === 'start' || !live) {
      // A session starts (or resumes) here; an event without its start (not expected) counts from itself.
      live = { run, startedAt: new Date().toISOString(), startStep: e.step, points: [], valid: [], samples: [], last: null, lastCheckpoint: e.kind === 'start' ? (e.resumedFrom ?? 0) : e.step };
      this.live.set(src.key, live);
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
        if (e.step > base && src.recipe) this.recordChange(run, e.step, base, src.recipe, src.discarded);
        break;
      }
      default:
        break;
    }
    try {
      this.o.emit({ taskId, run, where: src.where, event });
    } catch (err) {
      // An event the contract refuses must never stop the training.
      this.o.log?.(`train:event of ${taskId === null ? `window run ${run}` : `task #${taskId}`} not sent: ${(err as Error).message}`);
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

  private recordChange(run: string, step: number, base: number, recipeOf: () => Recipe, discarded: () => boolean): void {
    const prev = this.recording.get(run) ?? Promise.resolve();
    const next = prev
      .catch(() => undefined)
      .then(async () => {
        const store = await this.o.store();
        const recipe = recipeOf();
        const cur = (await readCheckpoint(store.volume, run, step)).params;
        const held = this.lastParams.get(run);
        const from = held?.step === base ? held.params : base === 0 ? initParams(modelConfigOf(recipe), recipe.train.seed) : (await readCheckpoint(store.volume, run, base)).params;
        this.lastParams.set(run, { step, params: cur });
        const tileValues = store.volume.settings.tileWidth * store.volume.settings.tileHeight;
        const change: StoredChange = { step, base, tileValues, tensors: weightChange(recipe, cur, from, tileValues) };
        if (discarded()) return;
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

  // ------------------------------------------------------------------ window runs

  private windowsFile(): string {
    return path.join(this.dir, 'window-runs.json');
  }

  private readWindows(): WindowRecord[] {
    try {
      const v = JSON.parse(fs.readFileSync(this.windowsFile(), 'utf8')) as { runs?: unknown };
      const out: WindowRecord[] = [];
      for (const r of Array.isArray(v.runs) ? v.runs : []) {
        const p = StoredWindow.safeParse(r);
        if (p.success) out.push(p.data);
      }
      return out;
    } catch {
      return [];
    }
  }

  private saving: Promise<void> = Promise.resolve();

  /** Writes the window records (in order: each write holds every record as it is then). */
  private saveWindows(): Promise<void> {
    this.saving = this.saving
      .catch(() => undefined)
      .then(async () => {
        fs.mkdirSync(this.dir, { recursive: true });
        await writeFileDurable(this.windowsFile(), new TextEncoder().encode(JSON.stringify({ version: 1, runs: [...this.windows.values()] })));
      });
    return this.saving;
  }

  private async setWindow(w: WindowRecord, patch: Partial<WindowRecord>): Promise<void> {
    Object.assign(w, patch, { updatedAt: Date.now() });
    await this.saveWindows();
  }

  /** The live session of a window run, refusing a call from a session that is no longer the run's. */
  private windowSession(run: string, session: string): { w: WindowRecord; rt: WindowSessionRt } {
    const w = this.windows.get(run);
    const rt = this.windowRt.get(run);
    if (!w || !rt || rt.session !== session) {
      throw new TrainServiceError('TRAIN_WINDOW_STALE', `window run ${run}: this window's session is no longer the run's (it was paused, resumed elsewhere, cancelled, or the services restarted)`, { run });
    }
    rt.lastSeen = Date.now();
    return { w, rt };
  }

  /**
   * Opens a window session of `run`: the run's data prepared here (corpus, tokenizer, token
   * shards, as a background run's), the latest checkpoint offered for reading.
   */
  private async openWindow(run: string, recipe: Recipe, createdAt: number): Promise<WindowSessionInfo> {
    const store = await this.o.store();
    let data: TrainData;
    try {
      const { loadTrainData } = await import('../train/data');
      data = await loadTrainData(recipe, this.o.dataDir, store, (m) => this.o.log?.(`window run ${run}: ${m}`));
    } catch (e) {
      if (e instanceof PxiError) throw e;
      throw new TrainServiceError('TRAIN_UNAVAILABLE', `the data of window run ${run} could not be prepared: ${(e as Error).message}`);
    }
    const loop = tokenStreamData(recipe, data.train, data.valid);
    const ckpt = await latestCheckpoint(store.volume, run);
    if (ckpt && JSON.stringify(ckpt.state.recipe) !== JSON.stringify(recipe)) {
      throw new TrainServiceError('TRAIN_RUN_EXISTS', `run ${run} has checkpoints made with a different recipe (step ${ckpt.state.step})`, { run });
    }
    if (!data.trained) throw new TrainServiceError('TRAIN_UNAVAILABLE', `window run ${run}: the run's tokenizer is not available`);
    const tokenizer = serializeTrainedTokenizer(data.trained);
    const session = randomUUID();
    const prev = this.windowRt.get(run);
    if (prev) prev.stop = 'pause';
    const rt: WindowSessionRt = { session, data, loop, tokenizer, stop: null, lastSeen: Date.now(), upload: null, finishing: null, resume: null };
    let checkpoint: WindowSessionInfo['checkpoint'] = null;
    if (ckpt) {
      const optim = new Uint8Array(ckpt.m.byteLength + ckpt.v.byteLength);
      optim.set(new Uint8Array(ckpt.m.buffer, ckpt.m.byteOffset, ckpt.m.byteLength), 0);
      optim.set(new Uint8Array(ckpt.v.buffer, ckpt.v.byteOffset, ckpt.v.byteLength), ckpt.m.byteLength);
      const files = new Map<string, Uint8Array>([
        ['params', new Uint8Array(ckpt.params.buffer, ckpt.params.byteOffset, ckpt.params.byteLength)],
        ['optim', optim],
        ['state', new TextEncoder().encode(JSON.stringify(ckpt.state))],
      ]);
      rt.resume = { step: ckpt.state.step, files };
      checkpoint = { step: ckpt.state.step, params: files.get('params')!.length, optim: optim.length, state: files.get('state')!.length };
    }
    const w: WindowRecord = { run, recipe, state: 'running', error: null, modelId: null, createdAt, updatedAt: Date.now() };
    this.windows.set(run, w);
    this.windowRt.set(run, rt);
    await this.saveWindows();
    this.o.log?.(`window run ${run}: session opened${ckpt ? ` at the checkpoint of step ${ckpt.state.step}` : ''}`);
    return { run, session, recipe, tokenizer, validBatches: (await loop.validBatches()).length, checkpoint };
  }

  /** Resolves once a window run no longer shows running (its window said so, or went silent), or after `maxMs`. */
  private async whenWindowStopped(run: string, maxMs = 300_000): Promise<void> {
    const end = Date.now() + maxMs;
    for (;;) {
      const w = this.windows.get(run);
      if (!w || this.windowState(w) !== 'running' || Date.now() > end) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** After a window run's `done`: its model imported from the final checkpoint (as the background task does), the map pyramid built. */
  private async finishWindow(w: WindowRecord, rt: WindowSessionRt): Promise<void> {
    const run = w.run;
    try {
      const store = await this.o.store();
      const ckpt = await latestCheckpoint(store.volume, run);
      if (!ckpt || ckpt.state.step !== w.recipe.train.steps) throw new TrainServiceError('TRAIN_WINDOW_UPLOAD', `window run ${run} ended without the checkpoint of its last step`, { run });
      const layout = paramLayout(modelConfigOf(w.recipe));
      const params = new Map<string, Float32Array>();
      for (const slot of layout.order) params.set(slot.spec.name, ckpt.params.slice(slot.offset, slot.offset + slot.spec.size));
      const { modelGguf } = await import('../train/session');
      const { importTrainedModel } = await import('../train/task');
      const gguf = modelGguf(w.recipe, params, rt.data, ckpt.state);
      const model = await importTrainedModel(store, w.recipe, run, gguf, (m) => this.o.log?.(`window run ${run}: ${m}`));
      await this.recording.get(run)?.catch(() => undefined);
      try {
        await store.buildPyramid(model);
      } catch (e) {
        this.o.log?.(`window run ${run}: the map pyramid of ${model} was not built: ${(e as Error).message}`);
      }
      await this.recordRun(`window:${run}`, 'training', "a window's WebGPU", model);
      await this.setWindow(w, { state: 'succeeded', modelId: model, error: null });
    } catch (e) {
      const err = e as PxiError;
      await this.setWindow(w, { state: 'failed', error: { code: err.code ?? 'TRAIN_WINDOW_UPLOAD', message: err.message } });
    }
  }

  private windowHandlers(): Pick<
    TrainHandlers,
    'train:window-start' | 'train:window-resume' | 'train:window-read' | 'train:window-batches' | 'train:window-event' | 'train:window-put' | 'train:window-commit' | 'train:window-ping'
  > {
    return {
      'train:window-start': async ({ recipe: raw, run: runName }) => {
        const recipe = parseRecipe(raw, 'recipe');
        const run = runName ?? recipe.name;
        await this.checkNewRun(recipe, run);
        return this.openWindow(run, recipe, Date.now());
      },

      'train:window-resume': async ({ run }) => {
        const w = this.windows.get(run);
        const t = this.trainTasks().get(run);
        let recipe: Recipe;
        if (w) {
          const state = this.windowState(w);
          if (state !== 'paused' && state !== 'failed') throw new TrainServiceError('TRAIN_NOT_PAUSED', `run ${run} is ${state}: only a paused or failed run can be resumed`, { run });
          recipe = w.recipe;
        } else if (t) {
          if (t.params.kind === 'finetune') throw new TrainServiceError('TRAIN_UNAVAILABLE', `run ${run} is a fine-tune: fine-tunes train in the background only (Resume continues it there)`, { run });
          if (t.task.state !== 'cancelled' && t.task.state !== 'failed') {
            throw new TrainServiceError('TRAIN_NOT_PAUSED', `run ${run} is ${t.task.state}: only a paused or failed run can be resumed`, { run });
          }
          recipe = parseRecipe(t.params.recipe, 'recipe');
        } else {
          throw new TrainServiceError('TRAIN_RUN_NOT_FOUND', `no training run named ${run}`, { run });
        }
        return this.openWindow(run, recipe, w?.createdAt ?? t?.task.createdAt ?? Date.now());
      },

      'train:window-read': ({ run, session, step, file, offset, length }) => {
        const { rt } = this.windowSession(run, session);
        const bytes = rt.resume?.step === step ? rt.resume.files.get(file) : undefined;
        if (!bytes) throw new TrainServiceError('TRAIN_NO_CHANGE', `window run ${run}: no checkpoint of step ${step} was offered to this session`, { run, step });
        if (offset + length > bytes.length) throw new TrainServiceError('TRAIN_WINDOW_UPLOAD', `window run ${run}: ${file} of step ${step} holds ${bytes.length} bytes; asked for ${length} at ${offset}`, { run });
        return { bytes: ownedBytes(bytes.subarray(offset, offset + length)) };
      },

      'train:window-batches': async ({ run, session, kind, from, count }) => {
        const { w, rt } = this.windowSession(run, session);
        const parts: Int32Array[] = [];
        let batches = 0;
        if (kind === 'train') {
          if (from < 1) throw new TrainServiceError('TRAIN_WINDOW_UPLOAD', `steps count from 1, not ${from}`, { run });
          for (let s = from; s < from + count && s <= w.recipe.train.steps; s++, batches++) parts.push(...(await rt.loop.stepBatches(s)));
        } else {
          const all = await rt.loop.validBatches();
          for (const b of all.slice(from, from + count)) {
            parts.push(b);
            batches++;
          }
        }
        const total = parts.reduce((n, p) => n + p.length, 0);
        if (total * 4 > TRAIN_LIMITS.chunkBytes) {
          const per = seqLenOf(w.recipe) + 1;
          throw new TrainServiceError('TRAIN_WINDOW_UPLOAD', `window run ${run}: ${total * 4} bytes of tokens asked for at once (batch ${w.recipe.train.batch} × ${per}); ask for fewer steps`, { run });
        }
        const tokens = new Int32Array(total);
        let at = 0;
        for (const p of parts) {
          tokens.set(p, at);
          at += p.length;
        }
        return { batches, tokens: new Uint8Array(tokens.buffer) };
      },

      'train:window-event': async ({ run, session, event }) => {
        const { w, rt } = this.windowSession(run, session);
        if (event.kind === 'done') {
          rt.finishing ??= this.finishWindow(w, rt);
          await rt.finishing;
        }
        this.onRunEvent(
          {
            key: `window:${run}`,
            taskId: this.trainTasks().get(run)?.task.id ?? null,
            where: 'window',
            run,
            recipe: () => w.recipe,
            discarded: () => this.windows.get(run) !== w,
          },
          event,
        );
        return { stop: rt.stop };
      },

      'train:window-put': ({ run, session, step, file, offset, total, bytes }) => {
        const { w, rt } = this.windowSession(run, session);
        const n = paramLayout(modelConfigOf(w.recipe)).total;
        const want = file === 'params' ? n * 4 : file === 'optim' ? n * 8 : null;
        if ((want !== null && total !== want) || (want === null && total > TRAIN_LIMITS.stateBytes)) {
          throw new TrainServiceError('TRAIN_WINDOW_UPLOAD', `window run ${run}: ${file} of ${total} bytes does not fit the model (${want ?? `at most ${TRAIN_LIMITS.stateBytes}`} bytes)`, { run, file });
        }
        if (!rt.upload || rt.upload.step !== step) rt.upload = { step, files: new Map() };
        let f = rt.upload.files.get(file);
        if (!f || f.bytes.length !== total) {
          f = { bytes: new Uint8Array(total), received: 0 };
          rt.upload.files.set(file, f);
        }
        if (offset !== f.received || offset + bytes.length > total) {
          throw new TrainServiceError('TRAIN_WINDOW_UPLOAD', `window run ${run}: ${file} of step ${step}: a chunk at ${offset} (${bytes.length} bytes) after ${f.received} of ${total} received`, { run, file });
        }
        f.bytes.set(bytes, offset);
        f.received += bytes.length;
        return { received: f.received };
      },

      'train:window-commit': async ({ run, session, step }) => {
        const { w, rt } = this.windowSession(run, session);
        const up = rt.upload;
        const file = (k: string) => {
          const f = up?.step === step ? up.files.get(k) : undefined;
          if (!f || f.received !== f.bytes.length) throw new TrainServiceError('TRAIN_WINDOW_UPLOAD', `window run ${run}: the checkpoint of step ${step} is incomplete (${k} ${f ? `${f.received} of ${f.bytes.length} bytes` : 'missing'})`, { run, step });
          return f.bytes;
        };
        const params = file('params');
        const optim = file('optim');
        let state: CheckpointState;
        try {
          state = CheckpointStateSchema.parse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file('state'))));
        } catch (e) {
          throw new TrainServiceError('TRAIN_WINDOW_UPLOAD', `window run ${run}: the state of step ${step} is not a checkpoint state: ${(e as Error).message.slice(0, 500)}`, { run, step });
        }
        const n = paramLayout(modelConfigOf(w.recipe)).total;
        if (state.run !== run || state.step !== step || state.paramTotal !== n || JSON.stringify(state.recipe) !== JSON.stringify(w.recipe)) {
          throw new TrainServiceError('TRAIN_WINDOW_UPLOAD', `window run ${run}: the checkpoint sent is of run ${state.run} step ${state.step} (${state.paramTotal} values, ${JSON.stringify(state.recipe) === JSON.stringify(w.recipe) ? 'the same' : 'another'} recipe), not step ${step} of this run`, { run, step });
        }
        const store = await this.o.store();
        await writeCheckpoint(store.volume, { state, params: new Float32Array(params.buffer, 0, n), m: new Float32Array(optim.buffer, 0, n), v: new Float32Array(optim.buffer, n * 4, n) });
        rt.upload = null;
        return { step, checkpoints: checkpointSteps(store.volume, run).slice(-TRAIN_LIMITS.checkpoints) };
      },

      'train:window-ping': async ({ run, session, state, error }) => {
        const { w, rt } = this.windowSession(run, session);
        if (state === 'running') return { stop: rt.stop };
        if (state === 'succeeded') {
          rt.finishing ??= this.finishWindow(w, rt);
          await rt.finishing;
        } else {
          await this.setWindow(w, { state, error: state === 'failed' ? (error ?? { code: 'TRAIN_FAILED', message: 'the window run failed' }) : null });
        }
        this.windowRt.delete(run);
        return { stop: rt.stop };
      },
    };
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

  /** The latest task of each run, `model.train` or `model.finetune` (cancelled runs left out), newest first. */
  /** Every run, background and window, the newest first. */
  private async allRuns(store: ModelStore): Promise<TrainRun[]> {
    const runs: TrainRun[] = [];
    for (const { task, params } of this.trainTasks().values()) if (!this.windows.has(params.run)) runs.push(await this.runInfo(store, task, params));
    for (const w of this.windows.values()) runs.push(await this.windowInfo(store, w));
    runs.sort((a, b) => b.createdAt - a.createdAt || (b.taskId ?? 0) - (a.taskId ?? 0));
    return runs;
  }

  private trainTasks(): Map<string, { task: TaskRecord; params: RunParams }> {
    const byRun = new Map<string, { task: TaskRecord; params: RunParams }>();
    for (const t of this.o.queue().list(1000)) {
      if (this.discarded.has(t.id)) continue;
      const p = runParamsOf(t);
      if (!p) continue;
      const had = byRun.get(p.run);
      if (!had || had.task.id < t.id) byRun.set(p.run, { task: t, params: p });
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
    return this.live.get(`task:${taskId}`);
  }

  private async runInfo(store: ModelStore, task: TaskRecord, params: RunParams): Promise<TrainRun> {
    const resultModel = (task.result as Partial<TrainTaskResult> | null)?.model ?? null;
    const common = await this.describeRun(store, params.run, params.recipe.train.steps, {
      where: 'background',
      taskId: task.id,
      state: task.state === 'cancelled' ? 'paused' : task.state,
      live: this.liveOf(task.id),
      resultModel,
      error: task.state === 'failed' && task.error ? { code: task.error.code, message: task.error.message } : null,
      createdAt: task.createdAt,
      updatedAt: task.updatedAt,
    });
    if (params.kind === 'finetune') {
      return { kind: 'finetune', ...common, finetune: params.recipe, ...(await this.finetunes.of(store, params.recipe, task.state === 'succeeded')) };
    }
    return { kind: 'train', ...common, recipe: params.recipe, parameters: parameterCount(modelConfigOf(params.recipe)) };
  }

  /** The state a window run shows: running only while its window is heard from. */
  private windowState(w: WindowRecord): TrainRun['state'] {
    const rt = this.windowRt.get(w.run);
    if (w.state === 'running' && rt && Date.now() - rt.lastSeen <= WINDOW_STALE_MS) return 'running';
    const state = w.state === 'running' ? 'paused' : w.state;
    if (state === 'succeeded') return state;
    // Stopped (or a silent window): the run stands at its last checkpoint; the steps after it are lost (as a killed process's).
    const live = this.live.get(`window:${w.run}`);
    if (live && live.last && live.last.step > live.lastCheckpoint) {
      const keep = <T extends { step: number }>(a: T[]) => a.filter((x) => x.step <= live.lastCheckpoint);
      live.points = keep(live.points);
      live.valid = keep(live.valid);
      live.samples = keep(live.samples);
      live.last = null;
    }
    return state;
  }

  private async windowInfo(store: ModelStore, w: WindowRecord): Promise<TrainRun> {
    const common = await this.describeRun(store, w.run, w.recipe.train.steps, {
      where: 'window',
      taskId: this.trainTasks().get(w.run)?.task.id ?? null,
      state: this.windowState(w),
      live: this.live.get(`window:${w.run}`),
      resultModel: w.modelId,
      error: w.state === 'failed' ? w.error : null,
      createdAt: w.createdAt,
      updatedAt: w.updatedAt,
    });
    return { kind: 'train', ...common, recipe: w.recipe, parameters: parameterCount(modelConfigOf(w.recipe)) };
  }

  /** What every run shows, whatever its kind: state, figures, checkpoints, the model it imported, the error. */
  private async describeRun(
    store: ModelStore,
    run: string,
    steps: number,
    o: { where: TrainWhereName; taskId: number | null; state: TrainRun['state']; live: LiveRun | undefined; resultModel: unknown; error: TrainRun['error']; createdAt: number; updatedAt: number },
  ): Promise<Omit<TrainRun, 'kind' | 'parameters' | 'recipe' | 'finetune' | 'base' | 'adapter'>> {
    const checkpoints = checkpointSteps(store.volume, run);
    const last = checkpoints[checkpoints.length - 1];
    const state = last === undefined ? null : await this.checkpointState(store.volume, run, last);
    const live = o.live;
    const lastPoint = state?.history[state.history.length - 1];
    const fromLive = live?.last && (!lastPoint || live.last.step >= lastPoint.step) ? live.last : null;
    const running = o.state === 'running';
    const latest = fromLive
      ? { loss: fromLive.loss, lr: fromLive.lr, gradNorm: fromLive.gradNorm, tokensPerSec: fromLive.tokensPerSec, etaSec: running && Number.isFinite(fromLive.etaSec) ? fromLive.etaSec : null }
      : lastPoint
        ? { loss: lastPoint.loss, lr: lastPoint.lr, gradNorm: lastPoint.gradNorm, tokensPerSec: lastPoint.tokensPerSec, etaSec: null }
        : null;
    const valid = [...(state?.valid ?? []), ...(live?.valid ?? [])].sort((a, b) => a.step - b.step);
    const models = store.list();
    const modelId = typeof o.resultModel === 'string' && models.some((m) => m.id === o.resultModel) ? o.resultModel : null;
    return {
      run,
      taskId: o.taskId,
      where: o.where,
      state: o.state,
      step: Math.max(fromLive?.step ?? 0, state?.step ?? 0),
      steps,
      latest,
      validLoss: valid.length ? valid[valid.length - 1]!.loss : null,
      checkpoints: checkpoints.slice(-TRAIN_LIMITS.checkpoints),
      modelId,
      error: o.error,
      createdAt: o.createdAt,
      updatedAt: o.updatedAt,
    };
  }

  /** The run as the list shows it: its window record when it has one, else its latest task. */
  private async currentInfo(store: ModelStore, run: string): Promise<TrainRun> {
    const w = this.windows.get(run);
    if (w) return this.windowInfo(store, w);
    const t = this.taskOf(run);
    return this.runInfo(store, t.task, t.params);
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

  /** Refuses a run name that is taken: a task of either kind, a window run, or checkpoints under it. */
  private checkRunFree(store: ModelStore, run: string): void {
    const existing = this.trainTasks().get(run);
    const w = this.windows.get(run);
    if (existing || w || checkpointSteps(store.volume, run).length > 0) {
      const state = w ? `${this.windowState(w)}, in a window` : existing ? (existing.task.state === 'cancelled' ? 'paused' : existing.task.state) : 'stopped, with checkpoints';
      const kind = existing?.params.kind === 'finetune' ? 'a fine-tune' : 'a run';
      throw new TrainServiceError('TRAIN_RUN_EXISTS', `${kind} named ${run} already exists (${state}): resume or cancel it, or choose another name`, { run });
    }
  }

  /** Refuses a new run whose paths are not files, whose name is taken (a task, a window run, checkpoints), or whose model name is. */
  private async checkNewRun(recipe: Recipe, run: string): Promise<void> {
    for (const p of recipe.data.train) this.checkDataPath(p, 'training text');
    for (const p of recipe.data.valid) this.checkDataPath(p, 'validation text');
    const store = await this.o.store();
    this.checkRunFree(store, run);
    if (store.list().some((m) => m.name === recipe.name)) {
      throw new TrainServiceError('TRAIN_RUN_EXISTS', `a model named ${recipe.name} is already in the store: the trained model would replace it; choose another name`, { model: recipe.name });
    }
  }

  /** Refuses a new fine-tune whose paths are not files, whose name is taken, or whose adapter (model, in full mode) would replace one. */
  private checkNewFinetune(store: ModelStore, recipe: FinetuneRecipe): void {
    for (const p of recipe.data.train) this.checkDataPath(p, 'training text');
    for (const p of recipe.data.valid) this.checkDataPath(p, 'validation text');
    this.checkRunFree(store, recipe.name);
    const base = store.get(recipe.base.model);
    if (recipe.mode === 'lora' && listAdapters(store.volume, base.id).some((a) => a.name === recipe.name)) {
      throw new TrainServiceError('TRAIN_RUN_EXISTS', `${base.name} already has an adapter named ${recipe.name}: the new one would replace it; choose another name`, { model: base.id, adapter: recipe.name });
    }
    if (recipe.mode === 'full' && store.list().some((m) => m.name === recipe.name)) {
      throw new TrainServiceError('TRAIN_RUN_EXISTS', `a model named ${recipe.name} is already in the store: the fine-tuned model would replace it; choose another name`, { model: recipe.name });
    }
  }

  // ------------------------------------------------------------------ channels

  handlers(): TrainHandlers {
    return {
      ...this.windowHandlers(),

      'train:start': async ({ recipe: raw, run: runName }) => {
        const recipe = parseRecipe(raw, 'recipe');
        const run = runName ?? recipe.name;
        await this.checkNewRun(recipe, run);
        await this.loadInner();
        const params: TrainTaskParams = { recipe, recipeDir: this.o.dataDir, run, import: true };
        const task = this.o.queue().enqueue(TRAIN_TASK, params);
        return { taskId: task.id, run };
      },

      'train:finetune': async (req) => {
        const store = await this.o.store();
        const recipe = finetuneRecipeOf(store, req);
        this.checkNewFinetune(store, recipe);
        await this.loadFinetune();
        const params: FinetuneTaskParams = { recipe };
        const task = this.o.queue().enqueue(FINETUNE_TASK, params);
        return { taskId: task.id, run: recipe.name };
      },

      'train:finetune-estimate': async ({ model }) => {
        const store = await this.o.store();
        return finetuneEstimate(store, model, await this.allRuns(store));
      },

      'train:runs': async () => ({ runs: (await this.allRuns(await this.o.store())).slice(0, TRAIN_LIMITS.runs) }),

      'train:history': async ({ run, maxPoints }) => {
        const store = await this.o.store();
        const t = this.trainTasks().get(run);
        const w = this.windows.get(run);
        if (w) this.windowState(w); // a silent window's steps after its last checkpoint go
        const checkpoints = checkpointSteps(store.volume, run);
        if (!t && !w && checkpoints.length === 0) throw new TrainServiceError('TRAIN_RUN_NOT_FOUND', `no training run named ${run}`, { run });
        const last = checkpoints[checkpoints.length - 1];
        const state = last === undefined ? null : await this.checkpointState(store.volume, run, last);
        const live = w ? this.live.get(`window:${run}`) : t ? this.liveOf(t.task.id) : undefined;
        const byStep = <T extends { step: number }>(a: readonly T[], b: readonly T[]) => {
          const m = new Map<number, T>();
          for (const x of a) m.set(x.step, x);
          for (const x of b) m.set(x.step, x);
          return [...m.values()].sort((x, y) => x.step - y.step);
        };
        const history = byStep(state?.history ?? [], live?.points ?? []);
        const { points, bucket } = bucketHistory(history, maxPoints ?? 2000);
        const steps = w?.recipe.train.steps ?? t?.params.recipe.train.steps ?? state?.recipe.train.steps ?? 0;
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
        const w = this.windows.get(run);
        if (w) {
          const state = this.windowState(w);
          if (state !== 'running') throw new TrainServiceError('TRAIN_NOT_RUNNING', `run ${run} is ${state}: only a running run can be paused`, { run });
          // The window hears it in the answer to its next event or ping, checkpoints, and says it paused.
          const rt = this.windowRt.get(run);
          if (rt) rt.stop = 'pause';
          await this.whenWindowStopped(run);
          return this.currentInfo(await this.o.store(), run);
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
        return this.runInfo(store, now.task, now.params);
      },

      'train:resume': async ({ run }) => {
        const w = this.windows.get(run);
        if (w) {
          // A window run continues in the background: the same checkpoint, read by the queue's task.
          const state = this.windowState(w);
          if (state !== 'paused' && state !== 'failed') throw new TrainServiceError('TRAIN_NOT_PAUSED', `run ${run} is ${state}: only a paused or failed run can be resumed`, { run });
          await this.loadInner();
          const t = this.trainTasks().get(run);
          this.windows.delete(run);
          this.windowRt.delete(run);
          await this.saveWindows();
          const store = await this.o.store();
          if (t && (t.task.state === 'cancelled' || t.task.state === 'failed')) return this.runInfo(store, this.o.queue().retry(t.task.id), t.params);
          const params: TrainTaskParams = { recipe: w.recipe, recipeDir: this.o.dataDir, run, import: true };
          const task = this.o.queue().enqueue(TRAIN_TASK, params);
          return this.runInfo(store, task, { kind: 'train', run, recipe: w.recipe });
        }
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
        const w = this.windows.get(run);
        const ids = this.o
          .queue()
          .list(1000)
          .filter((x) => runParamsOf(x)?.run === run)
          .map((x) => x.id);
        if (!t && !w && checkpointSteps(store.volume, run).length === 0) throw new TrainServiceError('TRAIN_RUN_NOT_FOUND', `no training run named ${run}`, { run });
        if (w) {
          // The window stops at its next event or ping (no checkpoint), then the record goes.
          const rt = this.windowRt.get(run);
          if (rt && this.windowState(w) === 'running') {
            rt.stop = 'cancel';
            await this.whenWindowStopped(run, 60_000);
          }
          this.windows.delete(run);
          this.windowRt.delete(run);
          await this.saveWindows();
          this.live.delete(`window:${run}`);
        }
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
        for (const id of ids) this.live.delete(`task:${id}`);
        return { run, checkpointsRemoved: removed };
      },

      'train:weight-change': async ({ run, step }) => {
        const store = await this.o.store();
        const t = this.trainTasks().get(run);
        const checkpoints = checkpointSteps(store.volume, run);
        const recorded = this.readChanges(run);
        const w = this.windows.get(run);
        const stored: Recipe | FinetuneRecipe | undefined = w?.recipe ?? t?.params.recipe ?? (checkpoints.length ? (await this.checkpointState(store.volume, run, checkpoints[checkpoints.length - 1]!))?.recipe : undefined);
        if (!stored) throw new TrainServiceError('TRAIN_RUN_NOT_FOUND', `no training run named ${run}`, { run });
        if ('kind' in stored && stored.kind === 'finetune') {
          throw new TrainServiceError('TRAIN_NO_CHANGE', `run ${run} is a fine-tune of ${stored.base.model}: the weight-change layer shows runs that trained a model from scratch`, { run });
        }
        const recipe = stored as Recipe;
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
        const resultModel = w ? w.modelId : (t?.task.result as Partial<TrainTaskResult> | null)?.model;
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
