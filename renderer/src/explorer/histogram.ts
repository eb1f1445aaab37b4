import { fmtInt, fmtValue } from './format';

export interface HistogramData {
  counts: number[];
  lo: number;
  hi: number;
  sampled: number;
  total: number;
  exact: boolean;
}

/**
 * Draws a value histogram: bars on a square-root count axis (so the tails of a bell-shaped
 * weight distribution stay visible next to its peak), zero marked when it is in range, the
 * range at the ends. Returns how many bars were drawn.
 */
export function drawHistogram(canvas: HTMLCanvasElement, h: HistogramData): number {
  const dpr = Math.min(2, window.devicePixelRatio || 1);
  const cssW = canvas.clientWidth || 280;
  const cssH = canvas.clientHeight || 120;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  const g = canvas.getContext('2d');
  if (!g) return 0;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, cssW, cssH);
  const padB = 16;
  const plotH = cssH - padB - 4;
  const max = Math.max(1, ...h.counts);
  const bw = cssW / h.counts.length;
  let bars = 0;
  g.fillStyle = '#6cb4ff';
  h.counts.forEach((c, i) => {
    if (c === 0) return;
    const bh = Math.max(1, Math.sqrt(c / max) * plotH);
    g.fillRect(i * bw + 0.5, 4 + plotH - bh, Math.max(1, bw - 1), bh);
    bars++;
  });
  if (h.hi > h.lo && h.lo < 0 && h.hi > 0) {
    const x = ((0 - h.lo) / (h.hi - h.lo)) * cssW;
    g.fillStyle = '#e6e8ee88';
    g.fillRect(x, 4, 1, plotH);
  }
  g.fillStyle = '#8b93a7';
  g.font = '11px system-ui, sans-serif';
  g.textBaseline = 'bottom';
  g.textAlign = 'left';
  g.fillText(fmtValue(h.lo), 0, cssH);
  g.textAlign = 'right';
  g.fillText(fmtValue(h.hi), cssW, cssH);
  g.textAlign = 'center';
  g.fillText(h.exact ? `${fmtInt(h.sampled)} values` : `${fmtInt(h.sampled)} of ${fmtInt(h.total)} sampled`, cssW / 2, cssH);
  return bars;
}
