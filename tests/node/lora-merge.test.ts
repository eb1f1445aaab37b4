/**
 * `pxi export MODEL OUT.gguf --lora ADAPTER` (electron/engine/lora-merge.ts, shared/lora/merge.ts):
 * a stored model with a LoRA adapter merged in. On an F32 base the merged file predicts what the
 * base with the adapter applied predicts (ours and llama.cpp's); on a quantised base the
 * re-encoding error is reported per tensor and the merged file stays near the applied adapter by
 * an amount of that order. The header and every tensor the adapter does not touch are the
 * imported bytes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../electron/cli/main';
import type { CliIo } from '../../electron/cli/command';
import { openNodeModel } from '../../electron/engine';
import { exportMergedLora } from '../../electron/engine/lora-merge';
import { ModelStore } from '../../electron/models/store';
import { TilePool } from '../../electron/pixelfs/index';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { generateLoraAdapterBytes } from '../../shared/lora';
import { generateModelBytes, planModel, type GenType } from '../../shared/model-gen';
import { useGpu } from '../support/gpu';
import { openReference } from '../support/llama-cpp';
import { diffLogProbs, logProbsOf } from './engine-support';

let tmp: string;
let pool: TilePool;
const g = useGpu();
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-merge-'));
  pool = new TilePool({ size: 1 });
});
afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function setup(type: GenType, tag = type as string): Promise<{ store: ModelStore; id: string; base: string; adapter: string }> {
  const bytes = await generateModelBytes(planModel({ preset: 'tiny-llama', type, seed: 0, method: type === 'F32' ? 'quantize' : 'direct' }));
  const base = path.join(tmp, `base-${tag}.gguf`);
  fs.writeFileSync(base, bytes);
  const adapter = path.join(tmp, `adapter-${tag}.gguf`);
  fs.writeFileSync(adapter, generateLoraAdapterBytes({ base: parseGgufBytes(bytes, base), rank: 8, alpha: 16, seed: 3 }));
  const store = await ModelStore.open(path.join(tmp, `vol-${tag}`), { create: { tileWidth: 64, tileHeight: 64, level: 0 }, pool });
  const { model } = await store.import(base);
  return { store, id: model.id, base, adapter };
}

const TEXT = 'The keeper wrote down what she learned about the river and the mill.';

async function logProbs(file: string, lora?: string): Promise<Float64Array[]> {
  const m = await openNodeModel(file, { ctx: g.ctx!, contextLength: 64, tuningFile: false, ...(lora ? { loraPath: lora } : {}) });
  try {
    const ids = m.tokenizer.encode(TEXT);
    return logProbsOf((await m.model.forward(ids, 'all')).logits!, ids.length, m.model.vocabSize);
  } finally {
    await m.close();
  }
}

describe('LoRA merge on export', () => {
  it('F32 base: the merged file predicts what the applied adapter does (ours and llama.cpp); untouched bytes stay', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { store, id, base, adapter } = await setup('F32');
    const out = path.join(tmp, 'merged-f32.gguf');
    try {
      const r = await exportMergedLora(store, id, adapter, out);
      expect(r.tensors.length).toBe(14); // 7 matrices × 2 blocks
      for (const x of r.tensors) {
        expect(x.requantRms).toBe(0);
        expect(x.updateRms).toBeGreaterThan(0);
      }
    } finally {
      await store.close();
    }
    const a = fs.readFileSync(base);
    const b = fs.readFileSync(out);
    const h = parseGgufBytes(new Uint8Array(a), base);
    expect(b.length).toBe(a.length);
    expect(b.subarray(0, h.dataOffset).equals(a.subarray(0, h.dataOffset))).toBe(true);
    for (const x of h.tensors) {
      const same = b.subarray(x.offset, x.offset + x.byteSize).equals(a.subarray(x.offset, x.offset + x.byteSize));
      expect(same, x.name).toBe(!/blk\.\d+\.(attn_[qkvo]|attn_output|ffn_(gate|up|down))\.weight$/.test(x.name));
    }
    const applied = await logProbs(base, adapter);
    const merged = await logProbs(out);
    const plain = await logProbs(base);
    expect(diffLogProbs(merged, applied).max).toBeLessThan(1e-4);
    expect(diffLogProbs(merged, plain).max).toBeGreaterThan(0.05);
    const ref = await openReference(out, 64);
    const refApplied = await openReference(base, 64, { lora: { filePath: adapter } });
    try {
      const ids = [ref.bos!, ...ref.tokenize(TEXT)];
      expect(diffLogProbs(await ref.logProbs(ids), await refApplied.logProbs(ids)).max).toBeLessThan(1e-3);
    } finally {
      await ref.dispose();
      await refApplied.dispose();
    }
  });

  it('Q8_0 base: re-encoded in Q8_0, the error reported and of the order of what the merged file moves', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { store, id, base, adapter } = await setup('Q8_0');
    const out = path.join(tmp, 'merged-q8.gguf');
    let worst = 0;
    try {
      const r = await exportMergedLora(store, id, adapter, out);
      for (const x of r.tensors) {
        expect(x.type).toBe('Q8_0');
        expect(x.requantRms).toBeGreaterThan(0);
        // One Q8_0 step is 1/127 of a block's largest value: the error stays below the update.
        expect(x.requantRms).toBeLessThan(x.updateRms);
        worst = Math.max(worst, x.requantRms);
      }
    } finally {
      await store.close();
    }
    const d = diffLogProbs(await logProbs(out), await logProbs(base, adapter)).max;
    console.log(`Q8_0 merge: worst re-encoding RMS ${worst.toExponential(2)}, merged vs applied log-probs ${d.toExponential(2)}`);
    expect(d).toBeLessThan(0.5);
  });

  it('the CLI: usage errors, and an adapter of another base is refused naming the tensor, writing nothing', async () => {
    const { store, id } = await setup('F32', 'cli');
    await store.close();
    const qwen = await generateModelBytes(planModel({ preset: 'tiny-qwen2', type: 'F32', seed: 0 }));
    const foreign = path.join(tmp, 'qwen-adapter.gguf');
    fs.writeFileSync(foreign, generateLoraAdapterBytes({ base: parseGgufBytes(qwen, 'q.gguf'), rank: 4, alpha: 4, seed: 1 }));
    const run = async (...argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const io: CliIo = { out: (x) => out.push(x), err: (x) => err.push(x), interrupted: new Promise(() => undefined) };
      return { code: await main(argv, io), out: out.join('\n'), err: err.join('\n') };
    };
    const vol = path.join(tmp, 'vol-cli');
    const target = path.join(tmp, 'never.gguf');
    expect((await run('export', id, target, '--volume', vol, '--lora-scale', '2')).code).toBe(2);
    const r = await run('export', id, target, '--volume', vol, '--lora', foreign);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/LORA_ARCH_MISMATCH|general\.architecture/);
    expect(fs.existsSync(target)).toBe(false);
  });
});
