/**
 * Streams a planned model to a sink: the header, then each tensor chunk by chunk with the
 * padding the layout puts after it (zeros unless the plan fills it), then any trailing bytes.
 * The next chunk is generated while the sink writes the last one, and nothing larger than a
 * chunk is held. The sink (a file in Node) is the caller's.
 */
import { ModelGenError } from './errors';
import { modelFileSize, type ModelPlan } from './model';
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

/** One piece of the file in write order; `chunk` marks tensor data (progress and stop points). */
interface FilePiece {
  readonly bytes: Uint8Array;
  readonly tensorIndex: number;
  readonly chunk: boolean;
}

/** Padding byte at file offset `at` when the plan fills its padding (GenFileOptions.fillPadding). */
const paddingByte = (at: number): number => 0xa0 + (at % 7);
/** The i-th trailing byte (GenFileOptions.trailingBytes). */
const trailingByte = (i: number): number => (i * 31 + 7) & 0xff;

/**
 * The file's bytes in order, made as they are asked for: the header, then each tensor chunk by
 * chunk with the padding the layout puts after it, then any trailing bytes. Checks each tensor's
 * byte count against the header.
 */
function* filePieces(plan: ModelPlan, chunkBytes: number): Generator<FilePiece> {
  const { layout } = plan;
  yield { bytes: layout.header, tensorIndex: 0, chunk: false };
  let at = layout.header.length;
  for (let i = 0; i < plan.tensors.length; i++) {
    const t = plan.tensors[i]!;
    const place = layout.tensors[i]!;
    const chunks = tensorChunks(t, plan.seed, plan.method, chunkBytes);
    let written = 0;
    for (let c = chunks.next(); c !== undefined; c = chunks.next()) {
      yield { bytes: c, tensorIndex: i, chunk: true };
      written += c.length;
      at += c.length;
    }
    // A mismatch here is a generator bug: the header already promised these sizes.
    if (written !== place.byteSize || at !== place.offset + place.byteSize) {
      throw new ModelGenError('MODELGEN_DIMS', `tensor ${t.name}: wrote ${written} bytes, the header says ${place.byteSize}`, { tensor: t.name });
    }
    const end = i + 1 < layout.tensors.length ? layout.tensors[i + 1]!.offset : layout.fileSize;
    if (end > at) {
      const pad = new Uint8Array(end - at);
      if (plan.fillPadding) for (let j = 0; j < pad.length; j++) pad[j] = paddingByte(at + j);
      yield { bytes: pad, tensorIndex: i, chunk: false };
      at = end;
    }
  }
  if (plan.trailingBytes > 0) {
    yield { bytes: Uint8Array.from({ length: plan.trailingBytes }, (_, j) => trailingByte(j)), tensorIndex: plan.tensors.length - 1, chunk: false };
  }
}

export async function writeModel(plan: ModelPlan, sink: ModelSink, opts: WriteModelOptions = {}): Promise<WriteModelResult> {
  const now = opts.now ?? (() => performance.now());
  const every = opts.progressEveryMs ?? 1000;
  const total = modelFileSize(plan);
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
      bytesTotal: total,
      elapsedMs,
      mbPerSec: rate,
      etaSec: rate > 0 ? (total - done) / (rate * 1e6) : undefined,
      tensor: plan.tensors[Math.min(tensorIndex, plan.tensors.length - 1)]?.name ?? '',
      tensorIndex,
      tensorCount: plan.tensors.length,
      done: final,
    });
  };
  const stopIfAsked = async (): Promise<void> => {
    if (opts.shouldStop?.()) {
      await pending.catch(() => undefined);
      throw new ModelGenError('MODELGEN_ABORTED', `generation of ${plan.preset} stopped after ${done} of ${total} bytes`, {
        bytesDone: done,
      });
    }
  };

  // Writes overlap with generating the next piece; at most one write is in flight.
  for (const piece of filePieces(plan, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES)) {
    await pending;
    pending = sink.write(piece.bytes);
    done += piece.bytes.length;
    if (piece.chunk) {
      report(piece.tensorIndex, false);
      await stopIfAsked();
    }
  }
  await pending;
  const elapsedMs = now() - start;
  report(plan.tensors.length - 1, true);
  return { bytes: done, elapsedMs, mbPerSec: elapsedMs > 0 ? done / elapsedMs / 1000 : 0 };
}

/** The whole file in memory, for small models and tests. */
export async function generateModelBytes(plan: ModelPlan, opts: Omit<WriteModelOptions, 'onProgress'> = {}): Promise<Uint8Array> {
  const out = new Uint8Array(modelFileSize(plan));
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

/** The whole file in memory, synchronously (small models in tests that build files in setup). */
export function generateModelBytesSync(plan: ModelPlan, opts: { readonly chunkBytes?: number } = {}): Uint8Array {
  const out = new Uint8Array(modelFileSize(plan));
  let at = 0;
  for (const piece of filePieces(plan, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES)) {
    out.set(piece.bytes, at);
    at += piece.bytes.length;
  }
  return out;
}
