import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGgufHeader } from '../../shared/gguf/reader';
import { modelPaths } from '../../shared/model/manifest';
import { decodeMetadata } from '../../shared/model/metadata-json';
import { layoutGguf } from '../../shared/gguf/writer';
import { ModelStore } from '../../electron/models/store';
import { exportModel } from '../../electron/ops/export';
import { verifyModel } from '../../electron/ops/verify';
import { TilePool } from '../../electron/pixelfs/index';
import { fixturePath } from '../support/fixtures';
import { sha256, sha256File, writeTinyModel } from './models-support';

let tmp: string;
let pool: TilePool;
// Small tiles: many tiles per tensor, so tile boundaries, last partial tiles and dedupe all occur.
const SMALL = { tileWidth: 64, tileHeight: 64, level: 0 };

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'models-store-'));
  pool = new TilePool({ size: 1 });
});

afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function openStore(name: string, create: object | boolean = SMALL): Promise<ModelStore> {
  return ModelStore.open(path.join(tmp, name), { create, pool });
}

describe('model store: GGUF -> PixelFS -> GGUF', () => {
  it('round-trips stories260K byte for byte and verifies', async () => {
    const src = fixturePath('models', 'stories260K.gguf');
    const store = await openStore('fixture');
    const seen: number[] = [];
    const r = await store.import(src, { onProgress: (p) => seen.push(p.bytesDone), progressIntervalMs: 0 });
    expect(r.alreadyImported).toBe(false);
    expect(r.resumed).toBe(false);
    expect(r.model).toMatchObject({ name: 'stories260K', architecture: 'llama', bytes: 1185376, tensorTypes: ['F32'], verified: 'unverified' });
    expect(r.model.parameterCount).toBe(r.manifest.tensors.reduce((n, t) => n + t.elements, 0));
    expect(r.manifest.source.sha256).toBe('270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d');
    expect(r.manifest.config).toMatchObject({ blockCount: 5, embeddingLength: 64, headCount: 8, headCountKv: 4, vocabSize: 512, ropeType: 'normal' });
    expect(r.manifest.padding).toEqual({ bytes: 0, allZero: true, file: null });
    expect(seen.at(-1)).toBe(1185376);
    expect(seen.every((b, i) => i === 0 || b >= seen[i - 1]!)).toBe(true);

    const out = path.join(tmp, 'stories-out.gguf');
    const ex = await exportModel(store, r.model.id, out);
    expect(ex.sha256).toBe(r.manifest.source.sha256);
    expect(sha256File(out)).toBe(sha256File(src));

    const v = await verifyModel(store, 'stories260K');
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
    expect(v.filesChecked).toBe(r.manifest.tensors.length + 2); // header + tensors + manifest
    expect(store.list()).toEqual([{ ...r.model, verified: 'ok' }]);

    // The manifest keeps every metadata entry with its type: it rebuilds the header exactly.
    const h = await readGgufHeader({ size: fs.statSync(src).size, read: async (o, l) => new Uint8Array(fs.readFileSync(src).subarray(o, o + l)) });
    const meta = decodeMetadata(store.manifest(r.model.id).metadata, 'manifest');
    const rebuilt = layoutGguf(meta, h.tensors, { version: h.version }).header;
    expect(sha256(rebuilt)).toBe(sha256(fs.readFileSync(src).subarray(0, h.dataOffset)));

    // Importing the same file again is a no-op; another file under the same name is refused.
    const again = await store.import(src);
    expect(again.alreadyImported).toBe(true);
    const other = path.join(tmp, 'other.gguf');
    writeTinyModel(other);
    await expect(store.import(other, { name: 'stories260K' })).rejects.toMatchObject({ code: 'MODEL_EXISTS' });
    await store.close();
  });

  const TYPES = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'] as const;
  it.each(TYPES)('round-trips a generated %s model', async (type) => {
    const store = await openStore(`gen-${type}`);
    const file = path.join(tmp, `gen-${type}.gguf`);
    const want = writeTinyModel(file, { type, arch: type === 'Q4_K' || type === 'BF16' ? 'qwen2' : 'llama', seed: type.length });
    const r = await store.import(file);
    expect(r.model.tensorTypes[0]).toBe(type);
    const out = path.join(tmp, `gen-${type}-out.gguf`);
    await exportModel(store, r.model.id, out);
    expect(sha256File(out)).toBe(want);
    expect((await verifyModel(store, r.model.id)).ok).toBe(true);
    await store.close();
  });

  it('keeps non-zero padding, trailing bytes, other alignments and GGUF v2', async () => {
    const store = await openStore('odd');
    for (const [i, o] of [
      { junk: 1000, alignment: 64 },
      { version: 2 as const, alignment: 8, junk: 3 },
      { alignment: 1 },
      { arch: 'qwen2' as const, tied: true, alignment: 256 },
    ].entries()) {
      const file = path.join(tmp, `odd-${i}.gguf`);
      const want = writeTinyModel(file, { ...o, seed: 40 + i });
      const r = await store.import(file);
      expect(r.manifest.padding.allZero).toBe(!o.junk);
      if (o.junk) expect(r.manifest.padding.file?.name).toBe(modelPaths.padding(r.model.id));
      const out = path.join(tmp, `odd-${i}-out.gguf`);
      await exportModel(store, r.model.id, out);
      expect(sha256File(out), JSON.stringify(o)).toBe(want);
      // The stored model read as a GGUF file gives the same bytes at any range.
      const src = store.ggufSource(r.model.id);
      const bytes = fs.readFileSync(file);
      expect(src.size).toBe(bytes.length);
      for (const [off, len] of [
        [0, bytes.length],
        [r.manifest.gguf.dataOffset - 5, 300],
        [bytes.length - 1500, 1500],
        [12345, 1],
      ] as const) {
        expect(sha256(await src.read(off, len)), `${i}: ${off}+${len}`).toBe(sha256(bytes.subarray(off, off + len)));
      }
    }
    expect(store.list().map((m) => m.name)).toEqual(['odd-0', 'odd-1', 'odd-2', 'odd-3']);
    await store.close();
  });
});
