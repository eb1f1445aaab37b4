/**
 * The conversations channels' contract through the dispatcher, with stand-in handlers: what
 * requests are refused (naming the field and the limit), what reaches a handler (defaults
 * filled in, any text content), and what answers are refused.
 */
import { describe, expect, it } from 'vitest';
import { CONVERSATION_LIMITS as L, type Conversation, type ConversationMessage } from '../../shared/ipc/channels/conversations';
import { channelNames } from '../../shared/ipc/contract';
import { createDispatcher } from '../../shared/ipc/dispatch';
import { ctx, handlers, refused } from '../support/ipc';

const settings = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1, maxTokens: 256, seed: null, contextLength: null };
const message = (over: Partial<ConversationMessage> = {}): ConversationMessage => ({ id: 1, role: 'user', text: 'hi', state: 'done', stats: null, error: null, createdAt: 1, updatedAt: 1, ...over });
const conversation = (over: Partial<Conversation> = {}): Conversation => ({
  id: 1,
  title: 't',
  modelId: 'm',
  modelName: 'model',
  adapter: null,
  mode: 'chat',
  messageCount: 1,
  createdAt: 1,
  updatedAt: 2,
  system: '',
  settings,
  messages: [message()],
  ...over,
});
const create = { title: 'hello', modelId: 'm', modelName: 'model', mode: 'chat', system: '', settings };

describe('conversations channels in the contract', () => {
  it('declares the conversations channels', () => {
    expect(channelNames.filter((c) => c.startsWith('conversations:')).sort()).toEqual([
      'conversations:append',
      'conversations:create',
      'conversations:defaults',
      'conversations:delete',
      'conversations:export',
      'conversations:get',
      'conversations:list',
      'conversations:save',
      'conversations:setDefaults',
      'conversations:truncate',
      'conversations:update',
      'conversations:updateMessage',
    ]);
  });

  it('conversations:create passes any text with defaults filled in, and refuses oversized or malformed fields naming them', async () => {
    const seen: unknown[] = [];
    const d = createDispatcher(
      handlers({
        'conversations:create': (req) => {
          seen.push(req);
          return conversation();
        },
      }),
    );
    const hostile = '<script>alert(1)</script>\u0000\u202e"; DROP TABLE x; --\n```';
    const ok = await d('conversations:create', { ...create, title: hostile, system: hostile, messages: [{ role: 'user', text: hostile }, { role: 'assistant', text: '', state: 'streaming' }] }, ctx);
    expect(ok.ok).toBe(true);
    expect(seen[0]).toMatchObject({
      title: hostile,
      messages: [
        { role: 'user', text: hostile, state: 'done', stats: null, error: null },
        { role: 'assistant', text: '', state: 'streaming', stats: null, error: null },
      ],
    });
    expect((await d('conversations:create', create, ctx)).ok).toBe(true);
    expect(seen[1]).toMatchObject({ messages: [] });

    await refused(d, 'conversations:create', { ...create, title: 'x'.repeat(L.titleChars + 1) }, 'IPC_INVALID_REQUEST', /title: a title is at most 200 characters/);
    await refused(d, 'conversations:create', { ...create, system: 'x'.repeat(L.systemChars + 1) }, 'IPC_INVALID_REQUEST', /system: a system message is at most 32768 characters/);
    await refused(d, 'conversations:create', { ...create, messages: [{ role: 'user', text: 'x'.repeat(L.messageChars + 1) }] }, 'IPC_INVALID_REQUEST', /messages\.0\.text: a message is at most 262144 characters/);
    await refused(d, 'conversations:create', { ...create, messages: Array.from({ length: L.appendMessages + 1 }, () => ({ role: 'user', text: 'x' })) }, 'IPC_INVALID_REQUEST', /messages/);
    await refused(d, 'conversations:create', { ...create, messages: [{ role: 'system', text: 'x' }] }, 'IPC_INVALID_REQUEST', /messages\.0\.role/);
    await refused(d, 'conversations:create', { ...create, mode: 'poem' }, 'IPC_INVALID_REQUEST', /mode/);
    await refused(d, 'conversations:create', { ...create, modelId: '' }, 'IPC_INVALID_REQUEST', /modelId/);
    await refused(d, 'conversations:create', { ...create, title: 42 }, 'IPC_INVALID_REQUEST', /title/);
    await refused(d, 'conversations:create', { ...create, extra: 1 }, 'IPC_INVALID_REQUEST', /extra|unrecognized/i);
    await refused(d, 'conversations:create', { ...create, settings: { ...settings, temperature: -1 } }, 'IPC_INVALID_REQUEST', /settings\.temperature/);
    await refused(d, 'conversations:create', { ...create, settings: { ...settings, topP: 0 } }, 'IPC_INVALID_REQUEST', /settings\.topP/);
    await refused(d, 'conversations:create', { ...create, settings: { ...settings, topK: 1.5 } }, 'IPC_INVALID_REQUEST', /settings\.topK/);
    await refused(d, 'conversations:create', { ...create, settings: { ...settings, maxTokens: 0 } }, 'IPC_INVALID_REQUEST', /settings\.maxTokens/);
    await refused(d, 'conversations:create', { ...create, settings: { ...settings, seed: 2 ** 32 } }, 'IPC_INVALID_REQUEST', /settings\.seed/);
    await refused(d, 'conversations:create', { ...create, settings: { ...settings, temperature: Infinity } }, 'IPC_INVALID_REQUEST', /settings\.temperature/);
    expect(seen).toHaveLength(2);
  });

  it("takes a conversation's adapter (a stored adapter's name and a finite scale) on create, update and defaults, and none when left out", async () => {
    const seen: unknown[] = [];
    const d = createDispatcher(
      handlers({
        'conversations:create': (req) => (seen.push(req), conversation({ adapter: req.adapter })),
        'conversations:update': (req) => {
          seen.push(req);
          const { system: _s, settings: _t, messages: _m, ...summary } = conversation();
          return summary;
        },
        'conversations:setDefaults': (req) => (seen.push(req), req),
      }),
    );
    const adapter = { name: 'stories-lora_2.v1', scale: -0.5 };
    expect(await d('conversations:create', { ...create, adapter }, ctx)).toMatchObject({ ok: true, value: { adapter } });
    expect(await d('conversations:create', create, ctx)).toMatchObject({ ok: true, value: { adapter: null } });
    expect((await d('conversations:update', { id: 1, adapter: null }, ctx)).ok).toBe(true);
    expect((await d('conversations:update', { id: 1, title: 'x' }, ctx)).ok).toBe(true);
    expect((await d('conversations:setDefaults', { defaults: { modelId: 'm', mode: 'chat', settings } }, ctx)).ok).toBe(true);
    expect((await d('conversations:setDefaults', { defaults: { modelId: 'm', adapter, mode: 'chat', settings } }, ctx)).ok).toBe(true);
    expect(seen).toEqual([
      expect.objectContaining({ adapter }),
      expect.objectContaining({ adapter: null }),
      { id: 1, adapter: null },
      { id: 1, title: 'x' },
      { defaults: { modelId: 'm', adapter: null, mode: 'chat', settings } },
      { defaults: { modelId: 'm', adapter, mode: 'chat', settings } },
    ]);

    for (const [bad, field] of [
      [{ name: '../../etc/passwd', scale: 1 }, /adapter\.name/],
      [{ name: 'has space', scale: 1 }, /adapter\.name/],
      [{ name: '', scale: 1 }, /adapter\.name/],
      [{ name: 'a'.repeat(129), scale: 1 }, /adapter\.name/],
      [{ name: 'ok', scale: Infinity }, /adapter\.scale/],
      [{ name: 'ok', scale: 1001 }, /adapter\.scale/],
      [{ name: 'ok', scale: -1001 }, /adapter\.scale/],
      [{ name: 'ok', scale: '1' }, /adapter\.scale/],
      [{ name: 'ok' }, /adapter\.scale/],
      [{ name: 'ok', scale: 1, file: '/x' }, /adapter/],
      ['ok', /adapter/],
    ] as const) {
      await refused(d, 'conversations:create', { ...create, adapter: bad }, 'IPC_INVALID_REQUEST', field);
      await refused(d, 'conversations:update', { id: 1, adapter: bad }, 'IPC_INVALID_REQUEST', field);
      await refused(d, 'conversations:setDefaults', { defaults: { modelId: 'm', adapter: bad, mode: 'chat', settings } }, 'IPC_INVALID_REQUEST', field);
    }
    expect(seen).toHaveLength(6);
    // An answer naming a malformed adapter breaks the contract too.
    const wrong = createDispatcher(handlers({ 'conversations:get': () => conversation({ adapter: { name: '../x', scale: 1 } }) }));
    await refused(wrong, 'conversations:get', { id: 1 }, 'IPC_INVALID_RESPONSE', /adapter\.name/);
  });

  it('refuses ids that are not positive integers on every channel that takes one', async () => {
    const d = createDispatcher(handlers({}));
    for (const bad of [0, -1, 1.5, '1', null, 2 ** 53]) {
      await refused(d, 'conversations:get', { id: bad }, 'IPC_INVALID_REQUEST', /id/);
      await refused(d, 'conversations:delete', { id: bad }, 'IPC_INVALID_REQUEST', /id/);
      await refused(d, 'conversations:update', { id: bad, title: 'x' }, 'IPC_INVALID_REQUEST', /id/);
      await refused(d, 'conversations:export', { id: bad, format: 'markdown' }, 'IPC_INVALID_REQUEST', /id/);
      await refused(d, 'conversations:append', { conversationId: bad, messages: [{ role: 'user', text: 'x' }] }, 'IPC_INVALID_REQUEST', /conversationId/);
      await refused(d, 'conversations:truncate', { conversationId: 1, messageId: bad }, 'IPC_INVALID_REQUEST', /messageId/);
      await refused(d, 'conversations:updateMessage', { conversationId: 1, messageId: bad, text: '', state: 'done' }, 'IPC_INVALID_REQUEST', /messageId/);
    }
  });

  it('refuses appends, updates, exports and saves that are malformed or oversized', async () => {
    const d = createDispatcher(handlers({}));
    await refused(d, 'conversations:append', { conversationId: 1, messages: [] }, 'IPC_INVALID_REQUEST', /messages/);
    await refused(d, 'conversations:append', { conversationId: 1, messages: [{ role: 'user', text: 'x', state: 'typing' }] }, 'IPC_INVALID_REQUEST', /messages\.0\.state/);
    await refused(d, 'conversations:updateMessage', { conversationId: 1, messageId: 1, text: 'x'.repeat(L.messageChars + 1), state: 'streaming' }, 'IPC_INVALID_REQUEST', /text: a message is at most/);
    await refused(
      d,
      'conversations:updateMessage',
      { conversationId: 1, messageId: 1, text: 'x', state: 'done', stats: { timeToFirstTokenMs: NaN, promptTokens: 1, prefillMs: 1, prefillTokensPerSecond: 1, decodeTokens: 1, decodeMs: 1, decodeTokensPerSecond: 1, stopReason: 'eos', seed: 1 } },
      'IPC_INVALID_REQUEST',
      /stats\.timeToFirstTokenMs/,
    );
    await refused(d, 'conversations:update', { id: 1, title: 'x'.repeat(L.titleChars + 1) }, 'IPC_INVALID_REQUEST', /title: a title is at most 200/);
    await refused(d, 'conversations:export', { id: 1, format: 'html' }, 'IPC_INVALID_REQUEST', /format/);
    await refused(d, 'conversations:save', { id: 1, format: 'json', path: '' }, 'IPC_INVALID_REQUEST', /path/);
    await refused(d, 'conversations:save', { id: 1, format: 'json', path: `/${'x'.repeat(L.pathChars)}` }, 'IPC_INVALID_REQUEST', /path/);
    await refused(d, 'conversations:setDefaults', { defaults: { modelId: 'm', mode: 'chat' } }, 'IPC_INVALID_REQUEST', /defaults\.settings/);
  });

  it('refuses answers that break the contract', async () => {
    const bad: [string, unknown, RegExp][] = [
      ['conversations:get', conversation({ messages: [message({ text: 'x'.repeat(L.messageChars + 1) })] }), /messages\.0\.text/],
      ['conversations:get', conversation({ messages: [message({ state: 'typing' as never })] }), /messages\.0\.state/],
      ['conversations:get', conversation({ settings: { ...settings, temperature: NaN } }), /settings\.temperature/],
      ['conversations:list', { conversations: [{ ...conversation(), messages: undefined }] }, /conversations\.0/],
      ['conversations:defaults', { defaults: { modelId: '', mode: 'chat', settings } }, /defaults\.modelId/],
    ];
    for (const [channel, value, msg] of bad) {
      const d = createDispatcher(handlers({ [channel]: () => value as never }));
      await refused(d, channel, channel === 'conversations:get' ? { id: 1 } : {}, 'IPC_INVALID_RESPONSE', msg);
    }
    const good = createDispatcher(handlers({ 'conversations:get': () => conversation(), 'conversations:defaults': () => ({ defaults: null }) }));
    expect(await good('conversations:get', { id: 1 }, ctx)).toEqual({ ok: true, value: conversation() });
    expect(await good('conversations:defaults', {}, ctx)).toEqual({ ok: true, value: { defaults: null } });
  });
});
