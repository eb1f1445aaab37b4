/**
 * A conversation's turns in Chat (specs/ui.md, "Chat"): a message sent and its reply streamed
 * (through the corpus search when one is chosen), kept as it streams; a reply generated again, a
 * message edited and sent again, both dropping what followed; messages typed during a reply sent
 * after it; a new conversation, a kept one opened with its model, adapter and settings; the open
 * conversation named in the address, and a reply cut off by the page going away kept as it was.
 */
import { CONVERSATION_LIMITS, type Conversation } from '../../../../shared/ipc/channels/conversations';
import { confirmDialog } from '../../components/dialog';
import { engineHost } from '../../engine/instance';
import type { GenerationMode } from '../../engine/protocol';
import { corpusPrompt } from '../chat-corpus';
import type { ViewContext } from '../types';
import { chat, takeSettings, type ModelSummary } from './chat-state';
import { messageFromStore, type ChatMessage } from './conversation-sync';
import { useModel } from './engine-model';
import { readSettings } from './settings';

const rate = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const finite = (x: number) => (Number.isFinite(x) && x >= 0 ? x : 0);

/** The address names the open conversation, so a reload opens it again (no view change). */
export function showInAddress(id: number | null): void {
  // Only while Chat is the view on screen (a reply may finish while another view is).
  if (!/^#\/chat(\?|$)/.test(location.hash)) return;
  const hash = id === null ? '#/chat' : `#/chat?conversation=${id}`;
  if (location.hash !== hash) history.replaceState(history.state, '', hash);
}

let unloadKept = false;
/**
 * When the page goes away mid-reply (reload, close), the reply is saved as it is on screen,
 * marked incomplete: nothing shown is lost.
 */
export function keepReplyOnUnload(): void {
  if (unloadKept) return;
  unloadKept = true;
  window.addEventListener('pagehide', () => {
    const m = chat.live;
    if (!m || m.state !== 'streaming') return;
    m.state = 'incomplete';
    chat.sync?.saveNow(m);
  });
}

/** Starts a new conversation: the open one stays kept. */
export function newConversation(): void {
  chat.messages = [];
  chat.queued = [];
  // The title and actions follow once the queue has let go of the old conversation.
  void chat.sync?.reset().then(() => chat.repaint?.());
  showInAddress(null);
}

/**
 * Sends `text` as the next user message and streams the reply. With `regenerate`, the last
 * message is already that user message (its old reply was dropped) and only a reply is added.
 */
export async function send(ctx: ViewContext, form: HTMLElement, text: string, regenerate = false): Promise<void> {
  const h = engineHost(ctx.api);
  const s = h.state;
  const sync = chat.sync;
  if (s.kind !== 'ready' || chat.generating || !sync) return;
  if (chat.modelId !== null && chat.modelId !== s.info.modelId && chat.messages.length > 0) {
    ctx.showError(`This conversation is with another model (${chat.modelId}), which is not loaded: choose it to continue, or start a new conversation. Your message is kept in the box.`);
    return;
  }
  const parsed = readSettings(form, chat.contextLength);
  if ('field' in parsed) {
    ctx.showError(parsed.message);
    parsed.field.focus();
    return;
  }
  const mode: GenerationMode = s.info.chatTemplate ? chat.mode : 'completion';
  const system = mode === 'chat' ? chat.system.trim() : '';
  // What the model sees before this turn: the conversation as it is on screen.
  const before = regenerate ? chat.messages.slice(0, -1) : chat.messages;
  const history = mode === 'chat' ? before.map((m) => ({ role: m.role, content: m.text })) : undefined;
  const fresh: ChatMessage[] = regenerate ? [] : [{ role: 'user', text, state: 'done', stats: null, error: null, id: null }];
  const reply: ChatMessage = { role: 'assistant', text: '', state: 'streaming', stats: null, error: null, id: null };
  fresh.push(reply);
  chat.messages.push(...fresh);
  chat.modelId = s.info.modelId;
  chat.generating = true;
  chat.live = reply;
  chat.draft = '';
  // The adapter goes with the model: reopening the conversation loads it again.
  const adapter = s.info.lora;
  void sync.append(fresh, { modelId: s.info.modelId, modelName: s.info.name, adapter, mode, system, settings: parsed.kept }).then(() => showInAddress(sync.id));
  sync.rememberDefaults({ modelId: s.info.modelId, adapter, mode: chat.mode, settings: parsed.kept });
  chat.repaint?.();
  const started = performance.now();
  let first: number | null = null;
  let tooLong = false;
  try {
    // With a corpus chosen (./chat-corpus.ts), the best passages go ahead of the message; the reply cites them.
    const prompt = await corpusPrompt(ctx.api, reply, text, s.info.contextLength, mode === 'completion');
    chat.repaint?.();
    const result = await h.generate(
      mode,
      prompt,
      parsed.settings,
      {
        onPrefill(done, total) {
          chat.prefill?.(done, total);
        },
        onChunk(chunk, index) {
          const now = performance.now();
          if (index === 0) {
            first = now;
            chat.prefill?.(0, null);
          }
          reply.text += chunk;
          // Live decode speed: tokens after the first over the time since it arrived.
          const live = index > 0 ? `${index + 1} tokens · ${rate((index * 1000) / (now - first!))} tokens/s` : '1 token';
          chat.stream?.(reply, live);
          sync.stream(reply);
          if (!tooLong && reply.text.length >= CONVERSATION_LIMITS.messageChars) {
            // Past what a conversation keeps of one message: stop here rather than lose the end.
            tooLong = true;
            h.stop();
          }
        },
      },
      system || undefined,
      history,
    );
    chat.memory?.(result.memory);
    const t = result.timings;
    reply.text = result.text;
    reply.state = 'done';
    reply.stats = {
      timeToFirstTokenMs: first === null ? null : first - started,
      promptTokens: t.promptTokens,
      prefillMs: finite(t.prefillMs),
      prefillTokensPerSecond: finite(t.prefillTokensPerSecond),
      decodeTokens: t.decodeTokens,
      decodeMs: finite(t.decodeMs),
      decodeTokensPerSecond: finite(t.decodeTokensPerSecond),
      stopReason: result.stopReason,
      seed: parsed.seed,
    };
  } catch (e) {
    reply.state = 'error';
    reply.error = (e as Error).message;
  } finally {
    chat.prefill?.(0, null);
    chat.generating = false;
    chat.live = null;
    void sync.save(reply);
    chat.repaint?.();
  }
  if (tooLong) ctx.showError(`The reply reached the longest message a conversation keeps (${CONVERSATION_LIMITS.messageChars.toLocaleString('en-US')} characters) and was stopped there.`);
  // What was typed during the reply goes next, in order.
  const next = chat.queued.shift();
  if (next !== undefined) await send(ctx, chat.form ?? form, next);
}

/** Generates reply `index` again: it and what followed are dropped first. */
export async function regenerate(ctx: ViewContext, form: HTMLElement, index: number): Promise<void> {
  const reply = chat.messages[index];
  const user = chat.messages[index - 1];
  if (chat.generating || reply?.role !== 'assistant' || user?.role !== 'user') return;
  const later = chat.messages.length - index - 1;
  if (later > 0) {
    const ok = await confirmDialog({
      title: 'Regenerate this reply?',
      message: `The ${later} message${later === 1 ? '' : 's'} after it will be removed from the conversation.`,
      confirmLabel: 'Regenerate',
      danger: true,
    });
    if (!ok || chat.generating) return;
  }
  void chat.sync?.truncateFrom(reply);
  chat.messages.splice(index);
  await send(ctx, form, user.text, true);
}

/** Sends user message `index` again as `text`: it and what followed are replaced. */
export async function resend(ctx: ViewContext, form: HTMLElement, index: number, text: string): Promise<void> {
  const m = chat.messages[index];
  if (chat.generating || m?.role !== 'user') return;
  void chat.sync?.truncateFrom(m);
  chat.messages.splice(index);
  await send(ctx, form, text);
}

/** Opens a kept conversation: its messages, mode, system message and settings, and its model with its adapter. */
export async function openConversation(ctx: ViewContext, id: number, models: ModelSummary[]): Promise<void> {
  const sync = chat.sync;
  if (!sync || chat.generating) return;
  const c: Conversation | null = await sync.open(id);
  if (!c || chat.generating) {
    if (!c) showInAddress(null);
    return;
  }
  chat.messages = c.messages.map((m) => messageFromStore(m, c.id));
  // A reply still marked streaming is not being generated on this page: it was cut off.
  for (const m of chat.messages) {
    if (m.state === 'streaming') {
      m.state = 'incomplete';
      void sync.save(m);
    }
  }
  chat.queued = [];
  chat.mode = c.mode;
  chat.system = c.system;
  chat.modelId = c.modelId;
  takeSettings(c.settings);
  chat.showValues?.();
  showInAddress(c.id);
  const model = models.find((m) => m.id === c.modelId);
  if (model?.runs) useModel(ctx, models, c.modelId, c.adapter, true);
  chat.repaint?.();
  chat.refreshList?.();
}
