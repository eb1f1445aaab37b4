/**
 * The step loop of a training run, process-neutral: the same code trains in Node (`pxi train`,
 * the services' `model.train` task: electron/train/session.ts) and in the renderer's own WebGPU
 * (the Training view's window runs: renderer/src/train/window-run.ts). What differs between the
 * two is injected: where the token windows come from (`LoopData`), where checkpoints go
 * (`sink`), how a sample is generated, and who listens to the events.
 *
 * The loop: the seeded initial weights (or the checkpoint resumed from), then per step the
 * `accum` micro-batches of that step, the warmup + cosine learning rate, one optimizer step;
 * validation every `evalEvery` steps and at the end, a greedy sample every `sampleEvery` steps
 * and at the end, a checkpoint every `checkpointEvery` steps, at the end, and when stopped by
 * the signal (then `TRAIN_ABORTED`). A non-finite step stops the run with `TRAIN_NONFINITE`,
 * the weights of that step not applied.
 *
 * Resuming: the data of step s depends only on (seed, s), the optimizer state is in the
 * checkpoint, and every kernel is deterministic, so a run stopped anywhere and resumed from its
 * last checkpoint ends with the same weights, bit for bit, as one that never stopped (on the
 * same adapter) — whichever process ran each part.
 */
import { DeviceLostError, type GpuContext } from '../gpu';
import { checkTokenStream, RandomWindows, validationBatches } from './data';
import { TrainError } from './errors';
import type { TrainModelConfig } from './config';
import { GpuTrainer, type GpuTrainerOptions } from './gpu-trainer';
import { paramLayout, type ParamLayout } from './param-layout';
import { initParams } from './init';
import { modelConfigOf, precisionOf, seqLenOf, type Recipe } from './recipe';
import { learningRateAt } from './schedule';

export interface HistoryPoint {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSec: number;
}

/** What a loop needs of a recipe: its name and its train.* settings (a training Recipe, a FinetuneRecipe). */
export interface LoopRecipe {
  readonly name: string;
  readonly train: Recipe['train'];
}

/** A checkpoint's state.json (electron/train/checkpoint.ts writes it beside the weights). */
export interface CheckpointState<R = Recipe> {
  version: 1;
  run: string;
  recipe: R;
  step: number;
  /** Elements in each flat buffer (paramLayout(cfg).total). */
  paramTotal: number;
  paramsSha256: string;
  optimSha256: string;
  history: HistoryPoint[];
  valid: { step: number; loss: number }[];
  samples: { step: number; text: string }[];
  /** Seconds of training behind this checkpoint (all runs that led to it). */
  seconds: number;
}

export interface CheckpointData<R = Recipe> {
  state: CheckpointState<R>;
  /** The flat parameter buffer (paramLayout order). */
  params: Float32Array;
  /** AdamW's first and second moments, same layout. */
  m: Float32Array;
  v: Float32Array;
}

export type TrainEvent =
  | { kind: 'start'; step: number; steps: number; resumedFrom: number | null; parameters: number; gpuBytes: number }
  | { kind: 'step'; step: number; steps: number; loss: number; lr: number; gradNorm: number; tokensPerSec: number; etaSec: number }
  | { kind: 'valid'; step: number; loss: number }
  | { kind: 'sample'; step: number; text: string }
  | { kind: 'checkpoint'; step: number }
  | { kind: 'done'; step: number };

/** Where the loop's tokens come from. */
export interface LoopData {
  /** The `accum` micro-batches of (1-based) step `step`, each [batch, seqLen + 1] tokens. */
  stepBatches(step: number): Int32Array[] | Promise<Int32Array[]>;
  /** The fixed validation micro-batches (none: no validation). */
  validBatches(): Int32Array[] | Promise<Int32Array[]>;
}

/**
 * LoopData over token streams held in memory: random windows per (seed, step, micro-batch)
 * and consecutive validation windows (shared/train/data.ts). The streams are checked first
 * (long enough for one window, every token in the vocabulary).
 */
export function tokenStreamData(recipe: Recipe, train: ArrayLike<number>, valid: ArrayLike<number>): LoopData {
  return windowData(recipe.train, seqLenOf(recipe), recipe.data.vocab, train, valid);
}

/** tokenStreamData for any run: windows of `seqLen` tokens by the run's train settings. */
export function windowData(settings: Recipe['train'], seqLen: number, vocab: number, train: ArrayLike<number>, valid: ArrayLike<number>): LoopData {
  const T = seqLen;
  checkTokenStream(train, T, vocab, 'training text');
  if (valid.length > 0) checkTokenStream(valid, T, vocab, 'validation text');
  const { batch: B, accum } = settings;
  const windows = new RandomWindows(train, B, T, settings.seed, accum);
  let validSet: Int32Array[] | null = null;
  return {
    stepBatches: (step) => Array.from({ length: accum }, (_, i) => windows.microBatch(step, i)),
    validBatches: () => (validSet ??= valid.length > 0 ? validationBatches(valid, B, T, settings.evalBatches) : []),
  };
}

/** What a loop trains: the parameters (layout, initial values) of a model of `cfg`, and how the trainer is made. */
export interface LoopModel {
  cfg: TrainModelConfig;
  layout: ParamLayout;
  /** The seeded initial values (used when not resuming). */
  init: Map<string, Float32Array>;
  trainer: GpuTrainerOptions;
}

/** A training recipe's model: every parameter, seeded from the recipe, at the recipe's precision on this adapter. */
export function recipeModel(recipe: Recipe, adapterHasF16: boolean): LoopModel {
  const cfg = modelConfigOf(recipe);
  return { cfg, layout: paramLayout(cfg), init: initParams(cfg, recipe.train.seed), trainer: { precision: precisionOf(recipe, adapterHasF16) } };
}

export interface TrainLoopOptions<R extends LoopRecipe = Recipe> {
  /** Its train.* settings drive the loop; it is stored in every checkpoint. */
  recipe: R;
  /** What is trained; default recipeModel(recipe) (then the recipe must be a training Recipe). */
  model?: LoopModel;
  run: string;
  ctx: GpuContext;
  data: LoopData;
  /** The checkpoint to continue from (its recipe already checked by the caller); null: from the seeded initial weights. */
  resume: CheckpointData<R> | null;
  /** Stores a checkpoint; the `checkpoint` event follows once it resolves. */
  sink: (c: CheckpointData<R>) => Promise<void>;
  /** A greedy sample of the weights of this step (default: none). */
  sample?: (params: Map<string, Float32Array>, state: Pick<CheckpointState<R>, 'step' | 'history' | 'valid'>) => Promise<string>;
  signal?: AbortSignal;
  onEvent?: (e: TrainEvent) => void;
  /** Appended to the TRAIN_ABORTED message (how to resume, in the caller's words). */
  resumeHint?: string;
  /** Measure the validation loss before the first step too (a fine-tune's "before" figure); not when resuming. */
  validateAtStart?: boolean;
  /** Overrides the model's trainer options (default: the recipe's precision on this adapter, `precisionOf`). */
  trainer?: GpuTrainerOptions;
}

export interface TrainLoopResult<R = Recipe> {
  state: CheckpointState<R>;
  params: Map<string, Float32Array>;
}

const now = (): number => performance.now();

/**
 * A failure that is the device going away, restated with the step it stopped and the
 * checkpoint that is kept; null for any other failure. A read-back on a destroyed device can
 * reject before the device's `lost` promise settles, so a failure on a device not yet known
 * lost waits for that promise a moment (it settles at once when the device is gone).
 */
async function deviceLoss(ctx: GpuContext, e: unknown, run: string, step: number, lastCheckpoint: number, hint = ''): Promise<TrainError | null> {
  if (e instanceof TrainError) return null;
  let lost = e instanceof DeviceLostError ? e : null;
  if (!lost && !ctx.isLost) {
    await Promise.race([ctx.device.lost, new Promise((r) => setTimeout(r, 250))]);
  }
  if (!lost && ctx.isLost) {
    try {
      ctx.assertAlive();
    } catch (x) {
      if (x instanceof DeviceLostError) lost = x;
    }
  }
  if (!lost) return null;
  return new TrainError(
    'GPU_DEVICE_LOST',
    `training of ${run}: the GPU device was lost during step ${step + 1} (${lost.reason}); the checkpoint of step ${lastCheckpoint} is kept${hint}`,
    { run, step: step + 1, lastCheckpoint, reason: lost.reason },
  );
}

export async function trainLoop<R extends LoopRecipe = Recipe>(o: TrainLoopOptions<R>): Promise<TrainLoopResult<R>> {
  const { recipe, run, ctx, resume: ckpt } = o;
  const model = o.model ?? recipeModel(recipe as unknown as Recipe, ctx.caps.f16);
  const { cfg, layout } = model;
  const T = recipe.train.seqLen ?? cfg.context;
  const { batch: B, accum, steps } = recipe.train;
  if (ckpt && ckpt.state.paramTotal !== layout.total) throw new TrainError('TRAIN_CHECKPOINT', `run ${run}: checkpoint holds ${ckpt.state.paramTotal} values, the model has ${layout.total}`);
  const trainer = await GpuTrainer.create(ctx, cfg, { batch: B, seqLen: T }, model.init, { ...model.trainer, ...o.trainer });
  let step = ckpt?.state.step ?? 0;
  let lastCheckpoint = step;
  try {
    const history: HistoryPoint[] = ckpt ? [...ckpt.state.history] : [];
    const valid = ckpt ? [...ckpt.state.valid] : [];
    const samples = ckpt ? [...ckpt.state.samples] : [];
    let seconds = ckpt?.state.seconds ?? 0;
    if (ckpt) trainer.writeState({ params: ckpt.params, m: ckpt.m, v: ckpt.v });
    o.onEvent?.({ kind: 'start', step, steps, resumedFrom: ckpt ? step : null, parameters: layout.order.reduce((s, p) => s + p.spec.size, 0), gpuBytes: trainer.gpuBytes });

    const schedule = { maxLr: recipe.train.lr, minLr: recipe.train.minLr ?? recipe.train.lr / 10, warmup: recipe.train.warmup, total: steps };
    const tokensPerStep = B * T * accum;

    const state = (): CheckpointState<R> => ({
      version: 1,
      run,
      recipe,
      step,
      paramTotal: layout.total,
      paramsSha256: '',
      optimSha256: '',
      history,
      valid,
      samples,
      seconds,
    });
    const checkpoint = async () => {
      const s = await trainer.readState();
      await o.sink({ state: state(), params: s.params, m: s.m, v: s.v });
      lastCheckpoint = step;
      o.onEvent?.({ kind: 'checkpoint', step });
    };
    const evaluate = async () => {
      const validSet = await o.data.validBatches();
      if (validSet.length === 0) return;
      let sum = 0;
      for (const batch of validSet) sum += await trainer.loss(batch);
      const loss = sum / validSet.length;
      valid.push({ step, loss });
      o.onEvent?.({ kind: 'valid', step, loss });
    };

    if (o.validateAtStart && !ckpt) await evaluate();
    let rateTokens = 0;
    let rateSeconds = 0;
    while (step < steps) {
      if (o.signal?.aborted) {
        if (step > lastCheckpoint) await checkpoint();
        throw new TrainError('TRAIN_ABORTED', `training of ${run} stopped at step ${step}; the checkpoint of step ${lastCheckpoint} is kept${o.resumeHint ?? ''}`, { run, step });
      }
      const next = step + 1;
      const t0 = now();
      const micro = await o.data.stepBatches(next);
      const lr = learningRateAt(next, schedule);
      const r = await trainer.step(micro, next, {
        lr,
        beta1: recipe.train.beta1,
        beta2: recipe.train.beta2,
        eps: recipe.train.eps,
        weightDecay: recipe.train.weightDecay,
        maxNorm: recipe.train.clip,
      });
      if (!r.ok) {
        const bad = await trainer.nonFiniteGradients();
        throw new TrainError(
          'TRAIN_NONFINITE',
          `step ${next}: the ${Number.isFinite(r.loss) ? 'gradient' : 'loss'} is not finite (loss ${r.loss}, gradient norm ${r.gradNorm}${bad.length ? `; non-finite gradient in ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ` and ${bad.length - 5} more` : ''}` : ''}); the weights were not updated and the checkpoint of step ${lastCheckpoint} is kept: lower the learning rate or clip the gradients`,
          { step: next, tensors: bad, lastCheckpoint },
        );
      }
      step = next;
      const dt = (now() - t0) / 1000;
      seconds += dt;
      // The rate over the last steps (the first steps compile pipelines and are slow).
      rateTokens = rateTokens * 0.9 + tokensPerStep;
      rateSeconds = rateSeconds * 0.9 + dt;
      const tokensPerSec = rateTokens / rateSeconds;
      history.push({ step, loss: r.loss, lr, gradNorm: r.gradNorm, tokensPerSec });
      o.onEvent?.({ kind: 'step', step, steps, loss: r.loss, lr, gradNorm: r.gradNorm, tokensPerSec, etaSec: ((steps - step) * tokensPerStep) / tokensPerSec });
      const every = recipe.train.evalEvery;
      if ((every > 0 && step % every === 0) || step === steps) await evaluate();
      const sampleEvery = recipe.train.sampleEvery;
      if (o.sample && ((sampleEvery > 0 && step % sampleEvery === 0) || step === steps)) {
        const text = await o.sample(await trainer.readParams(), { step, history, valid });
        samples.push({ step, text });
        o.onEvent?.({ kind: 'sample', step, text });
      }
      if (step % recipe.train.checkpointEvery === 0 || step === steps) await checkpoint();
    }
    if (step > lastCheckpoint) await checkpoint();
    const params = await trainer.readParams();
    const final = state();
    o.onEvent?.({ kind: 'done', step });
    return { state: final, params };
  } catch (e) {
    throw (await deviceLoss(ctx, e, run, step, lastCheckpoint, o.resumeHint)) ?? e;
  } finally {
    trainer.destroy();
  }
}
