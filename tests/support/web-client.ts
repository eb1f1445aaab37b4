import fs, { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path, { join } from 'node:path';
import { WebSocket as NodeWebSocket } from 'ws';
import { createApi, type PxiApi, type Transport } from '../../shared/ipc/client';
import { connectWebSocket } from '../../renderer/src/transport-ws';
import { Services } from '../../electron/services';
import { startWebHost, type WebHost } from '../../electron/web/server';
import { memorySource } from '../../shared/binary/byte-source';
import { openGgufTensorSource, type TensorSource } from '../../shared/engine/tensor-source';
import { fixturePath } from './fixtures';

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

/** A browser-mode server over a fresh volume holding stories260K, with the GGUF opened beside it to compare bytes. */
export interface ServedStories {
  tmp: string;
  services: Services;
  host: WebHost;
  gguf: TensorSource;
  modelId: string;
}

export async function serveStories(prefix: string): Promise<ServedStories> {
  const model = fixturePath('models', 'stories260K.gguf');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const services = new Services({ dataDir: path.join(tmp, 'data'), mode: 'browser', version: '0.0.0-test' });
  const modelId = (await (await services.store()).import(model)).model.id;
  const gguf = await openGgufTensorSource(memorySource(new Uint8Array(fs.readFileSync(model))), model);
  const host = await startWebHost({ services, rendererDir: fakeRendererDir(tmp), port: 0 });
  return { tmp, services, host, gguf, modelId };
}

export async function closeServedStories(s: Partial<ServedStories>): Promise<void> {
  await s.host?.close();
  await s.services?.close();
  if (s.tmp) fs.rmSync(s.tmp, { recursive: true, force: true });
}
