/** The KV cache's pages on the map (renderer/src/explorer/kv-pages.ts): page rectangles in the kv-cache band, the used part, the words. */
import { describe, expect, it } from 'vitest';
import { checkKvPages, kvPageLayout, kvPagesText } from '../../renderer/src/explorer/kv-pages';
import type { Rect } from '../../shared/map/geometry';

// A band of 2 × 2 tiles of 4 × 4 pixels (64 bytes a tile) at (100, 200).
// Reserved room, as the map stores the kv-cache band: no stored tiles (tileCount 0).
const band = { x: 100, y: 200, width: 8, height: 8, grid: { tileWidth: 4, tileHeight: 4, cols: 2, rows: 2, tileCount: 0 } };
const pixels = (rs: readonly Rect[]) => rs.reduce((s, r) => s + r.width * r.height, 0);

describe('KV pages on the map', () => {
  it('lays page i over bytes [i · pageBytes, (i + 1) · pageBytes) of the band, whole tiles merged per tile row', () => {
    // 8 bytes a position, 8 positions a page: 64 bytes = one tile a page.
    const l = kvPageLayout(band, { pageSize: 8, pages: 3, position: 19, contextLength: 100, kvBytesPerToken: 8 })!;
    expect(l.pages).toEqual([[{ x: 100, y: 200, width: 4, height: 4 }], [{ x: 104, y: 200, width: 4, height: 4 }], [{ x: 100, y: 204, width: 4, height: 4 }]]);
    expect(l.capacity).toBe(24);
    expect(l.clipped).toBe(false);
    // 19 positions = 152 bytes = 38 pixels: two whole tiles (one rectangle) and 6 pixels of the third.
    expect(pixels(l.used)).toBe(38);
    expect(l.used[0]).toEqual({ x: 100, y: 200, width: 8, height: 4 });
  });

  it('cuts the last page at the context and clips pages past the band (it is resized a moment later)', () => {
    const cut = kvPageLayout(band, { pageSize: 8, pages: 2, position: 10, contextLength: 12, kvBytesPerToken: 8 })!;
    expect(cut.capacity).toBe(12);
    expect(pixels(cut.pages[1]!)).toBe(8); // 4 positions × 8 bytes / 4
    const big = kvPageLayout(band, { pageSize: 16, pages: 3, position: 40, contextLength: 100, kvBytesPerToken: 8 })!;
    expect(big.clipped).toBe(true);
    expect(pixels(big.pages.flat())).toBe(64); // the whole band, no more
    expect(big.pages[2]).toEqual([]);
  });

  it('refuses reports that do not add up: more positions than the pages hold, fractions, no page size', () => {
    expect(checkKvPages({ pageSize: 256, pages: 1, position: 257, contextLength: 2048, kvBytesPerToken: 1280 })).toMatch(/257 positions do not fit 1 pages of 256/);
    expect(checkKvPages({ pageSize: 0, pages: 1, position: 0, contextLength: 2048, kvBytesPerToken: 1280 })).toMatch(/page size/);
    expect(checkKvPages({ pageSize: 256, pages: 1.5, position: 0, contextLength: 2048, kvBytesPerToken: 1280 })).toMatch(/whole numbers/);
    expect(checkKvPages({ pageSize: 256, pages: 2, position: 304, contextLength: 2048, kvBytesPerToken: 1280 })).toBeNull();
    expect(kvPageLayout(band, { pageSize: 8, pages: 1, position: 9, contextLength: 100, kvBytesPerToken: 8 })).toBeNull();
    // No page held yet: nothing drawn.
    expect(kvPageLayout(band, { pageSize: 8, pages: 0, position: 0, contextLength: 100, kvBytesPerToken: 8 })).toEqual({ pages: [], used: [], capacity: 0, clipped: false });
  });

  it('says it in plain words', () => {
    expect(kvPagesText({ pageSize: 256, pages: 2, position: 304 })).toBe('KV cache: 2 pages of 256 positions allocated, 304 positions used');
    expect(kvPagesText({ pageSize: 256, pages: 1, position: 1 })).toBe('KV cache: 1 page of 256 positions allocated, 1 position used');
  });
});
