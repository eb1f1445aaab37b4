/**
 * The bench's accounting, which needs no GPU (unit-tested): the prompt's token ids, the weight
 * bytes a decode token reads, the per-kernel groups of timed passes, a tuning flag read, the
 * machine described.
 */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { isKernelTuning, type WeightKernelTuning } from '../../../shared/engine/quant-matmul';
import { adapterName } from '../../../shared/gpu/adapter';
import type { GpuContext, PassTiming } from '../../../shared/gpu';
import type { Tokenizer } from '../../../shared/tokenizer';
import { UsageError } from '../command';
import { BenchError, type KernelGroup, type MachineInfo } from './results';

/** Deterministic prompt ids: a fixed text, repeated as needed, cut to `n` tokens (BOS as the model wants). */
export function promptIds(tokenizer: Pick<Tokenizer, 'encode'>, n: number, vocab: number): number[] {
  const text =
    'The keeper opened the heavy wooden door, lit the lamp above the bench and looked at the maps pinned to the wall. ' +
    'Each map was drawn in tiny squares of colour, and every square held a number that nobody in the town could read. ';
  let ids = tokenizer.encode(text);
  let reps = 1;
  while (ids.length < n && reps < 1 << 12) {
    reps *= 2;
    ids = tokenizer.encode(text.repeat(reps));
  }
  if (ids.length < n) throw new BenchError(`the tokenizer gave only ${ids.length} tokens for the benchmark prompt; asked for ${n}`);
  const out = ids.slice(0, n);
  const bad = out.find((id) => id < 0 || id >= vocab);
  if (bad !== undefined) throw new BenchError(`prompt token ${bad} is outside the vocabulary of ${vocab}`);
  return out;
}

export interface WeightDescription {
  name: string;
  rows: number;
  bytes: number;
  parts: number;
}

/**
 * Bytes a decode token reads from the weight matrices: every matrix once (the output projection
 * is token_embd itself when tied), plus one embedding row for the lookup. Norms, biases and the
 * KV cache are left out (small next to the matrices at short contexts).
 */
export function weightBytesPerToken(weights: readonly WeightDescription[], tiedOutput: boolean): number {
  let sum = 0;
  for (const w of weights) {
    if (w.name === 'token_embd.weight') sum += (tiedOutput ? w.bytes : 0) + w.bytes / w.rows;
    else sum += w.bytes;
  }
  return sum;
}

/** "matvec blk.3.attn_q.weight" → "matvec attn_q"; "get_rows get_rows token_embd.weight" → "get_rows token_embd". */
export function kernelGroupName(label: string): string {
  const words = label
    .replace(/blk\.\d+\./g, '')
    .replace(/\.weight\b/g, '')
    .split(/\s+/)
    .filter(Boolean);
  return words.filter((w, i) => w !== words[i - 1]).join(' ');
}

/**
 * Groups the timed passes of `steps` decode steps by kernel, per step. Weight kernels get the
 * bytes they read (a matvec part reads its share of the matrix; get_rows one row per token).
 */
export function groupPasses(stepPasses: readonly (readonly PassTiming[])[], weights: readonly WeightDescription[]): KernelGroup[] {
  const byName = new Map(weights.map((w) => [w.name, w] as const));
  const groups = new Map<string, { calls: number; ms: number; bytes: number; weight: boolean }>();
  for (const passes of stepPasses) {
    for (const p of passes) {
      const name = kernelGroupName(p.label);
      const g = groups.get(name) ?? { calls: 0, ms: 0, bytes: 0, weight: false };
      g.calls++;
      g.ms += p.ms;
      // Every matrix the label names (a decode_layer dispatch reads its block's four).
      for (const wname of p.label.split(/\s+/).filter((s) => s.endsWith('.weight'))) {
        const w = byName.get(wname);
        if (!w) continue;
        g.weight = true;
        g.bytes += p.label.startsWith('get_rows') ? w.bytes / w.rows : w.bytes / w.parts;
      }
      groups.set(name, g);
    }
  }
  const steps = Math.max(1, stepPasses.length);
  return [...groups.entries()]
    .map(([name, g]) => ({
      name,
      calls: g.calls / steps,
      ms: g.ms / steps,
      bytes: g.bytes / steps,
      gbps: g.weight && g.ms > 0 ? g.bytes / g.ms / 1e6 : null,
    }))
    .sort((a, b) => b.ms - a.ms);
}

/** "64x1" → { workgroupSize: 64, threadsPerRow: 1 }. */
export function parseTuning(s: string): WeightKernelTuning {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m) throw new UsageError(`--tuning must look like WGxTPR (e.g. 64x1 or 256x32), got ${JSON.stringify(s)}`);
  const t = { workgroupSize: Number(m[1]), threadsPerRow: Number(m[2]) };
  if (!isKernelTuning(t)) throw new UsageError(`--tuning ${s}: the workgroup size must be 1..1024 and threads per row a power of two dividing it`);
  return t;
}

export function machineInfo(ctx: GpuContext): MachineInfo {
  const a = ctx.adapter;
  return {
    cpu: cpus()[0]?.model.trim() || 'unknown CPU',
    cores: availableParallelism(),
    memoryGB: Math.round(totalmem() / 2 ** 30),
    loadAverage: Math.round(loadavg()[0]! * 10) / 10,
    node: process.version,
    adapter: adapterName(a, 'WebGPU adapter'),
    adapterKind: a.isFallbackAdapter ? 'fallback (CPU)' : [a.vendor, a.architecture].filter(Boolean).join(' ') || 'hardware',
    timestamps: ctx.caps.timestamps,
  };
}
