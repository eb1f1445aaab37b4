import { contextBridge, ipcRenderer } from 'electron';
import { isChannel, isEventName, type Channel, type EventName } from '../../shared/ipc/contract';
import type { Envelope } from '../../shared/ipc/envelope';
import type { Transport } from '../../shared/ipc/client';

/**
 * The sandboxed preload (bundled to one CommonJS file). It exposes a closed transport: calls
 * only on declared channels, events only by declared name, and listeners get the payload alone,
 * never ipcRenderer or an IpcRendererEvent. Answers holding bytes (engine:read) reach the page as
 * Uint8Array: IPC and the context bridge both copy them as cloneable values.
 */
const listeners = new Map<EventName, Set<(payload: unknown) => void>>();

ipcRenderer.on('pxi:event', (_event, name: unknown, payload: unknown) => {
  if (!isEventName(name)) return;
  for (const l of listeners.get(name) ?? []) l(payload);
});

const bridge: Transport = {
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
};

contextBridge.exposeInMainWorld('pxiBridge', bridge);
