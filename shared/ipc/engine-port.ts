import { PxiError, serializeError } from '../errors';
import { isChannel, type Channel } from './contract';
import type { Dispatch } from './dispatch';
import { IPC_ERRORS, type Envelope } from './envelope';

/**
 * The engine worker's own port to the dispatcher: tensor bytes go from the services straight to
 * the worker instead of through the page thread. The port carries the `engine:*` channels only
 * (no events, no other call), through the same sender check and the same validating dispatcher
 * as the page's transport. Browser mode opens it as a second WebSocket at ENGINE_PORT_PATH;
 * Electron as a MessagePort the preload creates and hands to the main process over IPC.
 */

/** The browser-mode WebSocket path of an engine port (the page's own is `/api`). */
export const ENGINE_PORT_PATH = '/api/engine';
/** The Electron IPC channel the preload sends the main process its end of a new engine port on. */
export const ENGINE_PORT_IPC = 'pxi:engine-port';
/** The `type` of the window message that hands the page its end of a new engine port (Electron). */
export const ENGINE_PORT_MESSAGE = 'pxi:engine-port';

/** What the Electron preload adds to the page's bridge: opens a port and posts it to the window as `{type: ENGINE_PORT_MESSAGE, id}`. */
export interface EnginePortOpener {
  openEnginePort(id: number): void;
}

export type EngineChannel = Extract<Channel, `engine:${string}`>;

export function isEngineChannel(channel: unknown): channel is EngineChannel {
  return isChannel(channel) && channel.startsWith('engine:');
}

/**
 * The dispatcher as an engine port sees it: any other channel is refused with the error an
 * undeclared channel gets (on this port it is not declared), everything else as usual.
 */
export function engineOnly(dispatch: Dispatch): Dispatch {
  return async (channel, payload, ctx) => {
    if (isEngineChannel(channel)) return dispatch(channel, payload, ctx);
    const shown = typeof channel === 'string' ? JSON.stringify(channel.slice(0, 80)) : typeof channel;
    const error = new PxiError(IPC_ERRORS.UNKNOWN_CHANNEL, `unknown IPC channel ${shown} on the engine port: it carries engine:* channels only`, { channel: shown });
    return { ok: false, error: serializeError(error) };
  };
}

/** One call over a MessagePort engine port (Electron): what the worker posts. */
export interface PortCall {
  id: number;
  channel: string;
  payload: unknown;
}

/** One answer over a MessagePort engine port: what the main process posts back. */
export interface PortAnswer {
  id: number;
  result: Envelope;
}

/** A port message as a call, or null: anything else is not answered (there is no id to answer). */
export function parsePortCall(data: unknown): PortCall | null {
  if (data === null || typeof data !== 'object') return null;
  const d = data as Record<string, unknown>;
  if (!Number.isSafeInteger(d.id) || typeof d.channel !== 'string') return null;
  return { id: d.id as number, channel: d.channel, payload: d.payload };
}

/** A port message as an answer, or null (the worker drops what is not one). */
export function parsePortAnswer(data: unknown): PortAnswer | null {
  if (data === null || typeof data !== 'object') return null;
  const d = data as Record<string, unknown>;
  const r = d.result as Record<string, unknown> | null | undefined;
  if (!Number.isSafeInteger(d.id) || r === null || typeof r !== 'object' || typeof r.ok !== 'boolean') return null;
  return { id: d.id as number, result: r as unknown as Envelope };
}
