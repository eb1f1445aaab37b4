import { z } from 'zod';
import { Empty } from './common';

/** The model catalogue of the volume, and inspection of a GGUF file before import. */
export const ModelSummary = z.strictObject({
  id: z.string(),
  name: z.string(),
  architecture: z.string(),
  parameterCount: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  tensorTypes: z.array(z.string()),
  verified: z.enum(['unverified', 'ok', 'corrupt']),
});

/** A listed model and whether the engine runs it (shared/engine/support.ts), decided from its header. */
export const ModelListEntry = ModelSummary.extend({
  runs: z.boolean(),
  /** Each missing part ("architecture: …", "tensor type: …", "tokenizer: …"), one per line; null when it runs. */
  runProblem: z.string().nullable(),
});

const ModelRef = z.strictObject({ id: z.string().min(1).max(256) });

/** What the import wizard shows before converting: enough to decide, nothing to act on yet. */
export const FileInspection = z.strictObject({
  path: z.string(),
  fileSize: z.number().int().nonnegative(),
  ggufVersion: z.number().int(),
  architecture: z.string().nullable(),
  name: z.string().nullable(),
  parameterCount: z.number().int().nonnegative(),
  tensorCount: z.number().int().nonnegative(),
  tensorTypes: z.array(z.strictObject({ type: z.string(), count: z.number().int(), bytes: z.number().int(), runnable: z.boolean() })),
  contextLength: z.number().int().nullable(),
  tokenizer: z.strictObject({ model: z.string().nullable(), vocabSize: z.number().int().nullable() }),
  chatTemplate: z.string().nullable(),
  /** Why the engine cannot run this model (unsupported architecture or tensor type), or null. */
  engineProblem: z.string().nullable(),
});

export const modelChannels = {
  'models:list': { request: Empty, response: z.strictObject({ models: z.array(ModelListEntry) }) },
  'models:inspectFile': { request: z.strictObject({ path: z.string().min(1).max(4096) }), response: FileInspection },
  'models:delete': { request: ModelRef, response: z.strictObject({ deleted: z.string() }) },
} as const;
