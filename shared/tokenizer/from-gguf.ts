import { describeType, type GgufMetadata, type GgufValue } from '../gguf/values';
import { TokenizerError } from './errors';
import { Tokenizer } from './tokenizer';
import type { TokenizerSpec } from './types';

/**
 * Reads the `tokenizer.ggml.*` keys of a GGUF file into a {@link TokenizerSpec}. Every key is
 * checked for the type llama.cpp reads it as (a token_type array of floats, a string where a
 * list belongs), and a mismatch is a TOKENIZER_GGUF error naming the file, key and type.
 */
export function tokenizerSpecFromGguf(meta: GgufMetadata, file = '<gguf>'): TokenizerSpec {
  const r = new KeyReader(meta, file);
  const model = r.string('tokenizer.ggml.model', true)!;
  if (model !== 'llama' && model !== 'gpt2' && model !== 'bert') {
    throw new TokenizerError('TOKENIZER_UNSUPPORTED', `${file}: tokenizer.ggml.model = ${JSON.stringify(model)}: not supported (llama, gpt2, bert)`, {
      file,
      field: 'tokenizer.ggml.model',
      value: model,
    });
  }
  const spec: TokenizerSpec = {
    model,
    tokens: r.strings('tokenizer.ggml.tokens', true)!,
  };
  const pre = r.string('tokenizer.ggml.pre');
  if (pre !== undefined) spec.pre = pre;
  const scores = r.float32s('tokenizer.ggml.scores');
  if (scores) spec.scores = scores;
  const tokenTypes = r.int32s('tokenizer.ggml.token_type');
  if (tokenTypes) spec.tokenTypes = tokenTypes;
  const merges = r.strings('tokenizer.ggml.merges');
  if (merges) spec.merges = merges;

  const ids: ['bos' | 'eos' | 'unk' | 'pad' | 'eot' | 'sep', string][] = [
    ['bos', 'tokenizer.ggml.bos_token_id'],
    ['eos', 'tokenizer.ggml.eos_token_id'],
    ['unk', 'tokenizer.ggml.unknown_token_id'],
    ['pad', 'tokenizer.ggml.padding_token_id'],
    ['eot', 'tokenizer.ggml.eot_token_id'],
    // The key is spelled this way in llama.cpp and every GGUF.
    ['sep', 'tokenizer.ggml.seperator_token_id'],
  ];
  for (const [field, key] of ids) {
    const v = r.integer(key);
    if (v !== undefined) spec[field] = v;
  }
  if (model === 'bert' && spec.bos === undefined) {
    // BERT converters write [CLS] here; it is what WordPiece puts first.
    const cls = r.integer('tokenizer.ggml.cls_token_id');
    if (cls !== undefined) spec.bos = cls;
  }
  const flags: ['addBos' | 'addEos' | 'addSep' | 'addSpacePrefix' | 'lowercase' | 'stripAccents', string][] = [
    ['addBos', 'tokenizer.ggml.add_bos_token'],
    ['addEos', 'tokenizer.ggml.add_eos_token'],
    ['addSep', 'tokenizer.ggml.add_sep_token'],
    ['addSpacePrefix', 'tokenizer.ggml.add_space_prefix'],
    ['lowercase', 'tokenizer.ggml.normalizer.lowercase'],
    ['stripAccents', 'tokenizer.ggml.normalizer.strip_accents'],
  ];
  for (const [field, key] of flags) {
    const v = r.bool(key);
    if (v !== undefined) spec[field] = v;
  }
  // llama.cpp sets per-token attributes by model name (Phi-3's special tokens strip what follows).
  // Not a tokenizer key: a name of another type is ignored rather than refused.
  const name = meta.get('general.name');
  if (name?.type === 'string') spec.modelName = name.value;
  return spec;
}

/** Builds the tokenizer a GGUF file describes. */
export function tokenizerFromGguf(meta: GgufMetadata, file = '<gguf>'): Tokenizer {
  return new Tokenizer(tokenizerSpecFromGguf(meta, file));
}

/** The file's `tokenizer.chat_template`, if it has one. */
export function chatTemplateFromGguf(meta: GgufMetadata, file = '<gguf>'): string | undefined {
  return new KeyReader(meta, file).string('tokenizer.chat_template');
}

const INTEGER_TYPES = new Set<string>(['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32']);

class KeyReader {
  constructor(
    private readonly meta: GgufMetadata,
    private readonly file: string,
  ) {}

  private get(key: string, required: boolean): GgufValue | undefined {
    const v = this.meta.get(key);
    if (v === undefined && required) {
      throw new TokenizerError('TOKENIZER_GGUF', `${this.file}: ${key} is missing`, { file: this.file, field: key });
    }
    return v;
  }

  private wrong(key: string, v: GgufValue, want: string): TokenizerError {
    return new TokenizerError('TOKENIZER_GGUF', `${this.file}: ${key} is ${describeType(v)}, expected ${want}`, {
      file: this.file,
      field: key,
      value: describeType(v),
    });
  }

  string(key: string, required = false): string | undefined {
    const v = this.get(key, required);
    if (v === undefined) return undefined;
    if (v.type !== 'string') throw this.wrong(key, v, 'string');
    return v.value;
  }

  bool(key: string): boolean | undefined {
    const v = this.get(key, false);
    if (v === undefined) return undefined;
    if (v.type !== 'bool') throw this.wrong(key, v, 'bool');
    return v.value;
  }

  /** Any integer type; a 64-bit value past 2^53 becomes NaN, which the vocabulary warns about and ignores. */
  integer(key: string): number | undefined {
    const v = this.get(key, false);
    if (v === undefined) return undefined;
    if (v.type === 'uint64' || v.type === 'int64') {
      if (v.value === -1n) return -1;
      return v.value >= 0n && v.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v.value) : NaN;
    }
    if (!INTEGER_TYPES.has(v.type)) throw this.wrong(key, v, 'an integer');
    return v.value as number;
  }

  strings(key: string, required = false): string[] | undefined {
    const v = this.get(key, required);
    if (v === undefined) return undefined;
    if (v.type !== 'array' || v.value.itemType !== 'string') throw this.wrong(key, v, 'array of string');
    return v.value.items;
  }

  float32s(key: string): Float32Array | undefined {
    const v = this.get(key, false);
    if (v === undefined) return undefined;
    if (v.type !== 'array' || v.value.itemType !== 'float32') throw this.wrong(key, v, 'array of float32');
    return v.value.items;
  }

  int32s(key: string): Int32Array | undefined {
    const v = this.get(key, false);
    if (v === undefined) return undefined;
    if (v.type !== 'array' || v.value.itemType !== 'int32') throw this.wrong(key, v, 'array of int32');
    return v.value.items;
  }
}
