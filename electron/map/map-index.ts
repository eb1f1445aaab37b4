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
import { assertRect, unionRects, type Rect, type Viewport } from '../../shared/map/geometry';
import { assertLevel, cellLevelSpan, cellRect, cellsAt, topLevel } from '../../shared/map/lod';
import type { PyramidCell, TensorPyramidSummary } from '../../shared/map/pyramid-core';
import { assertGrid, isRegionKind, tileRect, type MapRegion, type RegionKind } from '../../shared/map/regions';
import { emptyStats } from '../../shared/map/stats';
import {
  blobToHeat, cellFromRaw, heatToBlob, KIND_CODE, kindMask, limitOf, regionFromRaw, regionFromRow, statsParams, viewportParams, type RegionName,
} from './index-rows';
import { MAP_SCHEMA_VERSION, prepareStatements, SCHEMA, type CellRaw, type RegionRow, type Statements } from './index-schema';
import { MAX_QUERY_LIMIT, type CellQueryOptions, type IndexedRegion, type MapCell, type MapModelSummary, type PyramidWrite, type QueryOptions, type QueryResult } from './map-types';

type Db = Database.Database;

export class MapIndex {
  readonly db: Db;
  private readonly owned: boolean;
  private readonly st: Statements;
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
    this.st = prepareStatements(db);
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
    this.db.transaction(() => this.clearPyramidRows(regionId, heatSize))();
  }

  /**
   * Writes finished pyramid cells of a region in one transaction: level 0 fills the tile rows,
   * higher levels are inserted. With `summary`, the same transaction marks the region built.
   */
  writeCells(regionId: string, cells: readonly PyramidCell[], summary?: TensorPyramidSummary): void {
    this.db.transaction(() => this.writeCellRows(regionId, cells, summary))();
  }

  /**
   * Whole pyramids in one transaction: for each, what beginPyramid and then writeCells with its
   * summary do. The import writes its tensors' pyramids this way, a batch at a time, so that a
   * model's few hundred tensors cost a few commits (each a WAL fsync) instead of two each.
   */
  writePyramids(items: readonly PyramidWrite[]): void {
    if (items.length === 0) return;
    this.db.transaction(() => {
      for (const it of items) {
        this.clearPyramidRows(it.regionId, it.heatSize);
        this.writeCellRows(it.regionId, it.cells, it.summary);
      }
    })();
  }

  private clearPyramidRows(regionId: string, heatSize: number): void {
    const r = this.ridOf(regionId);
    this.st.delUpperRt.run(r.rid);
    this.st.delUpper.run(r.rid);
    this.st.clearLevel0.run(r.rid);
    this.st.setPyramid.run({ rid: r.rid, state: 1, note: null, hs: heatSize, levels: null, ...statsParams(emptyStats()), cnt: null, hmin: null, hmax: null });
  }

  private writeCellRows(regionId: string, cells: readonly PyramidCell[], summary?: TensorPyramidSummary): void {
    const st = this.st;
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

