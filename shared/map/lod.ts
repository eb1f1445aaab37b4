/**
 * Level-of-detail arithmetic. Each weights region has its own pyramid: level 0 has one cell per
 * stored tile; a level-k cell (c, r) covers the 2^k x 2^k tiles with columns c·2^k..(c+1)·2^k−1
 * and rows r·2^k..(r+1)·2^k−1 of the region's tile grid, so level k+1 merges 2x2 cells of level
 * k. A cell exists when it covers at least one stored tile. The top level of a region is the
 * first one with a single cell; queries up to TOP_CELL_SPAN levels coarser return that top cell.
 * Past that the whole region is under 1/64 of a cell of the queried level (under one heat pixel
 * of it), and leaving it out keeps a zoomed-out view from fetching one cell per tensor.
 */
import { MapError } from './errors';
import type { Rect } from './geometry';
import type { TileGrid } from './regions';

/** Deepest level the map uses: 2^60 tiles exceeds any representable map. */
export const MAX_LEVEL = 60;

/** How many levels past its own top a region still answers with its top cell (2^6 = 64). */
export const TOP_CELL_SPAN = 6;

export function assertLevel(level: number): void {
  if (!Number.isInteger(level) || level < 0 || level > MAX_LEVEL) {
    throw new MapError('MAP_INPUT', `level ${level} is not an integer in 0..${MAX_LEVEL}`, { level });
  }
}

/** The smallest level at which the grid is one cell. */
export function topLevel(grid: Pick<TileGrid, 'cols' | 'rows'>): number {
  let k = 0;
  while (2 ** k < grid.cols || 2 ** k < grid.rows) k++;
  return k;
}

/** Columns and rows of cells at a level (of the whole grid, existing or not). */
export function levelGrid(grid: Pick<TileGrid, 'cols' | 'rows'>, level: number): { cols: number; rows: number } {
  const s = 2 ** level;
  return { cols: Math.ceil(grid.cols / s), rows: Math.ceil(grid.rows / s) };
}

/** Whether level-k cell (c, r) covers a stored tile (tiles fill the grid row-major). */
export function cellExists(grid: TileGrid, level: number, c: number, r: number): boolean {
  const s = 2 ** level;
  const lg = levelGrid(grid, level);
  if (c < 0 || r < 0 || c >= lg.cols || r >= lg.rows) return false;
  return r * s * grid.cols + c * s < grid.tileCount;
}

/** How many level-(k−1) children a level-k cell has (k ≥ 1). */
export function childCount(grid: TileGrid, level: number, c: number, r: number): number {
  let n = 0;
  for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) if (cellExists(grid, level - 1, 2 * c + dx, 2 * r + dy)) n++;
  return n;
}

/** Every existing cell at a level, row-major. */
export function cellsAt(grid: TileGrid, level: number): Array<{ col: number; row: number }> {
  const lg = levelGrid(grid, level);
  const out: Array<{ col: number; row: number }> = [];
  for (let r = 0; r < lg.rows; r++) for (let c = 0; c < lg.cols; c++) if (cellExists(grid, level, c, r)) out.push({ col: c, row: r });
  return out;
}

/** The full 2^k-tile square a cell stands for (its heat image covers exactly this). */
export function cellNominalRect(region: Rect & { grid: TileGrid }, level: number, c: number, r: number): Rect {
  const s = 2 ** level;
  const g = region.grid;
  return { x: region.x + c * s * g.tileWidth, y: region.y + r * s * g.tileHeight, width: s * g.tileWidth, height: s * g.tileHeight };
}

/** A cell's rectangle on the map: its nominal square clipped to the region's tile grid. */
export function cellRect(region: Rect & { grid: TileGrid }, level: number, c: number, r: number): Rect {
  const n = cellNominalRect(region, level, c, r);
  const g = region.grid;
  const right = region.x + g.cols * g.tileWidth;
  const bottom = region.y + g.rows * g.tileHeight;
  return { x: n.x, y: n.y, width: Math.min(n.x + n.width, right) - n.x, height: Math.min(n.y + n.height, bottom) - n.y };
}

/** The level interval [lo, hi] a cell answers queries for: [k, k], or [top, top + TOP_CELL_SPAN] for the top cell. */
export function cellLevelSpan(grid: Pick<TileGrid, 'cols' | 'rows'>, level: number): [number, number] {
  return level >= topLevel(grid) ? [level, Math.min(MAX_LEVEL, level + TOP_CELL_SPAN)] : [level, level];
}

/**
 * The coarsest level whose cells still carry at least one heat pixel per output pixel, when map
 * pixels are drawn at `scale` output pixels per map pixel: the largest k with
 * 2^k · tileSide · scale ≤ heatSize (0 when even level 0 is coarser than that).
 */
export function chooseLevel(scale: number, tileWidth: number, tileHeight: number, heatSize: number): number {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new MapError('MAP_INPUT', `scale ${scale} is not a positive number`, { scale });
  const side = Math.max(tileWidth, tileHeight);
  const k = Math.floor(Math.log2(heatSize / (side * scale)));
  return Math.max(0, Math.min(MAX_LEVEL, k));
}
