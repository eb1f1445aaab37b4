/**
 * Writes a LoRA adapter as llama.cpp reads one: general.architecture copied from the base,
 * general.type = "adapter", adapter.type = "lora", adapter.lora.alpha, and per adapted matrix
 * `<target>.lora_a` (GGUF dims [in, r]: A row-major [r, in]) and `<target>.lora_b` (dims [r, out]:
 * B row-major [out, r]), F32 or F16. Used by the generator of test adapters and by fine-tuning.
 */
import type { ModelHeader } from '../engine/tensor-source';
import { GgmlType, gv, writeGgufBytes, type GgufValue } from '../gguf';
import { f32ToF16 } from '../quant';
import { LORA_A_SUFFIX, LORA_B_SUFFIX } from './adapter';
import { LoraError } from './errors';

export interface LoraPairValues {
  /** The base matrix adapted, e.g. `blk.0.attn_q.weight`. */
  readonly target: string;
  readonly inDim: number;
  readonly outDim: number;
  /** A, row-major [rank, inDim]. */
  readonly a: Float32Array;
  /** B, row-major [outDim, rank]. */
  readonly b: Float32Array;
}

export interface LoraWriteOptions {
  readonly base: ModelHeader;
  readonly rank: number;
  readonly alpha: number;
  readonly pairs: readonly LoraPairValues[];
  readonly type?: 'F32' | 'F16';
  /** general.name. */
  readonly title: string;
  /** Extra metadata entries (provenance). */
  readonly extra?: readonly [string, GgufValue][];
  /** Names the output in errors. */
  readonly name?: string;
}

function f32Bytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

function f16Bytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(i * 2, f32ToF16(values[i]!), true);
  return out;
}

export function writeLoraAdapterBytes(o: LoraWriteOptions): Uint8Array {
  const file = o.name ?? '<lora adapter>';
  const type = o.type ?? 'F32';
  const archValue = o.base.metadata.get('general.architecture');
  if (archValue?.type !== 'string') throw new LoraError('LORA_BAD_OPTION', { file, field: 'base' }, o.base.file, 'the base model names no general.architecture');
  const encode = type === 'F32' ? f32Bytes : f16Bytes;
  const ggmlType = type === 'F32' ? GgmlType.F32 : GgmlType.F16;
  const tensors = o.pairs.flatMap((p) => {
    if (p.a.length !== o.rank * p.inDim || p.b.length !== p.outDim * o.rank) {
      throw new LoraError('LORA_BAD_OPTION', { file, field: p.target }, `${p.a.length}/${p.b.length} values`, `expected A of ${o.rank}×${p.inDim} and B of ${p.outDim}×${o.rank}`);
    }
    return [
      { name: p.target + LORA_A_SUFFIX, dims: [p.inDim, o.rank], type: ggmlType, data: encode(p.a) },
      { name: p.target + LORA_B_SUFFIX, dims: [o.rank, p.outDim], type: ggmlType, data: encode(p.b) },
    ];
  });
  const metadata: [string, GgufValue][] = [
    ['general.architecture', gv.str(archValue!.value as string)],
    ['general.type', gv.str('adapter')],
    ['general.name', gv.str(o.title)],
    ['adapter.type', gv.str('lora')],
    ['adapter.lora.alpha', gv.f32(o.alpha)],
    ...(o.extra ?? []),
  ];
  return writeGgufBytes(metadata, tensors, { name: file });
}
