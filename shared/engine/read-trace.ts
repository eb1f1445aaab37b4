/**
 * A read recorder (issue 12 §4): wraps a TensorSource and logs every read the engine makes
 * through it (tensor, offset, length), in order. The layout planner turns the log into a
 * placement that keeps what is read together in the same tiles. Reads pass through unchanged.
 */
import type { TensorRead } from '../model/layout-plan';
import type { TensorSource } from './tensor-source';

export interface RecordingSource extends TensorSource {
  /** Every read so far, in the order it was asked for. */
  readonly reads: TensorRead[];
}

export function recordReads(inner: TensorSource): RecordingSource {
  const reads: TensorRead[] = [];
  return {
    header: inner.header,
    reads,
    read(name, byteOffset, length) {
      reads.push({ tensor: name, offset: byteOffset, length });
      return inner.read(name, byteOffset, length);
    },
  };
}
