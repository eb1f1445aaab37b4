/**
 * The model configuration of a GGUF of one of the architectures we run (llama and its
 * Mistral / SmolLM / Llama 3 variants, qwen2, qwen3, phi3, gemma2, gemma3): the hyperparameters
 * the engine and the explorer need, read from the metadata and cross-checked against the tensor
 * shapes, as llama.cpp's loader does. What differs between the families beyond the shared
 * shape (norms, fused projections, soft-capping, sliding windows, RoPE variants) is the
 * `ModelArchSpec` of arch.ts. A GGUF that parses but is not a model we can run (another
 * architecture, a missing key, a head count that does not divide, a tensor of the wrong shape)
 * is refused here with the key or tensor named, before anything is stored.
 */
import { kvField } from '../gguf/errors';
import type { GgufTensorInfo } from '../gguf/reader';
import type { GgufMetadata, GgufValue } from '../gguf/values';
import { ModelError, type ModelErrorCode } from './errors';

export const SUPPORTED_ARCHITECTURES = ['llama', 'qwen2', 'qwen3', 'phi3', 'gemma2', 'gemma3'] as const;
export type ModelArchitecture = (typeof SUPPORTED_ARCHITECTURES)[number];

/**
 * How RoPE pairs dimensions: `normal` rotates adjacent pairs (2i, 2i+1) (llama), `neox` rotates
 * (i, i + d/2) (qwen2, qwen3, phi3, gemma). llama.cpp fixes it per architecture; GGUF does not
 * store it.
 */
export type RopeType = 'normal' | 'neox';

export interface ModelConfig {
  readonly architecture: ModelArchitecture;
  /** `general.name`, when present. */
  readonly name: string | null;
  readonly blockCount: number;
  readonly embeddingLength: number;
  readonly headCount: number;
  readonly headCountKv: number;
  /** Per-head size of q and k: `attention.key_length`, or embedding / heads. */
  readonly headDim: number;
  readonly feedForwardLength: number;
  /** Rows of token_embd.weight (equals the tokenizer's token count when the file has one). */
  readonly vocabSize: number;
  readonly contextLength: number;
  /** `rope.freq_base`; 10000 when absent (llama.cpp's default). */
  readonly ropeTheta: number;
  readonly ropeType: RopeType;
  /** Dimensions RoPE rotates: `rope.dimension_count`, or headDim. */
  readonly ropeDimensionCount: number;
  readonly rmsEps: number;
  /** No output.weight: the logits use token_embd.weight. */
  readonly tiedOutput: boolean;
  /** q/k/v projections carry biases (qwen2 always; llama when the file has them). */
  readonly qkvBias: boolean;
  /** Elements of every tensor in the file. */
  readonly parameterCount: number;
}

/** Fixed caps: a count above them is a hostile or broken file, not a model (cf. llama.cpp's LLAMA_MAX_LAYERS). */
export const CONFIG_CAPS = {
  blockCount: 512,
  embeddingLength: 1 << 17,
  headCount: 1024,
  headDim: 4096,
  feedForwardLength: 1 << 20,
  contextLength: 1 << 24,
} as const;

export const DEFAULT_ROPE_THETA = 10000;

const ROPE_TYPE: Readonly<Record<ModelArchitecture, RopeType>> = { llama: 'normal', qwen2: 'neox', qwen3: 'neox', phi3: 'neox', gemma2: 'neox', gemma3: 'neox' };

export function isSupportedArchitecture(a: string): a is ModelArchitecture {
  return (SUPPORTED_ARCHITECTURES as readonly string[]).includes(a);
}

export interface ConfigSource {
  readonly file: string;
  readonly metadata: GgufMetadata;
  readonly tensors: readonly Pick<GgufTensorInfo, 'name' | 'dims' | 'elementCount'>[];
}

const INT_TYPES = new Set(['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'uint64', 'int64']);

export class MetadataReader {
  constructor(private readonly src: ConfigSource) {}

  fail(code: ModelErrorCode, field: string, value: unknown, what: string): never {
    throw new ModelError(code, { file: this.src.file, field }, value, what);
  }

  has(key: string): boolean {
    return this.src.metadata.has(key);
  }

  private value(key: string): GgufValue | undefined {
    return this.src.metadata.get(key);
  }

  /**
   * An integer hyperparameter. Converters write these as uint32 almost always, but any integer
   * type holding a value in range is accepted (explicitly, by range check); floats, strings and
   * arrays are refused.
   */
  int(key: string, min: number, max: number, fallback?: number): number {
    const v = this.value(key);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      return this.fail('MODEL_BAD_HPARAM', kvField(key), 'missing', 'required hyperparameter is absent');
    }
    if (!INT_TYPES.has(v.type)) return this.fail('MODEL_BAD_HPARAM', kvField(key), v.type, 'expected an integer value');
    const n = typeof v.value === 'bigint' ? (v.value >= -(1n << 53n) && v.value <= 1n << 53n ? Number(v.value) : NaN) : (v.value as number);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      return this.fail('MODEL_BAD_HPARAM', kvField(key), v.value, `must be an integer from ${min} to ${max}`);
    }
    return n;
  }

  float(key: string, check: (x: number) => boolean, rule: string, fallback?: number): number {
    const v = this.value(key);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      return this.fail('MODEL_BAD_HPARAM', kvField(key), 'missing', 'required hyperparameter is absent');
    }
    if (v.type !== 'float32' && v.type !== 'float64') return this.fail('MODEL_BAD_HPARAM', kvField(key), v.type, 'expected a float32 or float64 value');
    if (!check(v.value)) return this.fail('MODEL_BAD_HPARAM', kvField(key), v.value, rule);
    return v.value;
  }

  string(key: string): string | undefined {
    const v = this.value(key);
    if (v === undefined) return undefined;
    if (v.type !== 'string') return this.fail('MODEL_BAD_HPARAM', kvField(key), v.type, 'expected a string');
    return v.value;
  }
}

/** Dims with trailing 1s dropped (a writer may store a vector as [n, 1]). */
function squeeze(dims: readonly number[]): number[] {
  const d = [...dims];
  while (d.length > 1 && d[d.length - 1] === 1) d.pop();
  return d;
}

function tensorField(name: string): string {
  return `tensor[${JSON.stringify(name)}]`;
}

/**
 * Reads and checks the configuration of a llama / qwen2 model. `src` is a parsed GGUF header
 * (or anything with its file name, metadata and tensor list).
 */
export function modelConfigFromGguf(src: ConfigSource): ModelConfig {
  const r: MetadataReader = new MetadataReader(src); // annotated: lets `r.fail` (never) narrow types
  const archValue = r.string('general.architecture');
  if (archValue === undefined) r.fail('MODEL_UNSUPPORTED_ARCH', kvField('general.architecture'), 'missing', 'the file names no architecture (a vocabulary-only or non-model GGUF)');
  if (!isSupportedArchitecture(archValue)) {
    r.fail('MODEL_UNSUPPORTED_ARCH', kvField('general.architecture'), archValue, `supported architectures are ${SUPPORTED_ARCHITECTURES.join(', ')}`);
  }
  const arch: ModelArchitecture = archValue;
  const k = (suffix: string): string => `${arch}.${suffix}`;

  const blockCount = r.int(k('block_count'), 1, CONFIG_CAPS.blockCount);
  const embd = r.int(k('embedding_length'), 1, CONFIG_CAPS.embeddingLength);
  const ffn = r.int(k('feed_forward_length'), 1, CONFIG_CAPS.feedForwardLength);
  const heads = r.int(k('attention.head_count'), 1, CONFIG_CAPS.headCount);
  const kvHeads = r.int(k('attention.head_count_kv'), 1, heads, heads);
  if (heads % kvHeads !== 0) r.fail('MODEL_BAD_HPARAM', kvField(k('attention.head_count_kv')), kvHeads, `must divide attention.head_count (${heads})`);
  let headDim: number;
  if (src.metadata.has(k('attention.key_length'))) {
    headDim = r.int(k('attention.key_length'), 1, CONFIG_CAPS.headDim);
  } else {
    if (embd % heads !== 0) r.fail('MODEL_BAD_HPARAM', kvField(k('attention.head_count')), heads, `must divide embedding_length (${embd}) when attention.key_length is absent`);
    headDim = embd / heads;
    if (headDim > CONFIG_CAPS.headDim) r.fail('MODEL_BAD_HPARAM', kvField(k('attention.head_count')), heads, `head size ${headDim} exceeds ${CONFIG_CAPS.headDim}`);
  }
  // One head size serves K and V in our cache: a file whose values are another size is refused.
  const valueLength = r.int(k('attention.value_length'), 1, CONFIG_CAPS.headDim, headDim);
  if (valueLength !== headDim) r.fail('MODEL_BAD_HPARAM', kvField(k('attention.value_length')), valueLength, `differs from the key length ${headDim}; only equal sizes are supported`);
  const ropeDim = r.int(k('rope.dimension_count'), 2, headDim, headDim);
  if (ropeDim % 2 !== 0) r.fail('MODEL_BAD_HPARAM', kvField(k('rope.dimension_count')), ropeDim, 'RoPE rotates pairs: must be even');
  const contextLength = r.int(k('context_length'), 1, CONFIG_CAPS.contextLength);
  const ropeTheta = r.float(k('rope.freq_base'), (x) => Number.isFinite(x) && x > 0, 'must be a positive finite number', DEFAULT_ROPE_THETA);
  const rmsEps = r.float(k('attention.layer_norm_rms_epsilon'), (x) => x > 0 && x < 1, 'must be in (0, 1)');

  // Tensor shapes, as llama.cpp's loader checks them.
  const byName = new Map(src.tensors.map((t) => [t.name, t] as const));
  const want = (name: string, dims: readonly number[], required = true): boolean => {
    const t = byName.get(name);
    if (!t) {
      if (required) r.fail('MODEL_TENSOR_MISSING', tensorField(name), 'missing', `${arch} needs this tensor`);
      return false;
    }
    const got = squeeze(t.dims);
    if (got.length !== dims.length || got.some((d, i) => d !== dims[i])) {
      r.fail('MODEL_TENSOR_SHAPE', `${tensorField(name)}.dims`, `[${t.dims.join(', ')}]`, `expected [${dims.join(', ')}] from the hyperparameters`);
    }
    return true;
  };
  const embdTensor = byName.get('token_embd.weight');
  if (!embdTensor) r.fail('MODEL_TENSOR_MISSING', tensorField('token_embd.weight'), 'missing', `${arch} needs this tensor`);
  const vocab = squeeze(embdTensor.dims)[1] ?? 1;
  want('token_embd.weight', [embd, vocab]);
  const tokens = src.metadata.get('tokenizer.ggml.tokens');
  if (tokens?.type === 'array' && tokens.value.items.length !== vocab) {
    r.fail('MODEL_TENSOR_SHAPE', `${tensorField('token_embd.weight')}.dims[1]`, vocab, `the tokenizer has ${tokens.value.items.length} tokens; llama.cpp needs one embedding row per token`);
  }
  if (src.metadata.has(k('vocab_size'))) {
    const declared = r.int(k('vocab_size'), 1, 1 << 24);
    if (declared !== vocab) r.fail('MODEL_BAD_HPARAM', kvField(k('vocab_size')), declared, `token_embd.weight has ${vocab} rows`);
  }
  want('output_norm.weight', [embd]);
  const tiedOutput = !want('output.weight', [embd, vocab], false);
  const qDim = heads * headDim;
  const kvDim = kvHeads * headDim;
  const qkvBias = byName.has('blk.0.attn_q.bias');
  for (let b = 0; b < blockCount; b++) {
    const p = `blk.${b}.`;
    want(`${p}attn_norm.weight`, [embd]);
    if (arch === 'phi3' && byName.has(`${p}attn_qkv.weight`)) {
      // Phi-3 files fuse q, k and v into one matrix, rows in that order.
      want(`${p}attn_qkv.weight`, [embd, qDim + 2 * kvDim]);
    } else {
      want(`${p}attn_q.weight`, [embd, qDim]);
      want(`${p}attn_k.weight`, [embd, kvDim]);
      want(`${p}attn_v.weight`, [embd, kvDim]);
    }
    want(`${p}attn_output.weight`, [qDim, embd]);
    // qwen2 always has q/k/v biases; llama may (llama.cpp loads them when present).
    const needBias = arch === 'qwen2' || (arch === 'llama' && qkvBias);
    want(`${p}attn_q.bias`, [qDim], needBias);
    want(`${p}attn_k.bias`, [kvDim], needBias);
    want(`${p}attn_v.bias`, [kvDim], needBias);
    if (arch === 'qwen3' || arch === 'gemma3') {
      want(`${p}attn_q_norm.weight`, [headDim]);
      want(`${p}attn_k_norm.weight`, [headDim]);
    }
    if (arch === 'gemma2' || arch === 'gemma3') {
      want(`${p}post_attention_norm.weight`, [embd]);
      want(`${p}post_ffw_norm.weight`, [embd]);
    }
    want(`${p}ffn_norm.weight`, [embd]);
    if (arch === 'phi3') {
      // Gate and up fused: rows [0, ff) are the gate, [ff, 2 ff) the up projection.
      want(`${p}ffn_up.weight`, [embd, 2 * ffn]);
    } else {
      want(`${p}ffn_gate.weight`, [embd, ffn]);
      want(`${p}ffn_up.weight`, [embd, ffn]);
    }
    want(`${p}ffn_down.weight`, [ffn, embd]);
  }
  if (byName.has(`blk.${blockCount}.attn_norm.weight`)) {
    r.fail('MODEL_BAD_HPARAM', kvField(k('block_count')), blockCount, `the file has tensors for block ${blockCount} and beyond`);
  }

  let parameterCount = 0;
  for (const t of src.tensors) parameterCount += t.elementCount;
  return {
    architecture: arch,
    name: r.string('general.name') ?? null,
    blockCount,
    embeddingLength: embd,
    headCount: heads,
    headCountKv: kvHeads,
    headDim,
    feedForwardLength: ffn,
    vocabSize: vocab,
    contextLength,
    ropeTheta,
    ropeType: ROPE_TYPE[arch],
    ropeDimensionCount: ropeDim,
    rmsEps,
    tiedOutput,
    qkvBias: arch === 'qwen2' || (arch === 'llama' && qkvBias),
    parameterCount,
  };
}
