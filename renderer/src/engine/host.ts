/**
 * The renderer's engine, seen from the UI thread: a worker runs the WGSL engine (device, model,
 * generation); this side hands each new worker its own link to the services (engine-link.ts:
 * the worker asks for the model's header, a LoRA adapter's bytes and the tensor bytes over it,
 * so none of them, 8 MiB reads included, passes this thread), says which model to load, and
 * turns the worker's messages into promises and callbacks.
 * One instance serves the whole renderer, so a loaded model survives switching views.
 *
 * A lost device (driver reset, GPU process crash) ends the worker: the host reports it, and
 * `reload()` starts a fresh worker and loads the same model again.
 */
import { PxiError, RemoteError, serializeError, type SerializedError } from '../../../shared/errors';
import type { PxiApi } from '../../../shared/ipc/client';
import type { MapRegionInfo } from '../../../shared/ipc/channels/map';
import type { CandidateTiming, TuningFile, TuningRecord } from '../../../shared/engine/autotune';
import type { WeightType } from '../../../shared/engine/quant-matmul';
import type { NewSession, Session } from '../../../shared/sessions/record';

/** What a measurement asked for by the Kernels view gives back. */
export interface TuneResult {
  record: TuningRecord;
  timings: Partial<Record<WeightType, CandidateTiming[]>>;
  /** The adapter's name as people read it. */
  adapter: string;
  /** The run as recorded in the self-improvement sessions (null with `sessionError` when it could not be). */
  session: Session | null;
  sessionError?: string;
}
import { openEngineLink, type EngineLink } from './engine-link';
import { KeptTuning, localTuningStore, type TuningStore } from './kept-tuning';
import { KvReporter } from './kv-report';
import type { EngineActivations, EngineActivity, FromWorker, GenerationMode, GenerationSettings, HistoryMessage, LoadedInfo, ReplyResult, ToWorker } from './protocol';


/** Bytes of the KV cache's allocated pages (the last page cut at the context). */
function allocatedKvBytes(p: { pageSize: number; pages: number }, contextLength: number, kvBytesPerToken: number): number {
  return Math.min(p.pages * p.pageSize, contextLength) * kvBytesPerToken;
}

export type EngineState =
  /** `cancelled`: the name of the model whose load the user cancelled (nothing is loaded since). */
  | { kind: 'empty'; cancelled?: string }
  /** `tuning`: the weight type whose kernels are being measured, before the upload starts. */
  | { kind: 'loading'; modelId: string; name: string; bytesDone: number; bytesTotal: number; tensor: string; tuning?: { weightType: string; index: number; count: number } }
  | { kind: 'ready'; info: LoadedInfo }
  | { kind: 'failed'; modelId: string | null; error: SerializedError }
  | { kind: 'lost'; modelId: string; error: SerializedError };

export interface ReplyCallbacks {
  onChunk(text: string, tokenIndex: number): void;
  /** A long prompt's prefill: tokens done of the total, after each batch the GPU finished. */
  onPrefill?(done: number, total: number): void;
}

interface Pending {
  resolve: (r: ReplyResult) => void;
  reject: (e: Error) => void;
  cb: ReplyCallbacks;
}

export class EngineHost {
  private worker: Worker | null = null;
  private stateValue: EngineState = { kind: 'empty' };
  private readonly listeners = new Set<(s: EngineState) => void>();
  private readonly replies = new Map<number, Pending>();
  private nextReply = 1;
  private readonly tunes = new Map<number, { resolve: (r: TuneResult) => void; reject: (e: Error) => void }>();
  private tuneProgress: ((weightType: string, index: number, count: number) => void) | null = null;
  private loadWaiters: { resolve: (i: LoadedInfo) => void; reject: (e: Error) => void } | null = null;
  private contextLength: number | undefined;
  private gpuMemory: number | undefined;
  /** The LoRA adapter of the current load (reload applies it again). */
  private lora: { name: string; scale?: number } | undefined;
  /** Bumped per load: read answers for an earlier load are dropped. */
  private generation = 0;
  private activityValue: EngineActivity | null = null;
  private activationsValue: EngineActivations | null = null;
  private readonly watchers = new Set<(a: EngineActivity | null) => void>();
  private readonly kv: KvReporter;
  private readonly kept: KeptTuning;

  constructor(
    private readonly api: PxiApi,
    private readonly createWorker: () => Worker = () => new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'pxi-engine' }),
    tuningStore: TuningStore = localTuningStore,
    private readonly openLink: () => Promise<EngineLink> = openEngineLink,
  ) {
    this.kept = new KeptTuning(tuningStore);
    this.kv = new KvReporter(api, () => this.notifyWatchers());
  }

  get state(): EngineState {
    return this.stateValue;
  }

  /** Calls `listener` on every state change (and once now); returns the unsubscribe function. */
  subscribe(listener: (s: EngineState) => void): () => void {
    this.listeners.add(listener);
    listener(this.stateValue);
    return () => this.listeners.delete(listener);
  }

  private setState(s: EngineState): void {
    this.stateValue = s;
    for (const l of [...this.listeners]) l(s);
  }

  /** What the engine did last (null with no model); reported only while someone watches. */
  get activity(): EngineActivity | null {
    return this.activityValue;
  }

  /** The residual stream of the last traced pass (null with no model, or before one ran watched). */
  get activations(): EngineActivations | null {
    return this.activationsValue;
  }

  /** The map's kv-cache band as the last size report left it (null before the first). */
  get kvRegion(): MapRegionInfo | null {
    return this.kv.region;
  }

  /**
   * Calls `listener` with the engine's activity (and once now). While anyone watches, the
   * worker traces its passes block by block; returns the unsubscribe function.
   */
  watchActivity(listener: (a: EngineActivity | null) => void): () => void {
    this.watchers.add(listener);
    if (this.watchers.size === 1) this.worker?.postMessage({ type: 'trace', on: true } satisfies ToWorker);
    listener(this.activityValue);
    return () => {
      if (!this.watchers.delete(listener)) return;
      if (this.watchers.size === 0) this.worker?.postMessage({ type: 'trace', on: false } satisfies ToWorker);
    };
  }

  /** Tells the watchers something they draw changed (activity, residuals, the KV region). */
  private notifyWatchers(): void {
    for (const l of [...this.watchers]) l(this.activityValue);
  }

  private setActivity(a: EngineActivity | null): void {
    this.activityValue = a;
    if (!a) this.activationsValue = null;
    this.notifyWatchers();
    // The map's band holds the pages the KV cache has allocated, not only the positions in use.
    if (a) this.kv.report(a.modelId, allocatedKvBytes(a.kvPages, a.contextLength, a.kvBytesPerToken), a.phase === 'idle');
  }

  /** The context length the last load asked for (null: the engine's default for the model). */
  get requestedContext(): number | null {
    return this.contextLength ?? null;
  }

  get busy(): boolean {
    return this.replies.size > 0;
  }

  /** The GPU memory budget the last load asked for (null: none). */
  get requestedGpuMemory(): number | null {
    return this.gpuMemory ?? null;
  }

  /** Loads model `ref` (id or name) in the worker; resolves when it is on the GPU. `gpuMemory`: a budget in bytes. */
  async load(ref: string, opts: { contextLength?: number; gpuMemory?: number; lora?: { name: string; scale?: number } } = {}): Promise<LoadedInfo> {
    this.contextLength = opts.contextLength;
    this.gpuMemory = opts.gpuMemory;
    this.lora = opts.lora;
    const gen = ++this.generation;
    this.failReplies(new PxiError('ENGINE_DESTROYED', 'the model was replaced before the reply finished'));
    this.loadWaiters?.reject(new PxiError('ENGINE_DESTROYED', 'another model load started'));
    this.loadWaiters = null;
    if (this.activityValue) this.setActivity(null);
    this.setState({ kind: 'loading', modelId: ref, name: ref, bytesDone: 0, bytesTotal: 0, tensor: '' });
    try {
      const lora = opts.lora ? { name: opts.lora.name, scale: opts.lora.scale ?? 1 } : undefined;
      const done = new Promise<LoadedInfo>((resolve, reject) => (this.loadWaiters = { resolve, reject }));
      // The worker asks for the header and the adapter over its own link; its `header` message names the model.
      this.send({ type: 'load', load: gen, model: ref, tuning: this.kept.read(), ...(opts.contextLength ? { contextLength: opts.contextLength } : {}), ...(opts.gpuMemory ? { gpuMemory: opts.gpuMemory } : {}), ...(lora ? { lora } : {}) });
      return await done;
    } catch (e) {
      if (gen === this.generation) this.setState({ kind: 'failed', modelId: ref, error: serializeError(e) });
      throw e;
    }
  }

  /**
   * Cancels the load in progress: the worker aborts it (kernel measuring or the upload) and
   * frees what it had; the engine is then empty (a load replaces the model before it, so there
   * is no previous one to go back to), the state naming the model that was cancelled.
   */
  cancelLoad(): boolean {
    const s = this.stateValue;
    if (s.kind !== 'loading') return false;
    this.generation++;
    this.worker?.postMessage({ type: 'unload' } satisfies ToWorker);
    this.loadWaiters?.reject(new PxiError('ENGINE_DESTROYED', `loading ${s.name} was cancelled`));
    this.loadWaiters = null;
    this.setState({ kind: 'empty', cancelled: s.name });
    return true;
  }

  /** After a lost device or a crashed worker: a fresh worker, the same model. */
  reload(): Promise<LoadedInfo> {
    const s = this.stateValue;
    const id = s.kind === 'lost' || s.kind === 'failed' ? s.modelId : s.kind === 'ready' ? s.info.modelId : s.kind === 'loading' ? s.modelId : null;
    if (!id) return Promise.reject(new PxiError('ENGINE_DESTROYED', 'there is no model to reload'));
    this.terminate();
    return this.load(id, { ...(this.contextLength === undefined ? {} : { contextLength: this.contextLength }), ...(this.gpuMemory === undefined ? {} : { gpuMemory: this.gpuMemory }), ...(this.lora ? { lora: this.lora } : {}) });
  }

  /**
   * Streams a reply; resolves with its result (stopReason 'aborted' after stop()). `history`
   * (chat mode): the turns before `text`, replacing what the worker's session remembers.
   */
  generate(mode: GenerationMode, text: string, settings: GenerationSettings, cb: ReplyCallbacks, system?: string, history?: HistoryMessage[]): Promise<ReplyResult> {
    if (this.stateValue.kind !== 'ready') return Promise.reject(new PxiError('ENGINE_DESTROYED', 'no model is loaded: choose a model first'));
    const id = this.nextReply++;
    return new Promise<ReplyResult>((resolve, reject) => {
      this.replies.set(id, { resolve, reject, cb });
      this.send({ type: 'generate', id, mode, text, settings, ...(system ? { system } : {}), ...(history ? { history } : {}) });
    });
  }

  stop(): void {
    this.worker?.postMessage({ type: 'stop' } satisfies ToWorker);
  }

  /** The kernel measurements this renderer keeps, every adapter's. */
  keptTuningFile(): TuningFile {
    return this.kept.read();
  }

  /**
   * Measures the decode kernels of `types` now (size × size matrices) and keeps the result,
   * merged into this adapter's record. Refused by the worker while a reply is generated.
   */
  tuneNow(types: WeightType[], size: number, rounds: number, onProgress?: (weightType: string, index: number, count: number) => void): Promise<TuneResult> {
    const id = this.nextReply++;
    this.tuneProgress = onProgress ?? null;
    return new Promise<TuneResult>((resolve, reject) => {
      this.tunes.set(id, { resolve, reject });
      this.send({ type: 'tune', id, types, size, rounds });
    }).finally(() => (this.tuneProgress = null));
  }

  /** Cancels the measurements in progress (tuneNow rejects; nothing of them is kept). */
  cancelTune(): void {
    for (const id of this.tunes.keys()) this.worker?.postMessage({ type: 'tune-cancel', id } satisfies ToWorker);
  }

  /** Hands a finished self-improvement session to the services' store (the dashboard lists it). */
  private recordSession(session: NewSession): Promise<Session> {
    return this.api.call('sessions:add', { session });
  }

  /** Drops the kept measurement of an adapter and kernel version (the next load measures again). */
  forgetTuning(adapter: string, kernels: string): void {
    this.kept.forget(adapter, kernels);
  }

  /** Forgets the conversation (the next chat turn starts from an empty KV cache). */
  reset(): void {
    this.worker?.postMessage({ type: 'reset' } satisfies ToWorker);
  }

  dispose(): void {
    this.generation++;
    this.terminate();
    this.setState({ kind: 'empty' });
  }

  private terminate(): void {
    this.worker?.terminate();
    this.worker = null;
    if (this.activityValue) this.setActivity(null);
    this.failReplies(new PxiError('ENGINE_DESTROYED', 'the engine was stopped'));
  }

  private send(msg: ToWorker): void {
    if (!this.worker) {
      const w = this.createWorker();
      w.addEventListener('message', (ev: MessageEvent<FromWorker>) => this.onMessage(w, ev.data));
      // An uncaught error or a failed module load ends the worker's usefulness: say so.
      w.addEventListener('error', (ev) => this.onCrash(w, new PxiError('ENGINE_WORKER_FAILED', `the engine worker failed: ${ev.message || 'it could not start'}`)));
      this.worker = w;
      this.giveLink(w);
      if (this.watchers.size > 0) w.postMessage({ type: 'trace', on: true } satisfies ToWorker);
    }
    this.worker.postMessage(msg);
  }

  /** Opens the worker's own link and hands it over (its reads wait for it); a worker replaced meanwhile gets none. */
  private giveLink(w: Worker): void {
    let opened: Promise<EngineLink>;
    try {
      opened = this.openLink();
    } catch (e) {
      opened = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    opened.then(
      (link) => {
        if (w !== this.worker) {
          if (link.kind === 'port') link.port.close();
          return;
        }
        w.postMessage({ type: 'link', link } satisfies ToWorker, link.kind === 'port' ? [link.port] : []);
      },
      (e: unknown) => {
        if (w === this.worker) w.postMessage({ type: 'link-error', error: serializeError(e) } satisfies ToWorker);
      },
    );
  }

  private failReplies(e: Error): void {
    for (const p of this.replies.values()) p.reject(e);
    this.replies.clear();
    for (const t of this.tunes.values()) t.reject(e);
    this.tunes.clear();
  }

  private onCrash(w: Worker, e: PxiError): void {
    if (w !== this.worker) return;
    const s = this.stateValue;
    const id = s.kind === 'ready' ? s.info.modelId : s.kind === 'loading' || s.kind === 'failed' || s.kind === 'lost' ? s.modelId : null;
    this.terminate();
    this.loadWaiters?.reject(e);
    this.loadWaiters = null;
    this.setState({ kind: 'failed', modelId: id, error: serializeError(e) });
  }

  private onMessage(w: Worker, m: FromWorker): void {
    if (w !== this.worker) return;
    switch (m.type) {
      case 'header': {
        // Only the load in progress names the model (a replaced or cancelled one's header is stale).
        const s = this.stateValue;
        if (m.load === this.generation && s.kind === 'loading') this.setState({ ...s, modelId: m.modelId, name: m.name });
        break;
      }
      case 'progress': {
        const s = this.stateValue;
        if (s.kind === 'loading') this.setState({ kind: 'loading', modelId: s.modelId, name: s.name, bytesDone: m.bytesDone, bytesTotal: m.bytesTotal, tensor: m.tensor });
        break;
      }
      case 'tuning': {
        this.tuneProgress?.(m.weightType, m.index, m.count);
        const s = this.stateValue;
        if (s.kind === 'loading') this.setState({ ...s, tuning: { weightType: m.weightType, index: m.index, count: m.count } });
        break;
      }
      case 'tuned':
        this.kept.keep(m.record);
        this.recordSession(m.session).catch((e: Error) => void this.api.call('app:log', { level: 'warn', message: `the kernel tuning session was not recorded: ${e.message}` }).catch(() => {}));
        break;
      case 'planned':
        this.recordSession(m.session).catch((e: Error) => void this.api.call('app:log', { level: 'warn', message: `the residency plan was not recorded as a session: ${e.message}` }).catch(() => {}));
        break;
      case 'tune-done': {
        // Types measured now replace the kept ones; the others stay.
        const merged = this.kept.merge(m.record);
        const done = this.tunes.get(m.id);
        this.tunes.delete(m.id);
        void this.recordSession(m.session).then(
          (session) => done?.resolve({ record: merged, timings: m.timings, adapter: m.adapter, session }),
          (e: Error) => done?.resolve({ record: merged, timings: m.timings, adapter: m.adapter, session: null, sessionError: e.message }),
        );
        break;
      }
      case 'tune-error':
        this.tunes.get(m.id)?.reject(new RemoteError(m.error));
        this.tunes.delete(m.id);
        break;
      case 'loaded':
        // A load cancelled as it finished: the worker drops the model on the unload that follows.
        if (this.stateValue.kind !== 'loading') break;
        this.kv.report(m.info.modelId, 0, true);
        this.setState({ kind: 'ready', info: m.info });
        this.loadWaiters?.resolve(m.info);
        this.loadWaiters = null;
        break;
      case 'load-error': {
        const s = this.stateValue;
        if (s.kind !== 'loading') break; // cancelled meanwhile
        this.setState({ kind: 'failed', modelId: s.kind === 'loading' ? s.modelId : null, error: m.error });
        this.loadWaiters?.reject(new RemoteError(m.error));
        this.loadWaiters = null;
        break;
      }
      case 'prefill':
        this.replies.get(m.id)?.cb.onPrefill?.(m.done, m.total);
        break;
      case 'chunk':
        this.replies.get(m.id)?.cb.onChunk(m.text, m.index);
        break;
      case 'done':
        // The map follows the KV cache even when nobody watches the engine live.
        if (this.stateValue.kind === 'ready') {
          const i = this.stateValue.info;
          this.kv.report(i.modelId, allocatedKvBytes(m.result.kvPages, i.contextLength, i.kvBytesPerToken), true);
        }
        this.replies.get(m.id)?.resolve(m.result);
        this.replies.delete(m.id);
        break;
      case 'generate-error':
        this.replies.get(m.id)?.reject(new RemoteError(m.error));
        this.replies.delete(m.id);
        break;
      case 'activity':
        this.setActivity(m.activity);
        break;
      case 'activations':
        this.activationsValue = m.activations;
        this.notifyWatchers();
        break;
      case 'lost': {
        const s = this.stateValue;
        const id = s.kind === 'ready' ? s.info.modelId : s.kind === 'loading' ? s.modelId : null;
        this.terminate();
        this.loadWaiters?.reject(new RemoteError(m.error));
        this.loadWaiters = null;
        this.setState(id ? { kind: 'lost', modelId: id, error: m.error } : { kind: 'failed', modelId: null, error: m.error });
        break;
      }
    }
  }
}
