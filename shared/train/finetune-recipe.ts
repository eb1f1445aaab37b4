/**
 * A LoRA fine-tuning run, as one JSON value (built from `pxi finetune`'s flags, stored in its task
 * and in every checkpoint, so that a resumed run trains exactly what it started): the base model,
 * the adapters' rank, alpha and targets, the text, and the same train.* settings as a training
 * recipe with defaults suited to fine-tuning (a few hundred steps, no weight decay, short warmup).
 * Parsed as hostile input: every field typed and bounded, errors naming the field and value.
 */
import { z } from 'zod';
import { TrainError } from './errors';
import { DEFAULT_LORA_TARGETS, LORA_TARGETS, type LoraSettings } from './lora';
import { RecipeSchema } from './recipe';

const posInt = (max: number) => z.number().int().min(1).max(max);
const trainShape = RecipeSchema.shape.train.shape;

export const FinetuneRecipeSchema = z.strictObject({
  kind: z.literal('finetune'),
  /** lora: adapters over the frozen base (any weight type); full: every weight trained (F32/F16/BF16 bases). */
  mode: z.enum(['lora', 'full']).default('lora'),
  /** The run's name: checkpoints in train/NAME/, the adapter's general.name. */
  name: z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
  base: z.strictObject({
    /** A model id or name in the volume, or a GGUF file's absolute path. */
    model: z.string().min(1).max(4096),
    /** The base's identity when the run started (a stored model's sha256, a file's size and mtime): a resumed run refuses another base. */
    identity: z.string().min(1).max(256),
  }),
  lora: z.strictObject({
    rank: posInt(1024).default(8),
    alpha: z.number().positive().max(1e6).default(16),
    targets: z.array(z.enum(LORA_TARGETS)).min(1).max(LORA_TARGETS.length).default([...DEFAULT_LORA_TARGETS]),
    /** Dropout on the adapters' input during steps (0: none). */
    dropout: z.number().min(0).lt(1).default(0),
  }),
  data: z.strictObject({
    /** Text files (absolute paths) or corpus names in the volume. */
    train: z.array(z.string().min(1).max(4096)).min(1).max(1024),
    valid: z.array(z.string().min(1).max(4096)).max(1024).default([]),
  }),
  train: z.strictObject({
    ...trainShape,
    batch: posInt(4096).default(4),
    steps: posInt(10_000_000).default(200),
    lr: z.number().positive().max(1).default(1e-3),
    warmup: z.number().int().min(0).max(10_000_000).default(10),
    beta2: z.number().min(0).lt(1).default(0.999),
    weightDecay: z.number().min(0).max(10).default(0),
    evalEvery: z.number().int().min(0).default(50),
    checkpointEvery: posInt(10_000_000).default(50),
    precision: z.enum(['f32']).default('f32'),
  }),
});
export type FinetuneRecipe = z.infer<typeof FinetuneRecipeSchema>;

/** Parses a fine-tuning recipe, naming the field and the value on error (TrainError TRAIN_CONFIG). */
export function parseFinetuneRecipe(input: unknown, source = 'fine-tuning settings'): FinetuneRecipe {
  const r = FinetuneRecipeSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || '(recipe)';
    let v: unknown = input;
    for (const k of issue.path) v = (v as Record<PropertyKey, unknown> | undefined)?.[k];
    throw new TrainError('TRAIN_CONFIG', `${source}: ${field} = ${JSON.stringify(v) ?? 'missing'}: ${issue.message}`, { field });
  }
  const f = r.data;
  if (new Set(f.lora.targets).size !== f.lora.targets.length) throw new TrainError('TRAIN_CONFIG', `${source}: lora.targets names a matrix twice`, { field: 'lora.targets' });
  if ((f.train.minLr ?? 0) > f.train.lr) throw new TrainError('TRAIN_CONFIG', `${source}: train.minLr = ${f.train.minLr} is above train.lr = ${f.train.lr}`, { field: 'train.minLr' });
  return f;
}

export function loraSettingsOf(f: FinetuneRecipe): LoraSettings {
  return { rank: f.lora.rank, alpha: f.lora.alpha, targets: f.lora.targets, dropout: f.lora.dropout };
}
