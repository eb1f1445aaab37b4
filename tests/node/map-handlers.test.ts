/**
 * The map channels end to end inside Node: a real volume (small tiles, so tensors span many
 * tiles and several LOD levels) holding stories260K and a tiny Q4_K model, served by the real
 * Services dispatcher (validation, handlers, response validation).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../electron/models/store';
import { Services } from '../../electron/services/index';
import { tensorHistogram } from '../../electron/services/map-handlers';
import { PxiError } from '../../shared/errors';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { MAP_LIMITS } from '../../shared/ipc/channels/map';
import type { Channel, Request, Response } from '../../shared/ipc/contract';
import { directCaller } from '../../shared/ipc/dispatch';
import { QUANT_FORMATS } from '../../shared/quant';
import { fixturePath } from '../support/fixtures';
import { writeTinyModel } from './models-support';

const TILE = 32;
let tmp: string;
let services: Services;
let call: <C extends Channel>(c: C, r: Request<C>) => Promise<Response<C>>;
let storiesId: string;
let tinyId: string;
const storiesFile = fixturePath('models', 'stories260K.gguf');
const storiesBytes = fs.readFileSync(storiesFile);

async function refused(p: Promise<unknown>): Promise<PxiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PxiError);
    return e as PxiError;
  }
  throw new Error('expected the call to be refused');
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'map-handlers-'));
  const store = await ModelStore.open(path.join(tmp, 'volume'), { create: { tileWidth: TILE, tileHeight: TILE, level: 0 } });
  try {
    storiesId = (await store.import(storiesFile)).model.id;
    await store.buildPyramid(storiesId);
    const tinyFile = path.join(tmp, 'tiny-q4k.gguf');
    writeTinyModel(tinyFile, { type: 'Q4_K', embd: 256, ff: 256, seed: 7 });
    tinyId = (await store.import(tinyFile, { name: 'tiny-q4k' })).model.id;
    await store.buildPyramid(tinyId);
  } finally {
    await store.close();
  }
  services = new Services({ dataDir: tmp, mode: 'browser', version: 'test', log: () => {} });
  call = directCaller(services.dispatch);
}, 120_000);

afterAll(async () => {
  await services?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('map:overview', () => {
  it('lists both models with names and boxes, and the bounds cover them', async () => {
    const o = await call('map:overview', {});
    expect(o.models.map((m) => m.name)).toEqual(['stories260K', 'tiny-q4k']);
    expect(o.models.map((m) => m.modelId)).toEqual([storiesId, tinyId]);
    expect(o.tileWidth).toBe(TILE);
    expect(o.heatSize).toBe(64);
    const [a, b] = o.models;
    expect(b!.box.x).toBeGreaterThanOrEqual(a!.box.x + a!.box.width);
    expect(o.bounds).toEqual({ x: a!.box.x, y: 0, width: b!.box.x + b!.box.width - a!.box.x, height: Math.max(a!.box.height, b!.box.height) });
    const regions = await call('map:regions', { viewport: { x0: a!.box.x, y0: a!.box.y, x1: a!.box.x + a!.box.width, y1: a!.box.y + a!.box.height }, modelId: storiesId, kinds: ['weights'] });
    expect(regions.regions.reduce((s, r) => s + r.grid.tileCount, 0)).toBe(a!.tiles);
  });
});

describe('map:regions', () => {
  it('answers a viewport with the regions in it, filtered by kind, model and size, bounded by limit', async () => {
    const { bounds } = await call('map:overview', {});
    const all = { x0: bounds!.x, y0: bounds!.y, x1: bounds!.x + bounds!.width, y1: bounds!.y + bounds!.height };
    const every = await call('map:regions', { viewport: all });
    expect(every.truncated).toBe(false);
    // 48 tensors + 3 reserved bands for stories260K, the tiny model's tensors + 3.
    expect(every.regions.filter((r) => r.modelId === storiesId)).toHaveLength(51);
    const q = every.regions.find((r) => r.name === 'blk.0.attn_q.weight')!;
    expect(q).toMatchObject({ kind: 'weights', block: 0, tensor: { type: 'F32', dims: [64, 64], bytes: 16384 }, grid: { tileCount: 4 } });
    expect(q.pyramid.state).toBe('built');
    expect(q.pyramid.stats!.count).toBe(4096);

    const five = await call('map:regions', { viewport: all, limit: 5 });
    expect(five.regions).toHaveLength(5);
    expect(five.truncated).toBe(true);

    const reserved = await call('map:regions', { viewport: all, kinds: ['kv-cache', 'free'], modelId: tinyId });
    expect(reserved.regions.map((r) => r.kind).sort()).toEqual(['free', 'kv-cache']);
    expect(reserved.regions.every((r) => r.modelId === tinyId)).toBe(true);

    // Only q's rectangle: a viewport inside it returns it alone.
    const inside = await call('map:regions', { viewport: { x0: q.rect.x + 1, y0: q.rect.y + 1, x1: q.rect.x + 2, y1: q.rect.y + 2 } });
    expect(inside.regions.map((r) => r.name)).toEqual(['blk.0.attn_q.weight']);
    // minSize past every region's longer side leaves nothing.
    const big = Math.max(...every.regions.map((r) => Math.max(r.rect.width, r.rect.height)));
    expect((await call('map:regions', { viewport: all, minSize: big + 1 })).regions).toEqual([]);
    // Far away: empty.
    expect((await call('map:regions', { viewport: { x0: -1e15, y0: -1e15, x1: -1e15 + 10, y1: -1e15 + 10 } })).regions).toEqual([]);
    expect((await call('map:regions', { viewport: all, modelId: 'no-such-model' })).regions).toEqual([]);
  });

  it('refuses malformed or unbounded requests, naming the field', async () => {
    const v = { x0: 0, y0: 0, x1: 10, y1: 10 };
    const cases: [unknown, RegExp][] = [
      [{ viewport: { x0: 10, y0: 0, x1: 10, y1: 5 } }, /viewport.*empty|empty viewport/],
      [{ viewport: { ...v, x1: Infinity } }, /viewport\.x1/],
      [{ viewport: { ...v, x0: Number.NaN } }, /viewport\.x0/],
      [{ viewport: { ...v, y1: 2 ** 60 } }, /viewport\.y1/],
      [{ viewport: v, limit: MAP_LIMITS.regions + 1 }, /limit/],
      [{ viewport: v, limit: 0 }, /limit/],
      [{ viewport: v, limit: 2.5 }, /limit/],
      [{ viewport: v, kinds: ['tensor'] }, /kinds/],
      [{ viewport: v, kinds: [] }, /kinds/],
      [{ viewport: v, minSize: -1 }, /minSize/],
      [{ viewport: v, extra: true }, /extra|unrecognized/i],
      [{}, /viewport/],
    ];
    for (const [req, field] of cases) {
      const e = await refused(call('map:regions', req as never));
      expect(e.code, JSON.stringify(req)).toBe('IPC_INVALID_REQUEST');
      expect(e.message).toMatch(field);
    }
  });
});

describe('map:cells and map:heat', () => {
  it('answers each LOD level with the cells of that level, clipped rects and nominal heat squares', async () => {
    const embd = (await call('map:search', { query: 'token_embd.weight', modelId: storiesId })).regions[0]!;
    // 64 x 512 F32 = 128 KiB = 32 tiles of 4 KiB: 8 x 4 grid, levels 0..3.
    expect(embd.grid).toMatchObject({ cols: 8, rows: 4, tileCount: 32 });
    expect(embd.pyramid.levels).toBe(4);
    const v = { x0: embd.rect.x, y0: embd.rect.y, x1: embd.rect.x + embd.rect.width, y1: embd.rect.y + embd.rect.height };
    const counts: number[] = [];
    for (let level = 0; level <= 4; level++) {
      const r = await call('map:cells', { viewport: v, level, modelId: storiesId });
      const mine = r.cells.filter((c) => c.regionId === embd.id);
      counts.push(mine.length);
      for (const c of mine) {
        expect(c.level).toBe(Math.min(level, 3));
        const side = 2 ** c.level * TILE;
        expect(c.heatRect).toEqual({ x: embd.rect.x + c.col * side, y: embd.rect.y + c.row * side, width: side, height: side });
        expect(c.rect.x).toBe(c.heatRect.x);
        expect(c.rect.width).toBeLessThanOrEqual(side);
        expect(c.heat).toBeUndefined();
        expect(c.tile).toBe(c.level === 0 ? c.row * 8 + c.col : null);
      }
      // The cells' counts add up to the tensor's values at every level.
      expect(mine.reduce((s, c) => s + c.stats!.count, 0)).toBe(64 * 512);
    }
    // 8x4 tiles -> 4x2 -> 2x1 -> 1 (top) -> the top again one level up.
    expect(counts).toEqual([32, 8, 2, 1, 1]);
  });

  it('carries heat as base64 Float32 that matches map:heat, and bounds heat pages', async () => {
    const q = (await call('map:search', { query: 'blk.0.attn_q.weight' })).regions[0]!;
    const v = { x0: q.rect.x, y0: q.rect.y, x1: q.rect.x + q.rect.width, y1: q.rect.y + q.rect.height };
    const r = await call('map:cells', { viewport: v, level: 0, withHeat: true, modelId: storiesId });
    const cells = r.cells.filter((c) => c.regionId === q.id);
    expect(cells).toHaveLength(4);
    const heat = (b64: string) => new Float32Array(new Uint8Array(Buffer.from(b64, 'base64')).buffer);
    const h0 = heat(cells[0]!.heat!);
    expect(h0).toHaveLength(64 * 64);
    // Each tile of 32x32 px holds 1024 F32 values, one per pixel; the heat's finite pixels are their means.
    const finite = Array.from(h0).filter((x) => Number.isFinite(x));
    expect(finite.length).toBeGreaterThan(0);
    const hs = await call('map:heat', { ids: [...cells.map((c) => c.id), 987654321] });
    expect(hs.missing).toEqual([987654321]);
    for (const c of cells) {
      const got = hs.cells.find((x) => x.id === c.id)!;
      expect(got.heatSize).toBe(64);
      expect(got.heat).toBe(c.heat);
    }
    // Heat pages are bounded.
    const e1 = await refused(call('map:cells', { viewport: v, level: 0, withHeat: true, limit: MAP_LIMITS.cellsWithHeat + 1 }));
    expect(e1.code).toBe('IPC_INVALID_REQUEST');
    expect(e1.message).toMatch(/limit/);
    const e2 = await refused(call('map:heat', { ids: Array.from({ length: MAP_LIMITS.heatIds + 1 }, (_, i) => i + 1) }));
    expect(e2.message).toMatch(/ids/);
    const e3 = await refused(call('map:cells', { viewport: v, level: 61 }));
    expect(e3.message).toMatch(/level/);
    // The same cells without the level default limit are truncated when asked for fewer.
    const { bounds } = await call('map:overview', {});
    const few = await call('map:cells', { viewport: { x0: bounds!.x, y0: bounds!.y, x1: bounds!.x + bounds!.width, y1: bounds!.y + bounds!.height }, level: 0, limit: 10 });
    expect(few.cells).toHaveLength(10);
    expect(few.truncated).toBe(true);
  });
});

describe('map:region', () => {
  it('gives blk.0.attn_q.weight with its GGUF byte range, whose bytes are the tensor', async () => {
    const d = await call('map:region', { id: `${storiesId}/blk.0.attn_q.weight` });
    expect(d.region).toMatchObject({ name: 'blk.0.attn_q.weight', tensor: { type: 'F32', dims: [64, 64], bytes: 16384 } });
    expect(d.elements).toBe(4096);
    expect(d.tileBytes).toBe(TILE * TILE * 4);
    const h = parseGgufBytes(storiesBytes);
    const t = h.tensors.find((x) => x.name === 'blk.0.attn_q.weight')!;
    expect(d.byteRange).toEqual({ offset: t.offset, length: 16384 });
    expect(d.file).toMatch(/tensors/);
    // In the import layout: its own file from byte 0, one 4 KiB tile per 4 KiB of the tensor.
    expect(d.place).toEqual({ layout: 'import', generation: null, file: d.file, offset: 0, tiles: { first: 0, last: 3 }, tensorsInFile: 1 });
  });

  it('refuses an unknown region with MAP_NOT_FOUND and an empty id as invalid', async () => {
    const e = await refused(call('map:region', { id: `${storiesId}/no.such.tensor` }));
    expect(e.code).toBe('MAP_NOT_FOUND');
    expect(e.message).toContain('no.such.tensor');
    expect((await refused(call('map:region', { id: '' }))).code).toBe('IPC_INVALID_REQUEST');
  });
});

describe('map:histogram', () => {
  function f32Of(name: string): Float32Array {
    const h = parseGgufBytes(storiesBytes);
    const t = h.tensors.find((x) => x.name === name)!;
    const at = t.offset;
    return new Float32Array(new Uint8Array(storiesBytes.subarray(at, at + 16384)).buffer);
  }

  it('counts every value of a small tensor into bins over its exact range', async () => {
    const id = `${storiesId}/blk.0.attn_q.weight`;
    const hist = await call('map:histogram', { id, bins: 32 });
    const values = f32Of('blk.0.attn_q.weight');
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(hist).toMatchObject({ exact: true, sampled: 4096, total: 4096, nonFinite: 0, lo, hi });
    const want = new Array(32).fill(0);
    for (const v of values) want[Math.min(31, Math.floor((v - lo) / ((hi - lo) / 32)))]++;
    expect(hist.counts).toEqual(want);
  });

  it('samples a large tensor evenly, and decodes quantised types', async () => {
    const embd = await call('map:histogram', { id: `${storiesId}/token_embd.weight`, maxValues: 1024 });
    expect(embd.exact).toBe(false);
    expect(embd.total).toBe(32768);
    expect(embd.sampled).toBe(1024);
    expect(embd.counts.reduce((a, b) => a + b, 0)).toBe(1024);

    const q4 = (await call('map:search', { query: 'attn_q.weight', modelId: tinyId })).regions[0]!;
    expect(q4.tensor!.type).toBe('Q4_K');
    const h = await call('map:histogram', { id: q4.id });
    expect(h.exact).toBe(true);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(h.total);
    expect(h.lo).toBe(q4.pyramid.stats!.min);
    expect(h.hi).toBe(q4.pyramid.stats!.max);
    // Q4_K has 16 levels per sub-block: many bins stay empty, but more than a few are used.
    expect(h.counts.filter((c) => c > 0).length).toBeGreaterThan(8);
  });

  it('refuses space without values, and bins out of bounds', async () => {
    const e = await refused(call('map:histogram', { id: `${storiesId}/@kv-cache` }));
    expect(e.code).toBe('MAP_INPUT');
    expect((await refused(call('map:histogram', { id: `${storiesId}/blk.0.attn_q.weight`, bins: 1 }))).message).toMatch(/bins/);
    expect((await refused(call('map:histogram', { id: `${storiesId}/blk.0.attn_q.weight`, bins: MAP_LIMITS.histogramBins + 1 }))).message).toMatch(/bins/);
    expect((await refused(call('map:histogram', { id: `${storiesId}/blk.0.attn_q.weight`, maxValues: MAP_LIMITS.histogramValues + 1 }))).message).toMatch(/maxValues/);
  });

  it('spreads its sample from the first block to the last (tensorHistogram)', async () => {
    // F32 values 0..n-1: the sample's range shows where the spans were read.
    const n = 1 << 16;
    const data = new Float32Array(n).map((_, i) => i);
    const bytes = new Uint8Array(data.buffer);
    const reads: number[] = [];
    const read = async (o: number, l: number) => {
      reads.push(o);
      return bytes.subarray(o, o + l);
    };
    const h = await tensorHistogram(read, { type: 'F32', elements: n, bytes: n * 4 }, { bins: 16, maxValues: 4096 });
    expect(h.exact).toBe(false);
    expect(h.sampled).toBe(4096);
    expect(h.lo).toBe(0);
    expect(h.hi).toBeGreaterThan(n - 4096 / 64 - 1);
    // Evenly spread: every sixteenth of the range gets its share (4096/16 = 256 values).
    for (const c of h.counts) expect(c).toBe(256);
    expect(reads).toHaveLength(64);
    // Q4_K: whole blocks only.
    const fmt = QUANT_FORMATS.Q4_K;
    const q = fmt.quantize(new Float32Array(256 * 8).map((_, i) => Math.sin(i)));
    const hq = await tensorHistogram(async (o, l) => q.subarray(o, o + l), { type: 'Q4_K', elements: 2048, bytes: q.length }, { bins: 8, maxValues: 1024 });
    expect(hq.sampled % 256).toBe(0);
    await expect(tensorHistogram(read, { type: 'IQ2_XS', elements: 256, bytes: 74 }, { bins: 8, maxValues: 1024 })).rejects.toThrow(/dequantiser/);
  });
});

describe('map:search', () => {
  it('finds tensors by substring, case-insensitive, exact names first, bounded', async () => {
    const q = await call('map:search', { query: 'attn_q', modelId: storiesId });
    expect(q.regions.map((r) => r.name)).toEqual([0, 1, 2, 3, 4].map((b) => `blk.${b}.attn_q.weight`));
    const out = await call('map:search', { query: 'OUTPUT.WEIGHT', modelId: storiesId });
    expect(out.regions[0]!.name).toBe('output.weight');
    const all = await call('map:search', { query: 'weight' });
    expect(all.truncated).toBe(true);
    expect(all.regions).toHaveLength(20);
    const two = await call('map:search', { query: 'blk.', limit: 2 });
    expect(two.regions).toHaveLength(2);
    expect(two.truncated).toBe(true);
    expect((await call('map:search', { query: 'zzz-none' })).regions).toEqual([]);
    for (const bad of [{ query: '' }, { query: '   ' }, { query: 'x'.repeat(MAP_LIMITS.queryChars + 1) }, { query: 'a', limit: MAP_LIMITS.search + 1 }]) {
      expect((await refused(call('map:search', bad))).code).toBe('IPC_INVALID_REQUEST');
    }
  });
});

describe('map:kv-cache', () => {
  it('grows and shrinks the kv-cache band in whole tile rows inside the reserve, and says when it is exceeded', async () => {
    const box = (await call('map:overview', {})).models.find((m) => m.modelId === tinyId)!.box;
    const all = { x0: box.x, y0: box.y, x1: box.x + box.width, y1: box.y + box.height };
    const reserved = async () => (await call('map:regions', { viewport: all, kinds: ['kv-cache', 'free'], modelId: tinyId })).regions;
    const before = await reserved();
    const kv0 = before.find((r) => r.kind === 'kv-cache')!;
    const free0 = before.find((r) => r.kind === 'free')!;
    const rowBytes = kv0.grid.cols * TILE * TILE * 4;
    const reserveRows = kv0.grid.rows + free0.grid.rows;

    // Two rows and a byte: three rows; the free band starts right below and ends where it did.
    const grown = await call('map:kv-cache', { modelId: tinyId, bytes: 2 * rowBytes + 1 });
    expect(grown.fits).toBe(true);
    expect(grown.reserveBytes).toBe(reserveRows * rowBytes);
    expect(grown.region.rect).toEqual({ ...kv0.rect, height: 3 * TILE });
    const free1 = (await reserved()).find((r) => r.kind === 'free')!;
    expect(free1.rect.y).toBe(kv0.rect.y + 3 * TILE);
    expect(free1.rect.y + free1.rect.height).toBe(free0.rect.y + free0.rect.height);

    // Past the reserve: the whole reserve, no free band, fits false.
    const over = await call('map:kv-cache', { modelId: tinyId, bytes: reserveRows * rowBytes + 1 });
    expect(over.fits).toBe(false);
    expect(over.region.rect.height).toBe(reserveRows * TILE);
    expect((await reserved()).map((r) => r.kind)).toEqual(['kv-cache']);

    // Back to empty: one row, and the map is as it was.
    const empty = await call('map:kv-cache', { modelId: tinyId, bytes: 0 });
    expect(empty.region.rect).toEqual(kv0.rect);
    expect((await reserved()).map((r) => r.rect).sort((a, b) => a.y - b.y)).toEqual([kv0.rect, free0.rect]);

    expect((await refused(call('map:kv-cache', { modelId: 'no-such-model', bytes: 1 }))).code).toBe('MAP_NOT_FOUND');
    expect((await refused(call('map:kv-cache', { modelId: tinyId, bytes: -1 }))).code).toBe('IPC_INVALID_REQUEST');
  });
});

describe('map:values', () => {
  const Q = 'blk.0.attn_q.weight';
  function f32Of(name: string): { values: Float32Array; dims: number[] } {
    const t = parseGgufBytes(storiesBytes).tensors.find((x) => x.name === name)!;
    const n = Number(t.byteSize) / 4;
    return { values: new Float32Array(new Uint8Array(storiesBytes.subarray(t.offset, t.offset + n * 4)).buffer), dims: [...t.dims].map(Number) };
  }

  async function readStored(regionId: string): Promise<Uint8Array> {
    const name = regionId.slice(regionId.indexOf('/') + 1);
    const bytes = fs.readFileSync(path.join(tmp, 'tiny-q4k.gguf'));
    const t = parseGgufBytes(bytes).tensors.find((x) => x.name === name)!;
    return bytes.subarray(t.offset, t.offset + Number(t.byteSize));
  }

  it('answers a window of an F32 tensor by rows × columns, value for value with the GGUF file', async () => {
    const { values, dims } = f32Of(Q);
    const cols = dims[0]!;
    const v = await call('map:values', { id: `${storiesId}/${Q}`, row: 10, col: 60, rows: 3, cols: 8 });
    expect(v).toMatchObject({ type: 'F32', shape: { rows: dims[1], cols }, row: 10, col: 60, rows: 3, cols: 4, blockSize: 1 });
    const want: number[] = [];
    for (let r = 10; r < 13; r++) for (let c = 60; c < 64; c++) want.push(values[r * cols + c]!);
    expect(v.values).toEqual(want);
    // Float types store the value itself and have no block scale.
    expect(v.stored).toEqual(want);
    expect(v.blocks.map((b) => b.index)).toEqual([10 * cols + 60, 10 * cols + 61, 10 * cols + 62, 10 * cols + 63, 11 * cols + 60, 11 * cols + 61, 11 * cols + 62, 11 * cols + 63, 12 * cols + 60, 12 * cols + 61, 12 * cols + 62, 12 * cols + 63]);
    expect(v.blocks.every((b) => b.scale === null && b.min === null)).toBe(true);
  });

  it('decodes a Q4_K window equal to the histogram path, with block indices, scales and stored integers', async () => {
    const q4 = (await call('map:search', { query: 'attn_q.weight', modelId: tinyId })).regions[0]!;
    const [cols, rows] = q4.tensor!.dims as [number, number];
    const v = await call('map:values', { id: q4.id, row: 1, col: 250, rows: 2, cols: 10 });
    expect(v).toMatchObject({ type: 'Q4_K', shape: { rows, cols }, rows: 2, cols: 6, blockSize: 256 });
    // The same values the store's dequantiser gives for the whole tensor.
    const fmt = QUANT_FORMATS.Q4_K;
    const all = fmt.dequantize(new Uint8Array(await readStored(q4.id)), rows * cols);
    const want: number[] = [];
    for (let r = 1; r < 3; r++) for (let c = 250; c < 256; c++) want.push(all[r * cols + c]!);
    expect(v.values).toEqual(want);
    // Blocks: one 256-value block per row here (cols = 256).
    expect(v.blocks.map((b) => b.index)).toEqual([1, 2]);
    for (const b of v.blocks) {
      expect(b.scale).not.toBeNull();
      expect(b.scale!).toBeGreaterThan(0);
      expect(b.min).not.toBeNull();
    }
    // Stored integers: whole numbers (a 6-bit sub-scale times a 4-bit code), and value = d·stored − dmin·m,
    // so value − d·stored is the same for every element of a 32-value sub-block.
    for (const s of v.stored) expect(Number.isInteger(s)).toBe(true);
    for (let i = 0; i < 6; i++) expect(Math.abs(v.stored[i]!)).toBeLessThanOrEqual(63 * 15);
    const d = v.blocks[0]!.scale!;
    const off = v.values.slice(0, 6).map((x, i) => x! - d * v.stored[i]!);
    for (const o of off) expect(o).toBeCloseTo(off[0]!, 4);
  });

  it('refuses hostile windows with typed errors: outside the tensor, too big, negative, not a tensor', async () => {
    const id = `${storiesId}/${Q}`;
    const past = await refused(call('map:values', { id, row: 64, col: 0, rows: 1, cols: 1 }));
    expect(past.code).toBe('MAP_INPUT');
    expect(past.message).toMatch(/outside the tensor/);
    expect((await refused(call('map:values', { id, row: 0, col: 64, rows: 1, cols: 1 }))).code).toBe('MAP_INPUT');
    // 64 × 65 values: past the cap even though the clipped window would be small.
    const big = await refused(call('map:values', { id, row: 0, col: 0, rows: 64, cols: 65 }));
    expect(big.code).toBe('MAP_INPUT');
    expect(big.message).toMatch(/more than 4096 values/);
    // Schema: negative, fractional, zero and absurd sizes never reach the handler.
    for (const bad of [{ row: -1 }, { col: 1.5 }, { rows: 0 }, { cols: MAP_LIMITS.values + 1 }, { rows: 1e12 }]) {
      expect((await refused(call('map:values', { id, row: 0, col: 0, rows: 1, cols: 1, ...bad } as never))).code).toMatch(/INPUT|INVALID|VALID/);
    }
    expect((await refused(call('map:values', { id: `${storiesId}/@kv-cache`, row: 0, col: 0, rows: 1, cols: 1 }))).code).toBe('MAP_INPUT');
    expect((await refused(call('map:values', { id: `${storiesId}/nope`, row: 0, col: 0, rows: 1, cols: 1 }))).code).toBe('MAP_NOT_FOUND');
  });
});
