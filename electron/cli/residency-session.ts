/**
 * A CLI load under --gpu-memory records its residency plan as a self-improvement session in the
 * data folder's session store (the app's Dashboard lists it), and the run that follows confirms
 * it in decode tokens/s. Recording is best effort: a store that cannot be written costs a
 * warning, never the run.
 */
import { adapterKey } from '../../shared/engine/autotune';
import type { GenerationTimings } from '../../shared/engine/generate';
import { adapterName } from '../../shared/gpu/adapter';
import { residencySession } from '../../shared/sessions/residency';
import { defaultDataDir } from '../app-meta';
import type { NodeModel } from '../engine';
import { sessionsFilePath, SessionStore } from '../sessions/store';
import type { CliIo } from './command';

export interface RecordedResidency {
  store: SessionStore;
  id: string;
}

export async function recordResidency(m: NodeModel, by: string, loadedAt: Date, io: CliIo): Promise<RecordedResidency | null> {
  const store = new SessionStore(sessionsFilePath(defaultDataDir()));
  const session = residencySession({
    plan: m.model.residency,
    model: m.source.header.file,
    adapter: adapterKey(m.ctx.adapter),
    driver: adapterName(m.ctx.adapter, 'WebGPU'),
    startedAt: new Date(loadedAt.getTime() - m.loadSeconds * 1000).toISOString(),
    finishedAt: loadedAt.toISOString(),
    by,
  });
  try {
    const s = await store.add(session);
    return { store, id: s.id };
  } catch (e) {
    io.err(`warning: the residency plan was not recorded as a session: ${(e as Error).message}`);
    return null;
  }
}

/** The decode speed of the run under the plan, as the session's end-to-end confirmation. */
export async function confirmResidency(r: RecordedResidency | null, t: GenerationTimings, io: CliIo): Promise<void> {
  if (!r || t.decodeTokens === 0) return;
  await r.store
    .confirm(r.id, { tokensPerSecond: t.decodeTokensPerSecond, baselineTokensPerSecond: null, note: `Decode speed of the run that followed the plan (${t.decodeTokens} tokens).` })
    .catch((e: Error) => io.err(`warning: the residency session was not confirmed: ${e.message}`));
}
