import { describe, expect, it } from 'vitest';
import { MapError } from '../../shared/map/errors';
import { topLevel } from '../../shared/map/lod';
import { TensorPyramid, type ElementPacking, type PyramidCell } from '../../shared/map/pyramid-core';
import { tileCapacity, type TileGrid } from '../../shared/map/regions';
import { expectCellMatches, randInt, referencePyramid, rng } from './map-helpers';

const PACKINGS: ElementPacking[] = [
  { blockSize: 1, bytesPerBlock: 4 }, // F32
  { blockSize: 1, bytesPerBlock: 2 }, // F16
  { blockSize: 32, bytesPerBlock: 34 }, // Q8_0
  { blockSize: 32, bytesPerBlock: 18 }, // Q4_0
  { blockSize: 256, bytesPerBlock: 144 }, // Q4_K
  { blockSize: 256, bytesPerBlock: 210 }, // Q6_K
];

describe('TensorPyramid equals the pyramid computed from its definition', () => {
  it('on random packings, tile sizes, grids, heat sizes and push chunkings', () => {
    for (let seed = 1; seed <= 70; seed++) {
      const r = rng(seed);
      const pk = PACKINGS[seed % PACKINGS.length]!;
      const tw = randInt(r, 1, 12);
      const th = randInt(r, 1, 12);
      const H = 2 * randInt(r, 1, 4);
      const blocks = randInt(r, 1, Math.max(1, Math.floor(6000 / pk.blockSize)));
      const byteSize = blocks * pk.bytesPerBlock;
      const tileCount = Math.ceil(byteSize / tileCapacity(tw, th));
      const cols = randInt(r, 1, Math.min(tileCount, 9));
      const grid: TileGrid = { tileWidth: tw, tileHeight: th, cols, rows: Math.ceil(tileCount / cols), tileCount };
      const values = new Float32Array(blocks * pk.blockSize);
      for (let i = 0; i < values.length; i++) {
        const u = r();
        values[i] = u < 0.002 ? NaN : u < 0.003 ? -Infinity : (r() - 0.3) * 10 * (1 + (i % 7));
      }
      const cells: PyramidCell[] = [];
      const pyr = new TensorPyramid(grid, pk, byteSize, H, (c) => cells.push(c));
      for (let at = 0; at < values.length; ) {
        const n = Math.min(values.length - at, randInt(r, 1, 700));
        pyr.push(values.subarray(at, at + n));
        at += n;
      }
      const summary = pyr.finish();
      const ref = referencePyramid(values, pk, grid, H);
      const what = `seed ${seed} ${pk.blockSize}/${pk.bytesPerBlock} tile ${tw}x${th} grid ${cols}x${grid.rows}/${tileCount} H ${H}`;
      expect(cells.length, what).toBe(ref.size);
      expect(new Set(cells.map((c) => `${c.level}/${c.col}/${c.row}`)).size, what).toBe(ref.size);
      for (const c of cells) expectCellMatches(c, ref.get(`${c.level}/${c.col}/${c.row}`)!, `${what} cell ${c.level}/${c.col}/${c.row}`);
      // The top cell holds the whole tensor.
      const topRef = ref.get(`${topLevel(grid)}/0/0`)!;
      expect(summary.stats.count).toBe(topRef.stats.count);
      expect(summary.stats.nonFinite).toBe(topRef.stats.nonFinite);
      expect(summary.levels).toBe(topLevel(grid) + 1);
    }
  });

  it('gives bit-identical cells however the values are split into pushes', () => {
    // Long runs (a heat pixel spans 32 pixels of a 64-wide tile) of values over many binades, so
    // that summing in another order would change the last bits of sums and sums of squares.
    const grid: TileGrid = { tileWidth: 64, tileHeight: 8, cols: 3, rows: 2, tileCount: 5 };
    const pk = { blockSize: 1, bytesPerBlock: 4 };
    const byteSize = 5 * tileCapacity(64, 8) - 4 * 37;
    const r = rng(7);
    const values = new Float32Array(byteSize / 4);
    for (let i = 0; i < values.length; i++) values[i] = (r() - 0.4) * 10 ** randInt(r, -6, 6) + (r() < 0.001 ? NaN : 0);
    const run = (maxPush: number): PyramidCell[] => {
      const cells: PyramidCell[] = [];
      const pyr = new TensorPyramid(grid, pk, byteSize, 2, (c) => cells.push(c));
      for (let at = 0; at < values.length; ) {
        const n = Math.min(values.length - at, randInt(r, 1, maxPush));
        pyr.push(values.subarray(at, at + n));
        at += n;
      }
      pyr.finish();
      return cells;
    };
    const whole: PyramidCell[] = [];
    const one = new TensorPyramid(grid, pk, byteSize, 2, (c) => whole.push(c));
    one.push(values);
    one.finish();
    for (const maxPush of [1, 3, 31, 500]) expect(run(maxPush)).toEqual(whole);
  });

  it('emits each cell right after its last child, holding few cells open', () => {
    const grid: TileGrid = { tileWidth: 4, tileHeight: 4, cols: 8, rows: 50, tileCount: 397 };
    const pk = { blockSize: 1, bytesPerBlock: 4 };
    const cells: PyramidCell[] = [];
    const pyr = new TensorPyramid(grid, pk, 397 * 64 - 8, 4, (c) => cells.push(c));
    pyr.push(new Float32Array(pyr.elementCount).fill(1));
    const s = pyr.finish();
    expect(s.cells).toBe(cells.length);
    expect(cells.length).toBeGreaterThan(500);
    expect(s.peakOpenCells).toBeLessThanOrEqual(12);
    const last = cells[cells.length - 1]!;
    expect([last.level, last.col, last.row]).toEqual([topLevel(grid), 0, 0]);
    expect(last.stats.count).toBe(pyr.elementCount);
  });

  it('refuses inconsistent sizes and pushes', () => {
    const grid: TileGrid = { tileWidth: 2, tileHeight: 2, cols: 1, rows: 1, tileCount: 1 };
    const pk = { blockSize: 1, bytesPerBlock: 4 };
    expect(() => new TensorPyramid(grid, pk, 17, 2, () => {})).toThrow(MapError); // 2 tiles of 16 bytes
    expect(() => new TensorPyramid(grid, { blockSize: 32, bytesPerBlock: 34 }, 16, 2, () => {})).toThrow(MapError);
    expect(() => new TensorPyramid(grid, pk, 16, 3, () => {})).toThrow(MapError);
    const p = new TensorPyramid(grid, pk, 16, 2, () => {});
    expect(() => p.push(new Float32Array(5))).toThrow(MapError);
    p.push(new Float32Array(3));
    expect(() => p.finish()).toThrow(MapError);
  });
});
