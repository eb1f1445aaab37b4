import type { PxiApi } from '../../../shared/ipc/client';
import type { Response } from '../../../shared/ipc/contract';
import { regionWords, storedPlaceWords } from '../../../shared/map/region-words';
import { el } from '../components/el';
import { fmtBytes, fmtHex, fmtInt, fmtShape, fmtValue } from './format';
import { drawHistogram } from './histogram';

type RegionDetails = Response<'map:region'>;

/**
 * The inspector panel: what a clicked tensor is (in plain words first, then its stored name,
 * its model's name, shape, type, bytes and their place in the GGUF file, tiles, where the bytes
 * are stored in the model's active layout (its own file, or a pack), map rectangle),
 * its statistics from the pyramid, and a histogram of its decoded values fetched from the
 * services. Ids (region, model, PixelFS file) are for the curious: in an "Identifiers" fold.
 */
export class Inspector {
  readonly root: HTMLElement;
  private readonly body: HTMLElement;
  private seq = 0;
  current: RegionDetails | null = null;

  constructor(
    private readonly api: PxiApi,
    private readonly onFly: (d: RegionDetails) => void,
    /** The model's name for its id (undefined when the map no longer lists it). */
    private readonly modelName: (modelId: string) => string | undefined = () => undefined,
  ) {
    this.root = el('aside', { className: 'ex-inspector' });
    this.root.setAttribute('aria-label', 'Inspector');
    this.root.setAttribute('aria-live', 'polite');
    this.body = el('div', {});
    this.root.append(el('h2', {}, 'Inspector'), this.body);
    this.clear();
  }

  clear(): void {
    this.seq++;
    this.current = null;
    delete this.root.dataset.regionId;
    this.body.replaceChildren(el('p', { className: 'muted' }, 'Click a tensor on the map, or search for one, to see its shape, statistics and values.'));
  }

  async show(regionId: string): Promise<void> {
    const seq = ++this.seq;
    this.root.dataset.regionId = regionId;
    this.body.replaceChildren(el('p', { className: 'muted' }, 'Loading…'));
    let d: RegionDetails;
    try {
      d = await this.api.call('map:region', { id: regionId });
    } catch (e) {
      if (seq === this.seq) this.body.replaceChildren(el('p', { className: 'error', role: 'alert' }, (e as Error).message));
      return;
    }
    if (seq !== this.seq) return;
    this.current = d;
    this.render(d);
    if (d.region.kind === 'weights' && d.region.tensor) await this.loadHistogram(d, seq);
  }

  private render(d: RegionDetails): void {
    const r = d.region;
    const rows: [string, string, string][] = [];
    const add = (field: string, label: string, value: string) => rows.push([field, label, value]);
    if (r.tensor) {
      add('shape', 'Shape', fmtShape(r.tensor.dims));
      add('type', 'Type', r.tensor.type);
      if (d.elements !== null) add('elements', 'Values', fmtInt(d.elements));
      add('bytes', 'Bytes', `${fmtBytes(r.tensor.bytes)} (${fmtInt(r.tensor.bytes)})`);
    }
    if (d.byteRange) add('byte-range', 'In the GGUF', `${fmtHex(d.byteRange.offset)} – ${fmtHex(d.byteRange.offset + d.byteRange.length)}`);
    add('tiles', 'Tiles', `${fmtInt(r.grid.tileCount)} of ${r.grid.tileWidth}×${r.grid.tileHeight} px (${r.grid.cols}×${r.grid.rows} grid, ${fmtBytes(d.tileBytes)} each)`);
    if (d.place) add('stored', 'Stored', storedPlaceWords(d.place));
    add('rect', 'On the map', `${fmtInt(r.rect.x)}, ${fmtInt(r.rect.y)} · ${fmtInt(r.rect.width)}×${fmtInt(r.rect.height)}`);
    const p = r.pyramid;
    add('pyramid', 'LOD levels', p.state === 'built' ? String(p.levels ?? 0) : p.state + (p.note ? ` (${p.note})` : ''));
    const s = p.stats;
    if (s && s.count > 0) {
      add('mean', 'Mean', fmtValue(s.mean));
      add('std', 'Std dev', fmtValue(s.std));
      add('min', 'Min', fmtValue(s.min));
      add('max', 'Max', fmtValue(s.max));
      if (s.nonFinite) add('non-finite', 'NaN/Inf', fmtInt(s.nonFinite));
    }
    const table = el('table', { className: 'ex-facts' });
    for (const [field, label, value] of rows) {
      const td = el('td', {}, value);
      td.dataset.field = field;
      table.append(el('tr', {}, el('th', { scope: 'row' }, label), td));
    }
    // What it is in words, then the name the file gives it (what search and Chat's cites use).
    const words = regionWords(r.kind, r.name);
    const title = el('h3', { className: 'ex-title' }, words.title);
    title.dataset.field = 'title';
    const name = el('code', { className: 'ex-name' }, r.name);
    name.dataset.field = 'name';
    const part = el('span', { className: 'muted' }, words.part ? ` · ${words.part}` : '');
    part.dataset.field = 'part';
    const model = el('p', { className: 'muted ex-model' }, `in ${this.modelName(r.modelId) ?? r.modelId}`);
    model.dataset.field = 'model';
    const ids = el('table', { className: 'ex-facts' });
    const idRows: [string, string, string][] = [
      ['region-id', 'Region', r.id],
      ['model-id', 'Model', r.modelId],
      ['kind', 'Kind', r.kind],
      ...(d.file ? ([['file', 'PixelFS file', d.file]] as [string, string, string][]) : []),
      ...(d.place?.generation ? ([['layout', 'Layout', d.place.generation]] as [string, string, string][]) : []),
    ];
    for (const [field, label, value] of idRows) {
      const td = el('td', {}, value);
      td.dataset.field = field;
      ids.append(el('tr', {}, el('th', { scope: 'row' }, label), td));
    }
    const details = el('details', { className: 'ex-ids' }, el('summary', {}, 'Identifiers'), ids);
    const fly = el('button', { type: 'button', className: 'ex-button' }, 'Show on map');
    fly.addEventListener('click', () => this.onFly(d));
    this.body.replaceChildren(title, el('p', { className: 'ex-stored-name' }, name, part), model, table, details);
    if (r.kind === 'weights' && r.tensor) {
      const canvas = el('canvas', { className: 'ex-histogram' });
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', 'Histogram of the tensor values (loading)');
      this.body.append(el('h4', {}, 'Values'), canvas);
    }
    this.body.append(fly);
  }

  private async loadHistogram(d: RegionDetails, seq: number): Promise<void> {
    const canvas = this.body.querySelector<HTMLCanvasElement>('canvas.ex-histogram');
    if (!canvas) return;
    try {
      const h = await this.api.call('map:histogram', { id: d.region.id, bins: 64 });
      if (seq !== this.seq) return;
      const bars = drawHistogram(canvas, h);
      canvas.dataset.bars = String(bars);
      canvas.dataset.count = String(h.counts.reduce((a, b) => a + b, 0));
      canvas.dataset.exact = String(h.exact);
      canvas.setAttribute('aria-label', `Histogram of ${h.exact ? 'all' : 'a sample of'} ${fmtInt(h.sampled)} values from ${fmtValue(h.lo)} to ${fmtValue(h.hi)}`);
    } catch (e) {
      if (seq !== this.seq) return;
      canvas.replaceWith(el('p', { className: 'error', role: 'alert' }, `No histogram: ${(e as Error).message}`));
    }
  }
}
