/**
 * What the engine worker asks the services for over its own port (engine-link.ts): a model's
 * header and stored LoRA adapter when it loads (engine:header, engine:adapter), and a
 * TensorSource whose bytes come as engine:read answers: reads are split into requests of at most
 * ENGINE_LIMITS.readBytes, and every answer must have the length asked for.
 */
import { EngineError } from '../../../shared/engine/errors';
import { checkTensorRange, type ModelHeader, type TensorSource } from '../../../shared/engine/tensor-source';
import { checkEngineRead, ENGINE_LIMITS, type EngineHeader } from '../../../shared/ipc/channels/engine';
import type { PxiApi } from '../../../shared/ipc/client';
import type { LoraToLoad } from './protocol';

/** A load's inputs from the services: the header, then the adapter's bytes when one is asked for. */
export interface LoadInputs {
  header: EngineHeader;
  lora?: LoraToLoad;
}

/**
 * The header of model `model` (id or name), then, with `lora`, the bytes of that adapter stored
 * beside it (asked by the model's id, so a model renamed meanwhile is still the one loaded).
 * `onHeader` hears the header before the adapter is asked for (the page shows the model's name);
 * `aborted` is asked after each answer: once it says so, nothing more is asked and null is returned.
 */
export async function fetchLoadInputs(
  api: PxiApi,
  model: string,
  lora: { name: string; scale: number } | undefined,
  hooks: { onHeader?: (header: EngineHeader) => void; aborted?: () => boolean } = {},
): Promise<LoadInputs | null> {
  const header = await api.call('engine:header', { model });
  if (hooks.aborted?.()) return null;
  hooks.onHeader?.(header);
  if (!lora) return { header };
  const { bytes } = await api.call('engine:adapter', { model: header.id, name: lora.name });
  if (hooks.aborted?.()) return null;
  return { header, lora: { name: lora.name, scale: lora.scale, bytes } };
}

export type RangeReader = (tensor: string, offset: number, length: number) => Promise<Uint8Array>;

/**
 * engine:read of model `model` (its id: a read outlives a load replaced by another one) over
 * `api`, once it is connected; each answer is checked (bytes, exactly the length asked for)
 * whatever the transport.
 */
export function apiRangeReader(api: () => Promise<PxiApi>, model: string): RangeReader {
  return async (tensor, offset, length) => {
    const request = { model, tensor, offset, length };
    return checkEngineRead(await (await api()).call('engine:read', request), request);
  };
}

export function remoteTensorSource(header: ModelHeader, readRange: RangeReader, maxRead: number = ENGINE_LIMITS.readBytes): TensorSource {
  return {
    header,
    async read(name, byteOffset, length) {
      checkTensorRange(header, name, byteOffset, length);
      const fetch = async (offset: number, n: number): Promise<Uint8Array> => {
        const got = await readRange(name, offset, n);
        if (got.length !== n) {
          throw new EngineError('ENGINE_TENSOR_READ', `${header.file}: tensor ${JSON.stringify(name)}: asked for ${n} bytes at ${offset}, got ${got.length}`, {
            file: header.file,
            tensor: name,
          });
        }
        return got;
      };
      if (length <= maxRead) return length === 0 ? new Uint8Array(0) : fetch(byteOffset, length);
      const out = new Uint8Array(length);
      for (let done = 0; done < length; done += maxRead) out.set(await fetch(byteOffset + done, Math.min(maxRead, length - done)), done);
      return out;
    },
  };
}
