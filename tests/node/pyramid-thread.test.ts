/**
 * The import's pyramid thread (electron/map/pyramid-thread.ts): its worker, run from source
 * (tsx) and as electron-vite builds it (out/main/pyramid-worker.js, what the desktop app starts),
 * gives each tensor the cells and summary of the same writer run in-process, however the bytes
 * are chunked; a failure in the worker reaches the caller as an error, never as a hang.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PyramidThread } from '../../electron/map/pyramid-thread';
import { TensorPyramidWriter } from '../../electron/map/tensor-pyramid-writer';
import type { IndexedRegion } from '../../electron/map/map-types';
import { ModelStore } from '../../electron/models/store';
import { TilePool } from '../../electron/pixelfs/index';
import { writeTinyModel } from './models-support';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILT = path.join(ROOT, 'out', 'main', 'pyramid-worker.js');
const HEAT = 8;

let tmp: string;
let pool: TilePool;
let store: ModelStore;
let tensors: Array<{ region: IndexedRegion; bytes: Uint8Array }>;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pyramid-thread-'));
  pool = new TilePool({ size: 1 });
  const file = path.join(tmp, 'm.gguf');
  writeTinyModel(file, { type: 'Q4_K', blocks: 1, embd: 256, ff: 512, vocab: 300, seed: 21 });
  // 32x32 tiles: every tensor spans several tiles; the pyramid is left to this test.
  store = await ModelStore.open(path.join(tmp, 'store'), { create: { tileWidth: 32, tileHeight: 32, level: 0 }, pool });
  const r = await store.import(file, { name: 'm', pyramid: false });
  const regions = store.map.listRegions(r.model.id).filter((x) => x.kind === 'weights');
  tensors = await Promise.all(regions.map(async (region) => ({ region, bytes: new Uint8Array(await store.readTensor(r.model.id, region.name)) })));
});

afterAll(async () => {
  await store.close();
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The writer run here, fed the whole tensor at once. */
function inProcess(t: { region: IndexedRegion; bytes: Uint8Array }) {
  const w = TensorPyramidWriter.detached(t.region, HEAT);
  w.write(t.bytes);
  return w.finishDeferred();
}

async function throughThread(thread: PyramidThread, chunk: number) {
  const out = [];
  for (const t of tensors) {
    thread.begin(t.region, HEAT);
    for (let at = 0; at < t.bytes.length; at += chunk) await thread.write(t.bytes.subarray(at, at + chunk));
    out.push(await thread.finish());
  }
  return out;
}

const entries: Array<[string, URL | undefined, string | null]> = [
  ['from source', undefined, null],
  ['as built by electron-vite', pathToFileURL(BUILT), fs.existsSync(BUILT) ? null : `${BUILT} is not built (npm run build)`],
];

describe('the pyramid thread', () => {
  for (const [what, entry, missing] of entries) {
    it.skipIf(missing !== null)(`gives every tensor the in-process writer's cells and summary (${what})${missing ? `: skipped, ${missing}` : ''}`, async () => {
      expect(tensors.length).toBeGreaterThan(3);
      const want = tensors.map(inProcess);
      const thread = new PyramidThread(entry);
      try {
        // Chunks that cut Q4_K's 144-byte blocks at changing places.
        expect(await throughThread(thread, 1000)).toEqual(want);
        expect(await throughThread(thread, 77)).toEqual(want);
      } finally {
        await thread.close();
      }
    });
  }

  it('fails the finish and every later call when the worker throws', async () => {
    const thread = new PyramidThread();
    try {
      const t = tensors[0]!;
      // Too many bytes for the tensor: the worker's writer refuses them.
      thread.begin(t.region, HEAT);
      await thread.write(new Uint8Array(t.bytes.length + 144));
      await expect(thread.finish()).rejects.toThrow(/bytes written, it has/);
      await expect(thread.write(t.bytes)).rejects.toThrow(/bytes written, it has/);
      expect(() => thread.begin(t.region, HEAT)).toThrow(/bytes written, it has/);
    } finally {
      await thread.close();
    }
  });
});
