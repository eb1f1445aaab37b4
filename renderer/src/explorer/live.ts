/**
 * The engine seen on the map while it runs (specs/explorer.md, "Live engine"): the block the GPU
 * just computed is lit over its column, and the kv-cache band shows the KV cache's pages (each
 * allocated page shaded, the positions in use filled), in the order PixelFS would lay its bytes
 * out (4 bytes per pixel, tiles row-major; kv-pages.ts). The renderer's
 * one EngineHost reports activity only while someone watches it, so the chat pays for the
 * per-block tracing only while the explorer is open.
 */
import type { PxiApi } from '../../../shared/ipc/client';
import type { MapRegionInfo } from '../../../shared/ipc/channels/map';
import { unionRects, type Rect } from '../../../shared/map/geometry';
import { byteSpanRects } from '../../../shared/map/regions';
import type { EngineHost } from '../engine/host';
import type { EngineActivations, EngineActivity } from '../engine/protocol';
import { el } from '../components/el';
import { fmtBytes, fmtInt } from './format';
import { checkKvPages, kvPageLayout, kvPagesText } from './kv-pages';

/** Where a model's stages sit on the map. */
interface ModelPlaces {
  modelId: string;
  name: string;
  box: Rect;
  /** Union of each block's weights, by block index. */
  blocks: Map<number, Rect>;
  /** Union of the output head's weights (output_norm, output). */
  output: Rect | null;
  kv: MapRegionInfo | null;
  activations: Rect | null;
}

/** The residual stream to draw over the activations band: one row per block, each row scaled by its RMS. */
export interface LiveActivations {
  rect: Rect;
  rows: number;
  cols: number;
  /** [rows × cols], x / rms(x) per row (what the next RMSNorm sees, before its weights). */
  values: Float32Array<ArrayBuffer>;
  /** Changes whenever the values do. */
  version: number;
}

export interface LiveShapes {
  /** The stage just computed (a block column or the output head); null when idle. */
  active: Rect | null;
  /** The kv-cache band's used part. */
  kvFill: Rect[];
  /** Each allocated KV page's rectangles, in page order. */
  kvPages: Rect[][];
  activations: LiveActivations | null;
}

export class LiveOverlay {
  readonly panel: HTMLElement;
  private readonly text: HTMLElement;
  private readonly goButton: HTMLButtonElement;
  private activity: EngineActivity | null = null;
  private places: ModelPlaces | null = null;
  private loadingFor: string | null = null;
  private unwatch: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly api: PxiApi,
    private readonly host: EngineHost,
    private readonly onChange: () => void,
    /** The kv-cache band moved on the map: the view's region outlines are stale. */
    private readonly onRegions: () => void,
    private readonly onGo: (r: Rect) => void,
  ) {
    this.text = el('span', { className: 'ex-live-text' });
    this.goButton = el('button', { type: 'button', className: 'ex-button', textContent: 'Show', title: 'Fly to the model the engine is running' });
    this.goButton.addEventListener('click', () => {
      const s = this.shapes();
      const r = s.active ?? this.places?.box;
      if (r) this.onGo(r);
    });
    // Tracing is not free: say so where the user watches (issue 13: decode ran at about half speed).
    const cost = el('span', { className: 'ex-live-cost' }, 'Watching slows generation');
    cost.title = 'While this view watches, the engine traces every block: one GPU command buffer per block instead of one per token, so prefill and decode run slower (about half speed measured on stories260K). Leave the Explorer for full speed.';
    cost.dataset.field = 'cost';
    cost.tabIndex = 0;
    cost.setAttribute('aria-label', `Watching slows generation. ${cost.title}`);
    this.panel = el('div', { className: 'ex-live', hidden: true }, el('span', { className: 'ex-live-dot' }), this.text, cost, this.goButton);
    this.panel.id = 'ex-live';
  }

  /** Starts watching the engine (the worker begins tracing its passes). */
  start(models: { modelId: string; name: string; box: Rect }[]): void {
    this.unwatch = this.host.watchActivity((a) => this.onActivity(a, models));
    // A reply starting or ending sends no activity of its own: repaint the panel's words when it does.
    this.busyTimer = setInterval(() => {
      if (this.activity && this.host.busy !== this.shownBusy) this.paintPanel();
    }, 200);
  }

  private onActivity(a: EngineActivity | null, models: { modelId: string; name: string; box: Rect }[]): void {
    if (this.closed) return;
    this.activity = a;
    const kv = this.host.kvRegion;
    const p = this.places;
    if (a && p?.modelId === a.modelId && kv && kv.modelId === a.modelId && kv !== p.kv) {
      const moved = !p.kv || p.kv.rect.height !== kv.rect.height;
      p.kv = kv;
      if (moved) this.onRegions();
    }
    if (a && this.places?.modelId !== a.modelId && this.loadingFor !== a.modelId) {
      const m = models.find((x) => x.modelId === a.modelId);
      if (m) void this.loadPlaces(m);
      else this.places = null;
    }
    this.paintPanel();
    this.onChange();
  }

  private async loadPlaces(m: { modelId: string; name: string; box: Rect }): Promise<void> {
    this.loadingFor = m.modelId;
    try {
      const b = m.box;
      const { regions } = await this.api.call('map:regions', {
        viewport: { x0: b.x, y0: b.y, x1: b.x + b.width, y1: b.y + b.height },
        modelId: m.modelId,
        kinds: ['weights', 'kv-cache', 'activations'],
        limit: 5000,
      });
      if (this.closed) return;
      const byBlock = new Map<number, Rect[]>();
      const output: Rect[] = [];
      let kv: MapRegionInfo | null = null;
      let activations: Rect | null = null;
      for (const r of regions) {
        if (r.kind === 'kv-cache') kv = r;
        else if (r.kind === 'activations') activations = r.rect;
        else if (r.block !== null) byBlock.set(r.block, [...(byBlock.get(r.block) ?? []), r.rect]);
        else if (/^output/.test(r.name)) output.push(r.rect);
      }
      const host = this.host.kvRegion;
      this.places = {
        modelId: m.modelId,
        name: m.name,
        box: m.box,
        blocks: new Map([...byBlock].map(([k, v]) => [k, unionRects(v)!])),
        output: output.length ? unionRects(output) : null,
        kv: host && host.modelId === m.modelId ? host : kv,
        activations,
      };
    } catch {
      // Without the model's places the panel still tells what the engine does.
      this.places = null;
    } finally {
      this.loadingFor = null;
      this.paintPanel();
      this.onChange();
    }
  }

  /** The engine's last activity (null with no model loaded). */
  current(): EngineActivity | null {
    return this.activity;
  }

  /** What to draw now. */
  shapes(): LiveShapes {
    const a = this.activity;
    const p = this.places;
    if (!a || !p || p.modelId !== a.modelId) return { active: null, kvFill: [], kvPages: [], activations: null };
    const active = a.block === null ? null : a.block >= a.blocks ? p.output : (p.blocks.get(a.block) ?? null);
    const pages = p.kv ? kvPageLayout({ ...p.kv.rect, grid: p.kv.grid }, { ...a.kvPages, position: a.position, contextLength: a.contextLength, kvBytesPerToken: a.kvBytesPerToken }) : null;
    // A report that does not add up (never expected) still shows the positions in use.
    const kvFill = pages ? pages.used : p.kv ? byteSpanRects({ ...p.kv.rect, grid: p.kv.grid }, Math.round(a.position * a.kvBytesPerToken)).rects : [];
    return { active, kvFill, kvPages: pages?.pages ?? [], activations: this.activationsFor(p) };
  }

  /** The KV page under map point (x, y) in plain words, for the tooltip; null elsewhere. */
  describeKvAt(x: number, y: number): string | null {
    const a = this.activity;
    const kv = this.places?.kv;
    if (!a || !kv || this.places?.modelId !== a.modelId) return null;
    const r = kv.rect;
    if (x < r.x || x >= r.x + r.width || y < r.y || y >= r.y + r.height) return null;
    const pages = this.shapes().kvPages;
    const i = pages.findIndex((rs) => rs.some((q) => x >= q.x && x < q.x + q.width && y >= q.y && y < q.y + q.height));
    return `${kvPagesText({ ...a.kvPages, position: a.position })}${i >= 0 ? ` (page ${i + 1}: positions ${fmtInt(i * a.kvPages.pageSize)} to ${fmtInt(Math.min((i + 1) * a.kvPages.pageSize, a.contextLength) - 1)})` : ''}`;
  }

  /** What the residual stream drawing shows at map point (x, y), for the tooltip; null elsewhere. */
  describeAt(x: number, y: number): string | null {
    const p = this.places;
    const a = p ? this.activationsFor(p) : null;
    if (!a) return null;
    const r = a.rect;
    if (x < r.x || x >= r.x + r.width || y < r.y || y >= r.y + r.height) return null;
    const row = Math.min(a.rows - 1, Math.floor(((y - r.y) / r.height) * a.rows));
    const col = Math.min(a.cols - 1, Math.floor(((x - r.x) / r.width) * a.cols));
    const raw = this.host.activations!.values[row * a.cols + col]!;
    return `residual stream after blk.${row}, dimension ${col}: ${raw.toPrecision(4)} (${a.values[row * a.cols + col]!.toFixed(2)} × its RMS)`;
  }

  private normalised: { from: EngineActivations; out: LiveActivations } | null = null;

  private activationsFor(p: ModelPlaces): LiveActivations | null {
    const r = this.host.activations;
    if (!r || r.modelId !== p.modelId || !p.activations) return null;
    if (this.normalised?.from !== r) {
      const values = new Float32Array(r.values.length);
      for (let b = 0; b < r.blocks; b++) {
        let ss = 0;
        for (let i = 0; i < r.width; i++) ss += r.values[b * r.width + i]! ** 2;
        const inv = 1 / Math.sqrt(ss / r.width + 1e-12);
        for (let i = 0; i < r.width; i++) values[b * r.width + i] = r.values[b * r.width + i]! * inv;
      }
      this.normalised = { from: r, out: { rect: p.activations, rows: r.blocks, cols: r.width, values, version: (this.normalised?.out.version ?? 0) + 1 } };
    }
    return { ...this.normalised.out, rect: p.activations };
  }

  private busyTimer: ReturnType<typeof setInterval> | null = null;
  private shownBusy = false;

  private paintPanel(): void {
    const a = this.activity;
    this.shownBusy = this.host.busy;
    const d = this.panel.dataset;
    this.panel.hidden = a === null;
    if (!a) {
      delete d.phase;
      return;
    }
    const name = this.places?.modelId === a.modelId ? this.places.name : a.modelId;
    const kvBytes = Math.round(a.position * a.kvBytesPerToken);
    const stage = a.block === null ? 'idle' : a.block >= a.blocks ? 'output head' : `blk.${a.block} of ${a.blocks} blocks`;
    // A reply is running but no pass traced yet (the prompt's first prefill pass is under way): not idle.
    const phase = a.phase === 'idle' && this.host.busy ? 'prefill' : a.phase;
    const onMap = this.places?.modelId === a.modelId;
    this.text.textContent =
      `${name} in the engine · ${phase === 'idle' ? 'idle' : a.phase === 'idle' ? 'prefill · reading the prompt' : `${a.phase} · ${stage}`} · KV cache ${fmtInt(a.position)} of ${fmtInt(a.contextLength)} tokens (${fmtBytes(kvBytes)})` +
      ` · ${fmtInt(a.kvPages.pages)} ${a.kvPages.pages === 1 ? 'page' : 'pages'} of ${fmtInt(a.kvPages.pageSize)} positions` +
      (onMap || this.loadingFor === a.modelId ? '' : ' · not on this map');
    this.goButton.hidden = !onMap;
    d.phase = a.phase;
    d.shownPhase = phase;
    d.block = a.block === null ? '' : String(a.block);
    d.position = String(a.position);
    d.kvBytes = String(kvBytes);
    d.kvPages = String(a.kvPages.pages);
    d.kvPageSize = String(a.kvPages.pageSize);
    // Whether the report adds up (positions within the pages held); the map draws the pages only then.
    d.kvPagesValid = String(checkKvPages({ ...a.kvPages, position: a.position, contextLength: a.contextLength, kvBytesPerToken: a.kvBytesPerToken }) === null);
    this.text.title = kvPagesText({ ...a.kvPages, position: a.position });
    d.model = a.modelId;
  }

  dispose(): void {
    this.closed = true;
    if (this.busyTimer !== null) clearInterval(this.busyTimer);
    this.busyTimer = null;
    this.unwatch?.();
    this.unwatch = null;
  }
}

/** Writes what the live layer draws onto the explorer's data attributes (tests read them). */
export function markLive(d: DOMStringMap, live: LiveShapes): void {
  d.liveActivations = live.activations ? `${live.activations.rows}x${live.activations.cols}` : '';
  d.liveActive = String(live.active !== null);
  d.liveKvRects = String(live.kvFill.length);
  // Pages drawn: those with rectangles on the map.
  d.liveKvPages = String(live.kvPages.filter((p) => p.length > 0).length);
}
