/**
 * Generated LoRA adapters (shared/lora) in llama.cpp itself (node-llama-cpp, CPU): a generated
 * tiny-llama base (F32, seed 0) and a seeded adapter for it (rank 8, alpha 16, the default
 * targets and gain). llama.cpp loads both, and over 16 positions of the log-probabilities of
 * every token:
 *
 *  1. the adapter at scale 1 moves them by more than MIN_MOVE somewhere and by less than
 *     MAX_MOVE everywhere (visible, not degenerate), with no NaN;
 *  2. at scale 0 it moves nothing (the difference is the adapter's);
 *  3. with the adapter's alpha removed from the file (llama.cpp's default 0: scale = the user's,
 *     here 2 = alpha / rank) the log-probs are the ones of the file with alpha (loraScale's rule);
 *  4. what our reader refuses for llama.cpp's reasons (not an adapter, another architecture, an
 *     unpaired half, a pair for a tensor the base lacks, an unexpected tensor, shapes), llama.cpp
 *     refuses too; what it accepts beyond plain pairs (a *_norm.weight tensor, skipped; a
 *     token_embd pair, A and B swapped), llama.cpp loads and runs.
 *
 * Skipped with the reason when the reference is not installed (scripts/bootstrap.sh).
 * PXI_PARITY_REPORT=1 prints the measured movement.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GgmlType, gv, parseGgufBytes, tensorByteSize, writeGgufBytes, type GgufHeader, type GgufValue } from '../../shared/gguf';
import { generateLoraAdapterBytes, loraAdapterFromGguf, type LoraAdapter, type LoraError, type LoraErrorCode } from '../../shared/lora';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { openReference, referenceMissing } from '../support/llama-cpp';

const missing = referenceMissing;
const report = process.env.PXI_PARITY_REPORT === '1';

const TEXT = 'The keeper wrote down what she learned about the river and the mill, and the children asked her why the water ran so fast.';
const POSITIONS = 16;
/** Bounds on the largest |Δ log p| the default adapter causes (measured 0.49; shared/lora/generate.ts). */
const MIN_MOVE = 0.05;
const MAX_MOVE = 1;

const dir = mkdtempSync(join(tmpdir(), 'pxi-lora-llama-'));
let basePath = '';
let baseHeader: GgufHeader;
let adapterBytes: Uint8Array;
const adapterPath = join(dir, 'tiny-llama.lora.gguf');

beforeAll(async () => {
  const bytes = await generateModelBytes(planModel({ preset: 'tiny-llama', type: 'F32', seed: 0 }));
  basePath = join(dir, 'tiny-llama.gguf');
  writeFileSync(basePath, bytes);
  baseHeader = parseGgufBytes(bytes, basePath);
  adapterBytes = generateLoraAdapterBytes({ base: baseHeader, rank: 8, alpha: 16, seed: 1 });
  writeFileSync(adapterPath, adapterBytes);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface EditableTensor {
  name: string;
  dims: number[];
  type: number;
  data: Uint8Array;
}

/** The adapter with its metadata or tensors edited, written next to it (new tensors' data: zeros). */
function editedAdapter(name: string, edit: (meta: Map<string, GgufValue>, tensors: EditableTensor[]) => void): string {
  const h = parseGgufBytes(adapterBytes, name);
  const meta = new Map(h.metadata);
  const tensors = h.tensors.map((t) => ({ name: t.name, dims: [...t.dims], type: t.type as number, data: adapterBytes.subarray(t.offset, t.offset + t.byteSize) }));
  edit(meta, tensors);
  for (const t of tensors) {
    const size = tensorByteSize(t.type, t.dims);
    if (t.data.length !== size) t.data = new Uint8Array(size);
  }
  const path = join(dir, name);
  writeFileSync(path, writeGgufBytes(meta, tensors, { name }));
  return path;
}

function readsAs(path: string): () => unknown {
  return () => loraAdapterFromGguf(parseGgufBytes(new Uint8Array(readFileSync(path)), path), baseHeader);
}

/** Largest |a − b| over positions and tokens; NaN if any entry is NaN or only one side is finite. */
function maxDiff(a: readonly Float64Array[], b: readonly Float64Array[]): number {
  let max = 0;
  for (let t = 0; t < a.length; t++) {
    const x = a[t]!;
    const y = b[t]!;
    if (x.length !== y.length) return Number.NaN;
    for (let i = 0; i < x.length; i++) {
      if (x[i] === -Infinity && y[i] === -Infinity) continue;
      const d = Math.abs(x[i]! - y[i]!);
      if (!(d <= max)) max = d; // NaN sticks
    }
  }
  return max;
}

async function logProbs(lora?: { filePath: string; scale?: number }): Promise<{ ids: number[]; lp: Float64Array[] }> {
  const ref = await openReference(basePath, 64, lora ? { lora } : {});
  try {
    const ids = [...(ref.bos === null ? [] : [ref.bos]), ...ref.tokenize(TEXT)].slice(0, POSITIONS);
    expect(ids).toHaveLength(POSITIONS);
    return { ids, lp: await ref.logProbs(ids) };
  } finally {
    await ref.dispose();
  }
}

describe('generated LoRA adapters in llama.cpp', () => {
  it('llama.cpp loads the adapter, and it moves the log-probs visibly but not wildly', async (t) => {
    if (missing) return t.skip(missing);
    // Our reader takes the file first.
    expect(loraAdapterFromGguf(parseGgufBytes(adapterBytes, adapterPath), baseHeader).pairs.size).toBe(14);
    const plain = await logProbs();
    const adapted = await logProbs({ filePath: adapterPath });
    const off = await logProbs({ filePath: adapterPath, scale: 0 });
    const noAlpha = await logProbs({ filePath: editedAdapter('no-alpha.lora.gguf', (m) => m.delete('adapter.lora.alpha')), scale: 2 });
    expect(adapted.ids).toEqual(plain.ids);
    for (const row of adapted.lp) expect(row.every((x) => !Number.isNaN(x))).toBe(true);
    const moved = maxDiff(adapted.lp, plain.lp);
    if (report) console.log(`tiny-llama F32, rank 8, alpha 16, default gain: max |Δ log p| over ${POSITIONS} positions = ${moved.toFixed(4)}`);
    expect(moved).toBeGreaterThan(MIN_MOVE);
    expect(moved).toBeLessThan(MAX_MOVE);
    expect(maxDiff(off.lp, plain.lp)).toBe(0);
    expect(maxDiff(noAlpha.lp, adapted.lp)).toBeLessThan(1e-6);
  });

  const REFUSED: readonly (readonly [string, LoraErrorCode, (meta: Map<string, GgufValue>, tensors: EditableTensor[]) => void])[] = [
    ['general.type "model"', 'LORA_NOT_ADAPTER', (m) => m.set('general.type', gv.str('model'))],
    ['adapter.type missing', 'LORA_NOT_ADAPTER', (m) => m.delete('adapter.type')],
    ['another architecture', 'LORA_ARCH_MISMATCH', (m) => m.set('general.architecture', gv.str('qwen2'))],
    ['an unpaired lora_a', 'LORA_UNPAIRED', (_, t) => t.splice(t.findIndex((x) => x.name === 'blk.1.ffn_up.weight.lora_b'), 1)],
    ['a pair for a tensor the base lacks', 'LORA_UNKNOWN_TENSOR', (_, t) => t.forEach((x) => (x.name = x.name.replace('blk.1.', 'blk.7.')))],
    ['a tensor of an unexpected suffix', 'LORA_UNKNOWN_TENSOR', (_, t) => t.push({ name: 'output.weight', dims: [256, 1024], type: GgmlType.F32, data: new Uint8Array(0) })],
    ["lora_a rows shorter than the base's", 'LORA_SHAPE', (_, t) => (t.find((x) => x.name === 'blk.0.attn_q.weight.lora_a')!.dims = [128, 8])],
    ['the halves of a pair of two ranks', 'LORA_SHAPE', (_, t) => (t.find((x) => x.name === 'blk.0.attn_q.weight.lora_a')!.dims = [256, 4])],
  ];

  it.for(REFUSED)('llama.cpp refuses %s, as our reader does', async ([what, code, edit], t) => {
    if (missing) return t.skip(missing);
    const path = editedAdapter(`${what.replace(/[^a-z0-9]+/gi, '-')}.lora.gguf`, edit);
    expect(readsAs(path)).toThrow(expect.objectContaining({ code }) as LoraError);
    await expect(logProbs({ filePath: path })).rejects.toThrow(/Failed to initialize LoRA adapter/);
  });

  it('llama.cpp takes what our reader takes beyond plain pairs: *_norm.weight (skipped) and a token_embd pair', async (t) => {
    if (missing) return t.skip(missing);
    const path = editedAdapter('extras.lora.gguf', (_, ts) => {
      ts.push({ name: 'blk.0.attn_norm.weight', dims: [256], type: GgmlType.F32, data: new Uint8Array(0) });
      // token_embd [256, 1024]: A one row of rank 4 per token, B [4, 256] (llama.cpp's build_inp_embd).
      ts.push({ name: 'token_embd.weight.lora_a', dims: [4, 1024], type: GgmlType.F32, data: new Uint8Array(0) });
      ts.push({ name: 'token_embd.weight.lora_b', dims: [4, 256], type: GgmlType.F32, data: new Uint8Array(0) });
    });
    const lora = readsAs(path)() as LoraAdapter;
    expect(lora.ignored).toEqual(['blk.0.attn_norm.weight']);
    expect(lora.pairs.has('token_embd.weight')).toBe(true);
    const { lp } = await logProbs({ filePath: path });
    for (const row of lp) expect(row.every((x) => !Number.isNaN(x))).toBe(true);
  });
});
