import { MapError } from './errors';

/**
 * Map coordinates are integer pixels on an unbounded plane, held in JS numbers. Every
 * coordinate and every extent (x + width) must stay within ±2^53 (Number.MAX_SAFE_INTEGER),
 * where integer arithmetic on doubles is still exact; that is ~9·10^15 px, room for millions
 * of 7B models side by side. Rectangles are half-open: [x, x + width) × [y, y + height).
 */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A viewport or query box in map pixels, half-open: [x0, x1) × [y0, y1). May be fractional. */
export interface Viewport {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export const MAX_COORD = Number.MAX_SAFE_INTEGER;

export function isSafeCoord(v: number): boolean {
  return Number.isSafeInteger(v);
}

/** Throws MAP_RANGE unless the rect is integral, non-negative in size and its far edges are safe. */
export function assertRect(r: Rect, what: string): void {
  for (const k of ['x', 'y', 'width', 'height'] as const) {
    if (!Number.isSafeInteger(r[k])) {
      throw new MapError('MAP_RANGE', `${what}: ${k} = ${r[k]} is not an integer within ±2^53`, { what, field: k, value: r[k] });
    }
  }
  if (r.width < 0 || r.height < 0) {
    throw new MapError('MAP_INPUT', `${what}: negative size ${r.width}x${r.height}`, { what, width: r.width, height: r.height });
  }
  if (!Number.isSafeInteger(r.x + r.width) || !Number.isSafeInteger(r.y + r.height)) {
    throw new MapError('MAP_RANGE', `${what}: far edge (${r.x + r.width}, ${r.y + r.height}) is beyond 2^53`, { what });
  }
}

export function assertViewport(v: Viewport, what = 'viewport'): void {
  for (const k of ['x0', 'y0', 'x1', 'y1'] as const) {
    if (typeof v[k] !== 'number' || !Number.isFinite(v[k])) {
      throw new MapError('MAP_INPUT', `${what}: ${k} = ${String(v[k])} is not a finite number`, { what, field: k });
    }
  }
  if (!(v.x1 > v.x0) || !(v.y1 > v.y0)) {
    throw new MapError('MAP_INPUT', `${what}: empty box x ${v.x0}..${v.x1}, y ${v.y0}..${v.y1}`, { what, ...v });
  }
}

/** True when two half-open rectangles share some area (touching edges do not overlap). */
export function rectsOverlap(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** True when the rect has area inside the viewport. A zero-size rect never intersects. */
export function rectInViewport(r: Rect, v: Viewport): boolean {
  return r.width > 0 && r.height > 0 && r.x < v.x1 && r.x + r.width > v.x0 && r.y < v.y1 && r.y + r.height > v.y0;
}

export function rectContains(outer: Rect, inner: Rect): boolean {
  return (
    inner.x >= outer.x &&
    inner.y >= outer.y &&
    inner.x + inner.width <= outer.x + outer.width &&
    inner.y + inner.height <= outer.y + outer.height
  );
}

/** The smallest rect holding all of them; null for none. */
export function unionRects(rs: readonly Rect[]): Rect | null {
  if (rs.length === 0) return null;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const r of rs) {
    x0 = Math.min(x0, r.x);
    y0 = Math.min(y0, r.y);
    x1 = Math.max(x1, r.x + r.width);
    y1 = Math.max(y1, r.y + r.height);
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

export function rectToViewport(r: Rect): Viewport {
  return { x0: r.x, y0: r.y, x1: r.x + r.width, y1: r.y + r.height };
}

/** Intersection of two rects, or null when they do not overlap. */
export function intersectRects(a: Rect, b: Rect): Rect | null {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null;
}
