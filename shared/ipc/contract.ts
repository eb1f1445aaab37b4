import type { z } from 'zod';
import { appChannels, appEvents } from './channels/app';
import { modelChannels } from './channels/models';
import { taskChannels, taskEvents } from './channels/tasks';
import { mapChannels } from './channels/map';
import { engineChannels } from './channels/engine';
import { fileChannels } from './channels/files';
import { trainChannels, trainEvents } from './channels/train';
import { conversationChannels } from './channels/conversations';
import { corpusChannels } from './channels/corpus';
import { sessionChannels } from './channels/sessions';

/**
 * The IPC contract: every channel between the renderer and the main-process services is
 * declared once, with a validator for its request and its response, in a group module under
 * ./channels. Both transports (Electron IPC and the browser-mode WebSocket) carry exactly these
 * channels; the dispatcher refuses anything else. To add a channel: declare it in its group
 * (or a new group added here), implement it in `electron/services/`, and call it through the
 * typed client (`shared/ipc/client.ts`).
 */
export { AppInfo, LogEntry } from './channels/app';
export { FileInspection, ModelSummary } from './channels/models';
export { TaskInfo } from './channels/tasks';

export const channels = {
  ...appChannels,
  ...modelChannels,
  ...taskChannels,
  ...mapChannels,
  ...engineChannels,
  ...fileChannels,
  ...trainChannels,
  ...conversationChannels,
  ...corpusChannels,
  ...sessionChannels,
} as const;

/** Events the services push to the renderer (progress, notices). */
export const events = {
  ...appEvents,
  ...taskEvents,
  ...trainEvents,
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
