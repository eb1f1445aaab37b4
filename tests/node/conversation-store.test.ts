/**
 * The Chat view's conversation store (electron/conversations/store.ts) and its exports: create,
 * append, stream a reply, rename, truncate, delete, reopen after close (a reply cut off while
 * streaming comes back incomplete with its text), hostile texts kept exactly, every limit
 * refused with the limit named, a conversation's LoRA adapter (name and scale) kept with its
 * model, a store of the first schema brought forward, the Markdown and JSON documents, and the
 * save to a host path through the services.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { CONVERSATION_LIMITS as L, type ChatSettings, type ReplyStats } from '../../shared/ipc/channels/conversations';
import { directCaller } from '../../shared/ipc/dispatch';
import { conversationJson, conversationMarkdown, exportFileName } from '../../electron/conversations/export';
import { ConversationStore, type NewConversationInput } from '../../electron/conversations/store';
import { Services } from '../../electron/services';

const dirs: string[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'pxi-conversations-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const settings: ChatSettings = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1, maxTokens: 256, seed: null, contextLength: null };
const stats: ReplyStats = {
  timeToFirstTokenMs: 120,
  promptTokens: 12,
  prefillMs: 40,
  prefillTokensPerSecond: 300,
  decodeTokens: 7,
  decodeMs: 70,
  decodeTokensPerSecond: 100,
  stopReason: 'eos',
  seed: 42,
};
const input = (over: Partial<NewConversationInput> = {}): NewConversationInput => ({
  title: 'Hello there',
  modelId: 'abc123',
  modelName: 'tiny-qwen2',
  mode: 'chat',
  system: 'Be brief.',
  settings,
  ...over,
});

/** A clock that moves one millisecond per reading, so orderings are deterministic. */
function clock(start = 1_700_000_000_000) {
  let t = start;
  return () => t++;
}

function openStore(dir = temp()) {
  return { dir, store: ConversationStore.open(join(dir, 'conversations.sqlite'), { now: clock() }) };
}

describe('the conversation store', () => {
  it('creates a conversation with its first messages, appends, streams a reply and lists it', () => {
    const { store } = openStore();
    try {
      const c = store.create(input({ messages: [{ role: 'user', text: 'hi' }, { role: 'assistant', text: '', state: 'streaming' }] }));
      expect(c).toMatchObject({ title: 'Hello there', modelId: 'abc123', modelName: 'tiny-qwen2', mode: 'chat', system: 'Be brief.', settings, messageCount: 2 });
      expect(c.messages.map((m) => [m.role, m.text, m.state])).toEqual([
        ['user', 'hi', 'done'],
        ['assistant', '', 'streaming'],
      ]);
      const reply = c.messages[1]!;
      store.updateMessage(c.id, reply.id, { text: 'Hel', state: 'streaming' });
      const done = store.updateMessage(c.id, reply.id, { text: 'Hello!', state: 'done', stats });
      expect(done).toMatchObject({ text: 'Hello!', state: 'done', stats });
      const [u2, r2] = store.append(c.id, [{ role: 'user', text: 'more' }, { role: 'assistant', text: '', state: 'streaming' }]);
      expect(u2!.id).toBeLessThan(r2!.id);
      const again = store.get(c.id);
      expect(again.messages.map((m) => m.text)).toEqual(['hi', 'Hello!', 'more', '']);
      expect(again.updatedAt).toBeGreaterThan(c.updatedAt);

      const other = store.create(input({ title: 'second' }));
      // The most recently changed first.
      expect(store.list().map((s) => s.title)).toEqual(['second', 'Hello there']);
      store.append(c.id, [{ role: 'user', text: 'bump' }]);
      expect(store.list().map((s) => [s.title, s.messageCount])).toEqual([
        ['Hello there', 5],
        ['second', 0],
      ]);
      expect(other.messages).toEqual([]);
    } finally {
      store.close();
    }
  });

  it('renames, changes settings and model, truncates from a message, and deletes', () => {
    const { store } = openStore();
    try {
      const c = store.create(input({ messages: [{ role: 'user', text: 'a' }, { role: 'assistant', text: 'b' }, { role: 'user', text: 'c' }, { role: 'assistant', text: 'd' }] }));
      expect(store.update(c.id, { title: 'Renamed' }).title).toBe('Renamed');
      store.update(c.id, { settings: { ...settings, temperature: 0, seed: 7 }, modelId: 'def', modelName: 'other', system: '' });
      expect(store.get(c.id)).toMatchObject({ title: 'Renamed', modelId: 'def', modelName: 'other', system: '', settings: { temperature: 0, seed: 7 } });
      // Edit and resend the second user message: it and what followed go.
      expect(store.truncate(c.id, c.messages[2]!.id)).toBe(2);
      expect(store.get(c.id).messages.map((m) => m.text)).toEqual(['a', 'b']);
      // Positions continue after a truncation.
      store.append(c.id, [{ role: 'user', text: 'c2' }]);
      expect(store.get(c.id).messages.map((m) => m.text)).toEqual(['a', 'b', 'c2']);
      expect(() => store.truncate(c.id, c.messages[3]!.id)).toThrow(expect.objectContaining({ code: 'CONVERSATION_MESSAGE_NOT_FOUND' }));

      store.remove(c.id);
      expect(store.list()).toEqual([]);
      expect(() => store.get(c.id)).toThrow(expect.objectContaining({ code: 'CONVERSATION_NOT_FOUND' }));
      expect(() => store.remove(c.id)).toThrow(expect.objectContaining({ code: 'CONVERSATION_NOT_FOUND' }));
      expect(() => store.append(c.id, [{ role: 'user', text: 'x' }])).toThrow(expect.objectContaining({ code: 'CONVERSATION_NOT_FOUND' }));
    } finally {
      store.close();
    }
  });

  it("keeps each conversation's context length; settings stored before it existed read as the model's default; out of range is refused", () => {
    const dir = temp();
    const { store } = openStore(dir);
    let a = 0;
    let b = 0;
    try {
      a = store.create(input({ settings: { ...settings, contextLength: 64 } })).id;
      b = store.create(input({ settings: { ...settings, contextLength: 4096 } })).id;
      expect(() => store.update(a, { settings: { ...settings, contextLength: 8 } })).toThrow(/contextLength/);
      expect(() => store.update(a, { settings: { ...settings, contextLength: 1.5 } })).toThrow(/contextLength/);
      expect(store.get(a).settings.contextLength).toBe(64);
    } finally {
      store.close();
    }
    // A conversation saved before the setting existed: its settings lack the field.
    const db = new Database(join(dir, 'conversations.sqlite'));
    const { contextLength: _dropped, ...older } = settings;
    db.prepare('UPDATE conversations SET settings = ? WHERE id = ?').run(JSON.stringify(older), b);
    db.close();
    const again = openStore(dir).store;
    try {
      expect(again.get(a).settings.contextLength).toBe(64);
      expect(again.get(b).settings).toEqual({ ...older, contextLength: null });
    } finally {
      again.close();
    }
  });

  it('reopens after close with everything kept; a reply left streaming comes back incomplete with its text', () => {
    const { dir, store } = openStore();
    const c = store.create(input({ messages: [{ role: 'user', text: 'tell me' }, { role: 'assistant', text: '', state: 'streaming' }] }));
    store.updateMessage(c.id, c.messages[1]!.id, { text: 'Once upon a', state: 'streaming' });
    store.setDefaults({ modelId: 'abc123', mode: 'chat', settings: { ...settings, temperature: 0 } });
    // No finishing update: as when the process is killed mid-reply.
    store.close();
    const reopened = ConversationStore.open(join(dir, 'conversations.sqlite'));
    try {
      const back = reopened.get(c.id);
      expect(back).toMatchObject({ title: c.title, system: c.system, settings, modelId: c.modelId });
      expect(back.messages.map((m) => [m.text, m.state])).toEqual([
        ['tell me', 'done'],
        ['Once upon a', 'incomplete'],
      ]);
      expect(reopened.defaults()).toEqual({ modelId: 'abc123', adapter: null, mode: 'chat', settings: { ...settings, temperature: 0 } });
    } finally {
      reopened.close();
    }
  });

  it('keeps hostile texts exactly: markup, control characters, lone surrogates, SQL', () => {
    const { store } = openStore();
    try {
      const nasty = [
        '<script>alert(1)</script><img src=x onerror=alert(1)>',
        "'; DROP TABLE messages; --",
        'nul \u0000 bell \u0007 rtl \u202e',
        'lone \ud800 surrogate',
        '\n\n# heading\n```\nunclosed',
        '🙂'.repeat(100),
      ];
      for (const t of nasty) {
        const c = store.create(input({ title: t.slice(0, L.titleChars), system: t, messages: [{ role: 'user', text: t }] }));
        const back = store.get(c.id);
        // Well-formed Unicode: a lone surrogate is kept as U+FFFD, as it is drawn.
        const kept = t.replace('\ud800', '\ufffd');
        expect(back.title).toBe(kept.slice(0, L.titleChars));
        expect(back.system).toBe(kept);
        expect(back.messages[0]!.text).toBe(kept);
      }
      expect(store.list()).toHaveLength(nasty.length);
    } finally {
      store.close();
    }
  });

  it('refuses what is over a limit, naming the limit, and keeps what was there', () => {
    const { store } = openStore();
    try {
      expect(() => store.create(input({ title: 'x'.repeat(L.titleChars + 1) }))).toThrow(/title is 201 characters; at most 200/);
      expect(() => store.create(input({ system: 'x'.repeat(L.systemChars + 1) }))).toThrow(/system message is 32,769 characters; at most 32,768/);
      const c = store.create(input({ messages: [{ role: 'user', text: 'hi' }] }));
      const big = 'y'.repeat(L.messageChars);
      expect(() => store.append(c.id, [{ role: 'user', text: `${big}!` }])).toThrow(expect.objectContaining({ code: 'CONVERSATION_TOO_LARGE', message: expect.stringMatching(/message is 262,145 characters; at most 262,144/) }));
      // The whole conversation: title, system message and messages together.
      const fits = Math.floor(L.conversationChars / L.messageChars) - 1;
      for (let i = 0; i < fits; i++) store.append(c.id, [{ role: 'user', text: big }]);
      expect(() => store.append(c.id, [{ role: 'assistant', text: big }])).toThrow(/conversation is [\d,]+ characters; at most 2,097,152/);
      // Filled to the last character, then one more is refused whichever text grows.
      const now = store.get(c.id);
      const used = now.title.length + now.system.length + now.messages.reduce((n, m) => n + m.text.length, 0);
      const [rest] = store.append(c.id, [{ role: 'assistant', text: 'r'.repeat(L.conversationChars - used), state: 'streaming' }]);
      expect(() => store.updateMessage(c.id, rest!.id, { text: `${rest!.text}!`, state: 'streaming' })).toThrow(/conversation is 2,097,153 characters; at most 2,097,152/);
      expect(() => store.update(c.id, { system: `${now.system}!` })).toThrow(/conversation is 2,097,153 characters/);
      expect(() => store.update(c.id, { title: `${now.title}!` })).toThrow(/conversation is 2,097,153 characters/);
      expect(() => store.updateMessage(c.id, rest!.id, { text: rest!.text.slice(1), state: 'done' })).not.toThrow();
      expect(store.get(c.id).messages).toHaveLength(fits + 2);
      expect(store.get(c.id).system).toBe('Be brief.');
    } finally {
      store.close();
    }
  });

  it('refuses more messages than a conversation keeps', () => {
    const { store } = openStore();
    try {
      const c = store.create(input());
      for (let i = 0; i < L.messages; i += 4) store.append(c.id, Array.from({ length: 4 }, () => ({ role: 'user' as const, text: 'm' })));
      expect(() => store.append(c.id, [{ role: 'user', text: 'one more' }])).toThrow(expect.objectContaining({ code: 'CONVERSATION_TOO_MANY', message: expect.stringMatching(/at most 2,000 are kept in one conversation/) }));
    } finally {
      store.close();
    }
  });

  it('refuses a database written by a newer schema', () => {
    const { dir, store } = openStore();
    store.close();
    const file = join(dir, 'conversations.sqlite');
    // What a later version would leave: user_version 99.
    const writer = ConversationStore.open(file);
    (writer as unknown as { db: { pragma(s: string): unknown } }).db.pragma('user_version = 99');
    writer.close();
    expect(() => ConversationStore.open(file)).toThrow(expect.objectContaining({ code: 'CONVERSATION_SCHEMA_NEWER' }));
  });
});

describe("a conversation's adapter", () => {
  const zorbo = { name: 'stories-lora', scale: 0.5 };

  it('is kept with the model (name and scale), listed, changed, removed, and back after a reopen', () => {
    const { dir, store } = openStore();
    const c = store.create(input({ adapter: zorbo, messages: [{ role: 'user', text: 'hi' }] }));
    const plain = store.create(input({ title: 'plain' }));
    try {
      expect(c).toMatchObject({ modelId: 'abc123', adapter: zorbo });
      expect(plain.adapter).toBeNull();
      expect(store.list().map((s) => [s.title, s.adapter])).toEqual([
        ['plain', null],
        ['Hello there', zorbo],
      ]);
      expect(store.update(c.id, { adapter: { name: 'other_2.v1', scale: -1.25 } }).adapter).toEqual({ name: 'other_2.v1', scale: -1.25 });
      // A patch without the adapter leaves it as it is.
      expect(store.update(c.id, { title: 'renamed' }).adapter).toEqual({ name: 'other_2.v1', scale: -1.25 });
      expect(store.update(plain.id, { adapter: zorbo }).adapter).toEqual(zorbo);
      expect(store.update(plain.id, { adapter: null }).adapter).toBeNull();
      store.setDefaults({ modelId: 'abc123', adapter: zorbo, mode: 'completion', settings });
    } finally {
      store.close();
    }
    const reopened = ConversationStore.open(join(dir, 'conversations.sqlite'));
    try {
      expect(reopened.get(c.id)).toMatchObject({ title: 'renamed', adapter: { name: 'other_2.v1', scale: -1.25 }, messages: [{ text: 'hi' }] });
      expect(reopened.get(plain.id).adapter).toBeNull();
      expect(reopened.defaults()).toEqual({ modelId: 'abc123', adapter: zorbo, mode: 'completion', settings });
    } finally {
      reopened.close();
    }
  });

  it('refuses an adapter that is not a stored name or not a finite scale in range, naming the field, and keeps what was there', () => {
    const { store } = openStore();
    try {
      const bad: [unknown, RegExp][] = [
        [{ name: '../x', scale: 1 }, /^adapter\.name: /],
        [{ name: '', scale: 1 }, /^adapter\.name: /],
        [{ name: 'a'.repeat(129), scale: 1 }, /^adapter\.name: /],
        [{ name: 'ok', scale: NaN }, /^adapter\.scale: /],
        [{ name: 'ok', scale: Infinity }, /^adapter\.scale: /],
        [{ name: 'ok', scale: 1001 }, /^adapter\.scale: .*1000/],
        [{ name: 'ok', scale: 1, extra: true }, /^adapter: /],
        [{ name: 'ok' }, /^adapter\.scale: /],
      ];
      for (const [adapter, message] of bad) {
        expect(() => store.create(input({ adapter: adapter as never }))).toThrow(expect.objectContaining({ code: 'CONVERSATION_BAD_ADAPTER', message: expect.stringMatching(message) }));
      }
      expect(store.list()).toEqual([]);
      const c = store.create(input({ adapter: zorbo }));
      expect(() => store.update(c.id, { adapter: { name: 'a b', scale: 1 } })).toThrow(expect.objectContaining({ code: 'CONVERSATION_BAD_ADAPTER' }));
      expect(store.get(c.id).adapter).toEqual(zorbo);
    } finally {
      store.close();
    }
  });

  it('brings a store of the first schema forward: its conversations kept, with no adapter, and adapters stored from then on', () => {
    const dir = temp();
    const file = join(dir, 'conversations.sqlite');
    // What version 1 wrote (electron/conversations/store.ts before adapters).
    const old = new Database(file);
    old.exec(`
      CREATE TABLE conversations (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, model_id TEXT NOT NULL, model_name TEXT NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN ('chat', 'completion')), system TEXT NOT NULL, settings TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        position INTEGER NOT NULL, role TEXT NOT NULL CHECK (role IN ('user', 'assistant')), text TEXT NOT NULL, chars INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('done', 'streaming', 'incomplete', 'error')), stats TEXT, error TEXT, created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL, UNIQUE (conversation_id, position));
      CREATE TABLE defaults (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), value TEXT NOT NULL);
    `);
    old.prepare('INSERT INTO conversations (title, model_id, model_name, mode, system, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run('old one', 'abc123', 'tiny', 'chat', '', JSON.stringify(settings), 1, 2);
    old.prepare('INSERT INTO messages (conversation_id, position, role, text, chars, state, created_at, updated_at) VALUES (1, 0, ?, ?, 2, ?, 1, 1)').run('user', 'hi', 'done');
    old.prepare('INSERT INTO defaults (singleton, value) VALUES (1, ?)').run(JSON.stringify({ modelId: 'abc123', mode: 'chat', settings }));
    old.pragma('user_version = 1');
    old.close();

    const store = ConversationStore.open(file, { now: clock() });
    try {
      expect(store.get(1)).toMatchObject({ title: 'old one', modelId: 'abc123', adapter: null, settings, messages: [{ text: 'hi', state: 'done' }] });
      expect(store.defaults()).toEqual({ modelId: 'abc123', adapter: null, mode: 'chat', settings });
      expect(store.update(1, { adapter: zorbo }).adapter).toEqual(zorbo);
      expect(store.create(input({ adapter: zorbo })).adapter).toEqual(zorbo);
    } finally {
      store.close();
    }
    const check = new Database(file, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(2);
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      check.close();
    }
    // Opened again: nothing to migrate, everything there.
    const again = ConversationStore.open(file);
    try {
      expect(again.list().map((c) => [c.title, c.adapter])).toEqual([
        ['Hello there', zorbo],
        ['old one', zorbo],
      ]);
    } finally {
      again.close();
    }
  });
});

describe('conversation exports', () => {
  const conversation = () => {
    const { store } = openStore();
    const c = store.create(
      input({
        title: 'Sorting\nin <b>Rust</b>',
        system: 'You are terse.\nAnswer in code.',
        messages: [
          { role: 'user', text: 'How do I sort?' },
          { role: 'assistant', text: 'Use `sort`:\n\n```rust\nv.sort();\n```', stats },
          { role: 'user', text: 'And reverse?' },
          { role: 'assistant', text: 'Like this:\n```rust\nv.sort_by(|a, b| b.cmp(a));', state: 'incomplete' },
        ],
      }),
    );
    store.close();
    return c;
  };

  it('writes Markdown: title, model, settings, system message, each message under its speaker, stats, cut-off code closed', () => {
    const md = conversationMarkdown(conversation());
    expect(md).toContain('# Sorting in <b>Rust</b>\n');
    expect(md).toContain('- Model: tiny-qwen2 (abc123)\n- Mode:');
    expect(md).toContain('- Sampling: temperature 0.8 · top-k 40 · top-p 0.95 · min-p 0.05 · repeat penalty 1 · max tokens 256 · seed random · context the model default');
    expect(md).toContain('**System message:**\n\n> You are terse.\n> Answer in code.\n');
    expect(md).toContain('## You\n\nHow do I sort?\n\n## Model\n\nUse `sort`:\n\n```rust\nv.sort();\n```\n\n*first token 0.12 s · prefill 12 tokens, 300.0 tokens/s · decode 7 tokens, 100.0 tokens/s · stop: end of text · seed 42*');
    expect(md).toContain('v.sort_by(|a, b| b.cmp(a));\n```\n\n*(interrupted: the reply was cut off here)*\n');
  });

  it('names the adapter under the model, in Markdown and JSON', () => {
    const { store } = openStore();
    const c = store.create(input({ adapter: { name: 'stories-lora', scale: 0.75 }, messages: [{ role: 'user', text: 'hi' }] }));
    store.close();
    expect(conversationMarkdown(c)).toContain('- Model: tiny-qwen2 (abc123)\n- Adapter: stories-lora (scale 0.75)\n- Mode:');
    expect(JSON.parse(conversationJson(c, 0)).conversation.adapter).toEqual({ name: 'stories-lora', scale: 0.75 });
  });

  it('writes JSON with every field and the texts exactly', () => {
    const c = conversation();
    const doc = JSON.parse(conversationJson(c, Date.UTC(2025, 0, 2))) as Record<string, unknown> & { conversation: Record<string, unknown> & { messages: Record<string, unknown>[] } };
    expect(doc).toMatchObject({ format: 'pixel-llm-conversation', version: 1, exportedAt: '2025-01-02T00:00:00.000Z' });
    expect(doc.conversation).toMatchObject({ title: c.title, model: { id: 'abc123', name: 'tiny-qwen2' }, adapter: null, mode: 'chat', system: c.system, settings });
    expect(doc.conversation.messages.map((m) => [m.role, m.text, m.state])).toEqual(c.messages.map((m) => [m.role, m.text, m.state]));
    expect(doc.conversation.messages[1]!.stats).toEqual(stats);
  });

  it('makes a safe file name from any title', () => {
    expect(exportFileName('Sorting in Rust', 'markdown')).toBe('Sorting in Rust.md');
    expect(exportFileName('../../etc/passwd', 'json')).toBe('etc-passwd.json');
    expect(exportFileName('a/b\\c:d*e?f"g<h>i|j\n\u0000k', 'markdown')).toBe('a-b-c-d-e-f-g-h-i-j k.md');
    expect(exportFileName('', 'markdown')).toBe('conversation.md');
    expect(exportFileName('....', 'json')).toBe('conversation.json');
    expect(exportFileName('x'.repeat(300), 'markdown')).toBe(`${'x'.repeat(80)}.md`);
    expect(exportFileName('Привет мир', 'markdown')).toBe('Привет мир.md');
  });
});

describe('conversations through the services', () => {
  it('creates, exports and saves to a host path (refusing to replace a file unless asked), and survives a restart', async () => {
    const dataDir = temp();
    let services = new Services({ dataDir, mode: 'browser', version: '0.0.0-test' });
    let call = directCaller(services.dispatch);
    const out = join(temp(), 'chat.md');
    let id: number;
    try {
      const c = await call('conversations:create', { title: 'Saved', modelId: 'm1', modelName: 'tiny', mode: 'chat', system: '', settings, messages: [{ role: 'user', text: 'hi' }] });
      id = c.id;
      await call('conversations:append', { conversationId: id, messages: [{ role: 'assistant', text: '**hello**', stats }] });
      const md = await call('conversations:export', { id, format: 'markdown' });
      expect(md).toMatchObject({ fileName: 'Saved.md', mimeType: 'text/markdown; charset=utf-8' });
      expect(md.text).toContain('## Model\n\n**hello**');
      const json = await call('conversations:export', { id, format: 'json' });
      expect(JSON.parse(json.text).conversation.messages).toHaveLength(2);

      await expect(call('conversations:save', { id, format: 'markdown', path: 'relative.md' })).rejects.toMatchObject({ code: 'CONVERSATION_BAD_PATH' });
      const saved = await call('conversations:save', { id, format: 'markdown', path: out });
      expect(readFileSync(out, 'utf8')).toBe(md.text);
      expect(saved).toEqual({ path: out, bytes: Buffer.byteLength(md.text) });
      writeFileSync(out, 'mine');
      await expect(call('conversations:save', { id, format: 'json', path: out })).rejects.toMatchObject({ code: 'CONVERSATION_FILE_EXISTS' });
      expect(readFileSync(out, 'utf8')).toBe('mine');
      await call('conversations:save', { id, format: 'json', path: out, overwrite: true });
      expect(JSON.parse(readFileSync(out, 'utf8')).conversation.title).toBe('Saved');
      await call('conversations:setDefaults', { defaults: { modelId: 'm1', mode: 'completion', settings } });
    } finally {
      await services.close();
    }
    services = new Services({ dataDir, mode: 'browser', version: '0.0.0-test' });
    call = directCaller(services.dispatch);
    try {
      expect((await call('conversations:list', {})).conversations.map((c) => c.title)).toEqual(['Saved']);
      expect((await call('conversations:get', { id })).messages.map((m) => m.text)).toEqual(['hi', '**hello**']);
      expect((await call('conversations:defaults', {})).defaults).toEqual({ modelId: 'm1', adapter: null, mode: 'completion', settings });
      await call('conversations:delete', { id });
      expect((await call('conversations:list', {})).conversations).toEqual([]);
    } finally {
      await services.close();
    }
  });
});
