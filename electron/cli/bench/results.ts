/**
 * What `pxi bench` measures, as one result: ours and llama.cpp's figures, the per-kernel
 * breakdown of a decode step, the machine and the model (specs/benchmarks.md).
 */
import { PxiError } from '../../../shared/errors';
import type { GenerationTimings } from '../../../shared/engine/outcome';
import type { WeightKernelTuning, WeightType } from '../../../shared/engine/quant-matmul';

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
