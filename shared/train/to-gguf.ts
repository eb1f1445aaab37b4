/**
 * A trained model as a GGUF file llama.cpp loads: the architecture's metadata as its converter
 * writes it, the tokenizer the model was trained with, and every parameter as F32.
 */
import { writeGgufBytes } from '../gguf/writer';
import { gv, type GgufValue } from '../gguf/values';
import { GgmlType } from '../gguf/ggml-types';
import { headDim, paramSpecs, type TrainModelConfig } from './config';
import { TrainError } from './errors';

export interface TrainedModelInfo {
  name: string;
  description: string;
  /** Extra `pxi.train.*` keys (recipe, step, losses) for provenance. */
  extra?: (readonly [string, GgufValue])[];
}

export function trainedModelGguf(
  cfg: TrainModelConfig,
  params: ReadonlyMap<string, Float32Array>,
  tokenizer: Iterable<readonly [string, GgufValue]>,
  info: TrainedModelInfo,
): Uint8Array {
  const a = cfg.arch;
  const meta: (readonly [string, GgufValue])[] = [
    ['general.architecture', gv.str(a)],
    ['general.type', gv.str('model')],
    ['general.name', gv.str(info.name)],
    ['general.description', gv.str(info.description)],
    [`${a}.block_count`, gv.u32(cfg.layers)],
    [`${a}.context_length`, gv.u32(cfg.context)],
    [`${a}.embedding_length`, gv.u32(cfg.dim)],
    [`${a}.feed_forward_length`, gv.u32(cfg.ff)],
    [`${a}.attention.head_count`, gv.u32(cfg.heads)],
    [`${a}.attention.head_count_kv`, gv.u32(cfg.kvHeads)],
    [`${a}.rope.freq_base`, gv.f32(cfg.ropeTheta)],
    [`${a}.attention.layer_norm_rms_epsilon`, gv.f32(cfg.rmsEps)],
    [`${a}.rope.dimension_count`, gv.u32(headDim(cfg))],
    [`${a}.vocab_size`, gv.u32(cfg.vocab)],
    ['general.file_type', gv.u32(0)], // ALL_F32
    ...(info.extra ?? []),
    ...tokenizer,
  ];
  const tensors = paramSpecs(cfg).map((s) => {
    const v = params.get(s.name);
    if (!v || v.length !== s.size) throw new TrainError('TRAIN_CHECKPOINT', `parameter ${s.name}: expected ${s.size} values, got ${v ? v.length : 'none'}`, { tensor: s.name });
    // GGUF dims are ggml's ne: the row length first.
    return { name: s.name, dims: [...s.shape].reverse(), type: GgmlType.F32, data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
  });
  return writeGgufBytes(meta, tensors, { name: `${info.name}.gguf` });
}
