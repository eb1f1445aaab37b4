/**
 * Messages between the renderer's main thread (which owns the IPC API) and the engine worker
 * (which owns the WebGPU device and the model). The worker makes its engine calls itself (the
 * model's header, a LoRA adapter's bytes, tensor bytes), over the link the main thread hands it
 * first (engine-link.ts): none of them passes the page thread.
 */
import type { LedgerSummary } from '../../../shared/gpu/ledger';
import type { SerializedError } from '../../../shared/errors';
import type { EngineLink } from './engine-link';
import type { CandidateTiming, TuningFile, TuningRecord, TypeTuning } from '../../../shared/engine/autotune';
import type { NewSession } from '../../../shared/sessions/record';
import type { WeightType } from '../../../shared/engine/quant-matmul';
import type { ResidencyPlan } from '../../../shared/engine/residency';
import type { GenerationTimings, StopReason } from '../../../shared/engine/outcome';

/** Sampling and length settings of one reply, as the chat view collects them. */
export interface GenerationSettings {
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repeatPenalty: number;
  seed: number;
}

/** One earlier turn of a conversation, as the chat template reads it. */
export interface HistoryMessage {
  role: 'user' | 'assistant';
  content: string;
}

/** 'chat': through the model's chat template, keeping the conversation; 'completion': the text is continued. */
export type GenerationMode = 'chat' | 'completion';

export type ToWorker =
  /** The worker's own link to the services (sent once, right after the worker starts; a port is transferred). */
  | { type: 'link'; link: EngineLink }
  /** No link could be opened: every read fails with this error. */
  | { type: 'link-error'; error: SerializedError }
  /**
   * Loads `model` (id or name): the worker asks for its header (engine:header) and the stored
   * adapter `lora` names (engine:adapter) over its own link. `load`: the page's number for this
   * load, echoed in its `header` message. `tuning`: the kernel measurements this browser kept
   * (the worker measures what is missing). `gpuMemory`: the budget in bytes the residency
   * planner fits the model to (absent: none).
   */
  | { type: 'load'; load: number; model: string; contextLength?: number; gpuMemory?: number; tuning: TuningFile; lora?: { name: string; scale: number } }
  /**
   * `history`: the conversation before `text` (chat mode). When given, the worker's chat session
   * is rebuilt from it (the KV cache still serves the prefix it shares), so the view's stored
   * conversation, edited or reopened, is what the model sees.
   */
  | { type: 'generate'; id: number; mode: GenerationMode; text: string; settings: GenerationSettings; system?: string; history?: HistoryMessage[] }
  | { type: 'stop' }
  | { type: 'reset' }
  | { type: 'unload' }
  /** Whether to report activity (per-block progress; costs a few submits per token). */
  | { type: 'trace'; on: boolean }
  /** Measure the decode kernels of these types now, on size × size matrices (the Kernels view). */
  | { type: 'tune'; id: number; types: WeightType[]; size: number; rounds: number }
  /** Stops the measurement `id` between two shapes (nothing of it is kept). */
  | { type: 'tune-cancel'; id: number };

/** A LoRA adapter stored beside the model (engine:adapter), applied at `scale` over the base as loaded. */
export interface LoraToLoad {
  name: string;
  bytes: Uint8Array;
  scale: number;
}

export interface LoadedInfo {
  modelId: string;
  name: string;
  /** The LoRA adapter applied (pxi finetune's, stored beside the model), or null. */
  lora: { name: string; scale: number } | null;
  adapter: string;
  /** Whether the device has shader-f16 (the engine's kernels compute in f32 either way). */
  f16: boolean;
  contextLength: number;
  chatTemplate: boolean;
  weightBytes: number;
  /** Seconds from the load request to the model on the device, kernel tuning included. */
  loadSeconds: number;
  /** Seconds of it spent measuring the decode kernels (0 when a kept measurement served). */
  tuneSeconds: number;
  blocks: number;
  /** KV-cache bytes one token takes (every block, K and V). */
  kvBytesPerToken: number;
  /** The decode-kernel shapes in use, per weight type of the model, as the tuner measured them. */
  tuning: { measuredAt: string; types: Partial<Record<WeightType, TypeTuning>> } | null;
  /** The worker's GPU allocation ledger right after the load (shared/gpu/ledger.ts). */
  memory: LedgerSummary;
  /** Positions per KV-cache page (the cache grows by whole pages). */
  kvPageSize: number;
  /** What stays in GPU memory and what streams each token, and why (shared/engine/residency.ts). */
  residency: ResidencyInfo;
}

/** The residency plan of a load, as the views show it. */
export type ResidencyInfo = Pick<ResidencyPlan, 'budget' | 'resident' | 'streamed' | 'residentBytes' | 'slotsBytes' | 'uploadBytesPerPass' | 'explanation'>;

/** The KV cache's pages now: positions per page and pages held. */
export interface KvPagesInfo {
  pageSize: number;
  pages: number;
}

/**
 * What the engine is doing, as the explorer draws it: the stage the GPU just finished
 * (block N of a prefill or decode pass, or the output head), or idle between replies, and how
 * many tokens the KV cache holds.
 */
export interface EngineActivity {
  modelId: string;
  phase: 'prefill' | 'decode' | 'idle';
  /** The block just computed (`blocks` for the output head); null when idle. */
  block: number | null;
  blocks: number;
  /** Tokens in the KV cache once this pass completes (the pass's tokens included). */
  position: number;
  contextLength: number;
  kvBytesPerToken: number;
  /** The pages the KV cache holds once this pass completes. */
  kvPages: KvPagesInfo;
}

/** The engine's own measurement of a reply (shared/engine/generate.ts), declared once. */
export type ReplyTimings = GenerationTimings;

export interface ReplyResult {
  text: string;
  tokens: number[];
  stopReason: StopReason;
  timings: ReplyTimings;
  /** Tokens in the KV cache after the reply. */
  position: number;
  /** The ledger after the reply: the KV cache's pages grow with the conversation. */
  memory: LedgerSummary;
  kvPages: KvPagesInfo;
}

/** The residual stream after each block for the last token run (only while the explorer watches). */
export interface EngineActivations {
  modelId: string;
  blocks: number;
  /** The embedding width: values per block. */
  width: number;
  /** Tokens in the KV cache after the pass these come from. */
  position: number;
  /** [blocks × width] row-major. */
  values: Float32Array;
}

export type FromWorker =
  /** The header of the model load `load` loads arrived: its id and name, before its weights. */
  | { type: 'header'; load: number; modelId: string; name: string }
  | { type: 'progress'; bytesDone: number; bytesTotal: number; tensor: string }
  /** Measuring the decode kernels on this adapter (once per adapter and kernel version). */
  | { type: 'tuning'; weightType: string; index: number; count: number }
  /** A new measurement, for the main thread to keep, and the run as a self-improvement session to record. */
  | { type: 'tuned'; record: TuningRecord; session: NewSession }
  /** The answer to a `tune` request: the record, every shape's timings per type, and the run as a session. */
  | { type: 'tune-done'; id: number; record: TuningRecord; timings: Partial<Record<WeightType, CandidateTiming[]>>; adapter: string; session: NewSession }
  | { type: 'tune-error'; id: number; error: SerializedError }
  | { type: 'loaded'; info: LoadedInfo }
  /** A load under a GPU memory budget: its residency plan as a self-improvement session to record. */
  | { type: 'planned'; session: NewSession }
  | { type: 'load-error'; error: SerializedError }
  /** The prompt's prefill: tokens the GPU has finished of the total (a prompt over one batch). */
  | { type: 'prefill'; id: number; done: number; total: number }
  | { type: 'chunk'; id: number; index: number; token: number; text: string }
  | { type: 'done'; id: number; result: ReplyResult }
  | { type: 'generate-error'; id: number; error: SerializedError }
  | { type: 'activity'; activity: EngineActivity }
  | { type: 'activations'; activations: EngineActivations }
  /** The device is gone (driver reset, GPU process crash): the model must be loaded again. */
  | { type: 'lost'; error: SerializedError };
