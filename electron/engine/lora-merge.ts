/**
 * `pxi export MODEL --lora ADAPTER OUT.gguf`: a stored model with a LoRA adapter merged in,
 * written as one GGUF. The header is the imported one byte for byte (every merged tensor keeps
 * its type and size, so no offset moves); each tensor comes from its verified pixel tiles, the
 * adapted ones re-encoded by shared/lora/merge.ts with the requantisation error measured. The
 * file goes through the one durable write.
 */
import { readLoraValues } from '../../shared/engine/lora';
import { mergeLoraTensor, type MergeStats } from '../../shared/lora/merge';
import { withLoraAdapter } from './index';
import { pixelTensorSource } from './pixel-source';
import { writeFileDurableStream } from '../pixelfs/file-ops';
import type { ModelStore } from '../models/store';

export interface MergedTensorReport extends MergeStats {
  name: string;
  type: string;
}

export interface MergeExportResult {
  path: string;
  size: number;
  tensors: MergedTensorReport[];
  seconds: number;
}

export async function exportMergedLora(
  store: ModelStore,
  ref: string,
  adapterPath: string,
  out: string,
  opts: { scale?: number; onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<MergeExportResult> {
  const t0 = performance.now();
  const base = pixelTensorSource(store, ref);
  const m = base.manifest;
  const values = await withLoraAdapter(adapterPath, base, (lora) => readLoraValues(lora.source, lora.adapter, opts.scale ?? 1));
  const header = await store.volume.read(m.header.name, 0, m.header.size);
  const tensors = [...m.tensors].sort((x, y) => x.offset - y.offset);
  const reports: MergedTensorReport[] = [];
  const total = m.source.size;
  const size = await writeFileDurableStream(
    out,
    async (sink) => {
      await sink.write(header);
      let zeros = new Uint8Array(0);
      for (const t of tensors) {
        if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
        const gap = t.offset - sink.bytes;
        if (gap > 0) {
          if (zeros.length < gap) zeros = new Uint8Array(gap);
          await sink.write(zeros.subarray(0, gap));
        }
        let bytes: Uint8Array = await store.readTensor(m.id, t.name, 0, t.bytes);
        const pair = values.get(t.name);
        if (pair) {
          const merged = mergeLoraTensor(adapterPath, t.name, { type: t.type, bytes, rows: pair.rows, cols: pair.cols, a: pair.a, b: pair.b, rank: pair.rank, scale: pair.scale });
          bytes = merged.bytes;
          reports.push({ name: t.name, type: t.type, ...merged.stats });
        }
        await sink.write(bytes);
        opts.onProgress?.(sink.bytes, total);
      }
      return sink.bytes;
    },
    { rolling: true },
  );
  return { path: out, size, tensors: reports, seconds: (performance.now() - t0) / 1000 };
}
