/**
 * The levels above a tensor's tiles: each finished cell is emitted and folded into its parent
 * (statistics merged, heat pixels summed 2x2 into one), and a parent is emitted in turn once
 * all of its children have come. Only the parents still waiting are held, so memory follows
 * the widest row of open cells, not the tensor. Fed level-0 cells by TensorPyramid
 * (pyramid-core.ts) in tile order; the file comment there says what the figures are.
 */
import { childCount, levelGrid, topLevel } from './lod';
import type { PyramidCell } from './pyramid-core';
import type { TileGrid } from './regions';
import { emptyStats, mergeInto, type ValueStats } from './stats';

interface OpenCell {
  stats: ValueStats;
  sum: Float64Array;
  cnt: Float64Array;
  seen: number;
  expected: number;
}

export class PyramidLevels {
  /** Cells emitted so far, every level. */
  cells = 0;
  /** Most cells held open at once. */
  peakOpen = 0;
  /** The top level: one cell holds the whole tensor. */
  readonly top: number;
  private readonly open: Array<Map<number, OpenCell>> = [];
  private openCount = 0;

  constructor(
    private readonly grid: TileGrid,
    private readonly H: number,
    private readonly emit: (cell: PyramidCell) => void,
  ) {
    this.top = topLevel(grid);
    for (let k = 0; k <= this.top; k++) this.open.push(new Map());
  }

  /** Emits a finished cell and folds it into its parent (which may finish in turn). */
  complete(level: number, col: number, row: number, stats: ValueStats, sum: Float64Array, cnt: Float64Array): void {
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
