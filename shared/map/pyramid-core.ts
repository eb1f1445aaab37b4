/**
 * The pure core of the level-of-detail pyramid of one tensor: it takes the tensor's decoded
 * values in order and emits every cell (level 0 = one per stored tile, then the 2x2 merges)
 * with exact statistics and a heat image, holding only the cells still waiting for children.
 *
 * Where a value sits: value v of a type storing `blockSize` values in `bytesPerBlock` bytes is
 * attributed to byte p(v) = floor(v · bytesPerBlock / blockSize) of the tensor (exactly its byte
 * for F32/F16/BF16; a quantised block's values spread evenly over the block's bytes). Byte p is
 * in tile floor(p / capacity), pixel floor((p mod capacity) / 4) of that tile in row-major order
 * (PixelFS's layout). The heat image of a cell is heatSize x heatSize pixels over the cell's
 * nominal square; a heat pixel holds the mean of the values whose pixels fall in it (NaN where
 * none do: beyond the tensor's end, or past the grid for edge cells). A parent's heat pixel is
 * the count-weighted mean of its 2x2 child heat pixels, i.e. exactly the mean of its values.
 */
import { MapError } from './errors';
import { childCount, levelGrid, topLevel } from './lod';
import { tileCapacity, type TileGrid } from './regions';
import { emptyStats, mergeInto, type ValueStats } from './stats';

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

interface OpenCell {
  stats: ValueStats;
  sum: Float64Array;
  cnt: Float64Array;
  seen: number;
  expected: number;
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
  private readonly cap: number;
  private readonly top: number;
  private readonly H: number;
  private curTile = 0;
  private curStats = emptyStats();
  private curSum: Float64Array;
  private curCnt: Float64Array;
  private readonly open: Array<Map<number, OpenCell>> = [];
  private openCount = 0;
  private peakOpen = 0;
  private cells = 0;
  private readonly total = emptyStats();
  private heatMin = Infinity;
  private heatMax = -Infinity;
  private finished = false;
  // The open run (see push): where it ends (-1: none open), its heat pixel and its partial sums.
  private segEnd = -1;
  private segHeat = 0;
  private segN = 0;
  private segSum = 0;
  private segSq = 0;
  private segLo = Infinity;
  private segHi = -Infinity;
  private segBad = 0;

  constructor(
    private readonly grid: TileGrid,
    private readonly packing: ElementPacking,
    readonly byteSize: number,
    heatSize: number,
    private readonly emit: (cell: PyramidCell) => void,
  ) {
    assertHeatSize(heatSize);
    const { blockSize, bytesPerBlock } = packing;
    if (!Number.isSafeInteger(blockSize) || blockSize < 1 || !Number.isSafeInteger(bytesPerBlock) || bytesPerBlock < 1) {
      throw new MapError('MAP_INPUT', `element packing ${blockSize}/${bytesPerBlock} is not valid`, { ...packing });
    }
    if (!Number.isSafeInteger(byteSize) || byteSize < 0 || byteSize % bytesPerBlock !== 0) {
      throw new MapError('MAP_INPUT', `byte size ${byteSize} is not a whole number of ${bytesPerBlock}-byte blocks`, { byteSize, bytesPerBlock });
    }
    this.cap = tileCapacity(grid.tileWidth, grid.tileHeight);
    const tiles = Math.ceil(byteSize / this.cap);
    if (tiles !== grid.tileCount) {
      throw new MapError('MAP_INPUT', `${byteSize} bytes fill ${tiles} tiles, the grid holds ${grid.tileCount}`, { byteSize, tileCount: grid.tileCount });
    }
    this.elementCount = (byteSize / bytesPerBlock) * blockSize;
    this.H = heatSize;
    this.top = topLevel(grid);
    for (let k = 0; k <= this.top; k++) this.open.push(new Map());
    this.curSum = new Float64Array(heatSize * heatSize);
    this.curCnt = new Float64Array(heatSize * heatSize);
  }

  /** Index of the next value push() expects. */
  get nextElement(): number {
    return this.next;
  }

  /**
   * Adds the next values.length values of the tensor, in order. The cells do not depend on how
   * the values are split into pushes: a run of values that falls in one heat pixel of one pixel
   * row is summed in one sequence even when it spans two pushes (see `seg*`), so a pyramid fed
   * from the import's read chunks equals one fed from the map's read-back chunks, bit for bit.
   */
  push(values: ArrayLike<number>): void {
    if (this.finished) throw new MapError('MAP_INPUT', 'push after finish');
    const start = this.next;
    const end = start + values.length;
    if (end > this.elementCount) {
      throw new MapError('MAP_INPUT', `${end} values pushed, the tensor has ${this.elementCount}`, { end, elementCount: this.elementCount });
    }
    // One element type through the hot loop keeps it monomorphic (decoders give Float32Array).
    const arr = values instanceof Float32Array ? values : Float64Array.from(values);
    if (arr instanceof Float32Array) this.run32(arr, start, end);
    else this.run64(arr, start, end);
    this.next = end;
  }

  /** Where the run of values from v on ends: the end of v's heat pixel span on v's pixel row. */
  private openSegment(v: number): void {
    const { blockSize: bs, bytesPerBlock: bpb } = this.packing;
    const tw = this.grid.tileWidth;
    const H = this.H;
    const cap = this.cap;
    const p = Math.floor((v * bpb) / bs);
    const t = Math.floor(p / cap);
    while (this.curTile < t) this.finishTile();
    const pix = Math.floor((p - t * cap) / 4);
    const py = Math.floor(pix / tw);
    const px = pix - py * tw;
    const hx = Math.floor((px * H) / tw);
    const hy = Math.floor((py * H) / this.grid.tileHeight);
    const pxEnd = Math.min(tw, Math.ceil(((hx + 1) * tw) / H));
    const b1 = t * cap + (py * tw + pxEnd) * 4;
    this.segEnd = Math.floor((b1 * bs + bpb - 1) / bpb);
    this.segHeat = hy * H + hx;
    this.segN = 0;
    this.segSum = 0;
    this.segSq = 0;
    this.segLo = Infinity;
    this.segHi = -Infinity;
    this.segBad = 0;
  }

  /** Folds a finished run into its tile's statistics and heat pixel. */
  private closeSegment(): void {
    const st = this.curStats;
    st.count += this.segN;
    st.sum += this.segSum;
    st.sumSq += this.segSq;
    if (this.segLo < st.min) st.min = this.segLo;
    if (this.segHi > st.max) st.max = this.segHi;
    st.nonFinite += this.segBad;
    this.curSum[this.segHeat] += this.segSum;
    this.curCnt[this.segHeat] += this.segN;
    this.segEnd = -1;
  }

  // run32 and run64 are the same loop over two element types (kept apart so each stays monomorphic).
  private run32(values: Float32Array, start: number, end: number): void {
    let v = start;
    while (v < end) {
      if (this.segEnd < 0) this.openSegment(v);
      const stop = this.segEnd < end ? this.segEnd : end;
      let n = this.segN;
      let s = this.segSum;
      let q = this.segSq;
      let lo = this.segLo;
      let hi = this.segHi;
      let bad = this.segBad;
      for (let j = v - start, e = stop - start; j < e; j++) {
        const x = values[j]!;
        // x - x is NaN exactly for NaN and ±Infinity.
        if (x - x !== 0) {
          bad++;
          continue;
        }
        n++;
        s += x;
        q += x * x;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      this.segN = n;
      this.segSum = s;
      this.segSq = q;
      this.segLo = lo;
      this.segHi = hi;
      this.segBad = bad;
      if (stop === this.segEnd) this.closeSegment();
      v = stop;
    }
  }

  private run64(values: Float64Array, start: number, end: number): void {
    let v = start;
    while (v < end) {
      if (this.segEnd < 0) this.openSegment(v);
      const stop = this.segEnd < end ? this.segEnd : end;
      let n = this.segN;
      let s = this.segSum;
      let q = this.segSq;
      let lo = this.segLo;
      let hi = this.segHi;
      let bad = this.segBad;
      for (let j = v - start, e = stop - start; j < e; j++) {
        const x = values[j]!;
        if (x - x !== 0) {
          bad++;
          continue;
        }
        n++;
        s += x;
        q += x * x;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      this.segN = n;
      this.segSum = s;
      this.segSq = q;
      this.segLo = lo;
      this.segHi = hi;
      this.segBad = bad;
      if (stop === this.segEnd) this.closeSegment();
      v = stop;
    }
  }

  /** Flushes the remaining tiles and cells; all values must have been pushed. */
  finish(): TensorPyramidSummary {
    if (this.next !== this.elementCount) {
      throw new MapError('MAP_INPUT', `finish after ${this.next} of ${this.elementCount} values`, { pushed: this.next, elementCount: this.elementCount });
    }
    if (!this.finished) {
      if (this.segEnd >= 0) this.closeSegment();
      while (this.curTile < this.grid.tileCount) this.finishTile();
      this.finished = true;
    }
    return {
      stats: { ...this.total },
      heatMin: this.heatMin,
      heatMax: this.heatMax,
      levels: this.grid.tileCount === 0 ? 0 : this.top + 1,
      cells: this.cells,
      peakOpenCells: this.peakOpen,
    };
  }

  private finishTile(): void {
    const t = this.curTile;
    const col = t % this.grid.cols;
    const row = Math.floor(t / this.grid.cols);
    const H2 = this.H * this.H;
    for (let i = 0; i < H2; i++) {
      const c = this.curCnt[i]!;
      if (c > 0) {
        const m = this.curSum[i]! / c;
        if (m < this.heatMin) this.heatMin = m;
        if (m > this.heatMax) this.heatMax = m;
      }
    }
    mergeInto(this.total, this.curStats);
    this.complete(0, col, row, this.curStats, this.curSum, this.curCnt);
    this.curStats = emptyStats();
    this.curSum.fill(0);
    this.curCnt.fill(0);
    this.curTile++;
  }

  /** Emits a finished cell and folds it into its parent (which may finish in turn). */
  private complete(level: number, col: number, row: number, stats: ValueStats, sum: Float64Array, cnt: Float64Array): void {
    const H = this.H;
    const heat = new Float32Array(H * H);
    for (let i = 0; i < heat.length; i++) heat[i] = cnt[i]! > 0 ? sum[i]! / cnt[i]! : NaN;
    this.emit({ level, col, row, stats: { ...stats }, heat });
    this.cells++;
    if (level >= this.top) return;

    const pl = level + 1;
    const pc = Math.floor(col / 2);
    const pr = Math.floor(row / 2);
    const key = pr * levelGrid(this.grid, pl).cols + pc;
    const opens = this.open[pl]!;
    let p = opens.get(key);
    if (!p) {
      p = { stats: emptyStats(), sum: new Float64Array(H * H), cnt: new Float64Array(H * H), seen: 0, expected: childCount(this.grid, pl, pc, pr) };
      opens.set(key, p);
      this.openCount++;
      if (this.openCount > this.peakOpen) this.peakOpen = this.openCount;
    }
    mergeInto(p.stats, stats);
    const half = H / 2;
    const ox = (col % 2) * half;
    const oy = (row % 2) * half;
    for (let y = 0; y < H; y++) {
      const prow = (oy + (y >> 1)) * H + ox;
      for (let x = 0; x < H; x++) {
        const i = y * H + x;
        const c = cnt[i]!;
        if (c === 0) continue;
        const j = prow + (x >> 1);
        p.sum[j] += sum[i]!;
        p.cnt[j] += c;
      }
    }
    p.seen++;
    if (p.seen === p.expected) {
      opens.delete(key);
      this.openCount--;
      this.complete(pl, pc, pr, p.stats, p.sum, p.cnt);
    }
  }
}
