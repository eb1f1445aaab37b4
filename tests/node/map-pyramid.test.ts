import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MapIndex } from '../../electron/map/map-index';
import { buildPyramid, type RangeReader } from '../../electron/map/pyramid';
import { Volume } from '../../electron/pixelfs/index';
import { MapError } from '../../shared/map/errors';
import { cellsAt, topLevel } from '../../shared/map/lod';
import { placeModel, type TensorSpec } from '../../shared/map/placement';
import { getQuantFormat } from '../../shared/quant';
import { expectCellMatches, referencePyramid, rng } from '../shared/map-helpers';

const GEO = { tileWidth: 16, tileHeight: 16 }; // 1 KiB tiles: quant blocks straddle tile edges
const HEAT = 8;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'map-pyramid-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Fixture {
  tensors: TensorSpec[];
  bytes: Map<string, Uint8Array>;
}

/** Tensors of every type the engine runs, quantised by shared/quant from structured data. */
function fixture(seed: number): Fixture {
  const r = rng(seed);
  const specs: Array<[string, string, number[]]> = [
    ['token_embd.weight', 'F32', [100, 100]], // 40 tiles: a 3 x 14 grid, levels 0..4
    ['blk.0.attn_norm.weight', 'BF16', [64]],
    ['blk.0.attn_q.weight', 'F16', [64, 30]],
    ['blk.0.attn_k.weight', 'Q8_0', [64, 40]],
    ['blk.0.attn_v.weight', 'Q4_0', [32, 50]],
    ['blk.0.ffn_up.weight', 'Q4_K', [256, 20]],
    ['blk.0.ffn_down.weight', 'Q6_K', [256, 12]],
    ['blk.1.attn_q.weight', 'Q4_1', [64, 9]],
    ['blk.1.attn_k.weight', 'Q5_0', [96, 7]],
    ['blk.1.attn_v.weight', 'Q5_1', [32, 11]],
    ['blk.1.attn_output.weight', 'IQ4_NL', [64, 6]],
    ['blk.1.ffn_gate.weight', 'Q2_K', [256, 5]],
    ['blk.1.ffn_up.weight', 'Q3_K', [256, 6]],
    ['blk.1.ffn_down.weight', 'Q5_K', [256, 7]],
    ['blk.2.ffn_down.weight', 'IQ4_XS', [256, 5]],
  ];
  const tensors: TensorSpec[] = [];
  const bytes = new Map<string, Uint8Array>();
  for (const [name, type, dims] of specs) {
    const n = dims.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    // Rows with their own offset and scale, so cells differ from each other.
    for (let i = 0; i < n; i++) {
      const row = Math.floor(i / dims[0]!);
      v[i] = Math.sin(row / 3) * 2 + (r() - 0.5) * (1 + (row % 5));
    }
    const b = getQuantFormat(type).quantize(v);
    tensors.push({ name, ggmlType: type, dims, byteSize: b.length });
    bytes.set(name, b);
  }
  tensors.push({ name: 'output.weight', ggmlType: 'IQ2_XS', dims: [256, 4], byteSize: 4 * 74 });
  bytes.set('output.weight', new Uint8Array(4 * 74));
  return { tensors, bytes };
}

function mapReader(f: Fixture, log?: Array<[string, number, number]>): RangeReader {
  return async (name, off, len) => {
    log?.push([name, off, len]);
    return f.bytes.get(name)!.subarray(off, off + len);
  };
}

function setup(f: Fixture): MapIndex {
  const index = new MapIndex(new Database(':memory:'));
  index.putRegions(placeModel({ modelId: 'm', tensors: f.tensors }, GEO, { maxTilesWide: 3 }).regions);
  return index;
}

/** Every cell of every built tensor against the pyramid computed from the dequantised values. */
function checkAgainstReference(index: MapIndex, f: Fixture): number {
  let checked = 0;
  for (const region of index.listRegions('m')) {
    if (region.kind !== 'weights' || region.pyramid.state !== 'built') continue;
    const fmt = getQuantFormat(region.tensor!.ggmlType);
    const n = region.tensor!.dims.reduce((a, b) => a * b, 1);
    const values = fmt.dequantize(f.bytes.get(region.name)!, n);
    const ref = referencePyramid(values, fmt, region.grid, HEAT);
    for (let k = 0; k <= topLevel(region.grid); k++) {
      for (const { col, row } of cellsAt(region.grid, k)) {
        const cell = index.getCell(region.id, k, col, row)!;
        expectCellMatches(cell, ref.get(`${k}/${col}/${row}`)!, `${region.name} ${k}/${col}/${row}`, region.tensor!.ggmlType === 'Q4_K' ? 2 ** -23 : 0);
        checked++;
      }
    }
    const top = ref.get(`${topLevel(region.grid)}/0/0`)!;
    expect(region.pyramid.stats!.count).toBe(n);
    expect(region.pyramid.stats!.min).toBe(top.stats.min);
    expect(region.pyramid.stats!.max).toBe(top.stats.max);
    expect(region.pyramid.levels).toBe(topLevel(region.grid) + 1);
    // The tensor's heat range is that of its finest (level-0) images.
    let lo = Infinity;
    let hi = -Infinity;
    for (const { col, row } of cellsAt(region.grid, 0)) {
      const e = ref.get(`0/${col}/${row}`)!;
      for (let i = 0; i < e.cnt.length; i++) if (e.cnt[i]! > 0) (lo = Math.min(lo, e.sum[i]! / e.cnt[i]!)), (hi = Math.max(hi, e.sum[i]! / e.cnt[i]!));
    }
    // Q4_K's means are of the exact values a·q − b (code statistics), the reference's of their f32 decoding.
    const digits = region.tensor!.ggmlType === 'Q4_K' ? 5 : 12;
    expect(region.pyramid.heatMin).toBeCloseTo(lo, digits);
    expect(region.pyramid.heatMax).toBeCloseTo(hi, digits);
  }
  return checked;
}

describe('buildPyramid', () => {
  it('stats and heat of every cell equal a direct computation over the dequantised values (all fifteen types the engine runs)', async () => {
    const f = fixture(1);
    const index = setup(f);
    const log: Array<[string, number, number]> = [];
    const progress: number[] = [];
    const res = await buildPyramid({ index, modelId: 'm', read: mapReader(f, log), heatSize: HEAT, chunkBytes: 500, flushCells: 3, onProgress: (p) => progress.push(p.bytesDone) });
    expect(res.built).toBe(15);
    expect(res.skipped).toEqual([{ name: 'output.weight', reason: 'ggml type IQ2_XS has no dequantiser' }]);
    expect(index.getRegion('m/output.weight')!.pyramid).toMatchObject({ state: 'skipped', note: 'ggml type IQ2_XS has no dequantiser' });
    expect(checkAgainstReference(index, f)).toBe(res.cells);
    expect(res.cells).toBeGreaterThan(60);

    // Reads are whole blocks, cover each tensor once, in order.
    for (const t of f.tensors.filter((x) => x.ggmlType !== 'IQ2_XS')) {
      const fmt = getQuantFormat(t.ggmlType);
      const mine = log.filter((l) => l[0] === t.name);
      let at = 0;
      for (const [, off, len] of mine) {
        expect(off).toBe(at);
        expect(len % fmt.bytesPerBlock).toBe(0);
        at += len;
      }
      expect(at).toBe(t.byteSize);
    }
    expect(res.bytesRead).toBe(f.tensors.filter((x) => x.ggmlType !== 'IQ2_XS').reduce((s, t) => s + t.byteSize, 0));
    for (let i = 1; i < progress.length; i++) expect(progress[i]!).toBeGreaterThanOrEqual(progress[i - 1]!);
    expect(progress[progress.length - 1]).toBe(f.tensors.reduce((s, t) => s + t.byteSize, 0));

    // A second run resumes: nothing to read. A rebuild rewrites without duplicating cells.
    const cells = index.counts().cells;
    const again = await buildPyramid({ index, modelId: 'm', read: async () => { throw new Error('must not read'); }, heatSize: HEAT });
    expect(again).toMatchObject({ built: 0, alreadyBuilt: 15 });
    await buildPyramid({ index, modelId: 'm', read: mapReader(f), heatSize: HEAT, rebuild: true });
    expect(index.counts().cells).toBe(cells);
    checkAgainstReference(index, f);
  });

  it('answers LOD queries from the pyramid: coarser levels, fewer cells, same totals', async () => {
    const f = fixture(2);
    const index = setup(f);
    await buildPyramid({ index, modelId: 'm', read: mapReader(f), heatSize: HEAT });
    const box = index.modelBox('m')!;
    const v = { x0: box.x, y0: box.y, x1: box.x + box.width, y1: box.y + box.height };
    let prev = Infinity;
    for (let k = 0; k <= 5; k++) { // every tensor's top level is <= 4, so all answer up to 10
      const cells = index.queryCells(v, { level: k, kinds: ['weights'] }).items.filter((c) => c.stats);
      expect(cells.length).toBeLessThanOrEqual(prev);
      prev = cells.length;
      // At every level the built cells hold every value of every built tensor exactly once.
      const total = cells.reduce((s, c) => s + c.stats!.count, 0);
      expect(total).toBe(f.tensors.filter((t) => t.ggmlType !== 'IQ2_XS').reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0));
    }
    expect(prev).toBe(15); // one top cell per built tensor
    const withHeat = index.queryCells(v, { level: 2, withHeat: true }).items.find((c) => c.stats);
    expect(withHeat!.heat!.length).toBe(HEAT * HEAT);
    expect(index.getCellHeat(withHeat!.id)).toEqual(withHeat!.heat);
  });

  it('stops on abort with MAP_ABORTED and resumes at the first unbuilt tensor', async () => {
    const f = fixture(3);
    const index = setup(f);
    const ac = new AbortController();
    const err = await buildPyramid({
      index,
      modelId: 'm',
      read: mapReader(f),
      heatSize: HEAT,
      chunkBytes: 256,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.tensorIndex === 2) ac.abort();
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MapError);
    expect((err as MapError).code).toBe('MAP_ABORTED');
    const states = index.listRegions('m').filter((r) => r.kind === 'weights').map((r) => r.pyramid.state);
    expect(states.slice(0, 3)).toEqual(['built', 'built', 'building']);
    const res = await buildPyramid({ index, modelId: 'm', read: mapReader(f), heatSize: HEAT });
    expect(res.alreadyBuilt).toBe(2);
    expect(res.built).toBe(13);
    checkAgainstReference(index, f);
  });

  it('refuses a short read and an unknown model', async () => {
    const f = fixture(4);
    const index = setup(f);
    const short: RangeReader = async (name, off, len) => f.bytes.get(name)!.subarray(off, off + len - 1);
    const err = await buildPyramid({ index, modelId: 'm', read: short, heatSize: HEAT }).catch((e: unknown) => e);
    expect((err as MapError).code).toBe('MAP_READ');
    expect(((await buildPyramid({ index, modelId: 'nope', read: short }).catch((e: unknown) => e)) as MapError).code).toBe('MAP_NOT_FOUND');
    expect(((await buildPyramid({ index, modelId: 'm', read: short, heatSize: 5 }).catch((e: unknown) => e)) as MapError).code).toBe('MAP_INPUT');
  });

  it('reads through PixelFS range reads', async () => {
    const f = fixture(5);
    const vol = await Volume.open(path.join(tmp, 'vol'), { create: { tileWidth: GEO.tileWidth, tileHeight: GEO.tileHeight }, workers: 1 });
    try {
      for (const t of f.tensors) await vol.put(`m/${t.name}`, [f.bytes.get(t.name)!]);
      const index = setup(f);
      const res = await buildPyramid({ index, modelId: 'm', read: (name, off, len) => vol.read(`m/${name}`, off, len), heatSize: HEAT, chunkBytes: 700 });
      expect(res.built).toBe(15);
      // PixelFS's tile count for each tensor is the map's.
      for (const r of index.listRegions('m').filter((x) => x.kind === 'weights')) expect(vol.stat(`m/${r.name}`)!.tiles).toBe(r.grid.tileCount);
      checkAgainstReference(index, f);
    } finally {
      await vol.close();
    }
  });
});
