/**
 * The residency overlay (issue 12 item 6, "the current residency plan drawn on the map"): with
 * the toggle on, each weight tensor of the model loaded in the engine is tinted by where it
 * lives: resident in GPU memory, or streamed from host memory each token (the residency plan
 * of its load; a GPU memory budget in Chat decides it). The legend names both with their counts
 * and the KV cache's pages (drawn by the live view in the kv-cache band). Data attributes on the
 * legend (`data-state`, `data-resident`, `data-streamed`, `data-kv-pages`) say what is drawn.
 */
import * as THREE from 'three';
import { RectOverlay } from './rect-overlay';
import type { PxiApi } from '../../../shared/ipc/client';
import type { MapModelInfo } from '../../../shared/ipc/channels/map';
import type { Rect } from '../../../shared/map/geometry';
import { formatBytes } from '../components/format';
import type { EngineHost } from '../engine/host';
import type { LoadedInfo } from '../engine/protocol';
import { el } from '../components/el';
import { stackMembers, tensorResidency, type Residency } from './residency';

const COLORS: Record<Residency, number> = { resident: 0x3fb27f, streamed: 0xe8703a };
const CSS: Record<Residency | 'kv', string> = { resident: '#3fb27f', streamed: '#e8703a', kv: '#7a5a3a' };
/** Over the weights' heat, under the outlines and the live engine. */
const ORDER = 2.6;

const WORDS: Record<Residency, string> = {
  resident: 'resident: kept in GPU memory',
  streamed: 'streamed: uploaded from host memory each token',
};

interface Tinted {
  rect: Rect;
  name: string;
  residency: Residency;
}

export class ResidencyLayer {
  readonly button: HTMLButtonElement;
  readonly legend: HTMLElement;
  private on = false;
  private models: readonly MapModelInfo[] = [];
  private tinted: Tinted[] = [];
  /** The load drawn (null: none loaded; undefined: not looked at since the toggle). */
  private shownFor: LoadedInfo | null | undefined = undefined;
  private readonly overlay = new RectOverlay(new THREE.MeshBasicMaterial({ transparent: true, opacity: 0.55, depthTest: false }), ORDER);
  private ticket = 0;
  private unsubscribe: (() => void) | null = null;
  private kvLine = '';

  constructor(
    private readonly api: PxiApi,
    private readonly host: EngineHost,
    private readonly onChange: () => void,
  ) {
    this.button = el('button', { type: 'button', className: 'ex-button', id: 'ex-residency-toggle', title: 'Residency: which weights stay in GPU memory and which stream from host memory' }, 'Residency');
    this.button.setAttribute('aria-pressed', 'false');
    this.button.addEventListener('click', () => this.toggle());
    this.legend = el('div', { className: 'ex-residency-legend', id: 'ex-residency-legend', hidden: true });
    this.legend.setAttribute('role', 'status');
    this.legend.dataset.state = 'off';
  }

  start(models: readonly MapModelInfo[]): void {
    this.models = models;
    this.unsubscribe = this.host.subscribe(() => {
      if (this.on) void this.refresh();
    });
  }

  toggle(): void {
    this.on = !this.on;
    this.button.setAttribute('aria-pressed', String(this.on));
    this.legend.hidden = !this.on;
    if (this.on) void this.refresh();
    else {
      this.ticket++;
      this.tinted = [];
      this.shownFor = undefined;
      this.legend.dataset.state = 'off';
      this.overlay.invalidate();
      this.onChange();
    }
  }

  /** The KV line of the legend (the live view's words for the pages), kept until it changes. */
  setKvPages(text: string, pages: number | null): void {
    if (text === this.kvLine) return;
    this.kvLine = text;
    if (pages === null) delete this.legend.dataset.kvPages;
    else this.legend.dataset.kvPages = String(pages);
    if (this.on) this.paintLegend();
  }

  private async refresh(): Promise<void> {
    const s = this.host.state;
    const info = s.kind === 'ready' ? s.info : null;
    if (info === this.shownFor && this.legend.dataset.state !== 'loading') return;
    const ticket = ++this.ticket;
    this.shownFor = info;
    this.tinted = [];
    const box = info ? this.models.find((m) => m.modelId === info.modelId)?.box : undefined;
    if (info && box) {
      this.legend.dataset.state = 'loading';
      this.legend.textContent = `Residency: reading where ${info.name}'s tensors are on the map…`;
      try {
        const { regions } = await this.api.call('map:regions', { viewport: { x0: box.x, y0: box.y, x1: box.x + box.width, y1: box.y + box.height }, modelId: info.modelId, kinds: ['weights'], limit: 5000 });
        if (ticket !== this.ticket) return;
        const where = tensorResidency(info.residency, regions.map((r) => r.name));
        this.tinted = regions.map((r) => ({ rect: r.rect, name: r.name, residency: where.get(r.name)! }));
        this.legend.dataset.state = 'on';
      } catch (e) {
        if (ticket !== this.ticket) return;
        this.legend.dataset.state = 'error';
        this.legend.textContent = `The residency plan could not be drawn: ${(e as Error).message}`;
        return;
      }
    } else this.legend.dataset.state = info ? 'off-map' : 'empty';
    this.paintLegend();
    this.overlay.invalidate();
    this.onChange();
  }

  private paintLegend(): void {
    const d = this.legend.dataset;
    const info = this.shownFor ?? null;
    const n = (r: Residency) => this.tinted.filter((t) => t.residency === r).length;
    d.resident = String(n('resident'));
    d.streamed = String(n('streamed'));
    // Of the resident ones, the weight matrices the plan chose to keep (norms and biases stay whatever the budget).
    const kept = new Set((info?.residency.resident ?? []).flatMap(stackMembers));
    d.residentMatrices = String(this.tinted.filter((t) => t.residency === 'resident' && kept.has(t.name)).length);
    if (d.state === 'empty' || !info) {
      this.legend.textContent = 'Residency: no model is loaded in the engine. Load one in Chat (its GPU memory budget decides which weights stream).';
      return;
    }
    if (d.state === 'off-map') {
      this.legend.textContent = `Residency: ${info.name} is loaded in the engine but is not on this map.`;
      return;
    }
    const budget = info.residency.budget === null ? 'no GPU memory budget, so every weight stays in GPU memory' : `GPU memory budget ${formatBytes(info.residency.budget)}`;
    const item = (key: Residency | 'kv', text: string) => {
      const sw = el('span', { className: 'ex-residency-swatch' });
      sw.style.background = CSS[key];
      const row = el('div', { className: 'ex-residency-item' }, sw, text);
      row.dataset.key = key;
      return row;
    };
    const tensors = (k: number) => `${k} ${k === 1 ? 'tensor' : 'tensors'}`;
    this.legend.replaceChildren(
      el('div', { className: 'ex-residency-title' }, `Residency of ${info.name}: ${budget}`),
      item('resident', `${WORDS.resident} (${tensors(n('resident'))})`),
      item('streamed', `${WORDS.streamed} (${tensors(n('streamed'))}${info.residency.streamed.length ? `, ${formatBytes(info.residency.uploadBytesPerPass)} per token` : ''})`),
      item('kv', this.kvLine || 'KV cache: pages appear in the kv-cache band as the engine generates'),
    );
  }

  /** Puts the tints into the 2D scene (world = map px relative to `origin`, y up). */
  draw(scene: THREE.Scene, origin: { x: number; y: number }): void {
    const tinted = this.tinted;
    if (this.overlay.draw(scene, origin, tinted.map((t) => t.rect), (i, c) => c.setHex(COLORS[tinted[i]!.residency])) && tinted.length > 0) {
      this.legend.dataset.drawn = String(tinted.length);
    }
  }

  /** The tooltip line for map point (x, y), or null outside the tinted tensors. */
  describeAt(x: number, y: number): string | null {
    const t = this.tinted.find((q) => x >= q.rect.x && x < q.rect.x + q.rect.width && y >= q.rect.y && y < q.rect.y + q.rect.height);
    return t ? WORDS[t.residency] : null;
  }

  dispose(): void {
    this.ticket++;
    this.unsubscribe?.();
    this.overlay.dispose();
  }
}
