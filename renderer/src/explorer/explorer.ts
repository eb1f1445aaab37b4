import * as THREE from 'three';
import type { MapCellInfo, MapRegionInfo } from '../../../shared/ipc/channels/map';
import { unionRects, type Rect } from '../../../shared/map/geometry';
import { chooseLevel } from '../../../shared/map/lod';
import { shapeElementAt, storedByte } from '../../../shared/map/shape';
import { getQuantFormat, isQuantTypeName } from '../../../shared/quant';
import { COLORMAP_NAMES, scaleFor } from '../../../shared/map/colormap';
import type { NavModelMap } from '../../../shared/nav/check';
import type { ParsedNavQuestion } from '../../../shared/nav/parse';
import type { LinkedPassage } from '../../../shared/corpus/passage-link';
import { el } from '../components/el';
import { type ViewContext } from '../views/types';
import { Camera2D, flightPose, type Pose } from './camera';
import { fmtBytes, fmtShape, fmtValue } from './format';
import { heatAt, type ColormapChoice, type RangeChoice } from './heat';
import { engineHost } from '../engine/instance';
import { AnswererControl } from './answerer';
import { AskPanel } from './ask';
import { Inspector } from './inspector';
import { LiveOverlay } from './live';
import { ResidencyLayer } from './residency-layer';
import { kvPagesText } from './kv-pages';
import { MapData } from './map-data';
import { Minimap } from './minimap';
import { regionWords } from '../../../shared/map/region-words';
import { COLORMAP_HELP, ColorLegend, KIND_HELP } from './legend';
import { READOUT_ZOOM, ValueReadout } from './readout';
import { PassageLayer } from './passage-layer';
import { SearchBox } from './search';
import { ShapeLayer } from './shape-layer';
import { cellKey, TextureCache } from './texture-cache';
import { View2D } from './view2d';
import { stackLayout, View3D } from './view3d';
import { WeightChangeLayer } from './weight-change';
import './explorer.css';

/** GPU bytes of heat textures kept (3072 cells of 64² floats). */
export const TEXTURE_BUDGET_BYTES = 48 * 1024 * 1024;
const FLY_MS = 700;
/** Keyboard pan speed (screen px/s) and zoom rate (e-folds/s) while a key is held. */
const KEY_PAN = 900;
const KEY_ZOOM = 1.6;
const ZOOM_EASE_MS = 90;
const MINIMAP_WIDTH = 200;
const MAX_LABELS = 500;
/** Screen pixels per value at the full zoom (the camera's limit follows the tensor in view). */
const MAX_ZOOM = 16;

type Mode = '2d' | '3d';

interface Flight {
  from: Pose;
  to: Pose;
  start: number;
}

/**
 * The visual memory explorer (specs/explorer.md): the Infinite Map in 2D (pan, zoom, LOD heat
 * tiles, outlines, labels, hover, selection, search, minimap, colormaps) and a 3D stack of one
 * model's layers with the same selection. Renders on demand: a frame is drawn when something
 * changed or an animation runs, never in an idle loop.
 */
export class Explorer {
  readonly root: HTMLElement;
  private readonly stage: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly labels: HTMLCanvasElement;
  private readonly tooltip: HTMLElement;
  private readonly readout: ValueReadout;
  private readonly legend = new ColorLegend();
  private readonly hud: HTMLElement;
  private readonly note: HTMLElement;
  private readonly modeButton: HTMLButtonElement;
  private readonly renderer: THREE.WebGLRenderer;
  private readonly cam = new Camera2D();
  private readonly cache = new TextureCache(TEXTURE_BUDGET_BYTES);
  private readonly data: MapData;
  private readonly view2d = new View2D();
  /** Each tensor drawn in its own rows × columns (specs/explorer.md, "Tensor shapes"). */
  private readonly shapes: ShapeLayer;
  /** The legend's last source, so that it is redrawn only when that changes. */
  private legendKey = '';
  private readonly view3d: View3D;
  private readonly minimap: Minimap;
  private readonly inspector: Inspector;
  private readonly search: SearchBox;
  private readonly live: LiveOverlay;
  /** Which weights are resident and which stream, for the model in the engine (residency-layer.ts). */
  private readonly residency: ResidencyLayer;
  /** Navigation questions typed in the search box: the answering model, and the answers panel. */
  private readonly answerer: AnswererControl;
  private readonly ask: AskPanel;
  /** Each model's weight regions as questions see them (weights never move). */
  private readonly navMaps = new Map<string, Promise<{ map: NavModelMap; truncated: boolean }>>();
  /** Where a training run changed the weights (specs/training.md, "The Training view"). */
  private readonly weights: WeightChangeLayer;
  /** The passages a Chat answer used, lit over their corpus (specs/explorer.md, "Passages on the map"). */
  private readonly passages: PassageLayer;
  private readonly resize: ResizeObserver;
  private mode: Mode = '2d';
  private colormap: ColormapChoice = 'auto';
  private range: RangeChoice = 'tensor';
  private raf = 0;
  private lastFrame = 0;
  private dirtyData = true;
  private drawnRegions: MapRegionInfo[] | null = null;
  private zoomTarget = 1;
  private zoomAnchor = { x: 0, y: 0 };
  private flight: Flight | null = null;
  private readonly held = new Set<string>();
  private pointer: { x: number; y: number } | null = null;
  private down: { x: number; y: number; moved: boolean } | null = null;
  private selectedId: string | null = null;
  private frames = 0;
  private renderMs = 0;
  private readonly frameTimes: number[] = [];
  private hudAt = 0;
  private hudTimer: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;
  private readonly cleanups: (() => void)[] = [];
  private lastError = '';

  constructor(private readonly ctx: ViewContext) {
    this.canvas = el('canvas', { className: 'ex-gl' });
    this.labels = el('canvas', { className: 'ex-labels' });
    this.tooltip = el('div', { className: 'ex-tooltip', hidden: true });
    this.tooltip.setAttribute('role', 'tooltip');
    this.readout = new ValueReadout(ctx.api, (m) => this.error(m));
    this.hud = el('span', { className: 'ex-hud muted' });
    this.note = el('div', { className: 'ex-note', hidden: true });
    this.minimap = new Minimap(MINIMAP_WIDTH, (x, y) => {
      this.flight = null;
      this.cam.cx = x;
      this.cam.cy = y;
      this.requestFrame();
    });
    this.weights = new WeightChangeLayer(ctx.api, () => this.requestFrame(), (m) => this.error(m));
    this.passages = new PassageLayer(ctx.api, () => this.requestFrame());
    this.shapes = new ShapeLayer(ctx.api, () => this.requestFrame(), (m) => this.error(m));
    this.residency = new ResidencyLayer(ctx.api, engineHost(ctx.api), () => this.requestFrame());
    this.answerer = new AnswererControl(ctx.api, engineHost(ctx.api), () => this.modelFor3d());
    this.ask = new AskPanel(engineHost(ctx.api), this.answerer, (r) => {
      if (this.mode !== '2d') return false;
      this.flyTo(r, 0.2);
      return true;
    });
    this.stage = el('div', { className: 'ex-stage', tabIndex: 0 }, this.canvas, this.labels, this.tooltip, this.readout.root, this.legend.root, this.minimap.canvas, this.note, this.weights.legend, this.passages.legend, this.residency.legend, this.ask.root);
    this.stage.setAttribute('role', 'application');
    this.stage.setAttribute('aria-label', 'Memory map. Drag or arrow keys to pan, wheel or + and − to zoom, 0 to see everything, click a tensor to inspect it, N and P (or ] and [) for the next and previous tensor, Enter to show the selected one again, Escape to clear.');
    this.inspector = new Inspector(
      ctx.api,
      (d) => this.focusRegion(d.region),
      (id) => this.data.overview?.models.find((m) => m.modelId === id)?.name,
    );
    this.search = new SearchBox(
      ctx.api,
      (r) => this.pickFromSearch(r),
      (m) => this.error(m),
      (q) => void this.askQuestion(q),
    );

    const cmap = el('select', { className: 'ex-select' }, ...(['auto', ...COLORMAP_NAMES] as const).map((n) => el('option', { value: n, title: COLORMAP_HELP[n] }, n === 'auto' ? 'auto colours' : n)));
    cmap.setAttribute('aria-label', 'Colormap');
    cmap.addEventListener('change', () => {
      this.colormap = cmap.value as ColormapChoice;
      this.dirtyData = true;
      this.requestFrame();
    });
    const range = el('select', { className: 'ex-select' }, el('option', { value: 'tensor' }, 'range per tensor'), el('option', { value: 'shared' }, 'one range for all'));
    range.setAttribute('aria-label', 'Colour range');
    range.addEventListener('change', () => {
      this.range = range.value as RangeChoice;
      this.dirtyData = true;
      this.requestFrame();
    });
    const button = (label: string, title: string, fn: () => void) => {
      const b = el('button', { type: 'button', className: 'ex-button', title }, label);
      b.setAttribute('aria-label', title);
      b.addEventListener('click', fn);
      return b;
    };
    this.modeButton = button('3D', 'Show the layers stacked in 3D', () => void this.setMode(this.mode === '2d' ? '3d' : '2d'));
    this.modeButton.setAttribute('aria-pressed', 'false');
    this.modeButton.dataset.action = 'mode';
    const toolbar = el(
      'div',
      { className: 'ex-toolbar' },
      el('h1', {}, 'Explorer'),
      this.search.root,
      this.search.scope,
      this.answerer.root,
      cmap,
      range,
      button('−', 'Zoom out', () => this.zoomBy(1 / 1.6)),
      button('+', 'Zoom in', () => this.zoomBy(1.6)),
      button('Fit', 'Fit: show the whole map', () => this.fitAll()),
      this.modeButton,
      this.residency.button,
      this.weights.controls,
      this.hud,
    );
    this.live = new LiveOverlay(
      ctx.api,
      engineHost(ctx.api),
      () => this.requestFrame(),
      () => this.data.refresh(),
      (r) => {
        if (this.mode === '2d') this.flyTo(r, 0.15);
      },
    );
    this.root = el('section', { className: 'explorer' }, toolbar, this.live.panel, el('div', { className: 'ex-main' }, this.stage, this.inspector.root));
    this.root.dataset.mode = '2d';

    this.renderer = new THREE.WebGLRenderer({ canvas: this.canvas, antialias: false, powerPreference: 'high-performance' });
    this.renderer.setClearColor(0x0f1115, 1);
    this.renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
    this.view3d = new View3D(this.canvas, () => this.requestFrame());
    // Arrow keys orbit-pan in 3D (the controls ignore them while disabled, i.e. in 2D).
    this.view3d.controls.listenToKeyEvents(this.stage);
    this.data = new MapData(
      ctx.api,
      this.cache,
      () => {
        this.dirtyData = true;
        this.requestFrame();
      },
      (m) => this.error(m),
    );
    this.resize = new ResizeObserver(() => this.onResize());
    this.resize.observe(this.stage);
    this.bindInput();
  }

  private error(message: string): void {
    if (message === this.lastError) return;
    this.lastError = message;
    this.ctx.showError(message);
  }

  /**
   * Loads the overview and shows the whole map, or the model `focus.model` (a model id), or its
   * tensor `focus.tensor` selected, or corpus `focus.corpus` with `focus.passages` lit (flying
   * to passage `focus.focus`); false when the map is empty.
   */
  async start(focus: { model?: string; tensor?: string; train?: string; corpus?: string; passages?: LinkedPassage[]; focus?: number } = {}): Promise<boolean> {
    const o = await this.data.loadOverview();
    if (!o.bounds || o.models.length === 0) return false;
    this.onResize();
    this.fitAll(true);
    this.cam.minZoom = this.cam.zoom / 8;
    const model = o.models.find((m) => m.modelId === focus.model || m.name === focus.model);
    if (focus.model && !model) this.error(`No model ${JSON.stringify(focus.model)} on the map: showing the whole map.`);
    if (model) this.flyTo(model.box, 0.04, true);
    if (model && focus.tensor) {
      try {
        const { region } = await this.ctx.api.call('map:region', { id: `${model.modelId}/${focus.tensor}` });
        this.select(region);
        this.flyTo(region.rect, 0.2, true);
      } catch (e) {
        this.error((e as Error).message);
      }
    }
    if (focus.corpus && focus.passages?.length) await this.lightPassages(focus.corpus, focus.passages, focus.focus ?? 0);
    const b = o.bounds;
    const mm = await this.ctx.api.call('map:regions', {
      viewport: { x0: b.x, y0: b.y, x1: b.x + b.width, y1: b.y + b.height },
      minSize: b.width / MINIMAP_WIDTH / 2,
      limit: 5000,
    });
    this.minimap.setMap(b, o.models, mm.regions, (r) => this.shapes.shapeOf(r));
    this.live.start(o.models);
    this.residency.start(o.models);
    // Search the model in view by default: Enter must not fly to another model's tensor.
    this.search.setModels(o.models, () => this.modelFor3d());
    await this.answerer.start();
    // The map's first view is asked for before the weight-change layer asks its own questions.
    this.requestFrame();
    await this.weights.start(o.models, focus.train);
    this.requestFrame();
    // Frames drawn before this (the default camera, before the overview came) are not the first
    // view: tests and the benchmark wait for this mark before they read the camera.
    this.root.dataset.started = 'true';
    return true;
  }

  /** Lights passages of a corpus and flies to passage `focus` (the corpus's box first). */
  private async lightPassages(corpus: string, passages: LinkedPassage[], focus: number): Promise<void> {
    try {
      const t = await this.passages.show(corpus, passages, focus);
      if (t.box) this.flyTo(t.box, 0.04, true);
      const f = unionRects(t.focus);
      if (f) this.flyTo(f, 0.3);
    } catch (e) {
      this.error(`Could not light the passages of ${corpus}: ${(e as Error).message}`);
    }
  }

  // ------------------------------------------------------------------ camera

  private onResize(): void {
    const r = this.stage.getBoundingClientRect();
    const w = Math.max(1, Math.floor(r.width));
    const h = Math.max(1, Math.floor(r.height));
    this.cam.setSize(w, h);
    this.renderer.setSize(w, h, false);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    this.labels.width = Math.round(w * dpr);
    this.labels.height = Math.round(h * dpr);
    this.labels.style.width = `${w}px`;
    this.labels.style.height = `${h}px`;
    this.view3d.setSize(w, h);
    this.requestFrame();
  }

  private fitAll(instant = false): void {
    const b = this.data.overview?.bounds;
    if (!b) return;
    if (this.mode === '3d') {
      this.view3d.frameAll();
      this.requestFrame();
      return;
    }
    this.flyTo(b, 0.04, instant);
  }

  private flyTo(r: Rect, padding: number, instant = false): void {
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

  private zoomBy(f: number, sx = this.cam.width / 2, sy = this.cam.height / 2): void {
    if (this.mode === '3d') return;
    this.flight = null;
    this.zoomTarget = this.cam.clampZoom(this.zoomTarget * f);
    this.zoomAnchor = { x: sx, y: sy };
    this.requestFrame();
  }

  /** Advances animations by dt ms; true while any still runs. */
  private step(now: number, dt: number): boolean {
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
    if (this.held.size && this.mode === '2d') {
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

  // ------------------------------------------------------------------ frames

  requestFrame(): void {
    if (!this.raf && !this.disposed) {
      this.raf = requestAnimationFrame((t) => this.frame(t));
      // Not settled until that frame has run (tests and the benchmark wait on this).
      this.root.dataset.animating = 'true';
    }
  }

  private frame(now: number): void {
    this.raf = 0;
    if (this.disposed) return;
    const dt = this.lastFrame ? Math.min(100, now - this.lastFrame) : 16;
    this.lastFrame = now;
    const t0 = performance.now();
    const busy = this.step(now, dt);
    if (this.mode === '2d') this.frame2d();
    else this.frame3d();
    this.frames++;
    this.renderMs += performance.now() - t0;
    this.frameTimes.push(now);
    while (this.frameTimes.length && this.frameTimes[0]! < now - 1000) this.frameTimes.shift();
    this.updateHud(now, busy);
    if (busy) this.requestFrame();
    else {
      this.lastFrame = 0;
      // Once frames stop, the HUD says so a second later.
      if (this.hudTimer !== null) clearTimeout(this.hudTimer);
      this.hudTimer = setTimeout(() => {
        this.hudTimer = null;
        if (!this.disposed) this.updateHud(performance.now(), false);
      }, 1100);
    }
  }

  /** The heat range a region's statistics are coloured over (per tensor, or the one shared range). */
  private heatRange(r: MapRegionInfo): [number, number] {
    const shared = this.view2d.sharedRange;
    if (this.range === 'shared' && shared) return shared;
    const p = r.pyramid;
    if (p.heatMin !== null && p.heatMax !== null) return [p.heatMin, p.heatMax];
    if (p.stats && p.stats.min !== null && p.stats.max !== null) return [p.stats.min, p.stats.max];
    return [0, 1];
  }

  /** Where a region is drawn: a tensor in its own shape, anything else its whole rectangle. */
  private drawnRect(r: MapRegionInfo): Rect {
    return this.shapes.shapeOf(r) ?? r.rect;
  }

  private level(): number {
    const o = this.data.overview!;
    return chooseLevel(this.cam.zoom, o.tileWidth, o.tileHeight, o.heatSize);
  }

  private frame2d(): void {
    const cam = this.cam;
    const b = this.data.overview?.bounds;
    if (b) {
      // Keep some of the map on screen: the view centre stays within half a view of the bounds
      // (and so within the 2^53 px the channels accept).
      const hw = cam.width / 2 / cam.zoom;
      const hh = cam.height / 2 / cam.zoom;
      cam.cx = Math.min(b.x + b.width + hw, Math.max(b.x - hw, cam.cx));
      cam.cy = Math.min(b.y + b.height + hh, Math.max(b.y - hh, cam.cy));
    }
    const rebased = this.view2d.updateCamera(cam);
    if (this.data.overview) {
      this.data.setView({ viewport: cam.viewport(0.25), level: this.level(), minSize: 2 / cam.zoom, cx: cam.cx, cy: cam.cy });
    }
    if (this.drawnRegions !== this.data.regions || rebased) {
      this.drawnRegions = this.data.regions;
      this.view2d.setRegions(this.data.regions, (r) => this.shapes.shapeOf(r));
    }
    if (this.dirtyData || rebased) {
      this.dirtyData = false;
      this.view2d.rebuild(this.data.cells, this.cache, this.data.regionsById, { colormap: this.colormap, range: this.range }, (id) => {
        const r = this.data.regionsById.get(id);
        return !!r && this.shapes.shapeOf(r) !== null;
      });
    }
    this.shapes.draw(this.view2d.scene, this.view2d.originOf(), {
      regions: this.data.regions,
      regionsById: this.data.regionsById,
      cache: this.cache,
      viewport: cam.viewport(),
      zoom: cam.zoom,
      cx: cam.cx,
      cy: cam.cy,
      colormap: this.colormap,
      heatRange: (r) => this.heatRange(r),
      sharedValues: this.range === 'shared',
      heatSize: this.data.overview?.heatSize ?? 64,
    });
    // Single values reach 16 screen px however small the tensor at the view centre is drawn.
    const centre = this.regionAt(cam.width / 2, cam.height / 2);
    const centreShape = centre ? this.shapes.shapeOf(centre) : null;
    cam.maxZoom = MAX_ZOOM / Math.min(1, centreShape?.scale ?? 1);
    this.updateLegend();
    const live = this.live.shapes();
    this.view2d.setLive(live.active, live.kvFill, live.kvPages);
    this.view2d.setActivations(live.activations);
    this.root.dataset.liveActivations = live.activations ? `${live.activations.rows}x${live.activations.cols}` : '';
    this.root.dataset.liveActive = String(live.active !== null);
    this.root.dataset.liveKvRects = String(live.kvFill.length);
    // Pages drawn: those with rectangles on the map.
    this.root.dataset.liveKvPages = String(live.kvPages.filter((p) => p.length > 0).length);
    this.weights.draw(this.view2d.scene, this.view2d.originOf());
    this.passages.draw(this.view2d.scene, this.view2d.originOf());
    this.residency.draw(this.view2d.scene, this.view2d.originOf());
    const act = this.live.current();
    this.residency.setKvPages(act ? kvPagesText({ ...act.kvPages, position: act.position }) : '', act ? act.kvPages.pages : null);
    this.renderer.render(this.view2d.scene, this.view2d.camera);
    this.drawLabels2d();
    this.minimap.draw(cam.viewport());
    this.updateTooltip();
  }

  private frame3d(): void {
    if (this.dirtyData) {
      this.dirtyData = false;
      this.cache.generation++;
      const heatSize = this.data.overview?.heatSize ?? 64;
      this.root.dataset.textured3d = String(
        this.view3d.applyTextures(this.cache, this.data.regionsById, this.colormap, this.range, (r) => this.shapes.shapedHeat(r, this.cache, heatSize)),
      );
      // How many of them are drawn in their rows × columns (tests read it).
      this.root.dataset.shaped3d = String(this.view3d.shapedCount);
    }
    const a = this.live.current();
    const layout = this.view3d.layout;
    // Layer 0 holds the tensors before the blocks, layer N + 1 block N, the last the output head.
    const layer = a && a.block !== null && layout && a.modelId === layout.modelId ? (a.block >= a.blocks ? layout.layers - 1 : a.block + 1) : null;
    this.view3d.setActiveLayer(layer);
    this.root.dataset.liveLayer = layer === null ? '' : String(layer);
    this.renderer.render(this.view3d.scene, this.view3d.camera);
    this.drawLabels3d();
  }

  private labelContext(): CanvasRenderingContext2D | null {
    const g = this.labels.getContext('2d');
    if (!g) return null;
    const dpr = this.labels.width / Math.max(1, this.cam.width);
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, this.cam.width, this.cam.height);
    return g;
  }

  /** Tensor names inside their rectangles, sized with the zoom, skipped where they do not fit. */
  private drawLabels2d(): void {
    const g = this.labelContext();
    if (!g) return;
    const cam = this.cam;
    g.textBaseline = 'top';
    let n = 0;
    for (const r of this.data.regions) {
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
      g.fillStyle = r.id === this.selectedId ? '#6cb4ff' : '#e6e8ee';
      g.fillText(r.name, x, y);
      n++;
    }
    this.root.dataset.labels = String(n);
    this.drawGroupLabels(g);
  }

  /**
   * Zoomed out, where tensor names no longer fit: the blocks' names over their columns and the
   * models' names over their boxes, sized with the zoom.
   */
  private drawGroupLabels(g: CanvasRenderingContext2D): void {
    const cam = this.cam;
    const o = this.data.overview;
    if (!o || o.tileWidth * cam.zoom >= 60) return;
    const cols = new Map<string, { block: number; x0: number; x1: number; y: number }>();
    for (const r of this.data.regions) {
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

  private drawLabels3d(): void {
    const g = this.labelContext();
    const layout = this.view3d.layout;
    if (!g || !layout) return;
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#8b93a7';
    g.textBaseline = 'bottom';
    let lastY = Infinity;
    for (let l = 0; l < layout.layers; l++) {
      const p = this.view3d.layerLabelSpot(l, this.cam.width, this.cam.height);
      if (!p || Math.abs(p.y - lastY) < 14) continue;
      lastY = p.y;
      g.textAlign = 'right';
      g.fillText(layout.names[l]!, p.x - 4, p.y);
    }
    if (this.selectedId) {
      const c = this.view3d.project(this.selectedId, this.cam.width, this.cam.height, true);
      if (c) this.root.dataset.selectedScreen = `${c.x.toFixed(1)},${c.y.toFixed(1)}`;
      const p = this.view3d.project(this.selectedId, this.cam.width, this.cam.height);
      const name = this.data.regionsById.get(this.selectedId)?.name ?? this.selectedId;
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
  }

  private updateHud(now: number, busy: boolean): void {
    if (busy && now - this.hudAt < 200) return;
    // (data-animating is kept exact: requestFrame sets it, the last frame of a run clears it.)
    this.hudAt = now;
    const s = this.cache.stats();
    // Frames in the last second: a frame rate only while frames run back to back (on demand
    // rendering draws nothing when nothing changes).
    const fps = this.frameTimes.filter((t) => t > now - 1000).length;
    const rate = fps >= 2 ? `${fps} fps` : 'idle';
    const d = this.root.dataset;
    d.level = String(this.data.level);
    d.levelsRequested = this.data.levelsRequested.join(',');
    d.zoom = String(this.cam.zoom);
    d.cx = String(this.cam.cx);
    d.cy = String(this.cam.cy);
    d.width = String(this.cam.width);
    d.height = String(this.cam.height);
    d.cells = String(this.data.cells.length);
    d.drawn = String(this.view2d.drawn);
    d.textures = String(s.textures);
    d.textureBytes = String(s.bytes);
    d.textureBudget = String(s.budgetBytes);
    d.evictions = String(s.evictions);
    d.frames = String(this.frames);
    d.renderMs = this.renderMs.toFixed(1);
    d.fps = String(fps);
    d.loading = String(this.data.loading || this.data.missing() > 0 || (this.mode === '2d' && this.shapes.missing() > 0));
    d.shapes = String(this.shapes.drawnShapes);
    d.valueWindows = String(this.shapes.drawnWindows);
    d.animating = String(busy);
    const standIns = this.view2d.standIns ? ` (${this.view2d.standIns} from other levels)` : '';
    this.hud.textContent =
      this.mode === '2d'
        ? `level ${this.data.level} · ${this.view2d.drawn} tiles${standIns} · textures ${s.textures} = ${fmtBytes(s.bytes)} of ${fmtBytes(s.budgetBytes)} · ${rate}`
        : `3D · ${this.view3d.layout?.layers ?? 0} layers · textures ${s.textures} = ${fmtBytes(s.bytes)} · ${rate}`;
    const notes: string[] = [];
    if (this.mode === '2d' && this.data.truncated) notes.push('Too much in view: showing the first 2000; zoom in for the rest.');
    if (this.data.missing() > 0) notes.push(`Loading ${this.data.missing()} heat images…`);
    this.note.hidden = notes.length === 0;
    this.note.textContent = notes.join(' ');
  }

  // ------------------------------------------------------------------ hover, selection

  private regionAt(sx: number, sy: number): MapRegionInfo | null {
    const p = this.cam.screenToMap(sx, sy);
    let best: MapRegionInfo | null = null;
    for (const r of this.data.regions) {
      const q = r.rect;
      if (p.x >= q.x && p.x < q.x + q.width && p.y >= q.y && p.y < q.y + q.height) {
        // Weights over the reserved bands (they never overlap, but prefer the tensor anyway).
        if (!best || r.kind === 'weights') best = r;
      }
    }
    return best;
  }

  /** The level-0 cell (stored tile) holding element `element`'s bytes, when it is in view at level 0. */
  private tileCellOf(r: MapRegionInfo, element: number | undefined): MapCellInfo | null {
    if (element === undefined || !r.tensor || !isQuantTypeName(r.tensor.type)) return null;
    const tile = Math.floor(storedByte(element, getQuantFormat(r.tensor.type)) / (r.grid.tileWidth * r.grid.tileHeight * 4));
    return this.data.cells.find((c) => c.regionId === r.id && c.tile === tile) ?? null;
  }

  private cellAt(regionId: string, x: number, y: number): MapCellInfo | null {
    for (const c of this.data.cells) {
      const q = c.rect;
      if (c.regionId === regionId && x >= q.x && x < q.x + q.width && y >= q.y && y < q.y + q.height) return c;
    }
    return null;
  }

  private updateTooltip(): void {
    const p = this.pointer;
    if (!p || this.down?.moved || this.mode !== '2d') {
      this.tooltip.hidden = true;
      this.view2d.setHover(null);
      if (!this.down?.moved) this.readout.hide();
      return;
    }
    const r = this.regionAt(p.x, p.y);
    this.view2d.setHover(r ? this.drawnRect(r) : null);
    const at = this.cam.screenToMap(p.x, p.y);
    const shape = r ? this.shapes.shapeOf(r) : null;
    this.readout.hover(r, shape, at.x, at.y, this.cam.zoom);
    if (!r) {
      this.tooltip.hidden = true;
      return;
    }
    const m = this.cam.screenToMap(p.x, p.y);
    const lines = [r.name, regionWords(r.kind, r.name).title];
    if (r.tensor) lines.push(`${r.tensor.type} ${fmtShape(r.tensor.dims)} · ${fmtBytes(r.tensor.bytes)}`);
    // Say how to get to single values (the readout starts at READOUT_ZOOM).
    const perValue = this.cam.zoom * (shape?.scale ?? 1);
    if (r.tensor && perValue < READOUT_ZOOM) lines.push(`zoom in ${Math.ceil(READOUT_ZOOM / perValue)}× to read single values`);
    else lines.push(KIND_HELP[r.kind] ?? r.kind);
    const live = this.live.describeAt(m.x, m.y) ?? this.live.describeKvAt(m.x, m.y);
    if (live) lines.push(live);
    const where = this.residency.describeAt(m.x, m.y);
    if (where) lines.push(where);
    const lit = this.passages.describeAt(m.x, m.y);
    if (lit) lines.push(lit);
    const learned = this.weights.describeAt(m.x, m.y);
    if (learned) lines.push(learned);
    const el0 = shape ? shapeElementAt(shape, m.x, m.y) : null;
    if (el0) lines.push(`row ${el0.row}, column ${el0.col}`);
    else if (shape) lines.push(`outside the tensor's ${shape.rows} × ${shape.cols}: the rest of its tiles' room`);
    // Its tiles' statistics (where the tensor is stored).
    const c = shape ? this.tileCellOf(r, el0?.element) : this.cellAt(r.id, m.x, m.y);
    if (c) {
      const e = this.cache.get(cellKey(c));
      const v = e ? heatAt(e.data, e.size, (m.x - e.heatRect.x) / e.heatRect.width, (m.y - e.heatRect.y) / e.heatRect.height) : NaN;
      const where = c.tile !== null ? `tile ${c.tile}` : `level ${c.level} cell (${c.col}, ${c.row})`;
      lines.push(`${where}: mean ${fmtValue(c.stats?.mean)} ± ${fmtValue(c.stats?.std)}`);
      // The heat under the pointer is in byte order: it says nothing here when the tensor is drawn in its shape.
      if (!shape && !Number.isNaN(v)) lines.push(`here: mean ${fmtValue(v)}`);
    }
    this.tooltip.replaceChildren(...lines.map((l, i) => el(i === 0 ? 'strong' : 'div', {}, l)));
    this.tooltip.hidden = false;
    const x = Math.min(p.x + 14, this.cam.width - this.tooltip.offsetWidth - 4);
    const y = Math.min(p.y + 14, this.cam.height - this.tooltip.offsetHeight - 4);
    this.tooltip.style.transform = `translate(${Math.max(0, x)}px, ${Math.max(0, y)}px)`;
  }

  select(region: MapRegionInfo | null): void {
    this.selectedId = region?.id ?? null;
    if (region) {
      this.data.rememberRegion(region);
      this.root.dataset.selected = region.id;
      // Where it lies on the map (tests aim at its pixels with it).
      this.root.dataset.selectedRect = `${region.rect.x},${region.rect.y},${region.rect.width},${region.rect.height}`;
      // And the tensor as drawn: its shape's rectangle, rows, columns and map pixels per value.
      const s = this.shapes.shapeOf(region);
      if (s) this.root.dataset.selectedShape = `${s.x},${s.y},${s.width},${s.height},${s.rows},${s.cols},${s.scale}`;
      else delete this.root.dataset.selectedShape;
      void this.inspector.show(region.id);
    } else {
      delete this.root.dataset.selected;
      delete this.root.dataset.selectedRect;
      delete this.root.dataset.selectedShape;
      this.inspector.clear();
    }
    this.view2d.setSelection(region ? this.drawnRect(region) : null);
    this.view3d.setSelection(this.selectedId);
    this.updateLegend();
    this.requestFrame();
  }

  /** The legend follows the colormap, the range choice and the selection (per-tensor ranges have numbers only for one tensor). */
  private updateLegend(): void {
    const r = this.selectedId ? this.data.regionsById.get(this.selectedId) : undefined;
    const shared = this.view2d.sharedRange;
    // Where single values are drawn, the selected tensor's colours are its values' (shape-layer.ts).
    const values = this.mode === '2d' && r ? this.shapes.valueRanges.get(r.id) : undefined;
    const key = `${this.mode}|${this.colormap}|${this.range}|${r?.id ?? ''}|${values ?? ''}|${shared ?? ''}`;
    if (key === this.legendKey) return;
    this.legendKey = key;
    if (r && values) {
      const s = scaleFor(values[0], values[1], this.colormap);
      this.legend.update(s.colormap, s, `${this.range === 'shared' ? 'one range over the values of all tensors drawn value by value' : `range of ${r.name}'s values`} (single values are drawn at this zoom)`, this.mode);
    } else if (this.range === 'shared' && shared) {
      const s = scaleFor(shared[0], shared[1], this.colormap);
      this.legend.update(s.colormap, s, 'one range for all tensors in view', this.mode);
    } else if (r && r.pyramid.heatMin !== null && r.pyramid.heatMax !== null) {
      const s = scaleFor(r.pyramid.heatMin, r.pyramid.heatMax, this.colormap);
      this.legend.update(s.colormap, s, `range of ${r.name}'s heat (the means of its pixels; each tensor is coloured over its own range)`, this.mode);
    } else {
      const auto = this.colormap === 'auto';
      this.legend.update(this.colormap === 'auto' ? 'diverging' : this.colormap, null, `${auto ? 'auto: diverging around 0 where a tensor has both signs, else viridis; ' : ''}each tensor over its own range: select one for its numbers`, this.mode);
    }
  }

  private focusRegion(r: MapRegionInfo): void {
    if (this.mode === '3d') {
      this.view3d.setSelection(r.id);
      this.requestFrame();
      return;
    }
    this.flyTo(r.rect, 0.2);
  }

  private pickFromSearch(r: MapRegionInfo): void {
    this.select(r);
    if (this.mode === '3d' && this.view3d.layout?.modelId !== r.modelId) void this.load3d(r.modelId);
    this.focusRegion(r);
  }

  // ------------------------------------------------------------------ questions

  /**
   * Asks a navigation question about the model it names, else the model in view (the selected
   * tensor's, else the one nearest the view centre): specs/explorer.md, "Questions".
   */
  private async askQuestion(q: ParsedNavQuestion): Promise<void> {
    const models = this.data.overview?.models ?? [];
    let model: (typeof models)[number] | undefined;
    if (q.model) {
      const lower = q.model.toLowerCase();
      model = models.find((m) => m.name === q.model || m.modelId === q.model) ?? models.find((m) => m.name.toLowerCase() === lower);
      if (!model) return this.ask.fail(q, `No model named “${q.model}” is on the map: ask about one of ${models.map((m) => m.name).join(', ') || 'none'}.`);
    } else {
      const id = this.modelFor3d();
      model = models.find((m) => m.modelId === id);
      if (!model) return this.ask.fail(q, 'No model is on the map to ask about.');
    }
    let nav: { map: NavModelMap; truncated: boolean };
    try {
      nav = await this.navMap(model);
    } catch (e) {
      return this.ask.fail(q, `The map's regions of ${model.name} could not be read: ${(e as Error).message}`);
    }
    const notes: string[] = [];
    if (nav.truncated) notes.push(`${model.name} has more tensors than one answer lists: the index knows the first ${nav.map.regions.length}.`);
    if (!q.model && models.length > 1) notes.push(`Asked about ${model.name}, the model in view (“in MODEL, where is …?” names another).`);
    await this.ask.ask(q, nav.map, notes);
  }

  private navMap(m: { modelId: string; name: string; box: Rect }): Promise<{ map: NavModelMap; truncated: boolean }> {
    let p = this.navMaps.get(m.modelId);
    if (!p) {
      const v = { x0: m.box.x, y0: m.box.y, x1: m.box.x + m.box.width, y1: m.box.y + m.box.height };
      p = this.ctx.api.call('map:regions', { viewport: v, modelId: m.modelId, kinds: ['weights'], limit: 5000 }).then((res) => ({
        map: { name: m.name, box: m.box, regions: res.regions.map((r) => ({ name: r.name, ...r.rect })) },
        truncated: res.truncated,
      }));
      // A failure is not kept: the next question asks again.
      p.catch(() => this.navMaps.delete(m.modelId));
      this.navMaps.set(m.modelId, p);
    }
    return p;
  }

  // ------------------------------------------------------------------ 3D

  async setMode(mode: Mode): Promise<void> {
    if (mode === this.mode) return;
    if (mode === '3d') {
      const modelId = this.modelFor3d();
      if (!modelId) return;
      this.mode = '3d';
      if (this.view3d.layout?.modelId !== modelId) await this.load3d(modelId);
      else this.want3d();
      this.view3d.controls.enabled = true;
      this.view3d.setSelection(this.selectedId);
    } else {
      this.mode = '2d';
      this.view3d.controls.enabled = false;
      this.data.want(this.data.cells, this.cam.cx, this.cam.cy);
    }
    this.root.dataset.mode = mode;
    this.updateLegend();
    this.modeButton.textContent = mode === '2d' ? '3D' : '2D';
    this.modeButton.setAttribute('aria-pressed', String(mode === '3d'));
    this.modeButton.setAttribute('aria-label', mode === '2d' ? 'Show the layers stacked in 3D' : 'Back to the flat map');
    this.minimap.canvas.hidden = mode === '3d';
    this.tooltip.hidden = true;
    this.dirtyData = true;
    this.requestFrame();
  }

  /** The selected tensor's model, else the model under (or nearest) the view centre. */
  private modelFor3d(): string | null {
    const o = this.data.overview;
    if (!o || o.models.length === 0) return null;
    const sel = this.selectedId ? this.data.regionsById.get(this.selectedId) : undefined;
    if (sel) return sel.modelId;
    const { cx, cy } = this.cam;
    const dist = (b: Rect) => Math.hypot(Math.max(b.x - cx, 0, cx - b.x - b.width), Math.max(b.y - cy, 0, cy - b.y - b.height));
    return [...o.models].sort((a, b) => dist(a.box) - dist(b.box))[0]!.modelId;
  }

  private topCells3d: MapCellInfo[] = [];
  /**
   * Selects the next (dir 1) or previous (−1) tensor of the model in view and shows it; wraps at
   * the ends. The services step on their index (`map:step`), so any tensor count works and
   * nothing is listed whole. Steps run one after another: a key held down steps from the
   * tensor the previous step selected, never twice from the same one.
   */
  private stepTensor(dir: 1 | -1): Promise<void> {
    this.stepping = this.stepping.then(() => this.stepOnce(dir));
    return this.stepping;
  }

  private stepping: Promise<void> = Promise.resolve();

  private async stepOnce(dir: 1 | -1): Promise<void> {
    const modelId = this.modelFor3d();
    if (!modelId) return;
    let r: MapRegionInfo | null;
    try {
      ({ region: r } = await this.ctx.api.call('map:step', { modelId, from: this.selectedId, dir }));
    } catch (e) {
      this.error((e as Error).message);
      return;
    }
    if (!r) return;
    this.select(r);
    this.focusRegion(r);
  }

  private async load3d(modelId: string): Promise<void> {
    const m = this.data.overview!.models.find((x) => x.modelId === modelId);
    if (!m) return;
    const v = { x0: m.box.x, y0: m.box.y, x1: m.box.x + m.box.width, y1: m.box.y + m.box.height };
    try {
      const { regions } = await this.ctx.api.call('map:regions', { viewport: v, modelId, kinds: ['weights'], limit: 5000 });
      for (const r of regions) this.data.rememberRegion(r);
      this.view3d.setModel(stackLayout(modelId, regions));
      // Each tensor's top cell: a query at level L answers tensors whose top is in [L − 6, L].
      const top = new Map(regions.map((r) => [r.id, Math.max(0, (r.pyramid.levels ?? 1) - 1)]));
      const found = new Map<string, MapCellInfo>();
      let level = Math.max(0, ...top.values());
      for (;;) {
        const res = await this.ctx.api.call('map:cells', { viewport: v, level, modelId, kinds: ['weights'], limit: 5000 });
        for (const c of res.cells) if (c.level === top.get(c.regionId)) found.set(c.regionId, c);
        if (level === 0 || found.size >= top.size) break;
        level = Math.max(0, level - 7);
      }
      this.topCells3d = [...found.values()];
      this.view3d.setTopCells(this.topCells3d);
      this.want3d();
    } catch (e) {
      this.error(`Loading the 3D view failed: ${(e as Error).message}`);
    }
  }

  private want3d(): void {
    const l = this.view3d.layout;
    if (!l) return;
    this.data.want(this.topCells3d, 0, 0);
    this.dirtyData = true;
  }

  // ------------------------------------------------------------------ input

  private bindInput(): void {
    const on = <K extends keyof HTMLElementEventMap>(t: HTMLElement, type: K, fn: (ev: HTMLElementEventMap[K]) => void, opts?: AddEventListenerOptions) => {
      t.addEventListener(type, fn as EventListener, opts);
      this.cleanups.push(() => t.removeEventListener(type, fn as EventListener, opts));
    };
    const local = (ev: MouseEvent) => {
      const r = this.stage.getBoundingClientRect();
      return { x: ev.clientX - r.left, y: ev.clientY - r.top };
    };
    on(this.canvas, 'pointerdown', (ev) => {
      if (ev.button !== 0) return;
      this.stage.focus({ preventScroll: true });
      this.down = { ...local(ev), moved: false };
      if (this.mode === '2d') {
        this.canvas.setPointerCapture(ev.pointerId);
        this.flight = null;
      }
    });
    on(this.canvas, 'pointermove', (ev) => {
      const p = local(ev);
      if (this.down && this.mode === '2d') {
        const dx = p.x - (this.pointer?.x ?? p.x);
        const dy = p.y - (this.pointer?.y ?? p.y);
        if (!this.down.moved && Math.hypot(p.x - this.down.x, p.y - this.down.y) > 3) this.down.moved = true;
        if (this.down.moved) this.cam.panBy(dx, dy);
      } else if (this.down && Math.hypot(p.x - this.down.x, p.y - this.down.y) > 3) {
        this.down.moved = true;
      }
      this.pointer = p;
      this.requestFrame();
    });
    on(this.canvas, 'pointerup', (ev) => {
      const d = this.down;
      this.down = null;
      if (!d || d.moved) return;
      const p = local(ev);
      if (this.mode === '2d') this.select(this.regionAt(p.x, p.y));
      else {
        const id = this.view3d.pick((p.x / this.cam.width) * 2 - 1, -(p.y / this.cam.height) * 2 + 1);
        const r = id ? this.data.regionsById.get(id) : undefined;
        this.select(r ?? null);
      }
    });
    on(this.canvas, 'pointerleave', () => {
      this.pointer = null;
      this.requestFrame();
    });
    on(
      this.canvas,
      'wheel',
      (ev) => {
        if (this.mode !== '2d') return;
        ev.preventDefault();
        const p = local(ev);
        const unit = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? this.cam.height : 1;
        if (!ev.ctrlKey && Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
          // Sideways scrolling (a trackpad's two-finger pan): move, do not zoom.
          this.cam.panBy(-ev.deltaX * unit, -ev.deltaY * unit);
          this.requestFrame();
          return;
        }
        // Pinch arrives as ctrl+wheel with small deltas: more zoom per unit.
        this.zoomBy(Math.exp(-ev.deltaY * unit * (ev.ctrlKey ? 0.01 : 0.002)), p.x, p.y);
      },
      { passive: false },
    );
    const keyName = (ev: KeyboardEvent) => (ev.key === '=' ? '+' : ev.key === '_' ? '-' : ev.key);
    on(this.stage, 'keydown', (ev) => {
      const k = keyName(ev);
      if (['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', '+', '-'].includes(k)) {
        ev.preventDefault();
        if (this.mode !== '2d') return;
        if (!ev.repeat && !this.held.has(k)) {
          // A tap moves a step at once; holding the key keeps moving, frame by frame.
          this.flight = null;
          this.held.add(k);
          if (k === '+' || k === '-') this.zoomBy(k === '+' ? 1.25 : 1 / 1.25);
          else this.cam.panBy(k === 'ArrowLeft' ? 40 : k === 'ArrowRight' ? -40 : 0, k === 'ArrowUp' ? 40 : k === 'ArrowDown' ? -40 : 0);
          this.lastFrame = 0;
          this.requestFrame();
        }
      } else if (k === '0' || k === 'Home') {
        ev.preventDefault();
        this.fitAll();
      } else if (k === 'Escape') {
        this.select(null);
      } else if (k === 'n' || k === ']' || k === 'p' || k === '[' || k === 'N') {
        // Next / previous tensor of the model in view, in map order (Tab stays free to leave the map).
        ev.preventDefault();
        void this.stepTensor(k === 'n' || k === ']' ? 1 : -1);
      } else if (k === 'Enter') {
        const r = this.selectedId ? this.data.regionsById.get(this.selectedId) : undefined;
        if (r) {
          ev.preventDefault();
          this.focusRegion(r);
        }
      }
    });
    on(this.stage, 'keyup', (ev) => this.held.delete(keyName(ev)));
    on(this.stage, 'blur', () => this.held.clear());
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.raf) cancelAnimationFrame(this.raf);
    if (this.hudTimer !== null) clearTimeout(this.hudTimer);
    for (const c of this.cleanups) c();
    this.resize.disconnect();
    this.data.close();
    this.live.dispose();
    this.weights.dispose();
    this.passages.dispose();
    this.residency.dispose();
    this.search.dispose();
    this.ask.dispose();
    this.answerer.dispose();
    this.view2d.dispose();
    this.shapes.dispose();
    this.view3d.dispose();
    this.cache.dispose();
    this.renderer.dispose();
  }
}
