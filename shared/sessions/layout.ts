/**
 * A layout reorganisation (shared/model/layout-journal.ts, issue 12 §4) as a self-improvement
 * session. The decision rests on a count, not a timing: the planner packs co-read tensors so that
 * the traced reads load fewer tiles, which is exact for a given trace. The cold read is timed once
 * in each layout (PixelFS's tile cache emptied, the OS page cache not), so it is shown as evidence
 * with no interval; `npm run bench:layout` repeats it interleaved where a figure is wanted.
 */
import type { LayoutDecision, LayoutMeasurement } from '../model/layout-journal';
import type { NewSession, SessionTrial } from './record';

export interface LayoutRun {
  decision: LayoutDecision;
  /** The model as people name it. */
  model: string;
  startedAt: string;
  /** Who applied it: "pxi layout apply". */
  by: string;
}

/** Sessions of this kind are about the volume, not a GPU: they carry this in place of an adapter key. */
export const LAYOUT_SESSION_ADAPTER = 'pixelfs-volume';

const cost = (m: LayoutMeasurement) => `${m.tileLoads} tile loads, ${m.seeks} seeks, ${m.files} files${m.coldReadMs === null ? '' : `, cold read ${m.coldReadMs.toFixed(1)} ms`}`;

export function layoutSession(r: LayoutRun): NewSession {
  const d = r.decision;
  const packed = `packed layout ${d.generation}`;
  const trial: SessionTrial = {
    subject: 'tile placement',
    baseline: 'import layout',
    variants: [
      { name: 'import layout', correct: true, samplesMs: d.before.coldReadMs === null ? [] : [d.before.coldReadMs] },
      // Correct: every pack's tensors were checked against the manifest's sha256 before the switch.
      { name: packed, correct: true, samplesMs: d.after.coldReadMs === null ? [] : [d.after.coldReadMs] },
    ],
    challenger: packed,
    speedup: null,
    kept: d.action === 'apply',
    inUse: d.action === 'apply' ? packed : 'import layout',
    reason: `The traced reads load ${d.before.tileLoads} tiles in the import layout and ${d.after.tileLoads} in the packs (counted, not timed).`,
  };
  return {
    kind: 'layout',
    model: r.model,
    adapter: LAYOUT_SESSION_ADAPTER,
    driver: 'PixelFS volume (no GPU involved)',
    description: `The layout reorganiser (run by ${r.by}) packed the tensors a load reads together into shared files, in read order, so they share tiles.`,
    codeHash: null,
    startedAt: r.startedAt,
    finishedAt: d.at,
    trials: [trial],
    decision: d.action === 'apply' ? 'kept' : 'recorded',
    effect: d.decision.slice(0, 2000),
    details: [`Before: ${cost(d.before)}.`, `After: ${cost(d.after)}.`, ...(d.undo ? [`Undo from a terminal: ${d.undo.command}`] : [])],
    confirmation: null,
    undoTarget: layoutUndoTarget(d.modelId, d.generation),
  };
}

/** The undo target of a layout session: the model's id and the packs' generation. */
export function layoutUndoTarget(modelId: string, generation: string): string {
  return `${modelId}/${generation}`;
}

/** The model id and generation of a layout session's undo target, or null when it is not one. */
export function parseLayoutUndoTarget(target: string): { modelId: string; generation: string } | null {
  const cut = target.lastIndexOf('/');
  if (cut <= 0 || cut === target.length - 1) return null;
  return { modelId: target.slice(0, cut), generation: target.slice(cut + 1) };
}
