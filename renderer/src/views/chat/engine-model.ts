/**
 * Chat's model on the engine (specs/ui.md, "Chat"; specs/engine.md): the engine's state in a
 * sentence (loading, ready with its residency and tuned kernels, failed, lost), which model and
 * adapter it has or is getting, and putting the chosen model and adapter on it with the open
 * conversation's context length and this browser's GPU memory budget.
 */
import type { ChatAdapter } from '../../../../shared/ipc/channels/conversations';
import { formatBytes } from '../../components/format';
import type { EngineState } from '../../engine/host';
import { engineHost } from '../../engine/instance';
import type { LoadedInfo, ResidencyInfo } from '../../engine/protocol';
import type { ViewContext } from '../types';
import { adapterToLoad, sameAdapter, withAdapter } from './adapter-picker';
import { chat, type ModelSummary } from './chat-state';
import { readGpuMemory } from './gpu-memory-setting';

const mib = (b: number) => `${(b / 1024 ** 2).toFixed(1)} MiB`;

export function describeState(s: EngineState, models: ModelSummary[]): string {
  const name = (id: string) => models.find((m) => m.id === id)?.name ?? id;
  switch (s.kind) {
    case 'empty':
      return s.cancelled ? `Loading ${name(s.cancelled)} was cancelled: no model is loaded. Choose a model to load one.` : 'No model loaded.';
    case 'loading': {
      if (s.tuning) return `Measuring the decode kernels on this GPU (once per GPU): ${s.tuning.weightType}, ${s.tuning.index + 1} of ${s.tuning.count}…`;
      const what = withAdapter(s.name, chat.requested);
      return s.bytesTotal > 0
        ? `Loading ${what} from its pixel tiles: ${mib(s.bytesDone)} of ${mib(s.bytesTotal)} (${Math.floor((100 * s.bytesDone) / s.bytesTotal)}%)${s.tensor ? ` · ${s.tensor}` : ''}`
        : `Loading ${what}…`;
    }
    case 'ready': {
      const i = s.info;
      return `${withAdapter(i.name, i.lora)} on ${i.adapter}: ${mib(i.weightBytes)} of weights, context ${i.contextLength} tokens, loaded in ${i.loadSeconds.toFixed(1)} s${i.tuneSeconds >= 0.05 ? ` (${i.tuneSeconds.toFixed(1)} s of it measuring kernels)` : ''}${i.f16 ? '' : ' · f32 kernels (this adapter has no shader-f16)'}${tuningText(i)}`;
    }
    case 'failed':
      return `Could not load ${s.modelId ? name(s.modelId) : 'the model'}: ${s.error.message}`;
    case 'lost':
      return `${name(s.modelId)} is no longer on the GPU: ${s.error.message}. Reload the model to continue.`;
  }
}

/** The tuned decode kernels, where the tuner found a faster shape than the default. */
function tuningText(i: LoadedInfo): string {
  if (!i.tuning) return '';
  const faster = Object.entries(i.tuning.types)
    .filter(([, t]) => t && t.speedup > 1)
    .map(([type, t]) => `${type} ${t!.tuning.workgroupSize}x${t!.tuning.threadsPerRow} (${t!.speedup.toFixed(1)}×)`);
  return faster.length ? ` · tuned kernels: ${faster.join(', ')}` : ' · kernel shapes measured: the defaults are fastest here';
}

/** The residency plan of the load in a sentence: what streams under the budget. */
export function residencyText(r: ResidencyInfo): string {
  const all = r.resident.length + r.streamed.length;
  if (r.budget === null) return `No GPU memory budget: all ${all} weight matrices stay in GPU memory.`;
  return r.streamed.length
    ? `Budget ${formatBytes(r.budget)}: ${r.streamed.length} of ${all} weight matrices stream from host memory each token (${formatBytes(r.uploadBytesPerPass)} per token); the Explorer's Residency overlay shows which.`
    : `Budget ${formatBytes(r.budget)}: the whole model fits, all ${all} weight matrices stay in GPU memory.`;
}

/** The id of the model the engine has or is getting (null with none). */
export function engineModelId(s: EngineState): string | null {
  return s.kind === 'ready' ? s.info.modelId : s.kind === 'loading' || s.kind === 'failed' || s.kind === 'lost' ? s.modelId : null;
}

/** The adapter the engine has applied, or will once the load on its way ends (null with none). */
export function engineAdapter(s: EngineState): ChatAdapter | null {
  return s.kind === 'ready' ? s.info.lora : s.kind === 'loading' || s.kind === 'lost' ? chat.requested : null;
}

/** An adapter that could not be applied (gone from the volume, made for another base, a broken file): the model loads without it. */
function adapterProblem(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && (code === 'ADAPTER_NOT_FOUND' || code.startsWith('LORA_') || code.startsWith('GGUF_'));
}

/**
 * Puts model `id` with adapter `wanted` on the engine, unless they are there (or on their way)
 * already. An adapter the model no longer has is said, and the model loads without it; so does
 * one that fails to apply. `kept`: `wanted` is a conversation's or the remembered one.
 */
export function useModel(ctx: ViewContext, models: ModelSummary[], id: string, wanted: ChatAdapter | null, kept: boolean): void {
  const h = engineHost(ctx.api);
  const model = models.find((m) => m.id === id);
  const { adapter, missing } = adapterToLoad(model, wanted, kept);
  chat.adapter = adapter;
  chat.adapterNote = missing ?? '';
  const s = h.state;
  // The open conversation's context length (null: the engine's default for the model).
  const context = chat.contextLength;
  // The GPU memory budget chosen in this browser (empty: none; the whole model stays on the GPU).
  const budget = readGpuMemory();
  const sized = s.kind !== 'ready' || (h.requestedContext === context && h.requestedGpuMemory === budget);
  const there = engineModelId(s) === id && s.kind !== 'failed' && sameAdapter(engineAdapter(s), adapter) && sized;
  if (!there) {
    chat.requested = adapter;
    const withContext = { ...(context === null ? {} : { contextLength: context }), ...(budget === null ? {} : { gpuMemory: budget }) };
    h.load(id, { ...(adapter ? { lora: adapter } : {}), ...withContext }).catch((e: unknown) => {
      if (adapter && chat.requested === adapter && adapterProblem(e)) {
        const name = model?.name ?? id;
        chat.adapter = null;
        chat.requested = null;
        chat.adapterNote = `Could not apply the adapter “${adapter.name}” (${(e as Error).message}), so ${name} is loaded without it.`;
        h.load(id, withContext).catch(() => chat.repaint?.());
      }
      chat.repaint?.(); // any other failure is shown by the state line
    });
  }
  chat.repaint?.();
}
