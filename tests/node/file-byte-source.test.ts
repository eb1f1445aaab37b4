// FileByteSource: positional reads of a real file, and the GGUF header read through it.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileByteSource, withFileByteSource } from '../../electron/storage/file-byte-source';
import { ByteRangeError } from '../../shared/binary/byte-reader';
import { getU32, parseGgufBytes, readGgufHeader } from '../../shared/gguf';
import { fixturePath } from '../support/fixtures';

const stories = fixturePath('models', 'stories260K.gguf');

describe('FileByteSource', () => {
  it('reads exact ranges of the fixture at any offset', async () => {
    const whole = new Uint8Array(await readFile(stories));
    await withFileByteSource(stories, async (src) => {
      expect(src.size).toBe(whole.length);
      for (const [off, len] of [[0, 4], [1, 1000], [whole.length - 7, 7], [123457, 65536], [whole.length, 0]] as const) {
        const got = await src.read(off, len);
        expect(got.length).toBe(len);
        expect(Buffer.from(got).equals(Buffer.from(whole.subarray(off, off + len)))).toBe(true);
      }
    });
  });

  it('refuses ranges outside the file', async () => {
    await withFileByteSource(stories, async (src) => {
      await expect(src.read(src.size - 1, 2)).rejects.toBeInstanceOf(ByteRangeError);
      await expect(src.read(-1, 1)).rejects.toBeInstanceOf(ByteRangeError);
      await expect(src.read(0, 2 ** 53)).rejects.toBeInstanceOf(ByteRangeError);
    });
  });

  it('reads the GGUF header through the file handle, same as in memory', async () => {
    const whole = new Uint8Array(await readFile(stories));
    const h = await withFileByteSource(stories, (src) => readGgufHeader(src, { name: 'stories260K.gguf' }));
    expect(h).toEqual(parseGgufBytes(whole, 'stories260K.gguf'));
    expect(getU32(h, 'llama.block_count')).toBe(5);
    // The tensor offsets point at the data: the embedding read from disk has the expected hash.
    const emb = h.tensors.find((t) => t.name === 'token_embd.weight')!;
    const data = await withFileByteSource(stories, (src) => src.read(emb.offset, emb.byteSize));
    const hash = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    expect(hash(data)).toBe(hash(whole.subarray(emb.offset, emb.offset + emb.byteSize)));
  });

  it('reports a file that shrank after opening as a short read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pxi-fbs-'));
    try {
      const p = join(dir, 'f.bin');
      await writeFile(p, new Uint8Array(4096).fill(7));
      const src = await FileByteSource.open(p);
      try {
        await truncate(p, 100);
        await expect(src.read(0, 4096)).rejects.toMatchObject({ code: 'BIN_OUT_OF_RANGE', available: 100 });
        expect(Array.from(await src.read(0, 3))).toEqual([7, 7, 7]);
      } finally {
        await src.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a directory', async () => {
    await expect(FileByteSource.open(tmpdir())).rejects.toThrow();
  });
});
