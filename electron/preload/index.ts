import { contextBridge, ipcRenderer } from 'electron';
import { isChannel, isEventName, type Channel, type EventName } from '../../shared/ipc/contract';
import { ENGINE_PORT_IPC, ENGINE_PORT_MESSAGE, type EnginePortOpener } from '../../shared/ipc/engine-port';
import type { Envelope } from '../../shared/ipc/envelope';
import type { Transport } from '../../shared/ipc/client';

/**
 * The sandboxed preload (bundled to one CommonJS file). It exposes a closed transport: calls
 * only on declared channels, events only by declared name, and listeners get the payload alone,
 * never ipcRenderer or an IpcRendererEvent. Answers holding bytes (engine:read) reach the page as
 * Uint8Array: IPC and the context bridge both copy them as cloneable values. The engine
 * worker's reads take their own port (openEnginePort), not this bridge.
 */
const listeners = new Map<EventName, Set<(payload: unknown) => void>>();

ipcRenderer.on('pxi:event', (_event, name: unknown, payload: unknown) => {
  if (!isEventName(name)) return;
  for (const l of listeners.get(name) ?? []) l(payload);
});

const bridge: Transport & EnginePortOpener = {
  invoke(channel: Channel, request: unknown): Promise<Envelope> {
    if (!isChannel(channel)) {
      return Promise.resolve({
        ok: false,
        error: { code: 'IPC_UNKNOWN_CHANNEL', name: 'PxiError', message: `unknown IPC channel ${JSON.stringify(String(channel))}` },
      });
    }
    return ipcRenderer.invoke('pxi:invoke', channel, request) as Promise<Envelope>;
  },
  subscribe(event: EventName, listener: (payload: unknown) => void): () => void {
    if (!isEventName(event)) throw new Error(`unknown event ${String(event)}`);
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  },
  /**
   * A MessagePort for the engine worker (shared/ipc/engine-port.ts): one end goes to the main
   * process, which checks this frame and serves engine:* calls on it; the other is posted to
   * this window, where the page takes it (checking the message came from this window) and
   * transfers it to its worker. A port cannot cross the context bridge; a window message can.
   */
  openEnginePort(id: number): void {
    if (!Number.isSafeInteger(id)) throw new TypeError('openEnginePort: the id must be an integer');
    const { port1, port2 } = new MessageChannel();
    ipcRenderer.postMessage(ENGINE_PORT_IPC, null, [port1]);
    // To this window only ('*' names no other one); the main process re-checks the frame per call.
    window.postMessage({ type: ENGINE_PORT_MESSAGE, id }, '*', [port2]);
  },
};

contextBridge.exposeInMainWorld('pxiBridge', bridge);
