/**
 * The Chat's context-length setting: how many tokens the KV cache holds, and the GPU memory that
 * costs (context × the model's KV bytes per token, every block's K and V). Empty means the
 * engine's default for the model. Kept in this browser (localStorage) beside the kernel
 * measurements, so the next load uses it.
 */
import { formatBytes } from '../../components/format';

export const CONTEXT_KEY = 'pxi.chatContextLength';
export const MIN_CONTEXT = 16;
export const MAX_CONTEXT = 1_048_576;

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

export function readContextLength(storage: Pick<Storage, 'getItem'> | undefined = globalThis.localStorage): number | null {
  const r = parseContextLength(storage?.getItem(CONTEXT_KEY) ?? '');
  return 'value' in r ? r.value : null;
}

export function keepContextLength(value: number | null, storage: Pick<Storage, 'setItem' | 'removeItem'> | undefined = globalThis.localStorage): void {
  if (!storage) return;
  if (value === null) storage.removeItem(CONTEXT_KEY);
  else storage.setItem(CONTEXT_KEY, String(value));
}
