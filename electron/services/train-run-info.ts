/**
 * What the services show of a run (`train:runs`, `train:history`; specs/training.md, "The
 * Training view"), whatever its kind or where it trains: its state, its latest figures and
 * checkpoints, the model it imported, its history. The figures come from two places: its latest
 * checkpoint's state.json (what survives a restart or a reload) and, while its session runs in
 * this process, the events since the session started (the steps after that checkpoint).
 */
import type { Response } from '../../shared/ipc/contract';
import { TRAIN_LIMITS, type TrainRun, type TrainWhereName } from '../../shared/ipc/channels/train';
import { parameterCount } from '../../shared/train/config';
import { modelConfigOf } from '../../shared/train/recipe';
import type { Volume } from '../pixelfs/index';
import type { ModelStore } from '../models/store';
import type { TaskRecord } from '../tasks/queue';
import { checkpointSteps, type CheckpointState, type HistoryPoint } from '../train/checkpoint';
import type { TrainTaskResult } from '../train/task';
import { TrainServiceError } from '../ops/train-error';
import type { FinetuneRunDetails } from './finetune-runs';
import type { LiveRun, RunEvents } from './train-events';
import type { RunParams, RunTask, RunTasks } from './train-runs';
import type { WindowRecord, WindowRuns } from './train-window-runs';

const stepDir = (run: string, step: number) => `train/${run}/step-${String(step).padStart(9, '0')}/`;

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

export interface RunViewsDeps {
  events: RunEvents;
  windows: WindowRuns;
  /** The latest task of each run. */
  tasks: RunTasks;
  /** The latest task of `run`, or TRAIN_RUN_NOT_FOUND. */
  taskOf: (run: string) => RunTask;
  finetunes: FinetuneRunDetails;
}

/** How the services describe runs, with the checkpoints' state.json files they read cached. */
export class RunViews {
  private readonly stateCache = new Map<string, CheckpointState>();

  constructor(private readonly d: RunViewsDeps) {}

  /** Forgets what was cached of `run` (its run was cancelled). */
  forget(run: string): void {
    for (const k of [...this.stateCache.keys()]) if (k.startsWith(`${run}@`)) this.stateCache.delete(k);
  }

  /** A checkpoint's state.json only (not its weights), cached: checkpoints never change. */
  async checkpointState(volume: Volume, run: string, step: number): Promise<CheckpointState | null> {
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
    return this.d.events.get(`task:${taskId}`);
  }

  /** Every run, background and window, the newest first. */
  async allRuns(store: ModelStore): Promise<TrainRun[]> {
    const runs: TrainRun[] = [];
    for (const { task, params } of this.d.tasks().values()) if (!this.d.windows.has(params.run)) runs.push(await this.runInfo(store, task, params));
    for (const w of this.d.windows.all()) runs.push(await this.windowInfo(store, w));
    runs.sort((a, b) => b.createdAt - a.createdAt || (b.taskId ?? 0) - (a.taskId ?? 0));
    return runs;
  }

  /** A background run as its task stands. */
  async runInfo(store: ModelStore, task: TaskRecord, params: RunParams): Promise<TrainRun> {
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
      return { kind: 'finetune', ...common, finetune: params.recipe, ...(await this.d.finetunes.of(store, params.recipe, task.state === 'succeeded')) };
    }
    return { kind: 'train', ...common, recipe: params.recipe, parameters: parameterCount(modelConfigOf(params.recipe)) };
  }

  private async windowInfo(store: ModelStore, w: WindowRecord): Promise<TrainRun> {
    const common = await this.describeRun(store, w.run, w.recipe.train.steps, {
      where: 'window',
      taskId: this.d.tasks().get(w.run)?.task.id ?? null,
      state: this.d.windows.state(w),
      live: this.d.events.get(`window:${w.run}`),
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
  async currentInfo(store: ModelStore, run: string): Promise<TrainRun> {
    const w = this.d.windows.get(run);
    if (w) return this.windowInfo(store, w);
    const t = this.d.taskOf(run);
    return this.runInfo(store, t.task, t.params);
  }

  /** A run's history: its checkpoint's and this process's points merged, bucketed to at most `maxPoints`. */
  async history(store: ModelStore, run: string, maxPoints: number | undefined): Promise<Response<'train:history'>> {
    const t = this.d.tasks().get(run);
    const w = this.d.windows.get(run);
    if (w) this.d.windows.state(w); // a silent window's steps after its last checkpoint go
    const checkpoints = checkpointSteps(store.volume, run);
    if (!t && !w && checkpoints.length === 0) throw new TrainServiceError('TRAIN_RUN_NOT_FOUND', `no training run named ${run}`, { run });
    const last = checkpoints[checkpoints.length - 1];
    const state = last === undefined ? null : await this.checkpointState(store.volume, run, last);
    const live = w ? this.d.events.get(`window:${run}`) : t ? this.liveOf(t.task.id) : undefined;
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
  }
}
