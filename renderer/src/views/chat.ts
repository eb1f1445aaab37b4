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
 * conversation and the loaded model live at module level, so they survive switching views
 * (./chat/chat-state.ts).
 *
 * This file builds the view and wires it; the parts: the model on the engine
 * (./chat/engine-model.ts), the turns of a conversation (./chat/turns.ts), the sampling settings
 * and their panel (./chat/settings.ts, ./chat/settings-panel.ts).
 */
import { CONVERSATION_LIMITS, type ChatAdapter } from '../../../shared/ipc/channels/conversations';
import { confirmDialog, promptDialog } from '../components/dialog';
import { createProgressBar } from '../components/progress';
import { engineHost } from '../engine/instance';
import type { GenerationMode } from '../engine/protocol';
import type { LedgerSummary } from '../../../shared/gpu/ledger';
import { memoryLedgerParts } from '../components/memory-ledger';
import { AdapterPicker, adapterToLoad, readScale, sameAdapter } from './chat/adapter-picker';
import { chat, takeSettings, type ModelSummary } from './chat/chat-state';
import { conversationList } from './chat/conversation-list';
import { ConversationSync, type ChatMessage } from './chat/conversation-sync';
import { describeState, engineModelId, residencyText, useModel } from './chat/engine-model';
import { exportConversation } from './chat/export-conversation';
import { confirmLeavingView, warnBeforeUnload } from './chat/leave-guard';
import { fillReply, messageElements, statsText } from './chat/message-view';
import { kvCacheText } from './chat/context-setting';
import { readSettings } from './chat/settings';
import { settingsPanel } from './chat/settings-panel';
import { keepReplyOnUnload, newConversation, openConversation, regenerate, resend, send, showInAddress } from './chat/turns';
import { corpusControl } from './chat-corpus';
import { el } from '../components/el';
import { type View, type ViewContext } from './types';
import './chat.css';

function render(root: HTMLElement, ctx: ViewContext, models: ModelSummary[]): () => void {
  const h = engineHost(ctx.api);
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
    if (engineHost(ctx.api).cancelLoad()) {
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

  const panel = settingsPanel({
    showError: (message) => ctx.showError(message),
    onContextLength: (value) => {
      chat.contextLength = value;
      // Kept at once with the open conversation (not at its next message), and as the last
      // settings used, which a new conversation starts from.
      void sync.saveContextLength(value);
      const kept = readSettings(settings, chat.contextLength);
      if (select.value && !('field' in kept)) sync.rememberDefaults({ modelId: select.value, adapter: chat.adapter, mode: chat.mode, settings: kept.kept });
      if (select.value && !chat.generating) useModel(ctx, models, select.value, chat.adapter, false);
      paint();
    },
    onGpuMemory: () => {
      if (select.value && !chat.generating) useModel(ctx, models, select.value, chat.adapter, false);
      paint();
    },
  });
  const settings = panel.element;
  const { contextMemory, budgetNote } = panel;

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
    panel.showValues();
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
