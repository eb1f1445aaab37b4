/**
 * The engine worker's own link to the services (shared/ipc/engine-port.ts): the page opens it
 * and hands it to the worker, which then reads tensor bytes without the page thread relaying
 * them. Browser mode: the URL of a second WebSocket, which the worker opens itself (the
 * access-token cookie and the Origin go with it as with the page's). Electron: a MessagePort
 * the preload created, whose other end it sent to the main process.
 */
import { PxiError } from '../../../shared/errors';
import type { Transport } from '../../../shared/ipc/client';
import { ENGINE_PORT_MESSAGE, ENGINE_PORT_PATH, type EnginePortOpener } from '../../../shared/ipc/engine-port';
import { portTransport } from '../transport-port';
import { connectWebSocket } from '../transport-ws';

export type EngineLink = { kind: 'websocket'; url: string } | { kind: 'port'; port: MessagePort };

let nextPortId = 1;

/** The page's side: a new link for a new worker (each worker gets its own). */
export function openEngineLink(): Promise<EngineLink> {
  // The preload's bridge (declared in ../api.ts, which this module does not import).
  const bridge = (window as { pxiBridge?: Partial<EnginePortOpener> }).pxiBridge;
  if (!bridge) return Promise.resolve({ kind: 'websocket', url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${ENGINE_PORT_PATH}` });
  const open = bridge.openEnginePort;
  if (typeof open !== 'function') return Promise.reject(new PxiError('IPC_TRANSPORT', 'this preload cannot open an engine port'));
  const id = nextPortId++;
  return new Promise((resolve, reject) => {
    // The preload posts the port to this window; only its message, with this id, is taken.
    const onMessage = (ev: MessageEvent) => {
      const d = ev.data as { type?: unknown; id?: unknown } | null;
      if (ev.source !== window || d === null || typeof d !== 'object' || d.type !== ENGINE_PORT_MESSAGE || d.id !== id || ev.ports.length !== 1) return;
      window.removeEventListener('message', onMessage);
      resolve({ kind: 'port', port: ev.ports[0]! });
    };
    window.addEventListener('message', onMessage);
    try {
      open(id);
    } catch (e) {
      window.removeEventListener('message', onMessage);
      reject(e instanceof Error ? e : new PxiError('IPC_TRANSPORT', String(e)));
    }
  });
}

/** The worker's side: the transport its engine calls go over. */
export function connectEngineLink(link: EngineLink): Promise<Transport> {
  return link.kind === 'websocket' ? connectWebSocket(link.url) : Promise.resolve(portTransport(link.port));
}
