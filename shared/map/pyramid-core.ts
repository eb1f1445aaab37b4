/**
 * The pure core of the level-of-detail pyramid of one tensor: it takes the tensor's decoded
 * values (or, for some quantised types, its stored blocks) in order and emits every cell (level 0 =
 * one per stored tile, then the 2x2 merges of pyramid-levels.ts) with exact statistics and a heat
 * image, holding only the cells still waiting for children. Q4_K's blocks go through WebAssembly
 * where it runs (q4k-runs.wat), with the same figures as the JavaScript route (pyramid-codes.ts).
 *
 * Where a value sits: value v of a type storing `blockSize` values in `bytesPerBlock` bytes is
 * attributed to byte p(v) = floor(v · bytesPerBlock / blockSize) of the tensor (exactly its byte
 * for F32/F16/BF16; a quantised block's values spread evenly over the block's bytes). Byte p is
 * in tile floor(p / capacity), pixel floor((p mod capacity) / 4) of that tile in row-major order
 * (PixelFS's layout). The heat image of a cell is heatSize x heatSize pixels over the cell's
 * nominal square; a heat pixel holds the mean of the values whose pixels fall in it (NaN where
 * none do: beyond the tensor's end, or past the grid for edge cells). A parent's heat pixel is
 * the count-weighted mean of its 2x2 child heat pixels, i.e. exactly the mean of its values.
 *
 * How the figures are summed, bit for bit whatever the chunks pushed, is pyramid-runs.ts's file
 * comment; how Q4_K, Q6_K and Q8_0 blocks give them from their integer codes, pyramid-codes.ts's.
 * This module is the pyramid's face: its shapes, the checks on what is pushed, and the summary.
 */
import { MapError } from './errors';
import { q4kRunKernel } from './q4k-runs';
import { CODE_PACKING, CODE_STATS_TYPES, CodeStats, type CodeType } from './pyramid-codes';
import { PyramidRuns } from './pyramid-runs';
import { tileCapacity, type TileGrid } from './regions';
import type { ValueStats } from './stats';

export interface TensorPyramidOptions {
  /** Q4_K's code statistics through WebAssembly where it runs (default) or, false, JavaScript. */
  q4kWasm?: boolean;
}

/** How a ggml type packs values: `blockSize` values in `bytesPerBlock` bytes. */
export interface ElementPacking {
  blockSize: number;
  bytesPerBlock: number;
}

export interface PyramidCell {
  level: number;
  col: number;
  row: number;
  stats: ValueStats;
  /** heatSize² means, row-major; NaN where no value falls. */
  heat: Float32Array<ArrayBuffer>;
}

export interface TensorPyramidSummary {
  stats: ValueStats;
  /** Range of the level-0 heat means (the finest image); ±Infinity when there is none. */
  heatMin: number;
  heatMax: number;
  levels: number;
  cells: number;
  /** Most cells held open at once (memory is bounded by this, not by the tensor's size). */
  peakOpenCells: number;
}

export const DEFAULT_HEAT_SIZE = 64;

export function assertHeatSize(h: number): void {
  if (!Number.isInteger(h) || h < 2 || h > 1024 || h % 2 !== 0) {
    throw new MapError('MAP_INPUT', `heat size ${h} must be an even integer in 2..1024`, { heatSize: h });
  }
}

/** The byte a value is attributed to (see the file comment). */
export function valueByte(v: number, p: ElementPacking): number {
  return Math.floor((v * p.bytesPerBlock) / p.blockSize);
}

export class TensorPyramid {
  readonly elementCount: number;
  private next = 0;
  private finished = false;
  /** How values came: none yet, push() (decoded values) or pushBlocks() (codes); never both. */
  private mode: 'none' | 'values' | 'codes' = 'none';
  /** The open tile and run (pyramid-runs.ts). */
  private readonly runs: PyramidRuns;
  /** The code statistics route (pyramid-codes.ts). */
  private readonly codes: CodeStats;

  constructor(
    grid: TileGrid,
    private readonly packing: ElementPacking,
    readonly byteSize: number,
    heatSize: number,
    emit: (cell: PyramidCell) => void,
    opts: TensorPyramidOptions = {},
  ) {
    const q4k = opts.q4kWasm === false ? null : q4kRunKernel();
    assertHeatSize(heatSize);
    const { blockSize, bytesPerBlock } = packing;
    if (!Number.isSafeInteger(blockSize) || blockSize < 1 || !Number.isSafeInteger(bytesPerBlock) || bytesPerBlock < 1) {
      throw new MapError('MAP_INPUT', `element packing ${blockSize}/${bytesPerBlock} is not valid`, { ...packing });
    }
    if (!Number.isSafeInteger(byteSize) || byteSize < 0 || byteSize % bytesPerBlock !== 0) {
      throw new MapError('MAP_INPUT', `byte size ${byteSize} is not a whole number of ${bytesPerBlock}-byte blocks`, { byteSize, bytesPerBlock });
    }
    const cap = tileCapacity(grid.tileWidth, grid.tileHeight);
    const tiles = Math.ceil(byteSize / cap);
    if (tiles !== grid.tileCount) {
      throw new MapError('MAP_INPUT', `${byteSize} bytes fill ${tiles} tiles, the grid holds ${grid.tileCount}`, { byteSize, tileCount: grid.tileCount });
    }
    this.elementCount = (byteSize / bytesPerBlock) * blockSize;
    this.runs = new PyramidRuns(grid, packing, cap, heatSize, emit);
    this.codes = new CodeStats(this.runs, q4k);
  }

  /** Index of the next value push() expects. */
  get nextElement(): number {
    return this.next;
  }

  /**
   * Adds the next values.length values of the tensor, in order. The cells do not depend on how
   * the values are split into pushes (pyramid-runs.ts), so a pyramid fed from the import's
   * read chunks equals one fed from the map's read-back chunks, bit for bit.
   */
  push(values: Float32Array): void {
    if (this.finished) throw new MapError('MAP_INPUT', 'push after finish');
    if (this.mode === 'codes') throw new MapError('MAP_INPUT', 'push after pushBlocks: one tensor takes its values one way');
    this.mode = 'values';
    const start = this.next;
    const end = start + values.length;
    if (end > this.elementCount) {
      throw new MapError('MAP_INPUT', `${end} values pushed, the tensor has ${this.elementCount}`, { end, elementCount: this.elementCount });
    }
    const runs = this.runs;
    let v = start;
    while (v < end) {
      if (runs.segEnd < 0) runs.openSegment(v);
      const stop = runs.segEnd < end ? runs.segEnd : end;
      runs.accumulate(values, start, v, stop);
      if (stop === runs.segEnd) runs.closeSegment();
      v = stop;
    }
    this.next = end;
  }

  /**
   * Adds the tensor's next whole blocks of `type` (one of CODE_STATS_TYPES, whose packing the
   * pyramid was made with) as stored bytes: the statistics come from the codes (pyramid-codes.ts),
   * no value is decoded. Like push(), independent of how the blocks are split into calls.
   */
  pushBlocks(type: string, bytes: Uint8Array): void {
    if (this.finished) throw new MapError('MAP_INPUT', 'push after finish');
    if (!CODE_STATS_TYPES.has(type)) throw new MapError('MAP_INPUT', `ggml type ${type} has no code statistics`, { type });
    const pk = CODE_PACKING[type as CodeType];
    if (pk.blockSize !== this.packing.blockSize || pk.bytesPerBlock !== this.packing.bytesPerBlock) {
      throw new MapError('MAP_INPUT', `${type} blocks pushed to a ${this.packing.blockSize}/${this.packing.bytesPerBlock} pyramid`, { type });
    }
    if (this.mode === 'values') throw new MapError('MAP_INPUT', 'pushBlocks after push: one tensor takes its values one way');
    this.mode = 'codes';
    if (bytes.length % pk.bytesPerBlock !== 0) {
      throw new MapError('MAP_INPUT', `${bytes.length} bytes are not whole ${type} blocks of ${pk.bytesPerBlock}`, { bytes: bytes.length, type });
    }
    const end = this.next + (bytes.length / pk.bytesPerBlock) * pk.blockSize;
    if (end > this.elementCount) {
      throw new MapError('MAP_INPUT', `${end} values pushed, the tensor has ${this.elementCount}`, { end, elementCount: this.elementCount });
    }
    this.codes.push(type as CodeType, bytes, this.next);
    this.next = end;
  }

  /** Flushes the remaining tiles and cells; all values must have been pushed. */
  finish(): TensorPyramidSummary {
    if (this.next !== this.elementCount) {
      throw new MapError('MAP_INPUT', `finish after ${this.next} of ${this.elementCount} values`, { pushed: this.next, elementCount: this.elementCount });
    }
    const runs = this.runs;
    if (!this.finished) {
      if (runs.segEnd >= 0) runs.closeSegment();
      while (runs.curTile < runs.grid.tileCount) runs.finishTile();
      this.finished = true;
    }
    return {
      stats: { ...runs.total },
      heatMin: runs.heatMin,
      heatMax: runs.heatMax,
      levels: runs.grid.tileCount === 0 ? 0 : runs.levels.top + 1,
      cells: runs.levels.cells,
      peakOpenCells: runs.levels.peakOpen,
    };
  }
}
