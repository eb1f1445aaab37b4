/**
 * The map channels (shared/ipc/channels/map.ts) over the model store's MapIndex: viewport
 * queries for the explorer, heat images by cell id, one region's details, a histogram of a
 * tensor's decoded values and a name search. Every answer is bounded by the channel's limits.
 */
import { PxiError } from '../../shared/errors';
import type { mapChannels, MapCellInfo, MapRegionInfo, MapStats } from '../../shared/ipc/channels/map';
import type { Handlers } from '../../shared/ipc/dispatch';
import { MapError } from '../../shared/map/errors';
import { unionRects } from '../../shared/map/geometry';
import { layoutFromRegions, resizeKvCache } from '../../shared/map/placement';
import { fileTileSpan, tileCapacity } from '../../shared/map/regions';
import { DEFAULT_HEAT_SIZE } from '../../shared/map/pyramid-core';
import { summarize, type ValueStats } from '../../shared/map/stats';
import { blockScale, clipWindow, matrixShape, rowBlocks, unitScaleBlock, type ValueWindow } from '../../shared/map/values';
import { MAP_LIMITS } from '../../shared/ipc/channels/map';
import { getQuantFormat, isQuantTypeName } from '../../shared/quant';
import type { MapIndex } from '../map/map-index';
import type { IndexedRegion, MapCell } from '../map/map-types';
import type { ModelStore } from '../models/store';

export type MapChannel = keyof typeof mapChannels;
export type MapHandlers = Pick<Handlers, MapChannel>;

/** Defaults when a request names no limit (the caps are the schema's). */
export const MAP_DEFAULTS = Object.freeze({ regions: 1000, cells: 2000, cellsWithHeat: 256, search: 20, histogramBins: 64, histogramValues: 1_000_000 });

/** Spans a histogram's sample is read in: few enough that a large tensor costs few tile decodes. */
const HISTOGRAM_SPANS = 64;
const READ_CHUNK = 1 << 20;

function finiteOrNull(v: number | null | undefined): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : v;
}

function statsInfo(s: ValueStats | null): MapStats | null {
  if (s === null) return null;
  const m = summarize(s);
  return { count: m.count, min: finiteOrNull(m.min), max: finiteOrNull(m.max), mean: finiteOrNull(m.mean), std: finiteOrNull(m.std), nonFinite: m.nonFinite };
}

export function regionInfo(r: IndexedRegion): MapRegionInfo {
  return {
    id: r.id,
    modelId: r.modelId,
    name: r.name,
    kind: r.kind,
    rect: { x: r.x, y: r.y, width: r.width, height: r.height },
    order: r.order,
    block: r.block,
    grid: { ...r.grid },
    tensor: r.tensor === null ? null : { type: r.tensor.ggmlType, dims: [...r.tensor.dims], bytes: r.tensor.byteSize },
    pyramid: {
      state: r.pyramid.state,
      note: r.pyramid.note,
      levels: r.pyramid.levels,
      heatSize: r.pyramid.heatSize,
      heatMin: finiteOrNull(r.pyramid.heatMin),
      heatMax: finiteOrNull(r.pyramid.heatMax),
      stats: statsInfo(r.pyramid.stats),
    },
  };
}

function heatBase64(h: Float32Array): string {
  // Float32 little-endian: the bytes as the index stores them (every platform we ship is LE).
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('base64');
}

/** A tensor's bytes in the source GGUF (fixed for the model's life, whatever its layout). */
interface TensorPlace {
  offset: number;
  bytes: number;
  elements: number;
}

/**
 * Per-store caches: tile sizes by region id (fixed for a region's life: a volume's tile size
 * never changes), tensor places in the GGUF by model (the manifest with its vocabulary is too
 * big to parse per click; where the bytes are in PixelFS is not cached here: it changes with the
 * layout, and the store resolves it from its cached journal), and tensor names by model for the search.
 */
class MapCaches {
  readonly tileSize = new Map<string, [number, number]>();
  readonly places = new Map<string, Map<string, TensorPlace>>();
  readonly names = new Map<string, { regions: number; entries: { id: string; lower: string }[] }>();
}

const MAX_CACHED_MODELS = 16;
const MAX_CACHED_TILE_SIZES = 200_000;

function remember<K, V>(m: Map<K, V>, k: K, v: V, max: number): V {
  if (m.size >= max) m.delete(m.keys().next().value as K);
  m.set(k, v);
  return v;
}

function tileSizeOf(index: MapIndex, caches: MapCaches, regionId: string): [number, number] {
  let t = caches.tileSize.get(regionId);
  if (!t) {
    const r = index.getRegion(regionId);
    if (!r) throw new MapError('MAP_NOT_FOUND', `map region ${regionId} is not in the index`, { regionId });
    t = remember(caches.tileSize, regionId, [r.grid.tileWidth, r.grid.tileHeight], MAX_CACHED_TILE_SIZES);
  }
  return t;
}

function cellInfo(c: MapCell, tile: [number, number], withHeat: boolean): MapCellInfo {
  const s = 2 ** c.level;
  const out: MapCellInfo = {
    id: c.id,
    regionId: c.regionId,
    level: c.level,
    col: c.col,
    row: c.row,
    rect: { x: c.x, y: c.y, width: c.width, height: c.height },
    // The nominal square starts where the clipped rect does; clipping only trims far edges.
    heatRect: { x: c.x, y: c.y, width: s * tile[0], height: s * tile[1] },
    tile: c.tile,
    stats: statsInfo(c.stats),
  };
  if (withHeat) out.heat = c.heat ? heatBase64(c.heat) : null;
  return out;
}

function notFound(id: string): MapError {
  return new MapError('MAP_NOT_FOUND', `map region ${JSON.stringify(id)} is not on the map`, { regionId: id });
}

function isCode(e: unknown, code: string): boolean {
  return e instanceof PxiError && e.code === code;
}

function tensorPlaces(store: ModelStore, caches: MapCaches, modelId: string): Map<string, TensorPlace> | null {
  const hit = caches.places.get(modelId);
  if (hit) return hit;
  let tensors;
  try {
    tensors = store.manifest(modelId).tensors;
  } catch (e) {
    // A model placed on the map without a stored manifest (benchmarks, tests of the index).
    if (isCode(e, 'MODEL_NOT_FOUND')) return null;
    throw e;
  }
  const m = new Map<string, TensorPlace>();
  for (const t of tensors) m.set(t.name, { offset: t.offset, bytes: t.bytes, elements: t.elements });
  return remember(caches.places, modelId, m, MAX_CACHED_MODELS);
}

function searchNames(index: MapIndex, caches: MapCaches, modelId: string, regions: number): { id: string; lower: string }[] {
  const hit = caches.names.get(modelId);
  if (hit && hit.regions === regions) return hit.entries;
  const entries = index.listRegions(modelId).map((r) => ({ id: r.id, lower: r.name.toLowerCase() }));
  return remember(caches.names, modelId, { regions, entries }, MAX_CACHED_MODELS).entries;
}

export interface HistogramResult {
  counts: number[];
  lo: number;
  hi: number;
  sampled: number;
  total: number;
  nonFinite: number;
  exact: boolean;
}

/**
 * A histogram of a tensor's decoded values. Up to `maxValues` values it decodes them all;
 * beyond, it decodes HISTOGRAM_SPANS evenly spaced runs of whole blocks holding ~maxValues in
 * total. The range is `range` when given (the pyramid's exact min and max over all values),
 * else the sample's own.
 */
export async function tensorHistogram(
  read: (offset: number, length: number) => Promise<Uint8Array>,
  tensor: { type: string; elements: number; bytes: number },
  opts: { bins: number; maxValues: number; range?: { lo: number; hi: number } | null },
): Promise<HistogramResult> {
  if (!isQuantTypeName(tensor.type)) throw new MapError('MAP_INPUT', `ggml type ${tensor.type} has no dequantiser: no histogram of its values`, { type: tensor.type });
  const fmt = getQuantFormat(tensor.type);
  const blocks = tensor.bytes / fmt.bytesPerBlock;
  if (!Number.isSafeInteger(blocks) || blocks * fmt.blockSize !== tensor.elements) {
    throw new MapError('MAP_INPUT', `${tensor.elements} ${tensor.type} values do not occupy ${tensor.bytes} bytes`, { ...tensor });
  }
  // [first block, block count] runs to decode.
  const runs: [number, number][] = [];
  const exact = tensor.elements <= opts.maxValues;
  if (exact) {
    runs.push([0, blocks]);
  } else {
    const budget = Math.max(1, Math.floor(opts.maxValues / fmt.blockSize));
    const spans = Math.min(HISTOGRAM_SPANS, budget);
    const per = Math.max(1, Math.floor(budget / spans));
    for (let i = 0; i < spans; i++) runs.push([spans === 1 ? 0 : Math.floor((i * (blocks - per)) / (spans - 1)), per]);
  }
  const parts: Float32Array[] = [];
  const chunkBlocks = Math.max(1, Math.floor(READ_CHUNK / fmt.bytesPerBlock));
  for (const [first, count] of runs) {
    for (let b = first; b < first + count; b += chunkBlocks) {
      const nb = Math.min(chunkBlocks, first + count - b);
      const len = nb * fmt.bytesPerBlock;
      const got = await read(b * fmt.bytesPerBlock, len);
      if (got.length < len) throw new MapError('MAP_READ', `reading ${len} bytes at ${b * fmt.bytesPerBlock}: got ${got.length}`, { offset: b * fmt.bytesPerBlock, length: len });
      parts.push(fmt.dequantize(new Uint8Array(got.buffer, got.byteOffset, len), nb * fmt.blockSize));
    }
  }
  let lo = opts.range?.lo ?? Infinity;
  let hi = opts.range?.hi ?? -Infinity;
  if (!opts.range) {
    for (const p of parts) for (let i = 0; i < p.length; i++) {
      const v = p[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const counts = new Array<number>(opts.bins).fill(0);
  let sampled = 0;
  let nonFinite = 0;
  const width = hi > lo ? (hi - lo) / opts.bins : 0;
  for (const p of parts) {
    sampled += p.length;
    for (let i = 0; i < p.length; i++) {
      const v = p[i]!;
      if (v - v !== 0) {
        nonFinite++;
        continue;
      }
      // lo = hi (a constant tensor): everything in bin 0.
      const k = width > 0 ? Math.floor((v - lo) / width) : 0;
      counts[k < 0 ? 0 : k >= opts.bins ? opts.bins - 1 : k]!++;
    }
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = 0;
    hi = 0;
  }
  return { counts, lo, hi, sampled, total: tensor.elements, nonFinite, exact };
}

export interface ValuesResult {
  shape: { rows: number; cols: number };
  row: number;
  col: number;
  rows: number;
  cols: number;
  blockSize: number;
  values: (number | null)[];
  stored: (number | null)[];
  blocks: { index: number; scale: number | null; min: number | null }[];
}

const finiteOr = (v: number): number | null => (Number.isFinite(v) ? v : null);

/**
 * A window of a tensor's values by rows × columns: per row it reads the whole blocks that hold
 * the window's columns (so a 7B tensor costs a few KiB per row, never the tensor), decodes them
 * with the store's dequantisers, and decodes them again with scale 1 and min 0 for the stored
 * integers. Refuses windows outside the tensor or past `maxValues` (MAP_INPUT).
 */
export async function tensorValues(
  read: (offset: number, length: number) => Promise<Uint8Array>,
  tensor: { type: string; dims: readonly number[]; bytes: number },
  want: ValueWindow,
  maxValues: number = MAP_LIMITS.values,
): Promise<ValuesResult> {
  if (!isQuantTypeName(tensor.type)) throw new MapError('MAP_INPUT', `ggml type ${tensor.type} has no dequantiser: no values to read`, { type: tensor.type });
  const fmt = getQuantFormat(tensor.type);
  const shape = matrixShape(tensor.dims);
  const w = clipWindow(want, shape, maxValues);
  const values: (number | null)[] = [];
  const stored: (number | null)[] = [];
  const blocks = new Map<number, { index: number; scale: number | null; min: number | null }>();
  for (let r = w.row; r < w.row + w.rows; r++) {
    const span = rowBlocks(r, w, shape.cols, fmt);
    const offset = span.first * fmt.bytesPerBlock;
    const length = span.count * fmt.bytesPerBlock;
    if (offset + length > tensor.bytes) throw new MapError('MAP_READ', `row ${r} needs bytes up to ${offset + length} of a ${tensor.bytes}-byte tensor`, { row: r, offset, length });
    const got = await read(offset, length);
    if (got.length < length) throw new MapError('MAP_READ', `reading ${length} bytes at ${offset}: got ${got.length}`, { offset, length });
    const bytes = new Uint8Array(got.buffer, got.byteOffset, length);
    const dec = fmt.dequantize(bytes, span.count * fmt.blockSize);
    let raw: Float32Array = dec;
    const unit = new Uint8Array(length);
    let quantised = false;
    for (let b = 0; b < span.count; b++) {
      const one = bytes.subarray(b * fmt.bytesPerBlock, (b + 1) * fmt.bytesPerBlock);
      const u = unitScaleBlock(tensor.type, one);
      if (u) {
        quantised = true;
        unit.set(u, b * fmt.bytesPerBlock);
      }
      if (!blocks.has(span.first + b)) blocks.set(span.first + b, { index: span.first + b, ...blockScale(tensor.type, one) });
    }
    if (quantised) raw = fmt.dequantize(unit, span.count * fmt.blockSize);
    const at = r * shape.cols + w.col - span.firstElement;
    for (let i = 0; i < w.cols; i++) {
      values.push(finiteOr(dec[at + i]!));
      stored.push(finiteOr(raw[at + i]!));
    }
  }
  return { shape, ...w, blockSize: fmt.blockSize, values, stored, blocks: [...blocks.values()].sort((a, b) => a.index - b.index) };
}

/** The map handlers; `store` opens the host's volume on first use. */
export function mapHandlers(store: () => Promise<ModelStore>): MapHandlers {
  const caches = new WeakMap<ModelStore, MapCaches>();
  const open = async (): Promise<{ s: ModelStore; index: MapIndex; c: MapCaches }> => {
    const s = await store();
    let c = caches.get(s);
    if (!c) caches.set(s, (c = new MapCaches()));
    return { s, index: s.map, c };
  };
  const region = (index: MapIndex, id: string): IndexedRegion => {
    const r = index.getRegion(id);
    if (!r) throw notFound(id);
    return r;
  };

  return {
    'map:overview': async () => {
      const { s, index } = await open();
      const names = new Map(s.list().map((m) => [m.id, m.name]));
      const models = index.listModels().map((m) => ({ modelId: m.modelId, name: names.get(m.modelId) ?? m.modelId, box: m.box, regions: m.regions, tiles: m.tiles }));
      let heatSize = DEFAULT_HEAT_SIZE;
      if (models[0]) heatSize = index.listRegions(models[0].modelId).find((r) => r.pyramid.heatSize)?.pyramid.heatSize ?? heatSize;
      return {
        models,
        bounds: unionRects(models.map((m) => m.box)),
        tileWidth: s.volume.settings.tileWidth,
        tileHeight: s.volume.settings.tileHeight,
        heatSize,
      };
    },

    'map:regions': async (req) => {
      const { index, c } = await open();
      const res = index.queryRegions(req.viewport, {
        limit: req.limit ?? MAP_DEFAULTS.regions,
        ...(req.kinds ? { kinds: req.kinds } : {}),
        ...(req.modelId === undefined ? {} : { modelId: req.modelId }),
        ...(req.minSize === undefined ? {} : { minSize: req.minSize }),
      });
      for (const r of res.items) if (!c.tileSize.has(r.id)) remember(c.tileSize, r.id, [r.grid.tileWidth, r.grid.tileHeight], MAX_CACHED_TILE_SIZES);
      return { regions: res.items.map(regionInfo), truncated: res.truncated };
    },

    'map:cells': async (req) => {
      const { index, c } = await open();
      const withHeat = req.withHeat === true;
      const res = index.queryCells(req.viewport, {
        level: req.level,
        withHeat,
        limit: req.limit ?? (withHeat ? MAP_DEFAULTS.cellsWithHeat : MAP_DEFAULTS.cells),
        ...(req.kinds ? { kinds: req.kinds } : {}),
        ...(req.modelId === undefined ? {} : { modelId: req.modelId }),
        ...(req.minSize === undefined ? {} : { minSize: req.minSize }),
      });
      return { level: req.level, cells: res.items.map((cell) => cellInfo(cell, tileSizeOf(index, c, cell.regionId), withHeat)), truncated: res.truncated };
    },

    'map:heat': async ({ ids }) => {
      const { index } = await open();
      const cells: { id: number; heatSize: number; heat: string | null }[] = [];
      const missing: number[] = [];
      for (const id of new Set(ids)) {
        let heat: Float32Array | null;
        try {
          heat = index.getCellHeat(id);
        } catch (e) {
          if (isCode(e, 'MAP_NOT_FOUND')) {
            missing.push(id);
            continue;
          }
          throw e;
        }
        cells.push({ id, heatSize: heat ? Math.round(Math.sqrt(heat.length)) : 0, heat: heat ? heatBase64(heat) : null });
      }
      return { cells, missing };
    },

    'map:step': async ({ modelId, from, dir }) => {
      const { index } = await open();
      const r = index.stepRegion(modelId, from, dir);
      return { region: r ? regionInfo(r) : null };
    },

    'map:region': async ({ id }) => {
      const { s, index, c } = await open();
      const r = region(index, id);
      const inGguf = r.tensor ? tensorPlaces(s, c, r.modelId)?.get(r.name) : undefined;
      const tileBytes = tileCapacity(r.grid.tileWidth, r.grid.tileHeight);
      // Where the bytes are now: through the layout journal on every call (never cached here),
      // so the answer follows an apply, an undo and a recovery at open.
      const at = inGguf ? await s.tensorLocation(r.modelId, r.name) : null;
      const span = at && inGguf ? fileTileSpan(at.offset, inGguf.bytes, tileBytes) : null;
      return {
        region: regionInfo(r),
        byteRange: inGguf ? { offset: inGguf.offset, length: inGguf.bytes } : null,
        file: at?.file ?? null,
        place: at
          ? {
              layout: at.generation === null ? ('import' as const) : ('packed' as const),
              generation: at.generation,
              file: at.file,
              offset: at.offset,
              tiles: span,
              tensorsInFile: at.tensorsInFile,
            }
          : null,
        tileBytes,
        elements: r.tensor ? r.tensor.dims.reduce((a, b) => a * b, 1) : null,
      };
    },

    'map:histogram': async ({ id, bins, maxValues }) => {
      const { s, index } = await open();
      const r = region(index, id);
      if (r.kind !== 'weights' || !r.tensor) throw new MapError('MAP_INPUT', `map region ${id} is ${r.kind} space, not a tensor: it has no values to histogram`, { regionId: id });
      const st = r.pyramid.state === 'built' ? r.pyramid.stats : null;
      const range = st && st.count > 0 ? { lo: st.min, hi: st.max } : null;
      const read = async (offset: number, length: number) => {
        try {
          return await s.readTensor(r.modelId, r.name, offset, length);
        } catch (e) {
          if (isCode(e, 'MODEL_NOT_FOUND')) {
            throw new MapError('MAP_NOT_FOUND', `model ${r.modelId} is on the map but its data is not in this volume: no values to histogram`, { regionId: id });
          }
          throw e;
        }
      };
      const h = await tensorHistogram(
        read,
        { type: r.tensor.ggmlType, elements: r.tensor.dims.reduce((a, b) => a * b, 1), bytes: r.tensor.byteSize },
        { bins: bins ?? MAP_DEFAULTS.histogramBins, maxValues: maxValues ?? MAP_DEFAULTS.histogramValues, range },
      );
      return { regionId: id, ...h };
    },

    'map:values': async ({ id, row, col, rows, cols }) => {
      const { s, index } = await open();
      const r = region(index, id);
      if (r.kind !== 'weights' || !r.tensor) throw new MapError('MAP_INPUT', `map region ${id} is ${r.kind} space, not a tensor: it has no values to read`, { regionId: id });
      const read = async (offset: number, length: number) => {
        try {
          return await s.readTensor(r.modelId, r.name, offset, length);
        } catch (e) {
          if (isCode(e, 'MODEL_NOT_FOUND')) {
            throw new MapError('MAP_NOT_FOUND', `model ${r.modelId} is on the map but its data is not in this volume: no values to read`, { regionId: id });
          }
          throw e;
        }
      };
      const v = await tensorValues(read, { type: r.tensor.ggmlType, dims: r.tensor.dims, bytes: r.tensor.byteSize }, { row, col, rows, cols });
      return { regionId: id, type: r.tensor.ggmlType, ...v };
    },

    'map:kv-cache': async ({ modelId, bytes }) => {
      const { index } = await open();
      const box = index.modelBox(modelId);
      if (!box) throw new MapError('MAP_NOT_FOUND', `model ${modelId} is not on the map`, { modelId });
      const layout = layoutFromRegions(modelId, box, index.listRegions(modelId));
      const kv = layout.regions.find((r) => r.kind === 'kv-cache')!;
      const reserveBytes = layout.reserve.kvReserveRows * layout.reserve.tilesWide * tileCapacity(kv.grid.tileWidth, kv.grid.tileHeight);
      const next = resizeKvCache(layout, Math.min(bytes, reserveBytes));
      // The band moves in whole tile rows: most reports change nothing in the index.
      if (next.reserve.kvRows !== layout.reserve.kvRows) {
        const reserved = next.regions.filter((r) => r.kind !== 'weights').map(({ id, kind, modelId: m, name, x, y, width, height, grid, order, block, tensor }) => ({ id, kind, modelId: m, name, x, y, width, height, grid, order, block, tensor }));
        index.setReservedRegions(modelId, reserved);
      }
      const stored = index.getRegion(kv.id);
      if (!stored) throw notFound(kv.id);
      return { region: regionInfo(stored), reserveBytes, fits: bytes <= reserveBytes };
    },

    'map:search': async ({ query, modelId, limit }) => {
      const { index, c } = await open();
      const q = query.toLowerCase();
      const max = limit ?? MAP_DEFAULTS.search;
      const ranked: { id: string; rank: number; n: number }[] = [];
      let n = 0;
      for (const m of index.listModels()) {
        if (modelId !== undefined && m.modelId !== modelId) continue;
        for (const e of searchNames(index, c, m.modelId, m.regions)) {
          const at = e.lower.indexOf(q);
          if (at >= 0) ranked.push({ id: e.id, rank: e.lower === q ? 0 : at === 0 ? 1 : 2, n: n++ });
        }
      }
      ranked.sort((a, b) => a.rank - b.rank || a.n - b.n);
      const regions: MapRegionInfo[] = [];
      for (const hit of ranked.slice(0, max)) {
        const r = index.getRegion(hit.id);
        if (r) regions.push(regionInfo(r));
      }
      return { regions, truncated: ranked.length > max };
    },
  };
}
