/**
 * The Chat's context-length setting: how many tokens the KV cache holds, and the GPU memory that
 * costs (context × the model's KV bytes per token, every block's K and V). Empty means the
 * engine's default for the model. It is one of a conversation's settings (`contextLength` in
 * ChatSettings, kept by the services with the conversation and in the remembered defaults), so
 * each conversation loads the model with its own.
 */
import { CONTEXT_LIMITS } from '../../../../shared/ipc/channels/conversations';
import { formatBytes } from '../../components/format';

export const MIN_CONTEXT = CONTEXT_LIMITS.min;
export const MAX_CONTEXT = CONTEXT_LIMITS.max;

/** The field's value: null for the model's default, a whole number of tokens, or why it is refused. */
export function parseContextLength(text: string): { value: number | null } | { error: string } {
  const t = text.trim();
  if (t === '') return { value: null };
  if (!/^\d+$/.test(t)) return { error: `Context length must be a whole number of tokens, got “${t}”` };
  const n = Number(t);
  if (n < MIN_CONTEXT || n > MAX_CONTEXT) return { error: `Context length must be from ${MIN_CONTEXT} to ${MAX_CONTEXT.toLocaleString('en-US')} tokens, got ${n.toLocaleString('en-US')}` };
  return { value: n };
}

/** "KV cache: 512 tokens × 2.50 KiB = 1.25 MiB of GPU memory". */
export function kvCacheText(context: number, kvBytesPerToken: number): string {
  return `KV cache: ${context.toLocaleString('en-US')} tokens × ${formatBytes(kvBytesPerToken)} = ${formatBytes(context * kvBytesPerToken)} of GPU memory`;
}
