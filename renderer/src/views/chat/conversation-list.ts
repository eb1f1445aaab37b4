import type { ConversationSummary } from '../../../../shared/ipc/channels/conversations';
import { formatTime } from '../../components/format';
import { el } from '../../components/el';
import { withAdapter } from './adapter-picker';

/**
 * The kept conversations, the most recent first: one button per conversation (its title, model
 * and adapter, message count and last change) that opens it; the open one is marked `aria-current`. Titles
 * are any text and are shown as text.
 */
export function conversationList(opts: {
  conversations: ConversationSummary[];
  openId: number | null;
  /** While a reply is generated, no other conversation can be opened. */
  disabled: boolean;
  onOpen: (id: number) => void;
}): HTMLElement {
  const list = el('ul', { id: 'chat-conversation-list', className: 'chat-conversation-list' });
  for (const c of opts.conversations) {
    const open = el(
      'button',
      { type: 'button', className: 'chat-conversation', disabled: opts.disabled && c.id !== opts.openId, title: c.title },
      el('span', { className: 'chat-conversation-name' }, c.title),
      el('span', { className: 'chat-conversation-meta muted' }, `${withAdapter(c.modelName || c.modelId, c.adapter)} · ${c.messageCount} message${c.messageCount === 1 ? '' : 's'} · ${formatTime(c.updatedAt)}`),
    );
    open.dataset.id = String(c.id);
    if (c.id === opts.openId) open.setAttribute('aria-current', 'true');
    open.addEventListener('click', () => {
      if (c.id !== opts.openId) opts.onOpen(c.id);
    });
    list.append(el('li', {}, open));
  }
  const box = el('nav', { className: 'chat-conversations' }, el('h2', { className: 'chat-conversations-head' }, 'Conversations'));
  box.setAttribute('aria-label', 'Conversations');
  box.append(opts.conversations.length ? list : el('p', { className: 'empty small' }, 'None kept yet: a conversation is kept from its first message.'));
  return box;
}
