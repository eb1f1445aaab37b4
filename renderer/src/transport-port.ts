import { PxiError, serializeError } from '../../shared/errors';
import type { Transport } from '../../shared/ipc/client';
import type { Channel } from '../../shared/ipc/contract';
import { parsePortAnswer, type PortCall } from '../../shared/ipc/engine-port';
import type { Envelope } from '../../shared/ipc/envelope';

/** The parts of a MessagePort used here (a DOM MessagePort in the renderer, a worker_threads one in tests). */
export interface PortEnd {
  postMessage(message: PortCall): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
  start(): void;
  close(): void;
}

/**
 * A transport over a MessagePort to the Electron main process (the engine worker's own port,
 * shared/ipc/engine-port.ts): calls only, no events. Answers holding bytes arrive as Uint8Array
 * by structured clone, as over `ipcRenderer.invoke`.
 */
export function portTransport(port: PortEnd): Transport & { close(): void } {
  const pending = new Map<number, (env: Envelope) => void>();
  let nextId = 1;
  let closed = false;
  port.addEventListener('message', (ev) => {
    const a = parsePortAnswer(ev.data);
    if (!a) return;
    pending.get(a.id)?.(a.result);
    pending.delete(a.id);
  });
  port.start();
  return {
    invoke(channel: Channel, request: unknown) {
      if (closed) return Promise.resolve({ ok: false, error: serializeError(new PxiError('IPC_TRANSPORT', 'the engine port is closed')) });
      const id = nextId++;
      return new Promise<Envelope>((resolve) => {
        pending.set(id, resolve);
        port.postMessage({ id, channel, payload: request });
      });
    },
    subscribe() {
      // The engine port carries no events (the page's transport does).
      return () => undefined;
    },
    close() {
      closed = true;
      port.close();
      for (const resolve of pending.values()) resolve({ ok: false, error: serializeError(new PxiError('IPC_TRANSPORT', 'the engine port was closed')) });
      pending.clear();
    },
  };
}
