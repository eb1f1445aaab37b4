import { PxiError } from '../errors';

/**
 * Named GPU/engine errors a person can meet (GUIDE §6). Each has a stable `code`; `details`
 * carries the numbers behind the message so the UI and the CLI can show them.
 */

/** No `navigator.gpu` / no `webgpu` binding, no adapter, or the device request failed. */
export class WebGpuUnavailableError extends PxiError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('WEBGPU_UNAVAILABLE', message, details);
  }
}

/** A feature (e.g. `shader-f16`) or a limit the caller requires is not offered by the adapter. */
export class FeatureMissingError extends PxiError {
  readonly feature: string;
  constructor(feature: string, message?: string, details?: Record<string, unknown>) {
    super('GPU_FEATURE_MISSING', message ?? `the GPU adapter does not offer the feature "${feature}"`, { feature, ...details });
    this.feature = feature;
  }
}

/** An allocation failed; only visible through `pushErrorScope('out-of-memory')`. */
export class OutOfGpuMemoryError extends PxiError {
  constructor(label: string, gpuMessage: string, details?: Record<string, unknown>) {
    super('GPU_OUT_OF_MEMORY', `out of GPU memory while allocating "${label}": ${gpuMessage}`, { label, ...details });
  }
}

/** The device was lost (driver reset, GPU process crash) or destroyed; everything on it is gone. */
export class DeviceLostError extends PxiError {
  readonly reason: string;
  constructor(reason: string, gpuMessage: string) {
    super('GPU_DEVICE_LOST', `the GPU device was lost (${reason}): ${gpuMessage || 'no message'}`, { reason });
    this.reason = reason;
  }
}

/** A model (or one of its buffers) does not fit the device's buffer limits. */
export class ModelTooLargeError extends PxiError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('MODEL_TOO_LARGE', message, details);
  }
}

/** More tokens than the context window (KV cache length) holds. */
export class ContextWindowExceededError extends PxiError {
  readonly requested: number;
  readonly max: number;
  constructor(requested: number, max: number, what = 'tokens') {
    super('CONTEXT_WINDOW_EXCEEDED', `context window exceeded: ${requested} ${what} requested, the context holds ${max}`, { requested, max });
    this.requested = requested;
    this.max = max;
  }
}

export interface ShaderMessage {
  /** The file the line is in (shader name without .wgsl): the shader's own or one it //#includes. */
  file?: string;
  /** 1-based line in `file` (mapped back through //#include), column as the compiler gives it. */
  line: number;
  column: number;
  message: string;
  /** The source line the message points at, when known. */
  text?: string;
}

/** WGSL that did not compile, or a pipeline (entry point, override constants) that did not build. */
export class ShaderCompileError extends PxiError {
  readonly shader: string;
  readonly messages: ShaderMessage[];
  constructor(shader: string, entryPoint: string | undefined, messages: ShaderMessage[], fallback?: string) {
    const where = entryPoint ? `${shader}.wgsl (entry point "${entryPoint}")` : `${shader}.wgsl`;
    const lines = messages.map((m) => `  ${m.file ?? shader}.wgsl:${m.line}:${m.column}: ${m.message}${m.text ? `\n    | ${m.text.trim()}` : ''}`);
    super('SHADER_COMPILE', `${where} did not compile:\n${lines.join('\n') || `  ${fallback ?? 'no message'}`}`, {
      shader,
      entryPoint,
      messages,
    });
    this.shader = shader;
    this.messages = messages;
  }
}

/** A WebGPU validation error caught in an error scope (a bug in our code, not in the user's input). */
export class GpuValidationError extends PxiError {
  constructor(label: string, gpuMessage: string) {
    super('GPU_VALIDATION', `WebGPU validation error in "${label}": ${gpuMessage}`, { label });
  }
}

/** A shader name that the host did not provide in its `ShaderSource`. */
export class ShaderNotFoundError extends PxiError {
  constructor(name: string, known: string[]) {
    super('SHADER_NOT_FOUND', `no shader named "${name}" was loaded (known: ${known.join(', ') || 'none'})`, { name });
  }
}

/** The runtime was called wrongly (bad sizes, a batch submitted twice): a bug in the caller. */
export class GpuUsageError extends PxiError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('GPU_USAGE', message, details);
  }
}
