/**
 * The self-improvement sessions of one data folder (shared/sessions/record.ts):
 * `<data dir>/self-improvement-sessions.json`, newest first, at most SESSION_LIMITS.sessions
 * (the oldest go first). A JSON file rather than a table: sessions are few, small and written
 * whole, and the project's one durable write (writeFileDurable) leaves the old file or the new
 * one after a crash, never a torn one. Changes are queued one after another, so two sessions
 * finishing together cannot drop each other. A file that does not parse is reported with its
 * name and field, and never overwritten: the evidence stays for a person to look at.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { nodeFileOps, writeFileDurable, type FileOps } from '../pixelfs/file-ops';
import { emptySessionsFile, NewSession, SessionConfirmation, parseSessionsFile, SessionError, withSession, type Session, type SessionKind, type SessionsFile } from '../../shared/sessions/record';

export const SESSIONS_FILE_NAME = 'self-improvement-sessions.json';

export function sessionsFilePath(dataDir: string): string {
  return join(dataDir, SESSIONS_FILE_NAME);
}

/** Takes back what a kept session changed; true when there was something to take back. */
export type Undoer = (session: Session) => Promise<boolean>;

export interface SessionStoreOptions {
  ops?: FileOps;
  now?: () => Date;
  /** Per kind, how its kept decisions are undone; a kind without one cannot be undone. */
  undoers?: Partial<Record<SessionKind, Undoer>>;
}

export interface UndoResult {
  session: Session;
  forgotten: boolean;
  /** Other kept sessions whose effect the same undo took away. */
  alsoUndone: string[];
}

export class SessionStore {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly ops: FileOps;
  private readonly now: () => Date;

  constructor(
    readonly path: string,
    private readonly opts: SessionStoreOptions = {},
  ) {
    this.ops = opts.ops ?? nodeFileOps;
    this.now = opts.now ?? (() => new Date());
  }

  /** The file's sessions; an absent file is empty; a damaged one throws SESSIONS_BAD_FILE. */
  read(): SessionsFile {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptySessionsFile();
      throw e;
    }
    return parseSessionsFile(text, this.path);
  }

  list(): Session[] {
    return this.read().sessions;
  }

  get(id: string): Session {
    const s = this.read().sessions.find((x) => x.id === id);
    if (!s) throw new SessionError('SESSION_NOT_FOUND', `no self-improvement session ${id} in ${this.path}`, { id });
    return s;
  }

  /** Records a finished session (checked against the schema: CLI callers do not pass the IPC checks). */
  add(session: NewSession): Promise<Session> {
    return this.change((file) => {
      const s: Session = { ...NewSession.parse(session), id: `${session.kind}-${this.now().getTime().toString(36)}-${randomBytes(4).toString('hex')}`, undone: null };
      return { file: withSession(file, s), result: s };
    });
  }

  /** Adds the end-to-end confirmation of a session's decision (a run that followed it). */
  confirm(id: string, confirmation: SessionConfirmation): Promise<Session> {
    return this.change((file) => {
      if (!file.sessions.some((x) => x.id === id)) throw new SessionError('SESSION_NOT_FOUND', `no self-improvement session ${id} in ${this.path}`, { id });
      const sessions = file.sessions.map((x) => (x.id === id ? { ...x, confirmation: SessionConfirmation.parse(confirmation) } : x));
      return { file: { ...file, sessions }, result: sessions.find((x) => x.id === id)! };
    });
  }

  /**
   * Undoes a kept session's decision through its kind's undoer, then marks it undone, with
   * every other kept session of the same kind, adapter and code hash: their effect was the same
   * kept state, and it is gone now.
   */
  undo(id: string): Promise<UndoResult> {
    return this.change(async (file) => {
      const s = file.sessions.find((x) => x.id === id);
      if (!s) throw new SessionError('SESSION_NOT_FOUND', `no self-improvement session ${id} in ${this.path}`, { id });
      const undoer = this.opts.undoers?.[s.kind];
      if (s.decision !== 'kept' || s.undone || !undoer) {
        const why = s.undone ? 'it was undone already' : s.decision !== 'kept' ? 'it kept nothing' : `a ${s.kind} session cannot be undone yet`;
        throw new SessionError('SESSION_NOT_UNDOABLE', `session ${id} cannot be undone: ${why}`, { id });
      }
      const forgotten = await undoer(s);
      const at = this.now().toISOString();
      const sameState = (x: Session) => x.decision === 'kept' && !x.undone && sameKeptState(x, s);
      const alsoUndone = file.sessions.filter((x) => x.id !== id && sameState(x)).map((x) => x.id);
      const note = (x: Session) => (x.id === id ? 'Undone: the defaults are used again.' : `Undone with session ${id}: the same kept state was removed.`);
      const sessions = file.sessions.map((x) => (x.id === id || alsoUndone.includes(x.id) ? { ...x, undone: { at, note: note(x) } } : x));
      return { file: { ...file, sessions }, result: { session: sessions.find((x) => x.id === id)!, forgotten, alsoUndone } };
    });
  }

  /**
   * Marks undone the kept sessions `match` picks, whose effect was taken back outside the store
   * (`pxi layout undo` in a terminal, or a later apply replacing the packs); returns their ids.
   */
  noteUndone(match: (s: Session) => boolean, note: string): Promise<string[]> {
    return this.change((file) => {
      const at = this.now().toISOString();
      const ids = file.sessions.filter((x) => x.decision === 'kept' && !x.undone && match(x)).map((x) => x.id);
      const sessions = file.sessions.map((x) => (ids.includes(x.id) ? { ...x, undone: { at, note: note.slice(0, 2000) } } : x));
      return { file: { ...file, sessions }, result: ids };
    });
  }

  /** Read, change and write the file, one change at a time. */
  private change<T>(fn: (file: SessionsFile) => { file: SessionsFile; result: T } | Promise<{ file: SessionsFile; result: T }>): Promise<T> {
    const run = this.queue.then(async () => {
      const { file, result } = await fn(this.read());
      await this.ops.mkdir(dirname(this.path));
      await writeFileDurable(this.path, new TextEncoder().encode(JSON.stringify(file) + '\n'), this.ops);
      return result;
    });
    this.queue = run.catch(() => {});
    return run;
  }
}

/**
 * Whether two kept sessions kept the same state, so undoing one takes away the other's effect:
 * kernel tunings are kept per adapter and kernel version; a layout per model and pack generation.
 */
function sameKeptState(a: Session, b: Session): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'layout') return a.model === b.model && (a.undoTarget ?? null) === (b.undoTarget ?? null);
  return a.adapter === b.adapter && a.codeHash === b.codeHash;
}
