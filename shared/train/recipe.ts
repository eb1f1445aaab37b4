/**
 * A training recipe: the model's shape, the data, the batch and the schedule, as one JSON file
 * (or flags that override it). Parsed as hostile input: every field typed and bounded, and the
 * combination checked (heads dividing the width, a context the data can fill).
 */
import { z } from 'zod';
import { validateModelConfig, type TrainModelConfig } from './config';
import { TrainError } from './errors';

const posInt = (max: number) => z.number().int().min(1).max(max);

export const RecipeSchema = z.strictObject({
  /** Model name written as general.name and used for the imported model. */
  name: z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
  model: z.strictObject({
    arch: z.enum(['llama', 'qwen2']).default('llama'),
    vocab: posInt(1 << 18).optional(),
    dim: posInt(1 << 14),
    layers: posInt(256),
    heads: posInt(256),
    kvHeads: posInt(256).optional(),
    ff: posInt(1 << 16),
    context: posInt(1 << 16),
    ropeTheta: z.number().positive().max(1e9).default(10000),
    rmsEps: z.number().positive().max(0.1).default(1e-5),
    tied: z.boolean().default(true),
  }),
  data: z.strictObject({
    /** Training text: a corpus name in the volume or file paths (relative to the recipe). */
    train: z.array(z.string().min(1).max(4096)).min(1).max(1024),
    /** Validation text, never trained on. */
    valid: z.array(z.string().min(1).max(4096)).max(1024).default([]),
    /** Vocabulary size of the tokenizer trained on the training text (`pxi tokenizer train`). */
    vocab: posInt(65536).default(512),
    /** Repair the dataset's UTF-8-read-as-Windows-1252 mojibake ("â€™" → "’") before use. */
    fixMojibake: z.boolean().default(true),
  }),
  train: z.strictObject({
    seed: z.number().int().min(0).max(0xffffffff).default(1),
    /** Sequences per micro-batch. */
    batch: posInt(4096).default(8),
    /** Tokens per sequence (≤ model.context). */
    seqLen: posInt(1 << 16).optional(),
    /** Micro-batches per optimizer step (gradient accumulation). */
    accum: posInt(1024).default(1),
    steps: posInt(10_000_000),
    lr: z.number().positive().max(1).default(1e-3),
    minLr: z.number().min(0).max(1).optional(),
    warmup: z.number().int().min(0).max(10_000_000).default(100),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.95),
    eps: z.number().positive().max(1).default(1e-8),
    weightDecay: z.number().min(0).max(10).default(0.1),
    /** Clip the global gradient norm to this (0: no clipping). */
    clip: z.number().min(0).max(1e6).default(1),
    /** Validation loss every N steps (0: only at the end). */
    evalEvery: z.number().int().min(0).default(100),
    /** Micro-batches of validation text per evaluation. */
    evalBatches: posInt(10_000).default(8),
    /** A checkpoint every N steps (and at the end). */
    checkpointEvery: posInt(10_000_000).default(100),
    /** A sample generation every N steps (0: none). */
    sampleEvery: z.number().int().min(0).default(0),
    /**
     * Arithmetic of the linear layers (specs/training.md, "Mixed precision"): f32, mixed (f16
     * weight copies, f32 master weights; needs shader-f16), or auto (mixed where the adapter
     * has shader-f16, else f32).
     */
    precision: z.enum(['f32', 'mixed', 'auto']).default('f32'),
  }),
});
export type Recipe = z.infer<typeof RecipeSchema>;

/** Parses a recipe (JSON text or a value), naming the file, the field and the value on error. */
export function parseRecipe(input: unknown, file = 'recipe'): Recipe {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (e) {
      throw new TrainError('TRAIN_CONFIG', `${file}: not valid JSON (${(e as Error).message})`, { file });
    }
  }
  const r = RecipeSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || '(recipe)';
    let v: unknown = value;
    for (const k of issue.path) v = (v as Record<PropertyKey, unknown> | undefined)?.[k];
    throw new TrainError('TRAIN_CONFIG', `${file}: ${field} = ${JSON.stringify(v) ?? 'missing'}: ${issue.message}`, { file, field });
  }
  const recipe = r.data;
  const seqLen = recipe.train.seqLen ?? recipe.model.context;
  if (seqLen > recipe.model.context) {
    throw new TrainError('TRAIN_CONFIG', `${file}: train.seqLen = ${seqLen} is longer than model.context = ${recipe.model.context}`, { file, field: 'train.seqLen' });
  }
  if ((recipe.train.minLr ?? 0) > recipe.train.lr) {
    throw new TrainError('TRAIN_CONFIG', `${file}: train.minLr = ${recipe.train.minLr} is above train.lr = ${recipe.train.lr}`, { file, field: 'train.minLr' });
  }
  if (recipe.model.vocab !== undefined && recipe.model.vocab !== recipe.data.vocab) {
    throw new TrainError('TRAIN_CONFIG', `${file}: model.vocab = ${recipe.model.vocab} differs from data.vocab = ${recipe.data.vocab}`, { file, field: 'model.vocab' });
  }
  validateModelConfig(modelConfigOf(recipe), file);
  return recipe;
}

export function modelConfigOf(r: Recipe): TrainModelConfig {
  return {
    arch: r.model.arch,
    vocab: r.data.vocab,
    dim: r.model.dim,
    layers: r.model.layers,
    heads: r.model.heads,
    kvHeads: r.model.kvHeads ?? r.model.heads,
    ff: r.model.ff,
    context: r.model.context,
    ropeTheta: r.model.ropeTheta,
    rmsEps: r.model.rmsEps,
    tied: r.model.tied,
    qkvBias: r.model.arch === 'qwen2',
  };
}

export function seqLenOf(r: Recipe): number {
  return r.train.seqLen ?? r.model.context;
}

/** The precision a run uses on an adapter: `auto` resolves to mixed where it has shader-f16. */
export function precisionOf(r: Recipe, adapterHasF16: boolean): 'f32' | 'mixed' {
  const p = r.train.precision;
  return p === 'auto' ? (adapterHasF16 ? 'mixed' : 'f32') : p;
}
