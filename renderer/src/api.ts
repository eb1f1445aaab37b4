import { createApi, type PxiApi, type Transport } from '../../shared/ipc/client';
import type { EnginePortOpener } from '../../shared/ipc/engine-port';
import { connectWebSocket } from './transport-ws';

declare global {
  interface Window {
    /** Set by the Electron preload; absent in browser mode. openEnginePort: the engine worker's own port (engine/engine-link.ts). */
    pxiBridge?: Transport & Partial<EnginePortOpener>;
  }
}

/** One API for the whole renderer, over whichever transport this host provides. */
export async function connectApi(): Promise<{ api: PxiApi; transport: 'electron' | 'websocket' }> {
  if (window.pxiBridge) return { api: createApi(window.pxiBridge), transport: 'electron' };
  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api`;
  return { api: createApi(await connectWebSocket(wsUrl)), transport: 'websocket' };
}
