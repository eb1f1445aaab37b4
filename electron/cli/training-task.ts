/**
 * What `pxi train` and `pxi finetune` share: a run as a task of the data folder's durable queue
 * (the run's unfinished task continued, or a new one enqueued; --fresh starts over), waited for
 * until it ends or Ctrl-C (then the task stays 'running' in the queue and the next command
 * resumes it), the lines its events print, the WebGPU context it runs on, where its output goes
 * and the volume's store it opens.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PxiError, RemoteError } from '../../shared/errors';
import { adapterName } from '../../shared/gpu/adapter';
import type { GpuContext } from '../../shared/gpu';
import { formatBytes } from '../../shared/model/summary';
import { openNodeContext } from '../engine';
import { formatDuration } from '../models/progress';
import type { ModelStore } from '../models/store';
import type { StoreProvider } from '../models/task-params';
import { modelTaskHandlers } from '../ops/model-tasks';
import { TaskQueue, type TaskHandler, type TaskRecord } from '../tasks/queue';
import type { TrainEvent } from '../train/session';
import { UsageError, type CliIo } from './command';
import { openStore, volumeDir } from './storage-helpers';

/** The line a step prints (every 10th, the first two and the last). */
export function stepLine(e: Extract<TrainEvent, { kind: 'step' }>): string | null {
  if (!(e.step % 10 === 0 || e.step === e.steps || e.step < 3)) return null;
  return `step ${e.step}/${e.steps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  |g| ${e.gradNorm.toFixed(3)}  ${Math.round(e.tokensPerSec)} tok/s  ETA ${formatDuration(e.etaSec)}`;
}

/** How a command words its run's events (each keeps the lines it has always printed). */
export interface EventWords {
  /** 'pxi train' or 'pxi finetune': the prefix of the start line. */
  command: string;
  /** What the GPU memory of the start line is for (after "N MiB of"). */
  memory: string;
  /** Validation lines also in bits per token. */
  bitsPerToken: boolean;
  /** Sample texts printed. */
  samples: boolean;
}

/** The queue's event callback for a run: every event to `emit` (--json), and its line to `say`. */
export function printTrainEvents(w: EventWords, say: (line: string) => void, emit: (e: object) => void): (task: number, e: TrainEvent) => void {
  return (_task, e) => {
    emit(e);
    if (e.kind === 'start') say(`${w.command}: ${e.resumedFrom !== null ? `resuming at step ${e.step}` : 'starting'} (${e.steps} steps; ${formatBytes(e.gpuBytes)} of ${w.memory})`);
    else if (e.kind === 'step') {
      const line = stepLine(e);
      if (line) say(line);
    } else if (e.kind === 'valid') say(`step ${e.step}: validation loss ${e.loss.toFixed(4)}${w.bitsPerToken ? ` (${(e.loss / Math.LN2).toFixed(3)} bits/token)` : ''}`);
    else if (e.kind === 'sample' && w.samples) say(`step ${e.step} sample: ${JSON.stringify(e.text)}`);
    else if (e.kind === 'checkpoint') say(`step ${e.step}: checkpoint saved`);
  };
}

/** Opens the Node WebGPU context a run's task asks for, saying which adapter it is. */
export function openRunContext(command: string, say: (line: string) => void): () => Promise<GpuContext> {
  return async () => {
    const ctx = await openNodeContext();
    say(`${command}: on ${adapterName(ctx.adapter, 'the WebGPU adapter')}`);
    return ctx;
  };
}

/** A training command's output, volume and store. */
export interface TrainingCommandSetup {
  /** A line on stderr; nothing with --json. */
  say(line: string): void;
  /** An object as a JSON line on stdout with --json; nothing without. */
  emit(e: object): void;
  /** The data folder (the volume's parent, created if missing), where the task queue lives. */
  dataDir: string;
  /** The volume's store, opened (created if missing) when first asked. */
  store(): Promise<ModelStore>;
  /** Closes the store if it was opened. */
  closeStore(): Promise<void>;
}

export function trainingCommandSetup(io: CliIo, opts: { json: boolean; volume: string | undefined }): TrainingCommandSetup {
  const vol = volumeDir(opts.volume);
  const dataDir = path.dirname(vol);
  fs.mkdirSync(dataDir, { recursive: true });
  let opened: ModelStore | null = null;
  return {
    say: (line) => (opts.json ? undefined : io.err(line)),
    emit: (e) => (opts.json ? io.out(JSON.stringify(e)) : undefined),
    dataDir,
    store: async () => (opened ??= await openStore(vol, true)),
    closeStore: async () => {
      await opened?.close();
    },
  };
}

/** What a run's task handler is made from (trainTaskHandler's and finetuneTaskHandler's deps). */
export interface RunTaskDeps {
  store: StoreProvider;
  openContext: () => Promise<GpuContext>;
  onEvent: (taskId: number, e: TrainEvent) => void;
  onMessage: (taskId: number, message: string) => void;
}

/**
 * The data folder's durable task queue with the model tasks and the run's task handler, made by
 * `handler` from the store, the run's WebGPU context (its adapter said), its events printed in
 * the command's words and its messages said after the command's name.
 */
export function openTrainingQueue(setup: TrainingCommandSetup, words: EventWords, handler: (deps: RunTaskDeps) => TaskHandler): TaskQueue {
  const { say, emit, store } = setup;
  return new TaskQueue(path.join(setup.dataDir, 'tasks.sqlite'), [
    ...modelTaskHandlers(store),
    handler({
      store,
      openContext: openRunContext(words.command, say),
      onEvent: printTrainEvents(words, say, emit),
      onMessage: (_t, m) => say(`${words.command}: ${m}`),
    }),
  ]);
}

export interface TrainingTaskOptions<P> {
  queue: TaskQueue;
  /** `pxi train` / `pxi finetune`: the prefix of its messages. */
  command: string;
  kind: string;
  run: string;
  params: P;
  /** Whether a task's params are of this run, and with the same settings. */
  ofRun(p: P): boolean;
  sameSettings(p: P): boolean;
  /** "training" / "fine-tuning": how the task is named in messages. */
  what: string;
  /** "with a different recipe": how the refusal of a changed run says it. */
  changed: string;
  fresh: boolean;
  removeRun(): Promise<void>;
  interrupted: Promise<void>;
  say(line: string): void;
}

/** Runs the run's task to its end: the succeeded record, or null when interrupted (the queue then closed, the task left to resume). */
export async function runTrainingTask<P>(o: TrainingTaskOptions<P>): Promise<TaskRecord | null> {
  const { queue, run } = o;
  const unfinished = queue.list().filter((t) => t.kind === o.kind && (t.state === 'running' || t.state === 'queued') && o.ofRun(t.params as P));
  let task: TaskRecord | undefined = unfinished[0];
  if (o.fresh) {
    for (const t of unfinished) if (t.state === 'queued') queue.cancel(t.id);
    await o.removeRun();
    task = undefined;
  }
  if (task && !o.sameSettings(task.params as P)) {
    throw new UsageError(`run ${run} has an unfinished ${o.what} task (#${task.id}) ${o.changed}: pass --fresh to start over, or --name for another run`);
  }
  if (task) o.say(`${o.command}: continuing task #${task.id} (run ${run})`);
  const id = task?.id ?? queue.enqueue(o.kind, o.params).id;
  const finished = new Promise<TaskRecord>((resolve) => {
    queue.onChange((t) => {
      if (t.id === id && (t.state === 'succeeded' || t.state === 'failed' || t.state === 'cancelled')) resolve(t);
    });
  });
  queue.start();
  const outcome = await Promise.race([finished, o.interrupted.then(() => null)]);
  if (outcome === null) {
    await queue.close(); // the task stays 'running': the next command resumes it
    o.say(`${o.command}: interrupted; the last checkpoint is kept: run the same command again to resume`);
    return null;
  }
  if (outcome.state !== 'succeeded') {
    throw outcome.error ? new RemoteError(outcome.error) : new PxiError('TRAIN_FAILED', `${o.what} task #${id} ended ${outcome.state}`);
  }
  return outcome;
}
