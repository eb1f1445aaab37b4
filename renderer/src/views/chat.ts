/**
 * Chat: pick a stored model, and talk to it (through its chat template) or let it continue a
 * text (models without a template, such as stories260K). The WGSL engine runs in a worker of
 * this renderer (renderer/src/engine); its weights come from the volume's pixel tiles over IPC.
 *
 * Conversations are kept by the services (conversations:* channels, ./chat/conversation-sync.ts):
 * created with the first message, each message saved as it is sent or as it streams, listed at
 * the side (./chat/conversation-list.ts), renamed, deleted, exported (./chat/export-conversation.ts).
 * The open conversation is in the address (`#/chat?conversation=ID`), so a reload reopens it;
 * the last model and settings are remembered for the next visit. Beside the model picker, an
 * adapter picker (./chat/adapter-picker.ts) applies a LoRA adapter stored beside the model, at a
 * scale; a conversation keeps it with its model, so reopening it loads the same adapter, and
 * `#/chat?model=ID&adapter=NAME` preselects both. The conversation on screen is
 * what the model sees: each turn sends the messages before it (the engine's KV cache keeps the
 * prefix it shares), so editing, regenerating and reopening need nothing else. The open
 * conversation and the loaded model live at module level, so they survive switching views.
 */
import type { Response } from '../../../shared/ipc/contract';
import { CONVERSATION_LIMITS, type ChatAdapter, type ChatSettings, type Conversation, type ConversationSummary } from '../../../shared/ipc/channels/conversations';
import { confirmDialog, promptDialog } from '../components/dialog';
import { createProgressBar } from '../components/progress';
import type { EngineState } from '../engine/host';
import { engineHost } from '../engine/instance';
import type { GenerationMode, GenerationSettings, LoadedInfo, ResidencyInfo } from '../engine/protocol';
import { formatBytes } from '../components/format';
import type { LedgerSummary } from '../../../shared/gpu/ledger';
import { memoryLedgerParts } from '../components/memory-ledger';
import { AdapterPicker, adapterToLoad, readScale, sameAdapter, withAdapter } from './chat/adapter-picker';
import { conversationList } from './chat/conversation-list';
import { ConversationSync, messageFromStore, type ChatMessage } from './chat/conversation-sync';
import { exportConversation } from './chat/export-conversation';
import { confirmLeavingView, warnBeforeUnload } from './chat/leave-guard';
import { fillReply, messageElements, statsText } from './chat/message-view';
import { kvCacheText, parseContextLength } from './chat/context-setting';
import { gpuMemoryText, keepGpuMemory, parseGpuMemory, readGpuMemory } from './chat/gpu-memory-setting';
import { corpusControl, corpusPrompt } from './chat-corpus';
import { el } from '../components/el';
import { type View, type ViewContext } from './types';
import './chat.css';

type ModelSummary = Response<'models:list'>['models'][number];

interface Field {
  key: Exclude<keyof GenerationSettings, 'seed'>;
  label: string;
  hint: string;
  min: number;
  max?: number;
  step: string;
  value: string;
  /** Whether a value is allowed, and the rule to show when it is not. */
  check: (x: number) => boolean;
  rule: string;
  integer?: boolean;
}

/** llama.cpp's defaults, as `pxi run` uses them; the upper bounds are what a conversation keeps. */
const FIELDS: Field[] = [
  { key: 'temperature', label: 'Temperature', hint: '0 = greedy', min: 0, step: '0.05', value: '0.8', check: (x) => x >= 0 && x <= 1000, rule: 'a number from 0 to 1000' },
  { key: 'topK', label: 'Top-k', hint: '0 = all', min: 0, step: '1', value: '40', check: (x) => x >= 0 && x <= 1_000_000, rule: 'an integer from 0 to 1000000', integer: true },
  { key: 'topP', label: 'Top-p', hint: '1 = off', min: 0, max: 1, step: '0.01', value: '0.95', check: (x) => x > 0 && x <= 1, rule: 'in (0, 1]' },
  { key: 'minP', label: 'Min-p', hint: '0 = off', min: 0, max: 1, step: '0.01', value: '0.05', check: (x) => x >= 0 && x <= 1, rule: 'in [0, 1]' },
  { key: 'repeatPenalty', label: 'Repeat penalty', hint: '1 = off', min: 0, step: '0.05', value: '1', check: (x) => x > 0 && x <= 1000, rule: 'a number > 0, at most 1000' },
  { key: 'maxTokens', label: 'Max tokens', hint: 'per reply', min: 1, step: '1', value: '256', check: (x) => x >= 1 && x <= 10_000_000, rule: 'an integer from 1 to 10000000', integer: true },
];

/** What outlives one rendering of the view. */
const chat = {
  /** The open conversation's messages, as on screen. */
  messages: [] as ChatMessage[],
  values: Object.fromEntries(FIELDS.map((f) => [f.key, f.value])) as Record<string, string>,
  seed: '',
  /** The open conversation's context length (null: the engine's default for the model); part of its settings. */
  contextLength: null as number | null,
  system: '',
  draft: '',
  mode: 'chat' as GenerationMode,
  generating: false,
  /** The reply being generated (null between replies). */
  live: null as ChatMessage | null,
  /** Messages sent while a reply streams: each goes when the reply before it ends (never dropped). */
  queued: [] as string[],
  /** The view's form, for sending what was queued after the view was re-rendered. */
  form: null as HTMLElement | null,
  /** The model the messages belong to. */
  modelId: null as string | null,
  /** The LoRA adapter applied over it (what the adapter picker shows), or null. */
  adapter: null as ChatAdapter | null,
  /** The adapter of the last load Chat asked the engine for (what a load on its way will apply). */
  requested: null as ChatAdapter | null,
  /** The adapter picker's scale field as typed. */
  adapterScale: '1',
  /** Why the adapter asked for is not applied (deleted since, or it failed to apply); '' when it is. */
  adapterNote: '',
  /** The kept conversations (conversations:list), the most recent first. */
  conversations: [] as ConversationSummary[],
  /** The open conversation in the services' store (created lazily: needs the API). */
  sync: null as ConversationSync | null,
  /** Whether the remembered model and settings were applied (once per page). */
  defaultsApplied: false,
  /** Repaints the mounted view (null when the view is not shown). */
  repaint: null as (() => void) | null,
  /** Updates the streaming reply in place (cheaper than a repaint per token). */
  stream: null as ((m: ChatMessage, live: string) => void) | null,
  /** Shows a long prompt's prefill (tokens done of total); null total hides the bar. */
  prefill: null as ((done: number, total: number | null) => void) | null,
  /** Shows the engine's ledger again (after a reply: the KV cache's pages follow the conversation). */
  memory: null as ((mem: LedgerSummary) => void) | null,
  /** Puts chat.values, seed, system and mode back into the mounted view's fields. */
  showValues: null as (() => void) | null,
  /** Re-reads the list of conversations and shows it. */
  refreshList: null as (() => void) | null,
  /** Says something on the mounted view (an export's result, a save problem). */
  notice: null as ((text: string, tone?: 'ok' | 'bad') => void) | null,
};

const host = engineHost;

const mib = (b: number) => `${(b / 1024 ** 2).toFixed(1)} MiB`;
const rate = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const finite = (x: number) => (Number.isFinite(x) && x >= 0 ? x : 0);

function describeState(s: EngineState, models: ModelSummary[]): string {
  const name = (id: string) => models.find((m) => m.id === id)?.name ?? id;
  switch (s.kind) {
    case 'empty':
      return s.cancelled ? `Loading ${name(s.cancelled)} was cancelled: no model is loaded. Choose a model to load one.` : 'No model loaded.';
    case 'loading': {
      if (s.tuning) return `Measuring the decode kernels on this GPU (once per GPU): ${s.tuning.weightType}, ${s.tuning.index + 1} of ${s.tuning.count}…`;
      const what = withAdapter(s.name, chat.requested);
      return s.bytesTotal > 0
        ? `Loading ${what} from its pixel tiles: ${mib(s.bytesDone)} of ${mib(s.bytesTotal)} (${Math.floor((100 * s.bytesDone) / s.bytesTotal)}%)${s.tensor ? ` · ${s.tensor}` : ''}`
        : `Loading ${what}…`;
    }
    case 'ready': {
      const i = s.info;
      return `${withAdapter(i.name, i.lora)} on ${i.adapter}: ${mib(i.weightBytes)} of weights, context ${i.contextLength} tokens, loaded in ${i.loadSeconds.toFixed(1)} s${i.tuneSeconds >= 0.05 ? ` (${i.tuneSeconds.toFixed(1)} s of it measuring kernels)` : ''}${i.f16 ? '' : ' · f32 kernels (this adapter has no shader-f16)'}${tuningText(i)}`;
    }
    case 'failed':
      return `Could not load ${s.modelId ? name(s.modelId) : 'the model'}: ${s.error.message}`;
    case 'lost':
      return `${name(s.modelId)} is no longer on the GPU: ${s.error.message}. Reload the model to continue.`;
  }
}

/** The tuned decode kernels, where the tuner found a faster shape than the default. */
function tuningText(i: LoadedInfo): string {
  if (!i.tuning) return '';
  const faster = Object.entries(i.tuning.types)
    .filter(([, t]) => t && t.speedup > 1)
    .map(([type, t]) => `${type} ${t!.tuning.workgroupSize}x${t!.tuning.threadsPerRow} (${t!.speedup.toFixed(1)}×)`);
  return faster.length ? ` · tuned kernels: ${faster.join(', ')}` : ' · kernel shapes measured: the defaults are fastest here';
}

/** The residency plan of the load in a sentence: what streams under the budget. */
function residencyText(r: ResidencyInfo): string {
  const all = r.resident.length + r.streamed.length;
  if (r.budget === null) return `No GPU memory budget: all ${all} weight matrices stay in GPU memory.`;
  return r.streamed.length
    ? `Budget ${formatBytes(r.budget)}: ${r.streamed.length} of ${all} weight matrices stream from host memory each token (${formatBytes(r.uploadBytesPerPass)} per token); the Explorer's Residency overlay shows which.`
    : `Budget ${formatBytes(r.budget)}: the whole model fits, all ${all} weight matrices stay in GPU memory.`;
}

/** The id of the model the engine has or is getting (null with none). */
function engineModelId(s: EngineState): string | null {
  return s.kind === 'ready' ? s.info.modelId : s.kind === 'loading' || s.kind === 'failed' || s.kind === 'lost' ? s.modelId : null;
}

/** The adapter the engine has applied, or will once the load on its way ends (null with none). */
function engineAdapter(s: EngineState): ChatAdapter | null {
  return s.kind === 'ready' ? s.info.lora : s.kind === 'loading' || s.kind === 'lost' ? chat.requested : null;
}

/** An adapter that could not be applied (gone from the volume, made for another base, a broken file): the model loads without it. */
function adapterProblem(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && (code === 'ADAPTER_NOT_FOUND' || code.startsWith('LORA_') || code.startsWith('GGUF_'));
}

/**
 * Puts model `id` with adapter `wanted` on the engine, unless they are there (or on their way)
 * already. An adapter the model no longer has is said, and the model loads without it; so does
 * one that fails to apply. `kept`: `wanted` is a conversation's or the remembered one.
 */
function useModel(ctx: ViewContext, models: ModelSummary[], id: string, wanted: ChatAdapter | null, kept: boolean): void {
  const h = host(ctx.api);
  const model = models.find((m) => m.id === id);
  const { adapter, missing } = adapterToLoad(model, wanted, kept);
  chat.adapter = adapter;
  chat.adapterNote = missing ?? '';
  const s = h.state;
  // The open conversation's context length (null: the engine's default for the model).
  const context = chat.contextLength;
  // The GPU memory budget chosen in this browser (empty: none; the whole model stays on the GPU).
  const budget = readGpuMemory();
  const sized = s.kind !== 'ready' || (h.requestedContext === context && h.requestedGpuMemory === budget);
  const there = engineModelId(s) === id && s.kind !== 'failed' && sameAdapter(engineAdapter(s), adapter) && sized;
  if (!there) {
    chat.requested = adapter;
    const withContext = { ...(context === null ? {} : { contextLength: context }), ...(budget === null ? {} : { gpuMemory: budget }) };
    h.load(id, { ...(adapter ? { lora: adapter } : {}), ...withContext }).catch((e: unknown) => {
      if (adapter && chat.requested === adapter && adapterProblem(e)) {
        const name = model?.name ?? id;
        chat.adapter = null;
        chat.requested = null;
        chat.adapterNote = `Could not apply the adapter “${adapter.name}” (${(e as Error).message}), so ${name} is loaded without it.`;
        h.load(id, withContext).catch(() => chat.repaint?.());
      }
      chat.repaint?.(); // any other failure is shown by the state line
    });
  }
  chat.repaint?.();
}

/** Settings from the form, or the first invalid field with the rule it breaks. */
function readSettings(form: HTMLElement): { settings: GenerationSettings; seed: number; kept: ChatSettings } | { field: HTMLInputElement; message: string } {
  const out: Partial<GenerationSettings> = {};
  for (const f of FIELDS) {
    const input = form.querySelector<HTMLInputElement>(`#chat-${f.key}`)!;
    const x = Number(input.value);
    if (input.value.trim() === '' || !Number.isFinite(x) || !f.check(x) || (f.integer && !Number.isInteger(x))) {
      return { field: input, message: `${f.label} must be ${f.rule}, got ${JSON.stringify(input.value)}` };
    }
    out[f.key] = x;
  }
  const seedInput = form.querySelector<HTMLInputElement>('#chat-seed')!;
  const text = seedInput.value.trim();
  let seed: number;
  let keptSeed: number | null = null;
  if (text === '') seed = Math.floor(Math.random() * 0x100000000);
  else {
    seed = Number(text);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) return { field: seedInput, message: `Seed must be an integer from 0 to 4294967295 (or empty for a random one), got ${JSON.stringify(text)}` };
    keptSeed = seed;
  }
  const base = out as Omit<GenerationSettings, 'seed'>;
  return { settings: { ...base, seed }, seed, kept: { ...base, seed: keptSeed, contextLength: chat.contextLength } };
}

/** Puts kept settings into the form's values (the fields show them at the next showValues). */
function takeSettings(s: ChatSettings): void {
  for (const f of FIELDS) chat.values[f.key] = String(s[f.key]);
  chat.seed = s.seed === null ? '' : String(s.seed);
  chat.contextLength = s.contextLength;
}

/** The address names the open conversation, so a reload opens it again (no view change). */
function showInAddress(id: number | null): void {
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
function keepReplyOnUnload(): void {
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
function newConversation(): void {
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
async function send(ctx: ViewContext, form: HTMLElement, text: string, regenerate = false): Promise<void> {
  const h = host(ctx.api);
  const s = h.state;
  const sync = chat.sync;
  if (s.kind !== 'ready' || chat.generating || !sync) return;
  if (chat.modelId !== null && chat.modelId !== s.info.modelId && chat.messages.length > 0) {
    ctx.showError(`This conversation is with another model (${chat.modelId}), which is not loaded: choose it to continue, or start a new conversation. Your message is kept in the box.`);
    return;
  }
  const parsed = readSettings(form);
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
async function regenerate(ctx: ViewContext, form: HTMLElement, index: number): Promise<void> {
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
async function resend(ctx: ViewContext, form: HTMLElement, index: number, text: string): Promise<void> {
  const m = chat.messages[index];
  if (chat.generating || m?.role !== 'user') return;
  void chat.sync?.truncateFrom(m);
  chat.messages.splice(index);
  await send(ctx, form, text);
}

/** Opens a kept conversation: its messages, mode, system message and settings, and its model with its adapter. */
async function openConversation(ctx: ViewContext, id: number, models: ModelSummary[]): Promise<void> {
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

function render(root: HTMLElement, ctx: ViewContext, models: ModelSummary[]): () => void {
  const h = host(ctx.api);
  chat.sync ??= new ConversationSync(
    ctx.api,
    (message) => (chat.notice ? chat.notice(message, 'bad') : ctx.showError(message)),
    () => chat.refreshList?.(),
  );
  const sync = chat.sync;
  warnBeforeUnload(() => chat.generating);
  keepReplyOnUnload();
  const box = el('div', { className: 'chat' });
  root.append(box);

  const select = el('select', { id: 'chat-model' });
  select.setAttribute('aria-label', 'Model');
  select.append(el('option', { value: '', textContent: models.length ? 'Choose a model…' : 'No model in the volume' }));
  for (const m of models) {
    // A model the engine cannot run stays listed, disabled, with the reason on hover.
    const label = `${m.name} · ${m.architecture} · ${m.parameterCount.toLocaleString()} parameters${m.runs ? '' : ' (cannot run here)'}`;
    select.append(el('option', { value: m.id, textContent: label, disabled: !m.runs, title: m.runProblem ?? '' }));
  }
  const reload = el('button', { type: 'button', id: 'chat-reload', textContent: 'Reload model' });
  // Cancels the load (kernel measuring or the upload); the engine is left with no model.
  const cancelLoad = el('button', { type: 'button', id: 'chat-cancel-load', textContent: 'Cancel loading' });
  cancelLoad.addEventListener('click', () => {
    chat.requested = null;
    if (host(ctx.api).cancelLoad()) {
      // The picker shows what is loaded: nothing, until a model is chosen again.
      select.value = '';
      select.focus();
    }
  });
  const status = el('p', { id: 'chat-engine-status', className: 'chat-status' });
  status.setAttribute('role', 'status');
  // Why the adapter asked for is not applied (deleted since, or it would not apply).
  const adapterNote = el('p', { id: 'chat-adapter-note', className: 'chat-adapter-note small' });
  adapterNote.setAttribute('role', 'status');
  const progress = el('progress', { className: 'chat-progress', max: 1, value: 0 });
  // The worker's GPU allocation ledger after the load: what the engine knows it holds.
  const memory = el('details', { id: 'chat-memory', className: 'chat-memory' });
  const modeNote = el('p', { id: 'chat-mode-note', className: 'chat-note' });
  const modeSelect = el('select', { id: 'chat-mode' });
  modeSelect.setAttribute('aria-label', 'Mode');
  modeSelect.append(el('option', { value: 'chat', textContent: 'Chat (chat template)' }), el('option', { value: 'completion', textContent: 'Completion (continue the text)' }));
  const system = el('input', { id: 'chat-system', type: 'text', placeholder: 'optional system message', value: chat.system, maxLength: CONVERSATION_LIMITS.systemChars });
  system.addEventListener('input', () => (chat.system = system.value));

  const log = el('div', { id: 'chat-log', className: 'chat-log' });
  log.setAttribute('role', 'log');
  log.setAttribute('aria-live', 'polite');
  log.tabIndex = 0;

  const prompt = el('textarea', { id: 'chat-prompt', rows: 2, value: chat.draft });
  prompt.setAttribute('aria-label', 'Message');
  prompt.addEventListener('input', () => (chat.draft = prompt.value));
  const sendBtn = el('button', { type: 'submit', id: 'chat-send', textContent: 'Send' });
  const stopBtn = el('button', { type: 'button', id: 'chat-stop', textContent: 'Stop' });
  const resetBtn = el('button', { type: 'button', id: 'chat-reset', textContent: 'New conversation' });
  const stats = el('p', { id: 'chat-stats', className: 'chat-stats muted' });
  stats.setAttribute('aria-live', 'polite');
  // A long prompt's prefill, batch by batch (the engine reports each batch the GPU finished).
  const prefillBar = createProgressBar('Reading the prompt');
  prefillBar.element.id = 'chat-prefill';
  prefillBar.element.classList.add('chat-prefill');
  prefillBar.element.hidden = true;
  const form = el('form', { className: 'chat-form' }, prompt, el('div', { className: 'chat-buttons' }, sendBtn, stopBtn, resetBtn));

  const settings = el('fieldset', { className: 'chat-settings' }, el('legend', {}, 'Sampling'));
  const fieldInputs = new Map<string, HTMLInputElement>();
  for (const f of FIELDS) {
    const input = el('input', { id: `chat-${f.key}`, type: 'number', step: f.step, min: String(f.min), value: chat.values[f.key]! });
    if (f.max !== undefined) input.max = String(f.max);
    input.addEventListener('input', () => (chat.values[f.key] = input.value));
    fieldInputs.set(f.key, input);
    settings.append(el('label', { htmlFor: input.id }, el('span', {}, f.label, el('small', { className: 'muted' }, ` ${f.hint}`)), input));
  }
  const seed = el('input', { id: 'chat-seed', type: 'text', inputMode: 'numeric', placeholder: 'random', value: chat.seed });
  seed.addEventListener('input', () => (chat.seed = seed.value));
  settings.append(el('label', { htmlFor: 'chat-seed' }, el('span', {}, 'Seed', el('small', { className: 'muted' }, ' empty = random')), seed));
  const greedy = el('button', { type: 'button', id: 'chat-greedy', textContent: 'Greedy (temperature 0)' });
  greedy.addEventListener('click', () => {
    const t = settings.querySelector<HTMLInputElement>('#chat-temperature')!;
    t.value = '0';
    chat.values.temperature = '0';
  });
  settings.append(greedy);
  // Context length: what the KV cache holds, and the GPU memory it costs; a change reloads the model.
  const contextInput = el('input', { id: 'chat-context', type: 'text', inputMode: 'numeric', placeholder: 'model default', value: String(chat.contextLength ?? '') });
  const contextMemory = el('p', { id: 'chat-context-memory', className: 'small muted chat-context-memory' });
  contextMemory.setAttribute('aria-live', 'polite');
  contextInput.setAttribute('aria-describedby', contextMemory.id);
  contextInput.addEventListener('change', () => {
    const r = parseContextLength(contextInput.value);
    contextInput.setAttribute('aria-invalid', String('error' in r));
    if ('error' in r) {
      ctx.showError(r.error);
      return;
    }
    chat.contextLength = r.value;
    // Kept at once with the open conversation (not at its next message), and as the last
    // settings used, which a new conversation starts from.
    void sync.saveContextLength(r.value);
    const kept = readSettings(settings);
    if (select.value && !('field' in kept)) sync.rememberDefaults({ modelId: select.value, adapter: chat.adapter, mode: chat.mode, settings: kept.kept });
    if (select.value && !chat.generating) useModel(ctx, models, select.value, chat.adapter, false);
    paint();
  });
  settings.append(
    el('label', { htmlFor: 'chat-context' }, el('span', {}, 'Context', el('small', { className: 'muted' }, ' tokens')), contextInput),
    contextMemory,
  );
  // GPU memory budget: below what the weights need, some weight matrices stream each token; a change reloads the model.
  const budgetInput = el('input', { id: 'chat-gpu-memory', type: 'text', placeholder: 'no budget', value: gpuMemoryText() });
  const budgetNote = el('p', { id: 'chat-gpu-memory-note', className: 'small muted chat-context-memory' });
  budgetNote.setAttribute('aria-live', 'polite');
  budgetInput.setAttribute('aria-describedby', budgetNote.id);
  budgetInput.addEventListener('change', () => {
    const r = parseGpuMemory(budgetInput.value);
    budgetInput.setAttribute('aria-invalid', String('error' in r));
    if ('error' in r) {
      ctx.showError(r.error);
      return;
    }
    keepGpuMemory(budgetInput.value);
    if (select.value && !chat.generating) useModel(ctx, models, select.value, chat.adapter, false);
    paint();
  });
  settings.append(el('label', { htmlFor: 'chat-gpu-memory' }, el('span', {}, 'GPU memory', el('small', { className: 'muted' }, ' e.g. 512 MB')), budgetInput), budgetNote);

  // The open conversation: its title and what can be done with it.
  const title = el('h2', { id: 'chat-conversation-title', className: 'chat-conversation-title' });
  const renameBtn = el('button', { type: 'button', id: 'chat-rename', textContent: 'Rename…' });
  const exportMd = el('button', { type: 'button', id: 'chat-export-md', textContent: 'Export Markdown' });
  const exportJson = el('button', { type: 'button', id: 'chat-export-json', textContent: 'Export JSON' });
  const deleteBtn = el('button', { type: 'button', id: 'chat-delete', className: 'danger', textContent: 'Delete…' });
  const notice = el('p', { id: 'chat-notice', className: 'chat-notice small' });
  // A kept conversation whose model has since left the volume can be read, not continued.
  const modelGone = el('p', { id: 'chat-model-gone', className: 'chat-note small' });
  notice.setAttribute('role', 'status');
  const conversationBar = el('div', { className: 'chat-conversation-bar' }, title, el('div', { className: 'chat-conversation-actions' }, renameBtn, exportMd, exportJson, deleteBtn));
  const sidebar = el('div', { className: 'chat-sidebar' });

  /** Chooses model `id` with adapter `wanted`: another model, or another adapter, starts another conversation (the open one stays kept). */
  const chooseModel = (id: string, wanted: ChatAdapter | null, kept: boolean) => {
    const { adapter } = adapterToLoad(models.find((m) => m.id === id), wanted, kept);
    if (chat.modelId !== id || !sameAdapter(chat.adapter, adapter)) {
      if (chat.messages.length > 0 || sync.id !== null) newConversation();
      chat.modelId = id;
    }
    useModel(ctx, models, id, wanted, kept);
    paint();
  };
  const picker = new AdapterPicker({
    scaleText: chat.adapterScale,
    onScaleText: (text) => (chat.adapterScale = text),
    onChoose: (adapter) => {
      const id = select.value;
      if (!id || chat.generating) return;
      if (sameAdapter(adapter, chat.adapter) && h.state.kind !== 'failed') return;
      chooseModel(id, adapter, false);
    },
    onProblem: (message) => ctx.showError(message),
  });

  box.append(
    el('div', { className: 'chat-toolbar' }, select, picker.element, reload, cancelLoad, el('label', { className: 'chat-mode' }, 'Mode ', modeSelect), corpusControl(ctx)),
    status,
    adapterNote,
    progress,
    memory,
    modeNote,
    el(
      'div',
      { className: 'chat-body' },
      sidebar,
      el('div', { className: 'chat-main' }, conversationBar, modelGone, notice, el('label', { className: 'chat-system' }, 'System ', system), log, prefillBar.element, form, stats),
      settings,
    ),
  );

  const actions = {
    enabled: () => h.state.kind === 'ready' && !chat.generating && (chat.modelId === null || chat.modelId === h.state.info.modelId),
    regenerate: (index: number) => void regenerate(ctx, settings, index).then(() => box.isConnected && prompt.focus()),
    resend: (index: number, text: string) => void resend(ctx, settings, index, text).then(() => box.isConnected && prompt.focus()),
  };

  const paintLog = () => {
    const s = h.state;
    const mode: GenerationMode = s.kind === 'ready' && !s.info.chatTemplate ? 'completion' : chat.mode;
    log.replaceChildren(...messageElements(chat.messages, mode, actions));
    for (const q of chat.queued) {
      log.append(el('div', { className: 'chat-turn user queued' }, el('div', { className: 'who' }, 'You · queued, sent when the reply ends'), el('div', { className: 'chat-text' }, q)));
    }
    if (chat.messages.length === 0 && chat.queued.length === 0) log.append(el('p', { className: 'empty' }, 'Nothing said yet.'));
    log.scrollTop = log.scrollHeight;
  };

  const paintSidebar = () => {
    sidebar.replaceChildren(
      conversationList({
        conversations: chat.conversations,
        openId: sync.id,
        disabled: chat.generating,
        onOpen: (id) => void openConversation(ctx, id, models).then(() => box.isConnected && prompt.focus()),
      }),
    );
  };

  const paintConversation = () => {
    const kept = sync.id !== null;
    title.textContent = kept ? sync.title : chat.messages.length ? 'New conversation (saving…)' : 'New conversation';
    renameBtn.disabled = !kept;
    exportMd.disabled = !kept;
    exportJson.disabled = !kept;
    deleteBtn.disabled = !kept || chat.generating;
    const gone = kept && chat.modelId !== null && !models.some((m) => m.id === chat.modelId);
    const keptName = chat.conversations.find((c) => c.id === sync.id)?.modelName;
    modelGone.hidden = !gone;
    modelGone.textContent = gone ? `Its model (${keptName || chat.modelId}) is no longer in the volume: the conversation can be read and exported; choose a model to start a new one.` : '';
  };

  /** The ledger as a table by kind; the panel keeps its open or closed state. */
  const fillMemory = (mem: LedgerSummary) => {
    memory.dataset.bytes = String(mem.bytes);
    memory.replaceChildren(...memoryLedgerParts(mem));
  };
  chat.memory = fillMemory;

  const paint = () => {
    if (!box.isConnected) return;
    const s = h.state;
    const loadedId = engineModelId(s);
    if (loadedId && select.value !== loadedId && models.some((m) => m.id === loadedId)) select.value = loadedId;
    status.textContent = describeState(s, models);
    status.dataset.state = s.kind;
    // What the engine applies is what the picker shows.
    if (s.kind === 'ready') chat.adapter = s.info.lora;
    status.dataset.adapter = s.kind === 'ready' ? (s.info.lora?.name ?? '') : '';
    picker.show(models.find((m) => m.id === select.value), chat.adapter, chat.generating);
    adapterNote.textContent = chat.adapterNote;
    adapterNote.hidden = chat.adapterNote === '';
    status.classList.toggle('error', s.kind === 'failed' || s.kind === 'lost');
    progress.hidden = s.kind !== 'loading';
    if (s.kind === 'loading') progress.value = s.bytesTotal ? s.bytesDone / s.bytesTotal : 0;
    reload.hidden = !(s.kind === 'lost' || (s.kind === 'failed' && s.modelId));
    cancelLoad.hidden = s.kind !== 'loading';
    const wantedContext = chat.contextLength;
    contextMemory.textContent =
      s.kind === 'ready'
        ? kvCacheText(wantedContext ?? s.info.contextLength, s.info.kvBytesPerToken)
        : `KV cache: ${wantedContext === null ? 'the model’s default context' : `${wantedContext.toLocaleString('en-US')} tokens`}; its memory is shown once a model is loaded`;
    budgetNote.textContent = s.kind === 'ready' ? residencyText(s.info.residency) : 'Empty: no budget, the whole model stays in GPU memory. Smaller than the model: some weights stream from host memory each token (same answers, slower).';
    memory.hidden = s.kind !== 'ready';
    if (s.kind === 'ready' && memory.dataset.model !== s.info.modelId) {
      memory.dataset.model = s.info.modelId;
      fillMemory(s.info.memory);
    }
    const ready = s.kind === 'ready';
    const template = ready && s.info.chatTemplate;
    const mode: GenerationMode = template ? chat.mode : 'completion';
    modeSelect.value = mode;
    modeSelect.disabled = !template || chat.generating;
    (modeSelect.options[0] as HTMLOptionElement).disabled = !template;
    // The system message opens a conversation: it is set before the first message.
    system.disabled = mode !== 'chat' || chat.messages.length > 0 || chat.generating;
    // Once the conversation has begun, an empty system message takes no room from the transcript.
    system.parentElement!.hidden = mode !== 'chat' || (chat.messages.length > 0 && chat.system.trim() === '');
    modeNote.textContent = !ready
      ? ''
      : template
        ? mode === 'chat'
          ? "Chat: each turn goes through the model's chat template with the conversation before it (the KV cache keeps what the model has already read)."
          : 'Completion: the model continues your text as it is, without the chat template.'
        : 'This model has no chat template (tokenizer.chat_template), so chat is plain completion: the model continues the text you send.';
    prompt.placeholder = mode === 'chat' ? 'Message (Enter sends, Shift+Enter for a new line)' : 'Text to continue, e.g. "Once upon a time"';
    // While a reply streams, Send queues the message (it goes when the reply ends).
    sendBtn.disabled = !ready;
    sendBtn.textContent = chat.generating ? 'Queue' : 'Send';
    stopBtn.disabled = !chat.generating;
    resetBtn.disabled = chat.generating || (chat.messages.length === 0 && sync.id === null);
    select.disabled = chat.generating;
    const last = [...chat.messages].reverse().find((m) => m.role === 'assistant');
    stats.textContent = last && last.state !== 'error' && last.state !== 'streaming' ? statsText(last) : last?.state === 'streaming' ? 'generating…' : '';
    paintConversation();
    paintSidebar();
    paintLog();
  };

  chat.repaint = paint;
  let streamFrame = 0;
  let streamLive = '';
  const paintStream = (m: ChatMessage) => {
    streamFrame = 0;
    // A reply that ended has been drawn whole by the repaint.
    if (!box.isConnected || chat.messages.at(-1) !== m || m.state !== 'streaming') return;
    const replies = log.querySelectorAll<HTMLElement>('.chat-reply');
    const node = replies[replies.length - 1];
    if (!node) return;
    const s = h.state;
    fillReply(node, m, s.kind === 'ready' && !s.info.chatTemplate ? 'completion' : chat.mode);
    node.closest('.chat-turn')?.querySelector('.turn-stats')?.replaceChildren(streamLive);
    stats.textContent = streamLive;
    log.scrollTop = log.scrollHeight;
  };
  chat.prefill = (done, total) => {
    if (!box.isConnected) return;
    prefillBar.element.hidden = total === null || done >= total;
    if (total === null) return;
    prefillBar.update({ done, total, unit: 'tokens', message: 'Reading the prompt…' });
    if (done < total) stats.textContent = `reading the prompt: ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} tokens`;
  };
  chat.stream = (m, live) => {
    if (!box.isConnected) return;
    streamLive = live;
    const s = h.state;
    // Plain text costs nothing to update per token; Markdown is rebuilt at most once a frame.
    if (s.kind === 'ready' && (!s.info.chatTemplate || chat.mode === 'completion')) paintStream(m);
    else if (!streamFrame) streamFrame = requestAnimationFrame(() => paintStream(m));
  };
  chat.showValues = () => {
    if (!box.isConnected) return;
    for (const f of FIELDS) fieldInputs.get(f.key)!.value = chat.values[f.key]!;
    seed.value = chat.seed;
    contextInput.value = String(chat.contextLength ?? '');
    system.value = chat.system;
  };
  let noticeTimer: ReturnType<typeof setTimeout> | undefined;
  chat.notice = (text, tone = 'ok') => {
    if (!box.isConnected) return;
    notice.textContent = text;
    notice.dataset.tone = tone;
    clearTimeout(noticeTimer);
    if (tone === 'ok') noticeTimer = setTimeout(() => (notice.textContent = ''), 8000);
  };
  chat.refreshList = () => {
    void ctx.api
      .call('conversations:list', {})
      .then(({ conversations }) => {
        chat.conversations = conversations;
        // A rename or delete elsewhere (another window) shows here too.
        const open = conversations.find((c) => c.id === sync.id);
        if (open) sync.title = open.title;
        if (box.isConnected) {
          paintSidebar();
          paintConversation();
        }
      })
      .catch((e: unknown) => chat.notice?.(`Could not list the conversations: ${(e as Error).message}`, 'bad'));
  };
  const unsubscribe = h.subscribe(() => {
    if (!box.isConnected) {
      unsubscribe();
      return;
    }
    paint();
  });

  select.addEventListener('change', () => {
    const id = select.value;
    // Adapters belong to their base: another model starts without one.
    if (id) chooseModel(id, null, false);
  });
  reload.addEventListener('click', () => {
    // The conversation is sent with each turn: a reloaded model goes on with it.
    void h.reload().catch(() => paint());
  });
  modeSelect.addEventListener('change', () => {
    chat.mode = modeSelect.value === 'chat' ? 'chat' : 'completion';
    newConversation();
    h.reset();
    paint();
  });
  chat.form = settings;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = prompt.value;
    if (text.trim() === '') {
      prompt.focus();
      return;
    }
    if (h.state.kind !== 'ready') {
      // Nothing to send it to yet: the text stays where it was typed.
      ctx.showError('The model is not ready: your message is kept in the box.');
      prompt.focus();
      return;
    }
    if (text.length > CONVERSATION_LIMITS.messageChars) {
      ctx.showError(`This message is ${text.length.toLocaleString('en-US')} characters; a conversation keeps messages of at most ${CONVERSATION_LIMITS.messageChars.toLocaleString('en-US')}. It is kept in the box.`);
      prompt.focus();
      return;
    }
    prompt.value = '';
    chat.draft = '';
    if (chat.generating) {
      chat.queued.push(text);
      paint();
      return;
    }
    void send(ctx, settings, text).then(() => box.isConnected && prompt.focus());
  });
  prompt.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  stopBtn.addEventListener('click', () => {
    // Stop ends this reply and sends nothing more: queued messages go back to the box, unsent.
    if (chat.queued.length) {
      prompt.value = [...chat.queued, prompt.value].filter((t) => t.trim() !== '').join('\n\n');
      chat.draft = prompt.value;
      chat.queued = [];
      paint();
    }
    h.stop();
  });
  resetBtn.addEventListener('click', () => {
    newConversation();
    h.reset();
    paint();
    prompt.focus();
  });
  renameBtn.addEventListener('click', () => {
    const id = sync.id;
    if (id === null) return;
    void promptDialog({
      title: 'Rename the conversation',
      field: {
        label: 'Title',
        value: sync.title,
        validate: (v) =>
          v.trim() === '' ? 'Give the conversation a title.' : v.trim().length > CONVERSATION_LIMITS.titleChars ? `A title is at most ${CONVERSATION_LIMITS.titleChars} characters (this one is ${v.trim().length}).` : null,
      },
      confirmLabel: 'Rename',
    }).then((answer) => {
      if (answer && sync.id === id) void sync.rename(answer.value.trim()).then(paintConversation);
    });
  });
  const doExport = (format: 'markdown' | 'json') => {
    const id = sync.id;
    if (id === null) return;
    // What is still on its way to the store is saved before the document is made.
    void sync
      .flush()
      .then(() => exportConversation(ctx.api, id, format))
      .then((said) => said && chat.notice?.(said))
      .catch((e: unknown) => chat.notice?.(`Export failed: ${(e as Error).message}`, 'bad'));
  };
  exportMd.addEventListener('click', () => doExport('markdown'));
  exportJson.addEventListener('click', () => doExport('json'));
  deleteBtn.addEventListener('click', () => {
    const id = sync.id;
    if (id === null || chat.generating) return;
    const count = chat.messages.length;
    void confirmDialog({
      title: 'Delete this conversation?',
      message: `“${sync.title}” and its ${count} message${count === 1 ? '' : 's'} will be deleted. This cannot be undone.`,
      confirmLabel: 'Delete',
      danger: true,
    }).then((ok) => {
      if (!ok || sync.id !== id || chat.generating) return;
      const title = sync.title;
      chat.messages = [];
      chat.queued = [];
      showInAddress(null);
      h.reset();
      void sync.remove(id).then(() => {
        chat.notice?.(`Deleted “${title}”.`);
        paint();
      });
      paint();
    });
  });

  // #/chat?model=ID-or-name opens the view with that model (links from other views), and
  // &adapter=NAME (&scale=X, default 1) with that adapter of it;
  // #/chat?conversation=ID opens that conversation (a reload comes back to it).
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const asked = params.get('model');
  const askedAdapter = params.get('adapter');
  const askedScale = readScale(params.get('scale') ?? '1');
  const wanted: ChatAdapter | null = askedAdapter ? { name: askedAdapter, scale: 'scale' in askedScale ? askedScale.scale : 1 } : null;
  const askedConversation = Number(params.get('conversation'));
  const target = asked ? models.find((m) => m.id === asked || m.name === asked) : undefined;
  const current = engineModelId(h.state);
  if (Number.isSafeInteger(askedConversation) && askedConversation > 0 && !chat.generating) {
    chat.defaultsApplied = true;
    if (sync.id !== askedConversation) void openConversation(ctx, askedConversation, models);
  } else if (target && !chat.generating && (target.id !== current || askedAdapter !== null)) {
    chat.defaultsApplied = true;
    select.value = target.id;
    if ('problem' in askedScale) ctx.showError(`${askedScale.problem}: the adapter is applied at 1.`);
    chooseModel(target.id, wanted, false);
  } else if (!chat.defaultsApplied && current === null && chat.messages.length === 0) {
    // The first visit of this page: the model and settings used last time.
    chat.defaultsApplied = true;
    void ctx.api
      .call('conversations:defaults', {})
      .then(({ defaults }) => {
        if (!defaults || !box.isConnected || engineModelId(h.state) !== null || chat.messages.length > 0) return;
        takeSettings(defaults.settings);
        chat.mode = defaults.mode;
        chat.showValues?.();
        const m = models.find((x) => x.id === defaults.modelId);
        if (m?.runs) {
          select.value = m.id;
          chooseModel(m.id, defaults.adapter, true);
        } else paint();
      })
      .catch(() => undefined);
  } else showInAddress(sync.id);
  chat.refreshList();
  paint();
  return confirmLeavingView(box, () => chat.generating);
}

export const chatView: View = {
  id: 'chat',
  title: 'Chat',
  async render(root, ctx) {
    root.append(el('h1', {}, 'Chat'));
    const { models } = await ctx.api.call('models:list', {});
    if (models.length === 0) {
      root.append(el('p', { className: 'empty' }, 'No model in this volume yet. ', el('a', { href: '#/import' }, 'Import a GGUF model'), ' to chat with it.'));
      return;
    }
    return render(root, ctx, models);
  },
};
