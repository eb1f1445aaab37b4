/**
 * A tensor drawn in its own shape (specs/map.md §7a, specs/explorer.md "Tensor shapes"): its
 * rows × columns as a rectangle inside its region's room, which map pixel is which element, where
 * an element's bytes are stored (for colouring it from the byte-ordered pyramid), and which
 * windows of values cover a view. Pure arithmetic, no I/O.
 */
import type { Rect, Viewport } from './geometry';
import { matrixShape, type BlockShape } from './values';

/** The tensor's drawn rectangle: `cols × rows` values, `scale` map pixels each (1, or 2^-k when the matrix does not fit its room at 1). */
export interface TensorShape extends Rect {
  rows: number;
  cols: number;
  scale: number;
}

/** Powers of two tried below 1 before giving up (2^-40: a 10^12-wide row in a one-pixel room). */
const MAX_HALVINGS = 40;

/**
 * Map pixels per value: 1 when `cols × rows` fits the room, else the largest 2^-k that fits, so
 * that a value is always a whole fraction of a pixel (zooming in by 2^k makes it one pixel).
 */
export function shapeScale(room: { width: number; height: number }, m: { rows: number; cols: number }): number {
  let s = 1;
  for (let k = 0; k < MAX_HALVINGS && (m.cols * s > room.width || m.rows * s > room.height); k++) s /= 2;
  return s;
}

/**
 * A tensor of ggml `dims` ([columns, rows, ...], higher dims stacked as rows, 1-D as one row)
 * drawn from the top-left corner of its room; null for a tensor without values.
 */
export function tensorShape(room: Rect, dims: readonly number[]): TensorShape | null {
  const m = matrixShape(dims);
  if (!(m.rows >= 1 && m.cols >= 1)) return null;
  const s = shapeScale(room, m);
  return { x: room.x, y: room.y, width: m.cols * s, height: m.rows * s, rows: m.rows, cols: m.cols, scale: s };
}

/** The element drawn at map point (x, y): row, column and row-major index; null outside the matrix. */
export function shapeElementAt(shape: TensorShape, x: number, y: number): { row: number; col: number; element: number } | null {
  const col = Math.floor((x - shape.x) / shape.scale);
  const row = Math.floor((y - shape.y) / shape.scale);
  if (!(col >= 0 && row >= 0 && col < shape.cols && row < shape.rows)) return null;
  return { row, col, element: row * shape.cols + col };
}

/** The map rectangle element (row, col) is drawn in. */
export function shapeCellRect(shape: TensorShape, row: number, col: number, rows = 1, cols = 1): Rect {
  return { x: shape.x + col * shape.scale, y: shape.y + row * shape.scale, width: cols * shape.scale, height: rows * shape.scale };
}

/** The tensor byte element e is attributed to (the pyramid's rule: a quantised block's values spread evenly over its bytes). */
export function storedByte(element: number, block: BlockShape): number {
  return Math.floor((element * block.bytesPerBlock) / block.blockSize);
}

/**
 * Where a tensor's bytes lie on its region's map as "bands": runs of `bandRows` whole pixel rows
 * of one tile (the rows a heat image row covers). A band is a contiguous run of bytes, so it is a
 * contiguous run of elements: colouring an element by its band's mean colours the tensor by
 * means of consecutive values, which is what the pyramid can say in the tensor's own shape.
 */
export interface BandLayout {
  tileWidth: number;
  tileHeight: number;
  gridCols: number;
  bandRows: number;
  bandsPerTile: number;
}

export function bandLayout(grid: { tileWidth: number; tileHeight: number; cols: number }, heatSize: number): BandLayout {
  const bandRows = Math.max(1, Math.floor(grid.tileHeight / Math.max(1, heatSize)));
  return { tileWidth: grid.tileWidth, tileHeight: grid.tileHeight, gridCols: grid.cols, bandRows, bandsPerTile: Math.ceil(grid.tileHeight / bandRows) };
}

/** The band holding tensor byte `byte`: its tile and its index in the tensor. */
export function bandOfByte(b: BandLayout, byte: number): { tile: number; band: number } {
  const cap = b.tileWidth * b.tileHeight * 4;
  const tile = Math.floor(byte / cap);
  const row = Math.floor((byte - tile * cap) / (b.tileWidth * 4));
  return { tile, band: tile * b.bandsPerTile + Math.floor(row / b.bandRows) };
}

/** The map rectangle of band `band` in a region whose grid starts at (x, y). */
export function bandRect(b: BandLayout, x: number, y: number, band: number): Rect {
  const tile = Math.floor(band / b.bandsPerTile);
  const i = band - tile * b.bandsPerTile;
  const tx = x + (tile % b.gridCols) * b.tileWidth;
  const ty = y + Math.floor(tile / b.gridCols) * b.tileHeight;
  const y0 = ty + i * b.bandRows;
  return { x: tx, y: y0, width: b.tileWidth, height: Math.min(ty + b.tileHeight, y0 + b.bandRows) - y0 };
}

/**
 * The mean of a heat image's pixels (size × size over `heatRect`, row 0 on top) that overlap `r`,
 * skipping pixels without values (NaN, or below −1e37: the renderer's no-data sentinel); NaN
 * where none has one.
 */
export function heatMeanOver(heat: ArrayLike<number>, size: number, heatRect: Rect, r: Rect): number {
  const pw = heatRect.width / size;
  const ph = heatRect.height / size;
  const x0 = Math.max(0, Math.floor((r.x - heatRect.x) / pw));
  const x1 = Math.min(size, Math.ceil((r.x + r.width - heatRect.x) / pw));
  const y0 = Math.max(0, Math.floor((r.y - heatRect.y) / ph));
  const y1 = Math.min(size, Math.ceil((r.y + r.height - heatRect.y) / ph));
  let sum = 0;
  let n = 0;
  for (let j = y0; j < y1; j++) {
    for (let i = x0; i < x1; i++) {
      const v = heat[j * size + i]!;
      if (v === v && v > -1e37) {
        sum += v;
        n++;
      }
    }
  }
  return n ? sum / n : NaN;
}

/** A window of the matrix: rows [row, row + rows) × columns [col, col + cols). */
export interface ShapeWindow {
  row: number;
  col: number;
  rows: number;
  cols: number;
}

/**
 * The `chunk × chunk` windows of the matrix (aligned on multiples of `chunk`, clipped at its
 * edges) that a viewport touches; null when there are more than `max` (the caller draws
 * statistics instead of fetching values).
 */
export function windowsInView(shape: TensorShape, v: Viewport, chunk: number, max: number): ShapeWindow[] | null {
  const span = chunk * shape.scale;
  const c0 = Math.max(0, Math.floor((v.x0 - shape.x) / span));
  const c1 = Math.min(Math.ceil(shape.cols / chunk), Math.ceil((v.x1 - shape.x) / span));
  const r0 = Math.max(0, Math.floor((v.y0 - shape.y) / span));
  const r1 = Math.min(Math.ceil(shape.rows / chunk), Math.ceil((v.y1 - shape.y) / span));
  if (c1 <= c0 || r1 <= r0) return [];
  if ((c1 - c0) * (r1 - r0) > max) return null;
  const out: ShapeWindow[] = [];
  for (let r = r0; r < r1; r++) {
    for (let c = c0; c < c1; c++) {
      out.push({ row: r * chunk, col: c * chunk, rows: Math.min(chunk, shape.rows - r * chunk), cols: Math.min(chunk, shape.cols - c * chunk) });
    }
  }
  return out;
}
