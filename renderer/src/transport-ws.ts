import { PxiError, serializeError } from '../../shared/errors';
import { decodeBinaryFrame, encodeFrame, MalformedFrameError } from '../../shared/ipc/binary-frame';
import type { Transport } from '../../shared/ipc/client';
import type { Channel, EventName } from '../../shared/ipc/contract';
import type { Envelope, ServerFrame } from '../../shared/ipc/envelope';

/** Makes the socket; Node callers (the read benchmark) pass one that sends Origin and the cookie. */
export type SocketFactory = (url: string) => WebSocket;

/**
 * The browser-mode transport: the same contract as Electron IPC, carried over a WebSocket to
 * `pxi serve`. The access token travels in the HttpOnly cookie the page load set. Answers that
 * hold bytes (engine:read) arrive as binary frames (shared/ipc/binary-frame.ts) whose parts are
 * views of the received ArrayBuffer: no base64, no copy.
 */
export function connectWebSocket(url: string, createSocket: SocketFactory = (u) => new WebSocket(u)): Promise<Transport> {
  const ws = createSocket(url);
  ws.binaryType = 'arraybuffer';
  const pending = new Map<number, (env: Envelope) => void>();
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  let nextId = 1;

  const failAll = (message: string) => {
    for (const resolve of pending.values()) {
      resolve({ ok: false, error: serializeError(new PxiError('IPC_TRANSPORT', message)) });
    }
    pending.clear();
  };

  const answer = (id: number, env: Envelope) => {
    pending.get(id)?.(env);
    pending.delete(id);
  };

  ws.addEventListener('message', (ev: MessageEvent<unknown>) => {
    let frame: ServerFrame;
    try {
      frame = (typeof ev.data === 'string' ? JSON.parse(ev.data) : decodeBinaryFrame(new Uint8Array(ev.data as ArrayBuffer))) as ServerFrame;
    } catch (e) {
      // A broken binary answer fails its call when the header still named it; others are dropped.
      if (e instanceof MalformedFrameError && typeof e.details?.id === 'number') answer(e.details.id, { ok: false, error: serializeError(e) });
      return;
    }
    if (frame === null || typeof frame !== 'object') return;
    if ('id' in frame) answer(frame.id, frame.result);
    else for (const l of listeners.get(frame.event) ?? []) l(frame.payload);
  });
  ws.addEventListener('close', () => failAll('the connection to the Pixel-LLM server closed; restart `pxi serve` and reload'));

  const transport: Transport = {
    invoke(channel: Channel, request: unknown) {
      if (ws.readyState !== ws.OPEN) {
        return Promise.resolve({ ok: false, error: serializeError(new PxiError('IPC_TRANSPORT', 'not connected to the Pixel-LLM server')) });
      }
      const id = nextId++;
      let wire: string | Uint8Array<ArrayBuffer>;
      try {
        wire = encodeFrame({ id, channel, payload: request });
      } catch (e) {
        return Promise.resolve({ ok: false, error: serializeError(e) });
      }
      return new Promise<Envelope>((resolve) => {
        pending.set(id, resolve);
        ws.send(wire);
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
