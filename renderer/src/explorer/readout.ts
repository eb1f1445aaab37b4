import type { MapRegionInfo } from '../../../shared/ipc/channels/map';
import type { Response } from '../../../shared/ipc/contract';
import { matrixShape, type PixelElement } from '../../../shared/map/values';
import { shapeElementAt, storedByte, type TensorShape } from '../../../shared/map/shape';
import { getQuantFormat, isQuantTypeName } from '../../../shared/quant';
import { el } from '../components/el';
import type { PxiApi } from '../../../shared/ipc/client';

/** Screen pixels per value from which the readout shows single values (a value is then a square one can point at). */
export const READOUT_ZOOM = 4;
/** The window fetched around the pointer: moving within it costs no call. */
const WIN_ROWS = 16;
const WIN_COLS = 64;

type Values = Response<'map:values'>;

/**
 * The single-value readout (specs/explorer.md, "Reading single values"): zoomed in to READOUT_ZOOM
 * screen pixels per value or more over a tensor drawn in its shape, the value under the pointer
 * is the element at that row and column (the one drawn there); the readout shows its row,
 * column, stored and dequantised value, and for quantised types its block and scale, from a
 * map:values window around the pointer (one call per window, the latest request wins).
 */
export class ValueReadout {
  readonly root: HTMLElement;
  private readonly fields = new Map<string, HTMLElement>();
  private win: Values | null = null;
  private want: { region: MapRegionInfo; at: PixelElement } | null = null;
  private inFlight = false;

  constructor(private readonly api: PxiApi, private readonly onError: (m: string) => void) {
    const row = (key: string, label: string, title: string) => {
      const v = el('dd', {});
      v.dataset.field = key;
      this.fields.set(key, v);
      const dt = el('dt', { title }, label);
      return [dt, v];
    };
    this.root = el(
      'dl',
      { className: 'ex-readout', hidden: true },
      ...row('tensor', 'tensor', 'The tensor under the pointer'),
      ...row('row', 'row', 'Row of the tensor (ggml dimension 1; higher dimensions stack more rows)'),
      ...row('col', 'column', 'Column of the tensor (ggml dimension 0)'),
      ...row('value', 'value', 'The value as the engine computes with it (dequantised)'),
      ...row('stored', 'stored', 'What the file stores: the value itself for F32/F16/BF16; for quantised types the stored integer (times the sub-block scale in K types), before the block scale is applied'),
      ...row('block', 'block', 'The quantisation block holding this value (index in the tensor)'),
      ...row('scale', 'scale', "The block's scale d (and min, for types with one): value = d × stored (− min term)"),
    );
    this.root.setAttribute('aria-live', 'polite');
    this.root.setAttribute('aria-label', 'Value under the pointer');
  }

  /**
   * The pointer is at map (x, y) over `region`, drawn as `shape`, at `zoom` screen pixels per map
   * pixel (region null: over nothing).
   */
  hover(region: MapRegionInfo | null, shape: TensorShape | null, x: number, y: number, zoom: number): void {
    const t = region?.kind === 'weights' ? region.tensor : null;
    if (!region || !t || !shape || zoom * shape.scale < READOUT_ZOOM || !isQuantTypeName(t.type)) return this.hide();
    const fmt = getQuantFormat(t.type);
    const e = shapeElementAt(shape, x, y);
    if (!e) return this.hide();
    const at: PixelElement = { ...e, byte: storedByte(e.element, fmt), block: Math.floor(e.element / fmt.blockSize) };
    this.want = { region, at };
    this.root.hidden = false;
    this.root.dataset.regionId = region.id;
    this.set('tensor', region.name);
    this.set('row', String(at.row));
    this.set('col', String(at.col));
    this.show();
    if (!this.covers(region.id, at)) void this.fetch();
  }

  hide(): void {
    this.want = null;
    this.root.hidden = true;
    this.root.dataset.ready = 'false';
  }

  private set(key: string, text: string): void {
    const f = this.fields.get(key)!;
    if (f.textContent !== text) f.textContent = text;
  }

  private covers(id: string, at: PixelElement): boolean {
    const w = this.win;
    return !!w && w.regionId === id && at.row >= w.row && at.row < w.row + w.rows && at.col >= w.col && at.col < w.col + w.cols;
  }

  private async fetch(): Promise<void> {
    if (this.inFlight || !this.want) return;
    const { region, at } = this.want;
    const shape = matrixShape(region.tensor!.dims);
    this.inFlight = true;
    try {
      this.win = await this.api.call('map:values', {
        id: region.id,
        row: Math.max(0, Math.min(at.row - WIN_ROWS / 2, shape.rows - WIN_ROWS)),
        col: Math.max(0, Math.min(at.col - WIN_COLS / 2, shape.cols - WIN_COLS)),
        rows: WIN_ROWS,
        cols: WIN_COLS,
      });
    } catch (e) {
      // No retry loop: the next pointer move outside the window asks again.
      this.inFlight = false;
      this.onError(`Reading values: ${(e as Error).message}`);
      return;
    }
    this.inFlight = false;
    // The pointer moved on meanwhile: fetch for where it is now.
    if (this.want && !this.covers(this.want.region.id, this.want.at)) this.fetchLater();
    this.show();
  }

  private fetchLater(): void {
    // One follow-up per answer: the latest position, not every position passed.
    queueMicrotask(() => void this.fetch());
  }

  private show(): void {
    const w = this.win;
    const want = this.want;
    if (!want || !w || !this.covers(want.region.id, want.at)) {
      this.root.dataset.ready = 'false';
      for (const k of ['value', 'stored', 'block', 'scale']) this.set(k, '…');
      return;
    }
    const { at } = want;
    const i = (at.row - w.row) * w.cols + (at.col - w.col);
    const num = (v: number | null | undefined) => (v === null || v === undefined ? 'NaN/∞' : String(v));
    this.set('value', num(w.values[i]));
    this.set('stored', num(w.stored[i]));
    const blockIndex = Math.floor((at.row * w.shape.cols + at.col) / w.blockSize);
    const b = w.blocks.find((x) => x.index === blockIndex);
    const quantised = w.blockSize > 1;
    this.set('block', quantised ? `${blockIndex} (${w.blockSize} values)` : '– (not quantised)');
    this.set('scale', b && b.scale !== null ? `d = ${b.scale}${b.min !== null ? `, min = ${b.min}` : ''}` : '–');
    this.root.dataset.ready = 'true';
    this.root.dataset.row = String(at.row);
    this.root.dataset.col = String(at.col);
  }
}
