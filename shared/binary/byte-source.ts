/**
 * Random-access bytes of one file, wherever they live (a file on disk, a browser `File`, an
 * HTTP range, a buffer). Parsers ask for bounded prefixes through this instead of loading a
 * whole multi-GB file.
 */
import { ByteRangeError } from './byte-reader';

export interface ByteSource {
  /** Total length in bytes; a non-negative safe integer. */
  readonly size: number;
  /**
   * Returns exactly `length` bytes starting at `offset`. Callers never ask past `size`. The
   * result may be a view into a larger buffer; callers do not keep or mutate it beyond use.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A `ByteSource` over bytes already in memory (tests, small models, drag-and-drop buffers). */
export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(offset: number, length: number): Promise<Uint8Array> {
      if (!isRange(offset, length, bytes.length)) {
        return Promise.reject(new ByteRangeError('<memory>', 'read', offset, length, bytes.length - offset));
      }
      return Promise.resolve(bytes.subarray(offset, offset + length));
    },
  };
}

/**
 * Reads `[offset, offset + length)` and checks the source kept its contract: the range lies
 * inside `size` and exactly `length` bytes came back (a file that shrank under us, a broken
 * range server). `label` names the file in the error.
 */
export async function readExact(src: ByteSource, offset: number, length: number, label: string): Promise<Uint8Array> {
  if (!isRange(offset, length, src.size)) {
    throw new ByteRangeError(label, 'read', offset, length, Math.max(0, src.size - offset));
  }
  if (length === 0) return new Uint8Array(0);
  const got = await src.read(offset, length);
  if (got.length !== length) {
    throw new ByteRangeError(label, 'read', offset, length, got.length);
  }
  return got;
}

function isRange(offset: number, length: number, size: number): boolean {
  return (
    Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= size
  );
}
