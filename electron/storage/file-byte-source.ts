/**
 * A `ByteSource` over a file on disk: positional reads on one open FileHandle, so a parser can
 * read a GGUF header (or any range) of a multi-GB file without loading it. The size is taken
 * once at open; a file that shrinks afterwards gives a short read, reported as an error
 * rather than returned as fewer bytes.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { ByteRangeError } from '../../shared/binary/byte-reader';
import type { ByteSource } from '../../shared/binary/byte-source';

export class FileByteSource implements ByteSource {
  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<FileByteSource> {
    const handle = await open(path, 'r');
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new Error(`${path} is not a regular file`);
      return new FileByteSource(handle, path, st.size);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.size
    ) {
      throw new ByteRangeError(this.path, 'read', offset, length, Math.max(0, this.size - offset));
    }
    const out = new Uint8Array(length);
    let done = 0;
    // A positional read may return fewer bytes than asked; loop until filled or EOF.
    while (done < length) {
      const { bytesRead } = await this.handle.read(out, done, length - done, offset + done);
      if (bytesRead === 0) throw new ByteRangeError(this.path, 'read', offset, length, done);
      done += bytesRead;
    }
    return out;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** Opens `path`, runs `fn` with its byte source, and always closes the file. */
export async function withFileByteSource<T>(path: string, fn: (src: FileByteSource) => Promise<T>): Promise<T> {
  const src = await FileByteSource.open(path);
  try {
    return await fn(src);
  } finally {
    await src.close();
  }
}
