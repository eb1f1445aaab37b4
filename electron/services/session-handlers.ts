/**
 * The sessions channels (shared/ipc/channels/sessions.ts) over the data folder's session store
 * (electron/sessions/store.ts). Undoing a kernel-tuning session forgets the kept measurement of
 * its adapter and kernel version in the Node hosts' tuning file (pxi tune's); the renderer forgets
 * its own copy of it (this browser's storage) when the undo succeeds.
 */
import type { sessionChannels } from '../../shared/ipc/channels/sessions';
import type { Handlers } from '../../shared/ipc/dispatch';
import { forgetTuning } from '../engine/tuning-store';
import type { ModelStore } from '../models/store';
import { parseLayoutUndoTarget } from '../../shared/sessions/layout';
import type { Session } from '../../shared/sessions/record';
import { SessionStore } from '../sessions/store';

export type SessionChannel = keyof typeof sessionChannels;
export type SessionHandlers = Pick<Handlers, SessionChannel>;

/**
 * Takes a model back to its import layout when `generation` is still its active packed layout;
 * false when it is not (undone or replaced already): a session never undoes a later decision.
 */
export type LayoutUndo = (modelId: string, generation: string) => Promise<boolean>;

/** The layout undo over a model store: back to the import layout while `generation` is the active one. */
export function storeLayoutUndo(store: () => ModelStore | Promise<ModelStore>): LayoutUndo {
  return async (modelId, generation) => {
    const s = await store();
    if ((await s.layoutJournal(modelId)).active?.generation !== generation) return false;
    await s.undoLayout(modelId);
    return true;
  };
}

function undoLayoutSession(s: Session, layoutUndo: LayoutUndo): Promise<boolean> {
  const t = s.undoTarget ? parseLayoutUndoTarget(s.undoTarget) : null;
  return t ? layoutUndo(t.modelId, t.generation) : Promise.resolve(false);
}

/** The store of a data folder, with the undo of each kind that has one. */
export function openSessionStore(path: string, tuningFile: string, layoutUndo?: LayoutUndo): SessionStore {
  return new SessionStore(path, {
    undoers: {
      'kernel-tuning': (s) => (s.codeHash ? forgetTuning(tuningFile, s.adapter, s.codeHash) : Promise.resolve(false)),
      ...(layoutUndo ? { layout: (s: Session) => undoLayoutSession(s, layoutUndo) } : {}),
    },
  });
}

export function sessionHandlers(store: () => SessionStore): SessionHandlers {
  return {
    'sessions:list': () => ({ sessions: store().list() }),
    'sessions:get': ({ id }) => store().get(id),
    'sessions:add': ({ session }) => store().add(session),
    'sessions:undo': ({ id }) => store().undo(id),
  };
}
