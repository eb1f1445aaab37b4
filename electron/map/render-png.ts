/**
 * Renders the map (a model, the whole map, or a viewport) to a PNG from the pyramid
 * (specs/map.md, "Map image"); backs `pxi map --png out.png`.
 *
 * The output's long side is exactly `maxSize` pixels. Each weights region draws its cells at
 * the coarsest level that still gives one heat pixel per output pixel (lod.chooseLevel),
 * sampled nearest at output pixel centres; values go through a colormap over the chosen range.
 * Regions without a pyramid show a flat "no data" grey, activations and KV cache flat colours,
 * free space the background; every region gets a 1-pixel outline in a contrasting colour.
 */
import { PNG } from 'pngjs';
import { colormapLut, scaleFor, scalePosition, type ColorScale, type ColormapName } from '../../shared/map/colormap';
import { MapError } from '../../shared/map/errors';
import { assertViewport, rectToViewport, type Viewport } from '../../shared/map/geometry';
import { chooseLevel, cellNominalRect, MAX_LEVEL } from '../../shared/map/lod';
import { DEFAULT_HEAT_SIZE } from '../../shared/map/pyramid-core';
import type { MapIndex } from './map-index';
import { MAX_QUERY_LIMIT, type IndexedRegion } from './map-types';

export type Rgb = readonly [number, number, number];

/**
 * Value range the colours span: 'tensor' = each tensor's range of level-0 heat means (the
 * default: means of many values sit far inside the value range, which would render flat);
 * 'tensor-values' = each tensor's min..max; 'shared' = one range over all drawn tensors' heat
 * means (so different tensors compare); or an explicit range.
 */
export type RangeMode = 'tensor' | 'tensor-values' | 'shared' | { lo: number; hi: number };

export interface RenderMapOptions {
  index: MapIndex;
  /** Only this model (and, without a viewport, its bounding box). */
  modelId?: string;
  /** Map pixels to draw; default the model's box, or the whole map. */
  viewport?: Viewport;
  /** Long side of the image in pixels (1..8192, default 1024). */
  maxSize?: number;
  /** Default 'auto': diverging around 0 when a range straddles it, else viridis. */
  colormap?: ColormapName | 'auto';
  range?: RangeMode;
  /** Force one LOD level instead of choosing per region. */
  level?: number;
  background?: Rgb;
  /** Region outline colour; null for none. */
  outline?: Rgb | null;
}

export interface RenderedMap {
  width: number;
  height: number;
  /** PNG file bytes (RGBA8). */
  bytes: Uint8Array;
  /** The map area drawn and output pixels per map pixel. */
  viewport: Viewport;
  scale: number;
  /** The LOD levels used. */
  levels: number[];
}

export const MAP_COLORS = Object.freeze({
  background: [24, 24, 28] as Rgb,
  noData: [70, 70, 74] as Rgb,
  activations: [38, 84, 110] as Rgb,
  kvCache: [120, 78, 30] as Rgb,
  corpus: [52, 110, 78] as Rgb,
  outline: [255, 0, 255] as Rgb,
  freeOutline: [90, 90, 100] as Rgb,
});

const MAX_SIZE = 8192;

class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    bg: Rgb,
  ) {
    this.data = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) this.data.set([bg[0], bg[1], bg[2], 255], i * 4);
  }

  set(i: number, j: number, r: number, g: number, b: number): void {
    const o = (j * this.width + i) * 4;
    this.data[o] = r;
    this.data[o + 1] = g;
    this.data[o + 2] = b;
  }
}

/** Output pixels whose centres fall in the map interval [a, a + len): [first, end). */
function span(a: number, len: number, origin: number, scale: number, size: number): [number, number] {
  const first = Math.max(0, Math.ceil((a - origin) * scale - 0.5));
  const end = Math.min(size, Math.ceil((a + len - origin) * scale - 0.5));
  return [first, end];
}

function fillRect(cv: Canvas, v: Viewport, s: number, r: { x: number; y: number; width: number; height: number }, c: Rgb): void {
  const [i0, i1] = span(r.x, r.width, v.x0, s, cv.width);
  const [j0, j1] = span(r.y, r.height, v.y0, s, cv.height);
  for (let j = j0; j < j1; j++) for (let i = i0; i < i1; i++) cv.set(i, j, c[0], c[1], c[2]);
}

/** A 1-pixel outline; at least one pixel wide even for regions smaller than a pixel. */
function strokeRect(cv: Canvas, v: Viewport, s: number, r: { x: number; y: number; width: number; height: number }, c: Rgb): void {
  const left = Math.floor((r.x - v.x0) * s);
  const top = Math.floor((r.y - v.y0) * s);
  const right = Math.max(left, Math.ceil((r.x + r.width - v.x0) * s) - 1);
  const bottom = Math.max(top, Math.ceil((r.y + r.height - v.y0) * s) - 1);
  const iA = Math.max(0, left);
  const iB = Math.min(cv.width - 1, right);
  const jA = Math.max(0, top);
  const jB = Math.min(cv.height - 1, bottom);
  if (iA > iB || jA > jB) return;
  for (let i = iA; i <= iB; i++) {
    if (top >= 0) cv.set(i, top, c[0], c[1], c[2]);
    if (bottom < cv.height) cv.set(i, bottom, c[0], c[1], c[2]);
  }
  for (let j = jA; j <= jB; j++) {
    if (left >= 0) cv.set(left, j, c[0], c[1], c[2]);
    if (right < cv.width) cv.set(right, j, c[0], c[1], c[2]);
  }
}

function heatRange(r: IndexedRegion): [number, number] | null {
  const p = r.pyramid;
  if (p.heatMin !== null && p.heatMax !== null) return [p.heatMin, p.heatMax];
  if (p.stats && p.stats.count > 0) return [p.stats.min, p.stats.max];
  return null;
}

function scaleForRegion(r: IndexedRegion, mode: RangeMode, shared: [number, number] | null, cmap: ColormapName | 'auto'): ColorScale | null {
  let range: [number, number] | null;
  if (typeof mode === 'object') range = [mode.lo, mode.hi];
  else if (mode === 'shared') range = shared;
  else if (mode === 'tensor-values') range = r.pyramid.stats && r.pyramid.stats.count > 0 ? [r.pyramid.stats.min, r.pyramid.stats.max] : null;
  else range = heatRange(r);
  return range ? scaleFor(range[0], range[1], cmap) : null;
}

export async function renderMapPng(opts: RenderMapOptions): Promise<RenderedMap> {
  const { index } = opts;
  const maxSize = opts.maxSize ?? 1024;
  if (!Number.isInteger(maxSize) || maxSize < 1 || maxSize > MAX_SIZE) {
    throw new MapError('MAP_INPUT', `maxSize ${maxSize} is not an integer in 1..${MAX_SIZE}`, { maxSize });
  }
  const mode = opts.range ?? 'tensor';
  if (typeof mode === 'object' && !(Number.isFinite(mode.lo) && Number.isFinite(mode.hi) && mode.hi >= mode.lo)) {
    throw new MapError('MAP_INPUT', `range ${mode.lo}..${mode.hi} is not a finite interval`, { ...mode });
  }
  if (opts.level !== undefined && (!Number.isInteger(opts.level) || opts.level < 0 || opts.level > MAX_LEVEL)) {
    throw new MapError('MAP_INPUT', `level ${opts.level} is not an integer in 0..${MAX_LEVEL}`, { level: opts.level });
  }
  let view: Viewport;
  if (opts.viewport) {
    assertViewport(opts.viewport);
    view = { ...opts.viewport };
  } else {
    const box = opts.modelId !== undefined ? index.modelBox(opts.modelId) : index.mapBounds();
    if (!box) throw new MapError('MAP_NOT_FOUND', opts.modelId !== undefined ? `model ${opts.modelId} is not on the map` : 'the map is empty', { modelId: opts.modelId });
    view = rectToViewport(box);
  }
  const vw = view.x1 - view.x0;
  const vh = view.y1 - view.y0;
  const scale = maxSize / Math.max(vw, vh);
  const width = Math.max(1, Math.min(maxSize, Math.round(vw * scale)));
  const height = Math.max(1, Math.min(maxSize, Math.round(vh * scale)));
  const cmap = opts.colormap ?? 'auto';
  const cv = new Canvas(width, height, opts.background ?? MAP_COLORS.background);

  const q = index.queryRegions(view, { modelId: opts.modelId, limit: MAX_QUERY_LIMIT });
  const regions = q.items;
  let shared: [number, number] | null = null;
  for (const r of regions) {
    if (r.kind !== 'weights') continue;
    const h = heatRange(r);
    if (h) shared = shared ? [Math.min(shared[0], h[0]), Math.max(shared[1], h[1])] : h;
  }

  // Flat fills first, then cells over them, outlines last.
  const byId = new Map<string, { region: IndexedRegion; level: number; scale: ColorScale | null }>();
  const levels = new Set<number>();
  for (const r of regions) {
    if (r.kind === 'activations') fillRect(cv, view, scale, r, MAP_COLORS.activations);
    else if (r.kind === 'kv-cache') fillRect(cv, view, scale, r, MAP_COLORS.kvCache);
    else if (r.kind === 'corpus') fillRect(cv, view, scale, r, MAP_COLORS.corpus);
    else if (r.kind === 'weights') {
      fillRect(cv, view, scale, r, MAP_COLORS.noData);
      if (r.pyramid.state !== 'built' || r.grid.tileCount === 0) continue;
      const level = opts.level ?? chooseLevel(scale, r.grid.tileWidth, r.grid.tileHeight, r.pyramid.heatSize ?? DEFAULT_HEAT_SIZE);
      byId.set(r.id, { region: r, level, scale: scaleForRegion(r, mode, shared, cmap) });
      levels.add(level);
    }
  }

  const luts = new Map<ColormapName, Uint8Array>();
  const lutOf = (name: ColormapName): Uint8Array => {
    let l = luts.get(name);
    if (!l) luts.set(name, (l = colormapLut(name)));
    return l;
  };
  for (const level of [...levels].sort((a, b) => a - b)) {
    // Cells under an output pixel are covered by their region's outline anyway.
    index.forEachCell(view, { level, modelId: opts.modelId, kinds: ['weights'], withHeat: true, minSize: 1 / scale }, (cell) => {
      const e = byId.get(cell.regionId);
      if (!e || e.level !== level || !e.scale || !cell.heat) return;
      const heat = cell.heat;
      const hs = Math.round(Math.sqrt(heat.length));
      const lut = lutOf(e.scale.colormap);
      const nLut = lut.length / 4;
      const nom = cellNominalRect(e.region, cell.level, cell.col, cell.row);
      const [i0, i1] = span(cell.x, cell.width, view.x0, scale, width);
      const [j0, j1] = span(cell.y, cell.height, view.y0, scale, height);
      for (let j = j0; j < j1; j++) {
        const my = view.y0 + (j + 0.5) / scale;
        const hy = Math.min(hs - 1, Math.floor(((my - nom.y) * hs) / nom.height));
        for (let i = i0; i < i1; i++) {
          const mx = view.x0 + (i + 0.5) / scale;
          const hx = Math.min(hs - 1, Math.floor(((mx - nom.x) * hs) / nom.width));
          const v = heat[hy * hs + hx]!;
          if (Number.isNaN(v)) continue;
          const k = Math.round(scalePosition(e.scale!, v) * (nLut - 1)) * 4;
          cv.set(i, j, lut[k]!, lut[k + 1]!, lut[k + 2]!);
        }
      }
    });
  }

  const outline = opts.outline === undefined ? MAP_COLORS.outline : opts.outline;
  if (outline) {
    for (const r of regions) strokeRect(cv, view, scale, r, r.kind === 'free' ? MAP_COLORS.freeOutline : outline);
  }

  const png = new PNG({ width, height });
  png.data.set(cv.data);
  const bytes = PNG.sync.write(png);
  return { width, height, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), viewport: view, scale, levels: [...levels].sort((a, b) => a - b) };
}
