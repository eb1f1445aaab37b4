import type { PxiApi } from '../../../../shared/ipc/client';
import {
  CONVERSATION_LIMITS,
  type ChatAdapter,
  type ChatDefaultsInput,
  type ChatModeName,
  type ChatSettings,
  type Conversation,
  type ConversationMessage,
  type MessageStateName,
  type ReplyStats,
} from '../../../../shared/ipc/channels/conversations';

/**
 * The open conversation, as the Chat view holds it, kept in step with the services' store
 * (conversations:* channels). Every save goes through one queue, in order: the conversation is
 * created with its first message (with its model, adapter, mode and settings), later messages are
 * appended (the settings and adapter they were sent with replacing the conversation's when those
 * changed), a streaming reply is saved as it
 * grows (at most one save on its way at a time, each carrying the text so far, so the store
 * is never more than one round trip behind what is on screen), then saved as it ended. A save
 * the services refuse is reported once and the rest go on: the conversation on screen is never
 * dropped because a save failed.
 */

/** One message on screen; `id` is the store's once it has saved it (null before, or if that failed). */
export interface ChatMessage {
  role: 'user' | 'assistant';
  text: string;
  state: MessageStateName;
  stats: ReplyStats | null;
  error: string | null;
  id: number | null;
  /** The conversation it was stored in. */
  conversationId?: number;
  /** A streaming save is queued and not yet sent. */
  savePending?: boolean;
}

/** What a new conversation is created with. */
export interface ConversationMeta {
  modelId: string;
  modelName: string;
  /** The LoRA adapter applied over the model (none when null or left out). */
  adapter?: ChatAdapter | null;
  mode: ChatModeName;
  system: string;
  settings: ChatSettings;
}

export function messageFromStore(m: ConversationMessage, conversationId: number): ChatMessage {
  return { role: m.role, text: m.text, state: m.state, stats: m.stats, error: m.error, id: m.id, conversationId };
}

/** A title from the first message: its first line, at most 60 characters. */
export function titleFrom(text: string): string {
  const line = text.trim().split(/\r\n|\r|\n/)[0]!.trim();
  if (line === '') return 'Untitled conversation';
  return line.length > 60 ? `${line.slice(0, 59).trimEnd()}…` : line;
}

export class ConversationSync {
  /** The open conversation's id (null until the first message creates it). */
  id: number | null = null;
  title = '';
  private queue: Promise<void> = Promise.resolve();
  private savedSettings = '';
  private savedAdapter = 'null';
  private savedDefaults = '';
  private lastReport = '';

  constructor(
    private readonly api: PxiApi,
    /** Shows a save problem (once per problem). */
    private readonly report: (message: string) => void,
    /** Called after the list of conversations changed (created, renamed, deleted, updated). */
    private readonly changed: () => void,
  ) {}

  /** Runs `job` after every save queued before it; a failure is reported and the queue goes on. */
  private enqueue(job: () => Promise<void>, failure = 'Not saved'): Promise<void> {
    const run = this.queue.then(job).catch((e: unknown) => {
      const message = `${failure}: ${(e as Error).message}`;
      // A save that keeps failing (each streaming update) is said once.
      if (message !== this.lastReport) this.report(message);
      this.lastReport = message;
    });
    this.queue = run;
    return run;
  }

  /** Resolves when every save queued so far is done. */
  flush(): Promise<void> {
    return this.queue;
  }

  /**
   * Forgets the open conversation (a new one starts with the next message). Queued like a save,
   * so the saves before it still reach the conversation they belong to.
   */
  reset(): Promise<void> {
    return this.enqueue(async () => {
      this.id = null;
      this.title = '';
      this.savedSettings = '';
      this.savedAdapter = 'null';
    });
  }

  /** Opens a stored conversation (after the saves queued before); null when that failed (reported). */
  async open(id: number): Promise<Conversation | null> {
    let opened: Conversation | null = null;
    await this.enqueue(async () => {
      const c = await this.api.call('conversations:get', { id });
      this.id = c.id;
      this.title = c.title;
      this.savedSettings = JSON.stringify(c.settings);
      this.savedAdapter = JSON.stringify(c.adapter);
      opened = c;
    }, 'Could not open the conversation');
    return opened;
  }

  /** Renames the open conversation. */
  rename(title: string): Promise<void> {
    return this.enqueue(async () => {
      if (this.id === null) return;
      this.title = (await this.api.call('conversations:update', { id: this.id, title })).title;
      this.changed();
    }, 'Not renamed');
  }

  /** Deletes conversation `id` (the open one is then forgotten). */
  remove(id: number): Promise<void> {
    return this.enqueue(async () => {
      await this.api.call('conversations:delete', { id });
      if (this.id === id) {
        this.id = null;
        this.title = '';
        this.savedSettings = '';
        this.savedAdapter = 'null';
      }
      this.changed();
    }, 'Not deleted');
  }

  /**
   * Saves new messages at the end (creating the conversation with them when it has none yet),
   * and the settings and adapter they were sent with. Each message's `id` is set once stored.
   */
  append(messages: ChatMessage[], meta: ConversationMeta): Promise<void> {
    return this.enqueue(async () => {
      const drafts = messages.map((m) => ({ role: m.role, text: m.text, state: m.state, stats: m.stats, error: m.error }));
      const adapter = meta.adapter ?? null;
      let stored: ConversationMessage[];
      if (this.id === null) {
        const first = messages.find((m) => m.role === 'user')?.text ?? '';
        const c = await this.api.call('conversations:create', { title: titleFrom(first), ...meta, adapter, messages: drafts });
        this.id = c.id;
        this.title = c.title;
        this.savedSettings = JSON.stringify(meta.settings);
        this.savedAdapter = JSON.stringify(adapter);
        stored = c.messages.slice(-messages.length);
      } else {
        const settings = JSON.stringify(meta.settings);
        const adapterText = JSON.stringify(adapter);
        if (settings !== this.savedSettings || adapterText !== this.savedAdapter) {
          await this.api.call('conversations:update', {
            id: this.id,
            ...(settings !== this.savedSettings ? { settings: meta.settings } : {}),
            ...(adapterText !== this.savedAdapter ? { adapter } : {}),
          });
          this.savedSettings = settings;
          this.savedAdapter = adapterText;
        }
        stored = (await this.api.call('conversations:append', { conversationId: this.id, messages: drafts })).messages;
      }
      const conversationId = this.id;
      messages.forEach((m, i) => {
        m.id = stored[i]?.id ?? null;
        m.conversationId = conversationId;
      });
      this.changed();
    });
  }

  /** Saves a streaming message's text so far (coalesced: one save on its way at a time). */
  stream(m: ChatMessage): void {
    if (m.savePending) return;
    m.savePending = true;
    void this.enqueue(async () => {
      m.savePending = false;
      if (m.conversationId === undefined || m.id === null || m.state !== 'streaming') return;
      await this.api.call('conversations:updateMessage', { conversationId: m.conversationId, messageId: m.id, text: clip(m.text), state: 'streaming' });
    });
  }

  /** Saves a message as it is now (a reply as it ended, an interrupted one marked incomplete). */
  save(m: ChatMessage): Promise<void> {
    return this.enqueue(async () => {
      if (m.conversationId === undefined || m.id === null) return;
      await this.api.call('conversations:updateMessage', { conversationId: m.conversationId, messageId: m.id, text: clip(m.text), state: m.state, stats: m.stats, error: clip(m.error ?? '', 4000) || null });
      this.changed();
    });
  }

  /**
   * Saves a message now, ahead of the queue: the page is going away (pagehide) and there is no
   * later turn. The socket carries it after any save already sent, so it is the last to land.
   */
  saveNow(m: ChatMessage): void {
    if (m.conversationId === undefined || m.id === null) return;
    void this.api
      .call('conversations:updateMessage', { conversationId: m.conversationId, messageId: m.id, text: clip(m.text), state: m.state, stats: m.stats, error: m.error })
      .catch(() => undefined);
  }

  /** Removes message `m` and every later one from the store (edit and resend, regenerate). */
  truncateFrom(m: ChatMessage): Promise<void> {
    return this.enqueue(async () => {
      if (m.conversationId === undefined || m.id === null) return;
      await this.api.call('conversations:truncate', { conversationId: m.conversationId, messageId: m.id });
      this.changed();
    });
  }

  /**
   * Keeps a new context length with the open conversation now (a change reloads the model, and
   * a reload of the page must find it without a message sent first); nothing while none is open:
   * the conversation is created with it.
   */
  saveContextLength(contextLength: number | null): Promise<void> {
    return this.enqueue(async () => {
      if (this.id === null || this.savedSettings === '') return;
      const saved = JSON.parse(this.savedSettings) as ChatSettings;
      if ((saved.contextLength ?? null) === contextLength) return;
      const settings: ChatSettings = { ...saved, contextLength };
      await this.api.call('conversations:update', { id: this.id, settings });
      this.savedSettings = JSON.stringify(settings);
    }, 'The context length was not kept with the conversation');
  }

  /** Keeps the model, adapter and settings for the next visit (only when they changed). */
  rememberDefaults(d: ChatDefaultsInput): void {
    const value = JSON.stringify(d);
    if (value === this.savedDefaults) return;
    this.savedDefaults = value;
    void this.enqueue(async () => {
      await this.api.call('conversations:setDefaults', { defaults: d });
    });
  }
}

/** A message longer than the store keeps is saved up to the limit (the screen shows it all). */
function clip(text: string, max: number = CONVERSATION_LIMITS.messageChars): string {
  return text.length > max ? text.slice(0, max) : text;
}
