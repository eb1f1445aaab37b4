/**
 * One bench run: ours (the WGSL engine, from the GGUF or its pixels), then llama.cpp, with the
 * same prompt ids and generated tokens; then a few decode steps timed kernel by kernel. Also the
 * engine of `npm run bench:decode` and of the GPU-machine script (specs/benchmarks.md).
 */
import { availableParallelism } from 'node:os';
import { generate } from '../../../shared/engine/generate';
import { Model, type ModelLoadOptions } from '../../../shared/engine/model';
import { DEFAULT_TUNING, type WeightKernelTuning, type WeightType } from '../../../shared/engine/quant-matmul';
import type { TensorSource } from '../../../shared/engine/tensor-source';
import type { GpuContext, PassTiming } from '../../../shared/gpu';
import { tokenizerFromGguf, type Tokenizer } from '../../../shared/tokenizer';
import { openNodeModel } from '../../engine';
import { groupPasses, machineInfo, promptIds, weightBytesPerToken } from './accounting';
import { runLlama, type LlamaCpp } from './llama';
import { BenchError, type BenchResult, type Breakdown, type LlamaFigures } from './results';

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
  /** A block per dispatch where the model allows it (ModelLoadOptions.decodeLayers; default true). */
  decodeLayers?: boolean;
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
    decodeLayers: opts.decodeLayers,
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
