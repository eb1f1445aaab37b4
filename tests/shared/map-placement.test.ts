import { describe, expect, it } from 'vitest';
import { MapError } from '../../shared/map/errors';
import { rectContains, rectsOverlap } from '../../shared/map/geometry';
import { executionOrder, layoutFromRegions, nextModelOrigin, placeModel, placeModels, resizeKvCache, type ModelLayout, type PlacementOptions } from '../../shared/map/placement';
import { byteSpanRects, tileCapacity, tileRect, type MapRegion } from '../../shared/map/regions';
import { QWEN25_7B, transformerTensors } from '../../scripts/bench/map-shapes';
import { randInt, randomModel, rng, shuffle } from './map-helpers';

function columnKey(name: string): number {
  const m = /^blk\.(\d+)\./.exec(name);
  if (m) return Number(m[1]);
  return /^(output|cls|result)/.test(name) ? Infinity : -1;
}

function randomCase(seed: number): { layouts: ModelLayout[]; geo: { tileWidth: number; tileHeight: number }; opts: PlacementOptions } {
  const r = rng(seed);
  const geo = { tileWidth: randInt(r, 2, 24), tileHeight: randInt(r, 2, 24) };
  const opts: PlacementOptions = {
    maxTilesWide: randInt(r, 1, 9),
    tensorGap: randInt(r, 0, 3),
    columnGap: randInt(r, 0, 20),
    sectionGap: randInt(r, 0, 10),
    modelGap: randInt(r, 0, 50),
    activationBytes: randInt(r, 0, 40 * tileCapacity(geo.tileWidth, geo.tileHeight)),
    kvCacheBytes: randInt(r, 0, 10 * tileCapacity(geo.tileWidth, geo.tileHeight)),
  };
  const cap = tileCapacity(geo.tileWidth, geo.tileHeight);
  const models = Array.from({ length: randInt(r, 1, 4) }, (_, i) => randomModel(r, `model-${i}`, cap));
  const origin = { x: randInt(r, -1e6, 1e6), y: randInt(r, -1e6, 1e6) };
  return { layouts: placeModels(models, geo, opts, origin), geo, opts };
}

const SEEDS = Array.from({ length: 60 }, (_, i) => 1000 + i);

describe('placement properties (random models)', () => {
  it('no two regions overlap, within or across models, and each lies in its model box', () => {
    for (const seed of SEEDS) {
      const { layouts } = randomCase(seed);
      const all: MapRegion[] = layouts.flatMap((l) => l.regions);
      for (let i = 0; i < all.length; i++) {
        for (let j = i + 1; j < all.length; j++) {
          if (rectsOverlap(all[i]!, all[j]!)) throw new Error(`seed ${seed}: ${all[i]!.id} overlaps ${all[j]!.id}`);
        }
      }
      for (const l of layouts) for (const r of l.regions) expect(rectContains(l.box, r)).toBe(true);
      for (let i = 1; i < layouts.length; i++) {
        expect(rectsOverlap(layouts[i - 1]!.box, layouts[i]!.box)).toBe(false);
        expect(layouts[i]!.box.x).toBeGreaterThanOrEqual(layouts[i - 1]!.box.x + layouts[i - 1]!.box.width);
      }
    }
  });

  it('execution order is monotonic along the layout: columns left to right, shelves top to bottom, left to right on a shelf', () => {
    for (const seed of SEEDS) {
      const { layouts } = randomCase(seed);
      for (const l of layouts) {
        const w = l.regions.filter((r) => r.kind === 'weights');
        w.forEach((r, i) => expect(r.order).toBe(i));
        for (let i = 1; i < w.length; i++) {
          const a = w[i - 1]!;
          const b = w[i]!;
          const ca = columnKey(a.name);
          const cb = columnKey(b.name);
          expect(cb).toBeGreaterThanOrEqual(ca);
          if (cb > ca) {
            // Every tensor of a later column is right of every tensor of an earlier one.
            const rightA = Math.max(...w.filter((r) => columnKey(r.name) === ca).map((r) => r.x + r.width));
            expect(b.x).toBeGreaterThanOrEqual(rightA);
          } else {
            expect(b.y > a.y || (b.y === a.y && b.x > a.x)).toBe(true);
          }
        }
      }
    }
  });

  it('every tensor gets a grid of whole tiles holding all its tiles, at most maxTilesWide wide', () => {
    for (const seed of SEEDS) {
      const { layouts, geo, opts } = randomCase(seed);
      const cap = tileCapacity(geo.tileWidth, geo.tileHeight);
      for (const r of layouts.flatMap((l) => l.regions)) {
        expect(r.grid.tileWidth).toBe(geo.tileWidth);
        if (r.kind !== 'weights') {
          expect(r.grid.tileCount).toBe(0);
          continue;
        }
        const tiles = Math.ceil(r.tensor!.byteSize / cap);
        expect(r.grid.tileCount).toBe(tiles);
        expect(r.width * r.height).toBeGreaterThanOrEqual(tiles * geo.tileWidth * geo.tileHeight);
        expect(r.grid.cols).toBeLessThanOrEqual(opts.maxTilesWide!);
        expect(r.width).toBe(r.grid.cols * geo.tileWidth);
        expect(r.height).toBe(r.grid.rows * geo.tileHeight);
        const seen = new Set<string>();
        for (let i = 0; i < tiles; i++) {
          const t = tileRect(r, i);
          expect(rectContains(r, t)).toBe(true);
          seen.add(`${t.x},${t.y}`);
        }
        expect(seen.size).toBe(tiles);
      }
    }
  });

  it('is deterministic and independent of the input order', () => {
    for (const seed of SEEDS.slice(0, 20)) {
      const r = rng(seed);
      const geo = { tileWidth: 8, tileHeight: 8 };
      const m = randomModel(r, 'm', tileCapacity(8, 8));
      const a = placeModel(m, geo, { maxTilesWide: 4 });
      const b = placeModel({ modelId: 'm', tensors: shuffle(rng(seed + 7), m.tensors) }, geo, { maxTilesWide: 4 });
      expect(b).toEqual(a);
      expect(placeModel(m, geo, { maxTilesWide: 4 })).toEqual(a);
    }
  });

  it('reserves activations, a KV cache and room below it for the KV cache to grow', () => {
    for (const seed of SEEDS.slice(0, 20)) {
      const { layouts } = randomCase(seed);
      for (const l of layouts) {
        const weightsBottom = Math.max(l.box.y, ...l.regions.filter((r) => r.kind === 'weights').map((r) => r.y + r.height));
        const act = l.regions.find((r) => r.kind === 'activations')!;
        const kv = l.regions.find((r) => r.kind === 'kv-cache')!;
        expect(act.y).toBeGreaterThanOrEqual(weightsBottom);
        expect(kv.y).toBeGreaterThanOrEqual(act.y + act.height);
        const free = l.regions.find((r) => r.kind === 'free');
        if (free) expect(free.y).toBe(kv.y + kv.height);
        const reserveRows = l.reserve.kvReserveRows;
        // Grow to the whole reserve: the free band disappears, the box stays.
        const cap = tileCapacity(kv.grid.tileWidth, kv.grid.tileHeight);
        const full = resizeKvCache(l, reserveRows * l.reserve.tilesWide * cap);
        const kv2 = full.regions.find((r) => r.kind === 'kv-cache')!;
        expect(kv2.height).toBe(reserveRows * kv.grid.tileHeight);
        expect(full.regions.some((r) => r.kind === 'free')).toBe(false);
        expect(rectContains(l.box, kv2)).toBe(true);
        expect(() => resizeKvCache(l, reserveRows * l.reserve.tilesWide * cap + 1)).toThrow(MapError);
        // Shrink back to one row: free room reappears right below.
        const small = resizeKvCache(full, 1);
        const kv3 = small.regions.find((r) => r.kind === 'kv-cache')!;
        const free3 = small.regions.find((r) => r.kind === 'free');
        expect(kv3.height).toBe(kv.grid.tileHeight);
        if (reserveRows > 1) expect(free3!.y).toBe(kv3.y + kv3.height);
      }
    }
  });
});

describe('the KV cache on the map', () => {
  it('a layout rebuilt from its stored regions resizes as the original does', () => {
    for (const seed of SEEDS.slice(0, 20)) {
      const { layouts } = randomCase(seed);
      for (const l of layouts) {
        const rebuilt = layoutFromRegions(l.modelId, l.box, shuffle(rng(seed), l.regions));
        expect(rebuilt.reserve).toEqual(l.reserve);
        const kv = l.regions.find((r) => r.kind === 'kv-cache')!;
        const cap = tileCapacity(kv.grid.tileWidth, kv.grid.tileHeight);
        const bytes = randInt(rng(seed + 1), 0, l.reserve.kvReserveRows * l.reserve.tilesWide * cap);
        const a = resizeKvCache(l, bytes);
        const b = resizeKvCache(rebuilt, bytes);
        const byId = (x: ModelLayout) => [...x.regions].sort((p, q) => p.id.localeCompare(q.id));
        expect(byId(b)).toEqual(byId(a));
        // And from the resized regions again (the free band shrank or vanished).
        expect(layoutFromRegions(l.modelId, l.box, a.regions).reserve).toEqual(a.reserve);
      }
    }
    expect(() => layoutFromRegions('m', { x: 0, y: 0, width: 1, height: 1 }, [])).toThrow(MapError);
  });

  it('byteSpanRects covers exactly the pixels of the first bytes, in PixelFS order', () => {
    const r = rng(99);
    for (let trial = 0; trial < 300; trial++) {
      const tw = randInt(r, 1, 6);
      const th = randInt(r, 1, 6);
      const cols = randInt(r, 1, 4);
      const rows = randInt(r, 1, 4);
      const region = { x: randInt(r, -50, 50), y: randInt(r, -50, 50), width: cols * tw, height: rows * th, grid: { tileWidth: tw, tileHeight: th, cols, rows, tileCount: 0 } };
      const capacity = tw * th * cols * rows;
      const bytes = randInt(r, 0, capacity * 4 + 9);
      const { rects, clipped } = byteSpanRects(region, bytes);
      expect(rects.length).toBeLessThanOrEqual(4);
      const want = new Set<string>();
      for (let p = 0; p < Math.min(Math.ceil(bytes / 4), capacity); p++) {
        const tile = Math.floor(p / (tw * th));
        const inTile = p % (tw * th);
        want.add(`${region.x + (tile % cols) * tw + (inTile % tw)},${region.y + Math.floor(tile / cols) * th + Math.floor(inTile / tw)}`);
      }
      const got: string[] = [];
      for (const q of rects) for (let y = q.y; y < q.y + q.height; y++) for (let x = q.x; x < q.x + q.width; x++) got.push(`${x},${y}`);
      expect(got.length).toBe(new Set(got).size); // disjoint
      expect(new Set(got)).toEqual(want);
      expect(clipped).toBe(Math.ceil(bytes / 4) > capacity);
    }
    expect(() => byteSpanRects({ x: 0, y: 0, width: 1, height: 1, grid: { tileWidth: 1, tileHeight: 1, cols: 1, rows: 1, tileCount: 0 } }, -1)).toThrow(MapError);
  });
});

describe('placement details', () => {
  it('orders a llama-style model as it executes', () => {
    const names = [
      'output.weight',
      'blk.1.ffn_down.weight',
      'blk.0.attn_v.weight',
      'blk.0.attn_q.bias',
      'token_embd.weight',
      'blk.0.ffn_gate.weight',
      'blk.0.attn_q.weight',
      'blk.0.attn_norm.weight',
      'blk.10.attn_norm.weight',
      'blk.2.attn_norm.weight',
      'output_norm.weight',
      'blk.0.ffn_up.weight',
      'blk.0.ffn_down.weight',
      'blk.0.attn_output.weight',
      'blk.0.ffn_norm.weight',
      'blk.0.attn_k.weight',
    ];
    const order = executionOrder(names.map((name) => ({ name, ggmlType: 'F32', dims: [1], byteSize: 4 }))).map((t) => t.name);
    expect(order).toEqual([
      'token_embd.weight',
      'blk.0.attn_norm.weight',
      'blk.0.attn_q.weight',
      'blk.0.attn_q.bias',
      'blk.0.attn_k.weight',
      'blk.0.attn_v.weight',
      'blk.0.attn_output.weight',
      'blk.0.ffn_norm.weight',
      'blk.0.ffn_gate.weight',
      'blk.0.ffn_up.weight',
      'blk.0.ffn_down.weight',
      'blk.1.ffn_down.weight',
      'blk.2.attn_norm.weight',
      'blk.10.attn_norm.weight',
      'output_norm.weight',
      'output.weight',
    ]);
  });

  it('packs one-tile tensors side by side on a shelf', () => {
    const geo = { tileWidth: 16, tileHeight: 16 };
    const tiny = (name: string) => ({ name, ggmlType: 'F32', dims: [10], byteSize: 40 });
    const l = placeModel({ modelId: 'm', tensors: ['attn_norm', 'attn_q', 'attn_k', 'attn_v'].map((n) => tiny(`blk.0.${n}.weight`)) }, geo, { maxTilesWide: 4, tensorGap: 2 });
    const w = l.regions.filter((r) => r.kind === 'weights');
    expect(w.map((r) => r.y)).toEqual([0, 0, 0, 0]);
    expect(w.map((r) => r.x)).toEqual([0, 18, 36, 54]);
  });

  it('lays out Qwen2.5-7B (Q4_K) in 30 columns, ~4.4 GB in 1330 tiles of 1024²', () => {
    const t = transformerTensors(QWEN25_7B);
    const l = placeModel({ modelId: 'qwen', tensors: t }, { tileWidth: 1024, tileHeight: 1024 });
    const w = l.regions.filter((r) => r.kind === 'weights');
    expect(w.length).toBe(339);
    expect(w.reduce((s, r) => s + r.tensor!.byteSize, 0)).toBeCloseTo(4.425e9, -7);
    expect(w.reduce((s, r) => s + r.grid.tileCount, 0)).toBe(1330);
    expect(new Set(w.map((r) => columnKey(r.name))).size).toBe(30);
    expect(w[0]!.name).toBe('token_embd.weight');
    expect(w[w.length - 1]!.name).toBe('output.weight');
  });

  it('places a new model right of existing ones', () => {
    const geo = { tileWidth: 4, tileHeight: 4 };
    const a = placeModel(randomModel(rng(1), 'a', 64), geo);
    const at = nextModelOrigin([a.box], 10);
    expect(at).toEqual({ x: a.box.x + a.box.width + 10, y: a.box.y });
    const b = placeModel(randomModel(rng(2), 'b', 64), geo, {}, at);
    expect(rectsOverlap(a.box, b.box)).toBe(false);
    expect(nextModelOrigin([], 10)).toEqual({ x: 0, y: 0 });
  });

  it('refuses bad input with typed errors', () => {
    const geo = { tileWidth: 8, tileHeight: 8 };
    const t = { name: 'a', ggmlType: 'F32', dims: [4], byteSize: 16 };
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(MapError);
        return (e as MapError).code;
      }
      return 'none';
    };
    expect(code(() => placeModel({ modelId: 'm', tensors: [t, t] }, geo))).toBe('MAP_CONFLICT');
    expect(code(() => placeModel({ modelId: 'm', tensors: [{ ...t, dims: [0] }] }, geo))).toBe('MAP_INPUT');
    expect(code(() => placeModel({ modelId: 'm', tensors: [{ ...t, byteSize: -1 }] }, geo))).toBe('MAP_INPUT');
    expect(code(() => placeModel({ modelId: '', tensors: [t] }, geo))).toBe('MAP_INPUT');
    expect(code(() => placeModel({ modelId: 'm', tensors: [t] }, { tileWidth: 0, tileHeight: 8 }))).toBe('MAP_INPUT');
    expect(code(() => placeModel({ modelId: 'm', tensors: [t] }, geo, { maxTilesWide: 1.5 }))).toBe('MAP_INPUT');
    expect(code(() => placeModel({ modelId: 'm', tensors: [t] }, geo, {}, { x: Number.MAX_SAFE_INTEGER - 4, y: 0 }))).toBe('MAP_RANGE');
    expect(code(() => placeModel({ modelId: 'm', tensors: [t] }, geo, {}, { x: 0.5, y: 0 }))).toBe('MAP_RANGE');
    expect(code(() => placeModels([{ modelId: 'm', tensors: [t] }, { modelId: 'm', tensors: [t] }], geo))).toBe('MAP_CONFLICT');
    expect(code(() => placeModel({ modelId: 'm', tensors: [t] }, geo, { kvCacheBytes: 100, kvReserveBytes: 10 }))).toBe('MAP_RESERVE');
  });

  it('works near 2^53 as long as the far edge stays representable', () => {
    const geo = { tileWidth: 1024, tileHeight: 1024 };
    const x = 2 ** 52;
    const l = placeModel({ modelId: 'far', tensors: transformerTensors({ ...QWEN25_7B, blocks: 1 }) }, geo, {}, { x, y: -(2 ** 52) });
    for (const r of l.regions) {
      expect(Number.isSafeInteger(r.x + r.width)).toBe(true);
      expect(r.x).toBeGreaterThanOrEqual(x);
    }
  });
});
