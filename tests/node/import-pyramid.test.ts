/**
 * The single-pass import (issue 14 §3): the pyramid built from the bytes as the import streams
 * them equals, cell for cell and bit for bit, the one built afterwards by reading every stored
 * tile back; an import stopped midway resumes with the tensors it finished and ends with the
 * same cells.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../electron/models/store';
import { TilePool } from '../../electron/pixelfs/index';
import { importModel } from '../../electron/ops/import';
import { writeTinyModel } from './models-support';
import { pyramidSnapshot } from './pyramid-snapshot';

let tmp: string;
let pool: TilePool;
// 32x32 tiles (4 KiB): tensors span many tiles, quant blocks straddle tile edges; read chunks
// of 1000 bytes cut blocks of every size (Q4_K 144, Q6_K 210, Q8_0 34) at changing places.
const GEO = { tileWidth: 32, tileHeight: 32, level: 0 };
const CHUNK = 1000;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'import-pyramid-'));
  pool = new TilePool({ size: 1 });
});

afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const open = (name: string, pyramidThreadMinBytes?: number): Promise<ModelStore> => ModelStore.open(path.join(tmp, name), { create: GEO, pool, chunkBytes: CHUNK, pyramidThreadMinBytes });

describe('single-pass import', () => {
  // Main thread: these models are below the pyramid thread's default size; thread: forced on.
  for (const [type, where] of [['Q4_K', 'main thread'], ['Q6_K', 'main thread'], ['Q8_0', 'main thread'], ['F32', 'main thread'], ['Q4_K', 'pyramid thread'], ['F32', 'pyramid thread']] as const) {
    it(`builds the same pyramid as the read-back build (${type}, ${where})`, async () => {
      const file = path.join(tmp, `${type}.gguf`);
      writeTinyModel(file, { type, blocks: 2, embd: 256, ff: 512, vocab: 300, seed: 11 });

      const one = await open(`one-${type}-${where}`, where === 'pyramid thread' ? 0 : undefined);
      const r1 = await importModel(one, file, { name: 'm' });
      expect(r1.pyramid).toMatchObject({ built: r1.manifest.tensors.length, alreadyBuilt: 0, skipped: 0 });
      expect(r1.pyramidSeconds).toBeNull(); // nothing left for a read-back build
      expect(one.pyramidReady('m')).toBe(true);

      const two = await open(`two-${type}-${where}`);
      const r2 = await two.import(file, { name: 'm', pyramid: false });
      expect(r2.pyramid).toBeNull();
      expect(two.pyramidReady('m')).toBe(false);
      const b = await two.buildPyramid('m');
      expect(b.built).toBe(r1.manifest.tensors.length);

      const a = pyramidSnapshot(one, r1.model.id);
      expect(a.cells).toBeGreaterThan(r1.manifest.tensors.length); // more than one cell per tensor
      expect(a).toEqual(pyramidSnapshot(two, r2.model.id));
      await one.close();
      await two.close();
    });
  }

  for (const where of ['main thread', 'pyramid thread'] as const) it(`an import stopped midway resumes with the tensors it built and ends with the same cells (${where})`, async () => {
    const file = path.join(tmp, `resume-${where}.gguf`);
    writeTinyModel(file, { type: 'Q4_K', blocks: 3, embd: 256, ff: 512, vocab: 300, seed: 12 });
    const ref = await open(`resume-ref-${where}`);
    const r0 = await ref.import(file, { name: 'm' });
    const want = pyramidSnapshot(ref, r0.model.id);
    await ref.close();

    const s = await open(`resume-${where}`, where === 'pyramid thread' ? 0 : undefined);
    const ac = new AbortController();
    const err = await s
      .import(file, { name: 'm', signal: ac.signal, progressIntervalMs: 0, onProgress: (p) => p.tensorsDone >= 9 && ac.abort() })
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('MODEL_CANCELLED');
    expect(s.list()).toEqual([]);
    const [pending] = s.pendingImports();
    // The unfinished import is on the map, with the tensors it finished built.
    const states = s.map.listRegions(pending!.modelId).filter((r) => r.kind === 'weights').map((r) => r.pyramid.state);
    const builtBefore = states.filter((x) => x === 'built').length;
    expect(builtBefore).toBeGreaterThanOrEqual(8);
    expect(builtBefore).toBeLessThan(states.length);

    const r = await s.import(file, { name: 'm' });
    expect(r.resumed).toBe(true);
    expect(r.model.id).toBe(pending!.modelId);
    expect(r.pyramid).toMatchObject({ alreadyBuilt: builtBefore, built: states.length - builtBefore });
    expect(pyramidSnapshot(s, r.model.id)).toEqual(want);
    await s.close();
  });

  it('a discarded unfinished import leaves nothing on the map', async () => {
    const file = path.join(tmp, 'gc.gguf');
    writeTinyModel(file, { type: 'Q8_0', blocks: 2, seed: 13 });
    const s = await open('gc');
    const ac = new AbortController();
    await s.import(file, { name: 'm', signal: ac.signal, progressIntervalMs: 0, onProgress: (p) => p.tensorsDone >= 3 && ac.abort() }).catch(() => undefined);
    expect(s.pendingImports()).toHaveLength(1);
    expect(s.map.listModels()).toHaveLength(1);
    const g = await s.gc({ pending: true });
    expect(g.importsRemoved).toBe(1);
    expect(s.map.listModels()).toEqual([]);
    expect(s.map.counts()).toMatchObject({ regions: 0, cells: 0 });
    await s.close();
  });
});
