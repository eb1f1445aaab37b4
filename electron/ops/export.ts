/**
 * The export use case, written once for `pxi export` and the `model.export` task: a stored model
 * written back as the GGUF file it was imported from, byte for byte, through the project's one
 * durable write (a temp file beside OUT, checked against the source's sha256 as it streams,
 * fsynced, renamed), refused up front when OUT exists or cannot fit. What a rerun of a killed
 * export needs (its temp files removed, a finished file recognised) is here too.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ModelStoreError } from '../models/errors';
import { RateMeter } from '../models/progress';
import type { ModelStore } from '../models/store';
import type { OperationProgress } from '../models/types';
import { checkFreeSpace, mapNoSpace, writeFileDurableStream } from '../pixelfs/index';

export interface ExportOptions {
  /** Replace an existing output file. */
  overwrite?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: OperationProgress) => void;
}

export interface ExportResult {
  path: string;
  size: number;
  sha256: string;
  seconds: number;
}

/**
 * Writes the model back as a GGUF file byte-identical to the imported one: to a temp file in
 * the destination folder, checked against the source sha256, fsynced, then renamed.
 */
export async function exportModel(store: ModelStore, ref: string, outPath: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const t0 = performance.now();
  const out = path.resolve(outPath);
  // The model is looked up first (MODEL_NOT_FOUND before anything else); no byte is read until the write pulls the chunks.
  const gguf = store.exportStream(ref, opts.signal, out);
  if (!opts.overwrite) {
    const exists = await fs.stat(out).then(
      () => true,
      () => false,
    );
    if (exists) throw new ModelStoreError('MODEL_EXPORT_EXISTS', `${out} exists (pass overwrite to replace it)`, { file: out, field: 'out', value: out });
  }
  // Refuse up front when the output cannot fit; an ENOSPC that comes anyway is mapped below.
  const outDir = path.dirname(out);
  await checkFreeSpace(outDir, gguf.size, `exporting ${gguf.name} to ${out}`, store.freeBytes);
  // Through the project's one durable write (temp beside OUT, fsync, rename, fsync the folder);
  // a mismatch throws inside (after the last chunk), so the temp goes and OUT is untouched.
  const pos = await writeFileDurableStream(
    out,
    async (sink) => {
      const meter = new RateMeter();
      let last = -Infinity;
      for await (const chunk of gguf.chunks) {
        await sink.write(chunk);
        const now = performance.now();
        if (opts.onProgress && now - last >= 250) {
          last = now;
          opts.onProgress({ bytesDone: sink.bytes, bytesTotal: gguf.size, ...meter.sample(sink.bytes, gguf.size), filesDone: 0, fileCount: gguf.tensorCount + 1 });
        }
      }
      return sink.bytes;
    },
    { rolling: true, direct: true, ops: store.fileOps },
  ).catch((e: unknown) => {
    throw mapNoSpace(e, outDir, `exporting ${gguf.name} to ${out}`, gguf.size);
  });
  return { path: out, size: pos, sha256: gguf.sha256, seconds: (performance.now() - t0) / 1000 };
}

/** The sha256 of a whole file, read in 8 MiB chunks (stops with the signal's reason when aborted). */
async function sha256File(file: string, signal: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  const fh = await fs.open(file, 'r');
  try {
    const b = Buffer.allocUnsafe(8 << 20);
    for (let pos = 0; ; ) {
      if (signal.aborted) throw signal.reason;
      const { bytesRead } = await fh.read(b, 0, b.length, pos);
      if (bytesRead === 0) break;
      h.update(b.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/** True when `out` is already the finished export of a model of `size` bytes and `sha256` (a killed run may have renamed it into place just before dying). */
export async function finishedExport(out: string, size: number, sha256: string, signal: AbortSignal): Promise<boolean> {
  const st = await fs.stat(out).catch(() => null);
  return st?.isFile() === true && st.size === size && (await sha256File(out, signal)) === sha256;
}

/** Removes `.OUT.pxpart-*` temp files an interrupted export to `out` left behind. */
export async function removeExportLeftovers(out: string): Promise<number> {
  const dir = path.dirname(out);
  const prefix = `.${path.basename(out)}.pxpart-`;
  let n = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (name.startsWith(prefix)) {
      await fs.unlink(path.join(dir, name)).catch(() => undefined);
      n++;
    }
  }
  return n;
}
