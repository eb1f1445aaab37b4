/**
 * The KV cache's pages on the map (issue 12 item 3; shared/engine/kv-pages.ts): the kv-cache band
 * holds the allocated pages one after another in PixelFS byte order (4 bytes a pixel, tiles
 * row-major), so page i is the byte span [i · pageBytes, (i + 1) · pageBytes) of the band, and
 * the positions in use are the span from 0. Pure: the live view draws what this returns.
 */
import { byteRangeRects, type TileGrid } from '../../../shared/map/regions';
import type { Rect } from '../../../shared/map/geometry';

/** What the engine reports about its KV cache (EngineActivity.kvPages and position). */
export interface KvPagesState {
  /** Positions per page. */
  pageSize: number;
  /** Pages held now. */
  pages: number;
  /** Positions in use. */
  position: number;
  /** The context: the last page is cut there. */
  contextLength: number;
  kvBytesPerToken: number;
}

export interface KvPageLayout {
  /** Each allocated page's rectangles (whole tiles of a tile row merged), in page order. */
  pages: Rect[][];
  /** The used positions' rectangles. */
  used: Rect[];
  /** Positions the pages cover (pages · pageSize, at most the context). */
  capacity: number;
  /** True when the band is smaller than the pages (it is resized a moment after they grow). */
  clipped: boolean;
}

const whole = (n: number) => Number.isSafeInteger(n) && n >= 0;

/** Why a report cannot be drawn, or null when it is consistent. */
export function checkKvPages(s: KvPagesState): string | null {
  if (!whole(s.pageSize) || s.pageSize < 1) return `page size ${s.pageSize} is not a positive whole number`;
  if (!whole(s.pages) || !whole(s.position) || !whole(s.contextLength)) return 'pages, position and context must be whole numbers';
  if (!(s.kvBytesPerToken > 0)) return `KV bytes per token ${s.kvBytesPerToken} is not positive`;
  if (s.position > Math.min(s.pages * s.pageSize, s.contextLength)) return `${s.position} positions do not fit ${s.pages} pages of ${s.pageSize}`;
  return null;
}

/** Merges rectangles that are whole tiles side by side in one tile row (a page of many tiles stays a few rectangles). */
function mergeTiles(rects: Rect[], grid: TileGrid): Rect[] {
  const out: Rect[] = [];
  for (const r of rects) {
    const last = out[out.length - 1];
    const tile = r.height === grid.tileHeight && r.width % grid.tileWidth === 0;
    if (last && tile && last.height === grid.tileHeight && last.width % grid.tileWidth === 0 && last.y === r.y && last.x + last.width === r.x) last.width += r.width;
    else out.push({ ...r });
  }
  return out;
}

/** Where the pages and the used positions lie in the band `region` (null when the report is inconsistent). */
export function kvPageLayout(region: Rect & { grid: TileGrid }, s: KvPagesState): KvPageLayout | null {
  if (checkKvPages(s) !== null) return null;
  // The band is reserved room: it stores no tiles (tileCount 0), its grid is what it can hold.
  const g = region.grid;
  const band = { ...region, grid: { ...g, tileCount: g.cols * g.rows } };
  const bandBytes = g.cols * g.rows * g.tileWidth * g.tileHeight * 4;
  const capacity = Math.min(s.pages * s.pageSize, s.contextLength);
  const span = (from: number, to: number) => {
    const a = Math.min(Math.round(from * s.kvBytesPerToken), bandBytes);
    const b = Math.min(Math.round(to * s.kvBytesPerToken), bandBytes);
    return mergeTiles(byteRangeRects(band, a, b), g);
  };
  const pages: Rect[][] = [];
  for (let i = 0; i < s.pages; i++) pages.push(span(i * s.pageSize, Math.min((i + 1) * s.pageSize, capacity)));
  return { pages, used: span(0, s.position), capacity, clipped: capacity * s.kvBytesPerToken > bandBytes };
}

/** "KV cache: 2 pages of 256 positions allocated, 304 positions used". */
export function kvPagesText(s: Pick<KvPagesState, 'pageSize' | 'pages' | 'position'>): string {
  const pages = s.pages === 1 ? '1 page' : `${s.pages.toLocaleString('en-US')} pages`;
  const used = s.position === 1 ? '1 position' : `${s.position.toLocaleString('en-US')} positions`;
  return `KV cache: ${pages} of ${s.pageSize.toLocaleString('en-US')} positions allocated, ${used} used`;
}
