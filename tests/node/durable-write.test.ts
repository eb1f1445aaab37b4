/**
 * The project's one durable write (electron/pixelfs/file-ops.ts: writeFileDurableStream,
 * writeFileDurable, renameDurable) under a crash at every file-operation call N, and the writers
 * that go through it with their file operations injectable (model export, PixelFS get to a
 * path) under the same loop. The other writers (pxi gen, the map PNG, the tokenizer JSON, the
 * kernel tuning file, the default-model marker, the demo's PNG) call the primitive with the real
 * file operations; a scan of the sources keeps new hand-written variants out.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../electron/models/store';
import { exportModel } from '../../electron/ops/export';
import {
  nodeFileOps,
  PixelFsCodes,
  renameDurable,
  TilePool,
  writeFileDurable,
  writeFileDurableStream,
  type FileOps,
} from '../../electron/pixelfs/index';
import { FaultyFileOps } from '../support/faulty-file-ops';
import { projectRoot } from '../support/fixtures';
import { sha256File, writeTinyModel } from './models-support';

let tmp: string;
let pool: TilePool;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-write-'));
  pool = new TilePool({ size: 1 });
});
afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** File operations whose implementation can be swapped mid-run (a crash only inside the write under test). */
function switchable(): { ops: FileOps; use(o: FileOps): void } {
  let current: FileOps = nodeFileOps;
  const ops: FileOps = {
    mkdir: (d) => current.mkdir(d),
    create: (f, o) => current.create(f, o),
    write: (h, d, p) => current.write(h, d, p),
    fsync: (h) => current.fsync(h),
    close: (h) => current.close(h),
    rename: (a, b) => current.rename(a, b),
    unlink: (f) => current.unlink(f),
    fsyncDir: (d) => current.fsyncDir(d),
  };
  return { ops, use: (o) => (current = o) };
}

const chunks = [new Uint8Array(3000).fill(7), new Uint8Array(5000).fill(8), new Uint8Array(11).fill(9)];
const whole = Buffer.concat(chunks);
const streamAll = (ops: FileOps) => (file: string) =>
  writeFileDurableStream(
    file,
    async (sink) => {
      for (const c of chunks) await sink.write(c);
      return sink.bytes;
    },
    { ops, rolling: true },
  );

describe('the one durable write', () => {
  it('a new file: crash at every call N, power loss: absent or whole, and the rerun writes it', async () => {
    const counter = new FaultyFileOps();
    await streamAll(counter)(path.join(tmp, 'count.bin'));
    expect(counter.calls).toBeGreaterThanOrEqual(8); // create, 3 writes, fsync, close, rename, fsyncDir
    for (let failAt = 1; failAt <= counter.calls; failAt++) {
      const dir = fs.mkdtempSync(path.join(tmp, `new-${failAt}-`));
      const file = path.join(dir, 'out.bin');
      const ops = new FaultyFileOps({ failAt });
      await expect(streamAll(ops)(file)).rejects.toMatchObject({ code: PixelFsCodes.SIMULATED_CRASH });
      await ops.powerLoss();
      if (fs.existsSync(file)) expect(fs.readFileSync(file).equals(whole), `call ${failAt}`).toBe(true);
      expect(await streamAll(nodeFileOps)(file)).toBe(whole.length);
      expect(fs.readFileSync(file).equals(whole)).toBe(true);
    }
    // Acknowledged means durable: a power cut right after a successful write keeps it.
    const dir = fs.mkdtempSync(path.join(tmp, 'ack-'));
    const ops = new FaultyFileOps();
    await streamAll(ops)(path.join(dir, 'out.bin'));
    await ops.powerLoss();
    expect(fs.readFileSync(path.join(dir, 'out.bin')).equals(whole)).toBe(true);
  });

  it('an overwrite: a process crash at every call N leaves the old file or the new one, never a torn one', async () => {
    const file = path.join(tmp, 'over.bin');
    const counter = new FaultyFileOps();
    await streamAll(counter)(file);
    for (let failAt = 1; failAt <= counter.calls; failAt++) {
      fs.writeFileSync(file, 'old contents');
      await expect(streamAll(new FaultyFileOps({ failAt }))(file)).rejects.toMatchObject({ code: PixelFsCodes.SIMULATED_CRASH });
      const got = fs.readFileSync(file);
      expect(got.toString() === 'old contents' || got.equals(whole), `call ${failAt}`).toBe(true);
    }
  });

  it('a producer that throws leaves the target as it was and no temporary file', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'throw-'));
    const file = path.join(dir, 'keep.bin');
    fs.writeFileSync(file, 'keep');
    await expect(
      writeFileDurableStream(file, async (sink) => {
        await sink.write(new Uint8Array(10));
        throw new Error('the source went away');
      }),
    ).rejects.toThrow('the source went away');
    expect(fs.readFileSync(file, 'utf8')).toBe('keep');
    expect(fs.readdirSync(dir)).toEqual(['keep.bin']);
  });

  it('durable: false renames atomically without any fsync', async () => {
    const ops = new FaultyFileOps();
    await writeFileDurableStream(path.join(tmp, 'scratch.bin'), (sink) => sink.write(new Uint8Array([1, 2])), { ops, durable: false });
    expect(ops.log.filter((l) => l.startsWith('fsync'))).toEqual([]);
    expect(ops.log.some((l) => l.startsWith('rename'))).toBe(true);
  });

  it('renameDurable (a staged upload becoming its file): crash at every call N, power loss: the part or the file', async () => {
    for (let failAt = 1; failAt <= 2; failAt++) {
      const dir = fs.mkdtempSync(path.join(tmp, `ren-${failAt}-`));
      await writeFileDurable(path.join(dir, '.up.part'), new Uint8Array([5, 5, 5]));
      const ops = new FaultyFileOps({ failAt });
      await expect(renameDurable(path.join(dir, '.up.part'), path.join(dir, 'up.gguf'), ops)).rejects.toMatchObject({ code: PixelFsCodes.SIMULATED_CRASH });
      await ops.powerLoss();
      const names = fs.readdirSync(dir);
      expect(names.length, `call ${failAt}: ${names.join(', ')}`).toBe(1);
      expect([...fs.readFileSync(path.join(dir, names[0]!))]).toEqual([5, 5, 5]);
    }
  });
});

describe('writers through the one durable write, crash at every call N', () => {
  it('model export: the output is absent, the old one, or byte-identical to the source', async () => {
    const src = path.join(tmp, 'm.gguf');
    writeTinyModel(src, { embd: 32, ff: 32, heads: 2, kvHeads: 1, vocab: 32, seed: 4 });
    const sw = switchable();
    const store = await ModelStore.open(path.join(tmp, 'export-vol'), { create: { tileWidth: 32, tileHeight: 32, level: 0 }, pool, fileOps: sw.ops });
    try {
      const { model } = await store.import(src);
      const out = path.join(tmp, 'export', 'm.gguf');
      fs.mkdirSync(path.dirname(out), { recursive: true });
      const counter = new FaultyFileOps();
      sw.use(counter);
      await exportModel(store, model.id, out, { overwrite: true });
      sw.use(nodeFileOps);
      expect(counter.log.filter((l) => l.startsWith('rename')), 'the export went through the injected file operations').toHaveLength(1);
      const want = sha256File(src);
      expect(sha256File(out)).toBe(want);
      for (let failAt = 1; failAt <= counter.calls; failAt++) {
        fs.writeFileSync(out, 'an older export');
        sw.use(new FaultyFileOps({ failAt }));
        await expect(exportModel(store, model.id, out, { overwrite: true })).rejects.toMatchObject({ code: PixelFsCodes.SIMULATED_CRASH });
        sw.use(nodeFileOps);
        const got = fs.readFileSync(out);
        expect(got.toString() === 'an older export' || sha256File(out) === want, `call ${failAt}`).toBe(true);
      }
    } finally {
      sw.use(nodeFileOps);
      await store.close();
    }
  });

  it('PixelFS get to a path (with fsync): absent or whole', async () => {
    const sw = switchable();
    const store = await ModelStore.open(path.join(tmp, 'get-vol'), { create: { tileWidth: 32, tileHeight: 32, level: 0 }, pool, fileOps: sw.ops });
    try {
      await store.volume.put('notes', [whole]);
      const counter = new FaultyFileOps();
      sw.use(counter);
      await store.volume.get('notes', path.join(tmp, 'get-count.bin'), { fsync: true });
      sw.use(nodeFileOps);
      expect(counter.log.filter((l) => l.startsWith('fsyncDir')), 'the get went through the injected file operations').toHaveLength(1);
      for (let failAt = 1; failAt <= counter.calls; failAt++) {
        const dir = fs.mkdtempSync(path.join(tmp, `get-${failAt}-`));
        const out = path.join(dir, 'notes.bin');
        const ops = new FaultyFileOps({ failAt });
        sw.use(ops);
        await expect(store.volume.get('notes', out, { fsync: true })).rejects.toMatchObject({ code: PixelFsCodes.SIMULATED_CRASH });
        sw.use(nodeFileOps);
        await ops.powerLoss();
        if (fs.existsSync(out)) expect(fs.readFileSync(out).equals(whole), `call ${failAt}`).toBe(true);
      }
    } finally {
      sw.use(nodeFileOps);
      await store.close();
    }
  });
});

describe('no hand-written durable writes', () => {
  it('the sources write files only through the primitive (PixelFS tiles and the upload stream excepted)', () => {
    // Tiles have their own put protocol (tile-files.ts, its own crash loop); an upload streams into a
    // part file that renameDurable commits.
    const allowed = new Set(['electron/pixelfs/file-ops.ts', 'electron/pixelfs/tile-files.ts', 'electron/web/upload.ts']);
    const pattern = /\b(writeFileSync|renameSync|createWriteStream)\(|\bfs\.(writeFile|rename)\(|\bawait (writeFile|rename)\(/;
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(path.join(projectRoot, dir), { withFileTypes: true })) {
        const rel = path.join(dir, e.name);
        if (e.isDirectory()) walk(rel);
        else if (rel.endsWith('.ts') && !allowed.has(rel)) {
          fs.readFileSync(path.join(projectRoot, rel), 'utf8')
            .split('\n')
            .forEach((line, i) => {
              if (pattern.test(line) && !line.trim().startsWith('//') && !line.trim().startsWith('*')) offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
            });
        }
      }
    };
    // The scan itself finds what it looks for.
    expect(['  fs.writeFileSync(out, b);', '    await fs.rename(tmp, out);', 'const s = createWriteStream(p);'].every((l) => pattern.test(l))).toBe(true);
    walk('electron');
    walk('shared');
    expect(offenders).toEqual([]);
  });
});
