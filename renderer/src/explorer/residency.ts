/**
 * Which tensors of the loaded model are resident in GPU memory and which stream from host
 * memory each token, by tensor name as the map names them (shared/engine/residency.ts plans
 * per matrix as the GPU holds it; a stacked matrix such as `blk.0.attn_q|k|v.weight` is the
 * tensors `blk.0.attn_q.weight`, `blk.0.attn_k.weight` and `blk.0.attn_v.weight`). Pure.
 */

export type Residency = 'resident' | 'streamed';

/** The tensors one planned matrix name stands for: itself, or each member of a stack. */
export function stackMembers(name: string): string[] {
  const parts = name.split('|');
  if (parts.length === 1) return [name];
  // "blk.0.attn_q" … "v.weight": the members share the first part's prefix (to its last _)
  // and the last part's suffix (from its first dot).
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  const cut = first.lastIndexOf('_') + 1;
  const dot = last.indexOf('.');
  if (cut === 0 || dot < 0) return [name];
  const prefix = first.slice(0, cut);
  const suffix = last.slice(dot);
  const middles = [first.slice(cut), ...parts.slice(1, -1), last.slice(0, dot)];
  return middles.map((m) => `${prefix}${m}${suffix}`);
}

/**
 * Each tensor of `tensors` (map names) as resident or streamed under `plan`. A weight the plan
 * does not name (norms, biases: the engine keeps them whatever the budget) is resident.
 */
export function tensorResidency(plan: { resident: readonly string[]; streamed: readonly string[] }, tensors: readonly string[]): Map<string, Residency> {
  const streamed = new Set(plan.streamed.flatMap(stackMembers));
  return new Map(tensors.map((t) => [t, streamed.has(t) ? 'streamed' : 'resident'] as const));
}
