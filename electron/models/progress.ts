/**
 * Throughput and ETA for long operations: the rate over the last few seconds (so a resumed
 * import that skips stored tensors quickly does not promise a wrong ETA for long), and the
 * line the CLI prints.
 */
import { formatBytes } from '../../shared/model/summary';

export interface RateSample {
  /** Bytes per second over the window (0 until two samples exist). */
  bytesPerSecond: number;
  /** Seconds left at that rate, or null when unknown. */
  etaSeconds: number | null;
}

export class RateMeter {
  private readonly samples: { t: number; bytes: number }[] = [];

  constructor(
    private readonly windowMs = 5000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  sample(bytesDone: number, bytesTotal: number | null): RateSample {
    const t = this.now();
    this.samples.push({ t, bytes: bytesDone });
    while (this.samples.length > 2 && t - this.samples[1]!.t > this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const dt = (t - first.t) / 1000;
    const rate = dt > 0 ? (bytesDone - first.bytes) / dt : 0;
    const eta = bytesTotal !== null && rate > 0 ? Math.max(0, (bytesTotal - bytesDone) / rate) : null;
    return { bytesPerSecond: rate, etaSeconds: eta };
  }
}

export function formatDuration(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.ceil(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** `1.21 GiB / 4.37 GiB (27.7%)  312.4 MB/s  ETA 10s` */
export function formatRateLine(done: number, total: number, rate: RateSample): string {
  const pct = total > 0 ? ((100 * done) / total).toFixed(1) : '100.0';
  return `${formatBytes(done)} / ${formatBytes(total)} (${pct}%)  ${(rate.bytesPerSecond / 1e6).toFixed(1)} MB/s  ETA ${formatDuration(rate.etaSeconds)}`;
}
