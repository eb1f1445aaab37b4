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

/** The most adapters listed for one model. */
export const MAX_ADAPTERS = 1000;

/** A LoRA adapter kept beside its base model in the volume (`adapters/MODEL-ID/NAME.gguf`), by name. */
export const AdapterRef = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/),
  bytes: z.number().int().nonnegative(),
});

/** A stored adapter as its GGUF describes it (what `pxi finetune` and the app's fine-tune write there). */
export const AdapterInfo = AdapterRef.extend({
  /** LoRA rank (the A matrices' rows) and alpha; null where the file does not say. */
  rank: z.number().int().positive().nullable(),
  alpha: z.number().nullable(),
  /** The adapted matrices' kinds (attn_q, ffn_up, …), in the file's order. */
  targets: z.array(z.string().max(64)).max(64),
  /** Steps trained, and the validation loss at the end (nats/token), when the fine-tune recorded them. */
  steps: z.number().int().nonnegative().nullable(),
  validLoss: z.number().nullable(),
  /** When it was stored (ms since the epoch). */
  createdAt: z.number(),
});
export type AdapterDetails = z.infer<typeof AdapterInfo>;

/** A listed model and whether the engine runs it (shared/engine/support.ts), decided from its header. */
export const ModelListEntry = ModelSummary.extend({
  runs: z.boolean(),
  /** Each missing part ("architecture: …", "tensor type: …", "tokenizer: …"), one per line; null when it runs. */
  runProblem: z.string().nullable(),
  /** Whether the training engine can fine-tune it (llama and qwen2: shared/train/frozen-base.ts trainConfigOfBase), and if not why. */
  finetunes: z.boolean().default(false),
  finetuneProblem: z.string().nullable().default(null),
  /** Its stored adapters, by name. */
  adapters: z.array(AdapterRef).max(MAX_ADAPTERS).default([]),
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
  /** A model's stored adapters (by id or name; MODEL_NOT_FOUND otherwise), read from their GGUF headers. */
  'models:adapters': { request: ModelRef, response: z.strictObject({ model: z.string(), adapters: z.array(AdapterInfo).max(MAX_ADAPTERS) }) },
} as const;
