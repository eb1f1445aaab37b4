/**
 * `pxi layout apply` records its decision as a self-improvement session in the data folder's
 * session store (the app's Dashboard lists it and can undo it); `pxi layout undo` marks the
 * session of the packs it removed as undone, and a new apply marks the one it replaced. Best
 * effort, like the residency sessions: a store that cannot be written costs a warning, never the
 * layout change, which its own journal already holds.
 */
import type { LayoutDecision } from '../../shared/model/layout-journal';
import { layoutSession, layoutUndoTarget } from '../../shared/sessions/layout';
import { defaultDataDir } from '../app-meta';
import { sessionsFilePath, SessionStore } from '../sessions/store';
import type { CliIo } from './command';

const store = () => new SessionStore(sessionsFilePath(defaultDataDir()));

export async function recordLayoutApply(d: LayoutDecision, model: string, startedAt: Date, io: CliIo): Promise<void> {
  try {
    const s = store();
    // The packs of an earlier apply are gone once a new generation is active.
    await s.noteUndone((x) => x.kind === 'layout' && x.undoTarget?.startsWith(`${d.modelId}/`) === true, `Its packs are no longer in use: a later apply (generation ${d.generation}) found the model in its import layout.`);
    await s.add(layoutSession({ decision: d, model, startedAt: startedAt.toISOString(), by: 'pxi layout apply' }));
  } catch (e) {
    io.err(`warning: the layout decision was not recorded as a session: ${(e as Error).message}`);
  }
}

export async function recordLayoutUndo(d: LayoutDecision, io: CliIo): Promise<void> {
  try {
    const target = layoutUndoTarget(d.modelId, d.generation);
    await store().noteUndone((x) => x.kind === 'layout' && x.undoTarget === target, `Undone with pxi layout undo at ${d.at}: the import layout is used again.`);
  } catch (e) {
    io.err(`warning: the layout session was not marked undone: ${(e as Error).message}`);
  }
}
