/**
 * A trained vocabulary as the things that use it: the GGUF `tokenizer.ggml.*` entries llama.cpp
 * reads, the {@link TokenizerSpec} our tokenizer is built from, and the JSON file
 * `pxi tokenizer train` writes (read back here, checked).
 */
import { z } from 'zod';
import { gv, type GgufValue } from '../gguf/values';
import { TokenType, type TokenizerSpec } from '../tokenizer/types';
import { TokenizerTrainError } from './errors';
import { byteTokenText, FIRST_PIECE_ID, MAX_TRAIN_VOCAB, SPECIAL_TOKENS, TRAINED_TOKENIZER_FORMAT, type TrainedTokenizer } from './train';

/**
 * The `tokenizer.*` GGUF metadata entries of a trained vocabulary, in the order llama.cpp's
 * converter writes them: model `llama`, tokens, scores (float32), token types (int32), the
 * BOS/EOS/unknown ids (uint32), add_bos_token, add_eos_token, add_space_prefix. No chat
 * template and no `tokenizer.ggml.pre` (llama.cpp ignores it for SentencePiece).
 */
export function tokenizerMetadata(t: TrainedTokenizer): [string, GgufValue][] {
  return [
    ['tokenizer.ggml.model', gv.str(t.model)],
    ['tokenizer.ggml.tokens', gv.array('string', [...t.tokens])],
    ['tokenizer.ggml.scores', gv.array('float32', Float32Array.from(t.scores))],
    ['tokenizer.ggml.token_type', gv.array('int32', Int32Array.from(t.tokenTypes))],
    ['tokenizer.ggml.bos_token_id', gv.u32(t.bos)],
    ['tokenizer.ggml.eos_token_id', gv.u32(t.eos)],
    ['tokenizer.ggml.unknown_token_id', gv.u32(t.unk)],
    ['tokenizer.ggml.add_bos_token', gv.bool(t.addBos)],
    ['tokenizer.ggml.add_eos_token', gv.bool(t.addEos)],
    ['tokenizer.ggml.add_space_prefix', gv.bool(t.addSpacePrefix)],
  ];
}

/**
 * A model's metadata with its tokenizer replaced: every `tokenizer.*` key of `metadata` is
 * dropped (a generated model's vocabulary and chat template included) and the trained
 * vocabulary's entries are appended. The other keys keep their order. The model's
 * `<arch>.vocab_size` and embedding rows must match `t.tokens.length`; that is the caller's.
 */
export function withTokenizerMetadata(metadata: Iterable<readonly [string, GgufValue]>, t: TrainedTokenizer): Map<string, GgufValue> {
  const out = new Map<string, GgufValue>();
  for (const [k, v] of metadata) if (!k.startsWith('tokenizer.')) out.set(k, v);
  for (const [k, v] of tokenizerMetadata(t)) out.set(k, v);
  return out;
}

/** The spec our tokenizer (shared/tokenizer) is built from: `new Tokenizer(trainedTokenizerSpec(t))`. */
export function trainedTokenizerSpec(t: TrainedTokenizer): TokenizerSpec {
  return {
    model: 'llama',
    tokens: t.tokens,
    scores: Float32Array.from(t.scores),
    tokenTypes: Int32Array.from(t.tokenTypes),
    bos: t.bos,
    eos: t.eos,
    unk: t.unk,
    addBos: t.addBos,
    addEos: t.addEos,
    addSpacePrefix: t.addSpacePrefix,
  };
}

const Source = z.strictObject({ name: z.string(), bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
const Training = z.looseObject({
  algorithm: z.literal('bpe'),
  vocabSize: z.number().int(),
  characterCoverage: z.number(),
  maxPieceLength: z.number().int(),
  tieBreak: z.string(),
  documents: z.number().int().nonnegative(),
  textBytes: z.number().int().nonnegative(),
  words: z.number().int().nonnegative(),
  uniqueWords: z.number().int().nonnegative(),
  characters: z.number().int().nonnegative(),
  byteFallbackCharacters: z.number().int().nonnegative(),
  pieces: z.number().int().nonnegative(),
  merges: z.number().int().nonnegative(),
  sources: z.array(Source).optional(),
  normalize: z.array(z.string()).optional(),
});
const FileSchema = z.strictObject({
  format: z.literal(TRAINED_TOKENIZER_FORMAT),
  model: z.literal('llama'),
  tokens: z.array(z.string().min(1)).min(FIRST_PIECE_ID).max(MAX_TRAIN_VOCAB),
  scores: z.array(z.number()),
  tokenTypes: z.array(z.number().int()),
  bos: z.number().int(),
  eos: z.number().int(),
  unk: z.number().int(),
  addBos: z.boolean(),
  addEos: z.boolean(),
  addSpacePrefix: z.boolean(),
  training: Training,
});

/**
 * Reads a trained-tokenizer JSON value (the parsed file) and checks it: the format tag, the
 * lengths, the fixed layout of the first 259 tokens, NORMAL types after them, unique texts,
 * scores 0 for the fixed tokens and −1, −2, … after them. TOKENIZER_TRAIN_FILE names what is wrong.
 */
export function parseTrainedTokenizer(value: unknown, file = '<tokenizer.json>'): TrainedTokenizer {
  const bad = (what: string, details: Record<string, unknown> = {}): TokenizerTrainError =>
    new TokenizerTrainError('TOKENIZER_TRAIN_FILE', `${file}: ${what}`, { file, ...details });
  const r = FileSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : '(top level)';
    throw bad(`not a trained tokenizer (${TRAINED_TOKENIZER_FORMAT}): ${where}: ${issue.message}`, { field: where });
  }
  const t = r.data as TrainedTokenizer;
  const n = t.tokens.length;
  if (t.scores.length !== n || t.tokenTypes.length !== n) {
    throw bad(`${n} tokens but ${t.scores.length} scores and ${t.tokenTypes.length} token types`, { field: 'scores' });
  }
  for (let i = 0; i < SPECIAL_TOKENS.length; i++) {
    if (t.tokens[i] !== SPECIAL_TOKENS[i]) throw bad(`tokens[${i}] is ${JSON.stringify(t.tokens[i])}, expected ${JSON.stringify(SPECIAL_TOKENS[i])}`, { field: `tokens.${i}` });
  }
  if (t.unk !== 0 || t.bos !== 1 || t.eos !== 2) throw bad(`unk/bos/eos must be 0/1/2, got ${t.unk}/${t.bos}/${t.eos}`, { field: 'bos' });
  const fixedTypes = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const text = t.tokens[i]!;
    const type = i < 3 ? fixedTypes[i] : i < FIRST_PIECE_ID ? TokenType.BYTE : TokenType.NORMAL;
    if (i >= 3 && i < FIRST_PIECE_ID && text !== byteTokenText(i - 3)) throw bad(`tokens[${i}] is ${JSON.stringify(text)}, expected ${byteTokenText(i - 3)}`, { field: `tokens.${i}` });
    if (t.tokenTypes[i] !== type) throw bad(`tokenTypes[${i}] is ${t.tokenTypes[i]}, expected ${type}`, { field: `tokenTypes.${i}` });
    if (seen.has(text)) throw bad(`tokens[${i}] ${JSON.stringify(text)} appears twice`, { field: `tokens.${i}` });
    seen.add(text);
    const s = t.scores[i]!;
    const want = i < FIRST_PIECE_ID ? 0 : FIRST_PIECE_ID - 1 - i;
    if (s !== want) throw bad(`scores[${i}] is ${s}, expected ${want}`, { field: `scores.${i}` });
  }
  return t;
}

/** The JSON text of a trained tokenizer: stable key order, one token per line for readable diffs. */
export function serializeTrainedTokenizer(t: TrainedTokenizer): string {
  const list = (a: readonly (string | number)[]) => `[\n${a.map((x) => `    ${JSON.stringify(x)}`).join(',\n')}\n  ]`;
  const head = {
    format: t.format,
    model: t.model,
    bos: t.bos,
    eos: t.eos,
    unk: t.unk,
    addBos: t.addBos,
    addEos: t.addEos,
    addSpacePrefix: t.addSpacePrefix,
    training: t.training,
  };
  const headJson = JSON.stringify(head, null, 2).slice(0, -2); // without the closing "\n}"
  return `${headJson},\n  "tokens": ${list(t.tokens)},\n  "scores": ${list(t.scores)},\n  "tokenTypes": ${list(t.tokenTypes)}\n}\n`;
}
