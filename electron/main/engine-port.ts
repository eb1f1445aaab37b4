import { PxiError, serializeError } from '../../shared/errors';
import type { Dispatch } from '../../shared/ipc/dispatch';
import { engineOnly, parsePortCall, type PortAnswer } from '../../shared/ipc/engine-port';
import { IPC_ERRORS } from '../../shared/ipc/envelope';
import { MAX_FRAME_DEPTH, valueDepthExceeds } from '../web/frame-depth';
import { checkSender, type SenderFacts } from './sender-check';

/**
 * The main process's side of an Electron engine port (shared/ipc/engine-port.ts): the engine
 * worker's calls arrive on a MessagePortMain and go to the dispatcher, engine:* channels only.
 * The frame that handed the port over is checked when it arrives and again on every call (a
 * frame that navigated away or closed has every later call refused). Kept free of Electron imports: the port
 * is anything with MessagePortMain's shape, so it is tested in plain Node.
 */
export interface EnginePortLike {
  on(event: 'message', listener: (ev: { data: unknown }) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  postMessage(message: PortAnswer): void;
  start(): void;
  close(): void;
}

export interface EnginePortOptions {
  dispatch: Dispatch;
  /** The sending frame as it is now (called per call: frames navigate and close). */
  sender: () => SenderFacts;
  allowedOrigins: readonly string[];
}

/** Serves `port`; returns false (and closes it) when the frame that sent it is refused. */
export function serveEnginePort(port: EnginePortLike, opts: EnginePortOptions): boolean {
  if (!checkSender(opts.sender(), opts.allowedOrigins).ok) {
    port.close();
    return false;
  }
  const dispatch = engineOnly(opts.dispatch);
  let open = true;
  const answer = (a: PortAnswer) => {
    if (!open) return;
    try {
      port.postMessage(a);
    } catch (e) {
      // An answer that cannot be cloned must not leave the worker waiting for it.
      port.postMessage({ id: a.id, result: { ok: false, error: serializeError(e) } });
    }
  };
  port.on('close', () => (open = false));
  port.on('message', (ev) => {
    const call = parsePortCall(ev.data);
    // Without an id there is nobody to answer; the page's worker never sends such a message.
    if (!call) return;
    void (async () => {
      const verdict = checkSender(opts.sender(), opts.allowedOrigins);
      if (!verdict.ok) {
        // Every call is answered (none is left waiting), each one refused.
        answer({ id: call.id, result: { ok: false, error: serializeError(new PxiError(IPC_ERRORS.FORBIDDEN_SENDER, `IPC refused: ${verdict.reason}`)) } });
        return;
      }
      // The same bound on nesting as the WebSocket's frames (electron/web/frame-depth.ts).
      if (valueDepthExceeds(call.payload)) {
        const error = new PxiError(IPC_ERRORS.INVALID_REQUEST, `invalid request: the frame nests deeper than ${MAX_FRAME_DEPTH} levels`, { field: 'payload' });
        answer({ id: call.id, result: { ok: false, error: serializeError(error) } });
        return;
      }
      answer({ id: call.id, result: await dispatch(call.channel, call.payload, { transport: 'electron', origin: verdict.origin }) });
    })();
  });
  port.start();
  return true;
}
