import { MapError } from './errors';
import type { Rect } from './geometry';

/**
 * What a rectangle of the map holds. `weights`: a tensor's stored tiles. `activations`: room
 * for live activations of a model. `kv-cache`: the KV cache in use. `free`: space reserved for
 * a model (the room its KV cache may grow into) that holds nothing yet. `corpus`: one document
 * of a text corpus, its stored tiles (shared/corpus/placement.ts; its "model" is `corpus:NAME`).
 */
export type RegionKind = 'weights' | 'activations' | 'kv-cache' | 'free' | 'corpus';
export const REGION_KINDS: readonly RegionKind[] = Object.freeze(['weights', 'activations', 'kv-cache', 'free', 'corpus']);

export function isRegionKind(k: unknown): k is RegionKind {
  return typeof k === 'string' && (REGION_KINDS as readonly string[]).includes(k);
}

/**
 * How a region is cut into tiles: a grid of `cols` x `rows` tiles of tileWidth x tileHeight
 * pixels, anchored at the region's (x, y). The first `tileCount` cells in row-major order are
 * the stored tiles: tile i, at grid cell (i mod cols, i div cols), is the tensor's bytes
 * [i · tile capacity, (i + 1) · tile capacity) — PixelFS tile i of the tensor's own file in the
 * import layout, wherever the active layout keeps those bytes otherwise (storedTileSource);
 * the rest of the grid is empty. Reserved regions (activations, kv-cache, free) have tileCount 0.
 */
export interface TileGrid {
  tileWidth: number;
  tileHeight: number;
  cols: number;
  rows: number;
  tileCount: number;
}

/** The stored tensor a weights region shows. */
export interface RegionTensor {
  ggmlType: string;
  dims: number[];
  byteSize: number;
}

export interface MapRegion extends Rect {
  /** Unique on the map: `${modelId}/${tensorName}`, or `${modelId}/@label` for reserved space. */
  id: string;
  kind: RegionKind;
  modelId: string;
  /** The tensor name for weights; a label (activations, kv-cache, kv-reserve) otherwise. */
  name: string;
  grid: TileGrid;
  /** Position in the model's execution order (weights first, then the reserved regions). */
  order: number;
  /** Transformer block index for `blk.N.*` tensors; null otherwise. */
  block: number | null;
  tensor: RegionTensor | null;
}

/** Bytes one tile holds: RGBA8, 4 bytes per pixel. */
export function tileCapacity(tileWidth: number, tileHeight: number): number {
  return tileWidth * tileHeight * 4;
}

/** Tiles a file of byteSize bytes occupies in PixelFS (the last one zero-padded). */
export function tilesForBytes(byteSize: number, tileWidth: number, tileHeight: number): number {
  return Math.ceil(byteSize / tileCapacity(tileWidth, tileHeight));
}

/** The map rectangle of stored tile i of a region. */
export function tileRect(region: Rect & { grid: TileGrid }, i: number): Rect {
  const g = region.grid;
  if (!Number.isInteger(i) || i < 0 || i >= g.tileCount) {
    throw new MapError('MAP_INPUT', `tile ${i} is outside 0..${g.tileCount - 1}`, { tile: i, tileCount: g.tileCount });
  }
  return {
    x: region.x + (i % g.cols) * g.tileWidth,
    y: region.y + Math.floor(i / g.cols) * g.tileHeight,
    width: g.tileWidth,
    height: g.tileHeight,
  };
}

/** Checks a grid's numbers and that it fits inside its region. */
export function assertGrid(region: Rect & { grid: TileGrid; id?: string }): void {
  const g = region.grid;
  const what = `region ${region.id ?? ''}`.trim();
  for (const k of ['tileWidth', 'tileHeight', 'cols', 'rows', 'tileCount'] as const) {
    if (!Number.isSafeInteger(g[k]) || g[k] < 0) {
      throw new MapError('MAP_INPUT', `${what}: grid.${k} = ${g[k]} is not a non-negative integer`, { field: k, value: g[k] });
    }
  }
  if (g.tileWidth < 1 || g.tileHeight < 1) throw new MapError('MAP_INPUT', `${what}: tile size ${g.tileWidth}x${g.tileHeight}`);
  if (g.tileCount > g.cols * g.rows) {
    throw new MapError('MAP_INPUT', `${what}: ${g.tileCount} tiles do not fit a ${g.cols}x${g.rows} grid`, { ...g });
  }
  if (g.cols * g.tileWidth > region.width || g.rows * g.tileHeight > region.height) {
    throw new MapError('MAP_INPUT', `${what}: a ${g.cols}x${g.rows} grid of ${g.tileWidth}x${g.tileHeight} tiles exceeds ${region.width}x${region.height}`, {
      ...g,
    });
  }
}

/**
 * The rectangles (at most four) covering the first `bytes` bytes of a region laid out as
 * PixelFS lays out a file: 4 bytes per pixel, pixels row-major inside a tile, tiles row-major in
 * the region's grid. Bytes past the grid's capacity are not drawn (`clipped` says so). The
 * explorer fills the kv-cache region this way as the engine's KV cache grows.
 */
export function byteSpanRects(region: Rect & { grid: TileGrid }, bytes: number): { rects: Rect[]; clipped: boolean } {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new MapError('MAP_INPUT', `byte count ${bytes} is not a non-negative integer`, { field: 'bytes', value: bytes });
  const { tileWidth: tw, tileHeight: th, cols, rows } = region.grid;
  const perTile = tw * th;
  const capacity = perTile * cols * rows;
  const wanted = Math.ceil(bytes / 4);
  const pixels = Math.min(wanted, capacity);
  const rects: Rect[] = [];
  const add = (x: number, y: number, width: number, height: number) => {
    if (width > 0 && height > 0) rects.push({ x: region.x + x, y: region.y + y, width, height });
  };
  const full = Math.floor(pixels / perTile);
  // Whole rows of full tiles, then the full tiles of the next row.
  add(0, 0, cols * tw, Math.floor(full / cols) * th);
  add(0, Math.floor(full / cols) * th, (full % cols) * tw, th);
  // The partly filled tile: its full pixel rows, then the pixels of the next row.
  const rest = pixels - full * perTile;
  if (rest > 0) {
    const tx = (full % cols) * tw;
    const ty = Math.floor(full / cols) * th;
    add(tx, ty, tw, Math.floor(rest / tw));
    add(tx, ty + Math.floor(rest / tw), rest % tw, 1);
  }
  return { rects, clipped: wanted > capacity };
}

/** The rectangles of pixels [a, b) of one tile at (x, y), rows of `tw` pixels: a partial first row, whole rows, a partial last row. */
function pixelRunRects(x: number, y: number, tw: number, a: number, b: number, out: Rect[]): void {
  const ra = Math.floor(a / tw);
  const ca = a % tw;
  const rb = Math.floor((b - 1) / tw);
  const cb = ((b - 1) % tw) + 1; // end column (exclusive) of the last row
  if (ra === rb) {
    out.push({ x: x + ca, y: y + ra, width: cb - ca, height: 1 });
    return;
  }
  let top = ra;
  if (ca > 0) {
    out.push({ x: x + ca, y: y + ra, width: tw - ca, height: 1 });
    top = ra + 1;
  }
  const bottom = cb < tw ? rb : rb + 1;
  if (bottom > top) out.push({ x, y: y + top, width: tw, height: bottom - top });
  if (cb < tw) out.push({ x, y: y + rb, width: cb, height: 1 });
}

/**
 * The rectangles covering bytes [startByte, endByte) of the file a region's stored tiles hold
 * (PixelFS's layout, as byteSpanRects: 4 bytes a pixel, pixels row-major in a tile, tile i at
 * tileRect(region, i)). A pixel partly in the span counts. Per tile touched: at most a partial
 * first row, a block of whole rows and a partial last row. An empty span has none; a span past
 * the stored tiles is refused (MAP_INPUT).
 */
export function byteRangeRects(region: Rect & { grid: TileGrid }, startByte: number, endByte: number): Rect[] {
  for (const [field, v] of [
    ['startByte', startByte],
    ['endByte', endByte],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new MapError('MAP_INPUT', `${field} ${v} is not a non-negative integer`, { field, value: v });
  }
  if (endByte < startByte) throw new MapError('MAP_INPUT', `byte range ${startByte}..${endByte} ends before it starts`, { startByte, endByte });
  const out: Rect[] = [];
  if (endByte === startByte) return out;
  const { tileWidth: tw, tileHeight: th, tileCount } = region.grid;
  const perTile = tw * th;
  const p0 = Math.floor(startByte / 4);
  const p1 = Math.ceil(endByte / 4);
  if (p1 > tileCount * perTile) {
    throw new MapError('MAP_INPUT', `bytes ${startByte}..${endByte} run past the region's ${tileCount} tiles (${tileCount * perTile * 4} bytes)`, { startByte, endByte, tileCount });
  }
  for (let t = Math.floor(p0 / perTile); t * perTile < p1; t++) {
    const tile = tileRect(region, t);
    const a = Math.max(p0, t * perTile) - t * perTile;
    const b = Math.min(p1, (t + 1) * perTile) - t * perTile;
    pixelRunRects(tile.x, tile.y, tw, a, b, out);
  }
  return out;
}

/**
 * Where a stored tensor's bytes are read from: a PixelFS file and the byte of it where the
 * tensor's first byte sits. In the import layout each tensor has its own file (offset 0); once
 * a packed layout is active it lies in a pack at its offset there (specs/pixelfs.md, "Layout
 * reorganisation"). The map index keeps no such place: it is resolved through the model's
 * layout journal whenever it is asked for, so it switches with the layout.
 */
export interface TensorFilePlace {
  readonly file: string;
  readonly offset: number;
}

/** What stored tile i of a weights region shows, and which bytes and PixelFS tiles of its file hold them. */
export interface StoredTileSource {
  readonly file: string;
  /** Bytes [offset, offset + length) of `file`: the tensor's bytes [i · tileBytes, i · tileBytes + length). */
  readonly offset: number;
  readonly length: number;
  /**
   * The PixelFS tiles of `file` holding them, first..last: tile i alone in the import layout;
   * in a pack, one or two (two when the tensor does not start on a tile boundary).
   */
  readonly firstTile: number;
  readonly lastTile: number;
}

function assertCount(field: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new MapError('MAP_INPUT', `${field} ${v} is not an integer >= ${min}`, { field, value: v });
}

/** The PixelFS tiles of a file that bytes [offset, offset + length) touch; null for an empty span. */
export function fileTileSpan(offset: number, length: number, tileBytes: number): { first: number; last: number } | null {
  assertCount('offset', offset, 0);
  assertCount('length', length, 0);
  assertCount('tileBytes', tileBytes, 1);
  if (length === 0) return null;
  return { first: Math.floor(offset / tileBytes), last: Math.floor((offset + length - 1) / tileBytes) };
}

/**
 * Stored tile i of a region (grid cell (i mod cols, i div cols)) shows the tensor's bytes
 * [i · tileBytes, min((i + 1) · tileBytes, tensorBytes)): those bytes' place in the file the
 * tensor is read from now, and the PixelFS tiles of that file holding them. A tile index
 * outside the tensor's tiles is refused (MAP_INPUT).
 */
export function storedTileSource(place: TensorFilePlace, tensorBytes: number, tileBytes: number, i: number): StoredTileSource {
  assertCount('offset', place.offset, 0);
  assertCount('tensorBytes', tensorBytes, 0);
  assertCount('tileBytes', tileBytes, 1);
  const tiles = Math.ceil(tensorBytes / tileBytes);
  if (!Number.isInteger(i) || i < 0 || i >= tiles) {
    throw new MapError('MAP_INPUT', `tile ${i} is outside the tensor's ${tiles} stored tiles`, { tile: i, tileCount: tiles });
  }
  const start = i * tileBytes;
  const length = Math.min(tileBytes, tensorBytes - start);
  const span = fileTileSpan(place.offset + start, length, tileBytes)!;
  return { file: place.file, offset: place.offset + start, length, firstTile: span.first, lastTile: span.last };
}
