/**
 * One training run in Node, from its recipe to its final weights: the step loop of
 * shared/train/loop.ts (the same loop the renderer's window runs use) wired to this process —
 * the token streams of the run's corpora in memory, checkpoints as PixelFS files
 * (./checkpoint.ts), resumption from the latest one, samples by the inference engine on the
 * same device. The CLI (`pxi train`), the task queue and the tests all run training through here.
 *
 * Resuming: the data windows of step s depend only on (seed, s), the optimizer state is in the
 * checkpoint, and every kernel is deterministic, so a run stopped at any point (Ctrl-C, SIGKILL,
 * a lost device) and resumed from its last checkpoint ends with the same weights, bit for bit,
 * as one that never stopped (on the same adapter).
 */
import type { GpuContext } from '../../shared/gpu';
import type { GgufValue } from '../../shared/gguf/values';
import type { Tokenizer } from '../../shared/tokenizer';
import type { TrainedTokenizer } from '../../shared/tokenizer-train';
import { TrainError } from '../../shared/train/errors';
import { tokenStreamData, trainLoop, type CheckpointState, type TrainEvent } from '../../shared/train/loop';
import type { Recipe } from '../../shared/train/recipe';
import { greedySample, runModelGguf } from '../../shared/train/sample';
import type { Volume } from '../pixelfs/index';
import { latestCheckpoint, writeCheckpoint } from './checkpoint';

export type { TrainEvent } from '../../shared/train/loop';

export interface TrainData {
  tokenizer: Tokenizer;
  /** The tokenizer.* GGUF entries written into the model. */
  tokenizerMeta: [string, GgufValue][];
  /** The learned tokenizer itself (what a window run is handed to write its samples' GGUF). */
  trained?: TrainedTokenizer;
  train: ArrayLike<number>;
  valid: ArrayLike<number>;
}

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

export function modelGguf(recipe: Recipe, params: ReadonlyMap<string, Float32Array>, data: Pick<TrainData, 'tokenizerMeta'>, state: Pick<CheckpointState, 'step' | 'history' | 'valid'>): Uint8Array {
  return runModelGguf(recipe, params, data.tokenizerMeta, state);
}

/** The checkpoint a run continues from, refused when it was made with another recipe. */
export async function resumableCheckpoint(volume: Volume, run: string, recipe: Recipe) {
  const ckpt = await latestCheckpoint(volume, run);
  if (ckpt && JSON.stringify(ckpt.state.recipe) !== JSON.stringify(recipe)) {
    throw new TrainError('TRAIN_CHECKPOINT', `run ${run} already has checkpoints made with a different recipe (step ${ckpt.state.step}): give another --name, or --fresh to start it over`, { run });
  }
  return ckpt;
}

export async function trainSession(o: TrainSessionOptions): Promise<TrainSessionResult> {
  const { recipe, run, volume, ctx, data } = o;
  const loopData = tokenStreamData(recipe, data.train, data.valid);
  const ckpt = await resumableCheckpoint(volume, run, recipe);
  const r = await trainLoop({
    recipe,
    run,
    ctx,
    data: loopData,
    resume: ckpt,
    sink: (c) => writeCheckpoint(volume, c),
    sample: (params, state) => greedySample(ctx, recipe, params, data.tokenizerMeta, state),
    signal: o.signal,
    onEvent: o.onEvent,
    resumeHint: ': run the same command again to resume',
  });
  return { state: r.state, params: r.params, gguf: modelGguf(recipe, r.params, data, r.state) };
}
