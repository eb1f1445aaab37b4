/**
 * The engine channels through the real dispatcher over a real volume: stories260K imported
 * with 64×64 tiles (16 KiB each), so reads cross tile boundaries. What the renderer's engine
 * gets must be the GGUF's header and bytes exactly; bad requests are refused with the field
 * named; a damaged tile fails the read that touches it.
 */
import { createHash } from 'node:crypto';
import { MessageChannel } from 'node:worker_threads';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineHandlers } from '../../electron/services/engine-handlers';
import { sessionHandlers } from '../../electron/services/session-handlers';
import { SessionStore } from '../../electron/sessions/store';
import { syntheticSession } from '../support/sessions';
import { ModelStore } from '../../electron/models/store';
import { PixelFsCodes, TilePool } from '../../electron/pixelfs/index';
import { memorySource } from '../../shared/binary/byte-source';
import { EngineError } from '../../shared/engine/errors';
import { PxiError } from '../../shared/errors';
import { emptyTuningFile, parseTuningFile } from '../../shared/engine/autotune';
import { openGgufTensorSource, type TensorSource } from '../../shared/engine/tensor-source';
import { decodeEngineHeader, ENGINE_LIMITS } from '../../shared/ipc/channels/engine';
import type { Response } from '../../shared/ipc/contract';
import { createDispatcher, type Handlers } from '../../shared/ipc/dispatch';
import { encodeMetadata } from '../../shared/model/metadata-json';
import { apiRangeReader, fetchLoadInputs, remoteTensorSource } from '../../renderer/src/engine/api-source';
import { EngineHost } from '../../renderer/src/engine/host';
import type { FromWorker, ToWorker } from '../../renderer/src/engine/protocol';
import { createApi } from '../../shared/ipc/client';
import { fixturePath } from '../support/fixtures';
import { generateLoraAdapterBytes } from '../../shared/lora';
import { adapterFile } from '../../electron/train/adapters';

const MODEL = fixturePath('models', 'stories260K.gguf');
const TILE = 64 * 64 * 4;

let tmp: string;
let pool: TilePool;
let store: ModelStore;
let gguf: TensorSource;
let modelId: string;
let dispatch: ReturnType<typeof createDispatcher>;

async function call(channel: string, payload: unknown) {
  return dispatch(channel, payload, { transport: 'direct', origin: 'test' });
}
async function ok<C extends 'engine:header' | 'engine:read'>(channel: C, payload: unknown): Promise<Response<C>> {
  const env = await call(channel, payload);
  if (!env.ok) throw new Error(`${channel} failed: ${env.error.code} ${env.error.message}`);
  return env.value as Response<C>;
}
async function fails(channel: string, payload: unknown) {
  const env = await call(channel, payload);
  expect(env.ok, JSON.stringify(payload)).toBe(false);
  return (env as { ok: false; error: { code: string; message: string } }).error;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-handlers-'));
  pool = new TilePool({ size: 1 });
  store = await ModelStore.open(path.join(tmp, 'volume'), { create: { tileWidth: 64, tileHeight: 64, level: 0 }, pool });
  modelId = (await store.import(MODEL)).model.id;
  gguf = await openGgufTensorSource(memorySource(new Uint8Array(fs.readFileSync(MODEL))), MODEL);
  // Only the engine channels are answered; the dispatcher validates exactly as in the app.
  dispatch = createDispatcher(engineHandlers(() => Promise.resolve(store)) as Handlers);
});

afterAll(async () => {
  await store?.close();
  await pool?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('engine:header', () => {
  it('gives the GGUF header: every metadata entry with its type, the tensor table, the configuration', async () => {
    const h = await ok('engine:header', { model: 'stories260K' });
    expect(h.id).toBe(modelId);
    expect(h.name).toBe('stories260K');
    expect(h.sourceSha256).toBe('270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d');
    expect(h.hasChatTemplate).toBe(false);
    expect(h.config).toMatchObject({ architecture: 'llama', blockCount: 5, embeddingLength: 64, vocabSize: 512 });
    const decoded = decodeEngineHeader(h);
    // Same entries, order, types and values (arrays compared through their exact-bits encoding).
    expect(encodeMetadata(decoded.metadata)).toEqual(encodeMetadata(gguf.header.metadata));
    expect(decoded.tensors).toEqual(gguf.header.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims, elementCount: t.elementCount, byteSize: t.byteSize })));
    // JSON-safe: it survives the WebSocket's JSON round trip unchanged.
    expect(JSON.parse(JSON.stringify(h))).toEqual(h);
    expect((await ok('engine:header', { model: modelId })).id).toBe(modelId);
  });

  it('refuses an unknown model and a malformed request', async () => {
    const e = await fails('engine:header', { model: 'no-such-model' });
    expect(e.code).toBe('MODEL_NOT_FOUND');
    expect(e.message).toContain('no-such-model');
    expect((await fails('engine:header', { model: '' })).code).toBe('IPC_INVALID_REQUEST');
    expect((await fails('engine:header', { model: 'x', extra: 1 })).code).toBe('IPC_INVALID_REQUEST');
  });

  it('a decoder refuses metadata whose value breaks its declared type', async () => {
    const h = await ok('engine:header', { model: modelId });
    const bad = { ...h, metadata: h.metadata.map((m) => (m.key === 'llama.block_count' ? { ...m, value: 'five' } : m)) };
    expect(() => decodeEngineHeader(bad)).toThrow(/llama\.block_count/);
  });
});

describe('engine:read', () => {
  it('returns the tensor bytes exactly, across tile boundaries', async () => {
    const t = gguf.header.tensors.find((x) => x.name === 'token_embd.weight')!;
    expect(t.byteSize).toBeGreaterThan(3 * TILE);
    for (const [offset, length] of [
      [0, 1],
      [TILE - 3, 7],
      [TILE - 100, 2 * TILE + 200],
      [t.byteSize - 5, 5],
      [0, t.byteSize],
    ] as const) {
      const { bytes } = await ok('engine:read', { model: modelId, tensor: t.name, offset, length });
      expect(Buffer.from(bytes).equals(Buffer.from(await gguf.read(t.name, offset, length))), `${offset}+${length}`).toBe(true);
      // Raw bytes, not text: a plain Uint8Array that owns exactly its buffer, so structured
      // clone (Electron IPC) sends `length` bytes, not a Buffer pool slab or a larger buffer.
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(bytes)).toBe(false);
      expect(bytes.byteOffset).toBe(0);
      expect(bytes.buffer.byteLength).toBe(length);
      expect(structuredClone(bytes).buffer.byteLength).toBe(length);
    }
  });

  it('refuses reads outside the tensor, unknown tensors and requests past the limits', async () => {
    const t = gguf.header.tensors.find((x) => x.name === 'blk.0.attn_q.weight')!;
    const outside = await fails('engine:read', { model: modelId, tensor: t.name, offset: t.byteSize - 4, length: 8 });
    expect(outside.code).toBe('ENGINE_TENSOR_READ');
    expect(outside.message).toContain(`${t.byteSize} bytes`);
    expect((await fails('engine:read', { model: modelId, tensor: 'blk.9.attn_q.weight', offset: 0, length: 4 })).code).toBe('ENGINE_TENSOR_READ');
    expect((await fails('engine:read', { model: 'nope', tensor: t.name, offset: 0, length: 4 })).code).toBe('MODEL_NOT_FOUND');
    for (const [payload, field] of [
      [{ model: modelId, tensor: t.name, offset: 0, length: ENGINE_LIMITS.readBytes + 1 }, 'length'],
      [{ model: modelId, tensor: t.name, offset: 0, length: 0 }, 'length'],
      [{ model: modelId, tensor: t.name, offset: -1, length: 4 }, 'offset'],
      [{ model: modelId, tensor: t.name, offset: 0.5, length: 4 }, 'offset'],
      [{ model: modelId, tensor: '', offset: 0, length: 4 }, 'tensor'],
      [{ model: modelId, tensor: t.name, offset: 0 }, 'length'],
    ] as const) {
      const e = await fails('engine:read', payload);
      expect(e.code).toBe('IPC_INVALID_REQUEST');
      expect(e.message).toContain(field);
    }
  });

  it('a damaged tile fails the reads that touch it, with PixelFS\'s code; other ranges still read', async () => {
    const m = store.manifest(modelId);
    const t = m.tensors.find((x) => x.name === 'blk.4.ffn_down.weight')!;
    expect(t.bytes).toBeGreaterThan(2 * TILE);
    const src = fs.readFileSync(MODEL);
    const tilePath = store.volume.tilePath(createHash('sha256').update(src.subarray(t.offset + TILE, t.offset + 2 * TILE)).digest('hex'));
    const png = fs.readFileSync(tilePath);
    png[Math.floor(png.length / 2)] ^= 0x10;
    fs.writeFileSync(tilePath, png);
    const e = await fails('engine:read', { model: modelId, tensor: t.name, offset: TILE + 10, length: 4 });
    expect(e.code).toBe(PixelFsCodes.TILE_CORRUPT);
    const { bytes } = await ok('engine:read', { model: modelId, tensor: t.name, offset: 0, length: TILE });
    expect(Buffer.from(bytes).equals(src.subarray(t.offset, t.offset + TILE))).toBe(true);
  });
});

describe('the renderer\'s remote tensor source', () => {
  it('splits reads into requests of at most the limit and checks every answer', async () => {
    const asked: [string, number, number][] = [];
    const t = gguf.header.tensors.find((x) => x.name === 'token_embd.weight')!;
    const src = remoteTensorSource(gguf.header, async (name, offset, length) => {
      asked.push([name, offset, length]);
      return gguf.read(name, offset, length);
    }, 10_000);
    const got = await src.read(t.name, 5, 25_000);
    expect(asked).toEqual([
      [t.name, 5, 10_000],
      [t.name, 10_005, 10_000],
      [t.name, 20_005, 5_000],
    ]);
    expect(Buffer.from(got).equals(Buffer.from(await gguf.read(t.name, 5, 25_000)))).toBe(true);
    await expect(src.read(t.name, t.byteSize, 1)).rejects.toThrow(EngineError);
    const short = remoteTensorSource(gguf.header, async (_n, _o, length) => new Uint8Array(length - 1));
    await expect(short.read(t.name, 0, 16)).rejects.toMatchObject({ code: 'ENGINE_TENSOR_READ' });
  });
});

/** A stand-in for the engine worker: records what the host posts, and lets the test speak for the worker. */
function fakeWorker() {
  const posted: { msg: ToWorker; transfer: Transferable[] }[] = [];
  // Waiters for a posted message: woken by the post itself, no polling.
  const waiters: Array<() => void> = [];
  let listener: ((ev: MessageEvent<FromWorker>) => void) | null = null;
  const worker = {
    addEventListener: (type: string, fn: (ev: MessageEvent<FromWorker>) => void) => {
      if (type === 'message') listener = fn;
    },
    postMessage: (msg: ToWorker, transfer: Transferable[] = []) => {
      posted.push({ msg, transfer });
      for (const w of waiters.splice(0)) w();
    },
    terminate: () => undefined,
  };
  return { worker: worker as unknown as Worker, posted, waiters, say: (m: FromWorker) => listener?.({ data: m } as MessageEvent<FromWorker>) };
}

/** The first message the host posted to `w` for which `pred` holds, once it is posted (the link is handed over asynchronously). */
async function postedWhen(w: ReturnType<typeof fakeWorker>, pred: (m: ToWorker) => boolean) {
  for (;;) {
    const hit = w.posted.find((p) => pred(p.msg));
    if (hit) return hit;
    await new Promise<void>((r) => w.waiters.push(r));
  }
}

describe('the engine worker\'s reads (apiRangeReader over its own link)', () => {
  const direct = (c: string, r: unknown) => dispatch(c, r, { transport: 'direct', origin: 'test' });

  it('reads the bytes asked for through the engine channel', async () => {
    const api = createApi({ invoke: direct, subscribe: () => () => undefined });
    const t = gguf.header.tensors.find((x) => x.name === 'token_embd.weight')!;
    const got = await apiRangeReader(() => Promise.resolve(api), modelId)(t.name, 100, 5000);
    expect(Buffer.from(got).equals(Buffer.from(await gguf.read(t.name, 100, 5000)))).toBe(true);
  });

  it('checks the answer: text, or bytes of another length, fail the read with the tensor named', async () => {
    for (const [label, bytes] of [
      ['base64 text', 'AAAA'],
      ['one byte short', new Uint8Array(15)],
    ] as const) {
      // A transport that answers engine:read with something else than it should.
      const api = createApi({ invoke: async (c, r) => (c === 'engine:read' ? { ok: true, value: { bytes } } : direct(c, r)), subscribe: () => () => undefined });
      const read = apiRangeReader(() => Promise.resolve(api), modelId)('output_norm.weight', 0, 16);
      await expect(read, label).rejects.toMatchObject({ code: 'IPC_INVALID_RESPONSE', message: expect.stringContaining('output_norm.weight') });
    }
  });

  it('a link that could not be opened fails every read with its error', async () => {
    const read = apiRangeReader(() => Promise.reject(new PxiError('IPC_TRANSPORT', 'could not connect')), modelId)('output_norm.weight', 0, 16);
    await expect(read).rejects.toMatchObject({ code: 'IPC_TRANSPORT' });
  });
});

describe('the renderer\'s EngineHost hands each worker its own link', () => {
  const api = () => createApi({ invoke: (c, r) => dispatch(c, r, { transport: 'direct', origin: 'test' }), subscribe: () => () => undefined });

  it('browser mode: the engine port\'s URL; the host makes no engine call itself (header, adapter and reads are the worker\'s)', async () => {
    const w = fakeWorker();
    const pageCalls: string[] = [];
    const page = createApi({ invoke: (c, r) => (pageCalls.push(c), dispatch(c, r, { transport: 'direct', origin: 'test' })), subscribe: () => () => undefined });
    const host = new EngineHost(page, () => w.worker, undefined, () => Promise.resolve({ kind: 'websocket', url: 'ws://127.0.0.1:1/api/engine' }));
    void host.load('stories260K', { lora: { name: 'tiny-lora', scale: 0.5 } }).catch(() => undefined);
    const { msg, transfer } = await postedWhen(w, (m) => m.type === 'link');
    expect(msg).toEqual({ type: 'link', link: { kind: 'websocket', url: 'ws://127.0.0.1:1/api/engine' } });
    expect(transfer).toEqual([]);
    const load = (await postedWhen(w, (m) => m.type === 'load')).msg as Extract<ToWorker, { type: 'load' }>;
    expect(load).toMatchObject({ model: 'stories260K', lora: { name: 'tiny-lora', scale: 0.5 } });
    expect(w.posted.map((p) => p.msg.type).sort()).toEqual(['link', 'load']);
    expect(pageCalls.filter((c) => c.startsWith('engine:'))).toEqual([]);
    host.dispose();
  });

  it('the worker\'s header names the model being loaded; a replaced load\'s header is ignored', async () => {
    const w = fakeWorker();
    const host = new EngineHost(api(), () => w.worker, undefined, () => Promise.resolve({ kind: 'websocket', url: 'ws://127.0.0.1:1/api/engine' }));
    void host.load('stories260K').catch(() => undefined);
    const first = (await postedWhen(w, (m) => m.type === 'load')).msg as Extract<ToWorker, { type: 'load' }>;
    expect(host.state).toMatchObject({ kind: 'loading', modelId: 'stories260K', name: 'stories260K' });
    w.say({ type: 'header', load: first.load, modelId, name: 'stories260K (stored)' });
    expect(host.state).toMatchObject({ kind: 'loading', modelId, name: 'stories260K (stored)' });
    void host.load('another').catch(() => undefined);
    w.say({ type: 'header', load: first.load, modelId, name: 'stale' });
    expect(host.state).toMatchObject({ kind: 'loading', modelId: 'another', name: 'another' });
    host.dispose();
  });

  it('Electron: the MessagePort, moved by transfer; a worker replaced before it came gets none and the port is closed', async () => {
    const { port1, port2 } = new MessageChannel();
    const w = fakeWorker();
    const host = new EngineHost(api(), () => w.worker, undefined, () => Promise.resolve({ kind: 'port', port: port1 as unknown as MessagePort }));
    void host.load(modelId).catch(() => undefined);
    const { msg, transfer } = await postedWhen(w, (m) => m.type === 'link');
    expect(transfer).toEqual([port1]);
    expect((msg as Extract<ToWorker, { type: 'link' }>).link).toMatchObject({ kind: 'port', port: port1 });
    host.dispose();
    port2.close();

    let giveLink!: (l: { kind: 'port'; port: MessagePort }) => void;
    const late = new MessageChannel();
    const closed = new Promise<void>((r) => late.port1.once('close', () => r()));
    const w2 = fakeWorker();
    const host2 = new EngineHost(api(), () => w2.worker, undefined, () => new Promise((r) => (giveLink = r)));
    void host2.load(modelId).catch(() => undefined);
    await postedWhen(w2, (m) => m.type === 'load');
    host2.dispose();
    giveLink({ kind: 'port', port: late.port1 as unknown as MessagePort });
    await closed;
    expect(w2.posted.map((p) => p.msg.type)).not.toContain('link');
  });

  it('no link: the worker is told why (its reads fail with that error)', async () => {
    const w = fakeWorker();
    const host = new EngineHost(api(), () => w.worker, undefined, () => Promise.reject(new PxiError('IPC_TRANSPORT', 'this preload cannot open an engine port')));
    void host.load(modelId).catch(() => undefined);
    const { msg } = await postedWhen(w, (m) => m.type === 'link-error');
    expect((msg as Extract<ToWorker, { type: 'link-error' }>).error).toMatchObject({ code: 'IPC_TRANSPORT', message: 'this preload cannot open an engine port' });
    host.dispose();
  });
});

describe('the renderer\'s EngineHost and the kernel tuner', () => {
  it('hands the worker the kept measurements, keeps what it measures, records the run as a session, and ignores damaged ones', async () => {
    // The engine channels, and the sessions channels over a store in the test folder.
    const sessions = new SessionStore(path.join(tmp, 'sessions.json'));
    const both = createDispatcher({ ...engineHandlers(() => Promise.resolve(store)), ...sessionHandlers(() => sessions) } as Handlers);
    const api = createApi({ invoke: (c, r) => both(c, r, { transport: 'direct', origin: 'test' }), subscribe: () => () => undefined });
    let kept: string | null = '{"format": "pxi-kernel-tuning", "version": 1, "records": [{"oops": true}]}';
    const tuningStore = { get: () => kept, set: (t: string) => void (kept = t) };
    const w = fakeWorker();
    const host = new EngineHost(api, () => w.worker, tuningStore);
    void host.load(modelId).catch(() => undefined);
    const load = (await postedWhen(w, (m) => m.type === 'load')).msg as Extract<ToWorker, { type: 'load' }>;
    expect(load.tuning).toEqual(emptyTuningFile()); // the damaged entry counts as none
    // The worker measures: the state says so, then the record is kept.
    w.say({ type: 'tuning', weightType: 'Q8_0', index: 0, count: 2 });
    expect(host.state).toMatchObject({ kind: 'loading', tuning: { weightType: 'Q8_0', index: 0, count: 2 } });
    const record = {
      adapter: 'a | b | c | d',
      kernels: '0123456789abcdef',
      measuredAt: '2026-11-26T09:00:00.000Z',
      rows: 1024,
      cols: 1024,
      types: { Q8_0: { tuning: { workgroupSize: 64, threadsPerRow: 4 }, ms: 1, defaultMs: 2, speedup: 2 } },
    };
    const session = syntheticSession({ model: 'stories260K', description: 'measured while loading' });
    w.say({ type: 'tuned', record, session });
    expect(parseTuningFile(kept!, 'kept').records).toEqual([record]);
    await expect.poll(() => sessions.list().map((s) => s.description)).toEqual(['measured while loading']);
    // Upload progress replaces the tuning line.
    w.say({ type: 'progress', bytesDone: 1, bytesTotal: 2, tensor: 'x' });
    expect(host.state).not.toHaveProperty('tuning');
    host.dispose();
    // The next load passes it on.
    const w2 = fakeWorker();
    const again = new EngineHost(api, () => w2.worker, tuningStore);
    void again.load(modelId).catch(() => undefined);
    expect(((await postedWhen(w2, (m) => m.type === 'load')).msg as Extract<ToWorker, { type: 'load' }>).tuning.records).toEqual([record]);
    again.dispose();
  });
});

describe('stored LoRA adapters (engine:adapter)', () => {
  it('serves an adapter stored beside the model whole, refuses unknown and bad names; the worker asks for it after the header', async () => {
    const bytes = generateLoraAdapterBytes({ base: gguf.header, rank: 4, alpha: 8, seed: 3 });
    await store.volume.put(adapterFile(modelId, 'tiny-lora'), [bytes], { overwrite: true, size: bytes.length });
    const got = await call('engine:adapter', { model: modelId, name: 'tiny-lora' });
    expect(got.ok).toBe(true);
    expect(Buffer.from((got as { value: { bytes: Uint8Array } }).value.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect((await fails('engine:adapter', { model: modelId, name: 'nope' })).message).toMatch(/has no stored adapter named nope/);
    expect((await fails('engine:adapter', { model: modelId, name: '../x' })).message).toMatch(/name/);
    // What the worker asks over its own link when it loads: the header, then the adapter by the model's id.
    const asked: string[] = [];
    const api = createApi({ invoke: (c, r) => (asked.push(c), dispatch(c, r, { transport: 'direct', origin: 'test' })), subscribe: () => () => undefined });
    const heard: string[] = [];
    const inputs = await fetchLoadInputs(api, 'stories260K', { name: 'tiny-lora', scale: 0.5 }, { onHeader: (h) => heard.push(`${h.id} before ${asked.length} calls`) });
    expect(asked).toEqual(['engine:header', 'engine:adapter']);
    expect(heard).toEqual([`${modelId} before 1 calls`]);
    expect(inputs!.header.id).toBe(modelId);
    expect(inputs!.lora).toMatchObject({ name: 'tiny-lora', scale: 0.5 });
    expect(Buffer.from(inputs!.lora!.bytes).equals(Buffer.from(bytes))).toBe(true);
    // No adapter asked for: the header only. Aborted after the header: nothing more is asked.
    asked.length = 0;
    expect((await fetchLoadInputs(api, modelId, undefined))!.lora).toBeUndefined();
    expect(await fetchLoadInputs(api, modelId, { name: 'tiny-lora', scale: 1 }, { aborted: () => true })).toBeNull();
    expect(asked).toEqual(['engine:header', 'engine:header']);
    // An unknown adapter or model fails the load with the services' code.
    await expect(fetchLoadInputs(api, modelId, { name: 'nope', scale: 1 })).rejects.toMatchObject({ code: 'ADAPTER_NOT_FOUND' });
    await expect(fetchLoadInputs(api, 'no-such-model', undefined)).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });
});

describe('model removal', () => {
  it('a removed model is gone from both channels, though its header was served before', async () => {
    expect((await call('engine:header', { model: modelId })).ok).toBe(true);
    await store.remove(modelId);
    const h = await fails('engine:header', { model: modelId });
    const r = await fails('engine:read', { model: modelId, tensor: 'output_norm.weight', offset: 0, length: 4 });
    expect(h.code).toBe('MODEL_NOT_FOUND');
    expect(r.code).toBe('MODEL_NOT_FOUND');
  });
});
