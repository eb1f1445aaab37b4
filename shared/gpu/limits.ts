import type { GpuCaps } from './device';
import { ContextWindowExceededError, FeatureMissingError, ModelTooLargeError } from './errors';

export interface BufferNeed {
  /** What the buffer holds, for the message ("blk.3.ffn_up", "kv cache layer 0"). */
  name: string;
  bytes: number;
  /** Bound whole as one storage binding (default true): must fit maxStorageBufferBindingSize. */
  bound?: boolean;
}

/**
 * Checks a model's buffers against the device before anything is allocated. Throws
 * ModelTooLargeError naming the first buffer that does not fit, with its size and the limit.
 */
export function checkBuffersFit(caps: GpuCaps, needs: readonly BufferNeed[], model = 'model'): void {
  const { maxBufferSize, maxStorageBufferBindingSize } = caps.limits;
  for (const n of needs) {
    if (n.bytes > maxBufferSize) {
      throw new ModelTooLargeError(
        `${model}: buffer "${n.name}" needs ${n.bytes} bytes; this GPU allows ${maxBufferSize} per buffer`,
        { model, buffer: n.name, bytes: n.bytes, limit: maxBufferSize, limitName: 'maxBufferSize' },
      );
    }
    if (n.bound !== false && n.bytes > maxStorageBufferBindingSize) {
      throw new ModelTooLargeError(
        `${model}: buffer "${n.name}" needs ${n.bytes} bytes in one binding; this GPU binds at most ${maxStorageBufferBindingSize}`,
        { model, buffer: n.name, bytes: n.bytes, limit: maxStorageBufferBindingSize, limitName: 'maxStorageBufferBindingSize' },
      );
    }
  }
}

/** Throws FeatureMissingError when a model needs f16 or subgroups and the device has not got them. */
export function checkFeatures(caps: GpuCaps, needs: { f16?: boolean; subgroups?: boolean }): void {
  if (needs.f16 && !caps.f16) throw new FeatureMissingError('shader-f16');
  if (needs.subgroups && !caps.subgroups) throw new FeatureMissingError('subgroups');
}

/** Throws ContextWindowExceededError when `start + count` tokens do not fit `maxContext`. */
export function checkContextWindow(start: number, count: number, maxContext: number): void {
  if (start + count > maxContext) throw new ContextWindowExceededError(start + count, maxContext);
}
