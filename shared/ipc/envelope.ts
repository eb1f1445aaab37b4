import type { SerializedError } from '../errors';

/** What every call returns across a transport: a value or a typed error, never a thrown object. */
export type Envelope<T = unknown> = { ok: true; value: T } | { ok: false; error: SerializedError };

/** Browser-mode WebSocket frames (JSON text). */
export interface CallFrame {
  id: number;
  channel: string;
  payload: unknown;
}
export type ServerFrame = { id: number; result: Envelope } | { event: string; payload: unknown };

export const IPC_ERRORS = {
  UNKNOWN_CHANNEL: 'IPC_UNKNOWN_CHANNEL',
  INVALID_REQUEST: 'IPC_INVALID_REQUEST',
  INVALID_RESPONSE: 'IPC_INVALID_RESPONSE',
  FORBIDDEN_SENDER: 'IPC_FORBIDDEN_SENDER',
  MALFORMED_FRAME: 'IPC_MALFORMED_FRAME',
  TRANSPORT: 'IPC_TRANSPORT',
} as const;
