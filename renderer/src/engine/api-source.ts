/**
 * A TensorSource whose bytes come from elsewhere (engine:read over the engine worker's own
 * port to the services, engine-link.ts): reads are split into requests of at most
 * ENGINE_LIMITS.readBytes, and every answer must have the length asked for.
 */
import { EngineError } from '../../../shared/engine/errors';
import { checkTensorRange, type ModelHeader, type TensorSource } from '../../../shared/engine/tensor-source';
import { checkEngineRead, ENGINE_LIMITS } from '../../../shared/ipc/channels/engine';
import type { PxiApi } from '../../../shared/ipc/client';

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
