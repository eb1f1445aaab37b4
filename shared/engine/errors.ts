/**
 * Errors of the inference engine that are not GPU errors (those live in shared/gpu/errors.ts:
 * no WebGPU, device lost, out of memory, model too large, context window exceeded). Each has a
 * stable code; the message names the tensor, the option or the value at fault.
 */
import { PxiError } from '../errors';

export type EngineErrorCode =
  | 'ENGINE_UNSUPPORTED_TYPE' // a tensor stored in a ggml type the kernels do not read
  | 'ENGINE_UNSUPPORTED_SHAPE' // a shape the kernels cannot take (row length not a multiple of 4, partial NEOX RoPE)
  | 'ENGINE_TENSOR_READ' // a read outside a tensor, or a tensor the source does not have
  | 'ENGINE_BAD_TOKEN' // a token id outside the vocabulary
  | 'ENGINE_NONFINITE_LOGITS' // every logit NaN: NaN/infinite weights or activations upstream
  | 'ENGINE_BAD_OPTION' // an engine or generation option out of range
  | 'ENGINE_NO_CHAT_TEMPLATE' // chat asked of a model whose file has no tokenizer.chat_template
  | 'ENGINE_DESTROYED' // the model was destroyed (or its load failed) and cannot run
  | 'ENGINE_BAD_TUNING_FILE'; // a kernel tuning file that is not what this version writes

export class EngineError extends PxiError {
  declare readonly code: EngineErrorCode;
  constructor(code: EngineErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

/** The caller's AbortSignal fired while loading a model. Generation returns instead (stopReason 'aborted'). */
export class EngineAbortedError extends PxiError {
  constructor(what: string) {
    super('ENGINE_ABORTED', `${what} was cancelled`);
  }
}
