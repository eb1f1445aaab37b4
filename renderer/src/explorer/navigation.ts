import type { Rect } from '../../../shared/map/geometry';
import { type Camera2D, flightPose, type Pose } from './camera';

const FLY_MS = 700;
/** Keyboard pan speed (screen px/s) and zoom rate (e-folds/s) while a key is held. */
const KEY_PAN = 900;
const KEY_ZOOM = 1.6;
const ZOOM_EASE_MS = 90;

/** The keys that pan and zoom the 2D map, held or tapped. */
export const MOVE_KEYS: readonly string[] = ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', '+', '-'];

interface Flight {
  from: Pose;
  to: Pose;
  start: number;
}

/**
 * How the 2D camera moves (specs/explorer.md, "What it shows"): flights to a rectangle, the
 * eased zoom about an anchor (wheel, buttons, a tapped key) and the keys held down (pan at
 * KEY_PAN px/s, zoom at KEY_ZOOM e-folds/s). `step` advances them frame by frame.
 */
export class Navigation {
  private flight: Flight | null = null;
  private zoomTarget = 1;
  private zoomAnchor = { x: 0, y: 0 };
  private readonly held = new Set<string>();

  constructor(
    private readonly cam: Camera2D,
    private readonly requestFrame: () => void,
  ) {}

  /** Stops a flight (the user took over the camera). */
  stop(): void {
    this.flight = null;
  }

  /** Centres the camera on map point (x, y) at once (the minimap). */
  jumpTo(x: number, y: number): void {
    this.flight = null;
    this.cam.cx = x;
    this.cam.cy = y;
    this.requestFrame();
  }

  /** Flies to show `r` with `padding` of the view around it (or goes there at once). */
  flyTo(r: Rect, padding: number, instant = false): void {
    const to = this.cam.fitOf(r, padding);
    if (instant) {
      Object.assign(this.cam, to);
      this.zoomTarget = to.zoom;
      this.flight = null;
    } else {
      this.flight = { from: { cx: this.cam.cx, cy: this.cam.cy, zoom: this.cam.zoom }, to, start: performance.now() };
    }
    this.requestFrame();
  }

  /** Eases the zoom by `f` about screen point (sx, sy). */
  zoomBy(f: number, sx: number, sy: number): void {
    this.flight = null;
    this.zoomTarget = this.cam.clampZoom(this.zoomTarget * f);
    this.zoomAnchor = { x: sx, y: sy };
    this.requestFrame();
  }

  /**
   * A move key pressed (`MOVE_KEYS`): a tap moves a step at once, and holding the key keeps
   * moving, frame by frame (`step`). False when the key was already down (a repeat).
   */
  press(k: string): boolean {
    if (this.held.has(k)) return false;
    this.flight = null;
    this.held.add(k);
    if (k === '+' || k === '-') this.zoomBy(k === '+' ? 1.25 : 1 / 1.25, this.cam.width / 2, this.cam.height / 2);
    else this.cam.panBy(k === 'ArrowLeft' ? 40 : k === 'ArrowRight' ? -40 : 0, k === 'ArrowUp' ? 40 : k === 'ArrowDown' ? -40 : 0);
    return true;
  }

  release(k: string): void {
    this.held.delete(k);
  }

  releaseAll(): void {
    this.held.clear();
  }

  /** Advances the flight, the eased zoom and (when `keys`) the held keys by dt ms; true while any still runs. */
  step(now: number, dt: number, keys: boolean): boolean {
    let busy = false;
    const cam = this.cam;
    if (this.flight) {
      const t = (now - this.flight.start) / FLY_MS;
      Object.assign(cam, flightPose(this.flight.from, this.flight.to, t, cam.width));
      this.zoomTarget = cam.zoom;
      if (t >= 1) this.flight = null;
      busy = true;
    }
    const ratio = this.zoomTarget / cam.zoom;
    if (Math.abs(Math.log(ratio)) > 1e-3) {
      const f = 1 - Math.exp(-dt / ZOOM_EASE_MS);
      cam.zoomAt(ratio ** f, this.zoomAnchor.x, this.zoomAnchor.y);
      busy = true;
    } else if (ratio !== 1) {
      cam.zoomAt(ratio, this.zoomAnchor.x, this.zoomAnchor.y);
    }
    if (this.held.size && keys) {
      const s = dt / 1000;
      const h = this.held;
      const vx = (h.has('ArrowRight') ? 1 : 0) - (h.has('ArrowLeft') ? 1 : 0);
      const vy = (h.has('ArrowDown') ? 1 : 0) - (h.has('ArrowUp') ? 1 : 0);
      if (vx || vy) cam.panBy(-vx * KEY_PAN * s, -vy * KEY_PAN * s);
      const vz = (h.has('+') ? 1 : 0) - (h.has('-') ? 1 : 0);
      if (vz) {
        // Scale the target too, so that a tap's eased zoom (zoomBy on keydown) still completes.
        const f = Math.exp(vz * KEY_ZOOM * s);
        cam.zoomAt(f, cam.width / 2, cam.height / 2);
        this.zoomTarget = cam.clampZoom(this.zoomTarget * f);
      }
      busy = true;
    }
    return busy;
  }
}
