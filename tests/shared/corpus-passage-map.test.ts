/**
 * A passage's place on the map: its character range as UTF-8 bytes of the stored file (ASCII,
 * multi-byte, surrogate pairs), and those bytes' rectangles in the document's corpus region
 * (one tile, across tiles, the last tile partly filled), checked against the pixels PixelFS's
 * layout puts them in.
 */
import { describe, expect, it } from 'vitest';
import { passageMapRects, utf8ByteRange } from '../../shared/corpus/passage-map';
import { splitPassages } from '../../shared/corpus/passages';
import { placeCorpus } from '../../shared/corpus/placement';
import type { Rect } from '../../shared/map/geometry';
import { byteRangeRects, tileRect, type MapRegion } from '../../shared/map/regions';

const enc = new TextEncoder();

/** The map pixels (as "x,y") bytes [s, e) of a region's file lie in, tile by tile. */
function pixelsOf(region: MapRegion, s: number, e: number): Set<string> {
  const { tileWidth: tw, tileHeight: th } = region.grid;
  const out = new Set<string>();
  if (e <= s) return out;
  for (let p = Math.floor(s / 4); p < Math.ceil(e / 4); p++) {
    const t = tileRect(region, Math.floor(p / (tw * th)));
    const q = p % (tw * th);
    out.add(`${t.x + (q % tw)},${t.y + Math.floor(q / tw)}`);
  }
  return out;
}

/** The pixels the rectangles cover; fails on an overlap. */
function pixelsIn(rects: readonly Rect[]): Set<string> {
  const out = new Set<string>();
  let n = 0;
  for (const r of rects) {
    for (let y = r.y; y < r.y + r.height; y++) for (let x = r.x; x < r.x + r.width; x++) out.add(`${x},${y}`);
    n += r.width * r.height;
  }
  expect(out.size, 'rectangles overlap').toBe(n);
  return out;
}

describe('utf8ByteRange', () => {
  it('is the character range itself for ASCII', () => {
    const text = 'PixelFS stores files as PNG tiles.';
    expect(utf8ByteRange(text, 8, 14)).toEqual({ startByte: 8, endByte: 14 });
    expect(utf8ByteRange(text, 0, text.length)).toEqual({ startByte: 0, endByte: text.length });
    expect(utf8ByteRange(text, 5, 5)).toEqual({ startByte: 5, endByte: 5 });
  });

  it('counts 2-, 3- and 4-byte characters exactly as the file holds them', () => {
    const text = 'café — 東京 🙂 naïve, end';
    for (let s = 0; s <= text.length; s++) {
      for (let e = s; e <= text.length; e++) {
        const cut = (i: number) => i > 0 && i < text.length && /[\uDC00-\uDFFF]/.test(text[i]!);
        if (cut(s) || cut(e)) continue;
        expect(utf8ByteRange(text, s, e)).toEqual({ startByte: enc.encode(text.slice(0, s)).length, endByte: enc.encode(text.slice(0, e)).length });
      }
    }
    const at = text.indexOf('東');
    expect(utf8ByteRange(text, at, at + 2)).toEqual({ startByte: enc.encode(text.slice(0, at)).length, endByte: enc.encode(text.slice(0, at)).length + 6 });
  });

  it('gives every passage of a non-ASCII document the bytes of its own text', () => {
    const para = (i: number) => `Ünïcödé paragraph ${i}: 東京の空 🙂 and some words to fill the line up to a decent length.`;
    const text = `# Títle\n\n${Array.from({ length: 12 }, (_, i) => para(i)).join('\n\n')}\n`;
    const bytes = enc.encode(text);
    const passages = splitPassages(text, { maxChars: 300, minChars: 50 });
    expect(passages.length).toBeGreaterThan(2);
    for (const p of passages) {
      const r = utf8ByteRange(text, p.startChar, p.endChar);
      expect(new TextDecoder().decode(bytes.subarray(r.startByte, r.endByte))).toBe(text.slice(p.startChar, p.endChar));
    }
  });

  it('refuses a range outside the text, reversed, or inside a surrogate pair', () => {
    const text = 'a🙂b';
    expect(() => utf8ByteRange(text, 0, 5)).toThrow(/outside the document's 4 characters/);
    expect(() => utf8ByteRange(text, 3, 1)).toThrow(/ends before it starts/);
    expect(() => utf8ByteRange(text, 2, 4)).toThrow(/inside a character/);
    expect(() => utf8ByteRange(text, -1, 2)).toThrow(/outside/);
  });
});

describe('byteRangeRects and passageMapRects', () => {
  // Tiles of 4 x 2 pixels = 32 bytes; documents at most 3 tiles wide.
  const geo = { tileWidth: 4, tileHeight: 2 };
  const layout = placeCorpus('docs', [{ name: 'a.md', bytes: 40 }, { name: 'b.md', bytes: 150 }], geo, { x: 1000, y: 500 }, { maxTilesWide: 3, gap: 1 });
  const [a, b] = layout.regions as [MapRegion, MapRegion];

  it('covers an ASCII span inside one tile row by row', () => {
    // Bytes 5..22: pixels 1..5 of tile 0 (row 0 from column 1, row 1 columns 0-1).
    const rects = passageMapRects(layout.regions, 1, { startByte: 5, endByte: 22 })!;
    expect(rects).toEqual([
      { x: b.x + 1, y: b.y, width: 3, height: 1 },
      { x: b.x, y: b.y + 1, width: 2, height: 1 },
    ]);
    expect(pixelsIn(rects)).toEqual(pixelsOf(b, 5, 22));
  });

  it('covers a span across tiles: the rest of one tile, whole tiles, the start of the next row of tiles', () => {
    // b: 150 bytes = 5 tiles in a 3 x 2 grid. Bytes 20..140 run from tile 0 into tile 4.
    expect(b.grid).toMatchObject({ cols: 3, rows: 2, tileCount: 5 });
    const rects = byteRangeRects(b, 20, 140);
    expect(pixelsIn(rects)).toEqual(pixelsOf(b, 20, 140));
    // Tile 4 is the second tile of the second row of tiles.
    expect(rects.some((r) => r.x === b.x + 4 && r.y === b.y + 2)).toBe(true);
  });

  it('reaches the last, partly filled tile and no further', () => {
    // a: 40 bytes = tile 0 whole and 8 bytes (2 pixels) of tile 1.
    expect(a.grid.tileCount).toBe(2);
    const rects = passageMapRects(layout.regions, 0, { startByte: 30, endByte: 40 })!;
    expect(rects).toEqual([
      { x: a.x + 3, y: a.y + 1, width: 1, height: 1 },
      { x: a.x + 4, y: a.y, width: 2, height: 1 },
    ]);
    expect(pixelsIn(rects)).toEqual(pixelsOf(a, 30, 40));
    // The tiles' zero padding is still stored; past the last tile is not.
    expect(byteRangeRects(a, 40, 64)).toEqual([{ x: a.x + 6, y: a.y, width: 2, height: 1 }, { x: a.x + 4, y: a.y + 1, width: 4, height: 1 }]);
    expect(() => byteRangeRects(a, 40, 65)).toThrow(/run past the region's 2 tiles/);
  });

  it('matches the pixels for every span of a multi-byte document', () => {
    const text = 'Ünïcödé 東京 🙂 '.repeat(6);
    const bytes = enc.encode(text).length;
    const l = placeCorpus('u', [{ name: 'u.md', bytes }], geo, { x: -7, y: 3 }, { maxTilesWide: 2 });
    const r = l.regions[0]!;
    for (let s = 0; s < text.length; s += 3) {
      for (let e = s; e <= text.length; e += 5) {
        const cut = (i: number) => i > 0 && i < text.length && /[\uDC00-\uDFFF]/.test(text[i]!);
        if (cut(s) || cut(e)) continue;
        const range = utf8ByteRange(text, s, e);
        expect(pixelsIn(passageMapRects(l.regions, 0, range)!)).toEqual(pixelsOf(r, range.startByte, range.endByte));
      }
    }
  });

  it('has no rectangles for an empty span, and none for a document with no region', () => {
    expect(byteRangeRects(a, 12, 12)).toEqual([]);
    expect(passageMapRects(layout.regions, 2, { startByte: 0, endByte: 4 })).toBeNull();
    expect(() => byteRangeRects(a, 9, 3)).toThrow(/ends before it starts/);
  });
});
