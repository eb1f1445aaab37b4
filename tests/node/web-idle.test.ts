/**
 * Browser mode closes connections that hold a socket and say nothing: a TCP connection that never
 * sends a request (Node's headersTimeout does not cover one that sent no byte), and a WebSocket
 * whose peer stopped answering pings (a vanished tab, a half-open connection). A live page that
 * answers pings keeps its WebSocket however quiet it is (issue 14, lesser faults).
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import { Services } from '../../electron/services';
import { startWebHost, type WebHost } from '../../electron/web/server';
import { fakeRendererDir } from '../support/web-client';

let tmp: string;
let services: Services;
let host: WebHost;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'web-idle-'));
  services = new Services({ dataDir: path.join(tmp, 'data'), mode: 'browser', version: '0.0.0-test', log: () => {} });
  host = await startWebHost({ services, rendererDir: fakeRendererDir(tmp), port: 0, idle: { socketMs: 300, heartbeatMs: 150 } });
});
afterAll(async () => {
  await host?.close();
  await services?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const closed = (emitter: { once(e: 'close', f: () => void): unknown }) => new Promise<void>((r) => emitter.once('close', () => r()));

function openSocket(autoPong: boolean): Promise<NodeWebSocket> {
  const ws = new NodeWebSocket(`ws://127.0.0.1:${host.port}/api?token=${host.token}`, { origin: `http://127.0.0.1:${host.port}`, autoPong });
  return new Promise((r, j) => {
    ws.once('open', () => r(ws));
    ws.once('error', j);
  });
}

describe('idle connections', () => {
  it('a TCP connection that never sends a request is closed by the server', async () => {
    const c = net.connect(host.port, '127.0.0.1');
    let sawData = false;
    c.on('data', () => (sawData = true));
    await closed(c);
    expect(sawData).toBe(false);
  });

  it('a WebSocket whose peer does not answer pings is terminated', async () => {
    const ws = await openSocket(false);
    let pings = 0;
    ws.on('ping', () => pings++);
    await closed(ws);
    expect(pings).toBeGreaterThanOrEqual(1);
  });

  it('a quiet WebSocket that answers pings stays open and is answered', async () => {
    const ws = await openSocket(true);
    try {
      // Three heartbeats, each answered: longer than the socket's idle limit (300 ms) as well.
      await new Promise<void>((r) => {
        let n = 0;
        ws.on('ping', () => ++n === 3 && r());
      });
      expect(ws.readyState).toBe(ws.OPEN);
      const answer = new Promise<{ ok: boolean }>((r) => ws.on('message', (d) => r((JSON.parse(String(d)) as { result: { ok: boolean } }).result)));
      ws.send(JSON.stringify({ id: 1, channel: 'models:list', payload: {} }));
      expect(await answer).toMatchObject({ ok: true });
    } finally {
      ws.close();
    }
  });
});
