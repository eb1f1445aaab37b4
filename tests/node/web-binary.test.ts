/**
 * engine:read over browser mode's WebSocket, end to end in Node: the real server (startWebHost
 * with the services over a volume holding stories260K), the renderer's own client. Tensor
 * bytes arrive as binary frames, identical to the GGUF's; hostile binary frames are refused
 * with IPC_MALFORMED_FRAME and the server keeps serving.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import type { Services } from '../../electron/services';
import { type WebHost } from '../../electron/web/server';
import type { TensorSource } from '../../shared/engine/tensor-source';
import { encodeFrame } from '../../shared/ipc/binary-frame';
import { closeServedStories, connectNodeClient, serveStories } from '../support/web-client';

let tmp: string;
let services: Services;
let host: WebHost;
let gguf: TensorSource;
let modelId: string;

beforeAll(async () => {
  ({ tmp, services, host, gguf, modelId } = await serveStories('web-binary-'));
});

afterAll(() => closeServedStories({ tmp, services, host }));

/** A raw socket that passes the guard, for frames the client would never send. */
async function rawSocket(): Promise<{ ws: NodeWebSocket; next(): Promise<{ data: unknown; isBinary: boolean }>; closed: Promise<number> }> {
  const ws = new NodeWebSocket(`ws://127.0.0.1:${host.port}/api?token=${host.token}`, { origin: `http://127.0.0.1:${host.port}` });
  const queue: { data: unknown; isBinary: boolean }[] = [];
  const waiters: ((m: { data: unknown; isBinary: boolean }) => void)[] = [];
  ws.on('message', (data, isBinary) => {
    const m = { data: isBinary ? data : JSON.parse(String(data)), isBinary };
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  return { ws, next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))), closed };
}

describe('engine:read over the WebSocket', () => {
  it('carries every tensor as binary frames, byte-identical to the GGUF', async () => {
    const client = await connectNodeClient(host);
    try {
      let total = 0;
      for (const t of gguf.header.tensors) {
        // Reads at odd offsets and lengths too, so parts are not always 8-byte multiples.
        for (const [offset, length] of [
          [0, t.byteSize],
          [Math.min(3, t.byteSize - 1), Math.max(1, Math.min(t.byteSize - 3, 4093))],
        ] as const) {
          const { bytes } = await client.api.call('engine:read', { model: modelId, tensor: t.name, offset, length });
          expect(bytes).toBeInstanceOf(Uint8Array);
          expect(Buffer.from(bytes).equals(Buffer.from(await gguf.read(t.name, offset, length))), `${t.name} ${offset}+${length}`).toBe(true);
          total += bytes.byteLength;
        }
      }
      expect(total).toBeGreaterThan(1_000_000);
      // Errors and JSON answers still cross as before.
      await expect(client.api.call('engine:read', { model: modelId, tensor: 'nope', offset: 0, length: 4 })).rejects.toMatchObject({ code: 'ENGINE_TENSOR_READ' });
      expect((await client.api.call('app:info', {})).mode).toBe('browser');
    } finally {
      client.close();
    }
  });

  it('the answer on the wire is one binary frame, not JSON text', async () => {
    const s = await rawSocket();
    try {
      s.ws.send(JSON.stringify({ id: 5, channel: 'engine:read', payload: { model: modelId, tensor: 'output_norm.weight', offset: 0, length: 256 } }));
      const m = await s.next();
      expect(m.isBinary).toBe(true);
      const buf = m.data as Buffer;
      expect(buf.subarray(0, 4).toString('latin1')).toBe('PXB1');
      // Header + 256 bytes, nothing like base64's 4/3.
      expect(buf.length).toBeLessThan(256 + 200);
    } finally {
      s.ws.close();
    }
  });

  it('refuses malformed, truncated and oversized binary frames with a typed error, and keeps serving', async () => {
    const s = await rawSocket();
    const call = encodeFrame({ id: 77, channel: 'app:info', payload: { pad: new Uint8Array(16) } }) as Uint8Array;
    const replies: { id: number; result: { ok: boolean; error?: { code: string; message: string } } }[] = [];
    const frames: [string, Uint8Array][] = [
      ['bad magic', Uint8Array.from([0x47, 0x45, 0x54, 0x20, 1, 0, 0, 0])],
      ['too short', Uint8Array.from([0x50, 0x58])],
      ['truncated part', call.subarray(0, call.length - 5)],
      ['header length past the end', (() => {
        const c = call.slice();
        new DataView(c.buffer).setUint32(4, 1 << 20, true);
        return c;
      })()],
    ];
    for (const [, f] of frames) {
      s.ws.send(f);
      replies.push((await s.next()).data as (typeof replies)[number]);
    }
    for (const [i, r] of replies.entries()) {
      expect(r.result.ok, frames[i]![0]).toBe(false);
      expect(r.result.error?.code, frames[i]![0]).toBe('IPC_MALFORMED_FRAME');
    }
    expect(replies[0]!.result.error?.message).toContain('magic');
    expect(replies[1]!.id).toBe(-1);
    // A truncated part still named its frame: that call gets the error.
    expect(replies[2]!.id).toBe(77);
    expect(replies[2]!.result.error?.message).toMatch(/parts\[0\].*need 16 bytes, 11 available/);
    // A well-formed binary call reaches the dispatcher, which judges its payload like any other.
    s.ws.send(call);
    const judged = (await s.next()).data as (typeof replies)[number];
    expect(judged.id).toBe(77);
    expect(judged.result.error?.code).toBe('IPC_INVALID_REQUEST');
    // Above the frame limit (16 MiB) the connection is closed (1009) before anything is parsed.
    s.ws.send(new Uint8Array(16 * 1024 * 1024 + 1));
    expect(await s.closed).toBe(1009);
    // The server itself is fine.
    const client = await connectNodeClient(host);
    try {
      expect((await client.api.call('app:info', {})).mode).toBe('browser');
    } finally {
      client.close();
    }
  });

  it('a request URL that does not parse is refused, for a page and for an upgrade, and the server goes on', async () => {
    const raw = (head: string) =>
      new Promise<string>((resolve, reject) => {
        const sock = connect(host.port, '127.0.0.1', () => sock.write(head));
        let text = '';
        sock.on('data', (d) => (text += String(d)));
        sock.on('end', () => resolve(text));
        sock.on('close', () => resolve(text));
        sock.on('error', reject);
        setTimeout(() => sock.destroy(), 2000);
      });
    const base = `Host: 127.0.0.1:${host.port}\r\nOrigin: http://127.0.0.1:${host.port}\r\nConnection: close\r\n`;
    expect(await raw(`GET //[ HTTP/1.1\r\n${base}\r\n`)).toMatch(/^HTTP\/1\.1 400/);
    const upgrade = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    expect(await raw(`GET //[ HTTP/1.1\r\nHost: 127.0.0.1:${host.port}\r\nOrigin: http://127.0.0.1:${host.port}\r\n${upgrade}\r\n`)).toMatch(/^HTTP\/1\.1 400/);
    const client = await connectNodeClient(host);
    try {
      expect((await client.api.call('app:info', {})).mode).toBe('browser');
    } finally {
      client.close();
    }
  });
});
