/**
 * Training checkpoints in PixelFS (electron/train/checkpoint.ts) and the durable whole-file
 * write (writeFileDurable): read back exactly, corruption refused, the last two kept, and a
 * crash at every file operation N of a checkpoint leaves the previous checkpoint or the new one,
 * whole — never a torn one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { nodeFileOps, PixelFsCodes, TilePool, Volume, writeFileDurable, type FileOps } from '../../electron/pixelfs/index';
import { FaultyFileOps } from '../support/faulty-file-ops';
import { checkpointSteps, latestCheckpoint, readCheckpoint, writeCheckpoint, type CheckpointData } from '../../electron/train/checkpoint';
import { parseRecipe } from '../../shared/train/recipe';

let tmp: string;
let pool: TilePool;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'train-ckpt-'));
  pool = new TilePool({ size: 1 });
});
afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const recipe = parseRecipe({
  name: 'r',
  model: { dim: 8, layers: 1, heads: 2, ff: 8, context: 8 },
  data: { train: ['x.txt'], vocab: 300 },
  train: { steps: 10 },
});

function ckpt(step: number, n = 600): CheckpointData {
  const f = (k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.01 + step + k));
  return {
    state: { version: 1, run: 'r', recipe, step, paramTotal: n, paramsSha256: '', optimSha256: '', history: [{ step, loss: 1 / step, lr: 1e-3, gradNorm: 1, tokensPerSec: 1 }], valid: [], samples: [], seconds: step },
    params: f(0),
    m: f(1),
    v: f(2),
  };
}

const small = { tileWidth: 32, tileHeight: 32, level: 0 };

describe('training checkpoints', () => {
  it('read back bit for bit; the last two are kept; a damaged one is refused', async () => {
    const vol = await Volume.open(path.join(tmp, 'a'), { create: small, pool });
    try {
      for (const s of [5, 10, 15]) await writeCheckpoint(vol, ckpt(s));
      expect(checkpointSteps(vol, 'r')).toEqual([10, 15]);
      const back = await latestCheckpoint(vol, 'r');
      expect(back!.state.step).toBe(15);
      for (const k of ['params', 'm', 'v'] as const) expect(Buffer.from(back![k].buffer, back![k].byteOffset, back![k].byteLength).equals(Buffer.from(ckpt(15)[k].buffer))).toBe(true);
      // A checkpoint whose weights are not the ones its state.json names is refused.
      await vol.put('train/r/step-000000010/params.f32', [new Uint8Array(2400)], { overwrite: true });
      await expect(readCheckpoint(vol, 'r', 10)).rejects.toMatchObject({ code: 'TRAIN_CHECKPOINT' });
    } finally {
      await vol.close();
    }
  });

  it('a crash at every file operation of a checkpoint leaves the previous or the new one whole', async () => {
    const noSync: FileOps = { ...nodeFileOps, fsync: async () => undefined, fsyncDir: async () => undefined };
    const base = path.join(tmp, 'b-base');
    const v0 = await Volume.open(base, { create: small, pool });
    await writeCheckpoint(v0, ckpt(1));
    await v0.close();
    // Count the calls of writing the next checkpoint.
    const probe = path.join(tmp, 'b-probe');
    fs.cpSync(base, probe, { recursive: true });
    const counter = new FaultyFileOps({}, noSync);
    const vp = await Volume.open(probe, { pool, fileOps: counter });
    await writeCheckpoint(vp, ckpt(2));
    await vp.close();
    const total = counter.calls;
    expect(total).toBeGreaterThan(10);
    const seen = new Set<number>();
    for (let failAt = 1; failAt <= total; failAt++) {
      const dir = path.join(tmp, `b-${failAt}`);
      fs.cpSync(base, dir, { recursive: true });
      const ops = new FaultyFileOps({ failAt }, noSync);
      let v: Volume | null = null;
      try {
        v = await Volume.open(dir, { pool, fileOps: ops });
        await writeCheckpoint(v, ckpt(2));
        expect.unreachable(`call ${failAt} of ${total} should have failed`);
      } catch (e) {
        // A crash while opening the volume, or inside the checkpoint (reported as TRAIN_CHECKPOINT).
        expect([PixelFsCodes.SIMULATED_CRASH, 'TRAIN_CHECKPOINT'], `call ${failAt}: ${(e as Error).message}`).toContain((e as { code?: string }).code);
      }
      await v?.abandon();
      await ops.powerLoss();
      const after = await Volume.open(dir, { pool });
      try {
        const last = await latestCheckpoint(after, 'r');
        expect(last, `call ${failAt}`).not.toBeNull();
        seen.add(last!.state.step);
        expect(Buffer.from(last!.params.buffer, last!.params.byteOffset, last!.params.byteLength).equals(Buffer.from(ckpt(last!.state.step).params.buffer))).toBe(true);
      } finally {
        await after.close();
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(seen.has(1)).toBe(true);
  }, 120_000);

  it('writeFileDurable: a process crash at every call N leaves the old file or the new one', async () => {
    const file = path.join(tmp, 'out.gguf');
    const old = new Uint8Array(5000).fill(1);
    const next = new Uint8Array(7000).fill(2);
    const counter = new FaultyFileOps();
    fs.writeFileSync(file, old);
    await writeFileDurable(file, next, counter);
    expect(fs.readFileSync(file).equals(Buffer.from(next))).toBe(true);
    for (let failAt = 1; failAt <= counter.calls; failAt++) {
      fs.writeFileSync(file, old);
      const ops = new FaultyFileOps({ failAt });
      await expect(writeFileDurable(file, next, ops)).rejects.toMatchObject({ code: PixelFsCodes.SIMULATED_CRASH });
      // (No powerLoss() here: the old file was written outside FaultyFileOps, which would then
      // treat it as never durable. The process-crash case is what this loop checks.)
      const got = fs.readFileSync(file);
      expect(got.equals(Buffer.from(old)) || got.equals(Buffer.from(next)), `call ${failAt}`).toBe(true);
    }
  });

  it('writeFileDurable: a crash leaves its temp file behind, and the next write in the same millisecond still succeeds', async () => {
    // The fault (CI, 2026-12): the temp name was pid + Date.now(), so a write right after a
    // crashed one in the same millisecond hit EEXIST on the leftover. A frozen clock reproduces it.
    const file = path.join(tmp, 'same-ms.bin');
    const now = vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
    try {
      const crashed = new FaultyFileOps({ failAt: 3 }); // create, write, then the fsync crashes
      await expect(writeFileDurable(file, new Uint8Array([1]), crashed)).rejects.toMatchObject({ code: PixelFsCodes.SIMULATED_CRASH });
      expect(fs.readdirSync(tmp).filter((f) => f.startsWith('.same-ms.bin.'))).toHaveLength(1);
      await writeFileDurable(file, new Uint8Array([2]));
      expect([...fs.readFileSync(file)]).toEqual([2]);
    } finally {
      now.mockRestore();
    }
  });
});
