/**
 * Builds the level-of-detail pyramid of a model's weights regions into the map index
 * (specs/map.md, "Pyramid"). Reads each tensor through a range reader (PixelFS range reads in
 * the app), tensor by tensor in execution order, in chunks of whole quantisation blocks,
 * into a TensorPyramidWriter (decode, the pure TensorPyramid, cells written in small
 * transactions). The import builds the same pyramid from the bytes it stores (one pass); this
 * read-back build is for models imported without it. Memory: one chunk, its decoded values, and the few
 * cells waiting for their siblings. A tensor is marked built in the transaction that writes its
 * last cells, so an interrupted build resumes at the first tensor not yet built.
 */
import { MapError } from '../../shared/map/errors';
import { DEFAULT_HEAT_SIZE, assertHeatSize } from '../../shared/map/pyramid-core';
import { getQuantFormat } from '../../shared/quant';
import type { MapIndex } from './map-index';
import { TensorPyramidWriter } from './tensor-pyramid-writer';

/** Reads `length` bytes of a tensor starting at `byteOffset` (the bytes as stored, i.e. ggml blocks). */
export type RangeReader = (tensorName: string, byteOffset: number, length: number) => Promise<Uint8Array>;

export interface PyramidProgress {
  modelId: string;
  tensor: string;
  tensorIndex: number;
  tensorCount: number;
  /** Bytes of the model's weights handled so far (already-built tensors count as handled). */
  bytesDone: number;
  bytesTotal: number;
}

export interface BuildPyramidOptions {
  index: MapIndex;
  modelId: string;
  read: RangeReader;
  /** Heat image side per cell (even, default 64). */
  heatSize?: number;
  /** Bytes per read, rounded down to whole blocks (default 1 MiB). */
  chunkBytes?: number;
  /** Cells per write transaction (default 32). */
  flushCells?: number;
  /** Rebuild tensors that are already built (default: skip them, which is how a build resumes). */
  rebuild?: boolean;
  onProgress?: (p: PyramidProgress) => void;
  signal?: AbortSignal;
}

export interface BuildPyramidResult {
  tensors: number;
  built: number;
  alreadyBuilt: number;
  skipped: Array<{ name: string; reason: string }>;
  cells: number;
  bytesRead: number;
  peakOpenCells: number;
}

function checkAbort(signal: AbortSignal | undefined, modelId: string): void {
  if (signal?.aborted) throw new MapError('MAP_ABORTED', `pyramid build of ${modelId} was cancelled`, { modelId });
}

export async function buildPyramid(opts: BuildPyramidOptions): Promise<BuildPyramidResult> {
  const { index, modelId, read, signal } = opts;
  const heatSize = opts.heatSize ?? DEFAULT_HEAT_SIZE;
  assertHeatSize(heatSize);
  const chunkBytes = opts.chunkBytes ?? 1 << 20;
  const flushCells = opts.flushCells ?? 32;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1) throw new MapError('MAP_INPUT', `chunkBytes ${chunkBytes} must be a positive integer`);
  if (!Number.isSafeInteger(flushCells) || flushCells < 1) throw new MapError('MAP_INPUT', `flushCells ${flushCells} must be a positive integer`);

  const regions = index.listRegions(modelId).filter((r) => r.kind === 'weights' && r.tensor !== null);
  if (regions.length === 0 && index.listRegions(modelId).length === 0) {
    throw new MapError('MAP_NOT_FOUND', `model ${modelId} is not on the map`, { modelId });
  }
  const bytesTotal = regions.reduce((s, r) => s + r.tensor!.byteSize, 0);
  const result: BuildPyramidResult = { tensors: regions.length, built: 0, alreadyBuilt: 0, skipped: [], cells: 0, bytesRead: 0, peakOpenCells: 0 };
  let bytesDone = 0;

  for (let ti = 0; ti < regions.length; ti++) {
    const region = regions[ti]!;
    const tensor = region.tensor!;
    const progress = (extra: number) =>
      opts.onProgress?.({ modelId, tensor: region.name, tensorIndex: ti, tensorCount: regions.length, bytesDone: bytesDone + extra, bytesTotal });
    checkAbort(signal, modelId);
    if (region.pyramid.state === 'built' && !opts.rebuild) {
      result.alreadyBuilt++;
      bytesDone += tensor.byteSize;
      progress(0);
      continue;
    }
    const w = TensorPyramidWriter.open(index, region, heatSize, flushCells);
    if (!(w instanceof TensorPyramidWriter)) {
      result.skipped.push({ name: region.name, reason: w.skipped });
      bytesDone += tensor.byteSize;
      progress(0);
      continue;
    }
    const bpb = getQuantFormat(tensor.ggmlType).bytesPerBlock;
    const step = Math.max(1, Math.floor(chunkBytes / bpb)) * bpb;
    for (let off = 0; off < tensor.byteSize; off += step) {
      checkAbort(signal, modelId);
      const len = Math.min(step, tensor.byteSize - off);
      const got = await read(region.name, off, len);
      if (!(got instanceof Uint8Array) || got.length < len) {
        throw new MapError('MAP_READ', `reading ${region.name} at ${off}: asked for ${len} bytes, got ${got instanceof Uint8Array ? got.length : typeof got}`, {
          tensor: region.name,
          offset: off,
          length: len,
        });
      }
      w.write(got.subarray(0, len));
      result.bytesRead += len;
      progress(off + len);
    }
    const summary = w.finish();
    bytesDone += tensor.byteSize;
    result.built++;
    result.cells += summary.cells;
    result.peakOpenCells = Math.max(result.peakOpenCells, summary.peakOpenCells);
  }
  return result;
}
