/**
 * A deeply nested request frame over browser mode's WebSocket is refused as an invalid request
 * (IPC_INVALID_REQUEST, with its id) before it is validated, and the server goes on answering:
 * 100k levels used to answer INTERNAL "Maximum call stack size exceeded" after blocking every
 * client for seconds.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import { Services } from '../../electron/services';
import { MAX_FRAME_DEPTH, jsonDepthExceeds } from '../../electron/web/frame-depth';
import { startWebHost, type WebHost } from '../../electron/web/server';
import { encodeFrame } from '../../shared/ipc/binary-frame';
import { fakeRendererDir } from '../support/web-client';

let tmp: string;
let services: Services;
let host: WebHost;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'web-deep-'));
  services = new Services({ dataDir: path.join(tmp, 'data'), mode: 'browser', version: '0.0.0-test', log: () => {} });
  host = await startWebHost({ services, rendererDir: fakeRendererDir(tmp), port: 0 });
});
afterAll(async () => {
  await host?.close();
  await services?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function socket(): Promise<{ ws: NodeWebSocket; reply(id: number): Promise<{ ok: boolean; error?: { code: string; message: string } }> }> {
  const ws = new NodeWebSocket(`ws://127.0.0.1:${host.port}/api?token=${host.token}`, { origin: `http://127.0.0.1:${host.port}` });
  const replies = new Map<number, (r: never) => void>();
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const m = JSON.parse(String(data)) as { id?: number; result?: never };
    if (typeof m.id === 'number') replies.get(m.id)?.(m.result!);
  });
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  return { ws, reply: (id) => new Promise((r) => replies.set(id, r as (r: never) => void)) };
}

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('deeply nested frames', () => {
  it('counts nesting outside strings only', () => {
    expect(jsonDepthExceeds('{"a":[1,{"b":2}]}', 3)).toBe(false);
    expect(jsonDepthExceeds('{"a":[1,{"b":[]}]}', 3)).toBe(true);
    expect(jsonDepthExceeds(`{"a":"${'['.repeat(1000)}\\"{{{"}`, 1)).toBe(false);
  });

  it('a 100k-deep text frame answers IPC_INVALID_REQUEST with its id, and the next call is answered', async () => {
    const { ws, reply } = await socket();
    try {
      const answer = reply(7);
      // tasks:enqueue takes any params object: the depth reaches the task's own validation.
      ws.send(`{"id":7,"channel":"tasks:enqueue","payload":{"kind":"model.import","params":{"path":${nested(100_000)}}}}`);
      const r = await answer;
      expect(r.ok).toBe(false);
      expect(r.error?.code).toBe('IPC_INVALID_REQUEST');
      expect(r.error?.message).toContain(`${MAX_FRAME_DEPTH}`);
      const next = reply(8);
      ws.send(JSON.stringify({ id: 8, channel: 'models:list', payload: {} }));
      expect(await next).toMatchObject({ ok: true });
    } finally {
      ws.close();
    }
  });

  it('a deep payload inside a binary frame is refused the same way', async () => {
    const { ws, reply } = await socket();
    try {
      let payload: unknown = [];
      for (let i = 0; i < 1000; i++) payload = [payload];
      const answer = reply(9);
      ws.send(encodeFrame({ id: 9, channel: 'tasks:enqueue', payload: { kind: 'model.import', params: { path: payload, bytes: new Uint8Array(8) } } } as never) as Uint8Array);
      const r = await answer;
      expect(r.error?.code).toBe('IPC_INVALID_REQUEST');
    } finally {
      ws.close();
    }
  });
});
