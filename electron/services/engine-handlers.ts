/**
 * The engine channels (shared/ipc/channels/engine.ts): the renderer's engine reads a stored
 * model through them, the header once and then tensor ranges of at most 8 MiB, each served
 * from PixelFS tiles whose checksums are verified on the way; a LoRA adapter stored beside the
 * model (pxi finetune) whole.
 */
import { checkTensorRange, type ModelHeader } from '../../shared/engine/tensor-source';
import { ownedBytes } from '../../shared/ipc/channels/common';
import type { EngineHeader, engineChannels } from '../../shared/ipc/channels/engine';
import type { Handlers } from '../../shared/ipc/dispatch';
import { manifestTensorInfos, storedModelLabel } from '../engine/pixel-source';
import type { ModelStore } from '../models/store';
import { readAdapter } from '../train/adapters';
import { PxiError } from '../../shared/errors';

export type EngineChannel = keyof typeof engineChannels;
export type EngineHandlers = Pick<Handlers, EngineChannel>;

interface Cached {
  /** The engine:header answer (the manifest's metadata is already in the wire form). */
  header: EngineHeader;
  /** For range checks: the tensor table (no metadata needed). */
  table: ModelHeader;
}

/** A few models' headers per store: a Qwen vocabulary makes one several MB, parsed once. */
const CACHE_SIZE = 4;
const caches = new WeakMap<ModelStore, Map<string, Cached>>();

function cached(store: ModelStore, ref: string): Cached {
  // The row lookup is cheap and fails with MODEL_NOT_FOUND for a removed model, cache or not.
  const id = store.get(ref).id;
  let byId = caches.get(store);
  if (!byId) caches.set(store, (byId = new Map()));
  let c = byId.get(id);
  if (!c) {
    const m = store.manifest(id);
    const tensors = manifestTensorInfos(m);
    c = {
      header: {
        id: m.id,
        name: m.name,
        sourceSha256: m.source.sha256,
        metadata: [...m.metadata],
        tensors: m.tensors.map((t) => ({ name: t.name, type: t.typeId, dims: [...t.dims], elements: t.elements, bytes: t.bytes })),
        config: m.config ? { ...m.config } : null,
        hasChatTemplate: m.metadata.some((e) => e.key === 'tokenizer.chat_template' && e.type === 'string'),
      },
      table: { file: storedModelLabel(m), metadata: new Map(), tensors },
    };
    if (byId.size >= CACHE_SIZE) byId.delete(byId.keys().next().value!);
    byId.set(id, c);
  }
  return c;
}

export function engineHandlers(store: () => Promise<ModelStore>): EngineHandlers {
  return {
    'engine:header': async ({ model }) => cached(await store(), model).header,
    'engine:adapter': async ({ model, name }) => {
      const s = await store();
      const id = s.get(model).id;
      const bytes = await readAdapter(s.volume, id, name);
      if (!bytes) throw new PxiError('ADAPTER_NOT_FOUND', `model ${model} has no stored adapter named ${name}`, { model, name });
      return { bytes: ownedBytes(bytes) };
    },
    'engine:read': async ({ model, tensor, offset, length }) => {
      const s = await store();
      const c = cached(s, model);
      // ENGINE_TENSOR_READ naming the model, the tensor and the range, before any tile is read.
      checkTensorRange(c.table, tensor, offset, length);
      const bytes = await s.readTensor(c.header.id, tensor, offset, length);
      // A plain Uint8Array owning its buffer: a small read is a view of Buffer's pool, which
      // structured clone (Electron IPC) would otherwise send whole.
      return { bytes: ownedBytes(bytes) };
    },
  };
}
