import type { MapRegionInfo } from '../../../shared/ipc/channels/map';
import { colormapLut, scaleFor, type ColorScale, type ColormapName } from '../../../shared/map/colormap';
import { el } from '../components/el';
import { fmtValue } from './format';
import type { ColormapChoice, RangeChoice } from './heat';

/** What each colormap means, as its legend and the colormap select explain it. */
export const COLORMAP_HELP: Readonly<Record<ColormapName | 'auto', string>> = Object.freeze({
  auto: 'diverging when the range holds negative and positive values (centred on 0), viridis otherwise',
  viridis: 'viridis: dark purple for the lowest values through green to yellow for the highest',
  diverging: 'diverging: blue for negative, white for 0, red for positive; the range is symmetric around 0',
  gray: 'gray: black for the lowest values to white for the highest',
});

/** What each kind of map region holds (the tooltip explains the bands with it). */
export const KIND_HELP: Readonly<Record<string, string>> = Object.freeze({
  weights: 'a tensor of the model, its stored bytes',
  activations: 'activations band: room for the values flowing between blocks while the engine runs (the live view draws the residual stream here)',
  'kv-cache': 'KV cache band: the keys and values of the tokens seen so far; it grows as the engine reads and writes',
  free: 'free band: room reserved below the KV cache for it to grow into',
  corpus: 'a text corpus stored as tiles (what Chat cites passages from)',
});

/** The 3D stack's layer names explained. */
export const LAYER_HELP: Readonly<Record<string, string>> = Object.freeze({
  pre: 'pre: tensors used before block 0 (the token embedding)',
  blk: 'blk N: the tensors of transformer block N (attention and feed-forward)',
  post: 'post: tensors used after the last block (the output norm and the output head)',
});

/**
 * The colour legend (bottom of the stage): a gradient bar of the colormap in use with the numbers
 * of its range (low, middle, high) and what the range is; in 3D, the layer names explained.
 */
export class ColorLegend {
  readonly root: HTMLElement;
  private readonly bar: HTMLCanvasElement;
  private readonly lo: HTMLElement;
  private readonly mid: HTMLElement;
  private readonly hi: HTMLElement;
  private readonly caption: HTMLElement;
  private readonly layers: HTMLElement;
  private drawn: ColormapName | null = null;
  /** The last source `follow` drew, so that it is redrawn only when that changes. */
  private followed = '';

  constructor() {
    this.bar = el('canvas', { className: 'ex-legend-bar', width: 256, height: 1 });
    this.lo = el('span', {});
    this.mid = el('span', {});
    this.hi = el('span', {});
    this.lo.dataset.field = 'lo';
    this.mid.dataset.field = 'mid';
    this.hi.dataset.field = 'hi';
    this.caption = el('div', { className: 'ex-legend-caption' });
    const abbr = (text: string, help: string) => {
      const a = el('abbr', { title: help, tabIndex: 0 }, text);
      a.dataset.layer = text;
      return a;
    };
    this.layers = el('div', { className: 'ex-legend-layers', hidden: true }, 'Layers: ', abbr('pre', LAYER_HELP.pre!), ' · ', abbr('blk N', LAYER_HELP.blk!), ' · ', abbr('post', LAYER_HELP.post!));
    this.root = el('div', { className: 'ex-legend' }, this.bar, el('div', { className: 'ex-legend-numbers' }, this.lo, this.mid, this.hi), this.caption, this.layers);
    this.root.setAttribute('role', 'img');
  }

  /** Shows `scale` (null: no one range, e.g. each tensor its own with none selected) under `caption`. */
  update(colormap: ColormapName, scale: ColorScale | null, caption: string, mode: '2d' | '3d'): void {
    if (this.drawn !== colormap) {
      const lut = colormapLut(colormap, 256);
      const ctx = this.bar.getContext('2d');
      if (ctx) {
        const img = ctx.createImageData(256, 1);
        img.data.set(lut);
        ctx.putImageData(img, 0, 0);
      }
      this.drawn = colormap;
    }
    const d = this.root.dataset;
    d.colormap = colormap;
    this.lo.textContent = scale ? fmtValue(scale.lo) : 'low';
    this.mid.textContent = scale ? fmtValue((scale.lo + scale.hi) / 2) : '';
    this.hi.textContent = scale ? fmtValue(scale.hi) : 'high';
    d.lo = scale ? String(scale.lo) : '';
    d.hi = scale ? String(scale.hi) : '';
    this.caption.textContent = caption;
    this.root.title = `${COLORMAP_HELP[colormap]}. ${caption}`;
    this.root.setAttribute('aria-label', `Colour legend: ${COLORMAP_HELP[colormap]}; ${scale ? `from ${fmtValue(scale.lo)} to ${fmtValue(scale.hi)}` : 'no single range'}; ${caption}`);
    this.layers.hidden = mode !== '3d';
  }

  /**
   * Follows the colormap, the range choice and the selection `r` (per-tensor ranges have numbers
   * only for one tensor): its values' range where they are drawn one by one (`values`, 2D), the
   * one range over everything drawn (`shared`), or its heat's range.
   */
  follow(mode: '2d' | '3d', colormap: ColormapChoice, range: RangeChoice, r: MapRegionInfo | undefined, values: readonly [number, number] | undefined, shared: readonly [number, number] | null): void {
    const key = `${mode}|${colormap}|${range}|${r?.id ?? ''}|${values ?? ''}|${shared ?? ''}`;
    if (key === this.followed) return;
    this.followed = key;
    if (r && values) {
      const s = scaleFor(values[0], values[1], colormap);
      this.update(s.colormap, s, `${range === 'shared' ? 'one range over the values of all tensors drawn value by value' : `range of ${r.name}'s values`} (single values are drawn at this zoom)`, mode);
    } else if (range === 'shared' && shared) {
      const s = scaleFor(shared[0], shared[1], colormap);
      this.update(s.colormap, s, 'one range for all tensors in view', mode);
    } else if (r && r.pyramid.heatMin !== null && r.pyramid.heatMax !== null) {
      const s = scaleFor(r.pyramid.heatMin, r.pyramid.heatMax, colormap);
      this.update(s.colormap, s, `range of ${r.name}'s heat (the means of its pixels; each tensor is coloured over its own range)`, mode);
    } else {
      const auto = colormap === 'auto';
      this.update(colormap === 'auto' ? 'diverging' : colormap, null, `${auto ? 'auto: diverging around 0 where a tensor has both signs, else viridis; ' : ''}each tensor over its own range: select one for its numbers`, mode);
    }
  }
}
