import type { MapRegionInfo } from '../../../shared/ipc/channels/map';
import type { Camera2D } from './camera';
import type { Overview } from './map-data';
import type { View3D } from './view3d';

const MAX_LABELS = 500;

/** Sizes the label canvas to w × h CSS pixels (at up to twice the device pixel ratio). */
export function sizeLabels(labels: HTMLCanvasElement, w: number, h: number): void {
  const dpr = Math.min(2, window.devicePixelRatio || 1);
  labels.width = Math.round(w * dpr);
  labels.height = Math.round(h * dpr);
  labels.style.width = `${w}px`;
  labels.style.height = `${h}px`;
}

/** The label canvas cleared and scaled to CSS pixels, or null without a 2D context. */
function labelContext(labels: HTMLCanvasElement, cam: Camera2D): CanvasRenderingContext2D | null {
  const g = labels.getContext('2d');
  if (!g) return null;
  const dpr = labels.width / Math.max(1, cam.width);
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, cam.width, cam.height);
  return g;
}

/**
 * Tensor names inside their rectangles, sized with the zoom, skipped where they do not fit; then
 * the group labels. Returns how many tensor names were drawn (null without a 2D context).
 */
export function drawLabels2d(labels: HTMLCanvasElement, cam: Camera2D, regions: readonly MapRegionInfo[], overview: Overview | null, selectedId: string | null): number | null {
  const g = labelContext(labels, cam);
  if (!g) return null;
  g.textBaseline = 'top';
  let n = 0;
  for (const r of regions) {
    if (n >= MAX_LABELS) break;
    const w = r.rect.width * cam.zoom;
    const h = r.rect.height * cam.zoom;
    if (w < 40 || h < 12) continue;
    const p = cam.mapToScreen(r.rect.x, r.rect.y);
    if (p.x > cam.width || p.y > cam.height || p.x + w < 0 || p.y + h < 0) continue;
    const size = Math.max(9, Math.min(22, h * 0.14, (w - 6) / (r.name.length * 0.58)));
    g.font = `${size.toFixed(1)}px system-ui, sans-serif`;
    const tw = g.measureText(r.name).width;
    if (tw > w - 6) continue;
    const x = Math.max(p.x + 3, Math.min(p.x + w - 3 - tw, 3));
    // Above the rectangle, in the gap between tensors, when the gap has room (the tensor's
    // first rows are data); otherwise inside its top edge, outlined to stay readable.
    const gap = (r.grid.tileHeight / 8) * cam.zoom;
    const above = gap >= size + 4 && p.y - size - 2 >= 0;
    const y = above ? p.y - size - 2 : Math.max(p.y + 3, Math.min(p.y + h - size - 3, 3));
    g.lineWidth = 3;
    g.strokeStyle = 'rgba(15,17,21,0.85)';
    g.strokeText(r.name, x, y);
    g.fillStyle = r.id === selectedId ? '#6cb4ff' : '#e6e8ee';
    g.fillText(r.name, x, y);
    n++;
  }
  drawGroupLabels(g, cam, regions, overview);
  return n;
}

/**
 * Zoomed out, where tensor names no longer fit: the blocks' names over their columns and the
 * models' names over their boxes, sized with the zoom.
 */
function drawGroupLabels(g: CanvasRenderingContext2D, cam: Camera2D, regions: readonly MapRegionInfo[], o: Overview | null): void {
  if (!o || o.tileWidth * cam.zoom >= 60) return;
  const cols = new Map<string, { block: number; x0: number; x1: number; y: number }>();
  for (const r of regions) {
    if (r.block === null || r.kind !== 'weights') continue;
    const k = `${r.modelId}|${r.block}`;
    const c = cols.get(k);
    if (!c) cols.set(k, { block: r.block, x0: r.rect.x, x1: r.rect.x + r.rect.width, y: r.rect.y });
    else {
      c.x0 = Math.min(c.x0, r.rect.x);
      c.x1 = Math.max(c.x1, r.rect.x + r.rect.width);
      c.y = Math.min(c.y, r.rect.y);
    }
  }
  g.textBaseline = 'bottom';
  g.lineWidth = 3;
  g.strokeStyle = 'rgba(15,17,21,0.85)';
  g.fillStyle = '#8b93a7';
  for (const c of cols.values()) {
    const w = (c.x1 - c.x0) * cam.zoom;
    if (w < 16) continue;
    const size = Math.max(9, Math.min(16, w * 0.2));
    const p = cam.mapToScreen(c.x0, c.y);
    g.font = `${size.toFixed(1)}px system-ui, sans-serif`;
    g.strokeText(String(c.block), p.x, p.y - 2);
    g.fillText(String(c.block), p.x, p.y - 2);
  }
  g.fillStyle = '#e6e8ee';
  for (const m of o.models) {
    const p = cam.mapToScreen(m.box.x, m.box.y);
    const w = m.box.width * cam.zoom;
    if (w < 40 || p.x > cam.width || p.x + w < 0) continue;
    const size = Math.max(11, Math.min(20, w * 0.05));
    g.font = `600 ${size.toFixed(1)}px system-ui, sans-serif`;
    const y = p.y - 2 - Math.max(9, Math.min(16, o.tileWidth * cam.zoom * 8 * 0.2)) - 4;
    g.strokeText(m.name, Math.max(p.x, 3), Math.max(size + 2, y));
    g.fillText(m.name, Math.max(p.x, 3), Math.max(size + 2, y));
  }
}

/**
 * The 3D stack's layer names, and the selected tensor's name over it. Returns the selected
 * tensor's centre on screen ("x,y", tests aim at it), or null when there is none to report.
 */
export function drawLabels3d(labels: HTMLCanvasElement, cam: Camera2D, view3d: View3D, selectedId: string | null, nameOf: (id: string) => string): string | null {
  const g = labelContext(labels, cam);
  const layout = view3d.layout;
  if (!g || !layout) return null;
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#8b93a7';
  g.textBaseline = 'bottom';
  let lastY = Infinity;
  for (let l = 0; l < layout.layers; l++) {
    const p = view3d.layerLabelSpot(l, cam.width, cam.height);
    if (!p || Math.abs(p.y - lastY) < 14) continue;
    lastY = p.y;
    g.textAlign = 'right';
    g.fillText(layout.names[l]!, p.x - 4, p.y);
  }
  let centre: string | null = null;
  if (selectedId) {
    const c = view3d.project(selectedId, cam.width, cam.height, true);
    if (c) centre = `${c.x.toFixed(1)},${c.y.toFixed(1)}`;
    const p = view3d.project(selectedId, cam.width, cam.height);
    const name = nameOf(selectedId);
    if (p) {
      g.font = '13px system-ui, sans-serif';
      g.textAlign = 'left';
      const w = g.measureText(name).width;
      g.fillStyle = 'rgba(15,17,21,0.8)';
      g.fillRect(p.x - 2, p.y - 18, w + 6, 17);
      g.fillStyle = '#6cb4ff';
      g.fillText(name, p.x + 1, p.y - 3);
    }
  }
  return centre;
}
