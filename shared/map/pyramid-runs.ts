/**
 * The level-0 tile of a tensor's pyramid being filled, and the run of values open in it: where
 * each run starts and ends, the order its values are summed in, and the tile finished into
 * pyramid-levels.ts once its last run is in. Separate from TensorPyramid (pyramid-core.ts), which
 * checks and routes what is pushed, and from the code statistics (pyramid-codes.ts), which fold
 * whole pieces of runs into the fields here; this is what fixes the figures bit for bit. Where a
 * value sits (its byte, tile, pixel and heat pixel) is pyramid-core.ts's file comment.
 *
 * Order of the sums (what makes the result bit-exact and reproducible): the values of a tile go
 * in runs, one run per heat pixel per pixel row. Inside a run, value v is added to lane v mod 4
 * (four sums and four sums of squares, in value order), and the run's sum is (l0 + l1) + (l2 +
 * l3); runs are added to the tile's statistics and to their heat pixel in order. Nothing depends
 * on how the values are split into push() calls, so every reader of the same tensor bytes (the
 * import as it streams, the read-back build) gets the same cells, bit for bit.
 */
import { PyramidLevels } from './pyramid-levels';
import type { ElementPacking, PyramidCell } from './pyramid-core';
import type { TileGrid } from './regions';
import { emptyStats, mergeInto } from './stats';

/**
 * The open tile and run. Internal to the pyramid: the fields are public for the code statistics
 * (pyramid-codes.ts), which fold their pieces and runs into them in place.
 */
export class PyramidRuns {
  curTile = 0;
  curStats = emptyStats();
  curSum: Float64Array;
  curCnt: Float64Array;
  readonly levels: PyramidLevels;
  readonly total = emptyStats();
  heatMin = Infinity;
  heatMax = -Infinity;
  // The open run (see the file comment): where it ends (-1: none open), its heat pixel, its
  // four lanes of sums and of sums of squares, its count, extrema and non-finite count.
  segEnd = -1;
  segHeat = 0;
  readonly lanes = new Float64Array(8);
  segN = 0;
  segLo = Infinity;
  segHi = -Infinity;
  segBad = 0;

  constructor(
    readonly grid: TileGrid,
    readonly packing: ElementPacking,
    /** Bytes per tile (regions.ts's tileCapacity). */
    readonly cap: number,
    /** Heat pixels per side. */
    readonly H: number,
    emit: (cell: PyramidCell) => void,
  ) {
    this.levels = new PyramidLevels(grid, H, emit);
    this.curSum = new Float64Array(H * H);
    this.curCnt = new Float64Array(H * H);
  }

  /** Opens the run of values from v on: to the end of v's heat pixel span on v's pixel row. */
  openSegment(v: number): void {
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
  }

  /** Folds the finished run into its tile's statistics and heat pixel. */
  closeSegment(): void {
    const L = this.lanes;
    const sum = L[0]! + L[1]! + (L[2]! + L[3]!);
    const sumSq = L[4]! + L[5]! + (L[6]! + L[7]!);
    const st = this.curStats;
    st.count += this.segN;
    st.sum += sum;
    st.sumSq += sumSq;
    if (this.segLo < st.min) st.min = this.segLo;
    if (this.segHi > st.max) st.max = this.segHi;
    st.nonFinite += this.segBad;
    this.curSum[this.segHeat] += sum;
    this.curCnt[this.segHeat] += this.segN;
    L.fill(0);
    this.segN = 0;
    this.segLo = Infinity;
    this.segHi = -Infinity;
    this.segBad = 0;
    this.segEnd = -1;
  }

  /** One value of the open run into lane v & 3. */
  private addOne(x: number, lane: number): void {
    // x - x is NaN exactly for NaN and ±Infinity.
    if (x - x !== 0) {
      this.segBad++;
      return;
    }
    this.lanes[lane] += x;
    this.lanes[4 + lane] += x * x;
    this.segN++;
    if (x < this.segLo) this.segLo = x;
    if (x > this.segHi) this.segHi = x;
  }

  /** Values [from, stop) of the tensor (values[0] is value `start`) into the open run. */
  accumulate(values: Float32Array, start: number, from: number, stop: number): void {
    let i = from;
    for (; i < stop && (i & 3) !== 0; i++) this.addOne(values[i - start]!, i & 3);
    const body = i + ((stop - i) & ~3);
    if (i < body && !this.addFinite(values, i - start, body - start)) {
      // A non-finite value among them (addFinite left the run as it was): one by one.
      for (; i < body; i++) this.addOne(values[i - start]!, i & 3);
    }
    i = body;
    for (; i < stop; i++) this.addOne(values[i - start]!, i & 3);
  }

  /**
   * values[j0..j1) (a multiple of 4, lane-aligned) into the open run, assuming every value is
   * finite; false, with the run untouched, when one is not. Four independent sums: one
   * sequential sum waits on each addition's latency. No test per value: a finite value cannot
   * make these sums non-finite (|x| < 2^128, so x² < 2^256), so non-finite sums at the end say
   * a value was NaN or infinite.
   */
  private addFinite(values: Float32Array, j0: number, j1: number): boolean {
    const L = this.lanes;
    let s0 = L[0]!;
    let s1 = L[1]!;
    let s2 = L[2]!;
    let s3 = L[3]!;
    let q0 = L[4]!;
    let q1 = L[5]!;
    let q2 = L[6]!;
    let q3 = L[7]!;
    let lo = this.segLo;
    let hi = this.segHi;
    for (let j = j0; j < j1; j += 4) {
      const x0 = values[j]!;
      const x1 = values[j + 1]!;
      const x2 = values[j + 2]!;
      const x3 = values[j + 3]!;
      s0 += x0;
      s1 += x1;
      s2 += x2;
      s3 += x3;
      q0 += x0 * x0;
      q1 += x1 * x1;
      q2 += x2 * x2;
      q3 += x3 * x3;
      // Math.min/max compile to branch-free instructions; compares of random values mispredict.
      lo = Math.min(lo, x0, x1, x2, x3);
      hi = Math.max(hi, x0, x1, x2, x3);
    }
    const check = s0 + s1 + s2 + s3 + q0 + q1 + q2 + q3;
    if (check - check !== 0) return false;
    L[0] = s0;
    L[1] = s1;
    L[2] = s2;
    L[3] = s3;
    L[4] = q0;
    L[5] = q1;
    L[6] = q2;
    L[7] = q3;
    this.segLo = lo;
    this.segHi = hi;
    this.segN += j1 - j0;
    return true;
  }

  finishTile(): void {
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
    this.levels.complete(0, col, row, this.curStats, this.curSum, this.curCnt);
    this.curStats = emptyStats();
    this.curSum.fill(0);
    this.curCnt.fill(0);
    this.curTile++;
  }
}
