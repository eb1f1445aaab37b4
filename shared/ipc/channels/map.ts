import { z } from 'zod';
import { Base64, Empty } from './common';

/**
 * The Infinite Map as the explorer sees it (specs/explorer.md): an overview, viewport queries of
 * regions and LOD cells, heat images by cell id, one region's details, a histogram of a tensor's
 * decoded values, and a name search. Every answer is bounded by a limit the request may lower
 * but not raise past the caps below, so no viewport can make the services build, or the
 * renderer parse, an unbounded response.
 */

/** Caps on what one call may return. */
export const MAP_LIMITS = Object.freeze({
  regions: 5000,
  cells: 5000,
  /** Cells with heat inline (16 KiB of Float32 each at heatSize 64, ~22 KB as base64). */
  cellsWithHeat: 256,
  /** Cell ids per map:heat call. */
  heatIds: 64,
  search: 100,
  histogramBins: 512,
  /** Values a histogram decodes at most (sampled evenly over the tensor beyond that). */
  histogramValues: 4_000_000,
  queryChars: 200,
  /** Values one map:values window holds at most (a 64 × 64 window). */
  values: 4096,
});

/** Map coordinates are integers within ±2^53; viewports may be fractional within the same range. */
const Coord = z.number().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const Int = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const Count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const MapRect = z.strictObject({ x: Int, y: Int, width: Count, height: Count });

export const MapViewport = z
  .strictObject({ x0: Coord, y0: Coord, x1: Coord, y1: Coord })
  .refine((v) => v.x1 > v.x0 && v.y1 > v.y0, { message: 'empty viewport: x1 must exceed x0 and y1 must exceed y0' });

export const RegionKindSchema = z.enum(['weights', 'activations', 'kv-cache', 'free', 'corpus']);
const ModelIdSchema = z.string().min(1).max(200);
const RegionIdSchema = z.string().min(1).max(1000);

/** Statistics of decoded values as a person reads them (null where there are no finite values). */
export const MapStats = z.strictObject({
  count: Count,
  min: z.number().nullable(),
  max: z.number().nullable(),
  mean: z.number().nullable(),
  std: z.number().nullable(),
  nonFinite: Count,
});

export const MapRegionInfo = z.strictObject({
  id: z.string(),
  modelId: z.string(),
  name: z.string(),
  kind: RegionKindSchema,
  rect: MapRect,
  order: Count,
  block: Count.nullable(),
  grid: z.strictObject({ tileWidth: Count, tileHeight: Count, cols: Count, rows: Count, tileCount: Count }),
  /** The stored tensor (weights regions only): ggml type, ggml dims ([columns, rows, ...]), bytes. */
  tensor: z.strictObject({ type: z.string(), dims: z.array(Count), bytes: Count }).nullable(),
  pyramid: z.strictObject({
    state: z.enum(['none', 'building', 'built', 'skipped']),
    note: z.string().nullable(),
    /** Levels 0..levels−1; the top cell covers the whole grid. */
    levels: Count.nullable(),
    heatSize: Count.nullable(),
    /** Range of the level-0 heat means (what a per-tensor colour scale spans). */
    heatMin: z.number().nullable(),
    heatMax: z.number().nullable(),
    stats: MapStats.nullable(),
  }),
});

export const MapCellInfo = z.strictObject({
  id: Count,
  regionId: z.string(),
  level: Count,
  col: Count,
  row: Count,
  /** The cell on the map: its nominal 2^level-tile square clipped to the region's grid. */
  rect: MapRect,
  /** The square its heat image covers (the unclipped nominal square). */
  heatRect: MapRect,
  /**
   * Level 0: the tensor's stored tile index i (its bytes from i · tileBytes; which PixelFS file
   * and tiles hold them in the active layout: storedTileSource with map:region's place); null above.
   */
  tile: Count.nullable(),
  stats: MapStats.nullable(),
  /** heatSize² Float32 little-endian means (NaN = no value) as base64; only with `withHeat`; null when not built. */
  heat: Base64.nullable().optional(),
});

export const MapModelInfo = z.strictObject({
  modelId: z.string(),
  /** The store's name for the model (the id where the map holds a model the store does not list). */
  name: z.string(),
  box: MapRect,
  regions: Count,
  tiles: Count,
});

const Limit = (max: number) => z.number().int().min(1).max(max);
const MinSize = z.number().min(0).max(Number.MAX_SAFE_INTEGER);
const Level = z.number().int().min(0).max(60);
const Kinds = z.array(RegionKindSchema).min(1).max(5);

const RegionsRequest = z.strictObject({
  viewport: MapViewport,
  kinds: Kinds.optional(),
  modelId: ModelIdSchema.optional(),
  /** Most regions returned (default 1000). */
  limit: Limit(MAP_LIMITS.regions).optional(),
  /** Skip regions whose longer side is below this many map pixels (about one screen pixel). */
  minSize: MinSize.optional(),
});

const CellsRequest = z
  .strictObject({
    viewport: MapViewport,
    level: Level,
    kinds: Kinds.optional(),
    modelId: ModelIdSchema.optional(),
    /** Most cells returned (default 2000; at most 256 with heat). */
    limit: Limit(MAP_LIMITS.cells).optional(),
    minSize: MinSize.optional(),
    withHeat: z.boolean().optional(),
  })
  .refine((r) => !r.withHeat || (r.limit ?? MAP_LIMITS.cellsWithHeat) <= MAP_LIMITS.cellsWithHeat, {
    message: `limit: at most ${MAP_LIMITS.cellsWithHeat} cells with heat per call (page through the viewport, or fetch heat with map:heat)`,
    path: ['limit'],
  });

export const mapChannels = {
  /** Every model on the map with its box and name, the map's bounds, the tile geometry. */
  'map:overview': {
    request: Empty,
    response: z.strictObject({
      models: z.array(MapModelInfo).max(100_000),
      bounds: MapRect.nullable(),
      tileWidth: Count,
      tileHeight: Count,
      /** Side of a cell's heat image (what the explorer picks levels with). */
      heatSize: Count,
    }),
  },
  /** Regions with area in a viewport. */
  'map:regions': {
    request: RegionsRequest,
    response: z.strictObject({ regions: z.array(MapRegionInfo).max(MAP_LIMITS.regions), truncated: z.boolean() }),
  },
  /** Pyramid cells with area in a viewport at an LOD level (tensors coarser than it answer with their top cell). */
  'map:cells': {
    request: CellsRequest,
    response: z.strictObject({ level: Level, cells: z.array(MapCellInfo).max(MAP_LIMITS.cells), truncated: z.boolean() }),
  },
  /** Heat images of cells by id (the explorer lists cells without heat, then pages their heat in). */
  'map:heat': {
    request: z.strictObject({ ids: z.array(Count).min(1).max(MAP_LIMITS.heatIds) }),
    response: z.strictObject({
      cells: z.array(z.strictObject({ id: Count, heatSize: Count, heat: Base64.nullable() })).max(MAP_LIMITS.heatIds),
      /** Ids the index no longer holds (a model removed meanwhile). */
      missing: z.array(Count).max(MAP_LIMITS.heatIds),
    }),
  },
  /**
   * The model's next (dir 1) or previous (−1) tensor after region `from` in execution order,
   * wrapping at the ends (from the first or last when `from` is null or not one of its tensors);
   * null when the model has none. The Explorer's N and P keys: one row per step, whatever the
   * model's tensor count.
   */
  'map:step': {
    request: z.strictObject({ modelId: ModelIdSchema, from: RegionIdSchema.nullable(), dir: z.union([z.literal(1), z.literal(-1)]) }),
    response: z.strictObject({ region: MapRegionInfo.nullable() }),
  },
  /** One region with what the inspector shows beyond the viewport answer. */
  'map:region': {
    request: z.strictObject({ id: RegionIdSchema }),
    response: z.strictObject({
      region: MapRegionInfo,
      /** The tensor's bytes in the source GGUF file, [offset, offset + length); null when the store has no manifest for it. */
      byteRange: z.strictObject({ offset: Count, length: Count }).nullable(),
      /** PixelFS file the tensor's bytes are read from now (place.file); null without a stored manifest. */
      file: z.string().nullable(),
      /**
       * Where the tensor's bytes are in the model's active layout (specs/pixelfs.md, "Layout
       * reorganisation"): its own import file from byte 0, or a pack shared with other tensors,
       * from `offset`; `tiles`: the PixelFS tiles of `file` they span. Stored tile i of the
       * region is the file's bytes from offset + i · tileBytes (shared/map storedTileSource).
       * Resolved through the layout journal on each call: it follows apply, undo and recovery.
       */
      place: z
        .strictObject({
          layout: z.enum(['import', 'packed']),
          /** The packed layout's generation; null in the import layout. */
          generation: z.string().nullable(),
          file: z.string(),
          offset: Count,
          tiles: z.strictObject({ first: Count, last: Count }).nullable(),
          /** Tensors the file holds (1 in the import layout). */
          tensorsInFile: Count,
        })
        .nullable(),
      /** Bytes one tile holds (RGBA8). */
      tileBytes: Count,
      elements: Count.nullable(),
    }),
  },
  /** A histogram of a tensor's decoded values (every value, or an even sample of whole blocks). */
  'map:histogram': {
    request: z.strictObject({
      id: RegionIdSchema,
      bins: z.number().int().min(2).max(MAP_LIMITS.histogramBins).optional(),
      maxValues: z.number().int().min(1024).max(MAP_LIMITS.histogramValues).optional(),
    }),
    response: z.strictObject({
      regionId: z.string(),
      /** Bin i counts finite values in [lo + i·w, lo + (i+1)·w), the last bin including hi. */
      counts: z.array(Count).min(2).max(MAP_LIMITS.histogramBins),
      lo: z.number(),
      hi: z.number(),
      /** Values decoded (finite or not). */
      sampled: Count,
      /** Values the tensor holds. */
      total: Count,
      nonFinite: Count,
      /** True when every value was decoded. */
      exact: z.boolean(),
    }),
  },
  /**
   * Sizes a model's kv-cache band to the bytes its KV cache holds (the renderer's engine reports
   * them as it loads and generates). The band grows and shrinks in whole tile rows inside the
   * room reserved below it; past that room it stays full size and `fits` is false.
   */
  'map:kv-cache': {
    request: z.strictObject({ modelId: ModelIdSchema, bytes: Count }),
    response: z.strictObject({
      region: MapRegionInfo,
      /** Bytes the reserved room holds (kv-cache band plus the free band below it). */
      reserveBytes: Count,
      fits: z.boolean(),
    }),
  },
  /**
   * Decoded values of a window of a tensor's rows × columns (the explorer's single-value readout):
   * the dequantised value, the stored value (float types: the value as stored; quantised types:
   * the stored integer, times the sub-block scale in K types), and each block's index, scale and
   * min. Windows past MAP_LIMITS.values values are refused, never truncated.
   */
  'map:values': {
    request: z.strictObject({
      id: RegionIdSchema,
      row: Count,
      col: Count,
      rows: z.number().int().min(1).max(MAP_LIMITS.values),
      cols: z.number().int().min(1).max(MAP_LIMITS.values),
    }),
    response: z.strictObject({
      regionId: z.string(),
      type: z.string(),
      /** The tensor as a matrix (ggml dims [columns, rows, ...], higher dims stacked as rows). */
      shape: z.strictObject({ rows: Count, cols: Count }),
      /** The window answered (clipped to the tensor). */
      row: Count,
      col: Count,
      rows: Count,
      cols: Count,
      blockSize: Count,
      /** rows × cols values, row-major; null for NaN and infinities (JSON has no such numbers). */
      values: z.array(z.number().nullable()).max(MAP_LIMITS.values),
      stored: z.array(z.number().nullable()).max(MAP_LIMITS.values),
      /** The blocks the window touches: index, f16 scale d and min (null for float types). */
      blocks: z.array(z.strictObject({ index: Count, scale: z.number().nullable(), min: z.number().nullable() })).max(2 * MAP_LIMITS.values),
    }),
  },
  /** Regions whose name contains the query (case-insensitive): exact names first, then prefixes, then the rest, in map order. */
  'map:search': {
    request: z.strictObject({
      query: z.string().trim().min(1).max(MAP_LIMITS.queryChars),
      modelId: ModelIdSchema.optional(),
      limit: Limit(MAP_LIMITS.search).optional(),
    }),
    response: z.strictObject({ regions: z.array(MapRegionInfo).max(MAP_LIMITS.search), truncated: z.boolean() }),
  },
} as const;

export type MapRegionInfo = z.output<typeof MapRegionInfo>;
export type MapCellInfo = z.output<typeof MapCellInfo>;
export type MapStats = z.output<typeof MapStats>;
export type MapModelInfo = z.output<typeof MapModelInfo>;
