import type { z } from 'zod';
import { PxiError, serializeError } from '../errors';
import { channels, isChannel, type Channel, type Request, type Response } from './contract';
import { IPC_ERRORS, type Envelope } from './envelope';

/** Who is calling; the transport fills it in after it has checked the sender. */
export interface CallContext {
  transport: 'electron' | 'websocket' | 'direct';
  origin: string;
}

export type Handlers = {
  [C in Channel]: (request: z.output<(typeof channels)[C]['request']>, ctx: CallContext) => Promise<Response<C>> | Response<C>;
};

export type Dispatch = (channel: unknown, payload: unknown, ctx: CallContext) => Promise<Envelope>;

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(payload)'}: ${i.message}`)
    .join('; ');
}

/**
 * The one chokepoint every call passes, whatever the transport: the channel must be declared,
 * the request must match its validator, and the handler's response is checked too (a service
 * bug must not leak a shape the renderer did not agree to).
 */
export function createDispatcher(handlers: Handlers): Dispatch {
  return async (channel, payload, ctx) => {
    try {
      if (!isChannel(channel)) {
        const shown = typeof channel === 'string' ? JSON.stringify(channel.slice(0, 80)) : typeof channel;
        throw new PxiError(IPC_ERRORS.UNKNOWN_CHANNEL, `unknown IPC channel ${shown}: it is not declared in shared/ipc/contract.ts`, { channel: shown });
      }
      const spec = channels[channel];
      const req = spec.request.safeParse(payload);
      if (!req.success) {
        throw new PxiError(IPC_ERRORS.INVALID_REQUEST, `invalid request for ${channel}: ${describeIssues(req.error)}`, { channel });
      }
      const handler = handlers[channel] as (r: unknown, c: CallContext) => unknown;
      const value = await handler(req.data, ctx);
      const res = spec.response.safeParse(value);
      if (!res.success) {
        throw new PxiError(IPC_ERRORS.INVALID_RESPONSE, `the service answered ${channel} with an invalid response: ${describeIssues(res.error)}`, { channel });
      }
      return { ok: true, value: res.data };
    } catch (e) {
      return { ok: false, error: serializeError(e) };
    }
  };
}

/** Calls a handler set in-process (CLI, tests) through the same validation. */
export function directCaller(dispatch: Dispatch) {
  return async <C extends Channel>(channel: C, request: Request<C>): Promise<Response<C>> => {
    const env = await dispatch(channel, request, { transport: 'direct', origin: 'process' });
    if (!env.ok) throw new PxiError(env.error.code, env.error.message, env.error.details);
    return env.value as Response<C>;
  };
}
