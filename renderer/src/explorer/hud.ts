import type { Camera2D } from './camera';
import { fmtBytes } from './format';
import type { MapData } from './map-data';
import type { ShapeLayer } from './shape-layer';
import type { TextureCache } from './texture-cache';
import type { View2D } from './view2d';
import type { View3D } from './view3d';

/** What the HUD reports on. */
export interface HudSources {
  root: HTMLElement;
  cam: Camera2D;
  cache: TextureCache;
  data: MapData;
  view2d: View2D;
  view3d: View3D;
  shapes: ShapeLayer;
  mode(): '2d' | '3d';
}

/**
 * The explorer's frame statistics: the toolbar's HUD line (level, tiles, textures, frame rate),
 * the note over the stage (too much in view, heat images loading) and the root's data attributes
 * that tests and the benchmark read (camera, cells, textures, frames, loading, animating).
 */
export class FrameHud {
  private frames = 0;
  private renderMs = 0;
  private readonly frameTimes: number[] = [];
  private hudAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;

  constructor(
    /** The toolbar's line and the note over the stage. */
    private readonly hud: HTMLElement,
    private readonly note: HTMLElement,
    private readonly s: HudSources,
  ) {}

  /** A frame drawn at `now` that took `ms`; `busy` while an animation still runs. */
  frameDone(now: number, ms: number, busy: boolean): void {
    this.frames++;
    this.renderMs += ms;
    this.frameTimes.push(now);
    while (this.frameTimes.length && this.frameTimes[0]! < now - 1000) this.frameTimes.shift();
    this.update(now, busy);
    if (!busy) {
      // Once frames stop, the HUD says so a second later.
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.disposed) this.update(performance.now(), false);
      }, 1100);
    }
  }

  private update(now: number, busy: boolean): void {
    if (busy && now - this.hudAt < 200) return;
    // (data-animating is kept exact: requestFrame sets it, the last frame of a run clears it.)
    this.hudAt = now;
    const { cam, data, view2d, shapes } = this.s;
    const mode = this.s.mode();
    const s = this.s.cache.stats();
    // Frames in the last second: a frame rate only while frames run back to back (on demand
    // rendering draws nothing when nothing changes).
    const fps = this.frameTimes.filter((t) => t > now - 1000).length;
    const rate = fps >= 2 ? `${fps} fps` : 'idle';
    const d = this.s.root.dataset;
    d.level = String(data.level);
    d.levelsRequested = data.levelsRequested.join(',');
    d.zoom = String(cam.zoom);
    d.cx = String(cam.cx);
    d.cy = String(cam.cy);
    d.width = String(cam.width);
    d.height = String(cam.height);
    d.cells = String(data.cells.length);
    d.drawn = String(view2d.drawn);
    d.textures = String(s.textures);
    d.textureBytes = String(s.bytes);
    d.textureBudget = String(s.budgetBytes);
    d.evictions = String(s.evictions);
    d.frames = String(this.frames);
    d.renderMs = this.renderMs.toFixed(1);
    d.fps = String(fps);
    d.loading = String(data.loading || data.missing() > 0 || (mode === '2d' && shapes.missing() > 0));
    d.shapes = String(shapes.drawnShapes);
    d.valueWindows = String(shapes.drawnWindows);
    d.animating = String(busy);
    const standIns = view2d.standIns ? ` (${view2d.standIns} from other levels)` : '';
    this.hud.textContent =
      mode === '2d'
        ? `level ${data.level} · ${view2d.drawn} tiles${standIns} · textures ${s.textures} = ${fmtBytes(s.bytes)} of ${fmtBytes(s.budgetBytes)} · ${rate}`
        : `3D · ${this.s.view3d.layout?.layers ?? 0} layers · textures ${s.textures} = ${fmtBytes(s.bytes)} · ${rate}`;
    const notes: string[] = [];
    if (mode === '2d' && data.truncated) notes.push('Too much in view: showing the first 2000; zoom in for the rest.');
    if (data.missing() > 0) notes.push(`Loading ${data.missing()} heat images…`);
    this.note.hidden = notes.length === 0;
    this.note.textContent = notes.join(' ');
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }
}
