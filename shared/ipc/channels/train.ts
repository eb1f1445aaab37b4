import { z } from 'zod';
import { RecipeSchema } from '../../train/recipe';
import { Empty } from './common';

/**
 * Training from the workstation (specs/training.md, "The Training view"): start a run from a
 * recipe, list the runs with their task state and latest figures, read a run's history (from its
 * checkpoints and the steps since), pause / resume / cancel it, and the weight change between
 * checkpoints per tensor and per tile (the explorer's heat layer). The services push every
 * training event of a running task as `train:event`, for the live curves.
 *
 * A run is the name its checkpoints are stored under (`train/RUN/step-N/` in PixelFS); its task
 * is the latest `model.train` task of the queue with that run name. Pause cancels the task (the
 * session writes a checkpoint first), resume retries it (the session resumes from that
 * checkpoint), cancel stops it and removes the run's checkpoints.
 */

/** Caps on what one answer may hold. */
export const TRAIN_LIMITS = Object.freeze({
  runs: 200,
  /** History points per answer (the services average buckets of steps beyond). */
  historyPoints: 4000,
  validPoints: 4000,
  samples: 100,
  sampleChars: 4000,
  checkpoints: 10_000,
  changes: 10_000,
  tensors: 4096,
  tilesPerTensor: 1 << 16,
});

export const RunName = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'a run name is 1 to 128 letters, digits, dots, dashes or underscores');

const Step = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Figure = z.number();

/** The events of a training session (electron/train/session.ts `TrainEvent`), as they cross IPC. */
export const TrainEventSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('start'), step: Step, steps: Step, resumedFrom: Step.nullable(), parameters: Step, gpuBytes: Step }),
  z.strictObject({ kind: z.literal('step'), step: Step, steps: Step, loss: Figure, lr: Figure, gradNorm: Figure, tokensPerSec: Figure, etaSec: Figure }),
  z.strictObject({ kind: z.literal('valid'), step: Step, loss: Figure }),
  z.strictObject({ kind: z.literal('sample'), step: Step, text: z.string().max(TRAIN_LIMITS.sampleChars) }),
  z.strictObject({ kind: z.literal('checkpoint'), step: Step }),
  z.strictObject({ kind: z.literal('done'), step: Step }),
]);
export type TrainEventInfo = z.infer<typeof TrainEventSchema>;

/**
 * What a run is doing: its task's state, with a cancelled task that kept its run called
 * `paused` (resume continues from its last checkpoint).
 */
export const TrainRunState = z.enum(['queued', 'running', 'paused', 'succeeded', 'failed']);
export type TrainRunStateName = z.infer<typeof TrainRunState>;

export const TrainPoint = z.strictObject({ step: Step, loss: Figure, lr: Figure, gradNorm: Figure, tokensPerSec: Figure });

export const TrainRunInfo = z.strictObject({
  run: RunName,
  taskId: z.number().int().positive(),
  state: TrainRunState,
  recipe: RecipeSchema,
  /** Parameters of the model (paramSpecs; padding excluded). */
  parameters: Step,
  /** The last step done (the latest step event, else the latest checkpoint's). */
  step: Step,
  steps: Step,
  /** The latest step's figures; etaSec only while the run is running. */
  latest: z.strictObject({ loss: Figure, lr: Figure, gradNorm: Figure, tokensPerSec: Figure, etaSec: Figure.nullable() }).nullable(),
  validLoss: Figure.nullable(),
  /** Steps of the run's complete checkpoints in the volume, ascending. */
  checkpoints: z.array(Step).max(TRAIN_LIMITS.checkpoints),
  /** The model the run imported at its end (its id in the store), when it still exists. */
  modelId: z.string().nullable(),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type TrainRun = z.infer<typeof TrainRunInfo>;

const RunRef = z.strictObject({ run: RunName });

export const TrainHistory = z.strictObject({
  run: RunName,
  steps: Step,
  /** Loss, learning rate, gradient norm and tokens/s per step; a point is the mean of `bucket` steps (its step the last of them). */
  history: z.array(TrainPoint).max(TRAIN_LIMITS.historyPoints),
  bucket: z.number().int().positive(),
  valid: z.array(z.strictObject({ step: Step, loss: Figure })).max(TRAIN_LIMITS.validPoints),
  /** The latest samples, oldest first. */
  samples: z.array(z.strictObject({ step: Step, text: z.string().max(TRAIN_LIMITS.sampleChars) })).max(TRAIN_LIMITS.samples),
  checkpoints: z.array(Step).max(TRAIN_LIMITS.checkpoints),
  /** Seconds of training behind the latest checkpoint. */
  seconds: z.number().min(0),
});

/** One checkpoint's weight change: between step `base` (0: the initial weights) and `step`. */
export const WeightChangeRef = z.strictObject({ step: Step, base: Step });

export const WeightChange = z.strictObject({
  run: RunName,
  modelId: z.string().nullable(),
  step: Step,
  base: Step,
  /** Values per tile (F32: one per pixel, tileWidth × tileHeight); tile i holds values [i·n, (i+1)·n). */
  tileValues: z.number().int().positive(),
  /** Every weight change this run can show, ascending by step. */
  changes: z.array(WeightChangeRef).max(TRAIN_LIMITS.changes),
  /** Per tensor (GGUF name): the RMS of the change over all its values and over each tile's values. */
  tensors: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(200),
        values: Step,
        rms: Figure,
        tiles: z.array(Figure).max(TRAIN_LIMITS.tilesPerTensor),
      }),
    )
    .max(TRAIN_LIMITS.tensors),
});
export type WeightChangeInfo = z.infer<typeof WeightChange>;

export const trainChannels = {
  /** Queues a `model.train` task for the recipe under the run name (default: the recipe's name). */
  'train:start': {
    request: z.strictObject({ recipe: RecipeSchema, run: RunName.optional() }),
    response: z.strictObject({ taskId: z.number().int().positive(), run: RunName }),
  },
  'train:runs': { request: Empty, response: z.strictObject({ runs: z.array(TrainRunInfo).max(TRAIN_LIMITS.runs) }) },
  'train:history': {
    request: z.strictObject({ run: RunName, maxPoints: z.number().int().min(10).max(TRAIN_LIMITS.historyPoints).optional() }),
    response: TrainHistory,
  },
  'train:pause': { request: RunRef, response: TrainRunInfo },
  'train:resume': { request: RunRef, response: TrainRunInfo },
  /** Stops the run (when it runs) and removes its checkpoints; a model it imported stays. */
  'train:cancel': { request: RunRef, response: z.strictObject({ run: RunName, checkpointsRemoved: z.number().int().min(0) }) },
  /** The weight change of checkpoint `step` (default: the latest) against the one before it. */
  'train:weight-change': { request: z.strictObject({ run: RunName, step: Step.optional() }), response: WeightChange },
} as const;

export const trainEvents = {
  'train:event': z.strictObject({ taskId: z.number().int().positive(), run: RunName, event: TrainEventSchema }),
} as const;
