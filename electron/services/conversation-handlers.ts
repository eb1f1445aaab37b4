import { access } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { CONVERSATION_ERRORS as E, type conversationChannels } from '../../shared/ipc/channels/conversations';
import type { Handlers } from '../../shared/ipc/dispatch';
import { ConversationError, type ConversationStore } from '../conversations/store';
import { exportConversation } from '../conversations/export';
import { writeFileDurable } from '../pixelfs/file-ops';

type ConversationChannel = keyof typeof conversationChannels;

/**
 * The Chat view's conversations over IPC (shared/ipc/channels/conversations.ts): the store in
 * `<dataDir>/conversations.sqlite`, its exports as documents, and the desktop's save of one to
 * a path on the host (written durably, an existing file replaced only when asked).
 */
export function conversationHandlers(store: () => ConversationStore): Pick<Handlers, ConversationChannel> {
  return {
    'conversations:list': () => ({ conversations: store().list() }),
    'conversations:get': ({ id }) => store().get(id),
    'conversations:create': (r) => store().create(r),
    'conversations:update': ({ id, ...patch }) => store().update(id, patch),
    'conversations:delete': ({ id }) => {
      store().remove(id);
      return { deleted: id };
    },
    'conversations:append': ({ conversationId, messages }) => ({ messages: store().append(conversationId, messages) }),
    'conversations:updateMessage': ({ conversationId, messageId, text, state, stats, error }) =>
      store().updateMessage(conversationId, messageId, { text, state, ...(stats !== undefined ? { stats } : {}), ...(error !== undefined ? { error } : {}) }),
    'conversations:truncate': ({ conversationId, messageId }) => ({ removed: store().truncate(conversationId, messageId) }),
    'conversations:export': ({ id, format }) => exportConversation(store().get(id), format),
    'conversations:save': async ({ id, format, path, overwrite }) => {
      if (!isAbsolute(path)) throw new ConversationError(E.BAD_PATH, `${path}: give an absolute path on this machine to save the conversation to`, { file: path, field: 'path', value: path });
      const doc = exportConversation(store().get(id), format);
      if (!overwrite) {
        const exists = await access(path).then(
          () => true,
          () => false,
        );
        if (exists) throw new ConversationError(E.FILE_EXISTS, `${path} already exists: choose another name, or replace it`, { file: path, field: 'path', value: path });
      }
      const bytes = new TextEncoder().encode(doc.text);
      await writeFileDurable(path, bytes);
      return { path, bytes: bytes.byteLength };
    },
    'conversations:defaults': () => ({ defaults: store().defaults() }),
    'conversations:setDefaults': ({ defaults }) => ({ defaults: store().setDefaults(defaults) }),
  };
}
