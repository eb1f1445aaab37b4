/**
 * The read view of a stored model: the model as its GGUF byte stream (header, then each tensor
 * followed by its padding, checked against the source's sha256: what export writes and browser
 * mode's download sends), as a random-access ByteSource (the GGUF reader, the engine and the map
 * read a stored model directly), and one tensor's bytes in whichever layout the model is read in.
 */
import type { ByteSource } from '../../shared/binary/byte-source';
import { paddingSegments, type ManifestTensor, type ModelManifest } from '../../shared/model/manifest';
import type { TensorLocation } from './layout';
import { ModelStoreError, throwIfAborted } from './errors';
import { Pipe } from './pipe';
import { sha256, type StoreCore } from './store-core';

/** A stored model as its GGUF file, streamed (ModelReads.ggufStream). */
export interface GgufStream {
  id: string;
  name: string;
  size: number;
  sha256: string;
  /** Tensors in the file (with the header, the files the stream reads). */
  tensorCount: number;
  chunks: AsyncGenerator<Uint8Array>;
}

/** Reads of the stored models of the store that `core` is the state of. */
export class ModelReads {
  constructor(private readonly core: StoreCore) {}

  /**
   * Streams the stored files of `m` in GGUF order: header, then each tensor followed by its
   * padding. Up to `parallel` files are decoded ahead of the one being consumed.
   */
  private async *ggufChunks(m: ModelManifest, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
    const vol = this.core.volume;
    const gaps = paddingSegments(m);
    const padding = m.padding.file ? await vol.read(m.padding.file.name, 0, m.padding.file.size) : null;
    if (padding && sha256(padding) !== m.padding.file!.sha256) {
      throw new ModelStoreError('MODEL_CORRUPT', `${m.padding.file!.name}: sha256 differs from the manifest`, { file: m.padding.file!.name, field: 'sha256' });
    }
    const names = [m.header.name, ...m.tensors.map((t) => t.file)];
    const pipes: { pipe: Pipe; done: Promise<void> }[] = [];
    let started = 0;
    const start = (): void => {
      const name = names[started++]!;
      const pipe = new Pipe();
      // The export loop copies or writes each chunk before it asks for the next (which is when
      // the Pipe acknowledges it), so PixelFS may reuse the chunk's memory: no copy per tile.
      // PixelFS checks every tile's sha256; the file's own sha256 would be a third pass over the
      // bytes that checkedGgufChunks already checks as part of the whole GGUF's sha256 against the source.
      const done = vol.get(name, pipe, { reuseChunks: true, skipFileHash: true }).then(
        () => undefined,
        (e: unknown) => pipe.fail(e),
      );
      pipes.push({ pipe, done });
    };
    let zeros: Uint8Array | null = null;
    let padPos = 0;
    try {
      for (let k = 0; k < names.length; k++) {
        // One file fewer ahead than imports overlap: each get holds a decode window of tiles.
        while (started < names.length && started < k + Math.max(1, this.core.parallel - 1)) start();
        const { pipe, done } = pipes[k]!;
        for await (const chunk of pipe) {
          throwIfAborted(signal, 'export');
          yield chunk;
        }
        await done;
        if (k >= 1) {
          const gap = gaps[k - 1]!;
          if (gap > 0) {
            if (padding) yield padding.subarray(padPos, padPos + gap);
            else {
              if (!zeros || zeros.length < gap) zeros = new Uint8Array(Math.max(gap, 4096));
              yield zeros.subarray(0, gap);
            }
            padPos += gap;
          }
        }
      }
    } finally {
      // Stopped early (error, cancel): let the gets still running unwind, then wait for them.
      const stop = new Error('export stopped');
      for (const p of pipes) p.pipe.abandon(stop);
      await Promise.allSettled(pipes.map((p) => p.done));
    }
  }

  /**
   * `ggufChunks` with every byte hashed on the hash thread on its way out; after the last chunk
   * it throws MODEL_CORRUPT when the count or the sha256 differ from the source's, so a writer
   * that holds back its last bytes until the loop ends never finishes a wrong file. `dest`
   * names where the bytes go, for that error.
   */
  private async *checkedGgufChunks(m: ModelManifest, signal: AbortSignal | undefined, dest: string): AsyncGenerator<Uint8Array> {
    const hasher = this.core.hasher();
    const stream = hasher.stream();
    try {
      let bytes = 0;
      for await (const chunk of this.ggufChunks(m, signal)) {
        await hasher.updateFrom(stream, chunk);
        bytes += chunk.length;
        yield chunk;
      }
      const got = await stream.digest();
      if (bytes !== m.source.size || got !== m.source.sha256) {
        throw new ModelStoreError(
          'MODEL_CORRUPT',
          `export of ${m.name}: wrote ${bytes} bytes with sha256 ${got}, the source had ${m.source.size} bytes with ${m.source.sha256} (pxi verify names the file and tile that differ)`,
          { file: dest, field: 'sha256', value: got },
        );
      }
    } finally {
      stream.drop();
    }
  }

  /**
   * The model as its GGUF file for a reader elsewhere (export, browser mode's download): the
   * model is looked up now (MODEL_NOT_FOUND before any byte), `chunks` then yields the file in
   * order, each chunk valid only until the next is asked for, and throws MODEL_CORRUPT after the
   * last one when the whole does not match the source's sha256 (see checkedGgufChunks). `dest`
   * names where the bytes go, for that error.
   */
  ggufStream(ref: string, signal?: AbortSignal, dest = 'download'): GgufStream {
    const m = this.core.leanManifest(ref);
    return { id: m.id, name: m.name, size: m.source.size, sha256: m.source.sha256, tensorCount: m.tensors.length, chunks: this.checkedGgufChunks(m, signal, dest) };
  }

  /** Bytes of one tensor (`offset`, `length` within it), every tile verified on the way. */
  async readTensor(ref: string, tensor: string, offset = 0, length?: number): Promise<Buffer> {
    const { m, t } = this.tensorOf(ref, tensor);
    return this.core.layouts.read(m, t, offset, length ?? t.bytes - offset);
  }

  /**
   * Where a tensor's bytes are now (its file and offset in the active layout): what the map's
   * region details name and its stored tiles resolve through (specs/map.md §2).
   */
  async tensorLocation(ref: string, tensor: string): Promise<TensorLocation> {
    const { m, t } = this.tensorOf(ref, tensor);
    return this.core.layouts.location(m, t);
  }

  private tensorOf(ref: string, tensor: string): { m: ModelManifest; t: ManifestTensor } {
    const m = this.core.leanManifest(ref);
    const t = m.tensors.find((x) => x.name === tensor);
    if (!t) throw new ModelStoreError('MODEL_NOT_FOUND', `model ${m.name} has no tensor ${JSON.stringify(tensor)}`, { file: m.id, field: 'tensor', value: tensor });
    return { m, t };
  }

  /**
   * The stored model seen as its GGUF file, without exporting it: range reads are served from
   * the header, tensor and padding files (so the GGUF reader, the engine and the map can read a
   * stored model directly).
   */
  ggufSource(ref: string): ByteSource {
    const m = this.core.leanManifest(ref);
    const vol = this.core.volume;
    const gaps = paddingSegments(m);
    // [start, end, file or null (zeros), offset of start inside that file]
    const parts: { start: number; end: number; file: string | null; at: number }[] = [{ start: 0, end: m.header.size, file: m.header.name, at: 0 }];
    let padAt = 0;
    m.tensors.forEach((t, i) => {
      parts.push({ start: t.offset, end: t.offset + t.bytes, file: t.file, at: 0 });
      const g = gaps[i]!;
      if (g > 0) parts.push({ start: t.offset + t.bytes, end: t.offset + t.bytes + g, file: m.padding.file?.name ?? null, at: padAt });
      padAt += g;
    });
    const size = m.source.size;
    return {
      size,
      async read(offset: number, length: number): Promise<Uint8Array> {
        if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
          throw new ModelStoreError('MODEL_NOT_FOUND', `read of ${length} bytes at ${offset} is outside the model's ${size} bytes`, { file: m.id, field: 'range', value: offset });
        }
        const out = new Uint8Array(length);
        let lo = 0;
        let hi = parts.length - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (parts[mid]!.start <= offset) lo = mid;
          else hi = mid - 1;
        }
        for (let k = lo; k < parts.length && parts[k]!.start < offset + length; k++) {
          const p = parts[k]!;
          const from = Math.max(offset, p.start);
          const to = Math.min(offset + length, p.end);
          if (to <= from || p.file === null) continue;
          const b = await vol.read(p.file, p.at + (from - p.start), to - from);
          out.set(b, from - offset);
        }
        return out;
      },
    };
  }
}
