import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket as NodeWebSocket } from 'ws';
import { createApi, type PxiApi, type Transport } from '../../shared/ipc/client';
import { connectWebSocket } from '../../renderer/src/transport-ws';
import type { WebHost } from '../../electron/web/server';

/**
 * The browser-mode client (renderer/src/transport-ws.ts) from Node, as a page would use it: the
 * socket sends our Origin and the token (in the URL; a page sends it as the cookie). `path`:
 * `/api` (the page's) or ENGINE_PORT_PATH (the engine worker's).
 */
export async function connectNodeClient(host: WebHost, path = '/api'): Promise<{ api: PxiApi; transport: Transport; close(): void }> {
  const origin = `http://127.0.0.1:${host.port}`;
  let socket: NodeWebSocket | undefined;
  const transport = await connectWebSocket(`ws://127.0.0.1:${host.port}${path}?token=${host.token}`, (url) => {
    socket = new NodeWebSocket(url, { origin });
    return socket as unknown as WebSocket;
  });
  return { api: createApi(transport), transport, close: () => socket?.close() };
}

/** A stand-in for the built renderer: startWebHost only needs an index.html to serve. */
export function fakeRendererDir(dir: string): string {
  const out = join(dir, 'renderer');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'index.html'), '<!doctype html><title>test</title>');
  return out;
}
