import { el } from '../../components/el';

/** One fact of a `dl.facts` list: its term and its value. */
export function fact(label: string, value: Node | string): HTMLElement[] {
  return [el('dt', {}, label), el('dd', {}, value)];
}

/** A step's heading (focused when the step opens, for keyboard and screen-reader users). */
export function stepHeading(text: string): HTMLElement {
  return el('h2', { tabIndex: -1 }, text);
}
