/**
 * The one error base of Pixel-LLM. Every error a person can meet carries a stable `code`
 * (for programs, tests and the IPC bridge) and a message a person can act on. Subsystems add
 * subclasses with their own codes (GGUF parse errors, PixelFS corruption, engine errors).
 */
export class PxiError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** The plain-data form of an error that crosses a process boundary (IPC, WebSocket, JSON). */
export interface SerializedError {
  code: string;
  name: string;
  message: string;
  details?: Record<string, unknown>;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof PxiError) {
    return { code: e.code, name: e.name, message: e.message, ...(e.details ? { details: e.details } : {}) };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { code: 'INTERNAL', name: 'InternalError', message: `internal error: ${err.message}` };
}

/** Rebuilds an error on the receiving side; `instanceof PxiError` holds and the code survives. */
export class RemoteError extends PxiError {
  constructor(s: SerializedError) {
    super(s.code, s.message, s.details);
    this.name = s.name;
  }
}
