import { z } from 'zod';
import { Empty } from './common';

/** The durable task queue (import, verify, export, pyramid), with progress pushed as events. */
export const TaskState = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);

export const TaskInfo = z.strictObject({
  id: z.number().int(),
  kind: z.string(),
  params: z.unknown(),
  state: TaskState,
  progress: z.strictObject({ done: z.number(), total: z.number().nullable(), unit: z.string(), message: z.string() }),
  attempts: z.number().int(),
  resumes: z.number().int(),
  result: z.unknown(),
  error: z.strictObject({ code: z.string(), name: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }).nullable(),
  createdAt: z.number(),
  /** When the latest run began; null for a task that never ran. */
  startedAt: z.number().nullable(),
  updatedAt: z.number(),
  finishedAt: z.number().nullable(),
});

const TaskRef = z.strictObject({ id: z.number().int().positive() });
/** Task kinds a renderer may start; each handler validates its own params. */
export const TaskKind = z.enum(['model.import', 'model.verify', 'model.export', 'map.pyramid']);

export const taskChannels = {
  'tasks:list': { request: Empty, response: z.strictObject({ tasks: z.array(TaskInfo) }) },
  'tasks:enqueue': { request: z.strictObject({ kind: TaskKind, params: z.record(z.string(), z.unknown()) }), response: TaskInfo },
  'tasks:cancel': { request: TaskRef, response: TaskInfo },
  'tasks:retry': { request: TaskRef, response: TaskInfo },
} as const;

export const taskEvents = {
  'tasks:changed': TaskInfo,
} as const;
