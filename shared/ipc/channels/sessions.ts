import { z } from 'zod';
import { Empty } from './common';
import { NewSession, Session, SESSION_ID, SESSION_LIMITS } from '../../sessions/record';

/**
 * Self-improvement sessions (shared/sessions/record.ts; electron/sessions/store.ts keeps them in
 * `<data dir>/self-improvement-sessions.json`). Producers that run in the renderer (the kernel
 * tuner runs in the engine worker) hand a finished session to `sessions:add`; the dashboard lists
 * them, opens one, and undoes a kept decision. The store assigns ids: a renderer cannot choose one.
 */

const SessionId = z.string().regex(SESSION_ID, 'a session id is lowercase letters, digits and dashes');

export const sessionChannels = {
  /** Every kept session, newest first (at most SESSION_LIMITS.sessions). */
  'sessions:list': { request: Empty, response: z.strictObject({ sessions: z.array(Session).max(SESSION_LIMITS.sessions) }) },
  'sessions:get': { request: z.strictObject({ id: SessionId }), response: Session },
  /** Records a finished session; answers it with its id. */
  'sessions:add': { request: z.strictObject({ session: NewSession }), response: Session },
  /**
   * Undoes a kept decision: for kernel tuning, the kept measurement of that adapter and kernel
   * version is forgotten (the default shapes are used again). `alsoUndone`: other kept sessions
   * whose effect went with it (the same adapter's and kernels' measurement).
   */
  'sessions:undo': {
    request: z.strictObject({ id: SessionId }),
    response: z.strictObject({ session: Session, forgotten: z.boolean(), alsoUndone: z.array(SessionId).max(SESSION_LIMITS.sessions) }),
  },
} as const;
