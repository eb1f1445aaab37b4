import { z } from 'zod';
import { PxiError } from '../../errors';
import type { ModelHeader, TensorInfo } from '../../engine/tensor-source';
import type { GgmlTypeId } from '../../gguf/ggml-types';
import { decodeMetadata, type MetaEntryJson } from '../../model/metadata-json';
import { IPC_ERRORS } from '../envelope';
import { Bytes } from './common';

/**
 * What the renderer's engine needs of a model stored in the volume: its header (GGUF metadata,
 * tensor table, configuration) once, then byte ranges of tensors, each read from PixelFS tiles
 * whose checksums are verified on the way. The engine itself (shared/engine) runs in a worker
 * of the renderer; these channels are its TensorSource over IPC.
 *
 * Metadata crosses as the manifest's JSON form (shared/model/metadata-json.ts, specs/pxi_llm.md
 * §4.1): integers as numbers, 64-bit integers as decimal strings, NaN/±Infinity/−0 as strings,
 * numeric arrays (vocabulary scores, token types) as little-endian bytes in base64. The schema
 * below checks the envelope of each entry; `decodeEngineHeader` checks every value against its
 * declared type, as it would for a manifest read from disk.
 *
 * Tensor bytes cross as binary (a Uint8Array: structured clone in Electron, a binary frame over
 * the WebSocket), never as text: loading a multi-GB model is bound by reading the tiles, not by
 * encoding them.
 */

export const ENGINE_LIMITS = Object.freeze({
  /** Bytes one engine:read returns at most (the engine uploads in reads of at most 8 MiB). */
  readBytes: 8 * 1024 * 1024,
  /** GGUF tensor names are at most 63 bytes; leave room, refuse absurd ones. */
  tensorName: 256,
  modelRef: 256,
  /** A stored LoRA adapter crosses whole (ranks of 8-64 over the models we run: a few MB to tens). */
  adapterBytes: 256 * 1024 * 1024,
});

const Count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const ModelRef = z.string().min(1).max(ENGINE_LIMITS.modelRef);

const META_TYPES = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'uint64', 'int64', 'float32', 'float64', 'bool', 'string', 'array'] as const;

/** One metadata entry; `value` is checked against `type` by decodeEngineHeader. */
export const EngineMetaEntry = z.strictObject({ key: z.string(), type: z.enum(META_TYPES), value: z.unknown() });

export const EngineTensorInfo = z.strictObject({
  name: z.string().min(1).max(ENGINE_LIMITS.tensorName),
  /** ggml type id (F32 = 0, Q4_K = 12, …). */
  type: Count,
  /** ggml order: dims[0] is the row length. */
  dims: z.array(Count).min(1).max(4),
  elements: Count,
  bytes: Count,
});

/** The model configuration the store derived at import (shared/model/config.ts). */
export const EngineModelConfig = z.strictObject({
  architecture: z.string(),
  name: z.string().nullable(),
  blockCount: Count,
  embeddingLength: Count,
  headCount: Count,
  headCountKv: Count,
  headDim: Count,
  feedForwardLength: Count,
  vocabSize: Count,
  contextLength: Count,
  ropeTheta: z.number(),
  ropeType: z.enum(['normal', 'neox']),
  ropeDimensionCount: Count,
  rmsEps: z.number(),
  tiedOutput: z.boolean(),
  qkvBias: z.boolean(),
  parameterCount: Count,
});

export const EngineHeader = z.strictObject({
  id: z.string(),
  name: z.string(),
  /** sha256 of the imported GGUF file: what the weights are. */
  sourceSha256: z.string(),
  metadata: z.array(EngineMetaEntry),
  tensors: z.array(EngineTensorInfo),
  // Null for a stored GGUF of a family the engine does not run (loading it then says why).
  config: EngineModelConfig.nullable(),
  /** Whether the metadata holds `tokenizer.chat_template` (the UI offers chat only then). */
  hasChatTemplate: z.boolean(),
});
export type EngineHeader = z.output<typeof EngineHeader>;

export const EngineReadRequest = z.strictObject({
  /** Model id or name. */
  model: ModelRef,
  tensor: z.string().min(1).max(ENGINE_LIMITS.tensorName),
  offset: Count,
  length: z.number().int().min(1).max(ENGINE_LIMITS.readBytes),
});

/**
 * The dispatcher checks the answer is bytes within the limit; the renderer checks it again and
 * that it has exactly the length asked for (`checkEngineRead`).
 */
export const EngineReadResponse = z.strictObject({ bytes: Bytes(ENGINE_LIMITS.readBytes) });

/** A stored LoRA adapter's name (`pxi finetune --name`; electron/train/adapters.ts). */
const AdapterName = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'letters, digits, dot, dash and underscore only');

export const engineChannels = {
  /** The bytes of a LoRA adapter stored beside a model (a llama.cpp LoRA GGUF), for the engine to apply. */
  'engine:adapter': { request: z.strictObject({ model: ModelRef, name: AdapterName }), response: z.strictObject({ bytes: Bytes(ENGINE_LIMITS.adapterBytes) }) },
  /** The header of a stored model: what Model.load and the tokenizer read. */
  'engine:header': { request: z.strictObject({ model: ModelRef }), response: EngineHeader },
  /** `length` bytes of `tensor` from `offset` (within the tensor), every tile checksum-verified. */
  'engine:read': { request: EngineReadRequest, response: EngineReadResponse },
} as const;

/** The engine's ModelHeader from an engine:header answer (metadata values checked and decoded). */
export function decodeEngineHeader(h: EngineHeader): ModelHeader {
  const file = `${h.name} (model ${h.id})`;
  const tensors: TensorInfo[] = h.tensors.map((t) => ({ name: t.name, type: t.type as GgmlTypeId, dims: t.dims, elementCount: t.elements, byteSize: t.bytes }));
  return { file, metadata: decodeMetadata(h.metadata as MetaEntryJson[], file), tensors };
}

/**
 * The bytes of an engine:read answer, as the caller checks them: the contract's shape, and
 * exactly the `length` it asked for (the dispatcher does not know the request when it checks
 * the answer's size, only the limit).
 */
export function checkEngineRead(answer: unknown, request: { tensor: string; offset: number; length: number }): Uint8Array {
  const r = EngineReadResponse.safeParse(answer);
  if (!r.success || r.data.bytes.byteLength !== request.length) {
    const what = r.success ? `${r.data.bytes.byteLength} bytes` : r.error.issues.map((i) => `${i.path.join('.') || '(answer)'}: ${i.message}`).join('; ');
    throw new PxiError(IPC_ERRORS.INVALID_RESPONSE, `engine:read of ${request.length} bytes at ${request.offset} of tensor ${JSON.stringify(request.tensor)} was answered with ${what}`, {
      channel: 'engine:read',
      tensor: request.tensor,
    });
  }
  return r.data.bytes;
}
