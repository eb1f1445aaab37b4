/**
 * A put's source cut into tiles: a file read from a byte offset, or a stream of chunks gathered
 * into tile-sized buffers. The buffers come from the caller (the volume's recycled slabs).
 */
import fs from 'node:fs/promises';
import { PixelFsCodes as C, PixelFsError } from './errors';
import { copyInto } from './tile-codec';

/** One tile of a source: `length` bytes at the start of `buf`. */
export interface TileSource {
  buf: SharedArrayBuffer;
  length: number;
}

/** What a put reads: a file path, or chunks. */
export type Source = string | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Supplies a tile-sized buffer, recycled when one is free. */
export type TakeBuffer = () => SharedArrayBuffer;

export async function* tilesFromPath(file: string, cap: number, start: number, take: TakeBuffer): AsyncGenerator<TileSource> {
  const fh = await fs.open(file, 'r');
  try {
    let pos = start;
    for (;;) {
      const b = Buffer.from(take(), 0, cap);
      let n = 0;
      while (n < cap) {
        const { bytesRead } = await fh.read(b, n, cap - n, pos + n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      if (n === 0) return;
      yield { buf: b.buffer as SharedArrayBuffer, length: n };
      pos += n;
      if (n < cap) return;
    }
  } finally {
    await fh.close();
  }
}

export async function* tilesFromIterable(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, cap: number, take: TakeBuffer): AsyncGenerator<TileSource> {
  let cur = Buffer.from(take(), 0, cap);
  let n = 0;
  for await (const chunk of src as AsyncIterable<Uint8Array>) {
    if (!(chunk instanceof Uint8Array)) {
      throw new PixelFsError(C.SOURCE_UNREADABLE, `put source yielded a ${typeof chunk}, expected Uint8Array chunks`, { field: 'source', value: typeof chunk });
    }
    let off = 0;
    while (off < chunk.length) {
      const k = Math.min(cap - n, chunk.length - off);
      copyInto(cur, n, chunk.subarray(off, off + k)); // a memcpy even between shared buffers
      n += k;
      off += k;
      if (n === cap) {
        yield { buf: cur.buffer as SharedArrayBuffer, length: cap };
        cur = Buffer.from(take(), 0, cap);
        n = 0;
      }
    }
  }
  if (n > 0) yield { buf: cur.buffer as SharedArrayBuffer, length: n };
}
