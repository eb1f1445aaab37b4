/**
 * A run's events as the services take them (specs/training.md, "The Training view"): each event
 * of a session, a background task's or a window's, is kept for the run's live figures (the steps
 * since its latest checkpoint, which only this process saw), starts a weight-change record at a
 * checkpoint, and goes out to the renderers as `train:event`; a finished run is recorded as a
 * self-improvement session from what was kept.
 */
import { TRAIN_LIMITS, type TrainEventInfo, type TrainWhereName } from '../../shared/ipc/channels/train';
import { trainingSession } from '../../shared/sessions/training';
import type { TrainEvent } from '../../shared/train/loop';
import type { Recipe } from '../../shared/train/recipe';
import type { HistoryPoint } from '../train/checkpoint';
import type { WeightChangeRecords } from '../ops/train-weight-change';
import type { TrainServiceOptions } from './train-runs';

/** What this process saw of a session since it (re)started. */
export interface LiveRun {
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

/** Where an event comes from: a background task (`task:ID`) or a window (`window:RUN`). */
export interface EventSource {
  key: string;
  taskId: number | null;
  where: TrainWhereName;
  run: string;
  /** The recipe the checkpoints' weights follow; null for a fine-tune (no weight-change record). */
  recipe: (() => Recipe) | null;
  discarded: () => boolean;
}

const finite = (...v: number[]) => v.every((x) => Number.isFinite(x));

/** The sessions' events this process saw, keyed `task:ID` (a background run's task) or `window:RUN`. */
export class RunEvents {
  private readonly live = new Map<string, LiveRun>();

  constructor(
    private readonly o: Pick<TrainServiceOptions, 'emit' | 'log' | 'recordSession'>,
    private readonly changes: WeightChangeRecords,
  ) {}

  get(key: string): LiveRun | undefined {
    return this.live.get(key);
  }

  delete(key: string): void {
    this.live.delete(key);
  }

  /** One event of a run's session: kept for the live figures, recorded, broadcast. */
  take(src: EventSource, e: TrainEvent): void {
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
        if (e.step > base && src.recipe) this.changes.record(run, e.step, base, src.recipe, src.discarded);
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

  /** A run that finished, as a session (what this process saw of it); a store that fails costs a log line. */
  async record(key: string, what: string, where: string, model: string | null): Promise<void> {
    const live = this.live.get(key);
    if (!live || !this.o.recordSession) return;
    const session = trainingSession({ run: live.run, what, where, points: live.points, valid: live.valid, startedAt: live.startedAt, finishedAt: new Date().toISOString(), model });
    await this.o.recordSession(session).catch((e: Error) => this.o.log?.(`run ${live.run} was not recorded as a session: ${e.message}`));
  }
}
