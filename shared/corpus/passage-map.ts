/**
 * Where a passage lies on the Infinite Map (specs/explorer.md, "Passages on the map"). A corpus
 * document is one PixelFS file of UTF-8 text placed as its own `corpus` region (placement.ts:
 * region `corpus:NAME/I`, order I, tile i of the file at grid cell (i mod cols, i div cols)).
 * A passage's range is in UTF-16 code units of the stored text (passages.ts); the bytes it
 * occupies in the file are that range in UTF-8, and the rectangles are those bytes' pixels
 * (shared/map/regions.ts, byteRangeRects). Pure: the services compute it, the tests check it.
 */
import type { Rect } from '../map/geometry';
import { byteRangeRects, type TileGrid } from '../map/regions';
import { CorpusError } from './errors';

export interface ByteRange {
  startByte: number;
  endByte: number;
}

/** UTF-8 bytes of UTF-16 code unit `c` at `i` of `text` (a surrogate pair: 4 for the high half, 0 for the low). */
function unitBytes(text: string, i: number, c: number): number {
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdbff) {
    const d = text.charCodeAt(i + 1);
    return d >= 0xdc00 && d <= 0xdfff ? 4 : 3; // a lone half is encoded as U+FFFD
  }
  if (c >= 0xdc00 && c <= 0xdfff) {
    const p = text.charCodeAt(i - 1);
    return p >= 0xd800 && p <= 0xdbff ? 0 : 3;
  }
  return 3;
}

const splitsPair = (text: string, at: number): boolean => {
  const p = text.charCodeAt(at - 1);
  const c = text.charCodeAt(at);
  return p >= 0xd800 && p <= 0xdbff && c >= 0xdc00 && c <= 0xdfff;
};

/**
 * The UTF-8 byte range of characters [startChar, endChar) of `text` (UTF-16 code units, as
 * passages give them): exactly where they lie in the document's file. CORPUS_BAD_QUERY for a
 * range outside the text, reversed, or cutting a surrogate pair in half.
 */
export function utf8ByteRange(text: string, startChar: number, endChar: number): ByteRange {
  for (const [field, v] of [
    ['startChar', startChar],
    ['endChar', endChar],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0 || v > text.length) {
      throw new CorpusError('CORPUS_BAD_QUERY', `${field} ${v} is outside the document's ${text.length} characters`, { field, value: v });
    }
    if (splitsPair(text, v)) throw new CorpusError('CORPUS_BAD_QUERY', `${field} ${v} falls inside a character (a surrogate pair)`, { field, value: v });
  }
  if (endChar < startChar) throw new CorpusError('CORPUS_BAD_QUERY', `the range ${startChar}..${endChar} ends before it starts`, { field: 'endChar', value: endChar });
  let bytes = 0;
  let startByte = 0;
  for (let i = 0; i < endChar; i++) {
    if (i === startChar) startByte = bytes;
    bytes += unitBytes(text, i, text.charCodeAt(i));
  }
  if (startChar === endChar) startByte = bytes;
  return { startByte, endByte: bytes };
}

/** A corpus region as the map index gives it (what passageMapRects needs of it). */
export interface CorpusRegionPlace extends Rect {
  kind: string;
  /** The document's position in the corpus. */
  order: number;
  grid: TileGrid;
}

/**
 * The map rectangles a passage's bytes cover: in the region of document `document` among the
 * corpus's regions (null when that document has no region on the map). MAP_INPUT for bytes past
 * the region's stored tiles.
 */
export function passageMapRects(regions: readonly CorpusRegionPlace[], document: number, range: ByteRange): Rect[] | null {
  const region = regions.find((r) => r.kind === 'corpus' && r.order === document);
  if (!region) return null;
  return byteRangeRects(region, range.startByte, range.endByte);
}
