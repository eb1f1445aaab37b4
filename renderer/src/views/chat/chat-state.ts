/**
 * What Chat keeps between renderings of its view (the open conversation, the loaded model's
 * adapter, the settings as typed, the reply being generated) and the hooks into the mounted view
 * (specs/ui.md, "Chat"): module level, so they survive switching views.
 */
import type { Response } from '../../../../shared/ipc/contract';
import type { ChatAdapter, ChatSettings, ConversationSummary } from '../../../../shared/ipc/channels/conversations';
import type { LedgerSummary } from '../../../../shared/gpu/ledger';
import type { GenerationMode } from '../../engine/protocol';
import type { ChatMessage, ConversationSync } from './conversation-sync';
import { FIELDS } from './settings';

export type ModelSummary = Response<'models:list'>['models'][number];

/** What outlives one rendering of the view. */
export const chat = {
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

/** Puts kept settings into the form's values (the fields show them at the next showValues). */
export function takeSettings(s: ChatSettings): void {
  for (const f of FIELDS) chat.values[f.key] = String(s[f.key]);
  chat.seed = s.seed === null ? '' : String(s.seed);
  chat.contextLength = s.contextLength;
}
