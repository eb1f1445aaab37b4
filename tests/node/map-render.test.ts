import Database from 'better-sqlite3';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { MapIndex } from '../../electron/map/map-index';
import { buildPyramid } from '../../electron/map/pyramid';
import { MAP_COLORS, renderMapPng, type RenderedMap } from '../../electron/map/render-png';
import { colormapRgb } from '../../shared/map/colormap';
import { MapError } from '../../shared/map/errors';
import type { Rect } from '../../shared/map/geometry';
import { placeModel, type TensorSpec } from '../../shared/map/placement';

const GEO = { tileWidth: 16, tileHeight: 16 };

function f32(name: string, n: number, f: (i: number) => number): [TensorSpec, Uint8Array] {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = f(i);
  return [{ name, ggmlType: 'F32', dims: [n], byteSize: 4 * n }, new Uint8Array(v.buffer)];
}

let index: MapIndex;
const data = new Map<string, Uint8Array>();

beforeAll(async () => {
  const n = 12 * 256; // 12 tiles of 256 values
  const parts = [
    f32('token_embd.weight', n, (i) => i / n), // a ramp 0 → 1 along the tensor
    f32('blk.0.attn_q.weight', 4 * 256, (i) => 5 + Math.sin(i)), // all in 4..6
    f32('blk.0.attn_k.weight', 4 * 256, (i) => -5 + Math.sin(i)), // all in −6..−4
  ];
  for (const [t, b] of parts) data.set(t.name, b);
  index = new MapIndex(new Database(':memory:'));
  index.putRegions(placeModel({ modelId: 'r', tensors: parts.map((p) => p[0]) }, GEO, { maxTilesWide: 3 }).regions);
  await buildPyramid({ index, modelId: 'r', read: async (name, off, len) => data.get(name)!.subarray(off, off + len), heatSize: 8 });
  // A second model without a pyramid.
  index.putRegions(placeModel({ modelId: 'bare', tensors: parts.map((p) => p[0]) }, GEO, { maxTilesWide: 3 }, { x: 10_000, y: 0 }).regions);
});

function decode(r: RenderedMap): PNG {
  const png = PNG.sync.read(Buffer.from(r.bytes));
  expect(png.width).toBe(r.width);
  expect(png.height).toBe(r.height);
  return png;
}

/** The output pixel at a map point. */
function at(png: PNG, r: RenderedMap, x: number, y: number): [number, number, number, number] {
  const i = Math.floor((x - r.viewport.x0) * r.scale);
  const j = Math.floor((y - r.viewport.y0) * r.scale);
  const o = (j * png.width + i) * 4;
  return [png.data[o]!, png.data[o + 1]!, png.data[o + 2]!, png.data[o + 3]!];
}

function centre(id: string): [number, number] {
  const g = index.getRegion(id)! as Rect;
  return [g.x + g.width / 2, g.y + g.height / 2];
}

describe('renderMapPng', () => {
  it('decodes to the requested size, long side = maxSize', async () => {
    for (const maxSize of [64, 300, 1000]) {
      const r = await renderMapPng({ index, modelId: 'r', maxSize });
      const png = decode(r);
      const box = index.modelBox('r')!;
      expect(Math.max(png.width, png.height)).toBe(maxSize);
      expect(png.width / png.height).toBeCloseTo(box.width / box.height, 1);
    }
  });

  it('shows different colours for different value ranges (one shared diverging scale)', async () => {
    const r = await renderMapPng({ index, modelId: 'r', maxSize: 600, range: 'shared' });
    const png = decode(r);
    const q = at(png, r, ...centre('r/blk.0.attn_q.weight'));
    const k = at(png, r, ...centre('r/blk.0.attn_k.weight'));
    // Positive values on the red side, negative on the blue side.
    expect(q[0]).toBeGreaterThan(q[2] + 60);
    expect(k[2]).toBeGreaterThan(k[0] + 60);
    expect(q[3]).toBe(255);
  });

  it('colours a ramp from the low to the high end of viridis over the tensor range', async () => {
    const r = await renderMapPng({ index, modelId: 'r', maxSize: 800, range: 'tensor' });
    const png = decode(r);
    const g = index.getRegion('r/token_embd.weight')!;
    const first = at(png, r, g.x + 1, g.y + 1);
    const last = at(png, r, g.x + 2 * 16 + 15, g.y + 3 * 16 + 14); // tile 11: end of the ramp
    const lo = colormapRgb('viridis', 0);
    const hi = colormapRgb('viridis', 1);
    const dist = (a: number[], b: number[]) => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
    expect(dist(first, lo)).toBeLessThan(25);
    expect(dist(last, hi)).toBeLessThan(25);
  });

  it('draws outlines, the activations band, no-data for unbuilt tensors and background outside', async () => {
    const r = await renderMapPng({ index, maxSize: 2000 });
    const png = decode(r);
    const g = index.getRegion('r/blk.0.attn_q.weight')!;
    expect(at(png, r, g.x, g.y + g.height / 2).slice(0, 3)).toEqual([...MAP_COLORS.outline]);
    expect(at(png, r, ...centre('r/@activations')).slice(0, 3)).toEqual([...MAP_COLORS.activations]);
    expect(at(png, r, ...centre('r/@kv-cache')).slice(0, 3)).toEqual([...MAP_COLORS.kvCache]);
    expect(at(png, r, ...centre('bare/blk.0.attn_q.weight')).slice(0, 3)).toEqual([...MAP_COLORS.noData]);
    // Between the two models there is nothing.
    const rb = index.modelBox('r')!;
    expect(at(png, r, rb.x + rb.width + 50, 5).slice(0, 3)).toEqual([...MAP_COLORS.background]);
    const none = await renderMapPng({ index, viewport: { x0: -1000, y0: -1000, x1: -500, y1: -900 }, maxSize: 50, outline: null });
    const p2 = decode(none);
    expect(p2.width).toBe(50);
    expect(p2.height).toBe(10);
    for (let i = 0; i < p2.data.length; i += 4) expect([p2.data[i], p2.data[i + 1], p2.data[i + 2]]).toEqual([...MAP_COLORS.background]);
  });

  it('picks coarser pyramid levels for smaller images', async () => {
    const box = index.modelBox('r')!;
    const side = Math.max(box.width, box.height);
    // Level 0 while a 16-px tile covers more than 4 output px (its 8-px heat image would be coarser).
    const big = await renderMapPng({ index, modelId: 'r', maxSize: Math.ceil(side * 0.6) });
    const small = await renderMapPng({ index, modelId: 'r', maxSize: Math.ceil(side * 0.03) });
    expect(big.scale).toBeGreaterThan(0.5);
    expect(big.levels).toEqual([0]);
    expect(Math.max(...small.levels)).toBeGreaterThan(0);
    // A viewport on one tensor at a forced level still renders its values.
    const g = index.getRegion('r/blk.0.attn_k.weight')!;
    const v = await renderMapPng({ index, viewport: { x0: g.x, y0: g.y, x1: g.x + g.width, y1: g.y + g.height }, maxSize: 64, level: 1, outline: null, range: { lo: -6, hi: 6 } });
    const png = decode(v);
    const px = at(png, v, g.x + 5, g.y + 5);
    expect(px[2]).toBeGreaterThan(px[0]);
  });

  it('refuses bad options', async () => {
    const codeOf = async (p: Promise<unknown>) => ((await p.catch((e: unknown) => e)) as MapError).code;
    expect(await codeOf(renderMapPng({ index, maxSize: 0 }))).toBe('MAP_INPUT');
    expect(await codeOf(renderMapPng({ index, modelId: 'ghost' }))).toBe('MAP_NOT_FOUND');
    expect(await codeOf(renderMapPng({ index, range: { lo: 1, hi: 0 } }))).toBe('MAP_INPUT');
    expect(await codeOf(renderMapPng({ index, viewport: { x0: 0, y0: 0, x1: 0, y1: 1 } }))).toBe('MAP_INPUT');
  });
});
