import type { Rect, Viewport } from '../../../shared/map/geometry';

/**
 * The 2D explorer's camera: a centre on the map (map pixels, doubles) and a zoom (CSS pixels per
 * map pixel). Map y grows downwards, as on screen. Pure arithmetic, no DOM.
 */
export class Camera2D {
  cx = 0;
  cy = 0;
  zoom = 1;
  width = 1;
  height = 1;
  minZoom = 1e-9;
  maxZoom = 16;

  setSize(width: number, height: number): void {
    this.width = Math.max(1, width);
    this.height = Math.max(1, height);
  }

  /** The map box on screen, grown by `margin` of its size on each side. */
  viewport(margin = 0): Viewport {
    const hw = (this.width / 2 / this.zoom) * (1 + 2 * margin);
    const hh = (this.height / 2 / this.zoom) * (1 + 2 * margin);
    return { x0: this.cx - hw, y0: this.cy - hh, x1: this.cx + hw, y1: this.cy + hh };
  }

  screenToMap(sx: number, sy: number): { x: number; y: number } {
    return { x: this.cx + (sx - this.width / 2) / this.zoom, y: this.cy + (sy - this.height / 2) / this.zoom };
  }

  mapToScreen(x: number, y: number): { x: number; y: number } {
    return { x: (x - this.cx) * this.zoom + this.width / 2, y: (y - this.cy) * this.zoom + this.height / 2 };
  }

  /** Moves the map with the pointer: a drag of (dx, dy) screen pixels. */
  panBy(dx: number, dy: number): void {
    this.cx -= dx / this.zoom;
    this.cy -= dy / this.zoom;
  }

  clampZoom(z: number): number {
    return Math.min(this.maxZoom, Math.max(this.minZoom, z));
  }

  /** Zooms by `factor`, keeping the map point under screen (sx, sy) where it is. */
  zoomAt(factor: number, sx: number, sy: number): void {
    const before = this.screenToMap(sx, sy);
    this.zoom = this.clampZoom(this.zoom * factor);
    const after = this.screenToMap(sx, sy);
    this.cx += before.x - after.x;
    this.cy += before.y - after.y;
  }

  /** The centre and zoom that show `r` with `padding` (fraction of the screen) around it. */
  fitOf(r: Rect, padding = 0.1): { cx: number; cy: number; zoom: number } {
    const zx = (this.width * (1 - 2 * padding)) / Math.max(1, r.width);
    const zy = (this.height * (1 - 2 * padding)) / Math.max(1, r.height);
    return { cx: r.x + r.width / 2, cy: r.y + r.height / 2, zoom: this.clampZoom(Math.min(zx, zy)) };
  }

  fit(r: Rect, padding = 0.1): void {
    Object.assign(this, this.fitOf(r, padding));
  }

  /**
   * Keeps some of the map on screen: the view centre stays within half a view of `b` (and so
   * within the 2^53 px the channels accept).
   */
  keepNear(b: Rect): void {
    const hw = this.width / 2 / this.zoom;
    const hh = this.height / 2 / this.zoom;
    this.cx = Math.min(b.x + b.width + hw, Math.max(b.x - hw, this.cx));
    this.cy = Math.min(b.y + b.height + hh, Math.max(b.y - hh, this.cy));
  }

  /** The one of `models` whose box is nearest the view centre (the first of equals), or undefined. */
  nearest<M extends { box: Rect }>(models: readonly M[]): M | undefined {
    const { cx, cy } = this;
    const dist = (b: Rect) => Math.hypot(Math.max(b.x - cx, 0, cx - b.x - b.width), Math.max(b.y - cy, 0, cy - b.y - b.height));
    return [...models].sort((a, b) => dist(a.box) - dist(b.box))[0];
  }
}

export interface Pose {
  cx: number;
  cy: number;
  zoom: number;
}

/**
 * A flight between two poses: the centre moves along a straight line while the zoom follows a
 * curve in log space that dips out far enough to show both ends at mid-flight, so a long jump
 * reads as "out, across, in" instead of a blur.
 */
export function flightPose(from: Pose, to: Pose, t: number, screenWidth: number): Pose {
  const e = t <= 0 ? 0 : t >= 1 ? 1 : t * t * (3 - 2 * t);
  const dist = Math.hypot(to.cx - from.cx, to.cy - from.cy);
  const zMid = Math.min(from.zoom, to.zoom, dist > 0 ? (screenWidth * 0.8) / dist : Infinity);
  const l0 = Math.log(from.zoom);
  const l1 = Math.log(to.zoom);
  // A quadratic Bézier in log zoom whose control point puts the curve at zMid half way.
  const lc = 2 * Math.log(zMid) - (l0 + l1) / 2;
  const lz = (1 - e) * (1 - e) * l0 + 2 * e * (1 - e) * lc + e * e * l1;
  return { cx: from.cx + (to.cx - from.cx) * e, cy: from.cy + (to.cy - from.cy) * e, zoom: Math.exp(lz) };
}
