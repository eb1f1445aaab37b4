/** `pxi bench`'s tables: the figures side by side, the machine line, the decode step's breakdown. */
import type { BenchResult, Breakdown, MachineInfo } from './results';

export function fmtRate(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function fmtBytes(b: number): string {
  if (b >= 1e9) return `${(b / 1e9).toFixed(2)} GB`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(1)} MB`;
  return `${(b / 1e3).toFixed(1)} kB`;
}

function table(rows: string[][], rightFrom = 1): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i >= rightFrom ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export function machineLine(m: MachineInfo): string {
  return `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GiB, load average ${m.loadAverage} · Node ${m.node} · WebGPU adapter: ${m.adapter} [${m.adapterKind}] · timestamp-query ${m.timestamps ? 'yes' : 'no'}`;
}

export function formatBench(r: BenchResult): string {
  const m = r.model;
  const lines: string[] = [];
  lines.push(
    `model: ${m.name} (${m.path}) · ${m.architecture}, ${m.blocks} blocks, width ${m.embd}, vocab ${m.vocab}, ${m.types.join('/')}, ` +
      `${(m.parameterCount / 1e6).toFixed(1)} M parameters · ${fmtBytes(m.weightBytesPerToken)} of weights read per decode token`,
  );
  lines.push(machineLine(r.machine));
  lines.push(`prompt ${r.ours.promptTokens} tokens, ${r.ours.decodeTokens + 1} generated (greedy, end-of-generation ignored), same token ids for both`);
  lines.push('');
  const rows: string[][] = [['', 'prefill tok/s', 'decode tok/s', 'decode GB/s', 'load s']];
  const o = r.ours;
  rows.push([
    `ours (WGSL, ${o.matvecTuning ? `decode tuned: ${Object.entries(o.matvecTuning).map(([t, v]) => `${t} ${v.workgroupSize}x${v.threadsPerRow}`).join(', ')}` : `${o.tuning.workgroupSize}x${o.tuning.threadsPerRow}`}${o.loadedFrom === 'pixels' ? ', from pixels' : ''})`,
    fmtRate(o.prefillTokensPerSecond),
    fmtRate(o.decodeTokensPerSecond),
    fmtRate(o.decodeGBps),
    o.loadSeconds.toFixed(1),
  ]);
  if ('skipped' in r.llama) rows.push(['llama.cpp (CPU)', 'skipped', '', '', '']);
  for (const l of r.llamaRuns) {
    rows.push([`llama.cpp (CPU, ${l.threads} thread${l.threads === 1 ? '' : 's'})`, fmtRate(l.prefillTokensPerSecond), fmtRate(l.decodeTokensPerSecond), fmtRate(l.decodeGBps), l.loadSeconds.toFixed(1)]);
  }
  if (r.ratio && !('skipped' in r.llama)) {
    const best = r.llamaRuns.length > 1 ? ` (vs ${r.llama.threads} thread${r.llama.threads === 1 ? '' : 's'})` : '';
    rows.push([`ours / llama.cpp${best}`, `${r.ratio.prefill.toFixed(2)}×`, `${r.ratio.decode.toFixed(2)}×`, '', '']);
  }
  lines.push(table(rows));
  if ('skipped' in r.llama) lines.push(`llama.cpp skipped: ${r.llama.skipped}`);
  else lines.push(`llama.cpp: ${r.llama.version}, CPU build, its default F16 KV cache`);
  lines.push('');
  lines.push(breakdownText(r.breakdown));
  return lines.join('\n');
}

export function breakdownText(b: Breakdown): string {
  const lines: string[] = [];
  if (b.method === 'wall-clock' || b.groups.length === 0) {
    lines.push(`decode step: ${b.wallMsPerStep.toFixed(2)} ms wall (${b.note})`);
    return lines.join('\n');
  }
  lines.push(`decode step breakdown (${b.method}, mean of ${b.steps} steps, ${b.dispatchesPerStep} dispatches per step):`);
  const rows: string[][] = [['kernel', 'calls', 'ms/step', 'share', 'GB/s']];
  for (const g of b.groups) {
    rows.push([g.name, String(Math.round(g.calls * 10) / 10), g.ms.toFixed(3), `${((100 * g.ms) / b.gpuMsPerStep).toFixed(1)}%`, g.gbps === null ? '' : fmtRate(g.gbps)]);
  }
  lines.push(table(rows));
  const weightMs = b.groups.filter((g) => g.gbps !== null).reduce((s, g) => s + g.ms, 0);
  const weightBytes = b.groups.reduce((s, g) => s + g.bytes, 0);
  lines.push(
    `kernels: ${b.gpuMsPerStep.toFixed(2)} ms per step, of which weight kernels ${weightMs.toFixed(2)} ms (${fmtRate(weightMs > 0 ? weightBytes / weightMs / 1e6 : 0)} GB/s), ` +
      `${b.dispatchesPerStep - b.groups.filter((g) => g.gbps !== null).reduce((s, g) => s + g.calls, 0)} other dispatches ${(b.gpuMsPerStep - weightMs).toFixed(2)} ms`,
  );
  lines.push(
    `timed steps: ${b.timedWallMsPerStep.toFixed(2)} ms wall per step, ${Math.max(0, b.timedWallMsPerStep - b.gpuMsPerStep).toFixed(2)} ms of it outside the kernels ` +
      `(encoding, submit, pass overhead, read-back); untimed run: ${b.wallMsPerStep.toFixed(2)} ms per step`,
  );
  return lines.join('\n');
}
