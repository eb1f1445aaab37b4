/**
 * Training checkpoints in PixelFS. A checkpoint of step s of run R is three PixelFS files:
 *
 *   train/R/step-<s>/params.f32   the flat parameter buffer (paramLayout order, little-endian f32)
 *   train/R/step-<s>/optim.f32    AdamW's first moments, then its second moments
 *   train/R/step-<s>/state.json   the recipe, the step, the loss history, the sha256 of both
 *
 * Each put is durable and atomic (PixelFS writes tiles, fsyncs, then commits the file's row), and
 * state.json is put last: a checkpoint exists once its state.json does, so a crash in the middle
 * of one leaves the previous checkpoint as the latest. Tiles are content-addressed, so a tile
 * that did not change since the last checkpoint (a frozen tensor, the rows of tokens never seen)
 * is stored once. Older checkpoints are removed after a newer one is complete (keep = 2).
 */
import { createHash } from 'node:crypto';
import type { Volume } from '../pixelfs/index';
import { TrainError } from '../../shared/train/errors';
import type { CheckpointData, CheckpointState } from '../../shared/train/loop';
import type { Recipe } from '../../shared/train/recipe';

export type { CheckpointData, CheckpointState, HistoryPoint } from '../../shared/train/loop';

const KEEP = 2;

function runPrefix(run: string): string {
  return `train/${run}/`;
}

function stepDir(run: string, step: number): string {
  return `${runPrefix(run)}step-${String(step).padStart(9, '0')}/`;
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function sha256(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** Steps of every complete checkpoint of a run, ascending. */
export function checkpointSteps(volume: Volume, run: string): number[] {
  const prefix = runPrefix(run);
  const steps: number[] = [];
  for (const f of volume.ls()) {
    if (!f.name.startsWith(prefix) || !f.name.endsWith('/state.json')) continue;
    const m = /step-(\d+)\/state\.json$/.exec(f.name);
    if (m) steps.push(Number(m[1]));
  }
  return steps.sort((a, b) => a - b);
}

export async function writeCheckpoint<R>(volume: Volume, data: CheckpointData<R>): Promise<void> {
  const { state } = data;
  const dir = stepDir(state.run, state.step);
  const params = bytesOf(data.params);
  const optim = new Uint8Array(data.m.byteLength + data.v.byteLength);
  optim.set(bytesOf(data.m), 0);
  optim.set(bytesOf(data.v), data.m.byteLength);
  const full: CheckpointState<R> = { ...state, paramsSha256: sha256(params), optimSha256: sha256(optim) };
  try {
    await volume.put(`${dir}params.f32`, [params], { overwrite: true, size: params.length });
    await volume.put(`${dir}optim.f32`, [optim], { overwrite: true, size: optim.length });
    const json = new TextEncoder().encode(JSON.stringify(full));
    await volume.put(`${dir}state.json`, [json], { overwrite: true, size: json.length });
  } catch (e) {
    throw new TrainError('TRAIN_CHECKPOINT', `checkpoint of run ${state.run} at step ${state.step} could not be written: ${(e as Error).message} (the previous checkpoint is kept)`, {
      run: state.run,
      step: state.step,
    });
  }
  const steps = checkpointSteps(volume, state.run);
  for (const s of steps.slice(0, Math.max(0, steps.length - KEEP))) await removeCheckpoint(volume, state.run, s);
}

async function removeCheckpoint(volume: Volume, run: string, step: number): Promise<void> {
  const dir = stepDir(run, step);
  // state.json first: a checkpoint without it no longer counts, whatever is left of it.
  for (const f of ['state.json', 'params.f32', 'optim.f32']) {
    if (volume.stat(dir + f)) await volume.rm(dir + f);
  }
}

async function readAll(volume: Volume, name: string): Promise<Uint8Array> {
  const info = volume.stat(name);
  if (!info) throw new TrainError('TRAIN_CHECKPOINT', `checkpoint file ${name} is missing`, { file: name });
  const buf = await volume.read(name, 0, info.size);
  return new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

export async function readCheckpoint<R = Recipe>(volume: Volume, run: string, step: number): Promise<CheckpointData<R>> {
  const dir = stepDir(run, step);
  const stateBytes = await readAll(volume, `${dir}state.json`);
  let state: CheckpointState<R>;
  try {
    state = JSON.parse(new TextDecoder().decode(stateBytes)) as CheckpointState<R>;
  } catch (e) {
    throw new TrainError('TRAIN_CHECKPOINT', `${dir}state.json is not JSON: ${(e as Error).message}`, { file: `${dir}state.json` });
  }
  if (state.version !== 1 || state.step !== step || state.run !== run) {
    throw new TrainError('TRAIN_CHECKPOINT', `${dir}state.json does not describe run ${run} step ${step}`, { file: `${dir}state.json` });
  }
  const params = await readAll(volume, `${dir}params.f32`);
  const optim = await readAll(volume, `${dir}optim.f32`);
  if (sha256(params) !== state.paramsSha256 || sha256(optim) !== state.optimSha256) {
    throw new TrainError('TRAIN_CHECKPOINT', `${dir}: the weights do not match the sha256 recorded in state.json`, { file: dir });
  }
  const n = state.paramTotal;
  if (params.length !== n * 4 || optim.length !== n * 8) {
    throw new TrainError('TRAIN_CHECKPOINT', `${dir}: sizes ${params.length}/${optim.length} bytes do not fit ${n} parameters`, { file: dir });
  }
  const o = new Float32Array(optim.buffer, optim.byteOffset, 2 * n);
  return { state, params: new Float32Array(params.buffer, params.byteOffset, n), m: o.slice(0, n), v: o.slice(n) };
}

/** The latest complete checkpoint of a run, or null when it has none. */
export async function latestCheckpoint<R = Recipe>(volume: Volume, run: string): Promise<CheckpointData<R> | null> {
  const steps = checkpointSteps(volume, run);
  const last = steps[steps.length - 1];
  return last === undefined ? null : readCheckpoint<R>(volume, run, last);
}

/** Removes every checkpoint of a run (a fresh start under the same name). */
export async function removeRun(volume: Volume, run: string): Promise<void> {
  const prefix = runPrefix(run);
  for (const f of volume.ls()) if (f.name.startsWith(prefix)) await volume.rm(f.name);
}
