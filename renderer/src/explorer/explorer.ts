import * as THREE from 'three';
import type { MapCellInfo, MapRegionInfo } from '../../../shared/ipc/channels/map';
import { unionRects, type Rect } from '../../../shared/map/geometry';
import { chooseLevel } from '../../../shared/map/lod';
import type { LinkedPassage } from '../../../shared/corpus/passage-link';
import { el } from '../components/el';
import { type ViewContext } from '../views/types';
import { Camera2D } from './camera';
import { heatRangeOf, type ColormapChoice, type RangeChoice } from './heat';
import { engineHost } from '../engine/instance';
import { AnswererControl } from './answerer';
import { AskPanel } from './ask';
import { FrameHud } from './hud';
import { hoverLines, regionAt, type Describer } from './hover';
import { MapInput } from './input';
import { Inspector } from './inspector';
import { drawLabels2d, drawLabels3d, sizeLabels } from './labels';
import { LiveOverlay, markLive } from './live';
import { ResidencyLayer } from './residency-layer';
import { kvPagesText } from './kv-pages';
import { MapData } from './map-data';
import { Minimap } from './minimap';
import { Navigation } from './navigation';
import { ColorLegend } from './legend';
import { NavQuestions } from './questions';
import { ValueReadout } from './readout';
import { PassageLayer } from './passage-layer';
import { SearchBox } from './search';
import { markSelection, TensorStepper } from './selection';
import { ShapeLayer } from './shape-layer';
import { loadStack } from './stack-load';
import { TextureCache } from './texture-cache';
import { colormapSelect, rangeSelect, toolButton } from './toolbar';
import { View2D } from './view2d';
import { View3D } from './view3d';
import { WeightChangeLayer } from './weight-change';
import './explorer.css';

/** GPU bytes of heat textures kept (3072 cells of 64² floats). */
export const TEXTURE_BUDGET_BYTES = 48 * 1024 * 1024;
const MINIMAP_WIDTH = 200;
/** Screen pixels per value at the full zoom (the camera's limit follows the tensor in view). */
const MAX_ZOOM = 16;

type Mode = '2d' | '3d';

/**
 * The visual memory explorer (specs/explorer.md): the Infinite Map in 2D (pan, zoom, LOD heat
 * tiles, outlines, labels, hover, selection, search, minimap, colormaps) and a 3D stack of one
 * model's layers with the same selection. Renders on demand: a frame is drawn when something
 * changed or an animation runs, never in an idle loop.
 *
 * This file composes the view: its parts are the camera's moves (navigation.ts), the stage's
 * pointer and keys (input.ts), the labels (labels.ts), the hover tooltip (hover.ts), the HUD and
 * frame statistics (hud.ts), the selection's attributes and tensor stepping (selection.ts), the
 * questions typed in the search box (questions.ts) and the 3D stack's loading (stack-load.ts).
 */
export class Explorer {
  readonly root: HTMLElement;
  private readonly stage: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly labels: HTMLCanvasElement;
  private readonly tooltip: HTMLElement;
  private readonly readout: ValueReadout;
  private readonly legend = new ColorLegend();
  private readonly hud: FrameHud;
  private readonly modeButton: HTMLButtonElement;
  private readonly renderer: THREE.WebGLRenderer;
  private readonly cam = new Camera2D();
  private readonly nav: Navigation;
  private readonly input: MapInput;
  private readonly cache = new TextureCache(TEXTURE_BUDGET_BYTES);
  private readonly data: MapData;
  private readonly view2d = new View2D();
  /** Each tensor drawn in its own rows × columns (specs/explorer.md, "Tensor shapes"). */
  private readonly shapes: ShapeLayer;
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
  private readonly questions: NavQuestions;
  private readonly stepper: TensorStepper;
  /** Where a training run changed the weights (specs/training.md, "The Training view"). */
  private readonly weights: WeightChangeLayer;
  /** The passages a Chat answer used, lit over their corpus (specs/explorer.md, "Passages on the map"). */
  private readonly passages: PassageLayer;
  /** What the overlays say in the hover tooltip, in order: live engine, residency, passages, weight changes. */
  private readonly hoverOverlays: readonly Describer[];
  private readonly resize: ResizeObserver;
  private mode: Mode = '2d';
  private colormap: ColormapChoice = 'auto';
  private range: RangeChoice = 'tensor';
  private raf = 0;
  private lastFrame = 0;
  private dirtyData = true;
  private drawnRegions: MapRegionInfo[] | null = null;
  private selectedId: string | null = null;
  /** The 3D stack's tensors' top cells (stack-load.ts). */
  private topCells3d: MapCellInfo[] = [];
  private disposed = false;
  private lastError = '';

  constructor(private readonly ctx: ViewContext) {
    this.canvas = el('canvas', { className: 'ex-gl' });
    this.labels = el('canvas', { className: 'ex-labels' });
    this.tooltip = el('div', { className: 'ex-tooltip', hidden: true });
    this.tooltip.setAttribute('role', 'tooltip');
    this.readout = new ValueReadout(ctx.api, (m) => this.error(m));
    const hud = el('span', { className: 'ex-hud muted' });
    const note = el('div', { className: 'ex-note', hidden: true });
    this.nav = new Navigation(this.cam, () => this.requestFrame());
    this.minimap = new Minimap(MINIMAP_WIDTH, (x, y) => this.nav.jumpTo(x, y));
    this.weights = new WeightChangeLayer(ctx.api, () => this.requestFrame(), (m) => this.error(m));
    this.passages = new PassageLayer(ctx.api, () => this.requestFrame());
    this.shapes = new ShapeLayer(ctx.api, () => this.requestFrame(), (m) => this.error(m));
    this.residency = new ResidencyLayer(ctx.api, engineHost(ctx.api), () => this.requestFrame());
    this.answerer = new AnswererControl(ctx.api, engineHost(ctx.api), () => this.modelFor3d());
    this.ask = new AskPanel(engineHost(ctx.api), this.answerer, (r) => {
      if (this.mode !== '2d') return false;
      this.nav.flyTo(r, 0.2);
      return true;
    });
    this.questions = new NavQuestions(
      ctx.api,
      this.ask,
      () => this.data.overview?.models ?? [],
      () => this.modelFor3d(),
    );
    this.stepper = new TensorStepper(
      ctx.api,
      () => ({ modelId: this.modelFor3d(), selectedId: this.selectedId }),
      (r) => {
        this.select(r);
        this.focusRegion(r);
      },
      (m) => this.error(m),
    );
    this.stage = el('div', { className: 'ex-stage', tabIndex: 0 }, this.canvas, this.labels, this.tooltip, this.readout.root, this.legend.root, this.minimap.canvas, note, this.weights.legend, this.passages.legend, this.residency.legend, this.ask.root);
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
      (q) => void this.questions.question(q),
    );

    const cmap = colormapSelect((c) => {
      this.colormap = c;
      this.dirtyData = true;
      this.requestFrame();
    });
    const range = rangeSelect((r) => {
      this.range = r;
      this.dirtyData = true;
      this.requestFrame();
    });
    const button = toolButton;
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
      hud,
    );
    this.live = new LiveOverlay(
      ctx.api,
      engineHost(ctx.api),
      () => this.requestFrame(),
      () => this.data.refresh(),
      (r) => {
        if (this.mode === '2d') this.nav.flyTo(r, 0.15);
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
    this.hud = new FrameHud(hud, note, { root: this.root, cam: this.cam, cache: this.cache, data: this.data, view2d: this.view2d, view3d: this.view3d, shapes: this.shapes, mode: () => this.mode });
    this.hoverOverlays = [{ describeAt: (x, y) => this.live.describeAt(x, y) ?? this.live.describeKvAt(x, y) }, this.residency, this.passages, this.weights];
    this.resize = new ResizeObserver(() => this.onResize());
    this.resize.observe(this.stage);
    this.input = new MapInput(this.stage, this.canvas, {
      mode: () => this.mode,
      cam: this.cam,
      nav: this.nav,
      requestFrame: () => this.requestFrame(),
      restartClock: () => {
        this.lastFrame = 0;
      },
      zoomBy: (f, sx, sy) => this.zoomBy(f, sx, sy),
      fitAll: () => this.fitAll(),
      regionAt: (x, y) => this.regionUnder(x, y),
      select: (r) => this.select(r),
      selected: () => this.selected(),
      focusRegion: (r) => this.focusRegion(r),
      stepTensor: (dir) => void this.stepper.step(dir),
    });
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
    if (model) this.nav.flyTo(model.box, 0.04, true);
    if (model && focus.tensor) {
      try {
        const { region } = await this.ctx.api.call('map:region', { id: `${model.modelId}/${focus.tensor}` });
        this.select(region);
        this.nav.flyTo(region.rect, 0.2, true);
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
      if (t.box) this.nav.flyTo(t.box, 0.04, true);
      const f = unionRects(t.focus);
      if (f) this.nav.flyTo(f, 0.3);
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
    sizeLabels(this.labels, w, h);
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
    this.nav.flyTo(b, 0.04, instant);
  }

  private zoomBy(f: number, sx = this.cam.width / 2, sy = this.cam.height / 2): void {
    if (this.mode === '3d') return;
    this.nav.zoomBy(f, sx, sy);
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
    const busy = this.nav.step(now, dt, this.mode === '2d');
    if (this.mode === '2d') this.frame2d();
    else this.frame3d();
    this.hud.frameDone(now, performance.now() - t0, busy);
    if (busy) this.requestFrame();
    else this.lastFrame = 0;
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
    if (b) cam.keepNear(b);
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
      heatRange: (r) => heatRangeOf(r, this.range, this.view2d.sharedRange),
      sharedValues: this.range === 'shared',
      heatSize: this.data.overview?.heatSize ?? 64,
    });
    // Single values reach 16 screen px however small the tensor at the view centre is drawn.
    const centre = regionAt(cam, this.data.regions, cam.width / 2, cam.height / 2);
    const centreShape = centre ? this.shapes.shapeOf(centre) : null;
    cam.maxZoom = MAX_ZOOM / Math.min(1, centreShape?.scale ?? 1);
    this.updateLegend();
    const live = this.live.shapes();
    this.view2d.setLive(live.active, live.kvFill, live.kvPages);
    this.view2d.setActivations(live.activations);
    markLive(this.root.dataset, live);
    this.weights.draw(this.view2d.scene, this.view2d.originOf());
    this.passages.draw(this.view2d.scene, this.view2d.originOf());
    this.residency.draw(this.view2d.scene, this.view2d.originOf());
    const act = this.live.current();
    this.residency.setKvPages(act ? kvPagesText({ ...act.kvPages, position: act.position }) : '', act ? act.kvPages.pages : null);
    this.renderer.render(this.view2d.scene, this.view2d.camera);
    const labels = drawLabels2d(this.labels, cam, this.data.regions, this.data.overview, this.selectedId);
    if (labels !== null) this.root.dataset.labels = String(labels);
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
    const centre = drawLabels3d(this.labels, this.cam, this.view3d, this.selectedId, (id) => this.data.regionsById.get(id)?.name ?? id);
    if (centre !== null) this.root.dataset.selectedScreen = centre;
  }

  // ------------------------------------------------------------------ hover, selection

  /** The region under screen point (x, y): on the 2D map, or picked in the 3D stack. */
  private regionUnder(x: number, y: number): MapRegionInfo | null {
    if (this.mode === '2d') return regionAt(this.cam, this.data.regions, x, y);
    const id = this.view3d.pick((x / this.cam.width) * 2 - 1, -(y / this.cam.height) * 2 + 1);
    return (id ? this.data.regionsById.get(id) : undefined) ?? null;
  }

  private updateTooltip(): void {
    const p = this.input.pointer;
    const down = this.input.down;
    if (!p || down?.moved || this.mode !== '2d') {
      this.tooltip.hidden = true;
      this.view2d.setHover(null);
      if (!down?.moved) this.readout.hide();
      return;
    }
    const r = regionAt(this.cam, this.data.regions, p.x, p.y);
    this.view2d.setHover(r ? this.drawnRect(r) : null);
    const at = this.cam.screenToMap(p.x, p.y);
    const shape = r ? this.shapes.shapeOf(r) : null;
    this.readout.hover(r, shape, at.x, at.y, this.cam.zoom);
    if (!r) {
      this.tooltip.hidden = true;
      return;
    }
    const lines = hoverLines(r, shape, at.x, at.y, { cam: this.cam, cells: this.data.cells, cache: this.cache, overlays: this.hoverOverlays });
    this.tooltip.replaceChildren(...lines.map((l, i) => el(i === 0 ? 'strong' : 'div', {}, l)));
    this.tooltip.hidden = false;
    const x = Math.min(p.x + 14, this.cam.width - this.tooltip.offsetWidth - 4);
    const y = Math.min(p.y + 14, this.cam.height - this.tooltip.offsetHeight - 4);
    this.tooltip.style.transform = `translate(${Math.max(0, x)}px, ${Math.max(0, y)}px)`;
  }

  select(region: MapRegionInfo | null): void {
    this.selectedId = region?.id ?? null;
    if (region) this.data.rememberRegion(region);
    markSelection(this.root.dataset, region, region ? this.shapes.shapeOf(region) : null);
    if (region) void this.inspector.show(region.id);
    else this.inspector.clear();
    this.view2d.setSelection(region ? this.drawnRect(region) : null);
    this.view3d.setSelection(this.selectedId);
    this.updateLegend();
    this.requestFrame();
  }

  private selected(): MapRegionInfo | undefined {
    return this.selectedId ? this.data.regionsById.get(this.selectedId) : undefined;
  }

  /** The legend follows the colormap, the range choice and the selection. */
  private updateLegend(): void {
    const r = this.selected();
    // Where single values are drawn, the selected tensor's colours are its values' (shape-layer.ts).
    const values = this.mode === '2d' && r ? this.shapes.valueRanges.get(r.id) : undefined;
    this.legend.follow(this.mode, this.colormap, this.range, r, values, this.view2d.sharedRange);
  }

  private focusRegion(r: MapRegionInfo): void {
    if (this.mode === '3d') {
      this.view3d.setSelection(r.id);
      this.requestFrame();
      return;
    }
    this.nav.flyTo(r.rect, 0.2);
  }

  private pickFromSearch(r: MapRegionInfo): void {
    this.select(r);
    if (this.mode === '3d' && this.view3d.layout?.modelId !== r.modelId) void this.load3d(r.modelId);
    this.focusRegion(r);
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
    const sel = this.selected();
    if (sel) return sel.modelId;
    return this.cam.nearest(o.models)!.modelId;
  }

  private async load3d(modelId: string): Promise<void> {
    const m = this.data.overview!.models.find((x) => x.modelId === modelId);
    if (!m) return;
    try {
      this.topCells3d = await loadStack(this.ctx.api, this.data, this.view3d, m);
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

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.raf) cancelAnimationFrame(this.raf);
    this.hud.dispose();
    this.input.dispose();
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
