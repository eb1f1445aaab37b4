/**
 * Lit passages (specs/explorer.md, "Passages on the map"): the passages a Chat answer used,
 * drawn over their corpus's region of text tiles. The services say where each passage's bytes
 * lie (`corpus:passage-rects`); the layer fills those rectangles and outlines each passage's
 * bounding box (outlines are one screen pixel at any zoom, so a passage a few pixel rows tall
 * stays visible zoomed out), and a legend line says what is lit. Data attributes on the legend
 * (`data-state`, `data-passages`, `data-rects`) say what was drawn, for tests.
 */
import * as THREE from 'three';
import { RectOverlay } from './rect-overlay';
import type { LinkedPassage } from '../../../shared/corpus/passage-link';
import type { PxiApi } from '../../../shared/ipc/client';
import { unionRects, type Rect } from '../../../shared/map/geometry';
import { el } from '../components/el';

const FILL = 0x7dffb0;
const OUTLINE = 0xb8ffd4;
/** Over the map's heat, the outlines and the live engine; under hover and selection. */
const ORDER = 4.5;

export interface LitTarget {
  /** The corpus's box on the map (null when it is not on the map). */
  box: Rect | null;
  /** The rectangles of the passage to fly to (empty when it is not on the map). */
  focus: Rect[];
}

export class PassageLayer {
  readonly legend: HTMLElement;
  private readonly fill = new RectOverlay(new THREE.MeshBasicMaterial({ color: FILL, transparent: true, opacity: 0.85, depthTest: false }), ORDER);
  private readonly lineMaterial = new THREE.LineBasicMaterial({ color: OUTLINE, depthTest: false });
  private rects: Rect[] = [];
  private boxes: Rect[] = [];
  private lines: THREE.LineSegments | null = null;

  constructor(
    private readonly api: PxiApi,
    private readonly changed: () => void,
  ) {
    this.legend = el('div', { className: 'ex-passage-legend', id: 'ex-passage-legend', hidden: true });
    this.legend.setAttribute('role', 'status');
  }

  /** Lights `passages` of `corpus`; the corpus's box and the focused passage's rectangles, to fly to. */
  async show(corpus: string, passages: readonly LinkedPassage[], focus: number): Promise<LitTarget> {
    const d = this.legend.dataset;
    d.corpus = corpus;
    d.state = 'loading';
    this.legend.hidden = false;
    this.legend.textContent = `Finding the passages used by the last answer in ${corpus}…`;
    try {
      const r = await this.api.call('corpus:passage-rects', { corpus, passages: [...passages] });
      const on = r.passages.filter((p) => p.rects.length > 0);
      this.rects = on.flatMap((p) => p.rects);
      this.boxes = on.map((p) => unionRects(p.rects)!);
      this.fill.invalidate();
      d.passages = String(on.length);
      d.rects = String(this.rects.length);
      if (!r.box || on.length === 0) {
        d.state = 'off-map';
        this.legend.textContent = `The passages used by the last answer are not on the map: ${corpus} has no region there.`;
        return { box: r.box, focus: [] };
      }
      d.state = 'lit';
      const n = on.length;
      this.legend.replaceChildren(
        el('span', { className: 'ex-passage-swatch' }),
        `Lit: ${n} passage${n === 1 ? '' : 's'} used by the last answer, in ${corpus}'s text tiles`,
      );
      this.changed();
      const f = r.passages[Math.min(Math.max(0, focus), r.passages.length - 1)]!;
      return { box: r.box, focus: f.rects.length ? f.rects : this.rects };
    } catch (e) {
      d.state = 'error';
      this.legend.textContent = `The passages used by the last answer could not be placed: ${(e as Error).message}`;
      throw e;
    }
  }

  /** The passage boxes lit, or [] (for the tooltip and tests). */
  get litBoxes(): readonly Rect[] {
    return this.boxes;
  }

  /** Puts the lit passages into the 2D scene (world = map px relative to `origin`, y up). */
  draw(scene: THREE.Scene, origin: { x: number; y: number }): void {
    if (!this.fill.stale(scene, origin)) return;
    this.clearLines();
    this.fill.draw(scene, origin, this.rects);
    if (this.rects.length === 0) return;
    const p = new Float32Array(this.boxes.length * 24);
    let i = 0;
    for (const b of this.boxes) {
      const x0 = b.x - origin.x;
      const x1 = b.x + b.width - origin.x;
      const y0 = -(b.y - origin.y);
      const y1 = -(b.y + b.height - origin.y);
      for (const v of [x0, y0, 0, x1, y0, 0, x1, y0, 0, x1, y1, 0, x1, y1, 0, x0, y1, 0, x0, y1, 0, x0, y0, 0]) p[i++] = v;
    }
    const g = new THREE.BufferGeometry();
    g.setAttribute('position', new THREE.BufferAttribute(p, 3));
    const lines = new THREE.LineSegments(g, this.lineMaterial);
    lines.renderOrder = ORDER;
    lines.frustumCulled = false;
    scene.add(lines);
    this.lines = lines;
    this.legend.dataset.drawn = String(this.rects.length);
  }

  /** The tooltip line for map point (x, y), or null outside the lit passages. */
  describeAt(x: number, y: number): string | null {
    const i = this.boxes.findIndex((q) => x >= q.x && x < q.x + q.width && y >= q.y && y < q.y + q.height);
    return i < 0 ? null : `passage used by the last answer (${i + 1} of ${this.boxes.length})`;
  }

  private clearLines(): void {
    this.lines?.removeFromParent();
    this.lines?.geometry.dispose();
    this.lines = null;
  }

  dispose(): void {
    this.clearLines();
    this.fill.dispose();
    this.lineMaterial.dispose();
  }
}
