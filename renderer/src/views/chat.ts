/**
 * Chat: pick a stored model, and talk to it (through its chat template) or let it continue a
 * text (models without a template, such as stories260K). The WGSL engine runs in a worker of
 * this renderer (renderer/src/engine); its weights come from the volume's pixel tiles over IPC.
 * The conversation and the loaded model live at module level, so they survive switching views.
 */
import type { Response } from '../../../shared/ipc/contract';
import type { EngineState } from '../engine/host';
import { engineHost } from '../engine/instance';
import type { GenerationMode, GenerationSettings, LoadedInfo, ReplyResult } from '../engine/protocol';
import { el, type View, type ViewContext } from './types';
import './chat.css';

type ModelSummary = Response<'models:list'>['models'][number];

type Turn =
  | { kind: 'user'; text: string }
  | { kind: 'reply'; mode: GenerationMode; prompt: string; text: string; state: 'streaming' | 'done' | 'error'; stats: string };

interface Field {
  key: keyof GenerationSettings;
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

/** llama.cpp's defaults, as `pxi run` uses them. */
const FIELDS: Field[] = [
  { key: 'temperature', label: 'Temperature', hint: '0 = greedy', min: 0, step: '0.05', value: '0.8', check: (x) => x >= 0, rule: 'a number ≥ 0' },
  { key: 'topK', label: 'Top-k', hint: '0 = all', min: 0, step: '1', value: '40', check: (x) => x >= 0, rule: 'an integer ≥ 0', integer: true },
  { key: 'topP', label: 'Top-p', hint: '1 = off', min: 0, max: 1, step: '0.01', value: '0.95', check: (x) => x > 0 && x <= 1, rule: 'in (0, 1]' },
  { key: 'minP', label: 'Min-p', hint: '0 = off', min: 0, max: 1, step: '0.01', value: '0.05', check: (x) => x >= 0 && x <= 1, rule: 'in [0, 1]' },
  { key: 'repeatPenalty', label: 'Repeat penalty', hint: '1 = off', min: 0, step: '0.05', value: '1', check: (x) => x > 0, rule: 'a number > 0' },
  { key: 'maxTokens', label: 'Max tokens', hint: 'per reply', min: 1, step: '1', value: '256', check: (x) => x >= 1, rule: 'an integer ≥ 1', integer: true },
];

/** What outlives one rendering of the view. */
const chat = {
  turns: [] as Turn[],
  values: Object.fromEntries(FIELDS.map((f) => [f.key, f.value])) as Record<string, string>,
  seed: '',
  system: '',
  draft: '',
  mode: 'chat' as GenerationMode,
  generating: false,
  /** Messages sent while a reply streams: each goes when the reply before it ends (never dropped). */
  queued: [] as string[],
  /** The view's form, for sending what was queued after the view was re-rendered. */
  form: null as HTMLElement | null,
  /** The model the turns belong to. */
  modelId: null as string | null,
  /** Repaints the mounted view (null when the view is not shown). */
  repaint: null as (() => void) | null,
  /** Updates the streaming reply in place (cheaper than a repaint per token). */
  stream: null as ((turn: Turn, live: string) => void) | null,
};

const host = engineHost;

const mib = (b: number) => `${(b / 1024 ** 2).toFixed(1)} MiB`;
const rate = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');

function describeState(s: EngineState, models: ModelSummary[]): string {
  const name = (id: string) => models.find((m) => m.id === id)?.name ?? id;
  switch (s.kind) {
    case 'empty':
      return 'No model loaded.';
    case 'loading':
      if (s.tuning) return `Measuring the decode kernels on this GPU (once per GPU): ${s.tuning.weightType}, ${s.tuning.index + 1} of ${s.tuning.count}…`;
      return s.bytesTotal > 0
        ? `Loading ${s.name} from its pixel tiles: ${mib(s.bytesDone)} of ${mib(s.bytesTotal)} (${Math.floor((100 * s.bytesDone) / s.bytesTotal)}%)${s.tensor ? ` · ${s.tensor}` : ''}`
        : `Loading ${s.name}…`;
    case 'ready': {
      const i = s.info;
      return `${i.name} on ${i.adapter}: ${mib(i.weightBytes)} of weights, context ${i.contextLength} tokens, loaded in ${i.loadSeconds.toFixed(1)} s${i.tuneSeconds >= 0.05 ? ` (${i.tuneSeconds.toFixed(1)} s of it measuring kernels)` : ''}${i.f16 ? '' : ' · f32 kernels (this adapter has no shader-f16)'}${tuningText(i)}`;
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

function timingText(r: ReplyResult, seed: number): string {
  const t = r.timings;
  return (
    `prefill ${t.promptTokens} tokens, ${rate(t.prefillTokensPerSecond)} tokens/s · decode ${t.decodeTokens} tokens, ${rate(t.decodeTokensPerSecond)} tokens/s` +
    ` · stop: ${r.stopReason === 'eos' ? 'end of text' : r.stopReason === 'length' ? 'max tokens' : r.stopReason === 'aborted' ? 'stopped' : r.stopReason === 'context' ? 'context full' : 'stop string'} · seed ${seed}`
  );
}

/** Settings from the form, or the first invalid field with the rule it breaks. */
function readSettings(form: HTMLElement): { settings: GenerationSettings; seed: number } | { field: HTMLInputElement; message: string } {
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
  if (text === '') seed = Math.floor(Math.random() * 0x100000000);
  else {
    seed = Number(text);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) return { field: seedInput, message: `Seed must be an integer from 0 to 4294967295 (or empty for a random one), got ${JSON.stringify(text)}` };
  }
  return { settings: { ...(out as Omit<GenerationSettings, 'seed'>), seed }, seed };
}

function turnElement(t: Turn): HTMLElement {
  if (t.kind === 'user') return el('div', { className: 'chat-turn user' }, el('div', { className: 'who' }, 'You'), el('div', { className: 'chat-text' }, t.text));
  const reply = el('span', { className: 'chat-reply' }, t.text);
  reply.dataset.state = t.state;
  const stats = el('div', { className: 'turn-stats muted' }, t.stats);
  if (t.mode === 'completion') {
    return el('div', { className: 'chat-turn completion' }, el('div', { className: 'who' }, 'Completion'), el('div', { className: 'chat-text' }, el('span', { className: 'chat-prompt-text' }, t.prompt), reply), stats);
  }
  return el('div', { className: 'chat-turn assistant' }, el('div', { className: 'who' }, 'Model'), el('div', { className: 'chat-text' }, reply), stats);
}

async function send(ctx: ViewContext, form: HTMLElement, text: string): Promise<void> {
  const h = host(ctx.api);
  const s = h.state;
  if (s.kind !== 'ready' || chat.generating) return;
  const parsed = readSettings(form);
  if ('field' in parsed) {
    ctx.showError(parsed.message);
    parsed.field.focus();
    return;
  }
  const mode: GenerationMode = s.info.chatTemplate ? chat.mode : 'completion';
  if (mode === 'chat') chat.turns.push({ kind: 'user', text });
  const turn: Turn = { kind: 'reply', mode, prompt: text, text: '', state: 'streaming', stats: 'generating…' };
  chat.turns.push(turn);
  chat.generating = true;
  chat.draft = '';
  chat.repaint?.();
  let first = 0;
  try {
    const result = await h.generate(
      mode,
      text,
      parsed.settings,
      {
        onChunk(chunk, index) {
          const now = performance.now();
          if (index === 0) first = now;
          turn.text += chunk;
          // Live decode speed: tokens after the first over the time since it arrived.
          const live = index > 0 ? `${index + 1} tokens · ${rate((index * 1000) / (now - first))} tokens/s` : '1 token';
          turn.stats = live;
          chat.stream?.(turn, live);
        },
      },
      mode === 'chat' && chat.system.trim() ? chat.system.trim() : undefined,
    );
    turn.text = result.text;
    turn.state = 'done';
    turn.stats = timingText(result, parsed.seed);
  } catch (e) {
    turn.state = 'error';
    turn.stats = (e as Error).message;
  } finally {
    chat.generating = false;
    chat.repaint?.();
  }
  // What was typed during the reply goes next, in order.
  const next = chat.queued.shift();
  if (next !== undefined) await send(ctx, chat.form ?? form, next);
}

function render(root: HTMLElement, ctx: ViewContext, models: ModelSummary[]): void {
  const h = host(ctx.api);
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
  const status = el('p', { id: 'chat-engine-status', className: 'chat-status' });
  status.setAttribute('role', 'status');
  const progress = el('progress', { className: 'chat-progress', max: 1, value: 0 });
  // The worker's GPU allocation ledger after the load: what the engine knows it holds.
  const memory = el('details', { id: 'chat-memory', className: 'chat-memory' });
  const modeNote = el('p', { id: 'chat-mode-note', className: 'chat-note' });
  const modeSelect = el('select', { id: 'chat-mode' });
  modeSelect.setAttribute('aria-label', 'Mode');
  modeSelect.append(el('option', { value: 'chat', textContent: 'Chat (chat template)' }), el('option', { value: 'completion', textContent: 'Completion (continue the text)' }));
  const system = el('input', { id: 'chat-system', type: 'text', placeholder: 'optional system message', value: chat.system });
  system.addEventListener('input', () => (chat.system = system.value));

  const log = el('div', { id: 'chat-log', className: 'chat-log' });
  log.setAttribute('role', 'log');
  log.setAttribute('aria-live', 'polite');
  log.tabIndex = 0;

  const prompt = el('textarea', { id: 'chat-prompt', rows: 3, value: chat.draft });
  prompt.setAttribute('aria-label', 'Message');
  prompt.addEventListener('input', () => (chat.draft = prompt.value));
  const sendBtn = el('button', { type: 'submit', id: 'chat-send', textContent: 'Send' });
  const stopBtn = el('button', { type: 'button', id: 'chat-stop', textContent: 'Stop' });
  const resetBtn = el('button', { type: 'button', id: 'chat-reset', textContent: 'New conversation' });
  const stats = el('p', { id: 'chat-stats', className: 'chat-stats muted' });
  stats.setAttribute('aria-live', 'polite');
  const form = el('form', { className: 'chat-form' }, prompt, el('div', { className: 'chat-buttons' }, sendBtn, stopBtn, resetBtn));

  const settings = el('fieldset', { className: 'chat-settings' }, el('legend', {}, 'Sampling'));
  for (const f of FIELDS) {
    const input = el('input', { id: `chat-${f.key}`, type: 'number', step: f.step, min: String(f.min), value: chat.values[f.key]! });
    if (f.max !== undefined) input.max = String(f.max);
    input.addEventListener('input', () => (chat.values[f.key] = input.value));
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

  box.append(
    el('div', { className: 'chat-toolbar' }, select, reload, el('label', { className: 'chat-mode' }, 'Mode ', modeSelect)),
    status,
    progress,
    memory,
    modeNote,
    el('div', { className: 'chat-body' }, el('div', { className: 'chat-main' }, el('label', { className: 'chat-system' }, 'System ', system), log, form, stats), settings),
  );

  const paintLog = () => {
    log.replaceChildren(...chat.turns.map(turnElement));
    for (const q of chat.queued) {
      log.append(el('div', { className: 'chat-turn user queued' }, el('div', { className: 'who' }, 'You · queued, sent when the reply ends'), el('div', { className: 'chat-text' }, q)));
    }
    if (chat.turns.length === 0 && chat.queued.length === 0) log.append(el('p', { className: 'empty' }, 'Nothing said yet.'));
    log.scrollTop = log.scrollHeight;
  };

  const paint = () => {
    if (!box.isConnected) return;
    const s = h.state;
    const loadedId = s.kind === 'ready' ? s.info.modelId : s.kind === 'loading' || s.kind === 'failed' || s.kind === 'lost' ? s.modelId : null;
    if (loadedId && select.value !== loadedId && models.some((m) => m.id === loadedId)) select.value = loadedId;
    status.textContent = describeState(s, models);
    status.dataset.state = s.kind;
    status.classList.toggle('error', s.kind === 'failed' || s.kind === 'lost');
    progress.hidden = s.kind !== 'loading';
    if (s.kind === 'loading') progress.value = s.bytesTotal ? s.bytesDone / s.bytesTotal : 0;
    reload.hidden = !(s.kind === 'lost' || (s.kind === 'failed' && s.modelId));
    memory.hidden = s.kind !== 'ready';
    if (s.kind === 'ready' && memory.dataset.model !== s.info.modelId) {
      const mem = s.info.memory;
      memory.dataset.model = s.info.modelId;
      memory.dataset.bytes = String(mem.bytes);
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;
      memory.replaceChildren(
        el('summary', {}, `GPU memory: ${mib(mem.bytes)} in ${mem.buffers} buffers (peak ${mib(mem.peakBytes)})`),
        el(
          'table',
          { className: 'grid chat-memory-table' },
          el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Holds'), el('th', { scope: 'col' }, 'Buffers'), el('th', { scope: 'col' }, 'Size'))),
          el(
            'tbody',
            {},
            ...mem.byKind.map((k) => {
              const row = el('tr', { className: 'mem-row' }, el('td', {}, k.kind), el('td', {}, String(k.count)), el('td', {}, mib(k.bytes)));
              row.dataset.kind = k.kind;
              return row;
            }),
          ),
        ),
        el('p', { className: 'muted small' }, 'Every buffer the engine created on this GPU and still holds (WebGPU reports no free memory: this ledger is what the engine knows).'),
      );
    }
    const ready = s.kind === 'ready';
    const template = ready && s.info.chatTemplate;
    const mode: GenerationMode = template ? chat.mode : 'completion';
    modeSelect.value = mode;
    modeSelect.disabled = !template || chat.generating;
    (modeSelect.options[0] as HTMLOptionElement).disabled = !template;
    // The system message opens a conversation: it is set before the first turn.
    system.disabled = mode !== 'chat' || chat.turns.length > 0 || chat.generating;
    system.parentElement!.hidden = mode !== 'chat';
    modeNote.textContent = !ready
      ? ''
      : template
        ? mode === 'chat'
          ? "Chat: each turn goes through the model's chat template; the conversation is kept on the GPU (KV cache)."
          : 'Completion: the model continues your text as it is, without the chat template.'
        : 'This model has no chat template (tokenizer.chat_template), so chat is plain completion: the model continues the text you send.';
    prompt.placeholder = mode === 'chat' ? 'Message (Enter sends, Shift+Enter for a new line)' : 'Text to continue, e.g. "Once upon a time"';
    // While a reply streams, Send queues the message (it goes when the reply ends).
    sendBtn.disabled = !ready;
    sendBtn.textContent = chat.generating ? 'Queue' : 'Send';
    stopBtn.disabled = !chat.generating;
    resetBtn.disabled = chat.generating || chat.turns.length === 0;
    select.disabled = chat.generating;
    const last = [...chat.turns].reverse().find((t) => t.kind === 'reply');
    stats.textContent = last && last.kind === 'reply' && last.state !== 'error' ? last.stats : '';
    paintLog();
  };

  chat.repaint = paint;
  chat.stream = (turn, live) => {
    if (!box.isConnected) return;
    const replies = log.querySelectorAll<HTMLElement>('.chat-reply');
    const elReply = replies[replies.length - 1];
    if (elReply && chat.turns.at(-1) === turn && turn.kind === 'reply') {
      elReply.textContent = turn.text;
      elReply.parentElement!.parentElement!.querySelector('.turn-stats')!.textContent = live;
      stats.textContent = live;
      log.scrollTop = log.scrollHeight;
    }
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
    if (!id) return;
    if (chat.modelId !== id) {
      chat.turns = [];
      chat.modelId = id;
    }
    h.load(id).catch(() => paint()); // the failure is shown by the state line
  });
  reload.addEventListener('click', () => {
    // The conversation lived in the lost device's KV cache: a reloaded model starts afresh.
    chat.turns = [];
    void h.reload().catch(() => paint());
  });
  modeSelect.addEventListener('change', () => {
    chat.mode = modeSelect.value === 'chat' ? 'chat' : 'completion';
    chat.turns = [];
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
  // #/chat?model=ID-or-name opens the view with that model (links from other views).
  const asked = new URLSearchParams(location.hash.split('?')[1] ?? '').get('model');
  const target = asked ? models.find((m) => m.id === asked || m.name === asked) : undefined;
  const current = h.state.kind === 'ready' ? h.state.info.modelId : h.state.kind === 'loading' ? h.state.modelId : null;
  if (target && target.id !== current && !chat.generating) {
    select.value = target.id;
    select.dispatchEvent(new Event('change'));
  }
  resetBtn.addEventListener('click', () => {
    chat.turns = [];
    h.reset();
    paint();
    prompt.focus();
  });
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
    render(root, ctx, models);
  },
};
