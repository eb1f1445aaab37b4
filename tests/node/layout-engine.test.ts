/**
 * The layout cycle through the engine (issue 12 §4): stories260K is imported into a volume of
 * 64×64 tiles, its reads are recorded through a real load and one forward pass, the packs
 * planned from that trace are applied, and the model loaded from the packed layout gives the
 * same greedy tokens as before, in fewer tile loads; undo gives them again. Needs WebGPU (Dawn
 * on lavapipe here); skipped with the reason where none opens.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPixelModel } from '../../electron/engine/pixel-source';
import { traceModelReads } from '../../electron/engine/trace-reads';
import { ModelStore } from '../../electron/models/store';
import { TilePool } from '../../electron/pixelfs/index';
import { generate } from '../../shared/engine/generate';
import type { GpuContext } from '../../shared/gpu';
import { fixturePath } from '../support/fixtures';
import { useGpu } from '../support/gpu';

const MODEL = fixturePath('models', 'stories260K.gguf');
let tmp: string;
let pool: TilePool;
let store: ModelStore;
const g = useGpu();

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'layout-engine-'));
  pool = new TilePool({ size: 1 });
  store = await ModelStore.open(path.join(tmp, 'volume'), { create: { tileWidth: 64, tileHeight: 64, level: 0 }, pool });
  await store.import(MODEL);
});

afterAll(async () => {
  await store.close();
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** 16 greedy tokens from the stored model, and the tiles its load read. */
async function greedy(c: GpuContext): Promise<{ tokens: number[]; tiles: number }> {
  store.volume.dropCache();
  const t0 = store.volume.tileLoads;
  const m = await openPixelModel(store, 'stories260K', { ctx: c, contextLength: 64 });
  const tiles = store.volume.tileLoads - t0;
  try {
    const r = await generate(m.model, m.tokenizer, m.tokenizer.encode('Once upon a time'), { temperature: 0, maxTokens: 16, ignoreEos: true });
    return { tokens: r.tokens, tiles };
  } finally {
    await m.close();
  }
}

describe('layout through the engine', () => {
  it('a trace of a real load + forward pass plans packs that load in fewer tiles and give the same tokens', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const tr = await traceModelReads(store, 'stories260K', { ctx: g.ctx, contextLength: 64 });
    const m = store.manifest('stories260K');
    // The load reads each tensor it uses, within bounds; the forward pass reads nothing more.
    expect(tr.forwardReads).toBe(0);
    expect(new Set(tr.reads.map((r) => r.tensor))).toEqual(new Set(m.tensors.map((x) => x.name)));
    for (const r of tr.reads) expect(r.offset + r.length).toBeLessThanOrEqual(m.tensors.find((x) => x.name === r.tensor)!.bytes);

    const before = await greedy(g.ctx);
    const plan = await store.planLayout('stories260K', tr.reads);
    // The plan counts (file, tile) pairs; PixelFS stores identical tiles once (by sha256) and
    // caches them so, so a load may read fewer (stories260K's norms repeat).
    expect(before.tiles).toBeLessThanOrEqual(plan.before.tileLoads);
    expect(plan.after.tileLoads).toBeLessThan(plan.before.tileLoads);

    await store.applyLayout('stories260K', tr.reads);
    const after = await greedy(g.ctx);
    expect(after.tokens).toEqual(before.tokens);
    expect(after.tiles).toBeLessThanOrEqual(plan.after.tileLoads);
    expect(after.tiles).toBeLessThan(before.tiles);

    await store.undoLayout('stories260K', tr.reads);
    const undone = await greedy(g.ctx);
    expect(undone.tokens).toEqual(before.tokens);
    expect(undone.tiles).toBe(before.tiles);
  }, 120_000);
});
