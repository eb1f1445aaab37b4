/**
 * Where a model's tensors go on the map (specs/map.md, "Placement").
 *
 * A model is laid out left to right in columns: one for the tensors before the blocks
 * (token_embd, ...), one per transformer block in block order, one for the tensors after them
 * (output_norm, output). Inside a column the tensors follow execution order on shelves: each
 * tensor is a rectangle of whole tiles (at most `maxTilesWide` tiles wide), placed left to right
 * while it fits the column, else on a new shelf below; so one-tile tensors (norms, biases) pack
 * side by side. Below the weights the model reserves an activations band, then a KV-cache band
 * followed by free room it can grow into. The next model starts right of the previous model's
 * bounding box plus a gap. Everything is integer arithmetic on the inputs: same input, same map.
 */
import { MapError } from './errors';
import { assertRect, unionRects, type Rect } from './geometry';
import { tileCapacity, tilesForBytes, type MapRegion, type TileGrid } from './regions';

export interface TensorSpec {
  name: string;
  ggmlType: string;
  dims: readonly number[];
  byteSize: number;
}

export interface TileGeometry {
  tileWidth: number;
  tileHeight: number;
}

export interface ModelSpec {
  modelId: string;
  tensors: readonly TensorSpec[];
}

export interface PlacementOptions {
  /** Widest a tensor's tile grid may be, in tiles; also the shelf width of a column (default 8). */
  maxTilesWide?: number;
  /** Pixels between tensors on a shelf and between shelves (default max(1, tile/8)). */
  tensorGap?: number;
  /** Pixels between columns (default one tile width). */
  columnGap?: number;
  /** Pixels between the weights, activations and KV bands (default one tile height). */
  sectionGap?: number;
  /** Pixels between one model's bounding box and the next (default four tile widths). */
  modelGap?: number;
  /** Bytes of activations to reserve room for (default one tile). */
  activationBytes?: number;
  /** Bytes of KV cache in use at placement (default one tile). */
  kvCacheBytes?: number;
  /** Bytes the KV cache may grow to (default: four full-width tile rows, at least kvCacheBytes). */
  kvReserveBytes?: number;
}

export interface ModelLayout {
  modelId: string;
  /** Bounding box of everything the model owns, reserved room included. */
  box: Rect;
  /** Weights in execution order, then activations, kv-cache and (when room is left) free. */
  regions: MapRegion[];
  /** Tiles per row of the reserved bands, and their row counts (for growKvCache). */
  reserve: { tilesWide: number; activationRows: number; kvRows: number; kvReserveRows: number };
}

interface Resolved {
  maxTilesWide: number;
  tensorGap: number;
  columnGap: number;
  sectionGap: number;
  modelGap: number;
  activationBytes: number;
  kvCacheBytes: number;
  kvReserveBytes: number | null;
}

// Execution order of a transformer block's tensors (llama.cpp names, weights before their
// biases). Unknown names follow the known ones, sorted by name.
const BLOCK_ORDER = [
  'attn_norm',
  'attn_norm_2',
  'attn_qkv',
  'attn_q',
  'attn_q_norm',
  'attn_k',
  'attn_k_norm',
  'attn_v',
  'attn_output',
  'attn_out_norm',
  'attn_post_norm',
  'post_attention_norm',
  'ffn_norm',
  'ffn_gate_inp',
  'ffn_gate',
  'ffn_gate_exps',
  'ffn_up',
  'ffn_up_exps',
  'ffn_down',
  'ffn_down_exps',
  'ffn_gate_shexp',
  'ffn_up_shexp',
  'ffn_down_shexp',
  'post_ffw_norm',
  'ffn_post_norm',
  'layer_output_norm',
];
const PRE_ORDER = ['token_embd', 'token_embd_norm', 'position_embd', 'token_types'];
const POST_ORDER = ['output_norm', 'output'];
const POST_PREFIXES = ['output', 'cls', 'result'];
const BLOCK_RE = /^blk\.(\d+)\.(.+)$/;

interface Keyed {
  t: TensorSpec;
  column: number; // -1 pre, block index, or +Infinity post
  block: number | null;
  rank: number;
  stem: string;
  suffixRank: number;
}

function splitSuffix(rest: string): { stem: string; suffixRank: number } {
  if (rest.endsWith('.weight')) return { stem: rest.slice(0, -7), suffixRank: 0 };
  if (rest.endsWith('.bias')) return { stem: rest.slice(0, -5), suffixRank: 1 };
  return { stem: rest, suffixRank: 2 };
}

function keyOf(t: TensorSpec): Keyed {
  const m = BLOCK_RE.exec(t.name);
  if (m) {
    const block = Number(m[1]);
    const { stem, suffixRank } = splitSuffix(m[2]!);
    const known = BLOCK_ORDER.indexOf(stem);
    return { t, column: block, block, rank: known >= 0 ? known : BLOCK_ORDER.length, stem, suffixRank };
  }
  const { stem, suffixRank } = splitSuffix(t.name);
  const post = POST_ORDER.includes(stem) || POST_PREFIXES.some((p) => stem.startsWith(p));
  const list = post ? POST_ORDER : PRE_ORDER;
  const known = list.indexOf(stem);
  return { t, column: post ? Infinity : -1, block: null, rank: known >= 0 ? known : list.length, stem, suffixRank };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The tensors in execution order: pre-block tensors, blocks in index order (each in
 * BLOCK_ORDER), post-block tensors. Independent of the input order.
 */
export function executionOrder(tensors: readonly TensorSpec[]): TensorSpec[] {
  return tensors
    .map(keyOf)
    .sort(
      (a, b) =>
        a.column - b.column ||
        a.rank - b.rank ||
        cmp(a.stem, b.stem) ||
        a.suffixRank - b.suffixRank ||
        cmp(a.t.name, b.t.name),
    )
    .map((k) => k.t);
}

function positiveInt(v: unknown, what: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new MapError('MAP_INPUT', `${what} = ${String(v)} is not an integer >= ${min}`, { field: what, value: v });
  }
  return v;
}

function resolve(geo: TileGeometry, o: PlacementOptions): Resolved {
  positiveInt(geo.tileWidth, 'tileWidth');
  positiveInt(geo.tileHeight, 'tileHeight');
  if (geo.tileWidth > 65535 || geo.tileHeight > 65535) {
    throw new MapError('MAP_INPUT', `tile size ${geo.tileWidth}x${geo.tileHeight} exceeds 65535`, { ...geo });
  }
  const cap = tileCapacity(geo.tileWidth, geo.tileHeight);
  const gap = Math.max(1, Math.floor(Math.min(geo.tileWidth, geo.tileHeight) / 8));
  const r: Resolved = {
    maxTilesWide: positiveInt(o.maxTilesWide ?? 8, 'maxTilesWide'),
    tensorGap: positiveInt(o.tensorGap ?? gap, 'tensorGap', 0),
    columnGap: positiveInt(o.columnGap ?? geo.tileWidth, 'columnGap', 0),
    sectionGap: positiveInt(o.sectionGap ?? geo.tileHeight, 'sectionGap', 0),
    modelGap: positiveInt(o.modelGap ?? 4 * geo.tileWidth, 'modelGap', 0),
    activationBytes: positiveInt(o.activationBytes ?? cap, 'activationBytes', 0),
    kvCacheBytes: positiveInt(o.kvCacheBytes ?? cap, 'kvCacheBytes', 0),
    kvReserveBytes: o.kvReserveBytes === undefined ? null : positiveInt(o.kvReserveBytes, 'kvReserveBytes', 0),
  };
  if (r.kvReserveBytes !== null && r.kvReserveBytes < r.kvCacheBytes) {
    throw new MapError('MAP_RESERVE', `kvReserveBytes ${r.kvReserveBytes} is below kvCacheBytes ${r.kvCacheBytes}`, {
      kvReserveBytes: r.kvReserveBytes,
      kvCacheBytes: r.kvCacheBytes,
    });
  }
  return r;
}

function checkTensors(modelId: string, tensors: readonly TensorSpec[]): void {
  if (typeof modelId !== 'string' || modelId.length === 0) throw new MapError('MAP_INPUT', 'modelId must be a non-empty string');
  const seen = new Set<string>();
  for (const t of tensors) {
    if (typeof t.name !== 'string' || t.name.length === 0 || t.name.startsWith('@')) {
      throw new MapError('MAP_INPUT', `model ${modelId}: tensor name ${JSON.stringify(t.name)} is empty or starts with '@'`, { modelId });
    }
    if (seen.has(t.name)) throw new MapError('MAP_CONFLICT', `model ${modelId}: tensor ${t.name} appears twice`, { modelId, tensor: t.name });
    seen.add(t.name);
    positiveInt(t.byteSize, `${t.name}.byteSize`, 0);
    if (!Array.isArray(t.dims) || t.dims.length === 0) throw new MapError('MAP_INPUT', `${t.name}: dims must be a non-empty array`);
    t.dims.forEach((d, i) => positiveInt(d, `${t.name}.dims[${i}]`));
  }
}

/** Rows of `tilesWide` tiles that `bytes` need (at least one, so a band always shows). */
function bandRows(bytes: number, tilesWide: number, geo: TileGeometry): number {
  return Math.max(1, Math.ceil(tilesForBytes(bytes, geo.tileWidth, geo.tileHeight) / tilesWide));
}

function reservedGrid(geo: TileGeometry, cols: number, rows: number): TileGrid {
  return { tileWidth: geo.tileWidth, tileHeight: geo.tileHeight, cols, rows, tileCount: 0 };
}

/** Lays out one model with its top-left corner at `origin` (default 0, 0). */
export function placeModel(
  model: ModelSpec,
  geo: TileGeometry,
  opts: PlacementOptions = {},
  origin: { x: number; y: number } = { x: 0, y: 0 },
): ModelLayout {
  const o = resolve(geo, opts);
  checkTensors(model.modelId, model.tensors);
  assertRect({ ...origin, width: 0, height: 0 }, `model ${model.modelId} origin`);
  const { tileWidth: tw, tileHeight: th } = geo;
  const shelfCapacity = o.maxTilesWide * tw + (o.maxTilesWide - 1) * o.tensorGap;
  const ordered = executionOrder(model.tensors).map(keyOf);

  const regions: MapRegion[] = [];
  let colX = origin.x;
  let weightsRight = origin.x;
  let weightsBottom = origin.y;
  let i = 0;
  while (i < ordered.length) {
    // One column: all tensors with the same column key.
    const column = ordered[i]!.column;
    let cursor = 0;
    let shelfY = 0;
    let shelfH = 0;
    let usedW = 0;
    for (; i < ordered.length && ordered[i]!.column === column; i++) {
      const { t, block } = ordered[i]!;
      const tileCount = tilesForBytes(t.byteSize, tw, th);
      const footprint = Math.max(1, tileCount); // an empty tensor still gets one tile of room
      const cols = Math.min(o.maxTilesWide, footprint);
      const rows = Math.ceil(footprint / cols);
      const w = cols * tw;
      const h = rows * th;
      if (cursor > 0 && cursor + w > shelfCapacity) {
        shelfY += shelfH + o.tensorGap;
        cursor = 0;
        shelfH = 0;
      }
      const r: MapRegion = {
        id: `${model.modelId}/${t.name}`,
        kind: 'weights',
        modelId: model.modelId,
        name: t.name,
        x: colX + cursor,
        y: origin.y + shelfY,
        width: w,
        height: h,
        grid: { tileWidth: tw, tileHeight: th, cols, rows, tileCount },
        order: regions.length,
        block,
        tensor: { ggmlType: t.ggmlType, dims: [...t.dims], byteSize: t.byteSize },
      };
      assertRect(r, r.id);
      regions.push(r);
      usedW = Math.max(usedW, cursor + w);
      cursor += w + o.tensorGap;
      shelfH = Math.max(shelfH, h);
    }
    weightsRight = colX + usedW;
    weightsBottom = Math.max(weightsBottom, origin.y + shelfY + shelfH);
    colX = weightsRight + o.columnGap;
  }

  // Reserved bands span the model's width (at least one tile).
  const tilesWide = Math.max(1, Math.floor((weightsRight - origin.x) / tw));
  const bandW = tilesWide * tw;
  const activationRows = bandRows(o.activationBytes, tilesWide, geo);
  const kvRows = bandRows(o.kvCacheBytes, tilesWide, geo);
  const kvReserveRows = o.kvReserveBytes === null ? Math.max(4, kvRows) : bandRows(o.kvReserveBytes, tilesWide, geo);
  const actY = (regions.length > 0 ? weightsBottom + o.sectionGap : origin.y);
  const kvY = actY + activationRows * th + o.sectionGap;
  const reserved = (kind: MapRegion['kind'], label: string, y: number, rows: number): MapRegion => {
    const r: MapRegion = {
      id: `${model.modelId}/@${label}`,
      kind,
      modelId: model.modelId,
      name: label,
      x: origin.x,
      y,
      width: bandW,
      height: rows * th,
      grid: reservedGrid(geo, tilesWide, rows),
      order: regions.length,
      block: null,
      tensor: null,
    };
    assertRect(r, r.id);
    return r;
  };
  regions.push(reserved('activations', 'activations', actY, activationRows));
  regions.push(reserved('kv-cache', 'kv-cache', kvY, kvRows));
  if (kvReserveRows > kvRows) regions.push(reserved('free', 'kv-reserve', kvY + kvRows * th, kvReserveRows - kvRows));
  const box = unionRects([{ x: origin.x, y: origin.y, width: 0, height: 0 }, ...regions])!;
  assertRect(box, `model ${model.modelId} bounding box`);
  return { modelId: model.modelId, box, regions, reserve: { tilesWide, activationRows, kvRows, kvReserveRows } };
}

/** Where a new model goes on a map that already holds these model boxes. */
export function nextModelOrigin(boxes: readonly Rect[], modelGap: number): { x: number; y: number } {
  if (boxes.length === 0) return { x: 0, y: 0 };
  let right = -Infinity;
  let top = Infinity;
  for (const b of boxes) {
    right = Math.max(right, b.x + b.width);
    top = Math.min(top, b.y);
  }
  return { x: right + modelGap, y: top };
}

/** Lays out several models side by side, left to right in the given order. */
export function placeModels(
  models: readonly ModelSpec[],
  geo: TileGeometry,
  opts: PlacementOptions = {},
  origin: { x: number; y: number } = { x: 0, y: 0 },
): ModelLayout[] {
  const o = resolve(geo, opts);
  const ids = new Set<string>();
  const out: ModelLayout[] = [];
  for (const m of models) {
    if (ids.has(m.modelId)) throw new MapError('MAP_CONFLICT', `model ${m.modelId} appears twice`, { modelId: m.modelId });
    ids.add(m.modelId);
    const at = out.length === 0 ? origin : nextModelOrigin([out[out.length - 1]!.box], o.modelGap);
    out.push(placeModel(m, geo, opts, at));
  }
  return out;
}

/**
 * A model's layout as resizeKvCache needs it, rebuilt from its regions as the index stores them
 * (weights and the reserved bands): the reserve is the kv-cache band plus the free band below
 * it. MAP_NOT_FOUND when the model has no kv-cache region.
 */
export function layoutFromRegions(modelId: string, box: Rect, regions: readonly MapRegion[]): ModelLayout {
  const of = (kind: MapRegion['kind']) => regions.find((r) => r.modelId === modelId && r.kind === kind);
  const kv = of('kv-cache');
  if (!kv) throw new MapError('MAP_NOT_FOUND', `model ${modelId} has no kv-cache region`, { modelId });
  const free = of('free');
  return {
    modelId,
    box,
    regions: regions.filter((r) => r.modelId === modelId),
    reserve: {
      tilesWide: kv.grid.cols,
      activationRows: of('activations')?.grid.rows ?? 0,
      kvRows: kv.grid.rows,
      kvReserveRows: kv.grid.rows + (free?.grid.rows ?? 0),
    },
  };
}

/**
 * The same layout with the KV cache resized to hold `bytes`: the kv-cache band grows down into
 * (or shrinks back out of) the free room below it; the model's box does not change. MAP_RESERVE
 * when the reserve is too small.
 */
export function resizeKvCache(layout: ModelLayout, bytes: number): ModelLayout {
  positiveInt(bytes, 'kvCacheBytes', 0);
  const kv = layout.regions.find((r) => r.kind === 'kv-cache');
  if (!kv) throw new MapError('MAP_NOT_FOUND', `model ${layout.modelId} has no kv-cache region`, { modelId: layout.modelId });
  const geo = { tileWidth: kv.grid.tileWidth, tileHeight: kv.grid.tileHeight };
  const { tilesWide, kvReserveRows } = layout.reserve;
  const rows = bandRows(bytes, tilesWide, geo);
  if (rows > kvReserveRows) {
    throw new MapError('MAP_RESERVE', `model ${layout.modelId}: a KV cache of ${bytes} bytes needs ${rows} tile rows, ${kvReserveRows} are reserved`, {
      modelId: layout.modelId,
      bytes,
      rows,
      kvReserveRows,
    });
  }
  const th = geo.tileHeight;
  const regions = layout.regions.filter((r) => r.kind !== 'kv-cache' && r.kind !== 'free');
  const newKv: MapRegion = { ...kv, height: rows * th, grid: reservedGrid(geo, tilesWide, rows) };
  regions.push(newKv);
  if (kvReserveRows > rows) {
    const free = layout.regions.find((r) => r.kind === 'free');
    regions.push({
      id: `${layout.modelId}/@kv-reserve`,
      kind: 'free',
      modelId: layout.modelId,
      name: 'kv-reserve',
      x: kv.x,
      y: kv.y + rows * th,
      width: kv.width,
      height: (kvReserveRows - rows) * th,
      grid: reservedGrid(geo, tilesWide, kvReserveRows - rows),
      order: free?.order ?? kv.order + 1,
      block: null,
      tensor: null,
    });
  }
  return { ...layout, regions, reserve: { ...layout.reserve, kvRows: rows } };
}
