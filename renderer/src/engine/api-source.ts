/**
 * A TensorSource whose bytes come from elsewhere (the main thread's IPC API, seen from the
 * engine worker): reads are split into requests of at most ENGINE_LIMITS.readBytes, and every
 * answer must have the length asked for.
 */
import { EngineError } from '../../../shared/engine/errors';
import { checkTensorRange, type ModelHeader, type TensorSource } from '../../../shared/engine/tensor-source';
import { ENGINE_LIMITS } from '../../../shared/ipc/channels/engine';

export type RangeReader = (tensor: string, offset: number, length: number) => Promise<Uint8Array>;

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
