/**
 * The engine's TensorSource over a model imported into a PixelFS volume (specs/pxi_llm.md): the
 * header comes from the manifest (GGUF metadata entries with their exact types, the tensor
 * table), the bytes from the tensor's PixelFS file, every tile's sha256 checked as it is read.
 * Model.load cannot tell it from a GGUF file: same header, same bytes, same block layout.
 */
import { EngineError } from '../../shared/engine/errors';
import { checkTensorRange, type ModelHeader, type TensorInfo, type TensorSource } from '../../shared/engine/tensor-source';
import type { GgmlTypeId } from '../../shared/gguf/ggml-types';
import type { ModelManifest } from '../../shared/model/manifest';
import { decodeMetadata } from '../../shared/model/metadata-json';
import type { ModelStore } from '../models/store';
import { openModelFromSource, type NodeModel, type OpenNodeModelOptions } from './index';

/** The tensor table of a manifest as the engine sees it. */
export function manifestTensorInfos(m: Pick<ModelManifest, 'tensors'>): TensorInfo[] {
  return m.tensors.map((t) => ({ name: t.name, type: t.typeId as GgmlTypeId, dims: t.dims, elementCount: t.elements, byteSize: t.bytes }));
}

/** How a stored model is named in engine messages. */
export function storedModelLabel(m: Pick<ModelManifest, 'id' | 'name'>): string {
  return `${m.name} (model ${m.id})`;
}

export interface PixelTensorSource extends TensorSource {
  readonly manifest: ModelManifest;
}

/**
 * A TensorSource over model `ref` (id or name) of `store`. The store must stay open while the
 * source is used; a removed model makes reads fail with the store's MODEL_NOT_FOUND.
 */
export function pixelTensorSource(store: ModelStore, ref: string): PixelTensorSource {
  const manifest = store.manifest(ref);
  const file = storedModelLabel(manifest);
  const header: ModelHeader = { file, metadata: decodeMetadata(manifest.metadata, file), tensors: manifestTensorInfos(manifest) };
  return {
    header,
    manifest,
    async read(name, byteOffset, length) {
      checkTensorRange(header, name, byteOffset, length);
      if (length === 0) return new Uint8Array(0);
      const got = await store.readTensor(manifest.id, name, byteOffset, length);
      if (got.length !== length) {
        throw new EngineError('ENGINE_TENSOR_READ', `${file}: tensor ${JSON.stringify(name)}: asked for ${length} bytes at ${byteOffset}, the volume returned ${got.length}`, {
          file,
          tensor: name,
        });
      }
      return got;
    },
  };
}

/**
 * `openNodeModel` for a stored model: the same NodeModel, its weights read from pixels. The
 * store is the caller's (it stays open; close() frees the model and the device only).
 */
export async function openPixelModel(store: ModelStore, ref: string, opts: OpenNodeModelOptions = {}): Promise<NodeModel> {
  const t0 = performance.now();
  // The store stays open for its owner; closing the model releases only the GPU side.
  return openModelFromSource(pixelTensorSource(store, ref), opts, undefined, t0);
}
