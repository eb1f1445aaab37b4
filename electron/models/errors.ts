import { PxiError } from '../../shared/errors';

/** Errors of the model store (electron/models). Stable codes; details name file, field, value. */
export type ModelStoreCode =
  | 'MODEL_NOT_FOUND'
  | 'MODEL_EXISTS' // another model (or another file's interrupted import) has this name
  | 'MODEL_BAD_NAME'
  | 'MODEL_SOURCE_UNREADABLE'
  | 'MODEL_PADDING_TOO_LARGE' // bytes outside the tensors exceed what the store keeps in memory
  | 'MODEL_SOURCE_CHANGED' // the GGUF changed while it was being imported
  | 'MODEL_CANCELLED'
  | 'MODEL_CORRUPT' // stored bytes do not match their checksums (export, read)
  | 'MODEL_EXPORT_EXISTS'
  | 'MODEL_STORE_SCHEMA'
  | 'MODEL_MAP_UNAVAILABLE';

export class ModelStoreError extends PxiError {
  declare readonly code: ModelStoreCode;
  constructor(code: ModelStoreCode, message: string, details?: { file?: string; field?: string; value?: unknown; [k: string]: unknown }) {
    super(code, message, details);
  }
}

/** The error a cancelled operation rejects with; `reason` is the AbortSignal's reason. */
export function cancelledError(what: string, reason: unknown): ModelStoreError {
  const why = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  return new ModelStoreError('MODEL_CANCELLED', `${what} was cancelled (${why}); rerun it to continue where it stopped`, { field: 'signal', value: why });
}

/** Throws the cancelled error when `signal` was aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw cancelledError(what, signal.reason);
}
