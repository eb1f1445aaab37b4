/**
 * The map index's rows made objects and back: regions, cells, statistics, heat images; and the
 * query options checked and made bound parameters.
 */
import { MapError } from '../../shared/map/errors';
import { assertViewport, type Viewport } from '../../shared/map/geometry';
import { isRegionKind, REGION_KINDS, type RegionKind } from '../../shared/map/regions';
import type { ValueStats } from '../../shared/map/stats';
import type { CellRaw, RegionRow } from './index-schema';
import { DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT, type IndexedRegion, type MapCell, type PyramidState } from './map-types';

const PYR_STATES: readonly PyramidState[] = ['none', 'building', 'built', 'skipped'];

export const KIND_CODE: Record<RegionKind, number> = { weights: 0, activations: 1, 'kv-cache': 2, free: 3, corpus: 4 };

export function kindMask(kinds: readonly RegionKind[] | undefined): number {
  if (kinds === undefined) return 0x1f;
  let m = 0;
  for (const k of kinds) {
    if (!isRegionKind(k)) throw new MapError('MAP_INPUT', `unknown region kind ${String(k)} (${REGION_KINDS.join(', ')})`, { kind: k });
    m |= 1 << KIND_CODE[k];
  }
  return m;
}

export function limitOf(l: number | undefined): number {
  const v = l ?? DEFAULT_QUERY_LIMIT;
  if (!Number.isInteger(v) || v < 1 || v > MAX_QUERY_LIMIT) {
    throw new MapError('MAP_INPUT', `limit ${v} is not an integer in 1..${MAX_QUERY_LIMIT}`, { limit: v });
  }
  return v;
}

export interface RegionName {
  id: string;
  modelId: string;
  cols: number;
}

export function statsFromRow(r: { s_count: number | null; s_sum: number | null; s_sumsq: number | null; s_min: number | null; s_max: number | null; s_nonfinite: number | null }): ValueStats | null {
  if (r.s_count === null) return null;
  return {
    count: r.s_count,
    sum: r.s_sum ?? 0,
    sumSq: r.s_sumsq ?? 0,
    min: r.s_min ?? Infinity,
    max: r.s_max ?? -Infinity,
    nonFinite: r.s_nonfinite ?? 0,
  };
}

/** Stats as bound parameters; empty extrema go in as NULL (SQLite has no ±Infinity literal worth trusting). */
export function statsParams(s: ValueStats): Record<string, number | null> {
  const empty = s.count === 0;
  return { cnt: s.count, sum: s.sum, sumsq: s.sumSq, mn: empty ? null : s.min, mx: empty ? null : s.max, nf: s.nonFinite };
}

export function heatToBlob(h: Float32Array): Buffer {
  // Float32 little-endian, as every platform Electron ships on stores them.
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength);
}

export function blobToHeat(b: Buffer): Float32Array<ArrayBuffer> {
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer, 0, b.byteLength >> 2);
}

export function regionFromRow(r: RegionRow): IndexedRegion {
  return {
    id: r.id,
    kind: REGION_KINDS[r.kind]!,
    modelId: r.model_id,
    name: r.name,
    x: r.x,
    y: r.y,
    width: r.w,
    height: r.h,
    grid: { tileWidth: r.tile_w, tileHeight: r.tile_h, cols: r.cols, rows: r.rows, tileCount: r.tile_count },
    order: r.ord,
    block: r.block,
    tensor: r.ggml_type === null ? null : { ggmlType: r.ggml_type, dims: JSON.parse(r.dims ?? '[]') as number[], byteSize: r.byte_size ?? 0 },
    pyramid: {
      state: PYR_STATES[r.pyr_state] ?? 'none',
      note: r.pyr_note,
      heatSize: r.heat_size,
      levels: r.levels,
      stats: statsFromRow(r),
      heatMin: r.heat_min,
      heatMax: r.heat_max,
    },
  };
}

export function regionFromRaw(a: any[], modelId: string): IndexedRegion {
  return {
    id: a[1],
    kind: REGION_KINDS[a[3]]!,
    modelId,
    name: a[4],
    x: a[5],
    y: a[6],
    width: a[7],
    height: a[8],
    grid: { tileWidth: a[9], tileHeight: a[10], cols: a[11], rows: a[12], tileCount: a[13] },
    order: a[14],
    block: a[15],
    tensor: a[16] === null ? null : { ggmlType: a[16], dims: JSON.parse(a[17] ?? '[]') as number[], byteSize: a[18] ?? 0 },
    pyramid: {
      state: PYR_STATES[a[19]] ?? 'none',
      note: a[20],
      heatSize: a[21],
      levels: a[22],
      stats: a[23] === null ? null : { count: a[23], sum: a[24] ?? 0, sumSq: a[25] ?? 0, min: a[26] ?? Infinity, max: a[27] ?? -Infinity, nonFinite: a[28] ?? 0 },
      heatMin: a[29],
      heatMax: a[30],
    },
  };
}

export function cellFromRaw(a: CellRaw, name: RegionName, withHeat: boolean): MapCell {
  const level = a[3];
  const c: MapCell = {
    id: a[0],
    regionId: name.id,
    modelId: name.modelId,
    kind: REGION_KINDS[a[2]]!,
    level,
    col: a[4],
    row: a[5],
    tile: level === 0 ? a[5] * name.cols + a[4] : null,
    x: a[6],
    y: a[7],
    width: a[8],
    height: a[9],
    stats: a[10] === null ? null : { count: a[10], sum: a[11] ?? 0, sumSq: a[12] ?? 0, min: a[13] ?? Infinity, max: a[14] ?? -Infinity, nonFinite: a[15] ?? 0 },
  };
  if (withHeat) c.heat = a[16] ? blobToHeat(a[16]) : null;
  return c;
}

export function viewportParams(v: Viewport): { x0: number; y0: number; x1: number; y1: number } {
  assertViewport(v);
  return { x0: v.x0, y0: v.y0, x1: v.x1, y1: v.y1 };
}
