/**
 * Where learning happened (specs/training.md, "The Training view"): a heat layer over a trained
 * model's tensors on the 2D map, one colour per stored tile, for one checkpoint of its training
 * run. A tile's value is the RMS of (its weights at checkpoint s − its weights at the checkpoint
 * before, or at initialisation), over the values PixelFS stores in that tile (an F32 tensor's
 * values in row-major order, tileWidth × tileHeight of them per tile); the services compute it
 * (`train:weight-change`). Colours go through a heat ramp on a log10 scale between the smallest
 * and the largest tile value of that checkpoint, with a legend; a checkpoint selector picks s.
 * Tensors of one tile (all of a small model's) get one colour over their whole tile: the
 * layer shows which tensor learned how much, at the granularity the volume stores weights in.
 */
import * as THREE from 'three';
import { RectOverlay } from './rect-overlay';
import type { PxiApi } from '../../../shared/ipc/client';
import type { WeightChangeInfo } from '../../../shared/ipc/channels/train';
import type { MapModelInfo, MapRegionInfo } from '../../../shared/ipc/channels/map';
import type { Rect } from '../../../shared/map/geometry';
import { el } from '../components/el';

/** Dark violet → red → orange → pale yellow: little change is dark, much is bright. */
const RAMP: readonly (readonly [number, number, number])[] = [
  [40, 11, 84],
  [120, 28, 109],
  [200, 45, 60],
  [245, 125, 21],
  [252, 230, 140],
];

export function rampColor(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const a = RAMP[i]!;
  const b = RAMP[i + 1]!;
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

export interface ChangeTile {
  rect: Rect;
  tensor: string;
  /** Tile index within the tensor, or null when the whole tensor has one value. */
  tile: number | null;
  tiles: number;
  value: number;
  tensorRms: number;
}

/**
 * The tiles to draw: per-tile values where the stored layout is the one the values were
 * computed for (F32, `tileValues` values a tile, the same tile count), else the tensor's RMS
 * over its whole rectangle.
 */
export function changeTiles(change: Pick<WeightChangeInfo, 'tensors' | 'tileValues'>, regions: readonly MapRegionInfo[]): ChangeTile[] {
  const byName = new Map(regions.filter((r) => r.kind === 'weights').map((r) => [r.name, r]));
  const out: ChangeTile[] = [];
  for (const t of change.tensors) {
    const r = byName.get(t.name);
    if (!r) continue;
    const g = r.grid;
    const perTile = r.tensor?.type === 'F32' && g.tileWidth * g.tileHeight === change.tileValues && g.tileCount === t.tiles.length && g.cols > 0;
    if (!perTile) {
      out.push({ rect: r.rect, tensor: t.name, tile: null, tiles: t.tiles.length, value: t.rms, tensorRms: t.rms });
      continue;
    }
    t.tiles.forEach((v, i) => {
      out.push({
        rect: { x: r.rect.x + (i % g.cols) * g.tileWidth, y: r.rect.y + Math.floor(i / g.cols) * g.tileHeight, width: g.tileWidth, height: g.tileHeight },
        tensor: t.name,
        tile: i,
        tiles: t.tiles.length,
        value: v,
        tensorRms: t.rms,
      });
    });
  }
  return out;
}

/** The log10 colour range over the positive values ([lo, hi], lo < hi), or null when there are none. */
export function logRange(values: readonly number[]): { lo: number; hi: number } | null {
  const pos = values.filter((v) => v > 0 && Number.isFinite(v));
  if (pos.length === 0) return null;
  let lo = Math.min(...pos);
  let hi = Math.max(...pos);
  if (hi / lo < 1.01) {
    lo /= 1.1;
    hi *= 1.1;
  }
  return { lo, hi };
}

const fmt = (v: number) => (v === 0 ? '0' : v.toExponential(2));
const changeLabel = (c: { step: number; base: number }) => `step ${c.step} (from ${c.base === 0 ? 'the initial weights' : `step ${c.base}`})`;

interface TrainedModel {
  run: string;
  modelId: string;
  box: Rect;
}

export class WeightChangeLayer {
  readonly controls: HTMLElement;
  readonly legend: HTMLElement;
  private readonly runSelect: HTMLSelectElement;
  private readonly stepSelect: HTMLSelectElement;
  private readonly legendTitle: HTMLElement;
  private readonly legendLo: HTMLElement;
  private readonly legendHi: HTMLElement;
  // Over the weights' own heat, under the outlines and the live engine.
  private readonly overlay = new RectOverlay(new THREE.MeshBasicMaterial({ transparent: true, opacity: 0.9, depthTest: false, vertexColors: false }), 2.5);
  private trained: TrainedModel[] = [];
  private tiles: ChangeTile[] = [];
  private range: { lo: number; hi: number } | null = null;
  private change: WeightChangeInfo | null = null;
  private ticket = 0;
  private closed = false;

  constructor(
    private readonly api: PxiApi,
    private readonly onChange: () => void,
    private readonly onError: (message: string) => void,
  ) {
    this.runSelect = el('select', { className: 'ex-select', id: 'ex-weight-run' });
    this.runSelect.setAttribute('aria-label', 'Weight-change layer: training run');
    this.stepSelect = el('select', { className: 'ex-select', id: 'ex-weight-step', hidden: true });
    this.stepSelect.setAttribute('aria-label', 'Weight-change layer: checkpoint');
    this.runSelect.addEventListener('change', () => void this.show(this.runSelect.value || null));
    this.stepSelect.addEventListener('change', () => void this.show(this.runSelect.value || null, Number(this.stepSelect.value)));
    this.controls = el('span', { className: 'ex-weight-controls', hidden: true }, this.runSelect, this.stepSelect);
    this.legendTitle = el('div', { className: 'ex-weight-title' });
    this.legendLo = el('span');
    this.legendHi = el('span');
    const gradient = el('div', { className: 'ex-weight-ramp' });
    gradient.style.background = `linear-gradient(to right, ${RAMP.map((c) => `rgb(${c.join(',')})`).join(', ')})`;
    this.legend = el(
      'div',
      { className: 'ex-weight-legend', id: 'ex-weight-legend', hidden: true },
      this.legendTitle,
      gradient,
      el('div', { className: 'ex-weight-scale' }, this.legendLo, el('span', { className: 'muted' }, 'RMS change per weight (log scale)'), this.legendHi),
    );
  }

  /** Lists the training runs whose model is on this map; `run` turns the layer on for that run. */
  async start(models: readonly MapModelInfo[], run?: string): Promise<void> {
    try {
      const { runs } = await this.api.call('train:runs', {});
      if (this.closed) return;
      const boxes = new Map(models.map((m) => [m.modelId, m.box]));
      this.trained = runs.filter((r) => r.kind === 'train' && r.modelId !== null && boxes.has(r.modelId)).map((r) => ({ run: r.run, modelId: r.modelId!, box: boxes.get(r.modelId!)! }));
    } catch {
      this.trained = []; // no training channels to ask: no layer
    }
    this.runSelect.replaceChildren(el('option', { value: '' }, 'No weight-change layer'), ...this.trained.map((t) => el('option', { value: t.run }, `Learning in run ${t.run}`)));
    this.controls.hidden = this.trained.length === 0;
    if (run) {
      if (this.trained.some((t) => t.run === run)) {
        this.runSelect.value = run;
        await this.show(run);
      } else {
        this.onError(`No trained model of run ${JSON.stringify(run)} on the map: its weight change cannot be shown.`);
      }
    }
  }

  /** Shows checkpoint `step` (default: the latest) of `run`, or nothing. */
  async show(run: string | null, step?: number): Promise<void> {
    const ticket = ++this.ticket;
    if (!run) {
      this.change = null;
      this.tiles = [];
      this.stepSelect.hidden = true;
      this.paintLegend();
      this.overlay.invalidate();
      this.onChange();
      return;
    }
    const t = this.trained.find((x) => x.run === run);
    if (!t) return;
    try {
      const b = t.box;
      const [change, { regions }] = await Promise.all([
        this.api.call('train:weight-change', step === undefined ? { run } : { run, step }),
        this.api.call('map:regions', { viewport: { x0: b.x, y0: b.y, x1: b.x + b.width, y1: b.y + b.height }, modelId: t.modelId, kinds: ['weights'], limit: 5000 }),
      ]);
      if (ticket !== this.ticket || this.closed) return;
      this.change = change;
      this.tiles = changeTiles(change, regions);
      this.range = logRange(this.tiles.map((x) => x.value));
      this.stepSelect.replaceChildren(...change.changes.map((c) => el('option', { value: String(c.step), selected: c.step === change.step }, changeLabel(c))));
      this.stepSelect.hidden = false;
    } catch (e) {
      if (ticket !== this.ticket) return;
      this.change = null;
      this.tiles = [];
      this.onError(`The weight change of run ${run} could not be shown: ${(e as Error).message}`);
    }
    this.paintLegend();
    this.overlay.invalidate();
    this.onChange();
  }

  private paintLegend(): void {
    const c = this.change;
    const d = this.legend.dataset;
    this.legend.hidden = c === null;
    if (!c) {
      delete d.run;
      delete d.step;
      delete d.base;
      delete d.tiles;
      return;
    }
    const perTile = this.tiles.some((t) => t.tile !== null);
    this.legendTitle.textContent = `Weight change of run ${c.run}: ${changeLabel(c)} · ${perTile ? 'per tile' : 'per tensor'}`;
    this.legendLo.textContent = this.range ? fmt(this.range.lo) : '–';
    this.legendHi.textContent = this.range ? fmt(this.range.hi) : '–';
    d.run = c.run;
    d.step = String(c.step);
    d.base = String(c.base);
    d.tiles = String(this.tiles.length);
    d.lo = this.range ? String(this.range.lo) : '';
    d.hi = this.range ? String(this.range.hi) : '';
  }

  /** Puts the tiles into the 2D scene (world = map px relative to `origin`, y up). */
  draw(scene: THREE.Scene, origin: { x: number; y: number }): void {
    const r = this.range;
    this.overlay.draw(
      scene,
      origin,
      this.tiles.map((t) => t.rect),
      (i, color) => {
        const v = this.tiles[i]!.value;
        const x = r && v > 0 ? (Math.log10(v) - Math.log10(r.lo)) / (Math.log10(r.hi) - Math.log10(r.lo)) : 0;
        const [cr, cg, cb] = rampColor(x);
        return color.setRGB(cr / 255, cg / 255, cb / 255, THREE.SRGBColorSpace);
      },
    );
  }

  /** The tooltip line for map point (x, y), or null outside the layer's tiles. */
  describeAt(x: number, y: number): string | null {
    const c = this.change;
    if (!c) return null;
    for (const t of this.tiles) {
      const q = t.rect;
      if (x >= q.x && x < q.x + q.width && y >= q.y && y < q.y + q.height) {
        const where = t.tile === null ? 'tensor' : `tile ${t.tile + 1} of ${t.tiles}`;
        return `weight change, ${changeLabel(c)}: RMS ${fmt(t.value)} per weight (${where}; tensor ${fmt(t.tensorRms)})`;
      }
    }
    return null;
  }

  dispose(): void {
    this.closed = true;
    this.overlay.dispose();
  }
}
