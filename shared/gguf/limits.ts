/**
 * What a GGUF header may claim before we refuse it. The reader and the writer share these, so
 * the writer never produces a file the reader refuses. Caps are far above any real model
 * (the largest real headers are tens of MB: a 256k vocabulary plus merges) and far below
 * what would exhaust memory.
 */
import { isPowerOfTwo } from '../binary/safe-int';
import { GgufError, kvField } from './errors';
import type { GgufMetadata } from './values';

export interface GgufLimits {
  /** Bytes of header (everything before the tensor data) the reader will load. */
  readonly maxHeaderBytes: number;
  readonly maxTensors: number;
  readonly maxKvs: number;
  readonly maxKeyBytes: number;
  /** ggml refuses tensor names of GGML_MAX_NAME (64) bytes or more. */
  readonly maxTensorNameBytes: number;
  readonly maxStringBytes: number;
  /** Elements in one array. */
  readonly maxArrayLength: number;
  /** Elements in all arrays of one header together (bounds objects built for one load). */
  readonly maxTotalArrayItems: number;
  /** Nesting of arrays inside arrays (1 = arrays of scalars only). */
  readonly maxArrayDepth: number;
  readonly maxAlignment: number;
}

export const DEFAULT_GGUF_LIMITS: GgufLimits = Object.freeze({
  maxHeaderBytes: 512 * 1024 * 1024,
  maxTensors: 1 << 20,
  maxKvs: 1 << 20,
  maxKeyBytes: 1 << 16,
  maxTensorNameBytes: 63,
  maxStringBytes: 64 * 1024 * 1024,
  maxArrayLength: 1 << 24,
  maxTotalArrayItems: 1 << 25,
  maxArrayDepth: 4,
  maxAlignment: 1 << 16,
});

export function resolveLimits(partial?: Partial<GgufLimits>): GgufLimits {
  return partial ? { ...DEFAULT_GGUF_LIMITS, ...partial } : DEFAULT_GGUF_LIMITS;
}

export const GGUF_DEFAULT_ALIGNMENT = 32;
export const ALIGNMENT_KEY = 'general.alignment';

/**
 * The data alignment a header declares: `general.alignment` if present (a uint32 power of two
 * in 1..maxAlignment, as ggml requires), else 32.
 */
export function alignmentOf(meta: GgufMetadata, file: string, limits: GgufLimits): number {
  const v = meta.get(ALIGNMENT_KEY);
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const where = { file, field: kvField(ALIGNMENT_KEY) };
  if (v.type !== 'uint32') {
    throw new GgufError('GGUF_BAD_ALIGNMENT', where, v.type, 'general.alignment must be a uint32');
  }
  if (!isPowerOfTwo(v.value) || v.value > limits.maxAlignment) {
    throw new GgufError(
      'GGUF_BAD_ALIGNMENT',
      where,
      v.value,
      `alignment must be a power of two between 1 and ${limits.maxAlignment}`,
    );
  }
  return v.value;
}
