/**
 * The Training view's curves: a small SVG line chart with labelled axes, a linear or log10 y
 * axis (loss falls over orders of magnitude early and by hundredths late: a log axis shows both),
 * one polyline per line series and a circle per point of a dot series (validation). Redrawn from
 * scratch on each update, which at ≤ 4000 points is a few ms.
 */
const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, ...children: (Node | string)[]): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

export interface ChartPoint {
  x: number;
  y: number;
}

export interface ChartSeries {
  name: string;
  /** CSS class of its marks (`series-train`, `series-valid`, ...). */
  cls: string;
  kind: 'line' | 'dots';
  points: readonly ChartPoint[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** log10 y axis (every y must be > 0; others are left out). */
  log?: boolean;
  /** The x axis spans [0, xMax] (e.g. the run's steps) however far the points go. */
  xMax: number;
  width?: number;
  height?: number;
}

/** Round tick values: 1, 2 or 5 × 10^k apart, about `count` of them over [lo, hi]. */
export function linearTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Log-axis ticks: 1, 2, 3, 5 × 10^k inside [lo, hi] (lo > 0); evenly spaced round values when fewer than three fall inside. */
export function logTicks(lo: number, hi: number): number[] {
  const all: { v: number; decade: boolean }[] = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
    for (const m of [1, 2, 3, 5]) {
      const v = Number((m * 10 ** k).toPrecision(6));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) all.push({ v, decade: m === 1 });
    }
  }
  // Within a decade or so (a loss going from 6 to 4): round values spaced evenly instead.
  if (all.length < 3) return linearTicks(lo, hi, 6).filter((v) => v > 0);
  // On a wide range only the powers of ten.
  const out = all.length > 8 ? all.filter((t) => t.decade) : all;
  return out.length >= 2 ? out.map((t) => t.v) : all.map((t) => t.v);
}

export function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  if (a >= 100) return String(Math.round(v));
  return String(Number(v.toPrecision(3)));
}

/** Draws the chart into `root` (an <svg>), replacing what was there. */
export function drawChart(root: SVGSVGElement, o: ChartOptions, series: readonly ChartSeries[]): void {
  const W = o.width ?? 640;
  const H = o.height ?? 220;
  const left = 58;
  const right = 12;
  const top = 12;
  const bottom = 40;
  const pw = W - left - right;
  const ph = H - top - bottom;
  root.setAttribute('viewBox', `0 0 ${W} ${H}`);
  root.setAttribute('role', 'img');
  root.setAttribute('aria-label', o.title);
  const usable = series.map((s) => ({ ...s, points: s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!o.log || p.y > 0)) }));
  const ys = usable.flatMap((s) => s.points.map((p) => p.y));
  const xMax = Math.max(1, o.xMax, ...usable.flatMap((s) => s.points.map((p) => p.x)));
  let lo = ys.length ? Math.min(...ys) : o.log ? 1 : 0;
  let hi = ys.length ? Math.max(...ys) : o.log ? 10 : 1;
  if (o.log) {
    // A little room above and below, and at least a tenth of a decade.
    const a = Math.log10(lo);
    const b = Math.log10(hi);
    const pad = Math.max(0.05, (b - a) * 0.05);
    lo = 10 ** (a - pad);
    hi = 10 ** (b + pad);
  } else {
    if (hi === lo) {
      hi = lo === 0 ? 1 : lo + Math.abs(lo) * 0.1;
      lo = lo === 0 ? 0 : lo - Math.abs(lo) * 0.1;
    }
    const pad = (hi - lo) * 0.05;
    lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
    hi += pad;
  }
  const fx = (x: number) => left + (x / xMax) * pw;
  const fy = o.log ? (y: number) => top + ph - ((Math.log10(y) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * ph : (y: number) => top + ph - ((y - lo) / (hi - lo)) * ph;

  const desc = usable.map((s) => `${s.name}: ${s.points.length} points${s.points.length ? `, last ${fmtTick(s.points[s.points.length - 1]!.y)} at ${o.xLabel} ${s.points[s.points.length - 1]!.x}` : ''}`).join('; ');
  const kids: SVGElement[] = [svg('title', {}, o.title), svg('desc', {}, desc)];
  const grid = svg('g', { class: 'chart-grid' });
  const axis = svg('g', { class: 'chart-axis' });
  for (const t of o.log ? logTicks(lo, hi) : linearTicks(lo, hi)) {
    const y = fy(t);
    grid.append(svg('line', { x1: left, x2: left + pw, y1: y.toFixed(1), y2: y.toFixed(1) }));
    axis.append(svg('text', { x: left - 6, y: y.toFixed(1), 'text-anchor': 'end', 'dominant-baseline': 'central' }, fmtTick(t)));
  }
  for (const t of linearTicks(0, xMax, 6)) {
    const x = fx(t);
    grid.append(svg('line', { x1: x.toFixed(1), x2: x.toFixed(1), y1: top, y2: top + ph }));
    axis.append(svg('text', { x: x.toFixed(1), y: top + ph + 14, 'text-anchor': 'middle' }, fmtTick(t)));
  }
  axis.append(
    svg('line', { x1: left, x2: left, y1: top, y2: top + ph, class: 'chart-frame' }),
    svg('line', { x1: left, x2: left + pw, y1: top + ph, y2: top + ph, class: 'chart-frame' }),
    svg('text', { x: left + pw / 2, y: H - 4, 'text-anchor': 'middle', class: 'chart-label' }, o.xLabel),
    svg('text', { x: 12, y: top + ph / 2, 'text-anchor': 'middle', transform: `rotate(-90 12 ${top + ph / 2})`, class: 'chart-label' }, o.yLabel),
  );
  kids.push(grid, axis);
  for (const s of usable) {
    const g = svg('g', { class: `chart-series ${s.cls}` });
    g.dataset.points = String(s.points.length);
    if (s.kind === 'line' && s.points.length > 0) {
      const pts = s.points.map((p) => `${fx(p.x).toFixed(1)},${fy(p.y).toFixed(1)}`).join(' ');
      g.append(svg('polyline', { points: s.points.length === 1 ? `${pts} ${pts}` : pts, fill: 'none' }));
    } else {
      for (const p of s.points) g.append(svg('circle', { cx: fx(p.x).toFixed(1), cy: fy(p.y).toFixed(1), r: 3.5 }, svg('title', {}, `${s.name} at ${o.xLabel} ${p.x}: ${p.y.toPrecision(4)}`)));
    }
    kids.push(g);
  }
  // The legend: one swatch per series, top right.
  if (usable.length > 1) {
    const legend = svg('g', { class: 'chart-legend' });
    let x = left + pw - 8;
    for (const s of [...usable].reverse()) {
      const label = svg('text', { x, y: top + 10, 'text-anchor': 'end', 'dominant-baseline': 'central' }, s.name);
      const w = s.name.length * 6.4 + 8;
      legend.append(
        label,
        s.kind === 'line'
          ? svg('line', { x1: x - w - 16, x2: x - w - 2, y1: top + 10, y2: top + 10, class: `chart-swatch ${s.cls}` })
          : svg('circle', { cx: x - w - 8, cy: top + 10, r: 3.5, class: `chart-swatch ${s.cls}` }),
      );
      x -= w + 28;
    }
    kids.push(legend);
  }
  root.replaceChildren(...kids);
}

export function chartElement(id: string): SVGSVGElement {
  const root = svg('svg', { class: 'train-chart', id });
  return root;
}
