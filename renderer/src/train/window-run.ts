/**
 * Training in this window's WebGPU (specs/training.md, "The Training view", window runs): the
 * step loop of shared/train/loop.ts — the same loop, trainer and kernels the services run on
 * Dawn — on the page's own device, with its data and checkpoints in the services:
 *
 * - token windows from `train:window-batches` (int32 bytes, a few steps ahead), the validation
 *   windows once;
 * - every event to `train:window-event` (in order), which records it and re-broadcasts it as
 *   `train:event`, so the run list and the curves follow a window run as a background one; the
 *   answer carries pause/cancel requests (from this window or any other);
 * - every checkpoint in chunks (`train:window-put`) then `train:window-commit`: the services
 *   write it in the PixelFS format of a background run's, so either kind resumes the other;
 * - a ping every few seconds while it runs: a window that goes silent (closed, crashed) shows as
 *   paused at its last checkpoint.
 *
 * The loop runs on the page's main thread: every GPU call is asynchronous, and the CPU's share of
 * a step (the micro-batch's embedding index, the read-back of the row losses) is small.
 */
import { PxiError } from '../../../shared/errors';
import type { GpuContext } from '../../../shared/gpu';
import { TRAIN_LIMITS, type TrainEventInfo, type WindowSessionInfo } from '../../../shared/ipc/channels/train';
import type { PxiApi } from '../../../shared/ipc/client';
import type { Request } from '../../../shared/ipc/contract';
import { parseTrainedTokenizer, tokenizerMetadata } from '../../../shared/tokenizer-train';
import { TrainError } from '../../../shared/train/errors';
import { trainLoop, type CheckpointData, type CheckpointState, type LoopData, type TrainEvent } from '../../../shared/train/loop';
import { seqLenOf } from '../../../shared/train/recipe';
import { greedySample } from '../../../shared/train/sample';

type Api = Pick<PxiApi, 'call'>;

export type WindowRunOutcome = { state: 'succeeded' } | { state: 'paused' } | { state: 'failed'; error: { code: string; message: string } };

export interface WindowRunOptions {
  /** Every event of the loop, as it happens (before it is sent). */
  onEvent?: (e: TrainEvent) => void;
  /** Milliseconds between pings while running (default 5000). */
  pingMs?: number;
  /** Where problems that do not stop the run are reported (default console.warn). */
  warn?: (message: string) => void;
}

function int32(bytes: Uint8Array): Int32Array {
  return new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** The session's token windows over IPC: steps fetched `ahead` at a time, the next batch asked for before it is needed. */
export function ipcLoopData(api: Api, s: WindowSessionInfo): LoopData {
  const r = s.recipe;
  const perBatch = r.train.batch * (seqLenOf(r) + 1);
  const perStep = perBatch * r.train.accum;
  const ahead = Math.max(1, Math.min(TRAIN_LIMITS.batchSteps, Math.floor(TRAIN_LIMITS.chunkBytes / (perStep * 4))));
  const ref = { run: s.run, session: s.session };
  const pending = new Map<number, Promise<Int32Array[]>>();
  const fetch = (from: number) => {
    const count = Math.min(ahead, r.train.steps - from + 1);
    if (count < 1) return;
    const all = api.call('train:window-batches', { ...ref, kind: 'train', from, count }).then((a) => {
      if (a.batches !== count || a.tokens.byteLength !== count * perStep * 4) {
        throw new PxiError('IPC_INVALID_RESPONSE', `train:window-batches from step ${from}: ${a.batches} steps in ${a.tokens.byteLength} bytes, expected ${count} in ${count * perStep * 4}`);
      }
      return int32(a.tokens);
    });
    for (let k = 0; k < count; k++) {
      pending.set(
        from + k,
        all.then((t) => Array.from({ length: r.train.accum }, (_, i) => t.slice((k * r.train.accum + i) * perBatch, (k * r.train.accum + i + 1) * perBatch))),
      );
    }
  };
  let valid: Promise<Int32Array[]> | null = null;
  return {
    async stepBatches(step) {
      if (!pending.has(step)) fetch(step);
      // Ask for the next steps while these train.
      const next = step + Math.ceil(ahead / 2);
      if (next <= r.train.steps && !pending.has(next)) fetch(next);
      const got = pending.get(step)!;
      pending.delete(step);
      for (const k of pending.keys()) if (k < step) pending.delete(k);
      return got;
    },
    validBatches() {
      valid ??= (async () => {
        const out: Int32Array[] = [];
        while (out.length < s.validBatches) {
          const a = await api.call('train:window-batches', { ...ref, kind: 'valid', from: out.length, count: Math.min(TRAIN_LIMITS.batchSteps, Math.max(1, Math.floor(TRAIN_LIMITS.chunkBytes / (perBatch * 4)))) });
          if (a.batches === 0) break;
          const t = int32(a.tokens);
          for (let i = 0; i < a.batches; i++) out.push(t.slice(i * perBatch, (i + 1) * perBatch));
        }
        return out;
      })();
      return valid;
    },
  };
}

/** Reads the session's checkpoint back from the services (chunked), or null for a fresh start. */
export async function readSessionCheckpoint(api: Api, s: WindowSessionInfo): Promise<CheckpointData | null> {
  const c = s.checkpoint;
  if (!c) return null;
  const read = async (file: 'params' | 'optim' | 'state', total: number) => {
    const out = new Uint8Array(total);
    for (let at = 0; at < total; at += TRAIN_LIMITS.chunkBytes) {
      const length = Math.min(TRAIN_LIMITS.chunkBytes, total - at);
      const r = await api.call('train:window-read', { run: s.run, session: s.session, step: c.step, file, offset: at, length });
      if (r.bytes.byteLength !== length) throw new PxiError('IPC_INVALID_RESPONSE', `train:window-read of ${file}: ${r.bytes.byteLength} bytes, expected ${length}`);
      out.set(r.bytes, at);
    }
    return out;
  };
  const params = await read('params', c.params);
  const optim = await read('optim', c.optim);
  const state = JSON.parse(new TextDecoder().decode(await read('state', c.state))) as CheckpointState;
  const n = params.byteLength / 4;
  if (optim.byteLength !== 8 * n || state.step !== c.step || state.paramTotal !== n) {
    throw new TrainError('TRAIN_CHECKPOINT', `the checkpoint of step ${c.step} read back does not fit: ${n} values, ${optim.byteLength} bytes of optimizer state, state of step ${state.step}`);
  }
  return { state, params: new Float32Array(params.buffer), m: new Float32Array(optim.buffer, 0, n), v: new Float32Array(optim.buffer, n * 4, n) };
}

/** An event as the contract carries it (non-finite figures left out or zeroed, a long sample cut). */
function wireEvent(e: TrainEvent): TrainEventInfo | null {
  switch (e.kind) {
    case 'step':
      if (![e.loss, e.lr, e.gradNorm, e.tokensPerSec].every(Number.isFinite)) return null;
      return Number.isFinite(e.etaSec) ? e : { ...e, etaSec: 0 };
    case 'valid':
      return Number.isFinite(e.loss) ? e : null;
    case 'sample':
      return { ...e, text: e.text.slice(0, TRAIN_LIMITS.sampleChars) };
    default:
      return e;
  }
}

/**
 * One window session of a run, on `ctx`, until the loop ends, is paused or cancelled (by
 * `stop()` or a stop in the services' answers), or fails. Resolves with how it ended, after the
 * services were told.
 */
export class WindowRun {
  readonly run: string;
  readonly done: Promise<WindowRunOutcome>;
  private readonly abort = new AbortController();
  private cancelled = false;
  private events: Promise<void> = Promise.resolve();
  private stale = false;

  constructor(
    private readonly api: Api,
    private readonly ctx: GpuContext,
    readonly session: WindowSessionInfo,
    private readonly opts: WindowRunOptions = {},
  ) {
    this.run = session.run;
    this.done = this.main();
  }

  /** Asks the loop to stop: `pause` checkpoints the step it reached first, `cancel` does not. */
  stop(kind: 'pause' | 'cancel'): void {
    if (kind === 'cancel') this.cancelled = true;
    this.abort.abort();
  }

  /** The page is going away: the services are told the run paused (its last checkpoint stands), the loop stops. */
  leave(): void {
    if (this.stale) return;
    this.stale = true;
    this.abort.abort();
    void this.api.call('train:window-ping', { ...this.ref, state: 'paused' }).catch(() => undefined);
  }

  private get ref() {
    return { run: this.session.run, session: this.session.session };
  }

  private warn(m: string): void {
    (this.opts.warn ?? ((x: string) => console.warn(x)))(m);
  }

  private heard(stop: 'pause' | 'cancel' | null): void {
    if (stop) this.stop(stop);
  }

  private failedCall(what: string, e: unknown): void {
    if ((e as { code?: string }).code === 'TRAIN_WINDOW_STALE') {
      // The run went elsewhere (resumed in the background, cancelled, services restarted): stop quietly.
      this.stale = true;
      this.stop('cancel');
      return;
    }
    this.warn(`window run ${this.run}: ${what}: ${(e as Error).message}`);
  }

  private send(e: TrainEvent): void {
    this.opts.onEvent?.(e);
    const event = wireEvent(e);
    if (!event) return;
    this.events = this.events.then(
      () =>
        this.api.call('train:window-event', { ...this.ref, event }).then(
          (r) => this.heard(r.stop),
          (err: unknown) => this.failedCall(`event ${e.kind} of step ${e.step} not recorded`, err),
        ),
      () => undefined,
    );
  }

  private async sink(c: CheckpointData): Promise<void> {
    if (this.cancelled) throw new TrainError('TRAIN_ABORTED', `window run ${this.run} was cancelled`);
    const step = c.state.step;
    const optim = new Uint8Array(c.m.byteLength + c.v.byteLength);
    optim.set(new Uint8Array(c.m.buffer, c.m.byteOffset, c.m.byteLength), 0);
    optim.set(new Uint8Array(c.v.buffer, c.v.byteOffset, c.v.byteLength), c.m.byteLength);
    const files: [Request<'train:window-put'>['file'], Uint8Array][] = [
      ['params', new Uint8Array(c.params.buffer, c.params.byteOffset, c.params.byteLength)],
      ['optim', optim],
      ['state', new TextEncoder().encode(JSON.stringify(c.state))],
    ];
    for (const [file, bytes] of files) {
      for (let offset = 0; offset < bytes.byteLength; offset += TRAIN_LIMITS.chunkBytes) {
        // A copy that owns its buffer: a structured clone of a view would carry the whole buffer.
        const part = bytes.slice(offset, Math.min(bytes.byteLength, offset + TRAIN_LIMITS.chunkBytes));
        await this.api.call('train:window-put', { ...this.ref, step, file, offset, total: bytes.byteLength, bytes: part });
      }
    }
    await this.api.call('train:window-commit', { ...this.ref, step });
  }

  private async main(): Promise<WindowRunOutcome> {
    const s = this.session;
    const ping = setInterval(() => {
      void this.api.call('train:window-ping', { ...this.ref, state: 'running' }).then(
        (r) => this.heard(r.stop),
        (e: unknown) => this.failedCall('ping', e),
      );
    }, this.opts.pingMs ?? 5000);
    let outcome: WindowRunOutcome;
    try {
      const meta = tokenizerMetadata(parseTrainedTokenizer(JSON.parse(s.tokenizer), `tokenizer of ${s.run}`));
      const resume = await readSessionCheckpoint(this.api, s);
      await trainLoop({
        recipe: s.recipe,
        run: s.run,
        ctx: this.ctx,
        data: ipcLoopData(this.api, s),
        resume,
        sink: (c) => this.sink(c),
        sample: (params, state) => greedySample(this.ctx, s.recipe, params, meta, state),
        signal: this.abort.signal,
        onEvent: (e) => this.send(e),
        resumeHint: ': resume it here or in the background',
      });
      outcome = { state: 'succeeded' };
    } catch (e) {
      const err = e as PxiError;
      outcome = err.code === 'TRAIN_ABORTED' || this.stale ? { state: 'paused' } : { state: 'failed', error: { code: err.code ?? 'TRAIN_FAILED', message: String(err.message ?? e).slice(0, 4000) } };
    } finally {
      clearInterval(ping);
    }
    await this.events;
    if (!this.stale) {
      try {
        await this.api.call('train:window-ping', { ...this.ref, ...outcome });
      } catch (e) {
        if ((e as { code?: string }).code !== 'TRAIN_WINDOW_STALE') this.warn(`window run ${this.run}: its end was not recorded: ${(e as Error).message}`);
      }
    }
    return outcome;
  }
}
