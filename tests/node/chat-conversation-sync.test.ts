/**
 * The Chat view's saving queue (renderer/src/views/chat/conversation-sync.ts) against the real
 * services in this process: the conversation is created with its first messages, later ones
 * appended in order, a streaming reply saved with the text so far (coalesced: a burst of tokens
 * makes few saves, the last carrying everything), truncation and reset keep their order, a
 * refusal is reported once and the queue goes on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PxiApi } from '../../shared/ipc/client';
import type { ChatSettings } from '../../shared/ipc/channels/conversations';
import { directCaller } from '../../shared/ipc/dispatch';
import { Services } from '../../electron/services';
import { ConversationSync, titleFrom, type ChatMessage } from '../../renderer/src/views/chat/conversation-sync';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const settings: ChatSettings = { temperature: 0, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1, maxTokens: 64, seed: 7, contextLength: null };
const meta = { modelId: 'm1', modelName: 'tiny', mode: 'chat' as const, system: 'Be brief.', settings };
const msg = (role: 'user' | 'assistant', text: string, state: ChatMessage['state'] = 'done'): ChatMessage => ({ role, text, state, stats: null, error: null, id: null });

/** The services behind a PxiApi that counts calls per channel (and can be slowed down). */
async function withSync(run: (sync: ConversationSync, ctx: { calls: Map<string, number>; reports: string[]; call: ReturnType<typeof directCaller> }) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pxi-chat-sync-'));
  dirs.push(dir);
  const services = new Services({ dataDir: dir, mode: 'browser', version: '0.0.0-test' });
  const call = directCaller(services.dispatch);
  const calls = new Map<string, number>();
  const api: PxiApi = {
    call: async (channel, request) => {
      calls.set(channel, (calls.get(channel) ?? 0) + 1);
      // A round trip takes a little while, as over the socket.
      await new Promise((r) => setTimeout(r, 2));
      return call(channel, request);
    },
    on: () => () => undefined,
  };
  const reports: string[] = [];
  try {
    await run(
      new ConversationSync(api, (m) => reports.push(m), () => undefined),
      { calls, reports, call },
    );
  } finally {
    await services.close();
  }
}

describe('the Chat view saving queue', () => {
  it("keeps a conversation's context length at once, each conversation its own, and nothing while none is open", async () => {
    await withSync(async (sync, { calls, call }) => {
      await sync.saveContextLength(64);
      expect(calls.get('conversations:update') ?? 0).toBe(0);
      await sync.append([msg('user', 'first')], { ...meta, settings: { ...settings, contextLength: 64 } });
      const a = sync.id!;
      await sync.reset();
      await sync.append([msg('user', 'second')], { ...meta, settings: { ...settings, contextLength: 128 } });
      const b = sync.id!;
      // A change in the open conversation is stored without a message sent; the same value again costs no call.
      await sync.saveContextLength(256);
      await sync.saveContextLength(256);
      expect(calls.get('conversations:update')).toBe(1);
      expect((await call('conversations:get', { id: a })).settings.contextLength).toBe(64);
      expect((await call('conversations:get', { id: b })).settings).toEqual({ ...settings, contextLength: 256 });
      // Reopened, back to the model's default.
      await sync.open(a);
      await sync.saveContextLength(null);
      expect((await call('conversations:get', { id: a })).settings.contextLength).toBeNull();
      expect((await call('conversations:get', { id: b })).settings.contextLength).toBe(256);
    });
  });

  it('creates with the first messages, appends later ones, and saves a streaming reply coalesced', async () => {
    await withSync(async (sync, { calls, reports, call }) => {
      const user = msg('user', 'hello\nsecond line');
      const reply = msg('assistant', '', 'streaming');
      void sync.append([user, reply], meta);
      // Tokens arrive faster than saves go: each stream() while one is queued adds nothing.
      for (let i = 0; i < 200; i++) {
        reply.text += `t${i} `;
        sync.stream(reply);
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      await sync.flush();
      expect(sync.id).toBeGreaterThan(0);
      expect(sync.title).toBe('hello');
      expect(user.id).toBeGreaterThan(0);
      expect(reply.conversationId).toBe(sync.id);
      const saves = calls.get('conversations:updateMessage') ?? 0;
      expect(saves).toBeGreaterThan(0);
      expect(saves).toBeLessThan(20);
      let stored = await call('conversations:get', { id: sync.id! });
      expect(stored.messages.map((m) => [m.role, m.text, m.state])).toEqual([
        ['user', 'hello\nsecond line', 'done'],
        ['assistant', reply.text, 'streaming'],
      ]);
      reply.state = 'done';
      reply.stats = { timeToFirstTokenMs: 12, promptTokens: 3, prefillMs: 5, prefillTokensPerSecond: 600, decodeTokens: 199, decodeMs: 900, decodeTokensPerSecond: 221, stopReason: 'length', seed: 7 };
      await sync.save(reply);
      const next = [msg('user', 'more'), msg('assistant', 'ok')];
      // Changed settings go with the next message.
      await sync.append(next, { ...meta, settings: { ...settings, temperature: 0.5 } });
      stored = await call('conversations:get', { id: sync.id! });
      expect(stored.messages.map((m) => m.text)).toEqual(['hello\nsecond line', reply.text, 'more', 'ok']);
      expect(stored.messages[1]).toMatchObject({ state: 'done', stats: reply.stats });
      expect(stored).toMatchObject({ system: 'Be brief.', settings: { temperature: 0.5 } });
      expect(calls.get('conversations:create')).toBe(1);
      expect(reports).toEqual([]);
    });
  });

  it('keeps order across truncation, reset and reopening, and reports a refusal once', async () => {
    await withSync(async (sync, { reports, call }) => {
      const a = [msg('user', 'a'), msg('assistant', 'b'), msg('user', 'c'), msg('assistant', 'd')];
      void sync.append(a.slice(0, 2), meta);
      void sync.append(a.slice(2), meta);
      // Edit and resend "c": queued behind the appends that give it its id.
      void sync.truncateFrom(a[2]!);
      void sync.append([msg('user', 'c2')], meta);
      // A new conversation: the saves queued before it still reach the first one.
      void sync.reset();
      await sync.append([msg('user', 'other')], meta);
      const first = a[0]!.conversationId;
      expect(first).toBeGreaterThan(0);
      expect(sync.id).not.toBe(first);
      const one = await call('conversations:get', { id: first! });
      expect(one.messages.map((m) => m.text)).toEqual(['a', 'b', 'c2']);
      expect((await call('conversations:get', { id: sync.id! })).messages.map((m) => m.text)).toEqual(['other']);

      const opened = await sync.open(first!);
      expect(opened?.messages.map((m) => m.text)).toEqual(['a', 'b', 'c2']);
      expect(sync.id).toBe(first);

      // Deleted elsewhere (another window) while a reply streams: refused, said once however many saves try.
      const elsewhere = msg('assistant', '', 'streaming');
      await sync.reset();
      await sync.append([msg('user', 'x'), elsewhere], meta);
      const gone = sync.id!;
      await call('conversations:delete', { id: gone });
      for (let i = 0; i < 3; i++) {
        elsewhere.text += 'more ';
        sync.stream(elsewhere);
        await sync.flush();
      }
      expect(reports).toEqual([`Not saved: conversation ${gone} does not exist (it may have been deleted)`]);
      await sync.open(first!);
      // The queue goes on after it.
      await sync.rename('Renamed');
      expect((await call('conversations:get', { id: first! })).title).toBe('Renamed');
      await sync.remove(first!);
      expect(sync.id).toBeNull();
      expect((await call('conversations:list', {})).conversations.map((c) => c.title)).toEqual(['other']);
    });
  });

  it("creates with the adapter, saves a changed adapter (or none) with the next message, and takes a reopened conversation's as saved", async () => {
    await withSync(async (sync, { calls, call }) => {
      const zorbo = { name: 'stories-lora', scale: 1 };
      await sync.append([msg('user', 'a'), msg('assistant', 'b')], { ...meta, adapter: zorbo });
      const id = sync.id!;
      expect(await call('conversations:get', { id })).toMatchObject({ modelId: 'm1', adapter: zorbo });
      // The same adapter and settings: nothing to update.
      await sync.append([msg('user', 'c')], { ...meta, adapter: zorbo });
      expect(calls.get('conversations:update') ?? 0).toBe(0);
      // Another scale, then none (the adapter was deleted since): each goes with its message.
      await sync.append([msg('user', 'd')], { ...meta, adapter: { ...zorbo, scale: 0.5 } });
      expect((await call('conversations:get', { id })).adapter).toEqual({ ...zorbo, scale: 0.5 });
      await sync.append([msg('user', 'e')], meta);
      expect((await call('conversations:get', { id })).adapter).toBeNull();
      expect(calls.get('conversations:update')).toBe(2);
      expect((await call('conversations:get', { id })).settings).toEqual(settings);

      // A new conversation starts with no adapter saved; one reopened with its own.
      await sync.reset();
      await sync.append([msg('user', 'f')], { ...meta, adapter: zorbo });
      const other = sync.id!;
      await sync.open(id);
      await sync.append([msg('user', 'g')], meta);
      expect(calls.get('conversations:update')).toBe(2);
      await sync.open(other);
      await sync.append([msg('user', 'h')], { ...meta, adapter: zorbo });
      expect(calls.get('conversations:update')).toBe(2);
      expect((await call('conversations:get', { id: other })).messages.map((m) => m.text)).toEqual(['f', 'h']);
    });
  });

  it('titles a conversation after the first line of its first message', () => {
    expect(titleFrom('  hello there \nsecond')).toBe('hello there');
    expect(titleFrom('\n\n')).toBe('Untitled conversation');
    expect(titleFrom('x'.repeat(100))).toBe(`${'x'.repeat(59)}…`);
  });
});
