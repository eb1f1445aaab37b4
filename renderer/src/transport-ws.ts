import { PxiError, serializeError } from '../../shared/errors';
import type { Transport } from '../../shared/ipc/client';
import type { Channel, EventName } from '../../shared/ipc/contract';
import type { Envelope, ServerFrame } from '../../shared/ipc/envelope';

/**
 * The browser-mode transport: the same contract as Electron IPC, carried over a WebSocket to
 * `pxi serve`. The access token travels in the HttpOnly cookie the page load set.
 */
export function connectWebSocket(url: string): Promise<Transport> {
  const ws = new WebSocket(url);
  const pending = new Map<number, (env: Envelope) => void>();
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  let nextId = 1;

  const failAll = (message: string) => {
    for (const resolve of pending.values()) {
      resolve({ ok: false, error: serializeError(new PxiError('IPC_TRANSPORT', message)) });
    }
    pending.clear();
  };

  ws.addEventListener('message', (ev) => {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(String(ev.data)) as ServerFrame;
    } catch {
      return;
    }
    if ('id' in frame) {
      pending.get(frame.id)?.(frame.result);
      pending.delete(frame.id);
    } else {
      for (const l of listeners.get(frame.event) ?? []) l(frame.payload);
    }
  });
  ws.addEventListener('close', () => failAll('the connection to the Pixel-LLM server closed; restart `pxi serve` and reload'));

  const transport: Transport = {
    invoke(channel: Channel, request: unknown) {
      if (ws.readyState !== WebSocket.OPEN) {
        return Promise.resolve({ ok: false, error: serializeError(new PxiError('IPC_TRANSPORT', 'not connected to the Pixel-LLM server')) });
      }
      const id = nextId++;
      return new Promise<Envelope>((resolve) => {
        pending.set(id, resolve);
        ws.send(JSON.stringify({ id, channel, payload: request }));
      });
    },
    subscribe(event: EventName, listener) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener);
      return () => set.delete(listener);
    },
  };

  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () => resolve(transport), { once: true });
    ws.addEventListener('error', () => reject(new PxiError('IPC_TRANSPORT', `could not connect to ${url}: open the URL that \`pxi serve\` printed`)), {
      once: true,
    });
  });
}
