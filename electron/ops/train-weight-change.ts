/**
 * Weight change of a training run (the explorer's heat layer; specs/training.md, "The Training
 * view"): for checkpoint s of a run and the checkpoint before it (or the initial weights,
 * regenerated from the recipe's seed), the RMS of the difference per tensor and per tile of that
 * tensor's stored bytes. Checkpoints are pruned (electron/train/checkpoint.ts keeps two), so each
 * checkpoint's change is computed when its `checkpoint` event arrives, while the one before it
 * still exists, and kept in `<dataDir>/training/RUN.weight-change.json`; checkpoints still in the
 * volume can always be compared on request.
 *
 * A use case of the services' training runs (electron/services/train-handlers.ts), written
 * without the transport: the services record a change at each checkpoint event and ask for one
 * on `train:weight-change`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TRAIN_LIMITS, type WeightChangeInfo } from '../../shared/ipc/channels/train';
import { paramLayout } from '../../shared/train/param-layout';
import { initParams } from '../../shared/train/init';
import { modelConfigOf, type Recipe } from '../../shared/train/recipe';
import { writeFileDurable } from '../pixelfs/file-ops';
import type { ModelStore } from '../models/store';
import { readCheckpoint } from '../train/checkpoint';
import { TrainServiceError } from './train-error';

/** One checkpoint's change against its base (0: the initial weights). */
export interface StoredChange {
  step: number;
  base: number;
  tileValues: number;
  tensors: WeightChangeInfo['tensors'];
}

interface ChangeFile {
  version: 1;
  run: string;
  /** The task whose checkpoints these are (a new run under the same name starts a new file). */
  changes: StoredChange[];
}

/** What `train:weight-change` shows of a run, less the model it imported. */
export type ShownChange = Omit<WeightChangeInfo, 'run' | 'modelId'>;

/**
 * The RMS of `cur − base` per tensor and per tile of each tensor (`tileValues` values a tile,
 * in the tensor's row-major order, as PixelFS stores an F32 tensor's bytes): `cur` is a flat
 * checkpoint buffer in paramLayout order, `base` another or the initial weights by name.
 */
export function weightChange(recipe: Recipe, cur: Float32Array, base: Float32Array | ReadonlyMap<string, Float32Array>, tileValues: number): WeightChangeInfo['tensors'] {
  const layout = paramLayout(modelConfigOf(recipe));
  const out: WeightChangeInfo['tensors'] = [];
  for (const slot of layout.order) {
    const n = slot.spec.size;
    const from = base instanceof Float32Array ? base.subarray(slot.offset, slot.offset + n) : base.get(slot.spec.name);
    if (!from || from.length !== n) throw new TrainServiceError('TRAIN_NO_CHANGE', `weight change: no base values for ${slot.spec.name}`);
    const tiles = Math.ceil(n / tileValues);
    const sums = new Float64Array(tiles);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = cur[slot.offset + i]! - from[i]!;
      sums[Math.floor(i / tileValues)]! += d * d;
    }
    const perTile: number[] = [];
    for (let t = 0; t < tiles; t++) {
      total += sums[t]!;
      const count = Math.min(tileValues, n - t * tileValues);
      perTile.push(Math.sqrt(sums[t]! / count));
    }
    out.push({ name: slot.spec.name, values: n, rms: Math.sqrt(total / n), tiles: perTile });
  }
  return out;
}

/** The weight-change records of every run, in `dir` (`<dataDir>/training`). */
export class WeightChangeRecords {
  private readonly changeCache = new Map<string, StoredChange>();
  /** Per run: the weight-change records being written, in checkpoint order. */
  private readonly recording = new Map<string, Promise<void>>();
  /** Per run: the last checkpoint's weights, so the next one is compared without a read. */
  private readonly lastParams = new Map<string, { step: number; params: Float32Array }>();

  constructor(
    private readonly dir: string,
    private readonly store: () => Promise<ModelStore>,
    private readonly log?: (message: string) => void,
  ) {}

  private file(run: string): string {
    return path.join(this.dir, `${run}.weight-change.json`);
  }

  /** The changes recorded for `run` (none when its file is missing or unreadable). */
  read(run: string): StoredChange[] {
    try {
      const f = JSON.parse(fs.readFileSync(this.file(run), 'utf8')) as ChangeFile;
      return f.version === 1 && Array.isArray(f.changes) ? f.changes : [];
    } catch {
      return [];
    }
  }

  /** Resolves once the records of `run` being written have landed (or failed: a failure costs a log line). */
  async settled(run: string): Promise<void> {
    await this.recording.get(run)?.catch(() => undefined);
  }

  /** Records the change of checkpoint `step` against `base`, after the records already queued for `run`. */
  record(run: string, step: number, base: number, recipeOf: () => Recipe, discarded: () => boolean): void {
    const prev = this.recording.get(run) ?? Promise.resolve();
    const next = prev
      .catch(() => undefined)
      .then(async () => {
        const store = await this.store();
        const recipe = recipeOf();
        const cur = (await readCheckpoint(store.volume, run, step)).params;
        const held = this.lastParams.get(run);
        const from = held?.step === base ? held.params : base === 0 ? initParams(modelConfigOf(recipe), recipe.train.seed) : (await readCheckpoint(store.volume, run, base)).params;
        this.lastParams.set(run, { step, params: cur });
        const tileValues = store.volume.settings.tileWidth * store.volume.settings.tileHeight;
        const change: StoredChange = { step, base, tileValues, tensors: weightChange(recipe, cur, from, tileValues) };
        if (discarded()) return;
        const changes = this.read(run).filter((c) => c.step !== step);
        changes.push(change);
        changes.sort((a, b) => a.step - b.step);
        fs.mkdirSync(this.dir, { recursive: true });
        const file: ChangeFile = { version: 1, run, changes: changes.slice(-TRAIN_LIMITS.changes) };
        await writeFileDurable(this.file(run), new TextEncoder().encode(JSON.stringify(file)));
      })
      .catch((e: unknown) => {
        // The checkpoint may be gone already (pruned, or the run cancelled): it can still be
        // compared on request while it exists.
        this.log?.(`weight change of ${run} at step ${step} not recorded: ${(e as Error).message}`);
      });
    this.recording.set(run, next);
  }

  /** Forgets `run`'s records (its run was cancelled): the file, the weights held, the cached changes. */
  forget(run: string): void {
    fs.rmSync(this.file(run), { force: true });
    this.lastParams.delete(run);
    for (const k of [...this.changeCache.keys()]) if (k.startsWith(`${run}@`)) this.changeCache.delete(k);
  }

  /**
   * The change of checkpoint `step` (default: the latest) of a run trained from `recipe` whose
   * volume holds `checkpoints`: recorded, or computed now against the checkpoint before it.
   */
  async show(store: ModelStore, run: string, recipe: Recipe, checkpoints: readonly number[], step: number | undefined): Promise<ShownChange> {
    const recorded = this.read(run);
    // Every change this run can show: the recorded ones, and checkpoints still in the volume
    // against the one before them (or the initial weights when none is left before them).
    const refs = new Map<number, number>();
    checkpoints.forEach((s, i) => refs.set(s, i > 0 ? checkpoints[i - 1]! : 0));
    for (const c of recorded) refs.set(c.step, c.base);
    const changes = [...refs].map(([s, base]) => ({ step: s, base })).sort((a, b) => a.step - b.step);
    if (changes.length === 0) throw new TrainServiceError('TRAIN_NO_CHANGE', `run ${run} has no checkpoint yet: its weight change shows after the first one`, { run });
    const want = step ?? changes[changes.length - 1]!.step;
    const ref = changes.find((c) => c.step === want);
    if (!ref) throw new TrainServiceError('TRAIN_NO_CHANGE', `run ${run} has no checkpoint at step ${want}; it has ${changes.map((c) => c.step).join(', ')}`, { run, step: want });
    let change = recorded.find((c) => c.step === want && c.base === ref.base) ?? this.changeCache.get(`${run}@${want}-${ref.base}`);
    if (!change) {
      const tileValues = store.volume.settings.tileWidth * store.volume.settings.tileHeight;
      const cur = (await readCheckpoint(store.volume, run, want)).params;
      const from = ref.base === 0 ? initParams(modelConfigOf(recipe), recipe.train.seed) : (await readCheckpoint(store.volume, run, ref.base)).params;
      change = { step: want, base: ref.base, tileValues, tensors: weightChange(recipe, cur, from, tileValues) };
      if (this.changeCache.size > 16) this.changeCache.clear();
      this.changeCache.set(`${run}@${want}-${ref.base}`, change);
    }
    return { step: change.step, base: change.base, tileValues: change.tileValues, changes: changes.slice(-TRAIN_LIMITS.changes), tensors: change.tensors };
  }
}
