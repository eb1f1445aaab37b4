import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PixelFsCodes as C, PixelFsError, TilePool, Volume, type VolumeSettings } from '../../electron/pixelfs/index';
import { crc32 } from '../../electron/pixelfs/tile-codec';

const SETTINGS: VolumeSettings = { tileWidth: 64, tileHeight: 64, level: 0 };
const CAP = 64 * 64 * 4;

let tmp: string;
let pool: TilePool;
let n = 0;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pixelfs-vol-'));
  pool = new TilePool({ size: 1 });
});

afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

async function fresh(extra: Partial<VolumeSettings> = {}, opts: { cacheBytes?: number; commitEveryBytes?: number } = {}): Promise<Volume> {
  return Volume.open(path.join(tmp, `v${n++}`), { create: { ...SETTINGS, ...extra }, pool, ...opts });
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(PixelFsError);
    return (e as PixelFsError).code;
  }
  throw new Error('expected a PixelFsError');
}

/** Flips one byte inside the IDAT data of a tile file; with fixCrc the chunk CRC is recomputed,
 * so only the sha256 (the tile's address) can notice. */
function corruptTile(file: string, fixCrc: boolean): void {
  const b = fs.readFileSync(file);
  const idatAt = b.indexOf('IDAT', 8, 'latin1') - 4;
  const len = b.readUInt32BE(idatAt);
  b[idatAt + 8 + 2 + 5 + 200] ^= 0x40; // inside the first stored block's data
  if (fixCrc) b.writeUInt32BE(crc32(b.subarray(idatAt + 4, idatAt + 8 + len)), idatAt + 8 + len);
  fs.writeFileSync(file, b);
}

describe('PixelFS volume: round trips', () => {
  it.each([0, 1, CAP - 1, CAP, CAP + 1, 3 * CAP + 77])('%i bytes: put (path and stream) -> get, read, verify bit-exact', async (size) => {
    const v = await fresh();
    const data = randomBytes(size);
    const src = path.join(v.root, '..', `src-${size}`);
    fs.writeFileSync(src, data);
    const r = await v.put('f', src);
    expect(r).toMatchObject({ size, sha256: sha(data), tiles: Math.ceil(size / CAP) });
    // A stream source cut in odd places gives the same file (dedupes completely).
    const cuts = [data.subarray(0, 7), data.subarray(7, 7 + CAP), data.subarray(7 + CAP)];
    const r2 = await v.put('g', (async function* () {
      for (const c of cuts) yield c;
    })());
    expect(r2.sha256).toBe(sha(data));
    expect(r2.tilesWritten).toBe(0);
    for (const name of ['f', 'g']) {
      const out = path.join(tmp, `out-${n}-${name}`);
      await v.get(name, out);
      expect(Buffer.compare(fs.readFileSync(out), data)).toBe(0);
      expect(Buffer.compare(await v.read(name, 0, size + 10), data)).toBe(0);
    }
    const rep = await v.verify();
    expect(rep).toMatchObject({ ok: true, filesChecked: 2, bytesChecked: 2 * size });
    expect(v.ls().map((f) => [f.name, f.size, f.sha256])).toEqual([
      ['f', size, sha(data)],
      ['g', size, sha(data)],
    ]);
    await v.close();
  });

  it('range reads at random offsets and lengths match the source (small LRU cache)', async () => {
    const v = await fresh({}, { cacheBytes: 3 * CAP });
    const data = randomBytes(9 * CAP + 1234);
    await v.put('r', [data]);
    let seed = 7;
    const rand = (k: number): number => {
      seed = (seed * 48271) % 2147483647;
      return seed % k;
    };
    for (let i = 0; i < 200; i++) {
      const off = rand(data.length + 1);
      const len = rand(3 * CAP);
      const got = await v.read('r', off, len);
      expect(Buffer.compare(got, data.subarray(off, off + len))).toBe(0);
    }
    // More tiles than the decode window: export reuses its buffers and must still be exact.
    const out = path.join(tmp, `range-out-${n}`);
    await v.get('r', out);
    expect(Buffer.compare(fs.readFileSync(out), data)).toBe(0);
    expect(await codeOf(v.read('r', data.length + 1, 1))).toBe(C.BAD_RANGE);
    expect(await codeOf(v.read('r', -1, 1))).toBe(C.BAD_RANGE);
    expect(await codeOf(v.read('r', 0.5, 1))).toBe(C.BAD_RANGE);
    expect((await v.read('r', data.length, 5)).length).toBe(0);
    await v.close();
  });

  it('get to a Writable respects backpressure and ends it', async () => {
    const v = await fresh();
    const data = randomBytes(5 * CAP + 3);
    await v.put('w', [data]);
    const parts: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        parts.push(chunk);
        setTimeout(cb, 1);
      },
    });
    await v.get('w', slow);
    expect(slow.writableFinished).toBe(true);
    expect(Buffer.compare(Buffer.concat(parts), data)).toBe(0);
    await v.close();
  });

  it('put from a PassThrough stream with progress reports', async () => {
    const v = await fresh();
    const data = randomBytes(4 * CAP + 10);
    const s = new PassThrough();
    const seen: number[] = [];
    const p = v.put('s', s, { size: data.length, onProgress: (pr) => seen.push(pr.bytesIn) });
    for (let i = 0; i < data.length; i += 5000) s.write(data.subarray(i, i + 5000));
    s.end();
    const r = await p;
    expect(r.sha256).toBe(sha(data));
    expect(seen.at(-1)).toBe(data.length);
    expect(seen.every((x, i) => i === 0 || x >= seen[i - 1]!)).toBe(true);
    await v.close();
  });
});

describe('PixelFS volume: corruption', () => {
  it('a flipped byte in a tile file: verify names tile, hash and byte range; read throws TILE_CORRUPT; other tiles still read', async () => {
    const v = await fresh();
    const data = randomBytes(4 * CAP + 500);
    await v.put('m', [data]);
    const hashes = [0, 1, 2, 3, 4].map((i) => sha(data.subarray(i * CAP, (i + 1) * CAP)));
    corruptTile(v.tilePath(hashes[2]!), false); // CRC catches it
    corruptTile(v.tilePath(hashes[3]!), true); // only the sha256 catches it
    const rep = await v.verify('m');
    expect(rep.ok).toBe(false);
    expect(rep.problems.map((p) => [p.tileIndex, p.hash, p.offset, p.length, p.code])).toEqual([
      [2, hashes[2], 2 * CAP, CAP, C.TILE_CORRUPT],
      [3, hashes[3], 3 * CAP, CAP, C.TILE_CORRUPT],
    ]);
    expect(rep.problems[0]!.message).toContain('CRC');
    expect(rep.problems[1]!.message).toContain('sha256');

    try {
      await v.read('m', 2 * CAP + 10, 5);
      expect.unreachable();
    } catch (e) {
      const err = e as PixelFsError;
      expect(err.code).toBe(C.TILE_CORRUPT);
      expect(err.details).toMatchObject({ file: 'm', tileIndex: 2, hash: hashes[2], offset: 2 * CAP, length: CAP, cause: C.PNG_BAD_CRC });
      expect(err.message).toContain("tile 2 of 'm'");
    }
    const e3 = await v.read('m', 3 * CAP, 1).catch((e: PixelFsError) => e);
    expect((e3 as PixelFsError).details).toMatchObject({ tileIndex: 3, cause: C.TILE_CHECKSUM_MISMATCH });
    expect(Buffer.compare(await v.read('m', 4 * CAP, 500), data.subarray(4 * CAP))).toBe(0);
    expect(await codeOf(v.get('m', path.join(tmp, 'never')))).toBe(C.TILE_CORRUPT);
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false); // no partial export left behind
    await v.close();
  });

  it('a missing tile file is reported as TILE_MISSING with its byte range', async () => {
    const v = await fresh();
    const data = randomBytes(2 * CAP + 1);
    await v.put('x', [data]);
    fs.unlinkSync(v.tilePath(sha(data.subarray(2 * CAP))));
    const rep = await v.verify();
    expect(rep.problems).toHaveLength(1);
    expect(rep.problems[0]).toMatchObject({ code: C.TILE_MISSING, tileIndex: 2, offset: 2 * CAP, length: 1 });
    await v.close();
    const again = await Volume.open(v.root, { pool });
    expect(again.openSweep.missingTiles).toEqual([sha(data.subarray(2 * CAP))]);
    await again.close();
  });
});

describe('PixelFS volume: dedupe, rm, gc, stats', () => {
  it('a second file sharing 9 of 10 tiles costs about a tenth more space', async () => {
    const v = await fresh();
    const a = randomBytes(10 * CAP);
    const b = Buffer.from(a);
    randomBytes(CAP).copy(b, 7 * CAP);
    await v.put('a', [a]);
    const s1 = v.stats();
    const r = await v.put('b', [b]);
    const s2 = v.stats();
    expect(r).toMatchObject({ tilesWritten: 1, tilesDeduped: 9 });
    expect(s2.storedBytes / s1.storedBytes).toBeCloseTo(1.1, 2);
    expect(s2.logicalBytes).toBe(20 * CAP);
    expect(s2.dedupeRatio).toBeCloseTo(20 / 11, 5);
    expect(s2.compressionRatio).toBeLessThan(1); // random data + PNG framing
    expect(s2.compressionRatio).toBeGreaterThan(0.98);
    // Removing a frees only its unshared tile; b still reads.
    const freed = await v.rm('a');
    expect(freed.tilesRemoved).toBe(1);
    expect(v.stats().tiles).toBe(10);
    expect((await v.verify()).ok).toBe(true);
    expect(await codeOf(v.rm('a'))).toBe(C.FILE_NOT_FOUND);
    await v.rm('b');
    expect(v.stats()).toMatchObject({ tiles: 0, storedBytes: 0, files: 0 });
    const left = fs.readdirSync(path.join(v.root, 'tiles')).flatMap((d) => fs.readdirSync(path.join(v.root, 'tiles', d)));
    expect(left).toEqual([]);
    await v.close();
  });

  it('identical tiles inside one file are stored once; zero tiles compress at level 6', async () => {
    const v = await fresh({ level: 6 });
    const data = Buffer.alloc(6 * CAP); // six identical zero tiles
    const r = await v.put('z', [data]);
    expect(r.tilesWritten).toBe(1);
    expect(r.tilesDeduped).toBe(5);
    expect(v.stats().compressionRatio).toBeGreaterThan(10);
    expect(Buffer.compare(await v.read('z', 0, data.length), data)).toBe(0);
    await v.close();
  });

  it('overwrite replaces atomically and frees the old tiles; without overwrite FILE_EXISTS', async () => {
    const v = await fresh();
    const a = randomBytes(3 * CAP);
    const b = randomBytes(2 * CAP + 9);
    await v.put('f', [a]);
    expect(await codeOf(v.put('f', [b]))).toBe(C.FILE_EXISTS);
    expect(v.pending()).toEqual([]); // the refused put left nothing behind
    await v.put('f', [b], { overwrite: true });
    expect(v.stat('f')).toMatchObject({ size: b.length, sha256: sha(b) });
    expect(v.stats().tiles).toBe(3);
    // rm of an interrupted put frees the tiles only it used.
    await expect(v.put('q', (async function* () {
      yield randomBytes(CAP);
      throw new Error('cut');
    })())).rejects.toThrow('cut');
    expect(v.stats().tiles).toBe(4);
    expect(await v.rm('q', { pending: true })).toMatchObject({ tilesRemoved: 1 });
    expect(v.pending()).toEqual([]);
    expect(v.stats().tiles).toBe(3);
    await v.close();
  });

  it('gc removes orphan tile files, temp files and (when asked) pending puts', async () => {
    const v = await fresh();
    const data = randomBytes(2 * CAP);
    await v.put('keep', [data]);
    const orphan = path.join(v.root, 'tiles', 'ab', `ab${'0'.repeat(62)}.png`);
    const temp = path.join(v.root, 'tiles', 'cd', '.tmp-0123-abc');
    fs.writeFileSync(orphan, 'x');
    fs.writeFileSync(temp, 'y');
    // An interrupted put: source fails after two tiles.
    const failing = (async function* () {
      yield randomBytes(2 * CAP);
      throw new Error('network down');
    })();
    await expect(v.put('half', failing)).rejects.toThrow('network down');
    expect(v.pending()).toMatchObject([{ name: 'half', tilesStored: 2, contiguousTiles: 2, resumeOffset: 2 * CAP }]);
    const g1 = await v.gc();
    expect(g1).toMatchObject({ pendingRemoved: 0, tempFilesRemoved: 1, orphanFilesRemoved: 1, tilesRemoved: 0 });
    const g2 = await v.gc({ pending: true });
    expect(g2).toMatchObject({ pendingRemoved: 1, tilesRemoved: 2 });
    expect(v.stats().tiles).toBe(2);
    expect((await v.verify()).ok).toBe(true);
    await v.close();
  });
});

describe('PixelFS volume: resume', () => {
  it('rerunning an interrupted put reuses its committed tiles; resumeOffset skips the stored prefix', async () => {
    const v = await fresh({}, { commitEveryBytes: CAP });
    const data = randomBytes(8 * CAP + 99);
    let sent = 0;
    const dying = (async function* () {
      for (; sent < 5; sent++) yield data.subarray(sent * CAP, (sent + 1) * CAP);
      throw new Error('importer crashed');
    })();
    await expect(v.put('big', dying)).rejects.toThrow('importer crashed');
    const [p] = v.pending();
    expect(p).toMatchObject({ name: 'big', tilesStored: 5, contiguousTiles: 5, resumeOffset: 5 * CAP });
    expect(v.ls()).toEqual([]); // not visible until complete

    // Resume from the offset: the source only supplies the rest.
    expect(await codeOf(v.put('big', [data.subarray(3)], { resumeOffset: 3 }))).toBe(C.BAD_RESUME);
    expect(await codeOf(v.put('big', [data.subarray(6 * CAP)], { resumeOffset: 6 * CAP }))).toBe(C.BAD_RESUME);
    const r = await v.put('big', [data.subarray(p!.resumeOffset)], { resumeOffset: p!.resumeOffset });
    expect(r).toMatchObject({ size: data.length, sha256: sha(data), tilesResumed: 5, tilesWritten: 4 });
    expect(v.pending()).toEqual([]);
    expect((await v.verify('big')).ok).toBe(true);
    await v.close();
  });

  it('a full rerun hashes but does not re-encode or rewrite stored tiles, and a changed tile replaces its row', async () => {
    const v = await fresh({}, { commitEveryBytes: CAP });
    const data = randomBytes(6 * CAP);
    const first = (async function* () {
      yield data.subarray(0, 4 * CAP);
      throw new Error('stop');
    })();
    await expect(v.put('f', first)).rejects.toThrow('stop');
    const changed = Buffer.from(data);
    changed[CAP + 5] ^= 1; // the source changed in tile 1 meanwhile
    const r = await v.put('f', [changed]);
    expect(r).toMatchObject({ tilesResumed: 3, tilesWritten: 3, sha256: sha(changed) });
    expect(Buffer.compare(await v.read('f', 0, changed.length), changed)).toBe(0);
    await v.gc(); // the stale tile 1 is now unused
    expect(v.stats().tiles).toBe(6);
    await v.close();
  });

  it('a source shorter than before trims the extra pending rows; a wrong size is refused', async () => {
    const v = await fresh({}, { commitEveryBytes: CAP });
    const data = randomBytes(5 * CAP);
    await expect(v.put('t', [data], { size: data.length + 1 })).rejects.toMatchObject({ code: C.SOURCE_SIZE_MISMATCH });
    expect(v.pending()[0]!.tilesStored).toBe(5);
    const r = await v.put('t', [data.subarray(0, 2 * CAP + 1)]);
    expect(r).toMatchObject({ tiles: 3, tilesResumed: 2, size: 2 * CAP + 1 });
    expect((await v.verify('t')).ok).toBe(true);
    await v.close();
  });
});

describe('PixelFS volume: opening, settings and errors', () => {
  it('refuses a second open of the same volume (exclusive lock), reopens after close, keeps settings', async () => {
    const v = await fresh({ tileWidth: 32, tileHeight: 16, level: 3 });
    expect(await codeOf(Volume.open(v.root, { pool }))).toBe(C.VOLUME_LOCKED);
    await v.put('a', [randomBytes(100)]);
    await v.close();
    const again = await Volume.open(v.root, { pool });
    expect(again.settings).toEqual({ tileWidth: 32, tileHeight: 16, level: 3 });
    expect(again.integrityCheck()).toEqual(['ok']);
    expect(again.ls().map((f) => f.name)).toEqual(['a']);
    await again.close();
    expect(await codeOf(Volume.open(v.root, { pool, create: { tileWidth: 64 } }))).toBe(C.SETTINGS_MISMATCH);
    expect(await codeOf(Volume.open(path.join(tmp, 'nothing-here'), { pool }))).toBe(C.VOLUME_NOT_FOUND);
    expect(await codeOf(Volume.open(path.join(tmp, 'bad'), { pool, create: { tileWidth: 9000 } }))).toBe(C.BAD_SETTINGS);
    expect(await codeOf(Volume.open(path.join(tmp, 'bad'), { pool, create: { level: 10 } }))).toBe(C.BAD_SETTINGS);
  });

  it('refuses a catalog from a newer schema version', async () => {
    const v = await fresh();
    await v.close();
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(path.join(v.root, 'catalog.sqlite'));
    db.pragma('user_version = 99');
    db.close();
    expect(await codeOf(Volume.open(v.root, { pool }))).toBe(C.CATALOG_VERSION);
  });

  it('catalog pragmas: WAL, synchronous FULL, foreign keys', async () => {
    const v = await fresh();
    const db = (v as unknown as { catalog: { db: import('better-sqlite3').Database } }).catalog.db;
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    await v.close();
  });

  it('typed errors for bad names, missing files, unreadable sources, concurrent puts of one name, closed volumes', async () => {
    const v = await fresh();
    expect(await codeOf(v.put('', [Buffer.alloc(1)]))).toBe(C.BAD_NAME);
    expect(await codeOf(v.put('a\0b', [Buffer.alloc(1)]))).toBe(C.BAD_NAME);
    expect(await codeOf(v.get('nope', path.join(tmp, 'x')))).toBe(C.FILE_NOT_FOUND);
    expect(await codeOf(v.read('nope', 0, 1))).toBe(C.FILE_NOT_FOUND);
    expect(await codeOf(v.put('p', path.join(tmp, 'does-not-exist')))).toBe(C.SOURCE_UNREADABLE);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = v.put('same', (async function* () {
      yield Buffer.alloc(10);
      await gate;
    })());
    expect(await codeOf(v.put('same', [Buffer.alloc(1)]))).toBe(C.PUT_IN_PROGRESS);
    release();
    await slow;
    await v.close();
    expect(await codeOf(() => v.ls())).toBe(C.VOLUME_CLOSED);
  });

  it('a worker that cannot start fails its jobs with WORKER_FAILED instead of hanging', async () => {
    const broken = new TilePool({ size: 1, entry: new URL('file:///nonexistent/pixelfs-worker.js') });
    await expect(broken.encode({ tile: new ArrayBuffer(16), length: 16, sha256: '0'.repeat(64), geometry: { width: 2, height: 2 }, level: 0 })).rejects.toMatchObject({
      code: C.WORKER_FAILED,
    });
    await broken.close();
  });

  it('works with an inline pool (0 workers) and tiles decoded through the pool report typed errors', async () => {
    const inline = new TilePool({ size: 0 });
    const v = await Volume.open(path.join(tmp, `v${n++}`), { create: SETTINGS, pool: inline });
    const data = randomBytes(2 * CAP + 5);
    await v.put('i', [data]);
    expect((await v.verify()).ok).toBe(true);
    await v.close();
    const junk = Buffer.from('not a png at all');
    const png = junk.buffer.slice(junk.byteOffset, junk.byteOffset + junk.length) as ArrayBuffer;
    await expect(pool.decode({ png, length: junk.length, opts: { maxWidth: 64, maxHeight: 64 } })).rejects.toMatchObject({
      code: C.PNG_BAD_SIGNATURE,
    });
  });
});
