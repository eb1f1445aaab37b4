/**
 * The Chat's GPU memory budget (issue 12 item 2, "a setting in the app"): the most GPU memory the
 * loaded model may hold (weights, KV cache, activations). Below what the weights need, the
 * engine's residency planner keeps some weight matrices in host memory and streams them each
 * token (Model.load({ gpuMemory })). Empty means no budget. Sizes read as `pxi --gpu-memory`
 * reads them: binary units (512 MB = 512 × 1024² bytes). Kept in this browser like the context.
 */
export const GPU_MEMORY_KEY = 'pxi.chatGpuMemory';

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** The field's value: null for no budget, bytes, or why it is refused. */
export function parseGpuMemory(text: string): { value: number | null } | { error: string } {
  const t = text.trim();
  if (t === '') return { value: null };
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(t);
  const n = m ? Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) return { error: `GPU memory budget must be a size such as 512 MB, 2 GB or 600 KB (or empty for no budget), got “${t}”` };
  return { value: n };
}

export function readGpuMemory(storage: Pick<Storage, 'getItem'> | undefined = globalThis.localStorage): number | null {
  const r = parseGpuMemory(storage?.getItem(GPU_MEMORY_KEY) ?? '');
  return 'value' in r ? r.value : null;
}

/** Keeps the text as typed (so "512 MB" shows again as "512 MB"); empty forgets the budget. */
export function keepGpuMemory(text: string, storage: Pick<Storage, 'setItem' | 'removeItem'> | undefined = globalThis.localStorage): void {
  if (!storage) return;
  if (text.trim() === '') storage.removeItem(GPU_MEMORY_KEY);
  else storage.setItem(GPU_MEMORY_KEY, text.trim());
}

/** The stored text for the field (empty when none). */
export function gpuMemoryText(storage: Pick<Storage, 'getItem'> | undefined = globalThis.localStorage): string {
  return storage?.getItem(GPU_MEMORY_KEY) ?? '';
}
