/**
 * The engine loading from pixels: stories260K imported into a temporary volume (64×64 tiles,
 * so every tensor spans several checksummed PNG tiles) and run from there on WebGPU (Dawn on
 * lavapipe). Greedy decoding must give the same tokens as the engine on the GGUF file and as
 * llama.cpp; `pxi run` / `pxi chat` take the stored model by name with --volume.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPxi } from '../support/cli';
import { openPixelModel, pixelTensorSource } from '../../electron/engine/pixel-source';
import { ModelStore } from '../../electron/models/store';
import { TilePool } from '../../electron/pixelfs/index';
import { memorySource } from '../../shared/binary/byte-source';
import { generate } from '../../shared/engine/generate';
import { openGgufTensorSource, type TensorSource } from '../../shared/engine/tensor-source';
import type { GpuContext } from '../../shared/gpu';
import { encodeMetadata } from '../../shared/model/metadata-json';
import { fixturePath } from '../support/fixtures';
import { openTestContext } from '../support/gpu';
import { openReference } from '../support/llama-cpp';
import { loadFile, type LoadedModel } from './engine-support';

const MODEL = fixturePath('models', 'stories260K.gguf');
const PROMPT = 'Once upon a time';
const N = 100;

let tmp: string;
let volume: string;
let pool: TilePool;
let store: ModelStore | null = null;
let ctx: GpuContext | null = null;
let reason = '';
let fromFile: LoadedModel | undefined;
let gguf: TensorSource;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-pixels-'));
  volume = path.join(tmp, 'volume');
  pool = new TilePool({ size: 1 });
  store = await ModelStore.open(volume, { create: { tileWidth: 64, tileHeight: 64, level: 0 }, pool });
  await store.import(MODEL);
  gguf = await openGgufTensorSource(memorySource(new Uint8Array(fs.readFileSync(MODEL))), MODEL);
  const r = await openTestContext();
  if (!r.ctx) reason = r.reason;
  else {
    ctx = r.ctx;
    fromFile = await loadFile(ctx, MODEL, { contextLength: 256 });
  }
});

afterAll(async () => {
  fromFile?.model.destroy();
  ctx?.destroy();
  await store?.close();
  await pool?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const pxi = (...argv: string[]) => runPxi(argv);

describe('engine from PixelFS', () => {
  it('the pixel source has the GGUF header and bytes', async () => {
    const src = pixelTensorSource(store!, 'stories260K');
    expect(encodeMetadata(src.header.metadata)).toEqual(encodeMetadata(gguf.header.metadata));
    expect(src.header.tensors.map((t) => [t.name, t.type, t.dims, t.byteSize])).toEqual(gguf.header.tensors.map((t) => [t.name, t.type, t.dims, t.byteSize]));
    expect(src.header.file).toContain('stories260K');
    const file = fs.readFileSync(MODEL);
    const t = src.manifest.tensors.find((x) => x.name === 'blk.2.ffn_up.weight')!;
    const got = await src.read(t.name, 16_000, 1_000); // crosses the tile boundary at 16 KiB
    expect(Buffer.from(got).equals(file.subarray(t.offset + 16_000, t.offset + 17_000))).toBe(true);
    await expect(src.read(t.name, t.bytes - 2, 4)).rejects.toMatchObject({ code: 'ENGINE_TENSOR_READ' });
    await expect(src.read('nope.weight', 0, 4)).rejects.toMatchObject({ code: 'ENGINE_TENSOR_READ' });
  });

  it(`greedy "${PROMPT}" from pixels = from the GGUF file = llama.cpp, ${N} tokens`, async (t) => {
    if (!ctx) return t.skip(reason);
    const pixels = await openPixelModel(store!, 'stories260K', { ctx, contextLength: 256 });
    const ref = await openReference(MODEL, 256);
    try {
      const prompt = pixels.tokenizer.encode(PROMPT);
      expect(prompt).toEqual(fromFile!.tokenizer.encode(PROMPT));
      const a = await generate(pixels.model, pixels.tokenizer, prompt, { temperature: 0, maxTokens: N, ignoreEos: true });
      fromFile!.model.rewind(0);
      const b = await generate(fromFile!.model, fromFile!.tokenizer, prompt, { temperature: 0, maxTokens: N, ignoreEos: true });
      const want = await ref.greedy(prompt, N);
      expect(a.tokens).toHaveLength(N);
      expect(a.tokens).toEqual(b.tokens);
      expect(a.tokens).toEqual(want);
      expect(a.text.startsWith(', there was a little girl named Lily')).toBe(true);
      expect(pixels.chatTemplate).toBeUndefined();
    } finally {
      await pixels.close();
      await ref.dispose();
    }
    expect(ctx.isLost).toBe(false); // close() leaves a context it did not open
  });
});

describe('pxi run / pxi chat with a stored model', () => {
  // The CLI opens the volume itself: the test's store lets go of it first (one owner at a time).
  beforeAll(async () => {
    await store?.close();
    store = null;
  });

  it('pxi run MODEL --volume DIR streams the same greedy text as on the GGUF file', async (t) => {
    if (reason) return t.skip(reason);
    const args = ['-p', PROMPT, '-n', '24', '--temp', '0', '--json'];
    const stored = await pxi('run', 'stories260K', '--volume', volume, ...args);
    expect(stored.code, stored.err).toBe(0);
    expect(stored.err).toMatch(/loaded stories260K \(model [a-z0-9-]+\) from its pixel tiles: llama, 5 blocks/);
    const file = await pxi('run', MODEL, ...args);
    expect(file.code, file.err).toBe(0);
    const a = JSON.parse(stored.out) as { tokens: number[]; text: string };
    const b = JSON.parse(file.out) as { tokens: number[]; text: string };
    expect(a.tokens).toHaveLength(24);
    expect(a.tokens).toEqual(b.tokens);
    expect(a.text).toBe(b.text);
  });

  it('names what is wrong: an unknown model, a missing .gguf, a missing volume; chat refuses a model without a template', async (t) => {
    const unknown = await pxi('run', 'no-such-model', '--volume', volume, '-p', 'x');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/no model with id or name "no-such-model" \(models: stories260K\)/);
    const missing = await pxi('run', path.join(tmp, 'missing.gguf'), '-p', 'x');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/no such model file/);
    const novol = await pxi('run', 'stories260K', '--volume', path.join(tmp, 'nowhere'), '-p', 'x');
    expect(novol.code).toBe(1);
    expect(novol.err).toMatch(/is not a volume yet/);
    expect((await pxi('run', '--help')).out).toContain('--volume DIR');
    if (reason) return t.skip(reason);
    const chat = await pxi('chat', 'stories260K', '--volume', volume);
    expect(chat.code).toBe(1);
    expect(chat.err).toContain('ENGINE_NO_CHAT_TEMPLATE');
  });
});

