/**
 * The map index's SQLite layout: its tables and R*Trees, the viewport queries, the prepared
 * statements MapIndex runs, and the row shapes they answer with (specs/map.md, "Index").
 */
import type Database from 'better-sqlite3';

export const MAP_SCHEMA_VERSION = 1;

/**
 * The cell R*Tree stores levels scaled by 2^40 (exact in float32 for levels 0..66). Mixing levels
 * in one node then costs the R*-tree's volume heuristics far more than mixing places, so nodes
 * stay nearly single-level and a coarse-level query skips the millions of level-0 tiles in view
 * instead of testing each one (3x faster for whole-map views of a 2M-tile map).
 */
const LEVEL_AXIS = 2 ** 40;

export interface RegionRow {
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
export type CellRaw = [number, number, number, number, number, number, number, number, number, number, number | null, number | null, number | null, number | null, number | null, number | null, (Buffer | null)?];

/** What a cell needs of its region; immutable per rid (regions with tiles never change). */

export const SCHEMA = `
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
export const CELL_COLUMNS = `c.cid, c.rid, c.kind, c.level, c.col, c.row, c.x, c.y, c.w, c.h,
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

/** Every statement MapIndex runs, prepared once per index. */
export function prepareStatements(db: Database.Database) {
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

export type Statements = ReturnType<typeof prepareStatements>;
