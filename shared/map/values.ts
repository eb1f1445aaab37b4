/**
 * Single values of a tensor on the map (specs/explorer.md, "Reading single values"): which
 * element a map pixel holds, the tensor's rows × columns, the byte spans a window of values
 * occupies, and a quantised block's scale and stored code. Pure arithmetic, no I/O.
 */
import { MapError } from './errors';
import type { Rect } from './geometry';
import type { TileGrid } from './regions';
import { f16ToF32 as f16 } from '../quant/half';

/** Block geometry of a ggml type: elements per block and bytes per block (1 and 4 for F32). */
export interface BlockShape {
  blockSize: number;
  bytesPerBlock: number;
}

/** A tensor as a matrix: ggml dims are [columns, rows, ...]; higher dims stack more rows. */
export function matrixShape(dims: readonly number[]): { rows: number; cols: number } {
  const cols = dims[0] ?? 1;
  let rows = 1;
  for (let i = 1; i < dims.length; i++) rows *= dims[i]!;
  return { rows, cols };
}

export interface PixelElement {
  /** Byte of the tensor's data the pixel's first byte is. */
  byte: number;
  /** Block the byte lies in. */
  block: number;
  /** The element the readout shows: the pixel's first element (quantised blocks: its proportional place in the block). */
  element: number;
  row: number;
  col: number;
}

/**
 * The element under map point (x, y) of a tensor region laid out as PixelFS lays out its file
 * (4 bytes per pixel, pixels row-major in a tile, tiles row-major in the grid); null outside the
 * stored bytes. In a quantised block bytes do not map one-to-one onto elements, so the element is
 * the one at the byte's proportional place in its block (the block and its scale are exact).
 */
export function elementAtPixel(
  region: Rect & { grid: TileGrid },
  tensor: { dims: readonly number[]; bytes: number },
  shape: BlockShape,
  x: number,
  y: number,
): PixelElement | null {
  const px = Math.floor(x - region.x);
  const py = Math.floor(y - region.y);
  const g = region.grid;
  if (px < 0 || py < 0 || px >= g.cols * g.tileWidth || py >= g.rows * g.tileHeight) return null;
  const tile = Math.floor(py / g.tileHeight) * g.cols + Math.floor(px / g.tileWidth);
  if (tile >= g.tileCount) return null;
  const inTile = (py % g.tileHeight) * g.tileWidth + (px % g.tileWidth);
  const byte = (tile * g.tileWidth * g.tileHeight + inTile) * 4;
  if (byte >= tensor.bytes) return null;
  const block = Math.floor(byte / shape.bytesPerBlock);
  const within = byte - block * shape.bytesPerBlock;
  const element = block * shape.blockSize + Math.floor((within * shape.blockSize) / shape.bytesPerBlock);
  const { cols } = matrixShape(tensor.dims);
  return { byte, block, element, row: Math.floor(element / cols), col: element % cols };
}

/** A window of values: rows [row, row + rows) × columns [col, col + cols). */
export interface ValueWindow {
  row: number;
  col: number;
  rows: number;
  cols: number;
}

/**
 * The window clipped to a tensor of `shape`; a MapError (MAP_INPUT) when its corner lies outside
 * the tensor or it holds more than `maxValues` values (a caller must page, not ask for all 7B).
 */
export function clipWindow(w: ValueWindow, shape: { rows: number; cols: number }, maxValues: number): ValueWindow {
  for (const k of ['row', 'col', 'rows', 'cols'] as const) {
    if (!Number.isSafeInteger(w[k]) || w[k] < 0) throw new MapError('MAP_INPUT', `value window ${k} ${w[k]} is not a non-negative integer`, { field: k, value: w[k] });
  }
  if (w.row >= shape.rows || w.col >= shape.cols) {
    throw new MapError('MAP_INPUT', `value window corner (row ${w.row}, column ${w.col}) is outside the tensor's ${shape.rows} × ${shape.cols}`, { field: 'row/col', row: w.row, col: w.col, ...shape });
  }
  if (w.rows < 1 || w.cols < 1) throw new MapError('MAP_INPUT', `value window ${w.rows} × ${w.cols} is empty`, { rows: w.rows, cols: w.cols });
  // Refuse on the asked size, not the clipped one: the limit is part of the contract.
  if (w.rows * w.cols > maxValues) {
    throw new MapError('MAP_INPUT', `value window ${w.rows} × ${w.cols} holds more than ${maxValues} values: ask for a smaller window`, { field: 'rows×cols', value: w.rows * w.cols, max: maxValues });
  }
  return { row: w.row, col: w.col, rows: Math.min(w.rows, shape.rows - w.row), cols: Math.min(w.cols, shape.cols - w.col) };
}

/** The whole blocks holding row r's columns [col, col + cols): [first block, block count, first element of the first block]. */
export function rowBlocks(r: number, w: ValueWindow, shapeCols: number, shape: BlockShape): { first: number; count: number; firstElement: number } {
  const e0 = r * shapeCols + w.col;
  const e1 = e0 + w.cols;
  const first = Math.floor(e0 / shape.blockSize);
  const last = Math.ceil(e1 / shape.blockSize);
  return { first, count: last - first, firstElement: first * shape.blockSize };
}

/**
 * Where a quantised block keeps its f16 scale d (and its min, for the types with one), per ggml's
 * block structs. Float types have none.
 */
export const BLOCK_SCALE_AT: Readonly<Record<string, { d: number; min?: number }>> = Object.freeze({
  Q8_0: { d: 0 },
  Q4_0: { d: 0 },
  Q4_1: { d: 0, min: 2 },
  Q5_0: { d: 0 },
  Q5_1: { d: 0, min: 2 },
  Q2_K: { d: 80, min: 82 },
  Q3_K: { d: 108 },
  Q4_K: { d: 0, min: 2 },
  Q5_K: { d: 0, min: 2 },
  Q6_K: { d: 208 },
  IQ4_NL: { d: 0 },
  IQ4_XS: { d: 0 },
});

/** The block's scale d and min (null where the type has none), read from one block's bytes. */
export function blockScale(type: string, block: Uint8Array): { scale: number | null; min: number | null } {
  const at = BLOCK_SCALE_AT[type];
  if (!at) return { scale: null, min: null };
  const u16 = (o: number) => block[o]! | (block[o + 1]! << 8);
  return { scale: f16(u16(at.d)), min: at.min === undefined ? null : f16(u16(at.min)) };
}

/**
 * The block with its scale set to 1 and its min to 0: decoding it gives each element's stored
 * integer (times its sub-block scale in the K types), what the quantiser wrote before scaling.
 */
export function unitScaleBlock(type: string, block: Uint8Array): Uint8Array | null {
  const at = BLOCK_SCALE_AT[type];
  if (!at) return null;
  const b = new Uint8Array(block);
  b[at.d] = 0x00;
  b[at.d + 1] = 0x3c; // f16 1.0
  if (at.min !== undefined) {
    b[at.min] = 0;
    b[at.min + 1] = 0;
  }
  return b;
}
