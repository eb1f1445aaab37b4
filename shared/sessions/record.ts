/**
 * A self-improvement session (issue 12, item 5): one time the engine tried to improve itself —
 * the kernel tuner, the residency planner, a training run, a layout reorganisation — with the
 * evidence for what it decided: the variants tried, each checked against the reference before it
 * was timed, the interleaved timing samples, the speed-up with its bootstrap interval, the
 * decision and its reason, and where one was made an end-to-end confirmation in tokens/s. The
 * dashboard lists them and undoes kept decisions (electron/sessions/store.ts keeps them).
 *
 * The schema is the contract for the IPC channels and for the sessions file alike, and is
 * bounded everywhere, so a record (or a file of them) can never grow without limit.
 */
import { z } from 'zod';
import { PxiError } from '../errors';

export const SESSION_KINDS = ['kernel-tuning', 'residency', 'training', 'layout'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];

export const SESSION_LIMITS = Object.freeze({
  /** Sessions a store keeps; the oldest go first. */
  sessions: 200,
  trials: 64,
  variants: 32,
  /** Rounds per variant (pxi tune allows 100). */
  samples: 100,
  details: 400,
  text: 2000,
  /** The sessions file at most (UTF-16 units of its JSON): past it the oldest sessions go first. */
  fileChars: 4 * 1024 * 1024,
});

const Text = z.string().max(SESSION_LIMITS.text);
const Name = z.string().min(1).max(128);
const Time = z.string().max(64);
const Finite = z.number().finite();
const Ms = z.number().nonnegative().finite();

/** One variant tried: its correctness check against the reference, then its timing samples. */
export const SessionVariant = z.strictObject({
  name: Name,
  /** True: it computed what the reference computes; false: it did not (never timed, never kept); null: not checked. */
  correct: z.boolean().nullable(),
  /** Milliseconds per run, one per round, in the order the interleaved rounds ran. */
  samplesMs: z.array(Ms).max(SESSION_LIMITS.samples),
});
export type SessionVariant = z.output<typeof SessionVariant>;

/** A speed-up of a variant over the baseline (above 1: faster) with its bootstrap interval. */
export const SessionSpeedup = z.strictObject({
  estimate: Finite.nonnegative(),
  lo: Finite.nonnegative(),
  hi: Finite.nonnegative(),
  confidence: z.number().gt(0).lt(1),
  resamples: z.number().int().min(1).max(1e7),
  /** What was resampled, in words ("median of the per-round speed ratios"). */
  statistic: Text,
});
export type SessionSpeedup = z.output<typeof SessionSpeedup>;

/** One decision within a session (the kernel tuner decides per weight type). */
export const SessionTrial = z.strictObject({
  /** What was decided about: a weight type, a tensor group, a layout. */
  subject: Name,
  /** The variant in use before (the reference every other variant is checked against). */
  baseline: Name,
  variants: z.array(SessionVariant).max(SESSION_LIMITS.variants),
  /** The variant the speed-up is of: the one kept, or the closest challenger; null when none was timed. */
  challenger: Name.nullable(),
  speedup: SessionSpeedup.nullable(),
  kept: z.boolean(),
  /** The variant in use after. */
  inUse: Name,
  reason: Text,
});
export type SessionTrial = z.output<typeof SessionTrial>;

/** A run of the real workload after the decision: tokens/s with it, and without it where measured. */
export const SessionConfirmation = z.strictObject({
  tokensPerSecond: Finite.nonnegative(),
  baselineTokensPerSecond: Finite.nonnegative().nullable(),
  note: Text,
});
export type SessionConfirmation = z.output<typeof SessionConfirmation>;

/** `kept`: something changed and can be undone; `unchanged`: everything stayed as it was; `recorded`: a plan made, nothing to undo. */
export const SESSION_DECISIONS = ['kept', 'unchanged', 'recorded'] as const;

/** A session as its producer hands it over; the store adds the id. */
export const NewSession = z.strictObject({
  kind: z.enum(SESSION_KINDS),
  /** The model the session was for; null when none (the kernel tuner times random matrices). */
  model: z.string().max(256).nullable(),
  /** adapterKey() of the adapter measured: vendor | architecture | device | description. */
  adapter: z.string().max(1000),
  /** The adapter and driver as people read them. */
  driver: z.string().max(1000),
  /** What was tried, in plain words. */
  description: Text,
  /** The hash of the code measured (the kernel tuner's kernelsKey); null when it does not apply. */
  codeHash: z.string().max(64).nullable(),
  startedAt: Time,
  finishedAt: Time,
  trials: z.array(SessionTrial).max(SESSION_LIMITS.trials),
  decision: z.enum(SESSION_DECISIONS),
  /** What changed for the user, in plain words. */
  effect: Text,
  /** Further lines of explanation (a residency plan explains itself line by line). */
  details: z.array(Text).max(SESSION_LIMITS.details),
  confirmation: SessionConfirmation.nullable(),
  /** What a kept decision changed, as its undo needs to find it (a layout: the packs' generation); absent where the kind needs none. */
  undoTarget: z.string().max(256).nullable().optional(),
});
export type NewSession = z.output<typeof NewSession>;

export const SESSION_ID = /^[a-z0-9-]{1,64}$/;

export const Session = NewSession.extend({
  id: z.string().regex(SESSION_ID),
  /** Set when a person undid the kept decision. */
  undone: z.strictObject({ at: Time, note: Text }).nullable(),
});
export type Session = z.output<typeof Session>;

// ---- the sessions file: read as hostile input --------------------------------------------------

export const SESSIONS_FILE_FORMAT = 'pxi-sessions';

const SessionsFileSchema = z.strictObject({
  format: z.literal(SESSIONS_FILE_FORMAT),
  version: z.literal(1),
  sessions: z.array(Session).max(SESSION_LIMITS.sessions),
});

export interface SessionsFile {
  format: typeof SESSIONS_FILE_FORMAT;
  version: 1;
  /** Newest first. */
  sessions: Session[];
}

export function emptySessionsFile(): SessionsFile {
  return { format: SESSIONS_FILE_FORMAT, version: 1, sessions: [] };
}

export type SessionErrorCode =
  | 'SESSIONS_BAD_FILE' // the sessions file is not what this version writes (the message names the file and the field)
  | 'SESSION_NOT_FOUND' // no session with that id
  | 'SESSION_NOT_UNDOABLE'; // the session kept nothing, or was undone already

export class SessionError extends PxiError {
  declare readonly code: SessionErrorCode;
  constructor(code: SessionErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

/** Parses a sessions file; SESSIONS_BAD_FILE names the file, the field and the problem. */
export function parseSessionsFile(text: string, file: string): SessionsFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SessionError('SESSIONS_BAD_FILE', `${file}: not JSON (${(e as Error).message})`, { file, field: '(root)' });
  }
  const r = SessionsFileSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || '(root)';
    throw new SessionError('SESSIONS_BAD_FILE', `${file}: ${field}: ${issue.message}`, { file, field });
  }
  return r.data;
}

/** The file with `session` in front, the oldest dropped past the count or the size limit. */
export function withSession(file: SessionsFile, session: Session, maxChars: number = SESSION_LIMITS.fileChars): SessionsFile {
  const sessions = [session, ...file.sessions.filter((s) => s.id !== session.id)].slice(0, SESSION_LIMITS.sessions);
  // Each session's share of the text, so dropping from the end needs no re-serialising.
  let chars = JSON.stringify({ ...file, sessions: [] }).length;
  let keep = 0;
  for (const s of sessions) {
    chars += JSON.stringify(s).length + 1;
    if (keep > 0 && chars > maxChars) break;
    keep++;
  }
  return { ...file, sessions: sessions.slice(0, keep) };
}
