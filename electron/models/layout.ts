/**
 * Layout migrations of stored models (issue 12 §4, specs/pixelfs.md "Layout reorganisation").
 *
 * A model starts in its import layout: one PixelFS file per tensor. A planned layout packs the
 * tensors a pass reads together into a few files, in read order (shared/model/layout-plan.ts).
 * Each model's journal (`layouts/<id>.json` in the volume folder, shared/model/layout-journal.ts)
 * says which layout is active; it is rewritten whole with writeFileDurable, so every change of
 * the active layout is one atomic rename.
 *
 * apply: journal intent "apply" (durable) → the packs are written beside the import files
 *        (PixelFS puts, every tensor checked against the manifest's sha256) → journal with the
 *        packs active and no intent: the switch.
 * undo:  journal with no active packs and intent "retire": the switch back → packs removed →
 *        journal without intent.
 * recover (at open, and before an apply or undo that finds an intent left by a failed one):
 *        intent "apply" → remove its files, clear it (the old layout stays); intent "retire" →
 *        finish removing, clear it (the import layout is already active); and pack files the
 *        active layout does not name are removed (a journal rewrite lost to a power cut).
 * A crash anywhere leaves the model readable in the old or the new layout, never in between.
 * The map follows without a step of its own: the map index names tensors, never files, and
 * every file or tile it shows (map:region's place, a stored tile's PixelFS tiles) is resolved
 * through `location`, i.e. through this journal, as reads are (specs/map.md §2).
 * The import files are kept while packs are active (undo needs no copy; export reads them): a
 * packed model takes its size twice on disk.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ManifestTensor, ModelManifest } from '../../shared/model/manifest';
import { LayoutError } from '../../shared/model/layout-errors';
import {
  emptyJournal,
  packDir,
  parseLayoutJournal,
  type LayoutDecision,
  type LayoutJournal,
  type LayoutMeasurement,
  type PackedLayout,
  type PackFile,
} from '../../shared/model/layout-journal';
import { importPlaces, packPlaces, readCost, type LayoutPlan, type ReadCost, type TensorPlace, type TensorRead } from '../../shared/model/layout-plan';
import { writeFileDurable, type FileOps, type Volume } from '../pixelfs/index';
import { ModelStoreError } from './errors';

export const LAYOUTS_DIR = 'layouts';

export type RecoveryOutcome = 'none' | 'rolled-back' | 'finished';

/** Where one tensor's bytes are read from in the model's active layout. */
export interface TensorLocation {
  /** PixelFS file: the tensor's own import file, or the pack holding it. */
  readonly file: string;
  /** Byte of `file` where the tensor's first byte is (0 in the import layout). */
  readonly offset: number;
  /** The active packed layout's generation; null: the import layout. */
  readonly generation: string | null;
  /** Tensors stored in `file` (1 in the import layout). */
  readonly tensorsInFile: number;
}

function isEnoent(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** Where every tensor of `m` lives under `journal`'s active layout. */
export function placesOf(m: Pick<ModelManifest, 'tensors'>, journal: LayoutJournal): Map<string, TensorPlace> {
  if (!journal.active) return importPlaces(m.tensors);
  const packs = journal.active.packs;
  return packPlaces(packs, (i) => packs[i]!.file);
}

export class ModelLayouts {
  private readonly dir: string;
  private readonly journals = new Map<string, LayoutJournal>();
  /** Each active packed layout's tensor places, built once per journal (reads look them up). */
  private readonly places = new WeakMap<PackedLayout, Map<string, TensorPlace & { tensorsInFile: number }>>();
  /** Models with an apply or undo running in this process (one volume has one owner process). */
  private readonly busy = new Set<string>();

  constructor(
    root: string,
    private readonly volume: Volume,
    private readonly ops: FileOps,
  ) {
    this.dir = path.join(root, LAYOUTS_DIR);
  }

  journalPath(modelId: string): string {
    return path.join(this.dir, `${modelId}.json`);
  }

  /** The model's journal (an empty one when it has none), read once and cached. */
  async journal(m: Pick<ModelManifest, 'id' | 'tensors'>): Promise<LayoutJournal> {
    const have = this.journals.get(m.id);
    if (have) return have;
    const file = this.journalPath(m.id);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (e) {
      if (!isEnoent(e)) throw e;
      const j = emptyJournal(m.id);
      this.journals.set(m.id, j);
      return j;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new LayoutError('LAYOUT_JOURNAL_INVALID', { file, field: '(root)' }, text.slice(0, 40), `not JSON: ${(e as Error).message}`);
    }
    const j = parseLayoutJournal(json, file, m.id, m.tensors.map((t) => ({ name: t.name, bytes: t.bytes })));
    this.journals.set(m.id, j);
    return j;
  }

  /** The one durable, atomic step of every transition: the whole journal, temp + fsync + rename. */
  private async write(j: LayoutJournal): Promise<void> {
    if (await this.ops.mkdir(this.dir)) await this.ops.fsyncDir(path.dirname(this.dir));
    this.journals.delete(j.modelId); // a failed write leaves the disk's version to be read again
    await writeFileDurable(this.journalPath(j.modelId), Buffer.from(JSON.stringify(j, null, 1)), this.ops);
    this.journals.set(j.modelId, j);
  }

  /**
   * Where tensor `t`'s bytes are now: the file and offset the active layout gives it, which
   * layout that is, and how many tensors share the file. Reads, the map's region details and
   * its tile references all resolve through this, so they switch with the journal's one rename.
   */
  async location(m: ModelManifest, t: ManifestTensor): Promise<TensorLocation> {
    const j = await this.journal(m);
    if (!j.active) return { file: t.file, offset: 0, generation: null, tensorsInFile: 1 };
    let places = this.places.get(j.active);
    if (!places) {
      places = new Map();
      for (const p of j.active.packs) for (const x of p.tensors) places.set(x.name, { file: p.file, offset: x.offset, tensorsInFile: p.tensors.length });
      this.places.set(j.active, places);
    }
    const p = places.get(t.name)!;
    return { file: p.file, offset: p.offset, generation: j.active.generation, tensorsInFile: p.tensorsInFile };
  }

  /** `length` bytes at `offset` of tensor `t`, from wherever the active layout keeps it. */
  async read(m: ModelManifest, t: ManifestTensor, offset: number, length: number): Promise<Buffer> {
    const p = await this.location(m, t);
    return this.volume.read(p.file, p.offset + offset, length);
  }

  /**
   * Finishes or rolls back a migration a crash cut off, and removes pack files the active layout
   * does not name (a journal rewrite lost to a power cut leaves the journal before it; where
   * that is none, the import layout is active and every pack is stray). Returns what it did.
   */
  async recover(m: ModelManifest): Promise<RecoveryOutcome> {
    const j = await this.journal(m);
    const keep = new Set(j.active?.packs.map((p) => p.file) ?? []);
    const prefix = `models/${m.id}/layout-`;
    const stray = [...this.volume.ls().map((f) => f.name), ...this.volume.pending().map((p) => p.name)].filter((n) => n.startsWith(prefix) && !keep.has(n));
    await this.removeFiles([...new Set([...(j.intent?.files ?? []), ...stray])]);
    if (!j.intent) return stray.length > 0 ? 'rolled-back' : 'none';
    await this.write({ ...j, intent: null });
    return j.intent.op === 'apply' ? 'rolled-back' : 'finished';
  }

  /** Removes pack files, complete or half-written; absent ones are fine (a rerun of recovery). */
  private async removeFiles(files: readonly string[]): Promise<void> {
    const pending = new Set(this.volume.pending().map((p) => p.name));
    for (const f of files) {
      if (pending.has(f)) await this.volume.rm(f, { pending: true });
      if (this.volume.stat(f)) await this.volume.rm(f);
    }
  }

  /**
   * Writes `plan`'s packs and switches the model to them. `measure` (optional) times a cold read
   * of the trace in the layout active when it is called: once before, once after the switch.
   */
  async apply(m: ModelManifest, plan: LayoutPlan, trace: readonly TensorRead[], measure?: () => Promise<number>): Promise<LayoutDecision> {
    return this.exclusive(m, () => this.doApply(m, plan, trace, measure));
  }

  /**
   * Runs one migration of `m` at a time; one that failed earlier in this process (a full disk,
   * a damaged tile) left its intent behind, and is recovered first, as an open would.
   */
  private async exclusive<T>(m: ModelManifest, fn: () => Promise<T>): Promise<T> {
    if (this.busy.has(m.id)) throw new LayoutError('LAYOUT_STATE', { file: this.journalPath(m.id), field: 'intent' }, m.id, 'another layout apply or undo of this model is running');
    this.busy.add(m.id);
    try {
      if ((await this.journal(m)).intent) await this.recover(m);
      return await fn();
    } finally {
      this.busy.delete(m.id);
    }
  }

  private async doApply(m: ModelManifest, plan: LayoutPlan, trace: readonly TensorRead[], measure?: () => Promise<number>): Promise<LayoutDecision> {
    let j = await this.journal(m);
    if (j.active) throw new LayoutError('LAYOUT_STATE', { file: this.journalPath(m.id), field: 'active' }, j.active.generation, 'the model is already packed; undo it before applying another layout');
    const before: LayoutMeasurement = { ...readCost(trace, placesOf(m, j), this.volume.tileBytes), coldReadMs: measure ? await measure() : null };
    const generation = randomBytes(8).toString('hex');
    const dir = packDir(m.id, generation);
    const files = plan.packs.map((_, i) => `${dir}${i}`);
    j = { ...j, intent: { op: 'apply', generation, files } };
    await this.write(j);

    const byName = new Map(m.tensors.map((t) => [t.name, t] as const));
    const packs: PackFile[] = [];
    for (const [i, spec] of plan.packs.entries()) {
      const r = await this.volume.put(files[i]!, this.packBytes(m, spec.tensors.map((t) => byName.get(t.name)!)), { size: spec.size });
      packs.push({ file: r.name, size: r.size, sha256: r.sha256, tensors: spec.tensors });
    }
    const active: PackedLayout = { strategy: plan.strategy, generation, packs };
    const afterCost = readCost(trace, placesOf(m, { ...j, active }), this.volume.tileBytes);
    const decision: LayoutDecision = {
      kind: 'layout',
      modelId: m.id,
      at: new Date().toISOString(),
      action: 'apply',
      strategy: plan.strategy,
      generation,
      before,
      after: { ...afterCost, coldReadMs: null },
      decision: `packed ${m.tensors.length} tensors into ${packs.length} files in read order: ${before.tileLoads} → ${afterCost.tileLoads} tile loads, ${before.seeks} → ${afterCost.seeks} seeks per cold pass`,
      undo: { action: 'undo', modelId: m.id, generation, command: `pxi layout undo ${m.id}` },
    };
    j = { ...j, active, intent: null, decisions: [...j.decisions, decision] };
    await this.write(j); // the switch
    if (!measure) return decision;
    // Measured in the new layout; a crash before this write leaves the decision with null time.
    const measured = { ...decision, after: { ...decision.after, coldReadMs: await measure() } };
    await this.write({ ...j, decisions: [...j.decisions.slice(0, -1), measured] });
    return measured;
  }

  /** The tensors' bytes in pack order, each checked against the manifest as it streams. */
  private async *packBytes(m: ModelManifest, tensors: readonly ManifestTensor[]): AsyncGenerator<Uint8Array> {
    const chunk = this.volume.tileBytes;
    for (const t of tensors) {
      const h = createHash('sha256');
      for (let at = 0; at < t.bytes; at += chunk) {
        const b = await this.volume.read(t.file, at, Math.min(chunk, t.bytes - at));
        h.update(b);
        yield b;
      }
      const got = h.digest('hex');
      if (got !== t.sha256) {
        throw new ModelStoreError('MODEL_CORRUPT', `model ${m.name}: tensor ${JSON.stringify(t.name)} reads back with sha256 ${got}, the manifest says ${t.sha256}`, {
          file: t.file,
          field: 'sha256',
          value: got,
        });
      }
    }
  }

  /** Switches the model back to its import layout, then removes the packs. */
  async undo(m: ModelManifest, trace: readonly TensorRead[]): Promise<LayoutDecision> {
    return this.exclusive(m, () => this.doUndo(m, trace));
  }

  private async doUndo(m: ModelManifest, trace: readonly TensorRead[]): Promise<LayoutDecision> {
    let j = await this.journal(m);
    if (!j.active) throw new LayoutError('LAYOUT_STATE', { file: this.journalPath(m.id), field: 'active' }, null, 'the model is in its import layout: nothing to undo');
    const old = j.active;
    const cost = (l: LayoutJournal): ReadCost => readCost(trace, placesOf(m, l), this.volume.tileBytes);
    const before = cost(j);
    const after = cost({ ...j, active: null });
    const decision: LayoutDecision = {
      kind: 'layout',
      modelId: m.id,
      at: new Date().toISOString(),
      action: 'undo',
      strategy: old.strategy,
      generation: old.generation,
      before: { ...before, coldReadMs: null },
      after: { ...after, coldReadMs: null },
      decision: `undid layout ${old.generation}: back to one file per tensor (${before.tileLoads} → ${after.tileLoads} tile loads per cold pass)`,
      undo: null,
    };
    const files = old.packs.map((p) => p.file);
    j = { ...j, active: null, intent: { op: 'retire', generation: old.generation, files }, decisions: [...j.decisions, decision] };
    await this.write(j); // the switch back
    await this.removeFiles(files);
    await this.write({ ...j, intent: null });
    return decision;
  }

  /** Drops a removed model's journal (a crash before this leaves a journal no model uses: harmless, removed at the next remove of that id). */
  async forget(modelId: string): Promise<void> {
    this.journals.delete(modelId);
    try {
      await this.ops.unlink(this.journalPath(modelId));
    } catch (e) {
      if (!isEnoent(e)) throw e;
      return;
    }
    await this.ops.fsyncDir(this.dir);
  }

  /** Times a cold read of `trace` through `read` (the tile cache emptied first). */
  async coldRead(trace: readonly TensorRead[], read: (r: TensorRead) => Promise<unknown>): Promise<{ ms: number; tileLoads: number }> {
    this.volume.dropCache();
    const loads0 = this.volume.tileLoads;
    const t0 = performance.now();
    for (const r of trace) if (r.length > 0) await read(r);
    return { ms: performance.now() - t0, tileLoads: this.volume.tileLoads - loads0 };
  }
}
