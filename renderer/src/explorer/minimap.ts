import type { MapModelInfo, MapRegionInfo } from '../../../shared/ipc/channels/map';
import type { Rect, Viewport } from '../../../shared/map/geometry';
import type { TensorShape } from '../../../shared/map/shape';

const KIND_FILL: Record<MapRegionInfo['kind'], string> = {
  weights: '#8a4f98',
  activations: '#4d6478',
  'kv-cache': '#7a5a3d',
  free: '#2b2436',
  corpus: '#3d6b4f',
};
/** The room around a tensor drawn in its shape: the rest of its tiles, dimmer than the tensor. */
const ROOM_FILL = '#2e2238';

/**
 * The minimap: the whole map's models and regions drawn once to an offscreen canvas, the
 * current view as a rectangle over it. A tensor with a shape is drawn as its columns × rows in
 * its room (as the 2D view draws it), the room dimmer; other regions as their rectangles. Pointer down/drag on it calls `onJump` with a map point.
 */
export class Minimap {
  readonly canvas: HTMLCanvasElement;
  private readonly base = document.createElement('canvas');
  private bounds: Rect | null = null;
  private scale = 1;
  private readonly width: number;
  private height = 0;

  constructor(width: number, onJump: (x: number, y: number) => void) {
    this.width = width;
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'ex-minimap';
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', 'Minimap: the whole map, with the current view outlined. Click to move there.');
    let down = false;
    const jump = (ev: PointerEvent) => {
      if (!this.bounds) return;
      const r = this.canvas.getBoundingClientRect();
      onJump(this.bounds.x + (ev.clientX - r.left) / this.scale, this.bounds.y + (ev.clientY - r.top) / this.scale);
    };
    this.canvas.addEventListener('pointerdown', (ev) => {
      down = true;
      this.canvas.setPointerCapture(ev.pointerId);
      jump(ev);
      ev.stopPropagation();
    });
    this.canvas.addEventListener('pointermove', (ev) => {
      if (down) jump(ev);
    });
    this.canvas.addEventListener('pointerup', () => (down = false));
  }

  /** Tensors drawn in their shape by the last setMap (tests read it). */
  shaped = 0;

  setMap(bounds: Rect, models: MapModelInfo[], regions: MapRegionInfo[], shapeOf: (r: MapRegionInfo) => TensorShape | null = () => null): void {
    this.bounds = bounds;
    this.scale = this.width / Math.max(1, bounds.width);
    this.height = Math.max(24, Math.min(160, Math.ceil(bounds.height * this.scale)));
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    for (const c of [this.base, this.canvas]) {
      c.width = Math.round(this.width * dpr);
      c.height = Math.round(this.height * dpr);
    }
    this.canvas.style.width = `${this.width}px`;
    this.canvas.style.height = `${this.height}px`;
    const g = this.base.getContext('2d')!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = '#0b0d11';
    g.fillRect(0, 0, this.width, this.height);
    const px = (r: Rect) => [(r.x - bounds.x) * this.scale, (r.y - bounds.y) * this.scale, Math.max(0.6, r.width * this.scale), Math.max(0.6, r.height * this.scale)] as const;
    this.shaped = 0;
    for (const r of regions) {
      const shape = shapeOf(r);
      g.fillStyle = shape ? ROOM_FILL : KIND_FILL[r.kind];
      g.fillRect(...px(r.rect));
      if (!shape) continue;
      g.fillStyle = KIND_FILL[r.kind];
      g.fillRect(...px(shape));
      this.shaped++;
    }
    this.canvas.dataset.shaped = String(this.shaped);
    g.strokeStyle = '#8b93a7';
    g.lineWidth = 1;
    for (const m of models) {
      const [x, y, w, h] = px(m.box);
      g.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
    }
  }

  /** Redraws the view rectangle. */
  draw(view: Viewport): void {
    if (!this.bounds) return;
    const g = this.canvas.getContext('2d')!;
    const dpr = this.canvas.width / this.width;
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.drawImage(this.base, 0, 0);
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const b = this.bounds;
    const x0 = (view.x0 - b.x) * this.scale;
    const y0 = (view.y0 - b.y) * this.scale;
    const w = Math.max(2, (view.x1 - view.x0) * this.scale);
    const h = Math.max(2, (view.y1 - view.y0) * this.scale);
    g.strokeStyle = '#6cb4ff';
    g.lineWidth = 1.5;
    g.strokeRect(x0, y0, w, h);
  }
}
