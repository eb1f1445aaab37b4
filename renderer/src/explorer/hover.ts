import type { MapCellInfo, MapRegionInfo } from '../../../shared/ipc/channels/map';
import { regionWords } from '../../../shared/map/region-words';
import { shapeElementAt, storedByte, type TensorShape } from '../../../shared/map/shape';
import { getQuantFormat, isQuantTypeName } from '../../../shared/quant';
import type { Camera2D } from './camera';
import { fmtBytes, fmtShape, fmtValue } from './format';
import { heatAt } from './heat';
import { KIND_HELP } from './legend';
import { READOUT_ZOOM } from './readout';
import { cellKey, type TextureCache } from './texture-cache';

/** The region under screen point (sx, sy): a tensor before a reserved band. */
export function regionAt(cam: Camera2D, regions: readonly MapRegionInfo[], sx: number, sy: number): MapRegionInfo | null {
  const p = cam.screenToMap(sx, sy);
  let best: MapRegionInfo | null = null;
  for (const r of regions) {
    const q = r.rect;
    if (p.x >= q.x && p.x < q.x + q.width && p.y >= q.y && p.y < q.y + q.height) {
      // Weights over the reserved bands (they never overlap, but prefer the tensor anyway).
      if (!best || r.kind === 'weights') best = r;
    }
  }
  return best;
}

/** The level-0 cell (stored tile) holding element `element`'s bytes, when it is in view at level 0. */
function tileCellOf(cells: readonly MapCellInfo[], r: MapRegionInfo, element: number | undefined): MapCellInfo | null {
  if (element === undefined || !r.tensor || !isQuantTypeName(r.tensor.type)) return null;
  const tile = Math.floor(storedByte(element, getQuantFormat(r.tensor.type)) / (r.grid.tileWidth * r.grid.tileHeight * 4));
  return cells.find((c) => c.regionId === r.id && c.tile === tile) ?? null;
}

function cellAt(cells: readonly MapCellInfo[], regionId: string, x: number, y: number): MapCellInfo | null {
  for (const c of cells) {
    const q = c.rect;
    if (c.regionId === regionId && x >= q.x && x < q.x + q.width && y >= q.y && y < q.y + q.height) return c;
  }
  return null;
}

/** What the overlays say about a map point (null: nothing there). */
export interface Describer {
  describeAt(x: number, y: number): string | null;
}

/** What the hover tooltip reads. */
export interface HoverSources {
  cam: Camera2D;
  cells: readonly MapCellInfo[];
  cache: TextureCache;
  /** The live engine's words, then the residency, passage and weight-change layers', in that order. */
  overlays: readonly Describer[];
}

/**
 * The tooltip's lines for region `r` under map point (x, y), drawn in `shape` (null: its whole
 * rectangle): name, what it is, type and size, how to reach single values, what the overlays say,
 * the element under the pointer and its tile's statistics.
 */
export function hoverLines(r: MapRegionInfo, shape: TensorShape | null, x: number, y: number, s: HoverSources): string[] {
  const lines = [r.name, regionWords(r.kind, r.name).title];
  if (r.tensor) lines.push(`${r.tensor.type} ${fmtShape(r.tensor.dims)} · ${fmtBytes(r.tensor.bytes)}`);
  // Say how to get to single values (the readout starts at READOUT_ZOOM).
  const perValue = s.cam.zoom * (shape?.scale ?? 1);
  if (r.tensor && perValue < READOUT_ZOOM) lines.push(`zoom in ${Math.ceil(READOUT_ZOOM / perValue)}× to read single values`);
  else lines.push(KIND_HELP[r.kind] ?? r.kind);
  for (const o of s.overlays) {
    const words = o.describeAt(x, y);
    if (words) lines.push(words);
  }
  const el0 = shape ? shapeElementAt(shape, x, y) : null;
  if (el0) lines.push(`row ${el0.row}, column ${el0.col}`);
  else if (shape) lines.push(`outside the tensor's ${shape.rows} × ${shape.cols}: the rest of its tiles' room`);
  // Its tiles' statistics (where the tensor is stored).
  const c = shape ? tileCellOf(s.cells, r, el0?.element) : cellAt(s.cells, r.id, x, y);
  if (c) {
    const e = s.cache.get(cellKey(c));
    const v = e ? heatAt(e.data, e.size, (x - e.heatRect.x) / e.heatRect.width, (y - e.heatRect.y) / e.heatRect.height) : NaN;
    const where = c.tile !== null ? `tile ${c.tile}` : `level ${c.level} cell (${c.col}, ${c.row})`;
    lines.push(`${where}: mean ${fmtValue(c.stats?.mean)} ± ${fmtValue(c.stats?.std)}`);
    // The heat under the pointer is in byte order: it says nothing here when the tensor is drawn in its shape.
    if (!shape && !Number.isNaN(v)) lines.push(`here: mean ${fmtValue(v)}`);
  }
  return lines;
}
