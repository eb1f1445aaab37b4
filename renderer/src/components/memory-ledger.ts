/**
 * The engine's GPU allocation ledger (shared/gpu/ledger.ts) as people read it: a summary line,
 * a table by kind of buffer, and what the ledger is. Chat's Memory panel and the Dashboard draw
 * it; the caller puts the parts in a <details> (the summary line is its <summary>).
 */
import type { LedgerSummary } from '../../../shared/gpu/ledger';
import { el } from './el';

const mib = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;

export function memoryLedgerParts(mem: LedgerSummary, tableClass = 'chat-memory-table'): HTMLElement[] {
  return [
    el('summary', {}, `GPU memory: ${mib(mem.bytes)} in ${mem.buffers} buffers (peak ${mib(mem.peakBytes)})`),
    el(
      'table',
      { className: `grid ${tableClass}` },
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Holds'), el('th', { scope: 'col' }, 'Buffers'), el('th', { scope: 'col' }, 'Size'))),
      el(
        'tbody',
        {},
        ...mem.byKind.map((k) => {
          const row = el('tr', { className: 'mem-row' }, el('td', {}, k.kind), el('td', {}, String(k.count)), el('td', {}, mib(k.bytes)));
          row.dataset.kind = k.kind;
          return row;
        }),
      ),
    ),
    el(
      'p',
      { className: 'muted small' },
      'Every buffer the engine created on this GPU and still holds (WebGPU reports no free memory: this ledger is what the engine knows). The KV cache takes pages as the conversation grows.',
    ),
  ];
}
