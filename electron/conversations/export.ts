import { replyStatsLine } from '../../shared/chat/stats-line';
import { openFenceAtEnd } from '../../shared/markdown/parse';
import type { ChatSettings, Conversation, ConversationMessage, ExportFormatName } from '../../shared/ipc/channels/conversations';

/**
 * A conversation as a document to keep or share: Markdown for people (the messages as written,
 * since replies are Markdown already, under a heading per speaker), JSON for programs (every
 * field, the texts exactly as stored). The file name comes from the title, made safe for any
 * file system.
 */

export const CONVERSATION_EXPORT_FORMAT = 'pixel-llm-conversation';
export const CONVERSATION_EXPORT_VERSION = 1;

export interface ConversationDocument {
  fileName: string;
  mimeType: string;
  text: string;
}

const iso = (t: number) => new Date(t).toISOString();

/** The title on one line (a title may hold any text, newlines included). */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** A file name from the title: letters, digits, spaces, dots, dashes and underscores only, at most 80 characters. */
export function exportFileName(title: string, format: ExportFormatName): string {
  const base =
    oneLine(title)
      .normalize('NFKD')
      .replace(/[\p{Cc}\p{Cf}]+/gu, '')
      .replace(/[^\p{L}\p{N} ._-]+/gu, '-')
      .replace(/-{2,}/g, '-')
      .replace(/^[-. ]+|[-. ]+$/g, '')
      .slice(0, 80)
      .trim() || 'conversation';
  return `${base}.${format === 'markdown' ? 'md' : 'json'}`;
}

function settingsLine(s: ChatSettings): string {
  return [
    `temperature ${s.temperature}`,
    `top-k ${s.topK}`,
    `top-p ${s.topP}`,
    `min-p ${s.minP}`,
    `repeat penalty ${s.repeatPenalty}`,
    `max tokens ${s.maxTokens}`,
    `seed ${s.seed === null ? 'random' : s.seed}`,
    `context ${s.contextLength === null ? 'the model default' : `${s.contextLength} tokens`}`,
  ].join(' · ');
}

function speaker(c: Conversation, m: ConversationMessage): string {
  if (c.mode === 'completion') return m.role === 'user' ? 'Prompt' : 'Continuation';
  return m.role === 'user' ? 'You' : 'Model';
}

function endNote(m: ConversationMessage): string | null {
  if (m.state === 'incomplete') return '*(interrupted: the reply was cut off here)*';
  if (m.state === 'streaming') return '*(still being generated when exported)*';
  if (m.state === 'error') return `*(failed: ${oneLine(m.error ?? 'unknown error')})*`;
  return m.stats ? `*${replyStatsLine(m.stats)}*` : null;
}

export function conversationMarkdown(c: Conversation): string {
  const out: string[] = [];
  out.push(`# ${oneLine(c.title) || 'Conversation'}`, '');
  out.push(`- Model: ${oneLine(c.modelName) || c.modelId} (${c.modelId})`);
  if (c.adapter) out.push(`- Adapter: ${c.adapter.name} (scale ${c.adapter.scale})`);
  out.push(`- Mode: ${c.mode === 'chat' ? "chat (the model's chat template)" : 'completion (the model continues the text)'}`);
  out.push(`- Started: ${iso(c.createdAt)} · last change: ${iso(c.updatedAt)}`);
  out.push(`- Sampling: ${settingsLine(c.settings)}`);
  if (c.system !== '') {
    out.push('', '**System message:**', '');
    for (const line of c.system.split(/\r\n|\r|\n/)) out.push(line === '' ? '>' : `> ${line}`);
  }
  for (const m of c.messages) {
    out.push('', `## ${speaker(c, m)}`, '', m.text);
    // A reply cut off inside a code block is closed here, so what follows stays text.
    const fence = openFenceAtEnd(m.text);
    if (fence) out.push(fence);
    const note = endNote(m);
    if (note) out.push('', note);
  }
  return `${out.join('\n')}\n`;
}

export function conversationJson(c: Conversation, exportedAt: number): string {
  const doc = {
    format: CONVERSATION_EXPORT_FORMAT,
    version: CONVERSATION_EXPORT_VERSION,
    exportedAt: iso(exportedAt),
    conversation: {
      id: c.id,
      title: c.title,
      model: { id: c.modelId, name: c.modelName },
      adapter: c.adapter,
      mode: c.mode,
      system: c.system,
      settings: c.settings,
      createdAt: iso(c.createdAt),
      updatedAt: iso(c.updatedAt),
      messages: c.messages.map((m) => ({ role: m.role, text: m.text, state: m.state, stats: m.stats, error: m.error, createdAt: iso(m.createdAt) })),
    },
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export function exportConversation(c: Conversation, format: ExportFormatName, now: number = Date.now()): ConversationDocument {
  return format === 'markdown'
    ? { fileName: exportFileName(c.title, format), mimeType: 'text/markdown; charset=utf-8', text: conversationMarkdown(c) }
    : { fileName: exportFileName(c.title, format), mimeType: 'application/json', text: conversationJson(c, now) };
}
