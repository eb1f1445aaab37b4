/** A tensor drawn in its own shape (shared/map/shape.ts): geometry, element lookup, bands, windows. */
import { describe, expect, it } from 'vitest';
import { bandLayout, bandOfByte, bandRect, heatMeanOver, shapeCellRect, shapeElementAt, shapeScale, storedByte, tensorShape, windowsInView } from '../../shared/map/shape';
import { tileCapacity } from '../../shared/map/regions';
import { QUANT_FORMATS } from '../../shared/quant';

const room = { x: 3200, y: 0, width: 1024, height: 1024 };

describe('tensorShape', () => {
  it('draws ggml [columns, rows] as columns wide and rows tall, one map pixel a value, from the room’s corner', () => {
    expect(tensorShape(room, [64, 32])).toEqual({ x: 3200, y: 0, width: 64, height: 32, rows: 32, cols: 64, scale: 1 });
    expect(tensorShape(room, [64, 512])).toMatchObject({ width: 64, height: 512, scale: 1 });
    // 1-D: one row; higher dims stack rows.
    expect(tensorShape(room, [64])).toMatchObject({ width: 64, height: 1, rows: 1, cols: 64 });
    expect(tensorShape(room, [8, 4, 3])).toMatchObject({ width: 8, height: 12 });
    expect(tensorShape(room, [0, 5])).toBeNull();
  });

  it('halves the scale until the matrix fits its room, so a value is 2^-k of a pixel', () => {
    expect(shapeScale({ width: 1024, height: 1024 }, { rows: 1024, cols: 1024 })).toBe(1);
    expect(shapeScale({ width: 1024, height: 1024 }, { rows: 1025, cols: 10 })).toBe(0.5);
    // Qwen2.5-7B's token_embd [3584, 152064] in an 8 × 10-tile room.
    const s = tensorShape({ x: 0, y: 0, width: 8192, height: 10240 }, [3584, 152064])!;
    expect(s.scale).toBe(1 / 16);
    expect(s.width).toBeLessThanOrEqual(8192);
    expect(s.height).toBeLessThanOrEqual(10240);
    expect(s.height * 2).toBeGreaterThan(10240);
    // Random matrices (seeded) always fit, and the next larger power of two would not.
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 200; i++) {
      const w = 1 + Math.floor(rnd() * 5000);
      const h = 1 + Math.floor(rnd() * 5000);
      const m = { rows: 1 + Math.floor(rnd() * 1e6), cols: 1 + Math.floor(rnd() * 1e5) };
      const k = shapeScale({ width: w, height: h }, m);
      expect(m.cols * k <= w && m.rows * k <= h).toBe(true);
      if (k < 1) expect(m.cols * k * 2 > w || m.rows * k * 2 > h).toBe(true);
    }
  });
});

describe('shapeElementAt', () => {
  it('names row, column and row-major element of the pixel, null outside the matrix', () => {
    const s = tensorShape(room, [64, 64])!;
    expect(shapeElementAt(s, 3200 + 36.5, 33.5)).toEqual({ row: 33, col: 36, element: 33 * 64 + 36 });
    expect(shapeElementAt(s, 3200, 0)).toEqual({ row: 0, col: 0, element: 0 });
    expect(shapeElementAt(s, 3200 + 63.99, 63.99)).toEqual({ row: 63, col: 63, element: 4095 });
    expect(shapeElementAt(s, 3200 + 64, 0)).toBeNull();
    expect(shapeElementAt(s, 3200 + 100, 2)).toBeNull();
    expect(shapeElementAt(s, 3199.5, 0)).toBeNull();
    expect(shapeElementAt(s, 3200, -0.1)).toBeNull();
  });

  it('agrees with shapeCellRect at scales below one', () => {
    const s = tensorShape({ x: 10, y: 20, width: 100, height: 100 }, [300, 7])!;
    expect(s.scale).toBe(0.25);
    for (const [row, col] of [
      [0, 0],
      [6, 299],
      [3, 150],
    ] as const) {
      const r = shapeCellRect(s, row, col);
      expect(shapeElementAt(s, r.x + r.width / 2, r.y + r.height / 2)).toEqual({ row, col, element: row * 300 + col });
    }
  });
});

describe('bands', () => {
  it('storedByte follows the pyramid: own bytes for F32, proportional in a quantised block', () => {
    expect(storedByte(10, QUANT_FORMATS.F32)).toBe(40);
    expect(storedByte(10, QUANT_FORMATS.F16)).toBe(20);
    const q = QUANT_FORMATS.Q4_K;
    expect(storedByte(256, q)).toBe(q.bytesPerBlock);
    expect(storedByte(255, q)).toBe(Math.floor((255 * q.bytesPerBlock) / 256));
  });

  it('a band is bandRows whole pixel rows of one tile: contiguous bytes, and its rectangle holds them', () => {
    const grid = { tileWidth: 32, tileHeight: 32, cols: 2 };
    const b = bandLayout(grid, 8);
    expect(b.bandRows).toBe(4);
    expect(b.bandsPerTile).toBe(8);
    const cap = tileCapacity(32, 32);
    // Bytes in order walk the bands in order, each band's bytes inside its rectangle.
    let last = -1;
    for (let byte = 0; byte < cap * 3; byte += 52) {
      const { tile, band } = bandOfByte(b, byte);
      expect(tile).toBe(Math.floor(byte / cap));
      expect(band).toBeGreaterThanOrEqual(last);
      last = band;
      const r = bandRect(b, 100, 200, band);
      const pixel = Math.floor((byte % cap) / 4);
      const px = 100 + (tile % 2) * 32 + (pixel % 32);
      const py = 200 + Math.floor(tile / 2) * 32 + Math.floor(pixel / 32);
      expect(px >= r.x && px < r.x + r.width && py >= r.y && py < r.y + r.height).toBe(true);
      expect(r.width).toBe(32);
      expect(r.height).toBe(4);
    }
    // Heat finer than the tile's pixels: a band is one pixel row.
    expect(bandLayout({ tileWidth: 32, tileHeight: 32, cols: 1 }, 64).bandRows).toBe(1);
    // A last band cut by the tile's bottom.
    const odd = bandLayout({ tileWidth: 10, tileHeight: 10, cols: 1 }, 3);
    expect(odd.bandRows).toBe(3);
    expect(bandRect(odd, 0, 0, 3)).toEqual({ x: 0, y: 9, width: 10, height: 1 });
  });

  it('heatMeanOver averages the overlapping heat pixels that hold values', () => {
    // A 4 × 4 heat image over a 32 × 32 cell: 8-px heat pixels.
    const heat = new Float32Array(16).map((_, i) => i);
    heat[5] = NaN;
    heat[6] = -3e38;
    const hr = { x: 0, y: 0, width: 32, height: 32 };
    expect(heatMeanOver(heat, 4, hr, { x: 0, y: 0, width: 32, height: 8 })).toBe((0 + 1 + 2 + 3) / 4);
    // Row 1 without its two empty pixels.
    expect(heatMeanOver(heat, 4, hr, { x: 0, y: 8, width: 32, height: 4 })).toBe((4 + 7) / 2);
    expect(heatMeanOver(heat, 4, hr, { x: 10, y: 10, width: 1, height: 1 })).toBeNaN();
    expect(heatMeanOver(heat, 4, hr, { x: 100, y: 0, width: 5, height: 5 })).toBeNaN();
  });
});

describe('windowsInView', () => {
  const s = tensorShape(room, [200, 130])!;
  it('lists the aligned windows a view touches, clipped at the matrix’s edges', () => {
    const all = windowsInView(s, { x0: -1e6, y0: -1e6, x1: 1e6, y1: 1e6 }, 64, 100)!;
    expect(all).toHaveLength(4 * 3);
    expect(all.reduce((n, w) => n + w.rows * w.cols, 0)).toBe(200 * 130);
    expect(all.at(-1)).toEqual({ row: 128, col: 192, rows: 2, cols: 8 });
    // A view over columns 70..80 of rows 0..10: the one window holding them.
    expect(windowsInView(s, { x0: 3200 + 70, y0: 0, x1: 3200 + 80, y1: 10 }, 64, 100)).toEqual([{ row: 0, col: 64, rows: 64, cols: 64 }]);
    expect(windowsInView(s, { x0: 0, y0: 0, x1: 100, y1: 100 }, 64, 100)).toEqual([]);
    // Too many: null, never a truncated list.
    expect(windowsInView(s, { x0: -1e6, y0: -1e6, x1: 1e6, y1: 1e6 }, 64, 11)).toBeNull();
  });
});
