/**
 * Builds the level-of-detail pyramid of a model's weights regions into the map index
 * (specs/map.md, "Pyramid"). Reads each tensor through a range reader (PixelFS range reads in
 * the app), tensor by tensor in execution order, in chunks of whole quantisation blocks;
 * decodes with shared/quant; feeds the values to the pure TensorPyramid, which emits finished
 * cells; writes cells in small transactions. Memory: one chunk, its decoded values, and the few
 * cells waiting for their siblings. A tensor is marked built in the transaction that writes its
 * last cells, so an interrupted build resumes at the first tensor not yet built.
 */
import { MapError } from '../../shared/map/errors';
import { DEFAULT_HEAT_SIZE, TensorPyramid, assertHeatSize, type PyramidCell } from '../../shared/map/pyramid-core';
import { getQuantFormat, isQuantTypeName } from '../../shared/quant';
import type { MapIndex } from './map-index';

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
    if (!isQuantTypeName(tensor.ggmlType)) {
      const reason = `ggml type ${tensor.ggmlType} has no dequantiser`;
      index.skipPyramid(region.id, reason);
      result.skipped.push({ name: region.name, reason });
      bytesDone += tensor.byteSize;
      progress(0);
      continue;
    }
    const fmt = getQuantFormat(tensor.ggmlType);
    const n = tensor.dims.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(n) || n % fmt.blockSize !== 0 || (n / fmt.blockSize) * fmt.bytesPerBlock !== tensor.byteSize) {
      throw new MapError('MAP_INPUT', `tensor ${region.name}: ${n} ${tensor.ggmlType} values do not occupy ${tensor.byteSize} bytes`, {
        tensor: region.name,
        dims: tensor.dims,
        byteSize: tensor.byteSize,
      });
    }

    index.beginPyramid(region.id, heatSize);
    let pending: PyramidCell[] = [];
    const pyr = new TensorPyramid(region.grid, fmt, tensor.byteSize, heatSize, (c) => {
      pending.push(c);
      if (pending.length >= flushCells) {
        index.writeCells(region.id, pending);
        pending = [];
      }
    });
    const step = Math.max(1, Math.floor(chunkBytes / fmt.bytesPerBlock)) * fmt.bytesPerBlock;
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
      // A plain Uint8Array view: Node Buffers (PixelFS returns them) have a slice() that does
      // not copy, which typed-array code that calls slice() to realign does not expect.
      const bytes = new Uint8Array(got.buffer, got.byteOffset, len);
      pyr.push(fmt.dequantize(bytes, (len / fmt.bytesPerBlock) * fmt.blockSize));
      result.bytesRead += len;
      progress(off + len);
    }
    const summary = pyr.finish();
    index.writeCells(region.id, pending, summary);
    pending = [];
    bytesDone += tensor.byteSize;
    result.built++;
    result.cells += summary.cells;
    result.peakOpenCells = Math.max(result.peakOpenCells, summary.peakOpenCells);
  }
  return result;
}
