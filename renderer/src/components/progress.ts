import { el } from './el';
import { formatBytes, formatDuration, formatRate } from './format';

/**
 * A smoothed rate over the last few seconds of samples: an instant rate jumps with every
 * batch of tiles, and an average since the start hides a slowdown.
 */
export class RateMeter {
  private samples: { t: number; done: number }[] = [];
  constructor(private readonly windowMs = 4000) {}

  reset(): void {
    this.samples = [];
  }

  /** Adds a sample; returns bytes (units) per second, or null until two samples span time. */
  sample(done: number, t = performance.now()): number | null {
    const last = this.samples[this.samples.length - 1];
    if (last && done < last.done) this.samples = []; // a new phase started over from zero
    this.samples.push({ t, done });
    while (this.samples.length > 2 && t - this.samples[0]!.t > this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const dt = (t - first.t) / 1000;
    return dt > 0.05 ? (done - first.done) / dt : null;
  }
}

export interface ProgressState {
  done: number;
  total: number | null;
  unit: string;
  message?: string;
}

export interface ProgressBar {
  readonly element: HTMLElement;
  /** Shows `state`; a rate (units per second) adds MB/s and the time left. */
  update(state: ProgressState, rate?: number | null): void;
}

/**
 * A labelled progress bar (role=progressbar with its value for assistive technology) with a
 * line of figures under it: done / total, rate and ETA for byte work. An unknown total shows
 * an indeterminate bar rather than a made-up percentage.
 */
export function createProgressBar(label: string): ProgressBar {
  const fill = el('div', { className: 'progress-fill' });
  const bar = el('div', { className: 'progress-track' }, fill);
  bar.setAttribute('role', 'progressbar');
  bar.setAttribute('aria-label', label);
  bar.setAttribute('aria-valuemin', '0');
  bar.setAttribute('aria-valuemax', '100');
  const figures = el('div', { className: 'progress-figures' });
  const message = el('div', { className: 'progress-message muted' });
  const element = el('div', { className: 'progress' }, bar, figures, message);
  return {
    element,
    update(s, rate) {
      const known = s.total !== null && s.total > 0;
      const pct = known ? Math.min(100, (100 * s.done) / s.total!) : 0;
      bar.classList.toggle('indeterminate', !known);
      fill.style.width = known ? `${pct.toFixed(1)}%` : '';
      if (known) bar.setAttribute('aria-valuenow', pct.toFixed(0));
      else bar.removeAttribute('aria-valuenow');
      const bytes = s.unit === 'bytes';
      const amount = (n: number) => (bytes ? formatBytes(n) : `${n.toLocaleString()} ${s.unit}`);
      const parts = [known ? `${amount(s.done)} / ${amount(s.total!)} (${pct.toFixed(pct < 10 ? 1 : 0)}%)` : amount(s.done)];
      if (rate !== undefined) {
        parts.push(bytes ? formatRate(rate) : rate === null ? '—/s' : `${rate.toFixed(1)} ${s.unit}/s`);
        const eta = known && rate && rate > 0 ? ((s.total! - s.done) / rate) * 1000 : null;
        parts.push(`ETA ${eta === null ? '—' : formatDuration(eta)}`);
      }
      figures.textContent = parts.join(' · ');
      bar.setAttribute('aria-valuetext', figures.textContent);
      message.textContent = s.message ?? '';
    },
  };
}
