/**
 * How a generation ended and what it measured, declared once. It imports nothing so the IPC
 * contract (shared/ipc/channels/conversations.ts builds its StopReason from STOP_REASONS) and
 * the renderer's worker protocol can use it without pulling in the engine.
 */

/** Why a generation ended. */
export const STOP_REASONS = ['eos', 'stop', 'length', 'aborted', 'context'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

/** What one generation measured: the CLI's timing line, the worker's reply and the chat's stats. */
export interface GenerationTimings {
  promptTokens: number;
  /** Prefill wall time, up to the first token's logits on the CPU. */
  prefillMs: number;
  prefillTokensPerSecond: number;
  /** Single-token forward passes after the prefill. */
  decodeTokens: number;
  decodeMs: number;
  decodeTokensPerSecond: number;
}
