/**
 * A full disk during an import: refused up front when the source does not fit (the free space
 * checked against its size), and an ENOSPC that happens anyway (injected through the
 * fault-injecting FileOps double) surfaces as PIXELFS_NO_SPACE naming the volume folder, not a
 * bare "Error: ENOSPC" with a stack trace. The store goes on working afterwards.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../electron/models/store';
import { exportModel } from '../../electron/ops/export';
import { nodeFileOps, type FileOps } from '../../electron/pixelfs/index';
import { FaultyFileOps } from '../support/faulty-file-ops';
import { fixturePath } from '../support/fixtures';

const MODEL = fixturePath('models', 'stories260K.gguf');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'disk-full-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('a full disk', () => {
  it('an import that does not fit is refused before a tile is written, naming the folder and the size', async () => {
    const dir = path.join(tmp, 'small');
    const size = fs.statSync(MODEL).size;
    const store = await ModelStore.open(dir, { create: true, freeBytes: async () => size - 1 });
    try {
      const err = await store.import(MODEL).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PIXELFS_NO_SPACE', details: { file: dir, value: size } });
      expect((err as Error).message).toContain(dir);
      expect((err as Error).message).toContain('needs about');
      expect(store.list()).toEqual([]);
      const tiles = path.join(dir, 'tiles');
      expect(fs.readdirSync(tiles, { recursive: true }).filter((f) => fs.statSync(path.join(tiles, String(f))).isFile())).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('ENOSPC while writing tiles is PIXELFS_NO_SPACE naming the volume, and a later import works', async () => {
    const dir = path.join(tmp, 'full');
    let full = true;
    const inner: FileOps = {
      ...nodeFileOps,
      write: async (h, data, pos) => {
        if (full) throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
        return nodeFileOps.write(h, data, pos);
      },
    };
    const store = await ModelStore.open(dir, { create: true, fileOps: new FaultyFileOps({}, inner) });
    try {
      const err = await store.import(MODEL).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PIXELFS_NO_SPACE', details: { file: dir } });
      expect((err as Error).message).toContain(dir);
      expect((err as Error).message).not.toMatch(/^Error: ENOSPC/);
      full = false; // space freed: the same import goes through
      expect((await store.import(MODEL)).model.name).toBe('stories260K');
      // Export writes outside the volume (the store's FileOps): its ENOSPC names the output's folder.
      full = true;
      const outDir = path.join(tmp, 'exports');
      fs.mkdirSync(outDir);
      const out = path.join(outDir, 'again.gguf');
      const exported = await exportModel(store, 'stories260K', out).catch((e: unknown) => e);
      expect(exported).toMatchObject({ code: 'PIXELFS_NO_SPACE', details: { file: outDir, value: fs.statSync(MODEL).size } });
      expect(fs.existsSync(out)).toBe(false);
    } finally {
      await store.close();
    }
  });
});
