/** The per-kernel table the training benches print: GPU time per dispatch label, largest first. */
import type { PassTiming } from '../../shared/gpu';

export function printKernelTable(passes: readonly PassTiming[], heading: string, rows = 14): void {
  const by = new Map<string, number>();
  for (const p of passes) by.set(p.label, (by.get(p.label) ?? 0) + p.ms);
  const total = [...by.values()].reduce((a, b) => a + b, 0);
  console.log(`  per kernel (${heading}, one step timed pass by pass: ${total.toFixed(0)} ms of GPU time, ${passes.length} dispatches):`);
  for (const [label, ms] of [...by].sort((a, b) => b[1] - a[1]).slice(0, rows)) console.log(`    ${label.padEnd(28)} ${ms.toFixed(1).padStart(8)} ms  ${((100 * ms) / total).toFixed(1).padStart(5)} %`);
}
