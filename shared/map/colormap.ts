/**
 * Colormaps as piecewise-linear interpolation (in sRGB) between published anchor colours:
 *  - viridis: the ten colours of viridisLite's viridis(10) (matplotlib's perceptually uniform map);
 *  - diverging: Kenneth Moreland's cool-warm map ("Diverging Color Maps for Scientific
 *    Visualization", 2009) sampled at nine points, blue (low) through grey to red (high);
 *  - gray: black to white.
 */
import { MapError } from './errors';

export type ColormapName = 'viridis' | 'diverging' | 'gray';
export const COLORMAP_NAMES: readonly ColormapName[] = Object.freeze(['viridis', 'diverging', 'gray']);

type Rgb = readonly [number, number, number];

const ANCHORS: Readonly<Record<ColormapName, readonly Rgb[]>> = {
  viridis: [
    [0x44, 0x01, 0x54],
    [0x48, 0x28, 0x78],
    [0x3e, 0x4a, 0x89],
    [0x31, 0x68, 0x8e],
    [0x26, 0x82, 0x8e],
    [0x1f, 0x9e, 0x89],
    [0x35, 0xb7, 0x79],
    [0x6d, 0xcd, 0x59],
    [0xb4, 0xde, 0x2c],
    [0xfd, 0xe7, 0x25],
  ],
  diverging: [
    [59, 76, 192],
    [98, 130, 234],
    [141, 176, 254],
    [184, 208, 249],
    [221, 221, 221],
    [245, 196, 173],
    [244, 154, 123],
    [222, 96, 77],
    [180, 4, 38],
  ],
  gray: [
    [0, 0, 0],
    [255, 255, 255],
  ],
};

function anchorsOf(name: ColormapName): readonly Rgb[] {
  const a = ANCHORS[name];
  if (!a) throw new MapError('MAP_INPUT', `unknown colormap ${String(name)} (${COLORMAP_NAMES.join(', ')})`, { colormap: name });
  return a;
}

/** The colour at t in [0, 1] (clamped; NaN reads as 0.5), as 0..255 integers. */
export function colormapRgb(name: ColormapName, t: number): [number, number, number] {
  const a = anchorsOf(name);
  const u = Number.isNaN(t) ? 0.5 : t < 0 ? 0 : t > 1 ? 1 : t;
  const f = u * (a.length - 1);
  const i = Math.min(a.length - 2, Math.floor(f));
  const w = f - i;
  const p = a[i]!;
  const q = a[i + 1]!;
  return [Math.round(p[0] + (q[0] - p[0]) * w), Math.round(p[1] + (q[1] - p[1]) * w), Math.round(p[2] + (q[2] - p[2]) * w)];
}

/** A lookup table of `size` RGBA entries spanning the map (alpha 255). */
export function colormapLut(name: ColormapName, size = 256): Uint8Array {
  if (!Number.isInteger(size) || size < 2) throw new MapError('MAP_INPUT', `LUT size ${size} must be an integer >= 2`, { size });
  const lut = new Uint8Array(size * 4);
  for (let i = 0; i < size; i++) {
    const [r, g, b] = colormapRgb(name, i / (size - 1));
    lut.set([r, g, b, 255], i * 4);
  }
  return lut;
}

/** A colormap with the value range it spans. */
export interface ColorScale {
  colormap: ColormapName;
  lo: number;
  hi: number;
}

/**
 * The scale for values in [lo, hi]. 'auto' picks the diverging map centred on 0 (range ±max|v|)
 * when the range straddles zero, viridis otherwise. Non-finite bounds give [0, 0].
 */
export function scaleFor(lo: number, hi: number, colormap: ColormapName | 'auto' = 'auto'): ColorScale {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi < lo) return { colormap: colormap === 'auto' ? 'viridis' : colormap, lo: 0, hi: 0 };
  if (colormap === 'auto') {
    if (lo < 0 && hi > 0) {
      const m = Math.max(-lo, hi);
      return { colormap: 'diverging', lo: -m, hi: m };
    }
    return { colormap: 'viridis', lo, hi };
  }
  if (colormap === 'diverging') {
    const m = Math.max(Math.abs(lo), Math.abs(hi));
    return { colormap, lo: -m, hi: m };
  }
  return { colormap, lo, hi };
}

/** Position of v on the scale in [0, 1]; a degenerate scale (lo = hi) maps everything to 0.5. */
export function scalePosition(s: ColorScale, v: number): number {
  if (!(s.hi > s.lo)) return 0.5;
  const t = (v - s.lo) / (s.hi - s.lo);
  return t < 0 ? 0 : t > 1 ? 1 : t;
}

/**
 * Colours a size x size grid of values (NaN = no data → transparent) into RGBA bytes.
 * `lut` is colormapLut(scale.colormap) (passed in so callers build it once).
 */
export function heatToRgba(heat: ArrayLike<number>, scale: ColorScale, lut: Uint8Array = colormapLut(scale.colormap)): Uint8Array {
  const n = lut.length / 4;
  const out = new Uint8Array(heat.length * 4);
  for (let i = 0; i < heat.length; i++) {
    const v = heat[i]!;
    if (Number.isNaN(v)) continue; // alpha stays 0
    const j = Math.round(scalePosition(scale, v) * (n - 1)) * 4;
    out[i * 4] = lut[j]!;
    out[i * 4 + 1] = lut[j + 1]!;
    out[i * 4 + 2] = lut[j + 2]!;
    out[i * 4 + 3] = 255;
  }
  return out;
}
