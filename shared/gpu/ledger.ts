/**
 * The allocation ledger: every GPU buffer a GpuContext creates, with what it holds, its bytes
 * and when, until it is destroyed. WebGPU reports no free memory, so this is the engine's own
 * source of truth for what it holds (`pxi run --verbose` prints it, with the residency plan that
 * decided which weights it holds: shared/engine/residency.ts). The kind comes from the caller, else from the label the
 * engine gives every buffer (weights are named after their tensor, activations `act.*`, caches
 * `*.kv.k`/`*.kv.v`, read-backs `*:readback`…).
 */

export const ALLOCATION_KINDS = ['weights', 'kv-cache', 'activations', 'training', 'uniforms', 'staging', 'other'] as const;
export type AllocationKind = (typeof ALLOCATION_KINDS)[number];

export interface Allocation {
  /** Creation order, from 1. */
  readonly id: number;
  readonly label: string;
  readonly kind: AllocationKind;
  readonly bytes: number;
  /** Milliseconds since the ledger began (the context opened). */
  readonly at: number;
}

/** The kind a buffer's label says (see the file header); 'other' when it says nothing we know. */
export function kindOfLabel(label: string): AllocationKind {
  if (label.endsWith(':readback') || label.startsWith('timestamps')) return 'staging';
  if (label === 'uniform' || label.endsWith(':params') || label.startsWith('uniform')) return 'uniforms';
  if (/\.kv\.[kv]$/.test(label) || label.startsWith('kv')) return 'kv-cache';
  if (label.startsWith('act.') || label.startsWith('trace:')) return 'activations';
  if (label.startsWith('train') || /(^|[.:])(grad|adam|moment|master)/.test(label)) return 'training';
  if (/\.(weight|bias)(\[|$)|\.lora_[ab]$|^rope\./.test(label)) return 'weights';
  return 'other';
}

export class AllocationLedger {
  private readonly live = new Map<GPUBuffer, Allocation>();
  private next = 1;
  private peak = 0;
  private current = 0;

  constructor(private readonly now: () => number = () => 0) {}

  /** Records a new buffer; its destroy() removes it (once, however often it is called). */
  add(buffer: GPUBuffer, label: string, bytes: number, kind: AllocationKind = kindOfLabel(label)): void {
    if (this.live.has(buffer)) return;
    this.live.set(buffer, { id: this.next++, label, kind, bytes, at: this.now() });
    this.current += bytes;
    this.peak = Math.max(this.peak, this.current);
    const destroy = buffer.destroy.bind(buffer);
    // Own property over the prototype's method: Dawn's and Chromium's GPUBuffer objects take it.
    (buffer as { destroy: () => void }).destroy = () => {
      this.release(buffer);
      destroy();
    };
  }

  private release(buffer: GPUBuffer): void {
    const a = this.live.get(buffer);
    if (!a) return;
    this.live.delete(buffer);
    this.current -= a.bytes;
  }

  /** Live allocations, oldest first. */
  entries(): Allocation[] {
    return [...this.live.values()].sort((a, b) => a.id - b.id);
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.current;
  }

  /** The most bytes held at once since the ledger began. */
  get peakBytes(): number {
    return this.peak;
  }

  /** Count and bytes per kind (every kind listed, zeros included). */
  byKind(): Record<AllocationKind, { count: number; bytes: number }> {
    const out = Object.fromEntries(ALLOCATION_KINDS.map((k) => [k, { count: 0, bytes: 0 }])) as Record<AllocationKind, { count: number; bytes: number }>;
    for (const a of this.live.values()) {
      out[a.kind].count++;
      out[a.kind].bytes += a.bytes;
    }
    return out;
  }
}

/** What a host shows of the ledger (a Memory panel): totals and bytes per kind that holds any. */
export interface LedgerSummary {
  buffers: number;
  bytes: number;
  peakBytes: number;
  byKind: { kind: AllocationKind; count: number; bytes: number }[];
}

export function summarizeLedger(ledger: AllocationLedger): LedgerSummary {
  const byKind = Object.entries(ledger.byKind())
    .filter(([, v]) => v.count > 0)
    .map(([kind, v]) => ({ kind: kind as AllocationKind, ...v }));
  return { buffers: ledger.entries().length, bytes: ledger.bytes, peakBytes: ledger.peakBytes, byKind };
}
