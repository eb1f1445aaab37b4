/**
 * One training run from its recipe to its final weights: the GPU trainer, the data windows, the
 * schedule, validation, samples, checkpoints in PixelFS and resumption from the latest one. The
 * CLI (`pxi train`), the task queue and the tests all run training through here.
 *
 * Resuming: the data windows of step s depend only on (seed, s), the optimizer state is in the
 * checkpoint, and every kernel is deterministic, so a run stopped at any point (Ctrl-C, SIGKILL,
 * a lost device) and resumed from its last checkpoint ends with the same weights, bit for bit,
 * as one that never stopped (on the same adapter).
 */
import { performance } from 'node:perf_hooks';
import type { GpuContext } from '../../shared/gpu';
import type { GgufValue } from '../../shared/gguf/values';
import { memorySource } from '../../shared/binary/byte-source';
import { openGgufTensorSource } from '../../shared/engine/tensor-source';
import { generate } from '../../shared/engine/generate';
import type { Tokenizer } from '../../shared/tokenizer';
import { initParams } from '../../shared/train/init';
import { checkTokenStream, RandomWindows, validationBatches } from '../../shared/train/data';
import { TrainError } from '../../shared/train/errors';
import { GpuTrainer, paramLayout } from '../../shared/train/gpu-trainer';
import { modelConfigOf, seqLenOf, type Recipe } from '../../shared/train/recipe';
import { learningRateAt } from '../../shared/train/schedule';
import { trainedModelGguf } from '../../shared/train/to-gguf';
import type { Volume } from '../pixelfs/index';
import { openModelFromSource } from '../engine/index';
import { latestCheckpoint, writeCheckpoint, type CheckpointState, type HistoryPoint } from './checkpoint';

export interface TrainData {
  tokenizer: Tokenizer;
  /** The tokenizer.* GGUF entries written into the model. */
  tokenizerMeta: [string, GgufValue][];
  train: ArrayLike<number>;
  valid: ArrayLike<number>;
}

export type TrainEvent =
  | { kind: 'start'; step: number; steps: number; resumedFrom: number | null; parameters: number; gpuBytes: number }
  | { kind: 'step'; step: number; steps: number; loss: number; lr: number; gradNorm: number; tokensPerSec: number; etaSec: number }
  | { kind: 'valid'; step: number; loss: number }
  | { kind: 'sample'; step: number; text: string }
  | { kind: 'checkpoint'; step: number }
  | { kind: 'done'; step: number };

export interface TrainSessionOptions {
  recipe: Recipe;
  run: string;
  volume: Volume;
  ctx: GpuContext;
  data: TrainData;
  signal?: AbortSignal;
  onEvent?: (e: TrainEvent) => void;
}

export interface TrainSessionResult {
  state: CheckpointState;
  params: Map<string, Float32Array>;
  /** The final model as a GGUF file's bytes. */
  gguf: Uint8Array;
}

export function describeModel(r: Recipe): string {
  const m = r.model;
  return `${m.arch}, width ${m.dim}, ${m.layers} layers, ${m.heads} heads (${m.kvHeads ?? m.heads} kv), ffn ${m.ff}, vocabulary ${r.data.vocab}, context ${m.context}`;
}

export function modelGguf(recipe: Recipe, params: ReadonlyMap<string, Float32Array>, data: TrainData, state: Pick<CheckpointState, 'step' | 'history' | 'valid'>): Uint8Array {
  const last = state.valid[state.valid.length - 1];
  return trainedModelGguf(modelConfigOf(recipe), params, data.tokenizerMeta, {
    name: recipe.name,
    description: `trained by pxi train (Pixel-LLM) for ${state.step} steps${last ? `; validation loss ${last.loss.toFixed(4)} nats/token` : ''}`,
    extra: [
      ['pxi.train.recipe', { type: 'string', value: JSON.stringify(recipe) }],
      ['pxi.train.step', { type: 'uint32', value: state.step }],
    ],
  });
}

export async function trainSession(o: TrainSessionOptions): Promise<TrainSessionResult> {
  const { recipe, run, volume, ctx, data } = o;
  const cfg = modelConfigOf(recipe);
  const T = seqLenOf(recipe);
  const { batch: B, accum, steps } = recipe.train;
  checkTokenStream(data.train, T, cfg.vocab, 'training text');
  if (data.valid.length > 0) checkTokenStream(data.valid, T, cfg.vocab, 'validation text');
  const layout = paramLayout(cfg);

  const ckpt = await latestCheckpoint(volume, run);
  if (ckpt && JSON.stringify(ckpt.state.recipe) !== JSON.stringify(recipe)) {
    throw new TrainError('TRAIN_CHECKPOINT', `run ${run} already has checkpoints made with a different recipe (step ${ckpt.state.step}): give another --name, or --fresh to start it over`, { run });
  }
  const trainer = await GpuTrainer.create(ctx, cfg, { batch: B, seqLen: T }, initParams(cfg, recipe.train.seed));
  try {
    const history: HistoryPoint[] = ckpt ? [...ckpt.state.history] : [];
    const valid = ckpt ? [...ckpt.state.valid] : [];
    const samples = ckpt ? [...ckpt.state.samples] : [];
    let seconds = ckpt?.state.seconds ?? 0;
    let step = 0;
    if (ckpt) {
      if (ckpt.state.paramTotal !== layout.total) throw new TrainError('TRAIN_CHECKPOINT', `run ${run}: checkpoint holds ${ckpt.state.paramTotal} values, the model has ${layout.total}`);
      trainer.writeState({ params: ckpt.params, m: ckpt.m, v: ckpt.v });
      step = ckpt.state.step;
    }
    let lastCheckpoint = step;
    o.onEvent?.({ kind: 'start', step, steps, resumedFrom: ckpt ? step : null, parameters: layout.order.reduce((s, p) => s + p.spec.size, 0), gpuBytes: trainer.gpuBytes });

    const windows = new RandomWindows(data.train, B, T, recipe.train.seed, accum);
    const validSet = data.valid.length > 0 ? validationBatches(data.valid, B, T, recipe.train.evalBatches) : [];
    const schedule = { maxLr: recipe.train.lr, minLr: recipe.train.minLr ?? recipe.train.lr / 10, warmup: recipe.train.warmup, total: steps };
    const tokensPerStep = B * T * accum;

    const state = (): CheckpointState => ({
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
      await writeCheckpoint(volume, { state: state(), params: s.params, m: s.m, v: s.v });
      lastCheckpoint = step;
      o.onEvent?.({ kind: 'checkpoint', step });
    };
    const evaluate = async () => {
      if (validSet.length === 0) return;
      let sum = 0;
      for (const batch of validSet) sum += await trainer.loss(batch);
      const loss = sum / validSet.length;
      valid.push({ step, loss });
      o.onEvent?.({ kind: 'valid', step, loss });
    };

    let rateTokens = 0;
    let rateSeconds = 0;
    while (step < steps) {
      if (o.signal?.aborted) {
        if (step > lastCheckpoint) await checkpoint();
        throw new TrainError('TRAIN_ABORTED', `training of ${run} stopped at step ${step}; the checkpoint of step ${lastCheckpoint} is kept: run the same command again to resume`, { run, step });
      }
      const next = step + 1;
      const t0 = performance.now();
      const micro = Array.from({ length: accum }, (_, i) => windows.microBatch(next, i));
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
      const dt = (performance.now() - t0) / 1000;
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
      if ((sampleEvery > 0 && step % sampleEvery === 0) || step === steps) {
        const text = await sampleText(ctx, recipe, await trainer.readParams(), data, history, valid, step);
        samples.push({ step, text });
        o.onEvent?.({ kind: 'sample', step, text });
      }
      if (step % recipe.train.checkpointEvery === 0 || step === steps) await checkpoint();
    }
    if (step > lastCheckpoint) await checkpoint();
    const params = await trainer.readParams();
    const final = state();
    o.onEvent?.({ kind: 'done', step });
    return { state: final, params, gguf: modelGguf(recipe, params, data, final) };
  } finally {
    trainer.destroy();
  }
}

/** A greedy continuation of the tokenizer's BOS by the weights of this step, with the inference engine. */
async function sampleText(
  ctx: GpuContext,
  recipe: Recipe,
  params: Map<string, Float32Array>,
  data: TrainData,
  history: HistoryPoint[],
  valid: { step: number; loss: number }[],
  step: number,
): Promise<string> {
  const bytes = modelGguf(recipe, params, data, { step, history, valid });
  const source = await openGgufTensorSource(memorySource(bytes), `${recipe.name}@${step}`);
  const m = await openModelFromSource(source, { ctx, tuningFile: false });
  try {
    const prompt = m.tokenizer.encode('Once upon a time');
    const r = await generate(m.model, m.tokenizer, prompt, { temperature: 0, maxTokens: 48, onContextFull: 'stop' });
    return 'Once upon a time' + r.text;
  } finally {
    await m.close();
  }
}
