import * as THREE from 'three';
import type { PxiApi } from '../../../shared/ipc/client';
import type { MapRegionInfo } from '../../../shared/ipc/channels/map';
import type { Viewport } from '../../../shared/map/geometry';
import { bandLayout, bandOfByte, bandRect, heatMeanOver, shapeCellRect, storedByte, tensorShape, windowsInView, type ShapeWindow, type TensorShape } from '../../../shared/map/shape';
import { getQuantFormat, isQuantTypeName } from '../../../shared/quant';
import { heatMaterial, NO_DATA, scaleFor, setScale, type ColormapChoice, type HeatMaterial } from './heat';
import { cellKey, type TextureCache } from './texture-cache';

/** Values per side of one map:values window (64 × 64 = the channel's limit). */
const WINDOW = 64;
/** Screen pixels per value from which windows of values are fetched, and from which cached ones are drawn. */
export const VALUES_FETCH_ZOOM = 2;
const VALUES_DRAW_ZOOM = 1;
/** Windows wanted for one view at most (nearest the view centre first), and fetched at once. */
const MAX_WINDOWS_WANTED = 64;
const WINDOWS_IN_FLIGHT = 2;
/** Windows of values kept (each 64² floats: 16 KiB on the GPU), least recently drawn out. */
const MAX_WINDOWS_KEPT = 512;
/** Side of a tensor's statistics texture at most (its texels sample the tensor evenly). */
const STATS_SIDE = 64;
/** Statistics textures kept (one per tensor drawn lately). */
const MAX_STATS_KEPT = 1024;
/** How far up the pyramid a tile's heat is looked for. */
const ANCESTOR_LEVELS = 8;

const ORDER_STATS = 2;
const ORDER_VALUES = 2.5;

interface StatsTexture {
  version: string;
  texture: THREE.DataTexture;
}

interface ValueWindow extends ShapeWindow {
  key: string;
  regionId: string;
  texture: THREE.DataTexture;
  lastUsed: number;
}

function floatTexture(data: Float32Array<ArrayBuffer>, w: number, h: number): THREE.DataTexture {
  const t = new THREE.DataTexture(data, w, h, THREE.RedFormat, THREE.FloatType);
  t.magFilter = THREE.NearestFilter;
  t.minFilter = THREE.NearestFilter;
  t.generateMipmaps = false;
  t.needsUpdate = true;
  return t;
}

export interface ShapeDraw {
  regions: readonly MapRegionInfo[];
  regionsById: Map<string, MapRegionInfo>;
  cache: TextureCache;
  viewport: Viewport;
  zoom: number;
  cx: number;
  cy: number;
  colormap: ColormapChoice;
  /** The heat range per region (per-tensor or shared), as the heat tiles use. */
  heatRange: (r: MapRegionInfo) => [number, number];
  /** One value range for all tensors instead of each tensor's own. */
  sharedValues: boolean;
  heatSize: number;
}

/**
 * Every tensor drawn in its own shape (specs/explorer.md, "Tensor shapes"): a rectangle of its
 * columns × rows from the top-left of its room. Coarse, it is coloured from the pyramid: each
 * element takes the heat of the band of pixel rows its bytes are stored in (a run of consecutive
 * values), so nothing is drawn that the pyramid does not say. Zoomed in (a value ≥ 2 screen px),
 * the values themselves are fetched in 64 × 64 windows (map:values, bounded, cached) and drawn
 * one value per texel over the tensor's value range.
 */
export class ShapeLayer {
  private readonly shapes = new Map<string, TensorShape | null>();
  private readonly stats = new Map<string, StatsTexture>();
  private readonly windows = new Map<string, ValueWindow>();
  private readonly quad = new THREE.PlaneGeometry(1, 1);
  private readonly pool: THREE.Mesh<THREE.PlaneGeometry, HeatMaterial>[] = [];
  private wanted: { region: MapRegionInfo; w: ShapeWindow; key: string }[] = [];
  private readonly pending = new Set<string>();
  private readonly failed = new Set<string>();
  private inFlight = 0;
  private tick = 0;
  private disposed = false;
  /** What the last draw showed (data attributes for tests). */
  drawnShapes = 0;
  drawnWindows = 0;
  /** Regions whose values (not statistics) were drawn by the last draw, with the range used. */
  readonly valueRanges = new Map<string, [number, number]>();

  constructor(
    private readonly api: PxiApi,
    private readonly onChange: () => void,
    private readonly onError: (m: string) => void,
  ) {}

  /** The tensor's drawn rectangle; null for regions drawn as stored tiles (not weights, or a type without a known block layout). */
  shapeOf(r: MapRegionInfo): TensorShape | null {
    let s = this.shapes.get(r.id);
    if (s === undefined) {
      s = r.kind === 'weights' && r.tensor && isQuantTypeName(r.tensor.type) ? tensorShape(r.rect, r.tensor.dims) : null;
      if (this.shapes.size > 20_000) this.shapes.clear();
      this.shapes.set(r.id, s);
    }
    return s;
  }

  /** The value range a region's values are coloured over: its statistics' min and max. */
  private valueRange(r: MapRegionInfo): [number, number] | null {
    const st = r.pyramid.stats;
    return st && st.min !== null && st.max !== null ? [st.min, st.max] : null;
  }

  /** Draws the shapes of `v.regions` into `scene` (world = map − origin, y up). */
  draw(scene: THREE.Scene, origin: { x: number; y: number }, v: ShapeDraw): void {
    this.tick++;
    let i = 0;
    const place = (m: THREE.Mesh, x: number, y: number, w: number, h: number) => {
      m.position.set(x + w / 2 - origin.x, -(y + h / 2 - origin.y), 0);
      m.scale.set(w, h, 1);
    };
    const wanted: typeof this.wanted = [];
    this.valueRanges.clear();
    let sharedLo = Infinity;
    let sharedHi = -Infinity;
    const withValues: { r: MapRegionInfo; s: TensorShape; ws: ValueWindow[] }[] = [];
    let shapes = 0;
    for (const r of v.regions) {
      const s = this.shapeOf(r);
      if (!s) continue;
      if (s.x > v.viewport.x1 || s.y > v.viewport.y1 || s.x + s.width < v.viewport.x0 || s.y + s.height < v.viewport.y0) continue;
      shapes++;
      const st = this.statsTexture(r, s, v);
      const [lo, hi] = v.heatRange(r);
      const m = this.mesh(scene, i++);
      m.renderOrder = ORDER_STATS;
      m.material.uniforms.heat.value = st.texture;
      setScale(m.material, scaleFor(lo, hi, v.colormap));
      place(m, s.x, s.y, s.width, s.height);
      // Single values: drawn where cached once a value is a screen pixel, fetched from two.
      const perValue = v.zoom * s.scale;
      if (perValue < VALUES_DRAW_ZOOM) continue;
      const ws = windowsInView(s, v.viewport, WINDOW, MAX_WINDOWS_WANTED);
      if (!ws) continue;
      const have: ValueWindow[] = [];
      for (const w of ws) {
        const key = `${r.id}|${w.row}|${w.col}`;
        const got = this.windows.get(key);
        if (got) {
          got.lastUsed = this.tick;
          have.push(got);
        } else if (perValue >= VALUES_FETCH_ZOOM && !this.failed.has(key)) wanted.push({ region: r, w, key });
      }
      if (have.length === 0) continue;
      withValues.push({ r, s, ws: have });
      const vr = this.valueRange(r);
      if (vr) {
        sharedLo = Math.min(sharedLo, vr[0]);
        sharedHi = Math.max(sharedHi, vr[1]);
      }
    }
    let windows = 0;
    for (const { r, s, ws } of withValues) {
      const range = v.sharedValues && sharedHi >= sharedLo ? ([sharedLo, sharedHi] as [number, number]) : (this.valueRange(r) ?? v.heatRange(r));
      this.valueRanges.set(r.id, range);
      const scale = scaleFor(range[0], range[1], v.colormap);
      for (const w of ws) {
        const m = this.mesh(scene, i++);
        m.renderOrder = ORDER_VALUES;
        m.material.uniforms.heat.value = w.texture;
        setScale(m.material, scale);
        const q = shapeCellRect(s, w.row, w.col, w.rows, w.cols);
        place(m, q.x, q.y, q.width, q.height);
        windows++;
      }
    }
    for (let k = i; k < this.pool.length; k++) this.pool[k]!.visible = false;
    this.drawnShapes = shapes;
    this.drawnWindows = windows;
    const d = (w: ShapeWindow, r: MapRegionInfo) => {
      const s = this.shapeOf(r)!;
      const q = shapeCellRect(s, w.row, w.col, w.rows, w.cols);
      return Math.hypot(q.x + q.width / 2 - v.cx, q.y + q.height / 2 - v.cy);
    };
    wanted.sort((a, b) => d(a.w, a.region) - d(b.w, b.region));
    this.wanted = wanted.slice(0, MAX_WINDOWS_WANTED);
    this.pump();
  }

  /**
   * The tensor's shape with its statistics texture from the cached heat, for the 3D view to draw
   * it in its rows × columns as the 2D view does; null for a region without a shape.
   */
  shapedHeat(r: MapRegionInfo, cache: TextureCache, heatSize: number): { shape: TensorShape; texture: THREE.DataTexture } | null {
    const s = this.shapeOf(r);
    return s ? { shape: s, texture: this.statsTexture(r, s, { cache, heatSize }).texture } : null;
  }

  /** Windows of values wanted by the last draw and not yet here. */
  missing(): number {
    return this.wanted.filter((w) => !this.windows.has(w.key)).length;
  }

  /**
   * The tensor's statistics as a texture over its shape: each texel takes the heat mean of the
   * band its element's bytes lie in, from the finest cached heat of that tile (else the tensor's
   * mean). Rebuilt only when the cells it can use change.
   */
  private statsTexture(r: MapRegionInfo, s: TensorShape, v: Pick<ShapeDraw, 'cache' | 'heatSize'>): StatsTexture {
    const g = r.grid;
    const cells: (ReturnType<TextureCache['get']> | undefined)[] = [];
    let version = '';
    for (let t = 0; t < g.tileCount; t++) {
      const tc = t % g.cols;
      const tr = Math.floor(t / g.cols);
      let found: ReturnType<TextureCache['get']>;
      for (let k = 0; k <= ANCESTOR_LEVELS && !found; k++) found = v.cache.get(cellKey({ regionId: r.id, level: k, col: Math.floor(tc / 2 ** k), row: Math.floor(tr / 2 ** k) }));
      if (found) v.cache.touch(found);
      cells.push(found);
      version += found ? `${found.level},` : '-,';
    }
    const old = this.stats.get(r.id);
    if (old && old.version === version) {
      // Most recently used last (the map's order is the eviction order).
      this.stats.delete(r.id);
      this.stats.set(r.id, old);
      return old;
    }
    const fmt = getQuantFormat(r.tensor!.type);
    const bands = bandLayout(g, v.heatSize);
    const memo = new Map<number, number>();
    const mean = r.pyramid.stats?.mean ?? NaN;
    const bandValue = (band: number, tile: number) => {
      let m = memo.get(band);
      if (m === undefined) {
        const e = cells[tile];
        m = e ? heatMeanOver(e.data, e.size, e.heatRect, bandRect(bands, r.rect.x, r.rect.y, band)) : mean;
        if (Number.isNaN(m)) m = mean;
        memo.set(band, m);
      }
      return m;
    };
    const tw = Math.min(s.cols, STATS_SIDE);
    const th = Math.min(s.rows, STATS_SIDE);
    const data = new Float32Array(tw * th);
    for (let j = 0; j < th; j++) {
      const row = Math.floor(((j + 0.5) * s.rows) / th);
      for (let i = 0; i < tw; i++) {
        const col = Math.floor(((i + 0.5) * s.cols) / tw);
        const { tile, band } = bandOfByte(bands, storedByte(row * s.cols + col, fmt));
        const m = tile < g.tileCount ? bandValue(band, tile) : NaN;
        // Row 0 of the texture is the shape's top row (the heat shader flips v).
        data[j * tw + i] = Number.isNaN(m) ? NO_DATA : m;
      }
    }
    old?.texture.dispose();
    const st = { version, texture: floatTexture(data, tw, th) };
    this.stats.delete(r.id);
    this.stats.set(r.id, st);
    while (this.stats.size > MAX_STATS_KEPT) {
      const [k, e] = this.stats.entries().next().value as [string, StatsTexture];
      e.texture.dispose();
      this.stats.delete(k);
    }
    return st;
  }

  private pump(): void {
    while (this.inFlight < WINDOWS_IN_FLIGHT && !this.disposed) {
      const next = this.wanted.find((w) => !this.windows.has(w.key) && !this.pending.has(w.key));
      if (!next) return;
      this.pending.add(next.key);
      this.inFlight++;
      void this.fetch(next).finally(() => {
        this.inFlight--;
        this.pending.delete(next.key);
        this.pump();
      });
    }
  }

  private async fetch({ region, w, key }: { region: MapRegionInfo; w: ShapeWindow; key: string }): Promise<void> {
    try {
      const res = await this.api.call('map:values', { id: region.id, row: w.row, col: w.col, rows: w.rows, cols: w.cols });
      if (this.disposed) return;
      const data = new Float32Array(res.rows * res.cols);
      for (let i = 0; i < data.length; i++) {
        const x = res.values[i];
        data[i] = x === null || x === undefined ? NO_DATA : x;
      }
      this.windows.set(key, { key, regionId: region.id, row: res.row, col: res.col, rows: res.rows, cols: res.cols, texture: floatTexture(data, res.cols, res.rows), lastUsed: this.tick });
      this.evict();
      this.onChange();
    } catch (e) {
      // Not asked again for this window (no retry loop); the error is shown once.
      this.failed.add(key);
      this.onError(`Reading values of ${region.name}: ${(e as Error).message}`);
    }
  }

  private evict(): void {
    if (this.windows.size <= MAX_WINDOWS_KEPT) return;
    // Least recently drawn first; never those drawn by the last frame.
    const old = [...this.windows.values()].filter((w) => w.lastUsed < this.tick).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const w of old.slice(0, this.windows.size - MAX_WINDOWS_KEPT)) {
      w.texture.dispose();
      this.windows.delete(w.key);
    }
  }

  private mesh(scene: THREE.Scene, i: number): THREE.Mesh<THREE.PlaneGeometry, HeatMaterial> {
    let m = this.pool[i];
    if (!m) {
      const mat = heatMaterial();
      mat.depthTest = false;
      m = new THREE.Mesh(this.quad, mat);
      m.frustumCulled = false;
      this.pool.push(m);
    }
    if (m.parent !== scene) scene.add(m);
    m.visible = true;
    return m;
  }

  dispose(): void {
    this.disposed = true;
    this.quad.dispose();
    for (const m of this.pool) m.material.dispose();
    for (const s of this.stats.values()) s.texture.dispose();
    for (const w of this.windows.values()) w.texture.dispose();
  }
}
