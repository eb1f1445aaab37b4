import { z } from 'zod';
import { Empty } from './common';

/** App-level channels: who is serving, and renderer log lines for the main-process log. */
export const AppInfo = z.strictObject({
  name: z.string(),
  version: z.string(),
  /** Which host runs the services: the Electron main process or `pxi serve`. */
  mode: z.enum(['electron', 'browser']),
  platform: z.string(),
  nodeVersion: z.string(),
  dataDir: z.string(),
});

export const LogEntry = z.strictObject({
  level: z.enum(['info', 'warn', 'error']),
  message: z.string().min(1).max(4000),
});

export const appChannels = {
  'app:info': { request: Empty, response: AppInfo },
  'app:log': { request: LogEntry, response: z.strictObject({ logged: z.literal(true) }) },
} as const;

export const appEvents = {
  'app:notice': z.strictObject({ level: z.enum(['info', 'warn', 'error']), message: z.string() }),
} as const;
