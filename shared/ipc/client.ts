import { RemoteError } from '../errors';
import type { Channel, EventName, EventPayload, Request, Response } from './contract';
import type { Envelope } from './envelope';

/** The closed API the renderer sees: one typed call and one typed event subscription. */
export interface PxiApi {
  call<C extends Channel>(channel: C, request: Request<C>): Promise<Response<C>>;
  /** Returns a function that removes the listener. The listener receives the payload only. */
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
}

/** What a transport provides: the raw envelope for a call, and raw events. */
export interface Transport {
  invoke(channel: Channel, request: unknown): Promise<Envelope>;
  subscribe(event: EventName, listener: (payload: unknown) => void): () => void;
}

export function createApi(transport: Transport): PxiApi {
  return {
    async call(channel, request) {
      const env = await transport.invoke(channel, request);
      if (!env.ok) throw new RemoteError(env.error);
      return env.value as Response<typeof channel>;
    },
    on(event, listener) {
      return transport.subscribe(event, listener as (p: unknown) => void);
    },
  };
}
