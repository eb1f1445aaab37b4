/**
 * The map index's shapes as its callers see them: a region with its pyramid, a cell, the
 * viewport query options and their limits, a model's footprint (specs/map.md, "Index").
 */
import type { Rect } from '../../shared/map/geometry';
import type { PyramidCell, TensorPyramidSummary } from '../../shared/map/pyramid-core';
import type { MapRegion, RegionKind } from '../../shared/map/regions';
import type { ValueStats } from '../../shared/map/stats';

export const DEFAULT_QUERY_LIMIT = 10_000;
export const MAX_QUERY_LIMIT = 1_000_000;

export type PyramidState = 'none' | 'building' | 'built' | 'skipped';

/** One region's finished pyramid, written whole by MapIndex.writePyramids. */
export interface PyramidWrite {
  regionId: string;
  heatSize: number;
  cells: readonly PyramidCell[];
  summary: TensorPyramidSummary;
}

export interface RegionPyramid {
  state: PyramidState;
  /** Why a tensor was skipped (unsupported type, ...). */
  note: string | null;
  heatSize: number | null;
  levels: number | null;
  stats: ValueStats | null;
  heatMin: number | null;
  heatMax: number | null;
}

export interface IndexedRegion extends MapRegion {
  pyramid: RegionPyramid;
}

export interface MapCell extends Rect {
  id: number;
  regionId: string;
  modelId: string;
  kind: RegionKind;
  level: number;
  col: number;
  row: number;
  /** Level 0: the tensor's tile index (PixelFS tile of its file); null above. */
  tile: number | null;
  /** Null until the pyramid has been built for the cell. */
  stats: ValueStats | null;
  /** heatSize² means (NaN = no data); present only when asked for (withHeat) and built. */
  heat?: Float32Array<ArrayBuffer> | null;
}

export interface QueryOptions {
  kinds?: readonly RegionKind[];
  modelId?: string;
  /** Most rows returned (default 10 000); `truncated` says when more matched. Order is unspecified. */
  limit?: number;
  /**
   * Skip rectangles whose longer side is below this many map pixels (default 0: none). A view
   * passes about one screen pixel's worth, so a zoomed-out view does not fetch thousands of
   * invisible tensors (every tensor keeps a top cell at every coarser level).
   */
  minSize?: number;
}

export interface CellQueryOptions extends QueryOptions {
  /** LOD level (default 0 = tiles). A region coarser than its top level answers with its top cell. */
  level?: number;
  withHeat?: boolean;
}

export interface QueryResult<T> {
  items: T[];
  truncated: boolean;
}

/** A model's footprint on the map (not the catalogue's ModelSummary of shared/ipc). */
export interface MapModelSummary {
  modelId: string;
  box: Rect;
  regions: number;
  tiles: number;
}
