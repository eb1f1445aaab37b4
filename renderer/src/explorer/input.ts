import type { MapRegionInfo } from '../../../shared/ipc/channels/map';
import type { Camera2D } from './camera';
import { MOVE_KEYS, type Navigation } from './navigation';

/** What the stage's pointer and keys act on. */
export interface MapInputTarget {
  mode(): '2d' | '3d';
  cam: Camera2D;
  nav: Navigation;
  requestFrame(): void;
  /** Restarts the frame clock (a tapped key moves from now, not from the last frame). */
  restartClock(): void;
  /** Eases the zoom by `f` about screen point (sx, sy) (2D only). */
  zoomBy(f: number, sx: number, sy: number): void;
  fitAll(): void;
  /** The region under screen point (x, y): the 2D map's, or the 3D stack's picked one. */
  regionAt(x: number, y: number): MapRegionInfo | null;
  select(region: MapRegionInfo | null): void;
  selected(): MapRegionInfo | undefined;
  focusRegion(r: MapRegionInfo): void;
  stepTensor(dir: 1 | -1): void;
}

/**
 * The stage's pointer, wheel and keyboard (specs/explorer.md, "What it shows"): drag to pan, a
 * click to select, the wheel to zoom about the pointer (sideways to pan, ctrl for a pinch),
 * arrows and +/− tapped or held, 0/Home to fit, Escape to clear, N/P (or ]/[) to step through
 * the tensors, Enter to show the selected one again. `pointer` and `down` are read by the hover.
 */
export class MapInput {
  pointer: { x: number; y: number } | null = null;
  down: { x: number; y: number; moved: boolean } | null = null;
  private readonly cleanups: (() => void)[] = [];

  constructor(stage: HTMLElement, canvas: HTMLCanvasElement, t: MapInputTarget) {
    const on = <K extends keyof HTMLElementEventMap>(el: HTMLElement, type: K, fn: (ev: HTMLElementEventMap[K]) => void, opts?: AddEventListenerOptions) => {
      el.addEventListener(type, fn as EventListener, opts);
      this.cleanups.push(() => el.removeEventListener(type, fn as EventListener, opts));
    };
    const local = (ev: MouseEvent) => {
      const r = stage.getBoundingClientRect();
      return { x: ev.clientX - r.left, y: ev.clientY - r.top };
    };
    on(canvas, 'pointerdown', (ev) => {
      if (ev.button !== 0) return;
      stage.focus({ preventScroll: true });
      this.down = { ...local(ev), moved: false };
      if (t.mode() === '2d') {
        canvas.setPointerCapture(ev.pointerId);
        t.nav.stop();
      }
    });
    on(canvas, 'pointermove', (ev) => {
      const p = local(ev);
      if (this.down && t.mode() === '2d') {
        const dx = p.x - (this.pointer?.x ?? p.x);
        const dy = p.y - (this.pointer?.y ?? p.y);
        if (!this.down.moved && Math.hypot(p.x - this.down.x, p.y - this.down.y) > 3) this.down.moved = true;
        if (this.down.moved) t.cam.panBy(dx, dy);
      } else if (this.down && Math.hypot(p.x - this.down.x, p.y - this.down.y) > 3) {
        this.down.moved = true;
      }
      this.pointer = p;
      t.requestFrame();
    });
    on(canvas, 'pointerup', (ev) => {
      const d = this.down;
      this.down = null;
      if (!d || d.moved) return;
      const p = local(ev);
      t.select(t.regionAt(p.x, p.y));
    });
    on(canvas, 'pointerleave', () => {
      this.pointer = null;
      t.requestFrame();
    });
    on(
      canvas,
      'wheel',
      (ev) => {
        if (t.mode() !== '2d') return;
        ev.preventDefault();
        const p = local(ev);
        const unit = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? t.cam.height : 1;
        if (!ev.ctrlKey && Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
          // Sideways scrolling (a trackpad's two-finger pan): move, do not zoom.
          t.cam.panBy(-ev.deltaX * unit, -ev.deltaY * unit);
          t.requestFrame();
          return;
        }
        // Pinch arrives as ctrl+wheel with small deltas: more zoom per unit.
        t.zoomBy(Math.exp(-ev.deltaY * unit * (ev.ctrlKey ? 0.01 : 0.002)), p.x, p.y);
      },
      { passive: false },
    );
    const keyName = (ev: KeyboardEvent) => (ev.key === '=' ? '+' : ev.key === '_' ? '-' : ev.key);
    on(stage, 'keydown', (ev) => {
      const k = keyName(ev);
      if (MOVE_KEYS.includes(k)) {
        ev.preventDefault();
        if (t.mode() !== '2d') return;
        // A tap moves a step at once; holding the key keeps moving, frame by frame.
        if (!ev.repeat && t.nav.press(k)) {
          t.restartClock();
          t.requestFrame();
        }
      } else if (k === '0' || k === 'Home') {
        ev.preventDefault();
        t.fitAll();
      } else if (k === 'Escape') {
        t.select(null);
      } else if (k === 'n' || k === ']' || k === 'p' || k === '[' || k === 'N') {
        // Next / previous tensor of the model in view, in map order (Tab stays free to leave the map).
        ev.preventDefault();
        t.stepTensor(k === 'n' || k === ']' ? 1 : -1);
      } else if (k === 'Enter') {
        const r = t.selected();
        if (r) {
          ev.preventDefault();
          t.focusRegion(r);
        }
      }
    });
    on(stage, 'keyup', (ev) => t.nav.release(keyName(ev)));
    on(stage, 'blur', () => t.nav.releaseAll());
  }

  dispose(): void {
    for (const c of this.cleanups) c();
  }
}
