/**
 * The map index: regions and cells (tiles and pyramid cells) of the Infinite Map in SQLite,
 * with R*Trees for viewport queries (specs/map.md, "Index").
 *
 * Tables: map_model (model ids), map_region (+ map_region_rt, a 2-D R*Tree), map_cell (one row
 * per pyramid cell; level 0 = one per stored tile) + map_cell_rt, a 3-D R*Tree over x, y and the
 * level interval a cell answers for. SQLite's R*Tree stores 32-bit floats, rounding boxes
 * outwards, so it is a conservative filter; every query then tests the exact integer
 * coordinates kept in the ordinary tables. That keeps answers exact out to 2^53 px.
 *
 * The index either owns its database file (MapIndex.open) or lives in a handle the caller
 * passes (the storage service's), in which case journal mode and synchronous are the caller's.
 * All writes are single transactions; iterators must not touch the database from their callback.
 */
import Database from 'better-sqlite3';
import { MapError } from '../../shared/map/errors';
import { assertRect, assertViewport, unionRects, type Rect, type Viewport } from '../../shared/map/geometry';
import { assertLevel, cellLevelSpan, cellRect, cellsAt, topLevel } from '../../shared/map/lod';
import type { PyramidCell, TensorPyramidSummary } from '../../shared/map/pyramid-core';
import { assertGrid, isRegionKind, REGION_KINDS, tileRect, type MapRegion, type RegionKind } from '../../shared/map/regions';
import { emptyStats, type ValueStats } from '../../shared/map/stats';

type Db = Database.Database;

export const MAP_SCHEMA_VERSION = 1;

/**
 * The cell R*Tree stores levels scaled by 2^40 (exact in float32 for levels 0..66). Mixing levels
 * in one node then costs the R*-tree's volume heuristics far more than mixing places, so nodes
 * stay nearly single-level and a coarse-level query skips the millions of level-0 tiles in view
 * instead of testing each one (3x faster for whole-map views of a 2M-tile map).
 */
const LEVEL_AXIS = 2 ** 40;
export const DEFAULT_QUERY_LIMIT = 10_000;
export const MAX_QUERY_LIMIT = 1_000_000;

export type PyramidState = 'none' | 'building' | 'built' | 'skipped';
const PYR_STATES: readonly PyramidState[] = ['none', 'building', 'built', 'skipped'];

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

const KIND_CODE: Record<RegionKind, number> = { weights: 0, activations: 1, 'kv-cache': 2, free: 3, corpus: 4 };

function kindMask(kinds: readonly RegionKind[] | undefined): number {
  if (kinds === undefined) return 0x1f;
  let m = 0;
  for (const k of kinds) {
    if (!isRegionKind(k)) throw new MapError('MAP_INPUT', `unknown region kind ${String(k)} (${REGION_KINDS.join(', ')})`, { kind: k });
    m |= 1 << KIND_CODE[k];
  }
  return m;
}

function limitOf(l: number | undefined): number {
  const v = l ?? DEFAULT_QUERY_LIMIT;
  if (!Number.isInteger(v) || v < 1 || v > MAX_QUERY_LIMIT) {
    throw new MapError('MAP_INPUT', `limit ${v} is not an integer in 1..${MAX_QUERY_LIMIT}`, { limit: v });
  }
  return v;
}

interface RegionRow {
  rid: number;
  id: string;
  model_id: string;
  kind: number;
  name: string;
  x: number;
  y: number;
  w: number;
  h: number;
  tile_w: number;
  tile_h: number;
  cols: number;
  rows: number;
  tile_count: number;
  ord: number;
  block: number | null;
  ggml_type: string | null;
  dims: string | null;
  byte_size: number | null;
  pyr_state: number;
  pyr_note: string | null;
  heat_size: number | null;
  levels: number | null;
  s_count: number | null;
  s_sum: number | null;
  s_sumsq: number | null;
  s_min: number | null;
  s_max: number | null;
  s_nonfinite: number | null;
  heat_min: number | null;
  heat_max: number | null;
}

/** A cell row in raw (array) mode: the columns of CELL_COLUMNS, then heat when asked for. */
type CellRaw = [number, number, number, number, number, number, number, number, number, number, number | null, number | null, number | null, number | null, number | null, number | null, (Buffer | null)?];

/** What a cell needs of its region; immutable per rid (regions with tiles never change). */
interface RegionName {
  id: string;
  modelId: string;
  cols: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS map_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS map_model (mid INTEGER PRIMARY KEY AUTOINCREMENT, model_id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS map_region (
  rid INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, so rid -> id can be cached
  id TEXT NOT NULL UNIQUE,
  mid INTEGER NOT NULL REFERENCES map_model(mid),
  kind INTEGER NOT NULL,
  name TEXT NOT NULL,
  x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL,
  tile_w INTEGER NOT NULL, tile_h INTEGER NOT NULL, cols INTEGER NOT NULL, rows INTEGER NOT NULL,
  tile_count INTEGER NOT NULL,
  ord INTEGER NOT NULL, block INTEGER,
  ggml_type TEXT, dims TEXT, byte_size INTEGER,
  pyr_state INTEGER NOT NULL DEFAULT 0, pyr_note TEXT, heat_size INTEGER, levels INTEGER,
  s_count INTEGER, s_sum REAL, s_sumsq REAL, s_min REAL, s_max REAL, s_nonfinite INTEGER,
  heat_min REAL, heat_max REAL
);
CREATE INDEX IF NOT EXISTS map_region_by_model ON map_region (mid, ord);
CREATE VIRTUAL TABLE IF NOT EXISTS map_region_rt USING rtree (rid, x0, x1, y0, y1);
CREATE TABLE IF NOT EXISTS map_cell (
  cid INTEGER PRIMARY KEY,
  rid INTEGER NOT NULL REFERENCES map_region(rid),
  mid INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  level INTEGER NOT NULL, col INTEGER NOT NULL, row INTEGER NOT NULL,
  x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL,
  s_count INTEGER, s_sum REAL, s_sumsq REAL, s_min REAL, s_max REAL, s_nonfinite INTEGER,
  heat BLOB,
  UNIQUE (rid, level, row, col)
);
CREATE VIRTUAL TABLE IF NOT EXISTS map_cell_rt USING rtree (cid, x0, x1, y0, y1, l0, l1);
`;

// Region columns in raw mode, in this order (see regionFromRaw).
const REGION_COLUMNS = [
  'rid', 'id', 'mid', 'kind', 'name', 'x', 'y', 'w', 'h', 'tile_w', 'tile_h', 'cols', 'rows', 'tile_count', 'ord', 'block',
  'ggml_type', 'dims', 'byte_size', 'pyr_state', 'pyr_note', 'heat_size', 'levels',
  's_count', 's_sum', 's_sumsq', 's_min', 's_max', 's_nonfinite', 'heat_min', 'heat_max',
] as const;

// Viewport queries: the R*Tree's conservative box (and size) test, then the exact one on the
// integer columns.
const REGION_QUERY = `
SELECT ${REGION_COLUMNS.map((c) => `g.${c}`).join(', ')} FROM map_region_rt AS r
  CROSS JOIN map_region AS g ON g.rid = r.rid
WHERE r.x1 > @x0 AND r.x0 < @x1 AND r.y1 > @y0 AND r.y0 < @y1 AND max(r.x1 - r.x0, r.y1 - r.y0) >= @mins
  AND g.x < @x1 AND g.x + g.w > @x0 AND g.y < @y1 AND g.y + g.h > @y0
  AND ((1 << g.kind) & @mask) != 0 AND (@mid IS NULL OR g.mid = @mid) AND max(g.w, g.h) >= @mins
LIMIT @lim`;

// Lean columns in raw mode: materialising rows is most of a query's cost (strings and keyed
// objects per row were 3x slower), so region and model ids come from a per-index cache.
const CELL_COLUMNS = `c.cid, c.rid, c.kind, c.level, c.col, c.row, c.x, c.y, c.w, c.h,
  c.s_count, c.s_sum, c.s_sumsq, c.s_min, c.s_max, c.s_nonfinite`;

function cellQuery(withHeat: boolean): string {
  return `
SELECT ${CELL_COLUMNS}${withHeat ? ', c.heat' : ''} FROM map_cell_rt AS r
  CROSS JOIN map_cell AS c ON c.cid = r.cid
WHERE r.x1 > @x0 AND r.x0 < @x1 AND r.y1 > @y0 AND r.y0 < @y1 AND r.l0 <= @lv * ${LEVEL_AXIS} AND r.l1 >= @lv * ${LEVEL_AXIS}
  AND max(r.x1 - r.x0, r.y1 - r.y0) >= @mins
  AND c.x < @x1 AND c.x + c.w > @x0 AND c.y < @y1 AND c.y + c.h > @y0
  AND ((1 << c.kind) & @mask) != 0 AND (@mid IS NULL OR c.mid = @mid) AND max(c.w, c.h) >= @mins
LIMIT @lim`;
}

function statsFromRow(r: { s_count: number | null; s_sum: number | null; s_sumsq: number | null; s_min: number | null; s_max: number | null; s_nonfinite: number | null }): ValueStats | null {
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
function statsParams(s: ValueStats): Record<string, number | null> {
  const empty = s.count === 0;
  return { cnt: s.count, sum: s.sum, sumsq: s.sumSq, mn: empty ? null : s.min, mx: empty ? null : s.max, nf: s.nonFinite };
}

function heatToBlob(h: Float32Array): Buffer {
  // Float32 little-endian, as every platform Electron ships on stores them.
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength);
}

function blobToHeat(b: Buffer): Float32Array<ArrayBuffer> {
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer, 0, b.byteLength >> 2);
}

function regionFromRow(r: RegionRow): IndexedRegion {
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

function regionFromRaw(a: any[], modelId: string): IndexedRegion {
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

function cellFromRaw(a: CellRaw, name: RegionName, withHeat: boolean): MapCell {
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

function viewportParams(v: Viewport): { x0: number; y0: number; x1: number; y1: number } {
  assertViewport(v);
  return { x0: v.x0, y0: v.y0, x1: v.x1, y1: v.y1 };
}

export class MapIndex {
  readonly db: Db;
  private readonly owned: boolean;
  private readonly st: ReturnType<MapIndex['prepare']>;
  private readonly names = new Map<number, RegionName>();
  private readonly models = new Map<number, string>();

  /** Uses the caller's database handle (its journal and sync settings are the caller's). */
  constructor(db: Db, opts: { owned?: boolean } = {}) {
    this.db = db;
    this.owned = opts.owned ?? false;
    db.exec(SCHEMA);
    const v = db.prepare('SELECT value FROM map_meta WHERE key = ?').get('schema') as { value: string } | undefined;
    if (v === undefined) db.prepare('INSERT INTO map_meta (key, value) VALUES (?, ?)').run('schema', String(MAP_SCHEMA_VERSION));
    else if (v.value !== String(MAP_SCHEMA_VERSION)) {
      throw new MapError('MAP_INPUT', `map index schema ${v.value} is not the supported ${MAP_SCHEMA_VERSION}`, { schema: v.value });
    }
    this.st = this.prepare();
  }

  /** Opens (or creates) an index in its own database file, WAL with synchronous=FULL. */
  static open(file: string): MapIndex {
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      return new MapIndex(db, { owned: true });
    } catch (e) {
      db.close();
      throw e;
    }
  }

  close(): void {
    if (this.owned && this.db.open) this.db.close();
  }

  private prepare() {
    const db = this.db;
    return {
      midOf: db.prepare<[string], { mid: number }>('SELECT mid FROM map_model WHERE model_id = ?'),
      addModel: db.prepare('INSERT INTO map_model (model_id) VALUES (?)'),
      regionById: db.prepare<[string], RegionRow>('SELECT g.*, m.model_id FROM map_region g JOIN map_model m ON m.mid = g.mid WHERE g.id = ?'),
      // Stepping through a model's regions of one kind in execution order (ord, then id), one
      // row at a time on the (mid, ord) index: any number of tensors, nothing listed whole.
      stepNext: db.prepare<{ model: string; kind: number; ord: number; id: string }, RegionRow>(
        'SELECT g.*, m.model_id FROM map_model m JOIN map_region g ON g.mid = m.mid WHERE m.model_id = @model AND g.kind = @kind AND (g.ord > @ord OR (g.ord = @ord AND g.id > @id)) ORDER BY g.ord, g.id LIMIT 1',
      ),
      stepPrev: db.prepare<{ model: string; kind: number; ord: number; id: string }, RegionRow>(
        'SELECT g.*, m.model_id FROM map_model m JOIN map_region g ON g.mid = m.mid WHERE m.model_id = @model AND g.kind = @kind AND (g.ord < @ord OR (g.ord = @ord AND g.id < @id)) ORDER BY g.ord DESC, g.id DESC LIMIT 1',
      ),
      stepFirst: db.prepare<{ model: string; kind: number }, RegionRow>(
        'SELECT g.*, m.model_id FROM map_model m JOIN map_region g ON g.mid = m.mid WHERE m.model_id = @model AND g.kind = @kind ORDER BY g.ord, g.id LIMIT 1',
      ),
      stepLast: db.prepare<{ model: string; kind: number }, RegionRow>(
        'SELECT g.*, m.model_id FROM map_model m JOIN map_region g ON g.mid = m.mid WHERE m.model_id = @model AND g.kind = @kind ORDER BY g.ord DESC, g.id DESC LIMIT 1',
      ),
      regionsOfModel: db.prepare<[string], RegionRow>(
        'SELECT g.*, m.model_id FROM map_model m JOIN map_region g ON g.mid = m.mid WHERE m.model_id = ? ORDER BY g.ord, g.id',
      ),
      overlapping: db.prepare<Record<string, number>, { id: string }>(
        `SELECT g.id FROM map_region_rt r CROSS JOIN map_region g ON g.rid = r.rid
         WHERE r.x1 > @x0 AND r.x0 < @x1 AND r.y1 > @y0 AND r.y0 < @y1
           AND g.x < @x1 AND g.x + g.w > @x0 AND g.y < @y1 AND g.y + g.h > @y0 AND g.rid != @self LIMIT 1`,
      ),
      insRegion: db.prepare(
        `INSERT INTO map_region (id, mid, kind, name, x, y, w, h, tile_w, tile_h, cols, rows, tile_count, ord, block, ggml_type, dims, byte_size)
         VALUES (@id, @mid, @kind, @name, @x, @y, @w, @h, @tw, @th, @cols, @rows, @tc, @ord, @block, @type, @dims, @bytes)`,
      ),
      insRegionRt: db.prepare('INSERT INTO map_region_rt (rid, x0, x1, y0, y1) VALUES (?, ?, ?, ?, ?)'),
      updRegion: db.prepare('UPDATE map_region SET x = @x, y = @y, w = @w, h = @h, cols = @cols, rows = @rows WHERE rid = @rid'),
      updRegionRt: db.prepare('UPDATE map_region_rt SET x0 = ?, x1 = ?, y0 = ?, y1 = ? WHERE rid = ?'),
      insCell: db.prepare(
        `INSERT INTO map_cell (rid, mid, kind, level, col, row, x, y, w, h) VALUES (@rid, @mid, @kind, @level, @col, @row, @x, @y, @w, @h)`,
      ),
      insCellFull: db.prepare(
        `INSERT INTO map_cell (rid, mid, kind, level, col, row, x, y, w, h, s_count, s_sum, s_sumsq, s_min, s_max, s_nonfinite, heat)
         VALUES (@rid, @mid, @kind, @level, @col, @row, @x, @y, @w, @h, @cnt, @sum, @sumsq, @mn, @mx, @nf, @heat)`,
      ),
      insCellRt: db.prepare('INSERT INTO map_cell_rt (cid, x0, x1, y0, y1, l0, l1) VALUES (?, ?, ?, ?, ?, ? * @axis, ? * @axis)'.replace(/@axis/g, String(LEVEL_AXIS))),
      setCellData: db.prepare(
        `UPDATE map_cell SET s_count = @cnt, s_sum = @sum, s_sumsq = @sumsq, s_min = @mn, s_max = @mx, s_nonfinite = @nf, heat = @heat
         WHERE rid = @rid AND level = @level AND row = @row AND col = @col`,
      ),
      clearLevel0: db.prepare(
        'UPDATE map_cell SET s_count = NULL, s_sum = NULL, s_sumsq = NULL, s_min = NULL, s_max = NULL, s_nonfinite = NULL, heat = NULL WHERE rid = ? AND level = 0',
      ),
      delUpperRt: db.prepare('DELETE FROM map_cell_rt WHERE cid IN (SELECT cid FROM map_cell WHERE rid = ? AND level > 0)'),
      delUpper: db.prepare('DELETE FROM map_cell WHERE rid = ? AND level > 0'),
      delCellsRt: db.prepare('DELETE FROM map_cell_rt WHERE cid IN (SELECT cid FROM map_cell WHERE rid = ?)'),
      delCells: db.prepare('DELETE FROM map_cell WHERE rid = ?'),
      delRegionRt: db.prepare('DELETE FROM map_region_rt WHERE rid = ?'),
      delRegion: db.prepare('DELETE FROM map_region WHERE rid = ?'),
      delModel: db.prepare('DELETE FROM map_model WHERE mid = ?'),
      setPyramid: db.prepare(
        `UPDATE map_region SET pyr_state = @state, pyr_note = @note, heat_size = @hs, levels = @levels,
           s_count = @cnt, s_sum = @sum, s_sumsq = @sumsq, s_min = @mn, s_max = @mx, s_nonfinite = @nf,
           heat_min = @hmin, heat_max = @hmax WHERE rid = @rid`,
      ),
      queryRegions: db.prepare<Record<string, number | null>, any[]>(REGION_QUERY).raw(true),
      modelNames: db.prepare<[], { mid: number; model_id: string }>('SELECT mid, model_id FROM map_model'),
      queryCells: db.prepare<Record<string, number | null>, CellRaw>(cellQuery(false)).raw(true),
      queryCellsHeat: db.prepare<Record<string, number | null>, CellRaw>(cellQuery(true)).raw(true),
      cellByKey: db
        .prepare<[number, number, number, number], CellRaw>(`SELECT ${CELL_COLUMNS}, c.heat FROM map_cell c WHERE c.rid = ? AND c.level = ? AND c.row = ? AND c.col = ?`)
        .raw(true),
      regionNames: db.prepare<[], { rid: number; id: string; model_id: string; cols: number }>(
        'SELECT g.rid, g.id, m.model_id, g.cols FROM map_region g JOIN map_model m ON m.mid = g.mid',
      ),
      cellHeat: db.prepare<[number], { heat: Buffer | null }>('SELECT heat FROM map_cell WHERE cid = ?'),
      models: db.prepare<[], { model_id: string; x0: number; y0: number; x1: number; y1: number; n: number; tiles: number }>(
        `SELECT m.model_id, MIN(g.x) AS x0, MIN(g.y) AS y0, MAX(g.x + g.w) AS x1, MAX(g.y + g.h) AS y1,
                COUNT(*) AS n, SUM(g.tile_count) AS tiles
         FROM map_model m JOIN map_region g ON g.mid = m.mid GROUP BY m.mid ORDER BY MIN(g.x), m.model_id`,
      ),
      counts: db.prepare<[], { regions: number; cells: number; models: number }>(
        'SELECT (SELECT COUNT(*) FROM map_region) AS regions, (SELECT COUNT(*) FROM map_cell) AS cells, (SELECT COUNT(*) FROM map_model) AS models',
      ),
    };
  }

  private ridOf(regionId: string): RegionRow {
    const r = this.st.regionById.get(regionId);
    if (!r) throw new MapError('MAP_NOT_FOUND', `map region ${regionId} is not in the index`, { regionId });
    return r;
  }

  private midFor(modelId: string, create: boolean): number | null {
    const r = this.st.midOf.get(modelId);
    if (r) return r.mid;
    if (!create) return null;
    return Number(this.st.addModel.run(modelId).lastInsertRowid);
  }

  private checkRegion(r: MapRegion): void {
    if (typeof r.id !== 'string' || r.id.length === 0) throw new MapError('MAP_INPUT', 'region id must be a non-empty string');
    if (!isRegionKind(r.kind)) throw new MapError('MAP_INPUT', `region ${r.id}: unknown kind ${String(r.kind)}`, { regionId: r.id });
    if (typeof r.modelId !== 'string' || r.modelId.length === 0) throw new MapError('MAP_INPUT', `region ${r.id}: modelId must be a non-empty string`);
    assertRect(r, `region ${r.id}`);
    if (r.width === 0 || r.height === 0) throw new MapError('MAP_INPUT', `region ${r.id}: empty rectangle`, { regionId: r.id });
    assertGrid(r);
    if (r.grid.tileCount > 0 && r.kind !== 'weights' && r.kind !== 'corpus') {
      throw new MapError('MAP_INPUT', `region ${r.id}: only weights and corpus regions hold stored tiles`, { regionId: r.id, kind: r.kind });
    }
  }

  private assertFree(rect: Rect, selfRid: number, what: string): void {
    const hit = this.st.overlapping.get({ x0: rect.x, x1: rect.x + rect.width, y0: rect.y, y1: rect.y + rect.height, self: selfRid });
    if (hit) throw new MapError('MAP_OVERLAP', `${what} overlaps region ${hit.id}`, { what, other: hit.id });
  }

  /**
   * Adds regions and a level-0 cell for every stored tile, in one transaction. MAP_CONFLICT for
   * an id already there, MAP_OVERLAP for a region that would overlap another one.
   */
  putRegions(regions: readonly MapRegion[]): void {
    for (const r of regions) this.checkRegion(r);
    const st = this.st;
    this.db.transaction(() => {
      for (const r of regions) {
        if (st.regionById.get(r.id)) throw new MapError('MAP_CONFLICT', `map region ${r.id} already exists`, { regionId: r.id });
        this.assertFree(r, -1, `region ${r.id}`);
        const mid = this.midFor(r.modelId, true)!;
        const kind = KIND_CODE[r.kind];
        const rid = Number(
          st.insRegion.run({
            id: r.id,
            mid,
            kind,
            name: r.name,
            x: r.x,
            y: r.y,
            w: r.width,
            h: r.height,
            tw: r.grid.tileWidth,
            th: r.grid.tileHeight,
            cols: r.grid.cols,
            rows: r.grid.rows,
            tc: r.grid.tileCount,
            ord: r.order,
            block: r.block,
            type: r.tensor?.ggmlType ?? null,
            dims: r.tensor ? JSON.stringify(r.tensor.dims) : null,
            bytes: r.tensor?.byteSize ?? null,
          }).lastInsertRowid,
        );
        st.insRegionRt.run(rid, r.x, r.x + r.width, r.y, r.y + r.height);
        const [, l1] = cellLevelSpan(r.grid, 0);
        for (let i = 0; i < r.grid.tileCount; i++) {
          const t = tileRect(r, i);
          const cid = Number(
            st.insCell.run({ rid, mid, kind, level: 0, col: i % r.grid.cols, row: Math.floor(i / r.grid.cols), x: t.x, y: t.y, w: t.width, h: t.height })
              .lastInsertRowid,
          );
          st.insCellRt.run(cid, t.x, t.x + t.width, t.y, t.y + t.height, 0, l1);
        }
      }
    })();
  }

  /**
   * Moves or resizes a region that holds no stored tiles (activations, kv-cache, free), e.g.
   * after resizeKvCache. Adds it when it is not there yet.
   */
  updateRegion(r: MapRegion): void {
    this.checkRegion(r);
    if (r.grid.tileCount > 0) throw new MapError('MAP_INPUT', `region ${r.id}: regions with stored tiles cannot move`, { regionId: r.id });
    this.db.transaction(() => {
      const old = this.st.regionById.get(r.id);
      if (!old) {
        this.putRegions([r]);
        return;
      }
      if (old.tile_count > 0) throw new MapError('MAP_INPUT', `region ${r.id}: regions with stored tiles cannot move`, { regionId: r.id });
      this.assertFree(r, old.rid, `region ${r.id}`);
      this.st.updRegion.run({ rid: old.rid, x: r.x, y: r.y, w: r.width, h: r.height, cols: r.grid.cols, rows: r.grid.rows });
      this.st.updRegionRt.run(r.x, r.x + r.width, r.y, r.y + r.height, old.rid);
    })();
  }

  /**
   * Replaces a model's reserved regions (those without stored tiles: activations, kv-cache,
   * free) with these, in one transaction; e.g. the regions of resizeKvCache(layout, bytes).
   */
  setReservedRegions(modelId: string, regions: readonly MapRegion[]): void {
    for (const r of regions) {
      this.checkRegion(r);
      if (r.modelId !== modelId || r.grid.tileCount > 0) {
        throw new MapError('MAP_INPUT', `region ${r.id} is not a reserved region of model ${modelId}`, { regionId: r.id, modelId });
      }
    }
    this.db.transaction(() => {
      for (const old of this.st.regionsOfModel.all(modelId)) {
        if (old.tile_count > 0) continue;
        this.st.delCellsRt.run(old.rid);
        this.st.delCells.run(old.rid);
        this.st.delRegionRt.run(old.rid);
        this.st.delRegion.run(old.rid);
      }
      this.putRegions(regions);
    })();
  }

  removeRegion(regionId: string): void {
    this.db.transaction(() => {
      const r = this.ridOf(regionId);
      this.st.delCellsRt.run(r.rid);
      this.st.delCells.run(r.rid);
      this.st.delRegionRt.run(r.rid);
      this.st.delRegion.run(r.rid);
    })();
  }

  /** Removes a model's regions and cells; returns how many regions went. */
  removeModel(modelId: string): number {
    return this.db.transaction(() => {
      const mid = this.midFor(modelId, false);
      if (mid === null) return 0;
      const regions = this.st.regionsOfModel.all(modelId);
      for (const r of regions) {
        this.st.delCellsRt.run(r.rid);
        this.st.delCells.run(r.rid);
        this.st.delRegionRt.run(r.rid);
        this.st.delRegion.run(r.rid);
      }
      this.st.delModel.run(mid);
      return regions.length;
    })();
  }

  getRegion(regionId: string): IndexedRegion | undefined {
    const r = this.st.regionById.get(regionId);
    return r ? regionFromRow(r) : undefined;
  }

  /**
   * The model's region of `kind` after (dir 1) or before (−1) region `fromId` in execution
   * order, wrapping at the ends; from the first (or last) when `fromId` is null or not one of
   * them. Undefined when the model has no region of that kind. (The Explorer's N and P keys.)
   */
  stepRegion(modelId: string, fromId: string | null, dir: 1 | -1, kind: RegionKind = 'weights'): IndexedRegion | undefined {
    const k = KIND_CODE[kind];
    const from = fromId === null ? undefined : this.st.regionById.get(fromId);
    let row: RegionRow | undefined;
    if (from && from.model_id === modelId && from.kind === k) {
      const at = { model: modelId, kind: k, ord: from.ord, id: from.id };
      row = dir > 0 ? this.st.stepNext.get(at) : this.st.stepPrev.get(at);
    }
    row ??= dir > 0 ? this.st.stepFirst.get({ model: modelId, kind: k }) : this.st.stepLast.get({ model: modelId, kind: k });
    return row ? regionFromRow(row) : undefined;
  }

  /** A model's regions in execution order. */
  listRegions(modelId: string): IndexedRegion[] {
    return this.st.regionsOfModel.all(modelId).map(regionFromRow);
  }

  /** Every model with its bounding box, left to right. */
  listModels(): MapModelSummary[] {
    return this.st.models.all().map((m) => ({
      modelId: m.model_id,
      box: { x: m.x0, y: m.y0, width: m.x1 - m.x0, height: m.y1 - m.y0 },
      regions: m.n,
      tiles: m.tiles,
    }));
  }

  modelBox(modelId: string): Rect | undefined {
    return this.listModels().find((m) => m.modelId === modelId)?.box;
  }

  /** The bounding box of everything on the map; undefined when empty. */
  mapBounds(): Rect | undefined {
    return unionRects(this.listModels().map((m) => m.box)) ?? undefined;
  }

  counts(): { regions: number; cells: number; models: number } {
    return this.st.counts.get()!;
  }

  private queryParams(v: Viewport, o: QueryOptions, limit: number): Record<string, number | null> | null {
    const mins = o.minSize ?? 0;
    if (typeof mins !== 'number' || !(mins >= 0) || !Number.isFinite(mins)) throw new MapError('MAP_INPUT', `minSize ${String(mins)} is not a finite number >= 0`, { minSize: mins });
    const p: Record<string, number | null> = { ...viewportParams(v), mask: kindMask(o.kinds), mid: null, lim: limit + 1, mins };
    if (o.modelId !== undefined) {
      const mid = this.midFor(o.modelId, false);
      if (mid === null) return null;
      p.mid = mid;
    }
    return p;
  }

  /** Regions with area inside the viewport [x0, x1) x [y0, y1). */
  queryRegions(v: Viewport, o: QueryOptions = {}): QueryResult<IndexedRegion> {
    const limit = limitOf(o.limit);
    const p = this.queryParams(v, o, limit);
    if (p === null) return { items: [], truncated: false };
    const rows = this.st.queryRegions.all(p);
    const n = Math.min(rows.length, limit);
    const items: IndexedRegion[] = new Array<IndexedRegion>(n);
    for (let i = 0; i < n; i++) items[i] = regionFromRaw(rows[i]!, this.modelOf(rows[i]![2]));
    return { items, truncated: rows.length > limit };
  }

  /** mid → model id (mids are never reused); reloaded on a miss. */
  private modelOf(mid: number): string {
    let m = this.models.get(mid);
    if (m === undefined) {
      this.models.clear();
      for (const r of this.st.modelNames.all()) this.models.set(r.mid, r.model_id);
      m = this.models.get(mid);
      if (m === undefined) throw new MapError('MAP_NOT_FOUND', `map model #${mid} is not in the index`, { mid });
    }
    return m;
  }

  /** rid → region id, model id, grid columns; reloaded whole on a miss (another writer). */
  private nameOf(rid: number): RegionName {
    let n = this.names.get(rid);
    if (!n) {
      this.names.clear();
      for (const r of this.st.regionNames.all()) this.names.set(r.rid, { id: r.id, modelId: r.model_id, cols: r.cols });
      n = this.names.get(rid);
      if (!n) throw new MapError('MAP_NOT_FOUND', `map region #${rid} is not in the index`, { rid });
    }
    return n;
  }

  /** Cells with area inside the viewport at an LOD level (tiles at level 0). */
  queryCells(v: Viewport, o: CellQueryOptions = {}): QueryResult<MapCell> {
    const limit = limitOf(o.limit);
    const p = this.cellParams(v, o, limit);
    if (p === null) return { items: [], truncated: false };
    const withHeat = o.withHeat === true;
    const rows = (withHeat ? this.st.queryCellsHeat : this.st.queryCells).all(p);
    const n = Math.min(rows.length, limit);
    const items: MapCell[] = new Array<MapCell>(n);
    for (let i = 0; i < n; i++) items[i] = cellFromRaw(rows[i]!, this.nameOf(rows[i]![1]), withHeat);
    return { items, truncated: rows.length > limit };
  }

  /**
   * Streams the cells of queryCells to fn without holding them all (fn must not use the
   * database). Returns how many were visited; stops after `limit`.
   */
  forEachCell(v: Viewport, o: CellQueryOptions, fn: (c: MapCell) => void): number {
    const limit = limitOf(o.limit ?? MAX_QUERY_LIMIT);
    const p = this.cellParams(v, o, limit - 1);
    if (p === null) return 0;
    const withHeat = o.withHeat === true;
    let n = 0;
    // No other statement may run while iterating: rows of regions not yet cached wait.
    const later: CellRaw[] = [];
    for (const row of (withHeat ? this.st.queryCellsHeat : this.st.queryCells).iterate(p)) {
      const name = this.names.get(row[1]);
      if (name) fn(cellFromRaw(row, name, withHeat));
      else later.push(row);
      n++;
    }
    for (const row of later) fn(cellFromRaw(row, this.nameOf(row[1]), withHeat));
    return n;
  }

  private cellParams(v: Viewport, o: CellQueryOptions, limit: number): Record<string, number | null> | null {
    const level = o.level ?? 0;
    assertLevel(level);
    const p = this.queryParams(v, o, limit);
    if (p) p.lv = level;
    return p;
  }

  /** One cell by its key, with its heat image. */
  getCell(regionId: string, level: number, col: number, row: number): MapCell | undefined {
    const g = this.st.regionById.get(regionId);
    if (!g) return undefined;
    const r = this.st.cellByKey.get(g.rid, level, row, col);
    return r ? cellFromRaw(r, { id: g.id, modelId: g.model_id, cols: g.cols }, true) : undefined;
  }

  getCellHeat(cellId: number): Float32Array<ArrayBuffer> | null {
    const r = this.st.cellHeat.get(cellId);
    if (!r) throw new MapError('MAP_NOT_FOUND', `map cell ${cellId} is not in the index`, { cellId });
    return r.heat === null ? null : blobToHeat(r.heat);
  }

  // ---- pyramid writes (electron/map/pyramid.ts) ----

  /** Drops a region's pyramid (cells above level 0, level-0 stats) and marks it building. */
  beginPyramid(regionId: string, heatSize: number): void {
    this.db.transaction(() => {
      const r = this.ridOf(regionId);
      this.st.delUpperRt.run(r.rid);
      this.st.delUpper.run(r.rid);
      this.st.clearLevel0.run(r.rid);
      this.st.setPyramid.run({ rid: r.rid, state: 1, note: null, hs: heatSize, levels: null, ...statsParams(emptyStats()), cnt: null, hmin: null, hmax: null });
    })();
  }

  /**
   * Writes finished pyramid cells of a region in one transaction: level 0 fills the tile rows,
   * higher levels are inserted. With `summary`, the same transaction marks the region built.
   */
  writeCells(regionId: string, cells: readonly PyramidCell[], summary?: TensorPyramidSummary): void {
    const st = this.st;
    this.db.transaction(() => {
      const row = this.ridOf(regionId);
      const region = regionFromRow(row);
      const mid = this.midFor(region.modelId, false)!;
      for (const c of cells) {
        assertLevel(c.level);
        const data = { ...statsParams(c.stats), heat: heatToBlob(c.heat) };
        if (c.level === 0) {
          const res = st.setCellData.run({ rid: row.rid, level: 0, row: c.row, col: c.col, ...data });
          if (res.changes !== 1) throw new MapError('MAP_NOT_FOUND', `region ${regionId} has no tile at (${c.col}, ${c.row})`, { regionId, col: c.col, row: c.row });
          continue;
        }
        const rect = cellRect(region, c.level, c.col, c.row);
        const [l0, l1] = cellLevelSpan(region.grid, c.level);
        const cid = Number(
          st.insCellFull.run({ rid: row.rid, mid, kind: row.kind, level: c.level, col: c.col, row: c.row, x: rect.x, y: rect.y, w: rect.width, h: rect.height, ...data })
            .lastInsertRowid,
        );
        st.insCellRt.run(cid, rect.x, rect.x + rect.width, rect.y, rect.y + rect.height, l0, l1);
      }
      if (summary) {
        st.setPyramid.run({
          rid: row.rid,
          state: 2,
          note: null,
          hs: row.heat_size,
          levels: summary.levels,
          ...statsParams(summary.stats),
          hmin: Number.isFinite(summary.heatMin) ? summary.heatMin : null,
          hmax: Number.isFinite(summary.heatMax) ? summary.heatMax : null,
        });
      }
    })();
  }

  /** Marks a region's pyramid as not buildable, with the reason. */
  skipPyramid(regionId: string, note: string): void {
    const r = this.ridOf(regionId);
    this.st.setPyramid.run({ rid: r.rid, state: 3, note, hs: null, levels: null, ...statsParams(emptyStats()), cnt: null, hmin: null, hmax: null });
  }

  /**
   * Inserts pyramid cells above level 0 without statistics for every region of a model that
   * has none (benchmarks and tests of LOD queries; a real build writes them with data).
   */
  addEmptyPyramid(modelId: string): number {
    let n = 0;
    this.db.transaction(() => {
      const mid = this.midFor(modelId, false);
      if (mid === null) throw new MapError('MAP_NOT_FOUND', `model ${modelId} is not in the index`, { modelId });
      for (const row of this.st.regionsOfModel.all(modelId)) {
        if (row.tile_count === 0) continue;
        const region = regionFromRow(row);
        const top = topLevel(region.grid);
        for (let k = 1; k <= top; k++) {
          const [l0, l1] = cellLevelSpan(region.grid, k);
          for (const { col, row: rr } of cellsAt(region.grid, k)) {
            const rect = cellRect(region, k, col, rr);
            const cid = Number(
              this.st.insCell.run({ rid: row.rid, mid, kind: row.kind, level: k, col, row: rr, x: rect.x, y: rect.y, w: rect.width, h: rect.height })
                .lastInsertRowid,
            );
            this.st.insCellRt.run(cid, rect.x, rect.x + rect.width, rect.y, rect.y + rect.height, l0, l1);
            n++;
          }
        }
      }
    })();
    return n;
  }
}

