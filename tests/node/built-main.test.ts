/**
 * The Electron main bundle (out/main, built by `npm run build`, which `npm test` runs first)
 * must start PixelFS's tile workers without tsx: electron-vite builds tile-worker.js as its own
 * entry next to the pool's chunk, and the pool's default entry points there. Here the built pool
 * code itself (not the sources) starts a worker and round-trips a tile through it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultWorkerEntry, type TilePool } from '../../electron/pixelfs/worker-pool';
import { projectRoot } from '../support/fixtures';

const outMain = join(projectRoot, 'out', 'main');
const built = existsSync(join(outMain, 'index.js'));

describe('PixelFS workers in the built main bundle', () => {
  it('the default worker entry is the .ts source from source and tile-worker.js from a bundle', () => {
    expect(defaultWorkerEntry('file:///app/electron/pixelfs/worker-pool.ts').href).toBe('file:///app/electron/pixelfs/tile-worker.ts');
    expect(defaultWorkerEntry('file:///app/out/main/worker-pool-AbC123.js').href).toBe('file:///app/out/main/tile-worker.js');
    expect(defaultWorkerEntry('file:///app/out/main/index.js?v=1').href).toBe('file:///app/out/main/tile-worker.js');
  });

  it('the bundled pool starts the built worker by default and round-trips a tile bit-exact', async (t) => {
    if (!built) return t.skip('out/main is not built: run `npm run build` (npm test does it first)');
    // The pool's code lands in index.js or a shared chunk beside it; find the module exporting it.
    let Pool: (new (opts: { size: number }) => TilePool) | undefined;
    // Only the chunks that hold it: a lazily loaded chunk (the training task) imports index.js.
    const holds = (n: string) => readFileSync(join(outMain, n), 'utf8').includes('TilePool');
    for (const f of readdirSync(outMain).filter((n) => n.endsWith('.js') && n !== 'index.js' && n !== 'tile-worker.js' && holds(n))) {
      const mod = (await import(pathToFileURL(join(outMain, f)).href)) as Record<string, unknown>;
      const found = Object.values(mod).find((v) => typeof v === 'function' && v.name === 'TilePool');
      if (found) Pool = found as typeof Pool;
    }
    expect(Pool, 'a chunk of out/main exports TilePool (index.js imports electron, so the pool must live in a chunk)').toBeDefined();
    const pool = new Pool!({ size: 1 });
    try {
      const geometry = { width: 16, height: 16 };
      const payload = randomBytes(16 * 16 * 4 - 7);
      const sha256 = createHash('sha256').update(payload).digest('hex');
      const tile = new ArrayBuffer(16 * 16 * 4);
      new Uint8Array(tile).set(payload);
      const { png } = await pool.encode({ tile, length: payload.length, sha256, geometry, level: 6 });
      const copy = new Uint8Array(png).slice().buffer;
      const back = await pool.decode({ png: copy, length: copy.byteLength, opts: { maxWidth: 16, maxHeight: 16, expectedLength: payload.length, expectedSha256: sha256 } });
      expect(Buffer.compare(back.payload, payload)).toBe(0);
    } finally {
      await pool.close();
    }
  });
});
