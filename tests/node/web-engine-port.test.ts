/**
 * Browser mode's engine port (shared/ipc/engine-port.ts) end to end in Node: the real server
 * over a volume holding stories260K, the renderer's own WebSocket client at /api/engine. The
 * port answers engine:* calls (tensor bytes as binary frames, identical to the GGUF's) through
 * the same validation; any other channel is refused as undeclared; the same token, cookie and
 * Origin guard stands in front of it; it gets no events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import type { Services } from '../../electron/services';
import type { WebHost } from '../../electron/web/server';
import type { TensorSource } from '../../shared/engine/tensor-source';
import { ENGINE_PORT_PATH } from '../../shared/ipc/engine-port';
import { fetchLoadInputs } from '../../renderer/src/engine/api-source';
import { closeServedStories, connectNodeClient, serveStories } from '../support/web-client';

let tmp: string;
let services: Services;
let host: WebHost;
let gguf: TensorSource;
let modelId: string;

beforeAll(async () => {
  ({ tmp, services, host, gguf, modelId } = await serveStories('web-engine-port-'));
});

afterAll(() => closeServedStories({ tmp, services, host }));

type Message = { data: unknown; isBinary: boolean };

/** A raw socket at `path` with the given headers; resolves once open, or with the HTTP status the upgrade was refused with. */
function rawSocket(
  socketPath: string,
  opts: { token?: string | null; origin?: string | null; cookie?: string } = {},
): Promise<{ ws: NodeWebSocket; next(): Promise<Message> } | { refused: number }> {
  const token = opts.token === undefined ? host.token : opts.token;
  const origin = opts.origin === undefined ? `http://127.0.0.1:${host.port}` : opts.origin;
  const url = `ws://127.0.0.1:${host.port}${socketPath}${token === null ? '' : `?token=${token}`}`;
  const ws = new NodeWebSocket(url, { ...(origin === null ? {} : { origin }), headers: opts.cookie ? { cookie: opts.cookie } : {} });
  const queue: Message[] = [];
  const waiters: ((m: Message) => void)[] = [];
  ws.on('message', (data, isBinary) => {
    const m = { data: isBinary ? data : JSON.parse(String(data)), isBinary };
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))) }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ refused: res.statusCode ?? 0 });
      res.resume();
      ws.terminate();
    });
    ws.once('error', (e) => reject(e));
  });
}

async function open(socketPath: string) {
  const s = await rawSocket(socketPath);
  if ('refused' in s) throw new Error(`refused with ${s.refused}`);
  return s;
}

describe('the engine port over browser mode', () => {
  it('answers engine:header and engine:read, the bytes identical to the GGUF, in binary frames', async () => {
    const client = await connectNodeClient(host, ENGINE_PORT_PATH);
    try {
      const header = await client.api.call('engine:header', { model: modelId });
      expect(header.id).toBe(modelId);
      expect(header.tensors.map((t) => t.name)).toEqual(gguf.header.tensors.map((t) => t.name));
      for (const t of gguf.header.tensors) {
        const { bytes } = await client.api.call('engine:read', { model: modelId, tensor: t.name, offset: 0, length: t.byteSize });
        expect(Buffer.from(bytes).equals(Buffer.from(await gguf.read(t.name, 0, t.byteSize))), t.name).toBe(true);
      }
    } finally {
      client.close();
    }
    // On the wire: the answer holding bytes is one binary frame, as on /api.
    const s = await open(ENGINE_PORT_PATH);
    s.ws.send(JSON.stringify({ id: 3, channel: 'engine:read', payload: { model: modelId, tensor: 'output_norm.weight', offset: 0, length: 16 } }));
    expect((await s.next()).isBinary).toBe(true);
    s.ws.close();
  });

  it('serves what a load asks before the weights (the worker\'s fetchLoadInputs): the header, and engine:adapter validated and answered', async () => {
    const client = await connectNodeClient(host, ENGINE_PORT_PATH);
    try {
      const inputs = await fetchLoadInputs(client.api, 'stories260K', undefined);
      expect(inputs!.header.id).toBe(modelId);
      // engine:adapter reaches its handler through the port (no adapter is stored: its own error, not an unknown channel).
      await expect(fetchLoadInputs(client.api, modelId, { name: 'tiny-lora', scale: 1 })).rejects.toMatchObject({ code: 'ADAPTER_NOT_FOUND' });
      const bad = await client.transport.invoke('engine:adapter', { model: modelId, name: '../x' });
      expect(bad).toMatchObject({ ok: false, error: { code: 'IPC_INVALID_REQUEST', message: expect.stringContaining('name') } });
    } finally {
      client.close();
    }
  });

  it('refuses every other channel with the dispatcher\'s unknown-channel error, which /api serves', async () => {
    const engine = await connectNodeClient(host, ENGINE_PORT_PATH);
    const page = await connectNodeClient(host);
    try {
      for (const channel of ['models:list', 'app:info', 'tasks:list', 'nope:nope'] as const) {
        const env = await engine.transport.invoke(channel as 'models:list', {});
        expect(env.ok, channel).toBe(false);
        expect((env as { ok: false; error: { code: string; message: string } }).error, channel).toMatchObject({ code: 'IPC_UNKNOWN_CHANNEL', message: expect.stringContaining('engine port') });
      }
      // The same call on the page's socket is served: it is the port that refuses, not the channel.
      expect((await page.transport.invoke('models:list', {})).ok).toBe(true);
    } finally {
      engine.close();
      page.close();
    }
  });

  it('validates as /api does: a bad request names the field; a deep frame is refused before parsing; a bad frame is malformed', async () => {
    const s = await open(ENGINE_PORT_PATH);
    s.ws.send(JSON.stringify({ id: 1, channel: 'engine:read', payload: { model: modelId, tensor: 'output_norm.weight', offset: 0, length: 8 * 1024 * 1024 + 1 } }));
    expect((await s.next()).data).toMatchObject({ id: 1, result: { ok: false, error: { code: 'IPC_INVALID_REQUEST', message: expect.stringContaining('length') } } });
    s.ws.send(`{"id":2,"channel":"engine:header","payload":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    expect((await s.next()).data).toMatchObject({ id: 2, result: { ok: false, error: { code: 'IPC_INVALID_REQUEST', message: expect.stringContaining('nests deeper') } } });
    s.ws.send('not json');
    expect((await s.next()).data).toMatchObject({ id: -1, result: { ok: false, error: { code: 'IPC_MALFORMED_FRAME' } } });
    // The connection still serves.
    s.ws.send(JSON.stringify({ id: 4, channel: 'engine:header', payload: { model: modelId } }));
    expect((await s.next()).data).toMatchObject({ id: 4, result: { ok: true } });
    s.ws.close();
  });

  it('stands behind the same guard: a wrong or missing token, a foreign or missing Origin are refused; the cookie is accepted', async () => {
    expect(await rawSocket(ENGINE_PORT_PATH, { token: 'wrong' })).toEqual({ refused: 403 });
    expect(await rawSocket(ENGINE_PORT_PATH, { token: null })).toEqual({ refused: 401 });
    expect(await rawSocket(ENGINE_PORT_PATH, { origin: 'http://evil.example' })).toEqual({ refused: 403 });
    expect(await rawSocket(ENGINE_PORT_PATH, { origin: null })).toEqual({ refused: 403 });
    // Other paths under /api are not endpoints.
    expect(await rawSocket('/api/engine/x')).toEqual({ refused: 404 });
    const byCookie = await rawSocket(ENGINE_PORT_PATH, { token: null, cookie: `pxi_token_${host.port}=${host.token}` });
    expect('ws' in byCookie).toBe(true);
    if ('ws' in byCookie) byCookie.ws.close();
  });

  it('gets no events: an event the page\'s socket receives is not sent to the engine port', async () => {
    const engine = await open(ENGINE_PORT_PATH);
    const page = await open('/api');
    services.emit('app:notice', { level: 'warn', message: 'for pages only' });
    expect((await page.next()).data).toMatchObject({ event: 'app:notice', payload: { message: 'for pages only' } });
    // The server sent any event before it answers a call made after it: the first message is the answer.
    engine.ws.send(JSON.stringify({ id: 9, channel: 'engine:header', payload: { model: modelId } }));
    expect((await engine.next()).data).toMatchObject({ id: 9, result: { ok: true } });
    engine.ws.close();
    page.ws.close();
  });
});
