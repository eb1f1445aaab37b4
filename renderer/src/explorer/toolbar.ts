import { COLORMAP_NAMES } from '../../../shared/map/colormap';
import { el } from '../components/el';
import type { ColormapChoice, RangeChoice } from './heat';
import { COLORMAP_HELP } from './legend';

/** A toolbar button: `label` shown, `title` its tooltip and accessible name. */
export function toolButton(label: string, title: string, fn: () => void): HTMLButtonElement {
  const b = el('button', { type: 'button', className: 'ex-button', title }, label);
  b.setAttribute('aria-label', title);
  b.addEventListener('click', fn);
  return b;
}

/** The colormap select (each option titled with what it means), told each choice. */
export function colormapSelect(onChange: (c: ColormapChoice) => void): HTMLSelectElement {
  const cmap = el('select', { className: 'ex-select' }, ...(['auto', ...COLORMAP_NAMES] as const).map((n) => el('option', { value: n, title: COLORMAP_HELP[n] }, n === 'auto' ? 'auto colours' : n)));
  cmap.setAttribute('aria-label', 'Colormap');
  cmap.addEventListener('change', () => onChange(cmap.value as ColormapChoice));
  return cmap;
}

/** The colour range select: one range per tensor, or one for all, told each choice. */
export function rangeSelect(onChange: (r: RangeChoice) => void): HTMLSelectElement {
  const range = el('select', { className: 'ex-select' }, el('option', { value: 'tensor' }, 'range per tensor'), el('option', { value: 'shared' }, 'one range for all'));
  range.setAttribute('aria-label', 'Colour range');
  range.addEventListener('change', () => onChange(range.value as RangeChoice));
  return range;
}
