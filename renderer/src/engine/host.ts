/**
 * The renderer's engine, seen from the UI thread: a worker runs the WGSL engine (device, model,
 * generation); this side answers its tensor reads through the IPC API (engine:header,
 * engine:read) and turns its messages into promises and callbacks. One instance serves the
 * whole renderer, so a loaded model survives switching views.
 *
 * A lost device (driver reset, GPU process crash) ends the worker: the host reports it, and
 * `reload()` starts a fresh worker and loads the same model again.
 */
import { PxiError, RemoteError, serializeError, type SerializedError } from '../../../shared/errors';
import type { PxiApi } from '../../../shared/ipc/client';
import type { FromWorker, GenerationMode, GenerationSettings, LoadedInfo, ReplyResult, ToWorker } from './protocol';

export type EngineState =
  | { kind: 'empty' }
  | { kind: 'loading'; modelId: string; name: string; bytesDone: number; bytesTotal: number; tensor: string }
  | { kind: 'ready'; info: LoadedInfo }
  | { kind: 'failed'; modelId: string | null; error: SerializedError }
  | { kind: 'lost'; modelId: string; error: SerializedError };

export interface ReplyCallbacks {
  onChunk(text: string, tokenIndex: number): void;
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
  private loadWaiters: { resolve: (i: LoadedInfo) => void; reject: (e: Error) => void } | null = null;
  private contextLength: number | undefined;
  /** Bumped per load: read answers for an earlier load are dropped. */
  private generation = 0;

  constructor(
    private readonly api: PxiApi,
    private readonly createWorker: () => Worker = () => new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'pxi-engine' }),
  ) {}

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

  get busy(): boolean {
    return this.replies.size > 0;
  }

  /** Loads model `ref` (id or name) in the worker; resolves when it is on the GPU. */
  async load(ref: string, opts: { contextLength?: number } = {}): Promise<LoadedInfo> {
    this.contextLength = opts.contextLength;
    const gen = ++this.generation;
    this.failReplies(new PxiError('ENGINE_DESTROYED', 'the model was replaced before the reply finished'));
    this.loadWaiters?.reject(new PxiError('ENGINE_DESTROYED', 'another model load started'));
    this.loadWaiters = null;
    this.setState({ kind: 'loading', modelId: ref, name: ref, bytesDone: 0, bytesTotal: 0, tensor: '' });
    try {
      const header = await this.api.call('engine:header', { model: ref });
      if (gen !== this.generation) throw new PxiError('ENGINE_DESTROYED', 'another model load started');
      this.setState({ kind: 'loading', modelId: header.id, name: header.name, bytesDone: 0, bytesTotal: 0, tensor: '' });
      const done = new Promise<LoadedInfo>((resolve, reject) => (this.loadWaiters = { resolve, reject }));
      this.send({ type: 'load', header, ...(opts.contextLength ? { contextLength: opts.contextLength } : {}) });
      return await done;
    } catch (e) {
      if (gen === this.generation) this.setState({ kind: 'failed', modelId: ref, error: serializeError(e) });
      throw e;
    }
  }

  /** After a lost device or a crashed worker: a fresh worker, the same model. */
  reload(): Promise<LoadedInfo> {
    const s = this.stateValue;
    const id = s.kind === 'lost' || s.kind === 'failed' ? s.modelId : s.kind === 'ready' ? s.info.modelId : s.kind === 'loading' ? s.modelId : null;
    if (!id) return Promise.reject(new PxiError('ENGINE_DESTROYED', 'there is no model to reload'));
    this.terminate();
    return this.load(id, this.contextLength === undefined ? {} : { contextLength: this.contextLength });
  }

  /** Streams a reply; resolves with its result (stopReason 'aborted' after stop()). */
  generate(mode: GenerationMode, text: string, settings: GenerationSettings, cb: ReplyCallbacks, system?: string): Promise<ReplyResult> {
    if (this.stateValue.kind !== 'ready') return Promise.reject(new PxiError('ENGINE_DESTROYED', 'no model is loaded: choose a model first'));
    const id = this.nextReply++;
    return new Promise<ReplyResult>((resolve, reject) => {
      this.replies.set(id, { resolve, reject, cb });
      this.send({ type: 'generate', id, mode, text, settings, ...(system ? { system } : {}) });
    });
  }

  stop(): void {
    this.worker?.postMessage({ type: 'stop' } satisfies ToWorker);
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
    this.failReplies(new PxiError('ENGINE_DESTROYED', 'the engine was stopped'));
  }

  private send(msg: ToWorker): void {
    if (!this.worker) {
      const w = this.createWorker();
      w.addEventListener('message', (ev: MessageEvent<FromWorker>) => this.onMessage(w, ev.data));
      // An uncaught error or a failed module load ends the worker's usefulness: say so.
      w.addEventListener('error', (ev) => this.onCrash(w, new PxiError('ENGINE_WORKER_FAILED', `the engine worker failed: ${ev.message || 'it could not start'}`)));
      this.worker = w;
    }
    this.worker.postMessage(msg);
  }

  private failReplies(e: Error): void {
    for (const p of this.replies.values()) p.reject(e);
    this.replies.clear();
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
      case 'read':
        void this.answerRead(w, m);
        break;
      case 'progress': {
        const s = this.stateValue;
        if (s.kind === 'loading') this.setState({ ...s, bytesDone: m.bytesDone, bytesTotal: m.bytesTotal, tensor: m.tensor });
        break;
      }
      case 'loaded':
        this.setState({ kind: 'ready', info: m.info });
        this.loadWaiters?.resolve(m.info);
        this.loadWaiters = null;
        break;
      case 'load-error': {
        const s = this.stateValue;
        this.setState({ kind: 'failed', modelId: s.kind === 'loading' ? s.modelId : null, error: m.error });
        this.loadWaiters?.reject(new RemoteError(m.error));
        this.loadWaiters = null;
        break;
      }
      case 'chunk':
        this.replies.get(m.id)?.cb.onChunk(m.text, m.index);
        break;
      case 'done':
        this.replies.get(m.id)?.resolve(m.result);
        this.replies.delete(m.id);
        break;
      case 'generate-error':
        this.replies.get(m.id)?.reject(new RemoteError(m.error));
        this.replies.delete(m.id);
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

  private async answerRead(w: Worker, m: Extract<FromWorker, { type: 'read' }>): Promise<void> {
    let reply: ToWorker;
    try {
      const { bytes } = await this.api.call('engine:read', { model: m.model, tensor: m.tensor, offset: m.offset, length: m.length });
      reply = { type: 'read-result', id: m.id, base64: bytes };
    } catch (e) {
      reply = { type: 'read-error', id: m.id, error: serializeError(e) };
    }
    if (w === this.worker) w.postMessage(reply);
  }
}
