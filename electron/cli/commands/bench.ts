/**
 * `pxi bench`: prefill and decode speed of our WGSL engine and of llama.cpp (CPU) on the same
 * GGUF file, the same prompt token ids and the same number of generated tokens, in one run;
 * the effective bandwidth of weight reads per decode token; and where a decode step's time goes
 * (per-kernel GPU times from timestamp queries). The functions below are also the engine of
 * `npm run bench:decode` (scripts/bench/decode-bench.ts) and of the GPU-machine script
 * (scripts/device/), so all three measure the same way. See specs/benchmarks.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PxiError } from '../../../shared/errors';
import { generate } from '../../../shared/engine/generate';
import { Model, type ModelLoadOptions } from '../../../shared/engine/model';
import { DEFAULT_TUNING, isKernelTuning, type WeightKernelTuning, type WeightType } from '../../../shared/engine/quant-matmul';
import { savedTuningFor, tuningFilePath } from '../../engine/tuning-store';
import type { TensorSource } from '../../../shared/engine/tensor-source';
import { adapterName } from '../../../shared/gpu/adapter';
import { openDevice, WebGpuUnavailableError, type GpuContext, type PassTiming } from '../../../shared/gpu';
import { tokenizerFromGguf, type Tokenizer } from '../../../shared/tokenizer';
import { openNodeModel } from '../../engine';
import { openNodeGpu } from '../../gpu/node-webgpu';
import { SHADERS_DIR, loadShadersFromDir } from '../../gpu/shaders';
import type { GenerationTimings } from '../../../shared/engine/outcome';
import { EXIT, UsageError, parseOptions, type Command } from '../command';
import { isLlamaCppPackage, loadLlamaCpp } from '../llama-cpp';

// ---------------------------------------------------------------------------------------------
// Results

/** The engine's timings (decodeTokens: generated tokens − 1, the last one needs no pass), and the bench's own figures. */
export interface EngineFigures extends GenerationTimings {
  /** Weight bytes read per decode token × decode tokens/s, in GB/s (10^9 bytes). */
  decodeGBps: number;
  loadSeconds: number;
}

export interface OursFigures extends EngineFigures {
  tuning: WeightKernelTuning;
  /** The per-type decode shapes used (pxi tune), when they replaced `tuning` for decode. */
  matvecTuning?: Partial<Record<WeightType, WeightKernelTuning>>;
  loadedFrom: 'gguf' | 'pixels';
}

export interface LlamaFigures extends EngineFigures {
  threads: number;
  version: string;
  /** The greedy tokens llama.cpp generated (the same as ours on a file both compute alike). */
  tokens: number[];
}

export interface KernelGroup {
  /** Kernel and, for weight kernels, the matrix without its block number ("matvec ffn_down"). */
  name: string;
  /** Dispatches per decode step. */
  calls: number;
  /** GPU milliseconds per decode step. */
  ms: number;
  /** Weight bytes read per decode step (weight kernels only). */
  bytes: number;
  gbps: number | null;
}

export interface Breakdown {
  /** 'timestamp-query': GPU times per dispatch; 'wall-clock': no timestamps, whole steps only. */
  method: 'timestamp-query' | 'wall-clock';
  steps: number;
  dispatchesPerStep: number;
  /** Sum of the kernels' GPU times per step (timed run: one compute pass per dispatch). */
  gpuMsPerStep: number;
  /** Wall time per decode step of the untimed (measured) run. */
  wallMsPerStep: number;
  /** Wall time per step of the timed steps themselves (compare with gpuMsPerStep; 0 without timing). */
  timedWallMsPerStep: number;
  groups: KernelGroup[];
  note: string;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGB: number;
  loadAverage: number;
  node: string;
  adapter: string;
  adapterKind: string;
  timestamps: boolean;
}

export interface BenchModelInfo {
  path: string;
  name: string;
  architecture: string;
  blocks: number;
  embd: number;
  vocab: number;
  types: string[];
  parameterCount: number;
  /** Weight-matrix bytes one decode token reads (every matrix once, one embedding row). */
  weightBytesPerToken: number;
}

export interface BenchResult {
  model: BenchModelInfo;
  machine: MachineInfo;
  ours: OursFigures;
  /** llama.cpp's run with the fastest decode among the thread counts tried. */
  llama: LlamaFigures | { skipped: string };
  /** Every llama.cpp run (one per thread count). */
  llamaRuns: LlamaFigures[];
  /** ours ÷ llama.cpp (its fastest run); null without llama.cpp. */
  ratio: { prefill: number; decode: number } | null;
  breakdown: Breakdown;
  /** The greedy tokens ours generated (a check that both runs did the same work). */
  tokens: number[];
}

export class BenchError extends PxiError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('BENCH_FAILED', message, details);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers that need no GPU (unit-tested)

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
      const wname = p.label.split(/\s+/).find((s) => s.endsWith('.weight'));
      const w = wname ? byName.get(wname) : undefined;
      if (w) {
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

// ---------------------------------------------------------------------------------------------
// The WebGPU context

/**
 * Dawn toggles for benchmarking. By default Dawn quantises timestamp queries (seen here: kernel
 * times in steps of 65.5 µs, small kernels reading 0), which would blur the per-kernel breakdown.
 */
export const BENCH_DAWN_FLAGS = ['disable-dawn-features=timestamp_quantization'];

/**
 * A WebGPU context as openNodeContext() makes it, but with BENCH_DAWN_FLAGS (plus $PXI_DAWN_FLAGS,
 * comma-separated) on the Dawn instance, and the WGSL from `shadersDir` (a bundle lives elsewhere
 * than electron/gpu/).
 */
export async function openBenchContext(opts: { shadersDir?: string; dawnFlags?: string[] } = {}): Promise<GpuContext> {
  const extra = (process.env.PXI_DAWN_FLAGS ?? '').split(',').filter(Boolean);
  const opened = await openNodeGpu('vulkan', [...BENCH_DAWN_FLAGS, ...(opts.dawnFlags ?? []), ...extra]);
  if (!opened.gpu) throw new WebGpuUnavailableError(opened.reason);
  const { gpu, adapter } = opened;
  return openDevice(gpu, { adapter, shaders: loadShadersFromDir(opts.shadersDir ?? SHADERS_DIR) });
}

// ---------------------------------------------------------------------------------------------
// llama.cpp through node-llama-cpp (installed lean in tests/llama-cpp by scripts/bootstrap.sh)

/** The part of node-llama-cpp's API used here; the package sits outside the project's types. */
interface LlamaSequence {
  evaluate(tokens: number[], options: { temperature: number }): AsyncGenerator<number, void, void>;
  clearHistory(): Promise<void>;
}
interface LlamaContext {
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}
interface LlamaModel {
  createContext(options: { contextSize: number; threads: number; batchSize: number }): Promise<LlamaContext>;
  dispose(): Promise<void>;
}
interface Llama {
  loadModel(options: { modelPath: string }): Promise<LlamaModel>;
  dispose(): Promise<void>;
}
export interface LlamaCpp {
  llama: Llama;
  version: string;
  dir: string;
  dispose(): Promise<void>;
}

/** The project root from this file (electron/cli/commands/ → ../../..); inside a bundle it may be elsewhere, which only makes the default llama.cpp path missing. */
const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Where node-llama-cpp is looked for: the given folder only, else $PXI_LLAMA_CPP, then the project's tests/llama-cpp. */
export function llamaCppCandidates(dir?: string): string[] {
  const roots = dir ? [dir] : [process.env.PXI_LLAMA_CPP, join(PROJECT_ROOT, 'tests', 'llama-cpp')].filter((d): d is string => !!d);
  return roots.flatMap((r) => [r, join(r, 'node-llama-cpp'), join(r, 'node_modules', 'node-llama-cpp')]);
}

/** Loads llama.cpp's CPU build, or says why not (never builds or downloads anything). */
export async function openLlamaCpp(dir?: string): Promise<LlamaCpp | { reason: string }> {
  const found = llamaCppCandidates(dir).find(isLlamaCppPackage);
  if (!found) {
    return { reason: `node-llama-cpp not found (looked in ${llamaCppCandidates(dir).slice(0, 3).join(', ')}…; run scripts/bootstrap.sh or pass --llama-cpp DIR)` };
  }
  try {
    const version = String((JSON.parse(readFileSync(join(found, 'package.json'), 'utf8')) as { version?: string }).version ?? '?');
    const llama = await loadLlamaCpp<Llama>(found);
    return { llama, version: `node-llama-cpp ${version}`, dir: found, dispose: () => llama.dispose() };
  } catch (e) {
    return { reason: `llama.cpp did not load from ${found}: ${(e as Error).message}` };
  }
}

// ---------------------------------------------------------------------------------------------
// Generated models (pxi gen: the same options and seed give the same bytes, so a cached file is reused)

export { ensureGeneratedModel, type GenSpec } from '../generated-model';

// ---------------------------------------------------------------------------------------------
// The runs

export interface BenchOptions {
  /** Integer decode kernels per weight type (Model.load `intMatvec`); default none. */
  intMatvec?: ModelLoadOptions['intMatvec'];
  /** Tiled prefill products per weight type (Model.load `prefillMatmul`); default none. */
  prefillMatmul?: ModelLoadOptions['prefillMatmul'];
  /** Prompt tokens (prefill). */
  promptTokens: number;
  /** Tokens to generate; decode is measured over the last n − 1. */
  genTokens: number;
  /** Decode steps timed kernel by kernel after the measured run (0: none). */
  breakdownSteps?: number;
  tuning?: Partial<WeightKernelTuning>;
  /** Decode-kernel shapes per weight type (a `pxi tune` measurement); ignored with `tuning`. */
  matvecTuning?: Partial<Record<WeightType, WeightKernelTuning>>;
  /** Fused kernels (ModelLoadOptions.fuse; default true): false measures the unfused sequence. */
  fuse?: boolean;
  /** The fusions of one-token passes (ModelLoadOptions.fuseDecode; default true, only with fuse). */
  fuseDecode?: boolean;
  /** llama.cpp: an open instance, or null to skip (with `llamaSkipReason`). */
  llama: LlamaCpp | null;
  llamaSkipReason?: string;
  /** llama.cpp thread counts to try, each its own run (default: defaultThreads()). */
  threads?: number[];
  signal?: AbortSignal;
  /** Progress lines (loading, running). */
  onStatus?: (line: string) => void;
}

/**
 * llama.cpp's thread counts tried by default: 1 and every core. On a machine shared with other
 * work, llama.cpp's spinning thread barriers collapse with as many threads as cores (measured
 * here: stories260K decode 2,000 tokens/s on 1 thread, 20 on 2), so the fastest of both is the fair reference.
 */
export function defaultThreads(): number[] {
  return [...new Set([1, availableParallelism()])];
}

/** Where ours loads the model from: the GGUF file, or a TensorSource over its pixels. */
export type OursSource = { kind: 'gguf' } | { kind: 'pixels'; source: TensorSource; close?: () => Promise<void> };

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
}

/** Runs ours, then llama.cpp, on `path` (and its pixels, if given) with the same prompt ids. */
export async function runBench(ctx: GpuContext, path: string, opts: BenchOptions, from: OursSource = { kind: 'gguf' }): Promise<BenchResult> {
  const status = opts.onStatus ?? (() => undefined);
  const p = opts.promptTokens;
  const n = opts.genTokens;
  const steps = opts.breakdownSteps ?? 4;
  // Room for the prompt, the generated tokens and the breakdown steps; a small KV cache keeps the 7B light.
  const contextLength = p + n + steps + 8;
  const loadOpts: ModelLoadOptions = {
    contextLength,
    signal: opts.signal,
    fuse: opts.fuse,
    fuseDecode: opts.fuseDecode,
    ...(opts.tuning ? { tuning: opts.tuning } : opts.matvecTuning ? { matvecTuning: opts.matvecTuning } : {}),
    ...(opts.intMatvec ? { intMatvec: opts.intMatvec } : {}),
    ...(opts.prefillMatmul ? { prefillMatmul: opts.prefillMatmul } : {}),
  };

  status(`ours: loading ${from.kind === 'pixels' ? 'from pixels' : path}`);
  const t0 = performance.now();
  let model: Model;
  let tokenizer: Tokenizer;
  let closeOurs: () => Promise<void>;
  if (from.kind === 'pixels') {
    try {
      tokenizer = tokenizerFromGguf(from.source.header.metadata, path);
      model = await Model.load(ctx, from.source, loadOpts);
    } catch (e) {
      await from.close?.();
      throw e;
    }
    const m = model;
    closeOurs = async () => {
      m.destroy();
      await from.close?.();
    };
  } else {
    const m = await openNodeModel(path, { ...loadOpts, ctx });
    model = m.model;
    tokenizer = m.tokenizer;
    closeOurs = () => m.close();
  }
  const loadSeconds = (performance.now() - t0) / 1000;

  let result: Omit<BenchResult, 'llama' | 'llamaRuns' | 'ratio'>;
  let ids: number[];
  try {
    ids = promptIds(tokenizer, p, model.vocabSize);
    const c = model.config;
    const weights = model.describeWeights();
    const perToken = weightBytesPerToken(weights, c.tiedOutput);
    // Warm-up: the first pass of a shape creates bind groups and parameter arenas. One short
    // prefill only: on lavapipe a 7B pass takes many seconds (the first decode step pays the
    // matvec bind groups, a few ms).
    await model.forward(ids.slice(0, Math.min(2, p)), 'argmax');
    model.rewind(0);

    status(`ours: prefill ${p} tokens, generate ${n}`);
    const r = await generate(model, tokenizer, ids, { maxTokens: n, temperature: 0, ignoreEos: true, signal: opts.signal });
    if (r.stopReason === 'aborted') throw new BenchError('interrupted');
    const t = r.timings;
    const wallMsPerStep = t.decodeTokens > 0 ? t.decodeMs / t.decodeTokens : 0;

    // Per-kernel breakdown over a few more decode steps, timed pass by pass.
    const collected: PassTiming[][] = [];
    let method: Breakdown['method'] = 'wall-clock';
    let timedWallMsPerStep = 0;
    let note = steps === 0 ? 'no per-kernel breakdown asked for (--breakdown-steps 0)' : 'this adapter has no timestamp-query: only whole decode steps are timed (wall clock), no per-kernel split';
    if (steps > 0 && ctx.setTimingHook((_label, passes) => collected.push(passes))) {
      method = 'timestamp-query';
      note = 'GPU time per kernel from timestamp queries (one compute pass per dispatch while timing)';
      status(`ours: ${steps} decode steps timed kernel by kernel`);
      try {
        let next = r.tokens[r.tokens.length - 1]!;
        const tw = performance.now();
        for (let i = 0; i < steps; i++) next = (await model.forward([next], 'argmax')).token!;
        timedWallMsPerStep = (performance.now() - tw) / steps;
        await ctx.sync();
        // The timestamps arrive through mapAsync callbacks after the work is done.
        await waitFor(() => collected.length >= steps, 10_000);
      } finally {
        ctx.setTimingHook(null);
      }
    }
    const groups = groupPasses(collected, weights);
    const gpuMsPerStep = groups.reduce((s, g) => s + g.ms, 0);
    const dispatchesPerStep = groups.reduce((s, g) => s + g.calls, 0);
    const breakdown: Breakdown = {
      method,
      steps: collected.length,
      dispatchesPerStep,
      gpuMsPerStep,
      wallMsPerStep,
      timedWallMsPerStep,
      groups,
      note,
    };
    result = {
      model: {
        path,
        name: c.name ?? path.split(/[\\/]/).pop()!,
        architecture: c.architecture,
        blocks: c.blockCount,
        embd: c.embeddingLength,
        vocab: c.vocabSize,
        types: [...new Set(weights.map((w) => w.type))],
        parameterCount: c.parameterCount,
        weightBytesPerToken: perToken,
      },
      machine: machineInfo(ctx),
      ours: {
        promptTokens: t.promptTokens,
        prefillMs: t.prefillMs,
        prefillTokensPerSecond: t.prefillTokensPerSecond,
        decodeTokens: t.decodeTokens,
        decodeMs: t.decodeMs,
        decodeTokensPerSecond: t.decodeTokensPerSecond,
        decodeGBps: (perToken * t.decodeTokensPerSecond) / 1e9,
        loadSeconds,
        tuning: { ...DEFAULT_TUNING, ...opts.tuning },
        ...(!opts.tuning && opts.matvecTuning ? { matvecTuning: opts.matvecTuning } : {}),
        loadedFrom: from.kind,
      },
      breakdown,
      tokens: r.tokens,
    };
  } finally {
    await closeOurs();
  }

  let llama: BenchResult['llama'] = { skipped: opts.llamaSkipReason ?? 'not asked for' };
  let llamaRuns: LlamaFigures[] = [];
  if (opts.llama) {
    if (opts.signal?.aborted) throw new BenchError('interrupted');
    status(`llama.cpp: loading ${path}`);
    llamaRuns = await runLlama(opts.llama, path, ids, n, opts.threads ?? defaultThreads(), result.model.weightBytesPerToken, status);
    llama = llamaRuns.reduce((a, b) => (b.decodeTokensPerSecond > a.decodeTokensPerSecond ? b : a));
  }
  const ratio =
    'skipped' in llama
      ? null
      : { prefill: result.ours.prefillTokensPerSecond / llama.prefillTokensPerSecond, decode: result.ours.decodeTokensPerSecond / llama.decodeTokensPerSecond };
  return { ...result, llama, llamaRuns, ratio };
}

/**
 * llama.cpp on the CPU, timed the way generate() times ours: prefill = the prompt's pass up to the
 * first sampled token; decode = the single-token passes after it (time between yielded tokens).
 */
async function runLlama(lc: LlamaCpp, path: string, ids: number[], n: number, threadCounts: number[], perToken: number, status: (l: string) => void): Promise<LlamaFigures[]> {
  const t0 = performance.now();
  const model = await lc.llama.loadModel({ modelPath: path });
  const loadSeconds = (performance.now() - t0) / 1000;
  const runs: LlamaFigures[] = [];
  try {
    for (const threads of threadCounts) {
      status(`llama.cpp: ${threads} thread${threads === 1 ? '' : 's'}`);
      const ctx = await model.createContext({ contextSize: ids.length + n + 16, threads, batchSize: Math.max(512, ids.length) });
      try {
        const seq = ctx.getSequence();
        // Warm-up, as for ours.
        for await (const _ of seq.evaluate(ids.slice(0, Math.min(2, ids.length)), { temperature: 0 })) break;
        await seq.clearHistory();
        const tokens: number[] = [];
        const start = performance.now();
        let first = start;
        let end = start;
        for await (const tok of seq.evaluate(ids, { temperature: 0 })) {
          tokens.push(Number(tok));
          if (tokens.length === 1) first = performance.now();
          if (tokens.length >= n) {
            end = performance.now();
            break;
          }
        }
        const prefillMs = first - start;
        const decodeTokens = Math.max(0, tokens.length - 1);
        const decodeMs = tokens.length > 1 ? end - first : 0;
        const decodeTokensPerSecond = decodeMs > 0 ? (decodeTokens * 1000) / decodeMs : 0;
        runs.push({
          promptTokens: ids.length,
          prefillMs,
          prefillTokensPerSecond: prefillMs > 0 ? (ids.length * 1000) / prefillMs : 0,
          decodeTokens,
          decodeMs,
          decodeTokensPerSecond,
          decodeGBps: (perToken * decodeTokensPerSecond) / 1e9,
          loadSeconds,
          threads,
          version: lc.version,
          tokens,
        });
      } finally {
        await ctx.dispose();
      }
    }
    return runs;
  } finally {
    await model.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Printing

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

// ---------------------------------------------------------------------------------------------
// The command

function intArg(flag: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (v.trim() === '' || !Number.isInteger(x) || x < min || x > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return x;
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'prefill/decode speed of the WGSL engine against llama.cpp (CPU) on one GGUF',
  help: `Usage: pxi bench MODEL.gguf [-p N] [-n N] [--threads N] [--tuning WGxTPR]
                [--breakdown-steps N] [--no-llama] [--llama-cpp DIR] [--json]

Runs the same prompt (N fixed token ids) and greedy generation through our WGSL engine on
the Node WebGPU adapter (Dawn; Mesa lavapipe on machines without a GPU), then through
llama.cpp on the CPU (node-llama-cpp's prebuilt CPU build, its default F16 KV cache),
one after the other in this process. Prints for both: prefill and decode tokens/s, the
ratio ours / llama.cpp, the effective GB/s of weights read per decode token (weight-matrix
bytes × decode tokens/s), and a per-kernel breakdown of our decode step: GPU time per
kernel from timestamp queries where the adapter has them (the timed steps run one compute
pass per dispatch), otherwise only the wall time per step (said so in the output).
Decode is timed over generated tokens 2..n (the first comes out of the prefill).

Options:
  -p, --prompt-tokens N    prompt length in tokens (default 32)
  -n, --n-predict N        tokens to generate, at least 2 (default 16)
  --threads N[,N...]       llama.cpp CPU threads, one run per count; ours is compared with
                           the fastest decode (default: 1 and all cores, here ${defaultThreads().join(',')}:
                           on a busy machine llama.cpp's spinning threads can collapse)
  --tuning WGxTPR          our weight kernels' workgroup size x threads per row, for every
                           kernel (default: the decode shapes pxi tune saved for this
                           adapter, else 64x1; 16-64 threads per row suit GPUs)
  --breakdown-steps N      decode steps timed kernel by kernel after the run (default 4; 0: none)
  --no-llama               run ours only
  --llama-cpp DIR          where node-llama-cpp is (default: $PXI_LLAMA_CPP, then
                           tests/llama-cpp/node_modules from scripts/bootstrap.sh); when it is
                           missing the llama.cpp row says why and ours still runs
  --json                   print one JSON object (all figures) instead of the tables
  -h, --help               show this help

Exit codes: 0 done, 1 failed (no WebGPU, unsupported model), 2 usage error, 130 interrupted.`,
  async run(argv, io) {
    const { values, positionals } = parseOptions(
      argv,
      {
        'prompt-tokens': { type: 'string', short: 'p' },
        'n-predict': { type: 'string', short: 'n' },
        threads: { type: 'string' },
        tuning: { type: 'string' },
        'breakdown-steps': { type: 'string' },
        'no-llama': { type: 'boolean' },
        'llama-cpp': { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    );
    if (positionals.length === 0) throw new UsageError('pxi bench needs a model: pxi bench MODEL.gguf');
    if (positionals.length > 1) throw new UsageError(`pxi bench takes one model, got ${positionals.length} arguments`);
    const path = positionals[0]!;
    if (!existsSync(path)) throw new UsageError(`no such model file: ${path}`);
    const p = intArg('--prompt-tokens', values['prompt-tokens'], 32, 1, 4096);
    const n = intArg('--n-predict', values['n-predict'], 16, 2, 4096);
    const threads = values.threads === undefined ? defaultThreads() : values.threads.split(',').map((t) => intArg('--threads', t, 1, 1, 1024));
    const steps = intArg('--breakdown-steps', values['breakdown-steps'], 4, 0, 64);
    const tuning = values.tuning === undefined ? undefined : parseTuning(values.tuning);
    if (values['no-llama'] && values['llama-cpp'] !== undefined) throw new UsageError('--no-llama and --llama-cpp contradict each other');

    const abort = new AbortController();
    void io.interrupted.then(() => abort.abort());
    const say = values.json ? () => undefined : (l: string) => io.err(l);
    const ctx = await openBenchContext();
    let lc: LlamaCpp | null = null;
    let skip = values['no-llama'] ? '--no-llama' : '';
    try {
      if (!values['no-llama']) {
        const r = await openLlamaCpp(values['llama-cpp']);
        if ('reason' in r) skip = r.reason;
        else lc = r;
      }
      // Without --tuning, the shapes pxi tune measured on this adapter (if any).
      const saved = tuning ? undefined : savedTuningFor(ctx, tuningFilePath(), (m) => io.err(`warning: ${m}`));
      const result = await runBench(ctx, path, {
        promptTokens: p,
        genTokens: n,
        breakdownSteps: steps,
        ...(tuning ? { tuning } : saved ? { matvecTuning: saved.table, intMatvec: saved.intMatvec, prefillMatmul: saved.prefillMatmul } : {}),
        llama: lc,
        llamaSkipReason: skip,
        threads,
        signal: abort.signal,
        onStatus: say,
      });
      io.out(values.json ? JSON.stringify(result) : formatBench(result));
      return EXIT.OK;
    } catch (e) {
      if (abort.signal.aborted) {
        io.err('pxi bench: interrupted');
        return EXIT.INTERRUPTED;
      }
      throw e;
    } finally {
      await lc?.dispose();
      ctx.destroy();
    }
  },
};
