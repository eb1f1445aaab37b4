import { z } from 'zod';

/**
 * The IPC contract: every channel between the renderer and the main-process services is
 * declared here once, with a validator for its request and its response. Both transports
 * (Electron IPC and the browser-mode WebSocket) carry exactly these channels; the dispatcher
 * refuses anything else. To add a channel: declare it here, implement it in
 * `electron/services/`, and call it through the typed client (`shared/ipc/client.ts`).
 */

const Empty = z.strictObject({});

export const AppInfo = z.strictObject({
  name: z.string(),
  version: z.string(),
  /** Which host runs the services: the Electron main process or `pxi serve`. */
  mode: z.enum(['electron', 'browser']),
  platform: z.string(),
  nodeVersion: z.string(),
  dataDir: z.string(),
});

export const ModelSummary = z.strictObject({
  id: z.string(),
  name: z.string(),
  architecture: z.string(),
  parameterCount: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  tensorTypes: z.array(z.string()),
  verified: z.enum(['unverified', 'ok', 'corrupt']),
});

export const LogEntry = z.strictObject({
  level: z.enum(['info', 'warn', 'error']),
  message: z.string().min(1).max(4000),
});

export const channels = {
  'app:info': { request: Empty, response: AppInfo },
  'app:log': { request: LogEntry, response: z.strictObject({ logged: z.literal(true) }) },
  'models:list': { request: Empty, response: z.strictObject({ models: z.array(ModelSummary) }) },
} as const;

/** Events the services push to the renderer (progress, notices). */
export const events = {
  'app:notice': z.strictObject({ level: z.enum(['info', 'warn', 'error']), message: z.string() }),
} as const;

export type Channel = keyof typeof channels;
export type Request<C extends Channel> = z.input<(typeof channels)[C]['request']>;
export type Response<C extends Channel> = z.output<(typeof channels)[C]['response']>;
export type EventName = keyof typeof events;
export type EventPayload<E extends EventName> = z.output<(typeof events)[E]>;

export const channelNames = Object.keys(channels) as Channel[];
export const eventNames = Object.keys(events) as EventName[];

export function isChannel(name: unknown): name is Channel {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(channels, name);
}

export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(events, name);
}
