import { z } from 'zod';
import { FinetuneRecipeSchema } from '../../train/finetune-recipe';
import { RecipeSchema } from '../../train/recipe';
import { Bytes, Empty } from './common';
import { AdapterRef } from './models';

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
 *
 * A run trains either in the services (`background`: the queue's `model.train` task on Dawn) or
 * in a renderer's own WebGPU (`window`: the same step loop, shared/train/loop.ts, in the page).
 * A window run is registered with the services (`train:window-start` / `train:window-resume`
 * open a session), reads its token windows from them (`train:window-batches`, binary), sends
 * its events (`train:window-event`, re-broadcast as `train:event`) and its checkpoints
 * (`train:window-put` chunks, then `train:window-commit`: written by the services in the same
 * PixelFS format as a background run's), and hears pause/cancel in the answers. Both kinds
 * share one checkpoint format, so either can resume what the other paused.
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
  /** Bytes per window-run transfer: a checkpoint chunk, a batch of token windows. */
  chunkBytes: 8 * 1024 * 1024,
  /** A checkpoint's state.json as a window run sends it. */
  stateBytes: 256 * 1024 * 1024,
  /** The trained tokenizer's JSON (pxi-tokenizer/1) handed to a window run. */
  tokenizerChars: 8 * 1024 * 1024,
  /** Steps (or validation batches) per train:window-batches. */
  batchSteps: 64,
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

/** Where a run trains: in the services (the queue's task, on Dawn) or in a window's WebGPU. */
export const TrainWhere = z.enum(['background', 'window']);
export type TrainWhereName = z.infer<typeof TrainWhere>;

/** What every run shows, whichever kind it is. */
const RunFields = {
  run: RunName,
  /** The run's queue task; null for a run that has only trained in a window. */
  taskId: z.number().int().positive().nullable(),
  where: TrainWhere.default('background'),
  state: TrainRunState,
  /** Parameters trained: the whole model's (paramSpecs; padding excluded), or a fine-tune's (its adapters', or every weight in full mode). */
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
};

/** A model trained from scratch (`model.train`, or a window run): its recipe. */
export const TrainingRunInfo = z.strictObject({ kind: z.literal('train'), ...RunFields, recipe: RecipeSchema });

/**
 * A fine-tune of a model (`model.finetune`): its settings, the base it adapts, and what it made —
 * the adapter stored beside the base (LoRA), or the model it imported (`modelId`, full mode).
 */
export const FinetuneRunInfo = z.strictObject({
  kind: z.literal('finetune'),
  ...RunFields,
  finetune: FinetuneRecipeSchema,
  /** The base model: its id in the store (null when the base is a file, or no longer in the store) and its name (or the file). */
  base: z.strictObject({ modelId: z.string().nullable(), name: z.string().max(4096) }),
  /** The adapter the run stored (LoRA, once it ended), while it is in the volume. */
  adapter: AdapterRef.nullable(),
});

export const TrainRunInfo = z.discriminatedUnion('kind', [TrainingRunInfo, FinetuneRunInfo]);
export type TrainRun = z.infer<typeof TrainRunInfo>;
export type TrainingRun = z.infer<typeof TrainingRunInfo>;
export type FinetuneRun = z.infer<typeof FinetuneRunInfo>;

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

/** A window run's session: the id its calls carry (a newer session of the run makes older ones stale). */
export const WindowSessionId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'a session id');
const WindowRef = z.strictObject({ run: RunName, session: WindowSessionId });
export const CheckpointFile = z.enum(['params', 'optim', 'state']);
const Offset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** What a window run gets when it opens: the recipe as the services parsed it, the tokenizer, the checkpoint to resume. */
export const WindowSession = z.strictObject({
  run: RunName,
  session: WindowSessionId,
  recipe: RecipeSchema,
  /** The run's trained tokenizer (pxi-tokenizer/1 JSON) for the samples' GGUF. */
  tokenizer: z.string().max(TRAIN_LIMITS.tokenizerChars),
  /** Validation micro-batches the run has (0: no validation text). */
  validBatches: z.number().int().min(0),
  /** The latest checkpoint (read with train:window-read), or null for a fresh start. */
  checkpoint: z.strictObject({ step: Step, params: Offset, optim: Offset, state: Offset }).nullable(),
});
export type WindowSessionInfo = z.infer<typeof WindowSession>;

/** A window run's stop request, answered to its events and pings: pause (checkpoint, then stop) or cancel. */
export const WindowStop = z.enum(['pause', 'cancel']).nullable();

/**
 * A checkpoint's state.json as a window run sends it (hostile input: parsed, and its recipe,
 * run, step and size checked against the session before the services write it).
 */
export const CheckpointStateSchema = z.strictObject({
  version: z.literal(1),
  run: RunName,
  recipe: RecipeSchema,
  step: Step,
  paramTotal: Step,
  paramsSha256: z.string().max(64),
  optimSha256: z.string().max(64),
  history: z.array(TrainPoint),
  valid: z.array(z.strictObject({ step: Step, loss: Figure })),
  samples: z.array(z.strictObject({ step: Step, text: z.string().max(1 << 20) })),
  seconds: z.number().min(0),
});

/** A fine-tune's text: a corpus name (corpus:list), or an absolute path to a UTF-8 text file on the services' disk. */
const FinetuneText = z.string().min(1).max(4096);

/**
 * What `train:finetune` takes: the base (a model of the volume, by id or name), the text, the
 * mode, the adapters' rank/alpha/targets (LoRA only) and the schedule; every setting left out
 * takes the fine-tuning default (shared/train/finetune-recipe.ts; the sequence length:
 * min(256, the model's context)).
 */
export const FinetuneStartRequest = z.strictObject({
  model: z.string().min(1).max(256),
  /** The run's name, and its adapter's (its model's in full mode); default MODEL-lora / MODEL-full. */
  run: RunName.optional(),
  mode: z.enum(['lora', 'full']).default('lora'),
  data: z.strictObject({ train: z.array(FinetuneText).min(1).max(64), valid: z.array(FinetuneText).max(64).default([]) }),
  /** LoRA settings (refused with mode full). */
  lora: FinetuneRecipeSchema.shape.lora.optional(),
  train: FinetuneRecipeSchema.shape.train.optional(),
});
export type FinetuneStart = z.input<typeof FinetuneStartRequest>;

/** The training engine's view of a model (shared/train/config.ts TrainModelConfig). */
export const TrainModelConfigInfo = z.strictObject({
  arch: z.enum(['llama', 'qwen2']),
  vocab: z.number().int().positive().max(1 << 24),
  dim: z.number().int().positive().max(1 << 20),
  layers: z.number().int().positive().max(1 << 12),
  heads: z.number().int().positive().max(1 << 12),
  kvHeads: z.number().int().positive().max(1 << 12),
  ff: z.number().int().positive().max(1 << 22),
  context: z.number().int().positive().max(1 << 16),
  ropeTheta: z.number().positive(),
  rmsEps: z.number().positive(),
  tied: z.boolean(),
  qkvBias: z.boolean(),
});

/**
 * What the fine-tune form's estimate needs of a model (shared/train/estimate.ts): its training
 * configuration, the bytes its frozen base takes on the GPU (LoRA), and this machine's measured
 * rate — the latest finished run's tokens/s and, through its FLOPs per token, its FLOP rate —
 * or null when no run has finished with a measured rate.
 */
export const FinetuneEstimate = z.strictObject({
  model: z.string(),
  config: TrainModelConfigInfo,
  baseBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  rate: z
    .strictObject({
      run: RunName,
      kind: z.enum(['train', 'finetune']),
      tokensPerSec: z.number().positive(),
      flopsPerSec: z.number().positive(),
    })
    .nullable(),
});
export type FinetuneEstimateInfo = z.infer<typeof FinetuneEstimate>;

export const trainChannels = {
  /** Queues a `model.train` task for the recipe under the run name (default: the recipe's name). */
  'train:start': {
    request: z.strictObject({ recipe: RecipeSchema, run: RunName.optional() }),
    response: z.strictObject({ taskId: z.number().int().positive(), run: RunName }),
  },
  /**
   * Queues a `model.finetune` task: LoRA adapters (or every weight, mode full) of a model in the
   * volume trained on the text; the run then shows in train:runs like a training run.
   */
  'train:finetune': { request: FinetuneStartRequest, response: z.strictObject({ taskId: z.number().int().positive(), run: RunName }) },
  /** The configuration, frozen-base bytes and this machine's measured rate for the fine-tune form's estimate of a model of the volume. */
  'train:finetune-estimate': { request: z.strictObject({ model: z.string().min(1).max(256) }), response: FinetuneEstimate },
  'train:runs': { request: Empty, response: z.strictObject({ runs: z.array(TrainRunInfo).max(TRAIN_LIMITS.runs) }) },
  'train:history': {
    request: z.strictObject({ run: RunName, maxPoints: z.number().int().min(10).max(TRAIN_LIMITS.historyPoints).optional() }),
    response: TrainHistory,
  },
  /** Pauses a background run (the queue's cancel) or a window run (asked in its next answer); resolves once it stopped. */
  'train:pause': { request: RunRef, response: TrainRunInfo },
  /** Resumes a paused or failed run in the background, whichever process paused it. */
  'train:resume': { request: RunRef, response: TrainRunInfo },
  /** Stops the run (when it runs) and removes its checkpoints; a model it imported stays. */
  'train:cancel': { request: RunRef, response: z.strictObject({ run: RunName, checkpointsRemoved: z.number().int().min(0) }) },
  /** The weight change of checkpoint `step` (default: the latest) against the one before it. */
  'train:weight-change': { request: z.strictObject({ run: RunName, step: Step.optional() }), response: WeightChange },

  // Window runs: the step loop in a renderer's WebGPU, its data and checkpoints in the services.
  /** Registers a new run that trains in the calling window; prepares its data (corpus, tokenizer, token shards). */
  'train:window-start': { request: z.strictObject({ recipe: RecipeSchema, run: RunName.optional() }), response: WindowSession },
  /** Continues a paused or failed run (window or background) in the calling window, from its last checkpoint. */
  'train:window-resume': { request: RunRef, response: WindowSession },
  /** A chunk of the session's checkpoint file (at most chunkBytes). */
  'train:window-read': {
    request: WindowRef.extend({ step: Step, file: CheckpointFile, offset: Offset, length: z.number().int().min(1).max(TRAIN_LIMITS.chunkBytes) }),
    response: z.strictObject({ bytes: Bytes(TRAIN_LIMITS.chunkBytes) }),
  },
  /**
   * Token windows, int32 little-endian: `train`: steps from..from+count−1, each its `accum`
   * micro-batches of [batch, seqLen + 1] (random windows keyed by seed and step, as in the
   * background); `valid`: validation micro-batches from index `from` (fewer at the end).
   */
  'train:window-batches': {
    request: WindowRef.extend({ kind: z.enum(['train', 'valid']), from: Offset, count: z.number().int().min(1).max(TRAIN_LIMITS.batchSteps) }),
    response: z.strictObject({ batches: z.number().int().min(0), tokens: Bytes(TRAIN_LIMITS.chunkBytes) }),
  },
  /** One event of the window's loop: recorded and re-broadcast as train:event; the answer says whether to stop. */
  'train:window-event': { request: WindowRef.extend({ event: TrainEventSchema }), response: z.strictObject({ stop: WindowStop }) },
  /** A chunk of a checkpoint file being sent (`total`: the whole file's bytes). */
  'train:window-put': {
    request: WindowRef.extend({ step: Step, file: CheckpointFile, offset: Offset, total: z.number().int().min(1).max(TRAIN_LIMITS.stateBytes * 16), bytes: Bytes(TRAIN_LIMITS.chunkBytes) }),
    response: z.strictObject({ received: Offset }),
  },
  /** Writes the checkpoint whose three files were sent, in the background runs' format; then it is the run's latest. */
  'train:window-commit': { request: WindowRef.extend({ step: Step }), response: z.strictObject({ step: Step, checkpoints: z.array(Step).max(TRAIN_LIMITS.checkpoints) }) },
  /** The window is alive (every few seconds), or its loop stopped (`paused`, `failed` with the error, `succeeded`). */
  'train:window-ping': {
    request: WindowRef.extend({ state: z.enum(['running', 'paused', 'failed', 'succeeded']), error: z.strictObject({ code: z.string().max(100), message: z.string().max(4000) }).optional() }),
    response: z.strictObject({ stop: WindowStop }),
  },
} as const;

export const trainEvents = {
  /** `taskId` null and `where` window for a window run's events. */
  'train:event': z.strictObject({ taskId: z.number().int().positive().nullable(), run: RunName, where: TrainWhere.default('background'), event: TrainEventSchema }),
} as const;
