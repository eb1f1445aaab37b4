/**
 * Window runs (specs/training.md, "Window runs"): a run that trains in a renderer's own WebGPU
 * through the shared loop (renderer/src/train/), its data and checkpoints over the `train:window-*`
 * channels. The services prepare its data (corpus, tokenizer, token shards, as a background run's),
 * hand out token batches, offer the latest checkpoint to resume from, take the checkpoints the
 * window writes, and import the model once it is done. A window run's record is kept in
 * `<dataDir>/training/window-runs.json`; its session lives in memory only (a restart of the
 * services ends it), and a window that goes silent shows paused at its last checkpoint.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PxiError } from '../../shared/errors';
import { ownedBytes } from '../../shared/ipc/channels/common';
import { CheckpointStateSchema, RunName, TRAIN_LIMITS, type TrainRun, type WindowSessionInfo } from '../../shared/ipc/channels/train';
import { paramLayout } from '../../shared/train/param-layout';
import { modelConfigOf, parseRecipe, RecipeSchema, seqLenOf, type Recipe } from '../../shared/train/recipe';
import { tokenStreamData, type LoopData } from '../../shared/train/loop';
import { serializeTrainedTokenizer } from '../../shared/tokenizer-train';
import { writeFileDurable } from '../pixelfs/file-ops';
import { checkpointSteps, latestCheckpoint, writeCheckpoint, type CheckpointState } from '../train/checkpoint';
import type { TrainData } from '../train/session';
import { TrainServiceError } from '../ops/train-error';
import type { WeightChangeRecords } from '../ops/train-weight-change';
import type { RunEvents } from './train-events';
import type { RunTasks, TrainHandlers, TrainServiceOptions } from './train-runs';

/** A window that sent nothing (events, pings) for this long is taken as closed: its run shows paused. */
export const WINDOW_STALE_MS = 20_000;

const StoredWindow = z.strictObject({
  run: RunName,
  recipe: RecipeSchema,
  state: z.enum(['running', 'paused', 'succeeded', 'failed']),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
  modelId: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});

/** A run training in a window, as the services keep it (`<dataDir>/training/window-runs.json`). */
export interface WindowRecord {
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

export interface WindowRunsDeps {
  o: Pick<TrainServiceOptions, 'dataDir' | 'store' | 'log'>;
  /** `<dataDir>/training`. */
  dir: string;
  events: RunEvents;
  changes: WeightChangeRecords;
  /** The latest task of each run, background ones. */
  tasks: RunTasks;
  /** Refuses a new run whose paths are not files, or whose name (or model name) is taken. */
  checkNewRun: (recipe: Recipe, run: string) => Promise<void>;
}

type WindowChannel = 'train:window-start' | 'train:window-resume' | 'train:window-read' | 'train:window-batches' | 'train:window-event' | 'train:window-put' | 'train:window-commit' | 'train:window-ping';

/** The window runs the services keep: their records, their live sessions, and the `train:window-*` channels. */
export class WindowRuns {
  private readonly windows = new Map<string, WindowRecord>();
  private readonly windowRt = new Map<string, WindowSessionRt>();
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly d: WindowRunsDeps) {
    for (const w of this.readWindows()) this.windows.set(w.run, w);
  }

  /** The window record of `run`, if it has one. */
  get(run: string): WindowRecord | undefined {
    return this.windows.get(run);
  }

  has(run: string): boolean {
    return this.windows.has(run);
  }

  all(): IterableIterator<WindowRecord> {
    return this.windows.values();
  }

  private windowsFile(): string {
    return path.join(this.d.dir, 'window-runs.json');
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

  /** Writes the window records (in order: each write holds every record as it is then). */
  private saveWindows(): Promise<void> {
    this.saving = this.saving
      .catch(() => undefined)
      .then(async () => {
        fs.mkdirSync(this.d.dir, { recursive: true });
        await writeFileDurable(this.windowsFile(), new TextEncoder().encode(JSON.stringify({ version: 1, runs: [...this.windows.values()] })));
      });
    return this.saving;
  }

  private async setWindow(w: WindowRecord, patch: Partial<WindowRecord>): Promise<void> {
    Object.assign(w, patch, { updatedAt: Date.now() });
    await this.saveWindows();
  }

  /** Drops the window record and session of `run` (it continues in the background, or was cancelled). */
  async remove(run: string): Promise<void> {
    this.windows.delete(run);
    this.windowRt.delete(run);
    await this.saveWindows();
  }

  /** Asks the window training `run` to stop (it hears it in the answer to its next event or ping), if it has a session. */
  requestStop(run: string, stop: 'pause' | 'cancel'): void {
    const rt = this.windowRt.get(run);
    if (rt) rt.stop = stop;
  }

  /** Whether a window session of `run` is open. */
  hasSession(run: string): boolean {
    return this.windowRt.has(run);
  }

  /** The state a window run shows: running only while its window is heard from. */
  state(w: WindowRecord): TrainRun['state'] {
    const rt = this.windowRt.get(w.run);
    if (w.state === 'running' && rt && Date.now() - rt.lastSeen <= WINDOW_STALE_MS) return 'running';
    const state = w.state === 'running' ? 'paused' : w.state;
    if (state === 'succeeded') return state;
    // Stopped (or a silent window): the run stands at its last checkpoint; the steps after it are lost (as a killed process's).
    const live = this.d.events.get(`window:${w.run}`);
    if (live && live.last && live.last.step > live.lastCheckpoint) {
      const keep = <T extends { step: number }>(a: T[]) => a.filter((x) => x.step <= live.lastCheckpoint);
      live.points = keep(live.points);
      live.valid = keep(live.valid);
      live.samples = keep(live.samples);
      live.last = null;
    }
    return state;
  }

  /** Resolves once a window run no longer shows running (its window said so, or went silent), or after `maxMs`. */
  async whenStopped(run: string, maxMs = 300_000): Promise<void> {
    const end = Date.now() + maxMs;
    for (;;) {
      const w = this.windows.get(run);
      if (!w || this.state(w) !== 'running' || Date.now() > end) return;
      await new Promise((r) => setTimeout(r, 100));
    }
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
    const { o } = this.d;
    const store = await o.store();
    let data: TrainData;
    try {
      const { loadTrainData } = await import('../train/data');
      data = await loadTrainData(recipe, o.dataDir, store, (m) => o.log?.(`window run ${run}: ${m}`));
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
    o.log?.(`window run ${run}: session opened${ckpt ? ` at the checkpoint of step ${ckpt.state.step}` : ''}`);
    return { run, session, recipe, tokenizer, validBatches: (await loop.validBatches()).length, checkpoint };
  }

  /** After a window run's `done`: its model imported from the final checkpoint (as the background task does), the map pyramid built. */
  private async finishWindow(w: WindowRecord, rt: WindowSessionRt): Promise<void> {
    const { o } = this.d;
    const run = w.run;
    try {
      const store = await o.store();
      const ckpt = await latestCheckpoint(store.volume, run);
      if (!ckpt || ckpt.state.step !== w.recipe.train.steps) throw new TrainServiceError('TRAIN_WINDOW_UPLOAD', `window run ${run} ended without the checkpoint of its last step`, { run });
      const layout = paramLayout(modelConfigOf(w.recipe));
      const params = new Map<string, Float32Array>();
      for (const slot of layout.order) params.set(slot.spec.name, ckpt.params.slice(slot.offset, slot.offset + slot.spec.size));
      const { modelGguf } = await import('../train/session');
      const { importTrainedModel } = await import('../train/task');
      const gguf = modelGguf(w.recipe, params, rt.data, ckpt.state);
      const model = await importTrainedModel(store, w.recipe, run, gguf, (m) => o.log?.(`window run ${run}: ${m}`));
      await this.d.changes.settled(run);
      try {
        await store.buildPyramid(model);
      } catch (e) {
        o.log?.(`window run ${run}: the map pyramid of ${model} was not built: ${(e as Error).message}`);
      }
      await this.d.events.record(`window:${run}`, 'training', "a window's WebGPU", model);
      await this.setWindow(w, { state: 'succeeded', modelId: model, error: null });
    } catch (e) {
      const err = e as PxiError;
      await this.setWindow(w, { state: 'failed', error: { code: err.code ?? 'TRAIN_WINDOW_UPLOAD', message: err.message } });
    }
  }

  handlers(): Pick<TrainHandlers, WindowChannel> {
    return {
      'train:window-start': async ({ recipe: raw, run: runName }) => {
        const recipe = parseRecipe(raw, 'recipe');
        const run = runName ?? recipe.name;
        await this.d.checkNewRun(recipe, run);
        return this.openWindow(run, recipe, Date.now());
      },

      'train:window-resume': async ({ run }) => {
        const w = this.windows.get(run);
        const t = this.d.tasks().get(run);
        let recipe: Recipe;
        if (w) {
          const state = this.state(w);
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
        this.d.events.take(
          {
            key: `window:${run}`,
            taskId: this.d.tasks().get(run)?.task.id ?? null,
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
        const store = await this.d.o.store();
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
}
