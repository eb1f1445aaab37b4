/**
 * Streams a planned model to a sink: the header, then each tensor chunk by chunk with the zero
 * padding the layout puts after it. The next chunk is generated while the sink writes the last
 * one, and nothing larger than a chunk is held. The sink (a file in Node) is the caller's.
 */
import { ModelGenError } from './errors';
import type { ModelPlan } from './model';
import { DEFAULT_CHUNK_BYTES, tensorChunks } from './weights';

export interface ModelSink {
  /** Appends bytes; the generator does not touch them again. */
  write(bytes: Uint8Array): Promise<void>;
}

export interface GenProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly elapsedMs: number;
  /** Throughput so far in MB/s (10^6 bytes), 0 before any time has passed. */
  readonly mbPerSec: number;
  /** Seconds left at the current rate, undefined before any time has passed. */
  readonly etaSec: number | undefined;
  readonly tensor: string;
  readonly tensorIndex: number;
  readonly tensorCount: number;
  readonly done: boolean;
}

export interface WriteModelOptions {
  readonly chunkBytes?: number;
  /** Called at most every `progressEveryMs` (default 1000) and once at the end. */
  readonly onProgress?: (p: GenProgress) => void;
  readonly progressEveryMs?: number;
  /** Polled between chunks; true stops with MODELGEN_ABORTED. */
  readonly shouldStop?: () => boolean;
  /** Clock in ms (default performance.now). */
  readonly now?: () => number;
}

export interface WriteModelResult {
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly mbPerSec: number;
}

export async function writeModel(plan: ModelPlan, sink: ModelSink, opts: WriteModelOptions = {}): Promise<WriteModelResult> {
  const now = opts.now ?? (() => performance.now());
  const every = opts.progressEveryMs ?? 1000;
  const { layout } = plan;
  const start = now();
  let done = 0;
  let lastReport = -Infinity;
  let pending: Promise<void> = Promise.resolve();

  const report = (tensorIndex: number, final: boolean): void => {
    if (!opts.onProgress) return;
    const t = now();
    if (!final && t - lastReport < every) return;
    lastReport = t;
    const elapsedMs = t - start;
    const rate = elapsedMs > 0 ? done / elapsedMs / 1000 : 0;
    opts.onProgress({
      bytesDone: done,
      bytesTotal: layout.fileSize,
      elapsedMs,
      mbPerSec: rate,
      etaSec: rate > 0 ? (layout.fileSize - done) / (rate * 1e6) : undefined,
      tensor: plan.tensors[Math.min(tensorIndex, plan.tensors.length - 1)]?.name ?? '',
      tensorIndex,
      tensorCount: plan.tensors.length,
      done: final,
    });
  };
  // Writes overlap with generating the next chunk; at most one write is in flight.
  const emit = async (bytes: Uint8Array): Promise<void> => {
    await pending;
    pending = sink.write(bytes);
    done += bytes.length;
  };
  const stopIfAsked = async (): Promise<void> => {
    if (opts.shouldStop?.()) {
      await pending.catch(() => undefined);
      throw new ModelGenError('MODELGEN_ABORTED', `generation of ${plan.preset} stopped after ${done} of ${layout.fileSize} bytes`, {
        bytesDone: done,
      });
    }
  };

  await emit(layout.header);
  for (let i = 0; i < plan.tensors.length; i++) {
    const t = plan.tensors[i]!;
    const place = layout.tensors[i]!;
    const chunks = tensorChunks(t, plan.seed, plan.method, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    let written = 0;
    for (let c = chunks.next(); c !== undefined; c = chunks.next()) {
      await emit(c);
      written += c.length;
      report(i, false);
      await stopIfAsked();
    }
    // A mismatch here is a generator bug: the header already promised these sizes.
    if (written !== place.byteSize || done !== place.offset + place.byteSize) {
      throw new ModelGenError('MODELGEN_DIMS', `tensor ${t.name}: wrote ${written} bytes, the header says ${place.byteSize}`, { tensor: t.name });
    }
    const end = i + 1 < layout.tensors.length ? layout.tensors[i + 1]!.offset : layout.fileSize;
    if (end > done) await emit(new Uint8Array(end - done));
  }
  await pending;
  const elapsedMs = now() - start;
  report(plan.tensors.length - 1, true);
  return { bytes: done, elapsedMs, mbPerSec: elapsedMs > 0 ? done / elapsedMs / 1000 : 0 };
}

/** The whole file in memory, for small models and tests. */
export async function generateModelBytes(plan: ModelPlan, opts: Omit<WriteModelOptions, 'onProgress'> = {}): Promise<Uint8Array> {
  const out = new Uint8Array(plan.layout.fileSize);
  let at = 0;
  await writeModel(plan, {
    write(bytes) {
      out.set(bytes, at);
      at += bytes.length;
      return Promise.resolve();
    },
  }, opts);
  return out;
}
