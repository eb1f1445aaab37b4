import type { PxiApi } from '../../../../shared/ipc/client';
import type { ExportFormatName } from '../../../../shared/ipc/channels/conversations';
import { promptDialog } from '../../components/dialog';
import { isAbsolutePath } from '../../components/format';
import { downloadText } from '../../components/download';

/**
 * Exports a conversation as Markdown or JSON. In browser mode the document is downloaded to the
 * browser's machine; in the desktop app it is written on the host at a path the person gives
 * (the Models view's export dialog: an absolute path, "replace the file" off by default).
 * Resolves with what happened, for the view to say, or null when cancelled.
 */
export async function exportConversation(api: PxiApi, id: number, format: ExportFormatName): Promise<string | null> {
  const info = await api.call('app:info', {});
  const doc = await api.call('conversations:export', { id, format });
  if (info.mode === 'browser') {
    downloadText(doc.fileName, doc.mimeType, doc.text);
    return `Downloaded ${doc.fileName}.`;
  }
  const sep = info.dataDir.includes('\\') && !info.dataDir.includes('/') ? '\\' : '/';
  const answer = await promptDialog({
    title: `Export as ${format === 'markdown' ? 'Markdown' : 'JSON'}`,
    field: {
      label: 'Output file (absolute path on this computer)',
      value: `${info.dataDir}${sep}${doc.fileName}`,
      validate: (v) => (!isAbsolutePath(v.trim()) ? 'Give an absolute path, e.g. /home/me/chat.md' : null),
    },
    checkboxes: [{ label: 'Replace the file if it exists' }],
    confirmLabel: 'Export',
  });
  if (!answer) return null;
  const saved = await api.call('conversations:save', { id, format, path: answer.value.trim(), overwrite: answer.checks[0] ?? false });
  return `Saved to ${saved.path}.`;
}
