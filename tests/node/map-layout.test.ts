/**
 * The Infinite Map follows a model's layout (issue 12 §4: the reorganisation happens "in PixelFS
 * and on the map"; specs/map.md §2, specs/pixelfs.md "Layout reorganisation"). After `layout
 * apply` every region's place and every stored tile the explorer reads resolves to the pack that
 * holds the bytes now, the values read out come from it, and the map index itself (regions,
 * cells, pyramid: what `pxi map` draws) is unchanged; after undo they point back at the import
 * files. A map handler over a live store follows an undo made by the same process at once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ModelStore } from '../../electron/models/store';
import { mapHandlers } from '../../electron/services/map-handlers';
import type { CallContext } from '../../shared/ipc/dispatch';
import { unionRects } from '../../shared/map/geometry';
import { TilePool } from '../../electron/pixelfs/index';
import { checkMapSide } from './map-layout-support';
import { writeTinyModel } from './models-support';

const CTX = { transport: 'direct', origin: 'process' } as CallContext;
let tmp: string;
let pool: TilePool;
let gguf: Buffer;
const opts = (): { pool: TilePool } => ({ pool });

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'map-layout-'));
  pool = new TilePool({ size: 1 });
  const file = path.join(tmp, 'm.gguf');
  // 32x32 tiles (4 KiB): each 4 KiB matrix fills a tile, each 128-byte norm owns one; packed,
  // the matrices after a norm start mid-tile, so their stored tiles span two pack tiles.
  writeTinyModel(file, { blocks: 2, embd: 32, ff: 32, heads: 2, kvHeads: 1, vocab: 32, seed: 11 });
  gguf = fs.readFileSync(file);
});

afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Which PixelFS files `fn` reads through the volume. */
async function filesRead(s: ModelStore, fn: () => unknown): Promise<Set<string>> {
  const spy = vi.spyOn(s.volume, 'read');
  try {
    await fn();
    return new Set(spy.mock.calls.map((c) => c[0]));
  } finally {
    spy.mockRestore();
  }
}

/** The map index's rows for the model (regions with pyramid state and summary, every cell with its heat). */
function indexSnapshot(s: ModelStore, id: string): unknown {
  const regions = s.map.listRegions(id);
  const box = s.map.modelBox(id)!;
  const cells = s.map.queryCells({ x0: box.x, y0: box.y, x1: box.x + box.width, y1: box.y + box.height }, { modelId: id, level: 0, withHeat: true, limit: 100_000 });
  return { regions, cells: cells.items.sort((a, b) => a.id - b.id) };
}

describe('the map follows the layout', () => {
  it('after apply the regions and their tiles resolve to the packs (the values are read from them), after undo to the import files; the index is untouched', async () => {
    const dir = path.join(tmp, 'follow');
    const s = await ModelStore.open(dir, { ...opts(), create: { tileWidth: 32, tileHeight: 32, level: 0 } });
    try {
      const id = (await s.import(path.join(tmp, 'm.gguf'), { name: 'm' })).model.id;
      await s.buildPyramid(id);
      const m = s.manifest(id);
      const handlers = mapHandlers(() => Promise.resolve(s));
      const before = await checkMapSide(s, id, gguf, 'import layout');
      expect(before.layout).toBe('import');
      expect(before.files).toEqual(new Set(m.tensors.map((t) => t.file)));
      expect(before.splitTiles).toBe(0);
      const index0 = indexSnapshot(s, id);
      const png0 = (await s.renderMap(id, { maxSize: 256 })).bytes;
      const q = `${id}/blk.0.attn_q.weight`;
      const win = { id: q, row: 3, col: 5, rows: 4, cols: 7 };
      const values0 = await handlers['map:values'](win, CTX);
      const qFile = m.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!.file;
      expect(await filesRead(s, () => handlers['map:values'](win, CTX))).toEqual(new Set([qFile]));

      const d = await s.applyLayout(id, s.tableTrace(id));
      const packs = (await s.layoutJournal(id)).active!.packs;
      const after = await checkMapSide(s, id, gguf, 'packed layout');
      expect(after.layout).toBe('packed');
      expect(after.files).toEqual(new Set(packs.map((p) => p.file)));
      // Packed back to back, a matrix after a norm starts mid-tile: its tiles straddle two.
      expect(after.splitTiles).toBeGreaterThan(0);
      const region = await handlers['map:region']({ id: q }, CTX);
      const qPack = packs.find((p) => p.tensors.some((t) => t.name === 'blk.0.attn_q.weight'))!;
      expect(region.file).toBe(qPack.file);
      expect(region.place).toMatchObject({ layout: 'packed', generation: d.generation, file: qPack.file, offset: 128 });
      // The explorer's single values come from the pack, and are the same values.
      expect(await filesRead(s, () => handlers['map:values'](win, CTX))).toEqual(new Set([qPack.file]));
      expect(await handlers['map:values'](win, CTX)).toEqual(values0);
      expect(await filesRead(s, () => handlers['map:histogram']({ id: q }, CTX))).toEqual(new Set([qPack.file]));

      // The map index has no step of its own: regions, cells and heat are what they were, and
      // so is `pxi map`'s image; a pyramid rebuilt from the packs gives the same cells.
      expect(indexSnapshot(s, id)).toEqual(index0);
      expect(Buffer.compare((await s.renderMap(id, { maxSize: 256 })).bytes, png0)).toBe(0);
      expect(await filesRead(s, () => s.buildPyramid(id, { rebuild: true }))).toEqual(new Set(packs.map((p) => p.file)));
      expect(indexSnapshot(s, id)).toEqual(index0);

      // Not re-placed, because the placement already puts each pack together: with the load's
      // trace a pack is one block (or the tensors before or after the blocks), the map's
      // columns. Each pack's regions lie in a column no other pack's regions enter.
      const regions = new Map(s.map.listRegions(id).map((r) => [r.name, r] as const));
      const spans = packs.map((p) => unionRects(p.tensors.map((t) => regions.get(t.name)!))!);
      spans.forEach((a, i) =>
        spans.forEach((b, k) => {
          if (i !== k) expect(a.x + a.width <= b.x || b.x + b.width <= a.x, `packs ${i} and ${k} share map columns`).toBe(true);
        }),
      );

      // Undo: the map's places and reads go back to the import files at once (no stale cache).
      await s.undoLayout(id);
      const undone = await checkMapSide(s, id, gguf, 'after undo');
      expect(undone.layout).toBe('import');
      expect(undone.files).toEqual(before.files);
      expect((await handlers['map:region']({ id: q }, CTX)).place).toEqual({ layout: 'import', generation: null, file: qFile, offset: 0, tiles: { first: 0, last: 0 }, tensorsInFile: 1 });
      expect(await filesRead(s, () => handlers['map:values'](win, CTX))).toEqual(new Set([qFile]));
      expect(indexSnapshot(s, id)).toEqual(index0);
    } finally {
      await s.close();
    }
  }, 120_000);

  it('a reopened store (the layout recovered at open) answers with the layout the journal kept', async () => {
    const dir = path.join(tmp, 'reopen');
    const s = await ModelStore.open(dir, { ...opts(), create: { tileWidth: 32, tileHeight: 32, level: 0 } });
    const id = (await s.import(path.join(tmp, 'm.gguf'), { name: 'm' })).model.id;
    await s.applyLayout(id, s.tableTrace(id));
    await s.close();
    const r = await ModelStore.open(dir, opts());
    try {
      expect((await checkMapSide(r, id, gguf, 'reopened packed')).layout).toBe('packed');
      await r.undoLayout(id);
    } finally {
      await r.close();
    }
    const u = await ModelStore.open(dir, opts());
    try {
      expect((await checkMapSide(u, id, gguf, 'reopened undone')).layout).toBe('import');
    } finally {
      await u.close();
    }
  }, 120_000);
});
