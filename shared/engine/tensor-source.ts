/**
 * Where the engine gets a model from: its header (metadata and tensor list) and the raw bytes of
 * any range of a tensor, in the tensor's GGUF block layout. A GGUF file (through a ByteSource)
 * implements it here; PixelFS (tiles of pixels) implements the same interface, so the engine
 * never knows which one it reads.
 */
import type { ByteSource } from '../binary/byte-source';
import { findGgmlType, readGgufHeader, type GgufHeader, type GgufMetadata, type GgufTensorInfo } from '../gguf';
import { EngineError } from './errors';

/** One tensor as the engine sees it: the GGUF tensor info without its file offsets. */
export type TensorInfo = Pick<GgufTensorInfo, 'name' | 'dims' | 'type' | 'elementCount' | 'byteSize'>;

export interface ModelHeader {
  /** Names the model in messages (a file path, a PixelFS model id). */
  readonly file: string;
  readonly metadata: GgufMetadata;
  readonly tensors: readonly TensorInfo[];
}

export interface TensorSource {
  readonly header: ModelHeader;
  /**
   * Exactly `length` bytes of tensor `name` starting `byteOffset` bytes into its data. The result
   * may be a view the source reuses; callers copy what they keep.
   */
  read(name: string, byteOffset: number, length: number): Promise<Uint8Array>;
}

/** The ggml type name of a tensor ("F32", "Q4_K"); "type <id>" for ids we do not know. */
export function tensorTypeName(t: Pick<TensorInfo, 'type'>): string {
  return findGgmlType(t.type)?.name ?? `type ${t.type}`;
}

/** Checks a read against the tensor's size; the message names the source, the tensor and the range. */
export function checkTensorRange(header: ModelHeader, name: string, byteOffset: number, length: number): TensorInfo {
  const t = header.tensors.find((x) => x.name === name);
  if (!t) throw new EngineError('ENGINE_TENSOR_READ', `${header.file}: no tensor named ${JSON.stringify(name)}`, { file: header.file, tensor: name });
  if (!Number.isSafeInteger(byteOffset) || !Number.isSafeInteger(length) || byteOffset < 0 || length < 0 || byteOffset + length > t.byteSize) {
    throw new EngineError(
      'ENGINE_TENSOR_READ',
      `${header.file}: read of ${length} bytes at ${byteOffset} lies outside tensor ${JSON.stringify(name)} (${t.byteSize} bytes)`,
      { file: header.file, tensor: name, byteOffset, length, byteSize: t.byteSize },
    );
  }
  return t;
}

/** A TensorSource over a GGUF file whose header was already read. */
export function ggufTensorSource(src: ByteSource, gguf: GgufHeader): TensorSource {
  const offsets = new Map(gguf.tensors.map((t) => [t.name, t.offset] as const));
  const header: ModelHeader = { file: gguf.file, metadata: gguf.metadata, tensors: gguf.tensors };
  return {
    header,
    async read(name, byteOffset, length) {
      checkTensorRange(header, name, byteOffset, length);
      if (length === 0) return new Uint8Array(0);
      const got = await src.read(offsets.get(name)! + byteOffset, length);
      if (got.length !== length) {
        throw new EngineError('ENGINE_TENSOR_READ', `${header.file}: tensor ${JSON.stringify(name)}: asked for ${length} bytes, the source returned ${got.length}`, {
          file: header.file,
          tensor: name,
        });
      }
      return got;
    },
  };
}

/** Reads the GGUF header through `src` and returns a TensorSource over it. */
export async function openGgufTensorSource(src: ByteSource, name = '<gguf>'): Promise<TensorSource> {
  return ggufTensorSource(src, await readGgufHeader(src, { name }));
}
