/**
 * Where passages of a corpus lie on the Infinite Map (specs/explorer.md, "Passages on the
 * map"): each passage's character range made UTF-8 bytes of its document's stored text (read
 * back from PixelFS, checked), and those bytes' rectangles in the document's `corpus` region
 * (shared/corpus/passage-map.ts).
 */
import { passageMapRects, utf8ByteRange } from '../../shared/corpus/passage-map';
import { corpusMapId } from '../../shared/corpus/placement';
import type { Rect } from '../../shared/map/geometry';
import type { CorpusStore } from './store';

export interface PassageRange {
  document: number;
  startChar: number;
  endChar: number;
}

export interface PassagePlace extends PassageRange {
  startByte: number;
  endByte: number;
  /** Empty when the document has no region on the map. */
  rects: Rect[];
}

export interface PassageRectsResult {
  corpus: string;
  mapId: string;
  box: Rect | null;
  passages: PassagePlace[];
}

/**
 * The map rectangles of `passages` of corpus `name`: CORPUS_NOT_FOUND for a missing corpus or
 * document, CORPUS_BAD_QUERY for a range outside its document, CORPUS_CORRUPT when the stored
 * text no longer matches the catalog.
 */
export async function passageRects(corpora: CorpusStore, name: string, passages: readonly PassageRange[]): Promise<PassageRectsResult> {
  const c = corpora.get(name);
  const mapId = corpusMapId(name);
  const regions = corpora.store.map.listRegions(mapId);
  const texts = new Map<number, string>();
  const out: PassagePlace[] = [];
  for (const p of passages) {
    let text = texts.get(p.document);
    if (text === undefined) {
      text = await corpora.readDocument(name, p.document);
      texts.set(p.document, text);
    }
    const bytes = utf8ByteRange(text, p.startChar, p.endChar);
    out.push({ document: p.document, startChar: p.startChar, endChar: p.endChar, ...bytes, rects: passageMapRects(regions, p.document, bytes) ?? [] });
  }
  return { corpus: name, mapId, box: c.mapBox, passages: out };
}
