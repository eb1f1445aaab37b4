import Database from 'better-sqlite3';
import { PxiError } from '../../shared/errors';
import {
  ChatAdapter as ChatAdapterSchema,
  ChatDefaults as ChatDefaultsSchema,
  ChatSettings as ChatSettingsSchema,
  CONVERSATION_ERRORS as E,
  CONVERSATION_LIMITS as L,
  ReplyStats as ReplyStatsSchema,
  type ChatAdapter,
  type ChatDefaults,
  type ChatDefaultsInput,
  type ChatModeName,
  type ChatSettings,
  type Conversation,
  type ConversationMessage,
  type ConversationSummary,
  type MessageStateName,
  type ReplyStats,
} from '../../shared/ipc/channels/conversations';

/**
 * The Chat view's conversations, kept by the services in `conversations.sqlite` in the volume
 * folder, beside the model store's `models.sqlite` (the catalog of the models they name), opened
 * the way that one is. Each conversation has its model (and the LoRA adapter applied over it, by
 * name and scale, or none), mode, sampling settings and system message, and its messages in order; every change is one committed
 * transaction (WAL, synchronous=FULL), so a crash keeps everything written before it. A reply
 * saved while it streamed and never finished (the page or the process went away) is marked
 * `incomplete` when the store opens, keeping its text.
 *
 * Texts are stored as given (any content), as well-formed Unicode: SQLite keeps UTF-8, so a
 * lone surrogate becomes U+FFFD, as it is drawn anyway. Sizes are checked against
 * CONVERSATION_LIMITS here as well as at the IPC boundary, with errors that say which limit and
 * by how much.
 */

export class ConversationError extends PxiError {}

export const CONVERSATIONS_DB_FILE = 'conversations.sqlite';

/** 1: conversations, messages, defaults. 2: a conversation's adapter (name and scale, both null for none). */
const SCHEMA_VERSION = 2;

const SCHEMA = `
  CREATE TABLE conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    model_id TEXT NOT NULL,
    model_name TEXT NOT NULL,
    adapter_name TEXT,
    adapter_scale REAL,
    mode TEXT NOT NULL CHECK (mode IN ('chat', 'completion')),
    system TEXT NOT NULL,
    settings TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text TEXT NOT NULL,
    chars INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('done', 'streaming', 'incomplete', 'error')),
    stats TEXT,
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (conversation_id, position)
  );
  CREATE TABLE defaults (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    value TEXT NOT NULL
  );
`;

/** Each step from the version before it to its own (index 0 brings a version-1 store to 2). */
const MIGRATIONS = [
  // 2: the adapter applied over the conversation's model; existing conversations have none.
  `ALTER TABLE conversations ADD COLUMN adapter_name TEXT;
   ALTER TABLE conversations ADD COLUMN adapter_scale REAL;`,
];

interface ConversationRow {
  id: number;
  title: string;
  model_id: string;
  model_name: string;
  adapter_name: string | null;
  adapter_scale: number | null;
  mode: ChatModeName;
  system: string;
  settings: string;
  created_at: number;
  updated_at: number;
  message_count: number;
}

interface MessageRow {
  id: number;
  conversation_id: number;
  position: number;
  role: 'user' | 'assistant';
  text: string;
  chars: number;
  state: MessageStateName;
  stats: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
}

export interface NewConversationInput {
  title: string;
  modelId: string;
  modelName: string;
  /** The adapter applied over the model; none when null or left out. */
  adapter?: ChatAdapter | null;
  mode: ChatModeName;
  system: string;
  settings: ChatSettings;
  messages?: NewMessageInput[];
}

export interface NewMessageInput {
  role: 'user' | 'assistant';
  text: string;
  state?: MessageStateName;
  stats?: ReplyStats | null;
  error?: string | null;
}

export interface ConversationPatch {
  title?: string;
  system?: string;
  settings?: ChatSettings;
  modelId?: string;
  modelName?: string;
  /** null: the model alone from now on. */
  adapter?: ChatAdapter | null;
  mode?: ChatModeName;
}

export interface MessagePatch {
  text: string;
  state: MessageStateName;
  /** Left as stored when undefined. */
  stats?: ReplyStats | null;
  error?: string | null;
}

const count = (n: number) => n.toLocaleString('en-US');

function tooLarge(what: string, size: number, max: number): ConversationError {
  return new ConversationError(E.TOO_LARGE, `${what} is ${count(size)} characters; at most ${count(max)} are kept`, { field: what, value: size, max });
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `text` with each lone surrogate replaced by U+FFFD (what SQLite's UTF-8 would make of it). */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}

function checkLength(what: string, text: string, max: number): void {
  if (typeof text !== 'string') throw new ConversationError(E.TOO_LARGE, `${what} must be text`, { field: what });
  if (text.length > max) throw tooLarge(what, text.length, max);
}

function toMessage(r: MessageRow): ConversationMessage {
  return {
    id: r.id,
    role: r.role,
    text: r.text,
    state: r.state,
    stats: r.stats === null ? null : ReplyStatsSchema.parse(JSON.parse(r.stats)),
    error: r.error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** An adapter as stored: a name this store could hold as a file name, a finite scale in range. */
function checkAdapter(adapter: ChatAdapter | null): ChatAdapter | null {
  if (adapter === null) return null;
  const parsed = ChatAdapterSchema.safeParse(adapter);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = ['adapter', ...issue.path].join('.');
    throw new ConversationError(E.BAD_ADAPTER, `${field}: ${issue.message}`, { field, value: JSON.stringify(adapter).slice(0, 200) });
  }
  return parsed.data;
}

function toSummary(r: ConversationRow): ConversationSummary {
  return {
    id: r.id,
    title: r.title,
    modelId: r.model_id,
    modelName: r.model_name,
    adapter: r.adapter_name === null || r.adapter_scale === null ? null : { name: r.adapter_name, scale: r.adapter_scale },
    mode: r.mode,
    messageCount: r.message_count,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

const SUMMARY_SELECT = `SELECT c.*, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count FROM conversations c`;

export class ConversationStore {
  private readonly st: ReturnType<ConversationStore['prepare']>;
  private closed = false;

  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
    private readonly now: () => number,
  ) {
    this.st = this.prepare();
  }

  /** Opens (creating it if missing) the store at `file`; replies a crash left streaming become `incomplete`. */
  static open(file: string, opts: { now?: () => number } = {}): ConversationStore {
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.transaction(() => {
        const version = db.pragma('user_version', { simple: true }) as number;
        if (version > SCHEMA_VERSION) {
          throw new ConversationError(E.SCHEMA_NEWER, `${file}: conversation database schema ${version} is newer than this version of Pixel-LLM understands (${SCHEMA_VERSION})`, { file, field: 'user_version', value: version });
        }
        if (version === 0) {
          db.exec(SCHEMA);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        } else if (version < SCHEMA_VERSION) {
          // An older store: its conversations are kept, the columns added since join them.
          for (const step of MIGRATIONS.slice(version - 1)) db.exec(step);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        }
        // Nothing streams before the services start: what was streaming was cut off.
        db.prepare("UPDATE messages SET state = 'incomplete' WHERE state = 'streaming'").run();
      }).immediate();
      return new ConversationStore(db, file, opts.now ?? Date.now);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  private prepare() {
    const db = this.db;
    return {
      list: db.prepare(`${SUMMARY_SELECT} ORDER BY c.updated_at DESC, c.id DESC`),
      summary: db.prepare(`${SUMMARY_SELECT} WHERE c.id = ?`),
      conversationCount: db.prepare('SELECT count(*) AS n FROM conversations'),
      insertConversation: db.prepare(
        'INSERT INTO conversations (title, model_id, model_name, adapter_name, adapter_scale, mode, system, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      touch: db.prepare('UPDATE conversations SET updated_at = ? WHERE id = ?'),
      deleteConversation: db.prepare('DELETE FROM conversations WHERE id = ?'),
      messages: db.prepare('SELECT * FROM messages WHERE conversation_id = ? ORDER BY position'),
      message: db.prepare('SELECT * FROM messages WHERE id = ? AND conversation_id = ?'),
      sizes: db.prepare('SELECT count(*) AS n, coalesce(sum(chars), 0) AS chars, coalesce(max(position), -1) AS last FROM messages WHERE conversation_id = ?'),
      insertMessage: db.prepare(
        'INSERT INTO messages (conversation_id, position, role, text, chars, state, stats, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      updateMessage: db.prepare('UPDATE messages SET text = ?, chars = ?, state = ?, stats = ?, error = ?, updated_at = ? WHERE id = ?'),
      truncate: db.prepare('DELETE FROM messages WHERE conversation_id = ? AND position >= ?'),
      getDefaults: db.prepare('SELECT value FROM defaults WHERE singleton = 1'),
      setDefaults: db.prepare('INSERT INTO defaults (singleton, value) VALUES (1, ?) ON CONFLICT (singleton) DO UPDATE SET value = excluded.value'),
    };
  }

  private row(id: number): ConversationRow {
    const r = this.st.summary.get(id) as ConversationRow | undefined;
    if (!r) throw new ConversationError(E.NOT_FOUND, `conversation ${id} does not exist (it may have been deleted)`, { field: 'id', value: id });
    return r;
  }

  /** Title, system message and messages of one conversation together, in characters. */
  private conversationChars(r: ConversationRow, messageChars: number): number {
    return r.title.length + r.system.length + messageChars;
  }

  list(): ConversationSummary[] {
    return (this.st.list.all() as ConversationRow[]).map(toSummary);
  }

  get(id: number): Conversation {
    const r = this.row(id);
    return {
      ...toSummary(r),
      system: r.system,
      settings: ChatSettingsSchema.parse(JSON.parse(r.settings)),
      messages: (this.st.messages.all(id) as MessageRow[]).map(toMessage),
    };
  }

  create(raw: NewConversationInput): Conversation {
    const input = { ...raw, title: wellFormed(raw.title), system: wellFormed(raw.system), modelId: wellFormed(raw.modelId), modelName: wellFormed(raw.modelName) };
    checkLength('title', input.title, L.titleChars);
    checkLength('system message', input.system, L.systemChars);
    checkLength('model id', input.modelId, L.modelIdChars);
    checkLength('model name', input.modelName, L.modelIdChars);
    const settings = ChatSettingsSchema.parse(input.settings);
    const adapter = checkAdapter(input.adapter ?? null);
    const id = this.db.transaction(() => {
      const n = (this.st.conversationCount.get() as { n: number }).n;
      if (n >= L.conversations) {
        throw new ConversationError(E.TOO_MANY, `there are ${count(n)} conversations, the most kept; delete some to start another`, { field: 'conversations', value: n, max: L.conversations });
      }
      const t = this.now();
      const info = this.st.insertConversation.run(input.title, input.modelId, input.modelName, adapter?.name ?? null, adapter?.scale ?? null, input.mode, input.system, JSON.stringify(settings), t, t);
      const cid = Number(info.lastInsertRowid);
      if (raw.messages?.length) this.appendIn(cid, raw.messages);
      return cid;
    }).immediate();
    return this.get(id);
  }

  update(id: number, raw: ConversationPatch): ConversationSummary {
    const patch: ConversationPatch = { ...raw };
    for (const key of ['title', 'system', 'modelId', 'modelName'] as const) if (patch[key] !== undefined) patch[key] = wellFormed(patch[key]);
    if (patch.title !== undefined) checkLength('title', patch.title, L.titleChars);
    if (patch.system !== undefined) checkLength('system message', patch.system, L.systemChars);
    if (patch.modelId !== undefined) checkLength('model id', patch.modelId, L.modelIdChars);
    if (patch.modelName !== undefined) checkLength('model name', patch.modelName, L.modelIdChars);
    const settings = patch.settings === undefined ? undefined : JSON.stringify(ChatSettingsSchema.parse(patch.settings));
    const adapter = patch.adapter === undefined ? undefined : checkAdapter(patch.adapter);
    this.db.transaction(() => {
      const r = this.row(id);
      const sizes = this.st.sizes.get(id) as { chars: number };
      const next = { ...r, title: patch.title ?? r.title, system: patch.system ?? r.system };
      const total = this.conversationChars(next, sizes.chars);
      if (total > L.conversationChars) throw tooLarge('conversation', total, L.conversationChars);
      const sets: string[] = [];
      const values: unknown[] = [];
      const set = (column: string, value: unknown) => {
        sets.push(`${column} = ?`);
        values.push(value);
      };
      if (patch.title !== undefined) set('title', patch.title);
      if (patch.system !== undefined) set('system', patch.system);
      if (settings !== undefined) set('settings', settings);
      if (patch.modelId !== undefined) set('model_id', patch.modelId);
      if (patch.modelName !== undefined) set('model_name', patch.modelName);
      if (adapter !== undefined) {
        set('adapter_name', adapter?.name ?? null);
        set('adapter_scale', adapter?.scale ?? null);
      }
      if (patch.mode !== undefined) set('mode', patch.mode);
      set('updated_at', this.now());
      this.db.prepare(`UPDATE conversations SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
    }).immediate();
    return toSummary(this.row(id));
  }

  remove(id: number): void {
    const info = this.st.deleteConversation.run(id);
    if (info.changes === 0) throw new ConversationError(E.NOT_FOUND, `conversation ${id} does not exist (it may have been deleted)`, { field: 'id', value: id });
  }

  append(id: number, messages: NewMessageInput[]): ConversationMessage[] {
    return this.db.transaction(() => this.appendIn(id, messages)).immediate();
  }

  private appendIn(id: number, raw: NewMessageInput[]): ConversationMessage[] {
    const messages = raw.map((m) => ({ ...m, text: wellFormed(m.text), error: m.error == null ? null : wellFormed(m.error) }));
    const r = this.row(id);
    const sizes = this.st.sizes.get(id) as { n: number; chars: number; last: number };
    if (sizes.n + messages.length > L.messages) {
      throw new ConversationError(E.TOO_MANY, `conversation ${id} has ${count(sizes.n)} messages; at most ${count(L.messages)} are kept in one conversation: start a new one`, {
        field: 'messages',
        value: sizes.n + messages.length,
        max: L.messages,
      });
    }
    let chars = sizes.chars;
    for (const m of messages) {
      checkLength('message', m.text, L.messageChars);
      chars += m.text.length;
    }
    const total = this.conversationChars(r, chars);
    if (total > L.conversationChars) throw tooLarge('conversation', total, L.conversationChars);
    const t = this.now();
    const ids: number[] = [];
    let position = sizes.last;
    for (const m of messages) {
      const stats = m.stats ? JSON.stringify(ReplyStatsSchema.parse(m.stats)) : null;
      const info = this.st.insertMessage.run(id, ++position, m.role, m.text, m.text.length, m.state ?? 'done', stats, m.error, t, t);
      ids.push(Number(info.lastInsertRowid));
    }
    this.st.touch.run(t, id);
    return ids.map((mid) => toMessage(this.st.message.get(mid, id) as MessageRow));
  }

  private messageRow(conversationId: number, messageId: number): MessageRow {
    this.row(conversationId);
    const m = this.st.message.get(messageId, conversationId) as MessageRow | undefined;
    if (!m) {
      throw new ConversationError(E.MESSAGE_NOT_FOUND, `message ${messageId} is not in conversation ${conversationId} (it may have been removed)`, { field: 'messageId', value: messageId });
    }
    return m;
  }

  updateMessage(conversationId: number, messageId: number, raw: MessagePatch): ConversationMessage {
    const patch: MessagePatch = { ...raw, text: wellFormed(raw.text), ...(typeof raw.error === 'string' ? { error: wellFormed(raw.error) } : {}) };
    checkLength('message', patch.text, L.messageChars);
    return this.db.transaction(() => {
      const m = this.messageRow(conversationId, messageId);
      const r = this.row(conversationId);
      const sizes = this.st.sizes.get(conversationId) as { chars: number };
      const total = this.conversationChars(r, sizes.chars - m.chars + patch.text.length);
      if (total > L.conversationChars) throw tooLarge('conversation', total, L.conversationChars);
      const stats = patch.stats === undefined ? m.stats : patch.stats === null ? null : JSON.stringify(ReplyStatsSchema.parse(patch.stats));
      const error = patch.error === undefined ? m.error : patch.error;
      const t = this.now();
      this.st.updateMessage.run(patch.text, patch.text.length, patch.state, stats, error, t, messageId);
      this.st.touch.run(t, conversationId);
      return toMessage(this.st.message.get(messageId, conversationId) as MessageRow);
    }).immediate();
  }

  /** Removes message `messageId` and every message after it; returns how many went. */
  truncate(conversationId: number, messageId: number): number {
    return this.db.transaction(() => {
      const m = this.messageRow(conversationId, messageId);
      const removed = this.st.truncate.run(conversationId, m.position).changes;
      this.st.touch.run(this.now(), conversationId);
      return removed;
    }).immediate();
  }

  defaults(): ChatDefaults | null {
    const r = this.st.getDefaults.get() as { value: string } | undefined;
    if (!r) return null;
    // Defaults written by an older or newer version that no longer fit are forgotten, not fatal.
    let value: unknown;
    try {
      value = JSON.parse(r.value);
    } catch {
      return null;
    }
    const parsed = ChatDefaultsSchema.safeParse(value);
    return parsed.success ? parsed.data : null;
  }

  setDefaults(d: ChatDefaultsInput): ChatDefaults {
    const value = ChatDefaultsSchema.parse(d);
    this.st.setDefaults.run(JSON.stringify(value));
    return value;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
