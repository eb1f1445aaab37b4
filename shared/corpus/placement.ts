/**
 * Where a corpus goes on the Infinite Map: one `corpus` region per document, holding the
 * document's PixelFS tiles (tile i of the document's file at grid cell (i mod cols, i div cols),
 * as a tensor's). Documents follow their order on shelves, like a model column's tensors: each
 * document is a rectangle of whole tiles at most `maxTilesWide` wide, placed left to right
 * while the shelf has room, else on a new shelf below. The map index files the regions under the
 * "model" `corpus:NAME`, so a corpus has a box on the map like a model and the next model or
 * corpus is placed right of it.
 */
import { MapError } from '../map/errors';
import { unionRects, type Rect } from '../map/geometry';
import { tilesForBytes, type MapRegion } from '../map/regions';

export interface CorpusPlacementOptions {
  /** Widest a document's grid and a shelf may be, in tiles (default 8). */
  maxTilesWide?: number;
  /** Pixels between documents and shelves (default max(1, tile/8)). */
  gap?: number;
}

export interface CorpusLayout {
  /** The map index's owner id of the regions: `corpus:NAME`. */
  mapId: string;
  box: Rect;
  regions: MapRegion[];
}

/** The map owner id of a corpus. */
export function corpusMapId(name: string): string {
  return `corpus:${name}`;
}

export function placeCorpus(
  name: string,
  documents: readonly { name: string; bytes: number }[],
  geo: { tileWidth: number; tileHeight: number },
  origin: { x: number; y: number },
  opts: CorpusPlacementOptions = {},
): CorpusLayout {
  const { tileWidth: tw, tileHeight: th } = geo;
  const maxWide = opts.maxTilesWide ?? 8;
  const gap = opts.gap ?? Math.max(1, Math.floor(Math.min(tw, th) / 8));
  if (!Number.isInteger(maxWide) || maxWide < 1) throw new MapError('MAP_INPUT', `maxTilesWide ${maxWide} must be a positive integer`, { maxTilesWide: maxWide });
  if (documents.length === 0) throw new MapError('MAP_INPUT', `corpus ${name} has no documents to place`, { corpus: name });
  const mapId = corpusMapId(name);
  const shelfWidth = maxWide * tw + (maxWide - 1) * gap;
  const regions: MapRegion[] = [];
  let x = 0;
  let y = 0;
  let shelfHeight = 0;
  documents.forEach((d, i) => {
    const tiles = Math.max(1, tilesForBytes(d.bytes, tw, th));
    const cols = Math.min(maxWide, tiles);
    const rows = Math.ceil(tiles / cols);
    const width = cols * tw;
    const height = rows * th;
    if (x > 0 && x + width > shelfWidth) {
      x = 0;
      y += shelfHeight + gap;
      shelfHeight = 0;
    }
    regions.push({
      id: `${mapId}/${i}`,
      kind: 'corpus',
      modelId: mapId,
      name: d.name,
      x: origin.x + x,
      y: origin.y + y,
      width,
      height,
      grid: { tileWidth: tw, tileHeight: th, cols, rows, tileCount: tilesForBytes(d.bytes, tw, th) },
      order: i,
      block: null,
      tensor: null,
    });
    x += width + gap;
    shelfHeight = Math.max(shelfHeight, height);
  });
  return { mapId, box: unionRects(regions)!, regions };
}
