import { replyStatsLine } from '../../../../shared/chat/stats-line';
import type { ChatModeName } from '../../../../shared/ipc/channels/conversations';
import { copyButton } from '../../components/clipboard';
import { renderMarkdown } from '../../components/markdown';
import { corpusSources } from '../chat-corpus';
import { el } from '../../components/el';
import type { ChatMessage } from './conversation-sync';

/**
 * The transcript's messages as DOM: in chat mode a bubble per message (the user's text as
 * typed; the model's reply as Markdown, built as nodes), in completion mode one bubble per
 * prompt and its continuation (plain text: it continues the prompt). Each has Copy; a user
 * message (a prompt) has Edit, which resends it changed and drops what followed; a reply has
 * Regenerate. The actions are there only while no reply is being generated.
 */

export interface MessageActions {
  /** Whether the actions may run now (no reply being generated, a model ready). */
  enabled(): boolean;
  /** Generates reply `index` again (the messages after it are dropped). */
  regenerate(index: number): void;
  /** Sends user message `index` again as `text` (it and the messages after it are replaced). */
  resend(index: number, text: string): void;
}

/** What the stats line under a reply says. */
export function statsText(m: ChatMessage, live: string | null = null): string {
  if (live !== null && m.state === 'streaming') return live;
  switch (m.state) {
    case 'streaming':
      return 'generating…';
    case 'incomplete':
      return 'Interrupted before it finished (the page closed or reloaded): what was generated is kept. Regenerate to try again.';
    case 'error':
      return m.error ?? 'failed';
    case 'done':
      return m.stats ? replyStatsLine(m.stats) : '';
  }
}

/** Fills a reply's element with its text (Markdown in chat mode). */
export function fillReply(node: HTMLElement, m: ChatMessage, mode: ChatModeName): void {
  node.dataset.state = m.state;
  if (mode === 'chat') node.replaceChildren(renderMarkdown(m.text));
  else node.textContent = m.text;
}

function actionButton(label: string, action: string, onClick: () => void): HTMLButtonElement {
  const b = el('button', { type: 'button', className: 'chat-action', textContent: label });
  b.dataset.action = action;
  b.addEventListener('click', onClick);
  return b;
}

/** An inline editor in place of a user message's text: Send (drops what followed) and Cancel. */
function editBox(bubble: HTMLElement, body: HTMLElement, text: string, later: number, onSend: (t: string) => void): void {
  const area = el('textarea', { className: 'chat-edit-text', value: text, rows: Math.min(12, Math.max(2, text.split('\n').length)) });
  area.setAttribute('aria-label', 'Edit message');
  const send = el('button', { type: 'button', className: 'btn primary chat-edit-send', textContent: 'Send' });
  const cancel = el('button', { type: 'button', className: 'btn chat-edit-cancel', textContent: 'Cancel' });
  const note = el('p', { className: 'muted small' }, later > 0 ? `Sending replaces this message and removes the ${later} after it.` : 'Sending replaces this message.');
  const editor = el('div', { className: 'chat-edit' }, area, note, el('div', { className: 'chat-buttons' }, send, cancel));
  body.replaceWith(editor);
  bubble.classList.add('editing');
  const close = () => {
    editor.replaceWith(body);
    bubble.classList.remove('editing');
  };
  cancel.addEventListener('click', close);
  send.addEventListener('click', () => {
    if (area.value.trim() === '') {
      area.focus();
      return;
    }
    onSend(area.value);
  });
  area.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      ev.preventDefault();
      close();
    } else if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      send.click();
    }
  });
  area.focus();
}

function head(who: string, buttons: HTMLElement[]): HTMLElement {
  return el('div', { className: 'chat-turn-head' }, el('div', { className: 'who' }, who), el('div', { className: 'chat-actions' }, ...buttons));
}

function replyParts(m: ChatMessage, mode: ChatModeName): { reply: HTMLElement; stats: HTMLElement } {
  // A continuation flows on from its prompt; a chat reply is Markdown blocks.
  const reply = mode === 'chat' ? el('div', { className: 'chat-reply md-reply' }) : el('span', { className: 'chat-reply' });
  fillReply(reply, m, mode);
  const stats = el('div', { className: 'turn-stats muted' }, statsText(m));
  stats.dataset.state = m.state;
  return { reply, stats };
}

/** The elements of every message, in order. */
export function messageElements(messages: ChatMessage[], mode: ChatModeName, actions: MessageActions): HTMLElement[] {
  const out: HTMLElement[] = [];
  const can = actions.enabled();
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const later = messages.length - i - 1;
    if (mode === 'completion' && m.role === 'user') {
      // The prompt and its continuation in one bubble.
      const next = messages[i + 1]?.role === 'assistant' ? messages[i + 1]! : null;
      const prompt = el('span', { className: 'chat-prompt-text' }, m.text);
      const body = el('div', { className: 'chat-text' }, prompt);
      const buttons: HTMLElement[] = [copyButton('Copy', () => m.text + (next?.text ?? ''), { className: 'chat-action', title: 'Copy the prompt and its continuation' })];
      const bubble = el('div', { className: 'chat-turn completion' });
      let stats: HTMLElement | null = null;
      if (next) {
        const parts = replyParts(next, mode);
        body.append(parts.reply);
        stats = parts.stats;
        if (can) buttons.push(actionButton('Regenerate', 'regenerate', () => actions.regenerate(i + 1)));
      }
      if (can) buttons.push(actionButton('Edit', 'edit', () => editBox(bubble, body, m.text, later, (t) => actions.resend(i, t))));
      bubble.append(head('Completion', buttons), body, ...(stats ? [stats] : []), ...(next ? corpusSources(next) : []));
      out.push(bubble);
      if (next) i++;
      continue;
    }
    if (m.role === 'user') {
      const body = el('div', { className: 'chat-text' }, m.text);
      const bubble = el('div', { className: 'chat-turn user' });
      const buttons: HTMLElement[] = [copyButton('Copy', () => m.text, { className: 'chat-action', title: 'Copy this message' })];
      if (can) buttons.push(actionButton('Edit', 'edit', () => editBox(bubble, body, m.text, later, (t) => actions.resend(i, t))));
      bubble.append(head('You', buttons), body);
      out.push(bubble);
      continue;
    }
    const { reply, stats } = replyParts(m, mode);
    const buttons: HTMLElement[] = [copyButton('Copy', () => m.text, { className: 'chat-action', title: 'Copy this reply (its Markdown)' })];
    if (can && i > 0 && messages[i - 1]!.role === 'user') buttons.push(actionButton('Regenerate', 'regenerate', () => actions.regenerate(i)));
    out.push(el('div', { className: 'chat-turn assistant' }, head('Model', buttons), el('div', { className: 'chat-text' }, reply), stats, ...corpusSources(m)));
  }
  return out;
}
