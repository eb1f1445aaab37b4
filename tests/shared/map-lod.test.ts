import { describe, expect, it } from 'vitest';
import { colormapLut, colormapRgb, heatToRgba, scaleFor, scalePosition } from '../../shared/map/colormap';
import { MapError } from '../../shared/map/errors';
import { intersectRects, rectContains, rectInViewport, rectsOverlap, unionRects } from '../../shared/map/geometry';
import { cellExists, cellLevelSpan, cellNominalRect, cellRect, cellsAt, childCount, chooseLevel, levelGrid, MAX_LEVEL, TOP_CELL_SPAN, topLevel } from '../../shared/map/lod';
import type { TileGrid } from '../../shared/map/regions';
import { accumulate, emptyStats, mergeStats, statsMean, statsOf, statsStd, summarize } from '../../shared/map/stats';
import { randInt, rng } from './map-helpers';

describe('LOD arithmetic', () => {
  it('a level-k cell exists exactly when it covers a stored tile, and has the children that exist', () => {
    const r = rng(5);
    for (let n = 0; n < 200; n++) {
      const cols = randInt(r, 1, 12);
      const rows = randInt(r, 1, 12);
      const grid: TileGrid = { tileWidth: 3, tileHeight: 5, cols, rows, tileCount: randInt(r, (rows - 1) * cols + 1, rows * cols) };
      const top = topLevel(grid);
      expect(2 ** top).toBeGreaterThanOrEqual(Math.max(cols, rows));
      if (top > 0) expect(2 ** (top - 1)).toBeLessThan(Math.max(cols, rows));
      for (let k = 0; k <= top + 1; k++) {
        const s = 2 ** k;
        const covered = new Set<string>();
        for (let t = 0; t < grid.tileCount; t++) covered.add(`${Math.floor((t % cols) / s)},${Math.floor(Math.floor(t / cols) / s)}`);
        const lg = levelGrid(grid, k);
        for (let c = -1; c <= lg.cols; c++) for (let rr = -1; rr <= lg.rows; rr++) expect(cellExists(grid, k, c, rr)).toBe(covered.has(`${c},${rr}`));
        expect(cellsAt(grid, k).length).toBe(covered.size);
        if (k >= 1) {
          for (const { col, row } of cellsAt(grid, k)) {
            let kids = 0;
            for (const ch of cellsAt(grid, k - 1)) if (Math.floor(ch.col / 2) === col && Math.floor(ch.row / 2) === row) kids++;
            expect(childCount(grid, k, col, row)).toBe(kids);
          }
        }
      }
      expect(cellsAt(grid, top)).toEqual([{ col: 0, row: 0 }]);
    }
  });

  it('cell rectangles tile the grid: clipped to it, inside their nominal square, covering every stored tile', () => {
    const region = { x: 1000, y: -70, width: 7 * 4, height: 5 * 3, grid: { tileWidth: 4, tileHeight: 3, cols: 7, rows: 5, tileCount: 31 } };
    for (let k = 0; k <= topLevel(region.grid); k++) {
      const cells = cellsAt(region.grid, k).map(({ col, row }) => cellRect(region, k, col, row));
      for (const c of cells) {
        expect(rectContains(region, c)).toBe(true);
        for (const d of cells) if (c !== d) expect(rectsOverlap(c, d)).toBe(false);
      }
      for (let t = 0; t < region.grid.tileCount; t++) {
        const tile = { x: region.x + (t % 7) * 4, y: region.y + Math.floor(t / 7) * 3, width: 4, height: 3 };
        expect(cells.some((c) => rectContains(c, tile))).toBe(true);
      }
      const nom = cellNominalRect(region, k, 1, 0);
      expect(nom.width).toBe(4 * 2 ** k);
    }
    expect(cellLevelSpan(region.grid, 0)).toEqual([0, 0]);
    expect(cellLevelSpan(region.grid, 3)).toEqual([3, 3 + TOP_CELL_SPAN]);
  });

  it('chooses the coarsest level with at least one heat pixel per output pixel', () => {
    for (const scale of [1, 0.5, 0.1, 1 / 16, 1 / 17, 0.001, 1e-7, 3]) {
      let best = 0;
      for (let k = 0; k <= MAX_LEVEL; k++) if (2 ** k * 1024 * scale <= 64) best = k;
      expect(chooseLevel(scale, 1024, 512, 64)).toBe(best);
    }
    expect(chooseLevel(1 / 16, 1024, 1024, 64)).toBe(0);
    expect(chooseLevel(1 / 32, 1024, 1024, 64)).toBe(1);
    expect(chooseLevel(1 / 33, 1024, 1024, 64)).toBe(1);
    expect(() => chooseLevel(0, 8, 8, 8)).toThrow(MapError);
  });
});

describe('statistics', () => {
  it('merging the parts of any split equals the statistics of the whole', () => {
    const r = rng(9);
    const v = new Float64Array(5000).map(() => (r() - 0.5) * 1000);
    v[17] = NaN;
    v[99] = Infinity;
    const whole = statsOf(v);
    expect(whole.count).toBe(4998);
    expect(whole.nonFinite).toBe(2);
    for (let n = 0; n < 20; n++) {
      const cuts = [0, ...Array.from({ length: randInt(r, 1, 8) }, () => randInt(r, 0, v.length)).sort((a, b) => a - b), v.length];
      const parts = cuts.slice(1).map((e, i) => accumulate(emptyStats(), v, cuts[i]!, e));
      const m = mergeStats(parts);
      expect(m.count).toBe(whole.count);
      expect(m.min).toBe(whole.min);
      expect(m.max).toBe(whole.max);
      expect(m.sum).toBeCloseTo(whole.sum, 6);
      expect(m.sumSq / whole.sumSq).toBeCloseTo(1, 12);
    }
    const direct = [...v].filter(Number.isFinite);
    const mean = direct.reduce((a, b) => a + b, 0) / direct.length;
    const std = Math.sqrt(direct.reduce((a, b) => a + (b - mean) ** 2, 0) / direct.length);
    expect(statsMean(whole)).toBeCloseTo(mean, 9);
    expect(statsStd(whole)).toBeCloseTo(std, 9);
    expect(summarize(emptyStats())).toEqual({ count: 0, min: null, max: null, mean: null, std: null, nonFinite: 0 });
  });
});

describe('colormaps', () => {
  it('hit their published anchors and interpolate between them', () => {
    expect(colormapRgb('viridis', 0)).toEqual([0x44, 0x01, 0x54]);
    expect(colormapRgb('viridis', 1)).toEqual([0xfd, 0xe7, 0x25]);
    expect(colormapRgb('viridis', 5 / 9)).toEqual([0x1f, 0x9e, 0x89]);
    expect(colormapRgb('diverging', 0)).toEqual([59, 76, 192]);
    expect(colormapRgb('diverging', 0.5)).toEqual([221, 221, 221]);
    expect(colormapRgb('diverging', 1)).toEqual([180, 4, 38]);
    expect(colormapRgb('gray', 0.5)).toEqual([128, 128, 128]);
    expect(colormapRgb('gray', -3)).toEqual([0, 0, 0]);
    // Viridis brightens monotonically (its lightness ramp is the point of it).
    const lum = (c: number[]) => 0.2126 * c[0]! + 0.7152 * c[1]! + 0.0722 * c[2]!;
    for (let i = 1; i <= 100; i++) expect(lum(colormapRgb('viridis', i / 100))).toBeGreaterThan(lum(colormapRgb('viridis', (i - 1) / 100)) - 0.5);
    const lut = colormapLut('viridis', 16);
    expect(lut.length).toBe(64);
    expect([...lut.subarray(60, 64)]).toEqual([0xfd, 0xe7, 0x25, 255]);
    expect(() => colormapRgb('nope' as never, 0)).toThrow(MapError);
  });

  it('scales: auto is diverging and symmetric around zero when the range straddles it', () => {
    expect(scaleFor(-1, 3)).toEqual({ colormap: 'diverging', lo: -3, hi: 3 });
    expect(scaleFor(2, 3)).toEqual({ colormap: 'viridis', lo: 2, hi: 3 });
    expect(scaleFor(2, 3, 'gray')).toEqual({ colormap: 'gray', lo: 2, hi: 3 });
    expect(scalePosition({ colormap: 'gray', lo: 1, hi: 1 }, 5)).toBe(0.5);
    expect(scalePosition({ colormap: 'gray', lo: 0, hi: 4 }, 1)).toBe(0.25);
    const rgba = heatToRgba([NaN, 0, 4], { colormap: 'gray', lo: 0, hi: 4 });
    expect([...rgba]).toEqual([0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255]);
  });
});

describe('geometry', () => {
  it('half-open rectangles: touching is not overlapping', () => {
    const a = { x: 0, y: 0, width: 10, height: 10 };
    expect(rectsOverlap(a, { x: 10, y: 0, width: 5, height: 5 })).toBe(false);
    expect(rectsOverlap(a, { x: 9, y: 9, width: 5, height: 5 })).toBe(true);
    expect(rectInViewport(a, { x0: 10, y0: 0, x1: 20, y1: 5 })).toBe(false);
    expect(rectInViewport(a, { x0: 9.5, y0: 0, x1: 20, y1: 5 })).toBe(true);
    expect(intersectRects(a, { x: 5, y: 5, width: 10, height: 10 })).toEqual({ x: 5, y: 5, width: 5, height: 5 });
    expect(unionRects([a, { x: -5, y: 20, width: 1, height: 1 }])).toEqual({ x: -5, y: 0, width: 15, height: 21 });
    expect(unionRects([])).toBeNull();
  });
});
