import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MapIndex } from '../../electron/map/map-index';
import { MapError } from '../../shared/map/errors';
import { rectInViewport, type Viewport } from '../../shared/map/geometry';
import { cellRect, cellsAt, TOP_CELL_SPAN, topLevel } from '../../shared/map/lod';
import { placeModels, resizeKvCache } from '../../shared/map/placement';
import { tileCapacity, tileRect, type MapRegion, type RegionKind } from '../../shared/map/regions';
import { randInt, randomModel, rng } from '../shared/map-helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'map-index-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MapError);
    return (e as MapError).code;
  }
  return 'none';
}

/** Every cell the index should hold at level k: each region's cells at min(k, top). */
function bruteCells(regions: readonly MapRegion[], level: number): Array<{ key: string; region: MapRegion; rect: ReturnType<typeof cellRect> }> {
  const out = [];
  for (const r of regions) {
    if (r.grid.tileCount === 0) continue;
    const top = topLevel(r.grid);
    if (level > top + TOP_CELL_SPAN) continue; // too small to answer at this level
    const k = Math.min(level, top);
    for (const { col, row } of cellsAt(r.grid, k)) out.push({ key: `${r.id}|${k}|${col}|${row}`, region: r, rect: cellRect(r, k, col, row) });
  }
  return out;
}

function randomViewport(r: () => number, box: { x: number; y: number; width: number; height: number }): Viewport {
  const kind = r();
  if (kind < 0.15) return { x0: box.x - 10, y0: box.y - 10, x1: box.x + box.width + 10, y1: box.y + box.height + 10 };
  const w = kind < 0.5 ? randInt(r, 1, 40) : randInt(r, 1, box.width);
  const h = kind < 0.5 ? randInt(r, 1, 40) : randInt(r, 1, box.height);
  const x0 = box.x + randInt(r, -20, box.width);
  const y0 = box.y + randInt(r, -20, box.height);
  // Some viewports fractional, some on exact integer edges.
  const f = r() < 0.3 ? r() : 0;
  return { x0: x0 + f, y0: y0 + f, x1: x0 + w + f, y1: y0 + h + f };
}

describe('MapIndex viewport queries equal a brute-force scan', () => {
  it('on random maps (also far from the origin, where float32 R*Tree boxes are coarse)', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const r = rng(seed * 31);
      const geo = { tileWidth: randInt(r, 2, 12), tileHeight: randInt(r, 2, 12) };
      const cap = tileCapacity(geo.tileWidth, geo.tileHeight);
      const models = Array.from({ length: randInt(r, 1, 4) }, (_, i) => randomModel(r, `m${i}`, cap, 20));
      // Half the maps sit near 2^40 px: float32 steps there are 2^17 px, far coarser than a tile.
      const origin = seed % 2 === 0 ? { x: 2 ** 40 + randInt(r, 0, 1e6), y: -(2 ** 41) + randInt(r, 0, 1e6) } : { x: randInt(r, -500, 500), y: randInt(r, -500, 500) };
      const layouts = placeModels(models, geo, { maxTilesWide: randInt(r, 1, 6), tensorGap: randInt(r, 0, 2) }, origin);
      const regions = layouts.flatMap((l) => l.regions);
      const index = new MapIndex(new Database(':memory:'));
      index.putRegions(regions);
      for (const l of layouts) index.addEmptyPyramid(l.modelId);
      const box = index.mapBounds()!;
      expect(index.counts().cells).toBe(
        regions.reduce((s, rg) => {
          if (rg.grid.tileCount === 0) return s;
          let n = 0;
          for (let k = 0; k <= topLevel(rg.grid); k++) n += cellsAt(rg.grid, k).length;
          return s + n;
        }, 0),
      );

      for (let q = 0; q < 60; q++) {
        const v = randomViewport(r, box);
        const kinds: RegionKind[] | undefined = r() < 0.3 ? (['weights', 'free'] as RegionKind[]) : undefined;
        const modelId = r() < 0.3 ? layouts[randInt(r, 0, layouts.length - 1)]!.modelId : undefined;
        const minSize = r() < 0.3 ? randInt(r, 0, 3 * geo.tileWidth) : undefined;
        const big = (x: { width: number; height: number }) => Math.max(x.width, x.height) >= (minSize ?? 0);
        const keep = (rg: MapRegion) => (!kinds || kinds.includes(rg.kind)) && (!modelId || rg.modelId === modelId);

        const want = regions.filter((rg) => keep(rg) && big(rg) && rectInViewport(rg, v)).map((rg) => rg.id).sort();
        const got = index.queryRegions(v, { kinds, modelId, minSize });
        expect(got.truncated).toBe(false);
        expect(got.items.map((x) => x.id).sort(), `seed ${seed} q ${q}`).toEqual(want);

        const level = r() < 0.5 ? 0 : randInt(r, 0, 12);
        const wantCells = bruteCells(regions.filter(keep), level).filter((c) => big(c.rect) && rectInViewport(c.rect, v));
        const gotCells = index.queryCells(v, { level, kinds, modelId, minSize });
        expect(gotCells.items.map((c) => `${c.regionId}|${c.level}|${c.col}|${c.row}`).sort(), `seed ${seed} q ${q} level ${level}`).toEqual(
          wantCells.map((c) => c.key).sort(),
        );
        for (const c of gotCells.items.slice(0, 5)) {
          const b = wantCells.find((w) => w.key === `${c.regionId}|${c.level}|${c.col}|${c.row}`)!;
          expect({ x: c.x, y: c.y, width: c.width, height: c.height }).toEqual(b.rect);
          if (c.level === 0) {
            expect(c.tile).toBe(c.row * b.region.grid.cols + c.col);
            expect(tileRect(b.region, c.tile!)).toEqual(b.rect);
          } else expect(c.tile).toBeNull();
        }
      }
      index.db.close();
    }
  });

  it('is exact at the scale of single pixels near 2^40 and 2^52', () => {
    for (const base of [2 ** 40, 2 ** 52]) {
      const index = new MapIndex(new Database(':memory:'));
      const one = (id: string, x: number): MapRegion => ({
        id,
        kind: 'free',
        modelId: 'px',
        name: id,
        x,
        y: base,
        width: 1,
        height: 1,
        grid: { tileWidth: 1, tileHeight: 1, cols: 1, rows: 1, tileCount: 0 },
        order: 0,
        block: null,
        tensor: null,
      });
      index.putRegions([one('a', base), one('b', base + 1), one('c', base + 2)]);
      const ids = (x0: number, x1: number) => index.queryRegions({ x0, x1, y0: base, y1: base + 1 }).items.map((r) => r.id).sort();
      expect(ids(base + 1, base + 2)).toEqual(['b']);
      expect(ids(base, base + 2)).toEqual(['a', 'b']);
      expect(ids(base + 2, base + 3)).toEqual(['c']);
      expect(ids(base + 3, base + 40)).toEqual([]);
      // Neighbours a pixel apart cannot both be placed on the same pixel.
      expect(code(() => index.putRegions([one('d', base + 1)]))).toBe('MAP_OVERLAP');
      index.db.close();
    }
  });
});

describe('MapIndex writes', () => {
  const geo = { tileWidth: 4, tileHeight: 4 };
  const layouts = placeModels([randomModel(rng(3), 'a', 64), randomModel(rng(4), 'b', 64)], geo, { maxTilesWide: 3 });

  it('limits results and says so', () => {
    const index = new MapIndex(new Database(':memory:'));
    index.putRegions(layouts.flatMap((l) => l.regions));
    const all = index.queryCells({ x0: -1e9, y0: -1e9, x1: 1e9, y1: 1e9 });
    expect(all.items.length).toBeGreaterThan(10);
    const some = index.queryCells({ x0: -1e9, y0: -1e9, x1: 1e9, y1: 1e9 }, { limit: 10 });
    expect(some.items.length).toBe(10);
    expect(some.truncated).toBe(true);
    const ids = new Set(all.items.map((c) => c.id));
    for (const c of some.items) expect(ids.has(c.id)).toBe(true);
    let n = 0;
    expect(index.forEachCell({ x0: -1e9, y0: -1e9, x1: 1e9, y1: 1e9 }, { limit: 7 }, () => n++)).toBe(7);
    expect(n).toBe(7);
    expect(code(() => index.queryCells({ x0: 0, y0: 0, x1: 0, y1: 5 }))).toBe('MAP_INPUT');
    expect(code(() => index.queryCells({ x0: 0, y0: 0, x1: 1, y1: 5 }, { level: -1 }))).toBe('MAP_INPUT');
    expect(code(() => index.queryCells({ x0: 0, y0: 0, x1: 1, y1: 5 }, { minSize: -1 }))).toBe('MAP_INPUT');
    expect(code(() => index.queryRegions({ x0: 0, y0: 0, x1: 1, y1: 5 }, { kinds: ['bogus' as RegionKind] }))).toBe('MAP_INPUT');
    expect(index.queryRegions({ x0: -1e9, y0: -1e9, x1: 1e9, y1: 1e9 }, { modelId: 'nobody' }).items).toEqual([]);
  });

  it('refuses overlaps and duplicates atomically, removes models, moves the KV cache', () => {
    const index = new MapIndex(new Database(':memory:'));
    const [a, b] = layouts;
    index.putRegions(a!.regions);
    const before = index.counts();
    expect(code(() => index.putRegions([b!.regions[0]!, a!.regions[1]!]))).toBe('MAP_CONFLICT');
    expect(index.counts()).toEqual(before); // the first region of the failed batch rolled back
    const shifted = { ...b!.regions[0]!, id: 'x/overlap', modelId: 'x', x: a!.regions[0]!.x + 1, y: a!.regions[0]!.y };
    expect(code(() => index.putRegions([shifted]))).toBe('MAP_OVERLAP');
    expect(index.counts()).toEqual(before);

    const grown = resizeKvCache(a!, a!.reserve.kvReserveRows * a!.reserve.tilesWide * 64);
    index.setReservedRegions('a', grown.regions.filter((x) => x.grid.tileCount === 0));
    expect(index.getRegion('a/@kv-cache')!.height).toBe(a!.reserve.kvReserveRows * geo.tileHeight);
    expect(index.getRegion('a/@kv-reserve')).toBeUndefined();
    index.setReservedRegions('a', resizeKvCache(grown, 1).regions.filter((x) => x.grid.tileCount === 0));
    expect(index.getRegion('a/@kv-cache')!.height).toBe(geo.tileHeight);
    expect(index.getRegion('a/@kv-reserve')!.y).toBe(index.getRegion('a/@kv-cache')!.y + geo.tileHeight);
    expect(code(() => index.setReservedRegions('a', [a!.regions[0]!]))).toBe('MAP_INPUT');
    expect(code(() => index.removeRegion('nope'))).toBe('MAP_NOT_FOUND');
    const act = index.getRegion('a/@activations')!;
    index.updateRegion({ ...act, height: act.height - geo.tileHeight > 0 ? act.height - geo.tileHeight : act.height });
    const weights = a!.regions.find((r) => r.grid.tileCount > 0)!;
    expect(code(() => index.updateRegion({ ...weights, x: weights.x + 1 }))).toBe('MAP_INPUT');

    index.putRegions(b!.regions);
    expect(index.listModels().map((m) => m.modelId)).toEqual(['a', 'b']);
    expect(index.removeModel('a')).toBeGreaterThan(0);
    expect(index.listModels().map((m) => m.modelId)).toEqual(['b']);
    expect(index.queryRegions({ x0: a!.box.x, y0: a!.box.y, x1: a!.box.x + a!.box.width, y1: a!.box.y + a!.box.height }).items).toEqual([]);
    expect(index.queryCells({ x0: a!.box.x, y0: a!.box.y, x1: a!.box.x + a!.box.width, y1: a!.box.y + a!.box.height }).items).toEqual([]);
    expect(index.counts().cells).toBe(b!.regions.reduce((s, r) => s + r.grid.tileCount, 0));
  });

  it('the KV cache update refuses to grow into another region', () => {
    const index = new MapIndex(new Database(':memory:'));
    const a = layouts[0]!;
    index.putRegions(a.regions);
    const grown = resizeKvCache(a, a.reserve.kvReserveRows * a.reserve.tilesWide * 64);
    if (a.regions.some((r) => r.kind === 'free')) {
      expect(code(() => index.updateRegion(grown.regions.find((r) => r.kind === 'kv-cache')!))).toBe('MAP_OVERLAP');
    }
  });

  it('persists in its own file and shares a caller-owned handle', () => {
    const file = path.join(tmp, 'map.sqlite');
    const one = MapIndex.open(file);
    expect(one.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(one.db.pragma('synchronous', { simple: true })).toBe(2);
    one.putRegions(layouts[0]!.regions);
    one.close();
    expect(one.db.open).toBe(false);
    const db = new Database(file);
    db.exec('CREATE TABLE IF NOT EXISTS other (x)');
    const two = new MapIndex(db);
    expect(two.listRegions('a').map((r) => r.id)).toEqual(layouts[0]!.regions.map((r) => r.id));
    expect(two.getRegion(layouts[0]!.regions[0]!.id)).toMatchObject({ ...layouts[0]!.regions[0]!, pyramid: { state: 'none' } });
    two.close(); // not owned: stays open
    expect(db.open).toBe(true);
    db.prepare("UPDATE map_meta SET value = '99' WHERE key = 'schema'").run();
    expect(code(() => new MapIndex(db))).toBe('MAP_INPUT');
    db.close();
  });
});

describe('MapIndex.stepRegion (the Explorer N and P keys)', () => {
  it('steps through every tensor of a model with more than 5000 of them in execution order, wrapping, and never into another model or a band', () => {
    const geo = { tileWidth: 4, tileHeight: 4 };
    // 6002 small tensors (601 blocks of 10, plus the embedding and the head): beyond the 5000 one list held.
    const tensors = [{ name: 'token_embd.weight', ggmlType: 'F32', dims: [4], byteSize: 16 }];
    for (let b = 0; b < 600; b++) for (let i = 0; i < 10; i++) tensors.push({ name: `blk.${b}.t${i}.weight`, ggmlType: 'F32', dims: [4], byteSize: 16 });
    tensors.push({ name: 'output.weight', ggmlType: 'F32', dims: [4], byteSize: 16 });
    const layouts = placeModels(
      [
        { modelId: 'big', tensors },
        { modelId: 'other', tensors: [{ name: 'x.weight', ggmlType: 'F32', dims: [4], byteSize: 16 }] },
      ],
      geo,
      { maxTilesWide: 64 },
      { x: 0, y: 0 },
    );
    const index = new MapIndex(new Database(':memory:'));
    index.putRegions(layouts.flatMap((l) => l.regions));
    const expected = index.listRegions('big').filter((r) => r.kind === 'weights').map((r) => r.id);
    expect(expected.length).toBe(6002);
    // Forward from nothing: the first, then each in order, then back to the first.
    const seen: string[] = [];
    let at: string | null = null;
    for (let i = 0; i < expected.length; i++) {
      at = index.stepRegion('big', at, 1)!.id;
      seen.push(at);
    }
    expect(seen).toEqual(expected);
    expect(index.stepRegion('big', at, 1)!.id).toBe(expected[0]);
    // Backward wraps from the first to the last and walks back.
    expect(index.stepRegion('big', expected[0]!, -1)!.id).toBe(expected.at(-1));
    expect(index.stepRegion('big', expected[5000]!, -1)!.id).toBe(expected[4999]);
    expect(index.stepRegion('big', null, -1)!.id).toBe(expected.at(-1));
    // A selection in another model (or a band) starts at the ends of this one.
    expect(index.stepRegion('big', 'other/x.weight', 1)!.id).toBe(expected[0]);
    expect(index.stepRegion('big', 'big/@kv-cache', -1)!.id).toBe(expected.at(-1));
    expect(index.stepRegion('nobody', null, 1)).toBeUndefined();
  });
});
