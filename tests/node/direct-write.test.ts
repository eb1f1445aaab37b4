/**
 * Writes around the page cache (electron/pixelfs/file-ops.ts, `create(file, { direct: true })`):
 * whatever the memory, position and length, the file holds exactly the bytes written; a write
 * that cannot go direct (unaligned memory, odd position, no room to round the last block up)
 * goes through the cache instead. PixelFS's slabs (alignedSharedBuffer) are page-aligned, so a
 * tile PNG built in one goes direct. Where the test folder's file system refuses O_DIRECT, the
 * cases that need it are skipped with that reason; the content checks run either way.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../electron/models/store';
import { alignedSharedBuffer, nodeFileOps, writeFileDurableStream, writesDirect } from '../../electron/pixelfs/index';
import { sha256File, writeTinyModel } from './models-support';

let tmp: string;
let directHere = false;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'direct-write-'));
  const h = await nodeFileOps.create(path.join(tmp, 'probe'), { direct: true });
  directHere = writesDirect(h);
  await nodeFileOps.close(h);
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
/** Writes `pieces` (data, position) through one direct handle, fsyncs, closes; returns the file's bytes. */
async function writeThrough(pieces: { data: Uint8Array; position: number }[]): Promise<{ bytes: Buffer; direct: boolean }> {
  const file = path.join(tmp, `f${n++}`);
  const h = await nodeFileOps.create(file, { direct: true });
  const direct = writesDirect(h);
  for (const p of pieces) await nodeFileOps.write(h, p.data, p.position);
  await nodeFileOps.fsync(h);
  await nodeFileOps.close(h);
  return { bytes: fs.readFileSync(file), direct };
}

/** Random bytes at the start of a page-aligned shared slab (the rest of it is other random bytes). */
function inSlab(length: number, slabBytes = 4 * 65536): Uint8Array {
  const slab = new Uint8Array(alignedSharedBuffer(slabBytes));
  slab.set(randomBytes(slabBytes));
  return new Uint8Array(slab.buffer, 0, length);
}

function expected(pieces: { data: Uint8Array; position: number }[]): Buffer {
  const end = Math.max(0, ...pieces.map((p) => p.position + p.data.length));
  const out = Buffer.alloc(end);
  for (const p of pieces) out.set(p.data, p.position);
  return out;
}

describe('direct writes', () => {
  it('alignedSharedBuffer gives a shared buffer of exactly the size asked', () => {
    const b = alignedSharedBuffer(3 * 65536);
    expect(b).toBeInstanceOf(SharedArrayBuffer);
    expect(b.byteLength).toBe(3 * 65536);
  });

  it('a file written from a slab holds exactly its bytes, whatever the length', async () => {
    for (const length of [1, 511, 4095, 4096, 4097, 65536 + 123, 3 * 65536]) {
      const pieces = [{ data: inSlab(length), position: 0 }];
      const r = await writeThrough(pieces);
      expect(r.bytes.length, `length ${length}`).toBe(length);
      expect(r.bytes.equals(expected(pieces)), `length ${length}`).toBe(true);
    }
  });

  it('goes direct where the file system allows it', async (ctx) => {
    if (!directHere) ctx.skip(`the file system of ${os.tmpdir()} refuses O_DIRECT (or this platform has none): writes go through the cache`);
    const r = await writeThrough([{ data: inSlab(100_000), position: 0 }]);
    expect(r.direct).toBe(true);
  });

  it('memory that is not aligned, and odd positions, go through the cache with the same result', async () => {
    const plain = randomBytes(70_000); // a plain Buffer: malloc'd 16 bytes past a page boundary
    const slab = inSlab(3 * 65536);
    const pieces = [
      { data: plain, position: 0 },
      { data: slab.subarray(0, 5000), position: 70_000 },
      { data: new Uint8Array(slab.buffer, 4096, 8192), position: 75_000 },
      { data: new Uint8Array(slab.buffer, 8192, 4096), position: 90_112 }, // aligned both ways
    ];
    const r = await writeThrough(pieces);
    expect(r.bytes.equals(expected(pieces))).toBe(true);
  });

  it('a direct write inside what was already written does not cut the file short', async () => {
    const slab = inSlab(3 * 65536);
    const pieces = [
      { data: new Uint8Array(slab.buffer, 0, 40_000), position: 0 },
      // Rewrites 5000 bytes at 8192: rounding it up to a block would be harmless, but cutting the
      // file back to its end (13192) would lose the rest.
      { data: new Uint8Array(slab.buffer, 65536, 5000), position: 8192 },
    ];
    const r = await writeThrough(pieces);
    expect(r.bytes.length).toBe(40_000);
    expect(r.bytes.equals(expected(pieces))).toBe(true);
  });

  it('an empty write changes nothing', async () => {
    const r = await writeThrough([{ data: inSlab(0), position: 0 }]);
    expect(r.bytes.length).toBe(0);
  });

  it('a direct durable stream (exports) writes exactly its pieces, across its staging buffers', async () => {
    const whole = randomBytes(2 * 8 * 1024 * 1024 + 3 * 65536 + 123);
    const shared = new Uint8Array(new SharedArrayBuffer(whole.length));
    shared.set(whole);
    const file = path.join(tmp, 'stream.bin');
    let state = 7;
    const size = await writeFileDurableStream(
      file,
      async (sink) => {
        for (let at = 0; at < whole.length; ) {
          state = (state * 1103515245 + 12345) >>> 0;
          const n = Math.min(whole.length - at, 1 + (state % 3_000_000));
          await sink.write((state & 1 ? whole : shared).subarray(at, at + n));
          at += n;
        }
        return sink.bytes;
      },
      { direct: true, rolling: true },
    );
    expect(size).toBe(whole.length);
    expect(fs.readFileSync(file).equals(whole)).toBe(true);
    expect(fs.readdirSync(tmp).filter((f) => f.includes('pxtmp'))).toEqual([]);
  });

  it('a direct durable stream whose producer fails leaves no file', async () => {
    const file = path.join(tmp, 'failed.bin');
    await expect(
      writeFileDurableStream(
        file,
        async (sink) => {
          await sink.write(randomBytes(9 * 1024 * 1024));
          throw new Error('producer failed');
        },
        { direct: true },
      ),
    ).rejects.toThrow('producer failed');
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.readdirSync(tmp).filter((f) => f.includes('failed.bin'))).toEqual([]);
  });

  it('a staged write that fails while the producer is busy elsewhere fails the stream (no unhandled rejection), leaving no file', async () => {
    const file = path.join(tmp, 'write-fails.bin');
    let writes = 0;
    const ops = {
      ...nodeFileOps,
      write: async (h: Parameters<typeof nodeFileOps.write>[0], data: Uint8Array, pos: number) => {
        if (++writes === 1) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
        return nodeFileOps.write(h, data, pos);
      },
    };
    await expect(
      writeFileDurableStream(
        file,
        async (sink) => {
          await sink.write(randomBytes(8 * 1024 * 1024 + 5)); // fills one staging buffer: its write starts
          // Busy elsewhere while that write fails (an export reading its next tiles).
          for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
          await sink.write(randomBytes(8 * 1024 * 1024)); // the next full buffer waits for the first: EIO
          return sink.bytes;
        },
        { direct: true, ops },
      ),
    ).rejects.toThrow('EIO');
    expect(fs.readdirSync(tmp).filter((f) => f.includes('write-fails'))).toEqual([]);
  });

  it('a model imported with its tiles written direct exports to the same bytes', async () => {
    const src = path.join(tmp, 'tiny.gguf');
    writeTinyModel(src);
    const store = await ModelStore.open(path.join(tmp, 'vol'), { create: { tileWidth: 64, tileHeight: 64, level: 0 } });
    try {
      await store.import(src, { name: 'tiny', pyramid: false });
      const out = path.join(tmp, 'tiny-out.gguf');
      const { exportModel } = await import('../../electron/ops/export');
      await exportModel(store, 'tiny', out);
      expect(sha256File(out)).toBe(sha256File(src));
      expect((await store.volume.verify()).ok).toBe(true);
    } finally {
      await store.close();
    }
  });
});
