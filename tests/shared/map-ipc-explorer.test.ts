/**
 * The explorer's pure parts (renderer/src/explorer): camera arithmetic and flights, the GPU
 * texture cache's LRU eviction and byte accounting, the 3D stack layout. No DOM, no GPU.
 */
import { describe, expect, it } from 'vitest';
import type { MapRegionInfo } from '../../shared/ipc/channels/map';
import { Camera2D, flightPose } from '../../renderer/src/explorer/camera';
import { TextureCache, cellKey } from '../../renderer/src/explorer/texture-cache';
import { stackLayout } from '../../renderer/src/explorer/view3d';

describe('Camera2D', () => {
  it('keeps the map point under the pointer when zooming, and maps screen <-> map both ways', () => {
    const c = new Camera2D();
    c.setSize(800, 600);
    c.cx = 1000;
    c.cy = -50;
    c.zoom = 0.25;
    const at = c.screenToMap(123, 456);
    for (const f of [2, 7.5, 0.1, 1e-3]) {
      c.zoomAt(f, 123, 456);
      const now = c.screenToMap(123, 456);
      expect(now.x).toBeCloseTo(at.x, 6);
      expect(now.y).toBeCloseTo(at.y, 6);
    }
    const s = c.mapToScreen(at.x, at.y);
    expect(s.x).toBeCloseTo(123, 6);
    expect(s.y).toBeCloseTo(456, 6);
    // Zoom is clamped.
    c.zoomAt(1e9, 0, 0);
    expect(c.zoom).toBe(c.maxZoom);
  });

  it('gives the viewport with margins and fits a rect', () => {
    const c = new Camera2D();
    c.setSize(1000, 500);
    c.fit({ x: 0, y: 0, width: 4000, height: 1000 }, 0);
    expect(c.zoom).toBeCloseTo(0.25);
    expect(c.viewport()).toEqual({ x0: 0, y0: -500, x1: 4000, y1: 1500 });
    const m = c.viewport(0.25);
    expect(m.x1 - m.x0).toBeCloseTo(6000);
    c.panBy(100, -40);
    expect(c.cx).toBeCloseTo(2000 - 400);
    expect(c.cy).toBeCloseTo(500 + 160);
  });

  it('flies from one pose to another, zooming out mid-way on long jumps', () => {
    const a = { cx: 0, cy: 0, zoom: 1 };
    const b = { cx: 100_000, cy: 0, zoom: 2 };
    expect(flightPose(a, b, 0, 1000)).toEqual(a);
    const end = flightPose(a, b, 1, 1000);
    expect(end.cx).toBeCloseTo(b.cx);
    expect(end.zoom).toBeCloseTo(b.zoom);
    // Half way, both ends are in view: 80% of the 1000 px screen spans the 100 000 px jump.
    const mid = flightPose(a, b, 0.5, 1000);
    expect(mid.zoom).toBeCloseTo(0.008, 6);
    expect(mid.cx).toBeCloseTo(50_000);
    // A short hop does not dip below the smaller zoom.
    const near = flightPose(a, { cx: 10, cy: 0, zoom: 2 }, 0.5, 1000);
    expect(near.zoom).toBeGreaterThanOrEqual(1 - 1e-9);
  });
});

describe('TextureCache', () => {
  const disposed: number[] = [];
  const entry = (id: number, bytes = 100) => ({
    id,
    regionId: 'm/t',
    level: 0,
    col: id,
    row: 0,
    heatRect: { x: id * 10, y: 0, width: 10, height: 10 },
    size: 4,
    data: new Float32Array(16),
    texture: { dispose: () => disposed.push(id) } as never,
    bytes,
  });

  it('evicts the least recently used entries not in use, and counts bytes', () => {
    disposed.length = 0;
    const c = new TextureCache(300);
    expect(c.put(entry(1))).toBe(true);
    expect(c.put(entry(2))).toBe(true);
    c.generation++;
    expect(c.put(entry(3))).toBe(true);
    // A new frame uses 1 and 3; 2 was last used two generations ago.
    c.generation++;
    c.touch(c.get(cellKey(entry(1)))!);
    c.touch(c.get(cellKey(entry(3)))!);
    expect(c.roomFor(100)).toBe(1);
    expect(c.put(entry(4))).toBe(true);
    expect(disposed).toEqual([2]);
    expect(c.hasId(2)).toBe(false);
    expect(c.stats()).toMatchObject({ textures: 3, bytes: 300, budgetBytes: 300, evictions: 1, uploads: 4 });
    // Everything in use: a new entry is refused (and its texture freed), nothing is evicted.
    c.touch(c.getById(4)!);
    expect(c.roomFor(100)).toBe(0);
    expect(c.put(entry(5))).toBe(false);
    expect(disposed).toEqual([2, 5]);
    expect(c.stats().textures).toBe(3);
    // Next frame: the oldest (1, 3 used one generation before 4) go first.
    c.generation++;
    expect(c.put(entry(6, 200))).toBe(true);
    expect(disposed.slice(2).sort()).toEqual([1, 3]);
    expect(c.stats()).toMatchObject({ textures: 2, bytes: 300 });
    c.dispose();
    expect(c.stats()).toMatchObject({ textures: 0, bytes: 0 });
  });
});

describe('stackLayout (3D)', () => {
  const r = (name: string, order: number, block: number | null, x: number, y: number, w = 1024, h = 1024): MapRegionInfo => ({
    id: `m/${name}`,
    modelId: 'm',
    name,
    kind: 'weights',
    rect: { x, y, width: w, height: h },
    order,
    block,
    grid: { tileWidth: 1024, tileHeight: 1024, cols: w / 1024, rows: h / 1024, tileCount: 1 },
    tensor: { type: 'F32', dims: [4], bytes: 16 },
    pyramid: { state: 'built', note: null, levels: 1, heatSize: 64, heatMin: 0, heatMax: 1, stats: null },
  });

  it('puts pre-block tensors first, each block on its own layer, post-block tensors last, every layer from x = 0', () => {
    const regions = [
      r('token_embd.weight', 0, null, 0, 0),
      r('blk.0.attn_q.weight', 1, 0, 2048, 0),
      r('blk.0.ffn_down.weight', 2, 0, 2048, 1152, 2048),
      r('blk.1.attn_q.weight', 3, 1, 5120, 0),
      r('output.weight', 4, null, 8192, 0, 1024, 2048),
      { ...r('kv', 5, null, 0, 4096), kind: 'kv-cache' as const },
    ];
    const l = stackLayout('m', regions);
    expect(l.layers).toBe(4);
    expect(l.names).toEqual(['pre', 'blk 0', 'blk 1', 'post']);
    const byName = new Map(l.placed.map((p) => [p.region.name, p]));
    expect(byName.has('kv')).toBe(false);
    expect(byName.get('token_embd.weight')).toMatchObject({ layer: 0, x: 0, y: 0 });
    expect(byName.get('blk.0.attn_q.weight')).toMatchObject({ layer: 1, x: 0, y: 0, w: 1, h: 1 });
    expect(byName.get('blk.0.ffn_down.weight')).toMatchObject({ layer: 1, x: 0, y: 1152 / 1024, w: 2 });
    expect(byName.get('blk.1.attn_q.weight')).toMatchObject({ layer: 2, x: 0 });
    expect(byName.get('output.weight')).toMatchObject({ layer: 3, x: 0, h: 2 });
    expect(l.width).toBe(2);
  });
});
