/** The pure single-value maths of the explorer's readout (shared/map/values.ts). */
import { describe, expect, it } from 'vitest';
import { MapError } from '../../shared/map/errors';
import { blockScale, clipWindow, elementAtPixel, matrixShape, rowBlocks, unitScaleBlock } from '../../shared/map/values';
import { QUANT_FORMATS, f32ToF16 } from '../../shared/quant';

const grid = (tileWidth: number, tileHeight: number, cols: number, rows: number, tileCount: number) => ({ tileWidth, tileHeight, cols, rows, tileCount });

describe('matrixShape', () => {
  it('reads ggml dims as [columns, rows, ...], stacking higher dims as rows', () => {
    expect(matrixShape([64, 32])).toEqual({ rows: 32, cols: 64 });
    expect(matrixShape([288])).toEqual({ rows: 1, cols: 288 });
    expect(matrixShape([8, 4, 3, 2])).toEqual({ rows: 24, cols: 8 });
  });
});

describe('elementAtPixel', () => {
  const region = { x: 1000, y: 2000, width: 64, height: 64, grid: grid(32, 32, 2, 2, 3) };
  const f32 = { blockSize: 1, bytesPerBlock: 4 };
  it('follows PixelFS: 4 bytes a pixel, row-major in a tile, tiles row-major in the grid', () => {
    const t = { dims: [100, 100], bytes: 3 * 32 * 32 * 4 };
    expect(elementAtPixel(region, t, f32, 1000, 2000)).toEqual({ byte: 0, block: 0, element: 0, row: 0, col: 0 });
    // Second pixel row of tile 0: element 32.
    expect(elementAtPixel(region, t, f32, 1000.7, 2001.2)?.element).toBe(32);
    // Tile 1 starts at x + 32: element 1024 = row 10, col 24.
    expect(elementAtPixel(region, t, f32, 1032, 2000)).toEqual({ byte: 4096, block: 1024, element: 1024, row: 10, col: 24 });
    // Tile 2 is the second grid row.
    expect(elementAtPixel(region, t, f32, 1000, 2032)?.element).toBe(2048);
    // Past the stored tiles, past the bytes, outside the region: nothing.
    expect(elementAtPixel(region, t, f32, 1032, 2032)).toBeNull();
    expect(elementAtPixel(region, { dims: [10, 10], bytes: 400 }, f32, 1000, 2004)).toBeNull();
    expect(elementAtPixel(region, t, f32, 999, 2000)).toBeNull();
    expect(elementAtPixel(region, t, f32, 1000, 2064)).toBeNull();
  });
  it('puts a quantised byte in its block, the element at its proportional place', () => {
    const q8 = { blockSize: 32, bytesPerBlock: 34 };
    const t = { dims: [64, 64], bytes: 128 * 34 };
    // Byte 36 (pixel 9) is byte 2 of block 1: element 32 + floor(2·32/34) = 33.
    expect(elementAtPixel(region, t, q8, 1009, 2000)).toEqual({ byte: 36, block: 1, element: 33, row: 0, col: 33 });
  });
});

describe('clipWindow and rowBlocks', () => {
  it('clips to the tensor and refuses corners outside it, empty or oversized windows', () => {
    expect(clipWindow({ row: 60, col: 62, rows: 10, cols: 10 }, { rows: 64, cols: 64 }, 4096)).toEqual({ row: 60, col: 62, rows: 4, cols: 2 });
    const bad = [
      { row: 64, col: 0, rows: 1, cols: 1 },
      { row: 0, col: 64, rows: 1, cols: 1 },
      { row: -1, col: 0, rows: 1, cols: 1 },
      { row: 0.5, col: 0, rows: 1, cols: 1 },
      { row: 0, col: 0, rows: 0, cols: 1 },
      { row: 0, col: 0, rows: 65, cols: 64 },
      { row: 0, col: 0, rows: 2 ** 40, cols: 2 ** 40 },
    ];
    for (const w of bad) {
      expect(() => clipWindow(w, { rows: 64, cols: 64 }, 4096)).toThrow(MapError);
    }
  });
  it('covers a row’s columns with whole blocks, rows starting mid-block', () => {
    const q = { blockSize: 32, bytesPerBlock: 34 };
    // cols 48: row 1 columns [40, 48) are elements 88..96 → blocks 2 (64..96).
    expect(rowBlocks(1, { row: 1, col: 40, rows: 1, cols: 8 }, 48, q)).toEqual({ first: 2, count: 1, firstElement: 64 });
    // elements 60..70 straddle blocks 1 and 2.
    expect(rowBlocks(1, { row: 1, col: 12, rows: 1, cols: 10 }, 48, q)).toEqual({ first: 1, count: 2, firstElement: 32 });
  });
});

describe('block scales and stored integers', () => {
  it('reads d (and the min) where each type keeps it, and recovers the stored integers', () => {
    const values = new Float32Array(256 * 2);
    for (let i = 0; i < values.length; i++) values[i] = Math.sin(i * 0.37) * 0.8 + (i % 7) * 0.01;
    for (const type of ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'IQ4_NL', 'IQ4_XS'] as const) {
      const fmt = QUANT_FORMATS[type];
      const bytes = fmt.quantize(values);
      const block = bytes.subarray(0, fmt.bytesPerBlock);
      const { scale, min } = blockScale(type, block);
      expect(scale, type).not.toBeNull();
      expect(Number.isFinite(scale!), type).toBe(true);
      const dec = fmt.dequantize(block, fmt.blockSize);
      const unit = fmt.dequantize(unitScaleBlock(type, block)!, fmt.blockSize);
      // value = d · stored (+ min term): the stored part is whole numbers (IQ4 codebooks are integers too).
      for (let i = 0; i < fmt.blockSize; i++) expect(Number.isInteger(unit[i]!), `${type} ${i}`).toBe(true);
      if (min === null) {
        for (let i = 0; i < fmt.blockSize; i++) expect(dec[i]!, `${type} ${i}`).toBeCloseTo(scale! * unit[i]!, 5);
      }
      // The block given in is not changed.
      expect(fmt.dequantize(block, fmt.blockSize)).toEqual(dec);
    }
  });
  it('has none for float types', () => {
    expect(blockScale('F32', new Uint8Array(4))).toEqual({ scale: null, min: null });
    expect(unitScaleBlock('F16', new Uint8Array(2))).toBeNull();
    // f16 decode of a known scale.
    const b = new Uint8Array(34);
    const h = f32ToF16(0.125);
    b[0] = h & 0xff;
    b[1] = h >> 8;
    expect(blockScale('Q8_0', b).scale).toBe(0.125);
  });
});
