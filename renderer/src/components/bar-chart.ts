import { el } from './el';

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, ...children: (Node | string)[]): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

export interface Bar {
  label: string;
  value: number;
  /** What the bar's end says (e.g. "1.12 MiB · 48 tensors"). */
  valueLabel: string;
  /** Drawn in the warning colour, with a marker in the label. */
  warn?: boolean;
}

/**
 * A horizontal bar chart drawn as SVG, largest first. The SVG is described for assistive
 * technology by its <title> and <desc>; each bar carries its own <title> as a tooltip.
 */
export function barChart(title: string, bars: Bar[]): HTMLElement {
  const rows = [...bars].sort((a, b) => b.value - a.value);
  const max = Math.max(1, ...rows.map((r) => r.value));
  const W = 640;
  const labelW = 110;
  const valueW = 190;
  const rowH = 26;
  const barW = W - labelW - valueW;
  const H = rows.length * rowH + 4;
  const desc = rows.map((r) => `${r.label}: ${r.valueLabel}${r.warn ? ' (the engine cannot run this type)' : ''}`).join('; ');
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'bar-chart', 'aria-label': title }, svg('title', {}, title), svg('desc', {}, desc));
  rows.forEach((r, i) => {
    const y = i * rowH + 2;
    const w = Math.max(2, (barW * r.value) / max);
    const g = svg('g', { class: r.warn ? 'bar warn' : 'bar' }, svg('title', {}, `${r.label}: ${r.valueLabel}`));
    g.append(
      svg('text', { x: labelW - 8, y: y + rowH / 2, 'text-anchor': 'end', 'dominant-baseline': 'central', class: 'bar-label' }, r.warn ? `⚠ ${r.label}` : r.label),
      svg('rect', { x: labelW, y: y + 4, width: barW, height: rowH - 8, rx: 3, class: 'bar-track' }),
      svg('rect', { x: labelW, y: y + 4, width: w.toFixed(1), height: rowH - 8, rx: 3, class: 'bar-fill' }),
      svg('text', { x: labelW + barW + 8, y: y + rowH / 2, 'dominant-baseline': 'central', class: 'bar-value' }, r.valueLabel),
    );
    root.append(g);
  });
  return el('figure', { className: 'chart' }, root, el('figcaption', { className: 'muted' }, title));
}
