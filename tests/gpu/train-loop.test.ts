/**
 * The process-neutral step loop (shared/train/loop.ts) with in-memory data and checkpoint sink,
 * on the same adapter as the Node session (electron/train/session.ts, checkpoints in PixelFS):
 * the same recipe gives the same final weights and optimizer state, bit for bit, and the same
 * checkpoint state apart from the measured times; a loop paused mid-run (the signal, as a
 * window's Pause) and resumed from the checkpoint it left ends with the same weights as well.
 * This is what lets a run paused in a window resume in the background and vice versa.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TilePool, Volume } from '../../electron/pixelfs/index';
import { latestCheckpoint } from '../../electron/train/checkpoint';
import { trainSession, type TrainData } from '../../electron/train/session';
import type { GpuContext } from '../../shared/gpu';
import { createTokenizer } from '../../shared/tokenizer';
import { tokenizerMetadata, trainedTokenizerSpec, trainTokenizer } from '../../shared/tokenizer-train';
import { tokenStreamData, trainLoop, type CheckpointData, type CheckpointState, type TrainEvent } from '../../shared/train/loop';
import { parseRecipe } from '../../shared/train/recipe';
import { greedySample } from '../../shared/train/sample';
import { fixturePath } from '../support/fixtures';
import { openTestContext, useGpu } from '../support/gpu';

const g = useGpu();
let tmp: string;
let pool: TilePool;
let data: TrainData;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'train-loop-'));
  pool = new TilePool({ size: 1 });
  const text = fs.readFileSync(fixturePath('corpus', 'tinystories-train.txt'), 'utf8').slice(0, 40_000);
  const valid = fs.readFileSync(fixturePath('corpus', 'tinystories-valid.txt'), 'utf8').slice(0, 8_000);
  const trained = trainTokenizer([text], { vocabSize: 300 });
  const tokenizer = createTokenizer(trainedTokenizerSpec(trained));
  data = { tokenizer, tokenizerMeta: tokenizerMetadata(trained), trained, train: Uint32Array.from(tokenizer.encode(text)), valid: Uint32Array.from(tokenizer.encode(valid)) };
});
afterAll(async () => {
  await pool?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const recipe = parseRecipe({
  name: 'loop-tiny',
  model: { arch: 'llama', dim: 32, layers: 2, heads: 4, kvHeads: 2, ff: 64, context: 32 },
  data: { train: ['unused.txt'], valid: ['unused-valid.txt'], vocab: 300 },
  train: { seed: 5, batch: 4, accum: 2, steps: 8, lr: 3e-3, warmup: 2, evalEvery: 4, evalBatches: 2, checkpointEvery: 3, sampleEvery: 4 },
});

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The state without what is measured (times, rates) and without the hashes the PixelFS writer adds. */
function comparable(s: CheckpointState) {
  return { ...s, paramsSha256: '', optimSha256: '', seconds: 0, history: s.history.map((p) => ({ ...p, tokensPerSec: 0 })) };
}

function memoryLoop(c: GpuContext, resume: CheckpointData | null, signal?: AbortSignal, onEvent?: (e: TrainEvent) => void) {
  const sunk: CheckpointData[] = [];
  const events: TrainEvent[] = [];
  const done = trainLoop({
    recipe,
    run: 'r',
    ctx: c,
    data: tokenStreamData(recipe, data.train, data.valid),
    resume,
    // The sink keeps copies, as a transfer would.
    sink: async (k) => void sunk.push({ state: structuredClone(k.state), params: k.params.slice(), m: k.m.slice(), v: k.v.slice() }),
    sample: (params, state) => greedySample(c, recipe, params, data.tokenizerMeta, state),
    signal,
    onEvent: (e) => {
      events.push(e);
      onEvent?.(e);
    },
  });
  return { done, sunk, events };
}

describe('the shared training loop', () => {
  it('gives the Node session’s weights, optimizer state and checkpoint state, bit for bit, on one adapter', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const c = g.ctx;
    const volume = await Volume.open(path.join(tmp, 'v'), { create: { tileWidth: 64, tileHeight: 64, level: 0 }, pool });
    try {
      const sessionEvents: TrainEvent[] = [];
      const node = await trainSession({ recipe, run: 'r', volume, ctx: c, data, onEvent: (e) => sessionEvents.push(e) });
      const nodeCkpt = (await latestCheckpoint(volume, 'r'))!;
      expect(nodeCkpt.state.step).toBe(8);

      const mem = memoryLoop(c, null);
      const r = await mem.done;
      for (const [name, w] of node.params) expect(bits(r.params.get(name)!).equals(bits(w)), name).toBe(true);
      // Checkpoints at 3, 6 and the end (8), the last one equal to the session's in PixelFS.
      expect(mem.sunk.map((k) => k.state.step)).toEqual([3, 6, 8]);
      const last = mem.sunk[2]!;
      for (const k of ['params', 'm', 'v'] as const) expect(bits(last[k]).equals(bits(nodeCkpt[k])), k).toBe(true);
      expect(comparable(last.state)).toEqual(comparable(nodeCkpt.state));
      expect(last.state.valid.map((v) => v.step)).toEqual([4, 8]);
      expect(last.state.samples.map((s) => s.step)).toEqual([4, 8]);
      expect(last.state.samples[1]!.text).toMatch(/^Once upon a time/);
      // The same events in the same order (figures measured in time aside).
      const shape = (es: TrainEvent[]) => es.map((e) => (e.kind === 'step' ? `${e.kind}:${e.step}:${e.loss}` : `${e.kind}:${e.step}`));
      expect(shape(mem.events)).toEqual(shape(sessionEvents));
    } finally {
      await volume.close();
    }
  }, 300_000);

  it('paused by its signal, checkpoints the step it reached; resumed from that checkpoint, ends with the same weights', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const c = g.ctx;
    const whole = await memoryLoop(c, null).done;
    const stop = new AbortController();
    const first = memoryLoop(c, null, stop.signal, (e) => {
      if (e.kind === 'step' && e.step === 5) stop.abort();
    });
    await expect(first.done).rejects.toMatchObject({ code: 'TRAIN_ABORTED' });
    expect(first.sunk.map((k) => k.state.step)).toEqual([3, 5]);
    expect(first.events.at(-1)).toEqual({ kind: 'checkpoint', step: 5 });
    const second = memoryLoop(c, first.sunk[1]!);
    const resumed = await second.done;
    expect(second.events[0]).toMatchObject({ kind: 'start', step: 5, resumedFrom: 5 });
    expect(second.events.filter((e) => e.kind === 'step').map((e) => e.step)).toEqual([6, 7, 8]);
    for (const [name, w] of whole.params) expect(bits(resumed.params.get(name)!).equals(bits(w)), name).toBe(true);
    expect(resumed.state.history.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  }, 300_000);

  it('stops with GPU_DEVICE_LOST naming the step and the kept checkpoint when its device goes away; a new device resumes from that checkpoint', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const whole = await memoryLoop(g.ctx, null).done;
    // A device of its own, destroyed just after the checkpoint of step 3 is in the sink.
    const own = await openTestContext();
    if (!own.ctx) return t.skip(own.reason);
    const doomed = own.ctx;
    const first = memoryLoop(doomed, null, undefined, (e) => {
      if (e.kind === 'checkpoint' && e.step === 3) doomed.destroy();
    });
    const err = await first.done.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'GPU_DEVICE_LOST', details: { step: 4, lastCheckpoint: 3 } });
    expect((err as Error).message).toMatch(/during step 4 .*checkpoint of step 3 is kept/);
    // What was saved is whole: the checkpoint of step 3, and nothing after it.
    expect(first.sunk.map((k) => k.state.step)).toEqual([3]);
    const second = memoryLoop(g.ctx, first.sunk[0]!);
    const resumed = await second.done;
    for (const [name, w] of whole.params) expect(bits(resumed.params.get(name)!).equals(bits(w)), name).toBe(true);
  }, 300_000);
});
