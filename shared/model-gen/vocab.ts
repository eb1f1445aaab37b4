/**
 * Tokenizer vocabularies made by the project, in the form llama.cpp reads from GGUF metadata.
 *
 * Both kinds are learned by byte-pair encoding from VOCAB_CORPUS (most frequent adjacent pair
 * first; ties broken by the pair's text, so the result is deterministic). When the corpus has no
 * pairs left before the vocabulary is full, the rest is filled with synthetic merges: two existing
 * pieces drawn by a fixed-seed PRNG (shorter, earlier pieces more often), joined if the result is
 * new and at most MAX_PIECE characters long. Every piece is thus the join of two earlier pieces,
 * so both tokenizers can reach it by merging.
 *
 * - SentencePiece (`llama`): `<unk>` `<s>` `</s>`, the 256 byte tokens `<0x00>`..`<0xFF>`, the
 *   corpus characters, then the merged pieces with scores −1, −2, … in merge order (llama.cpp's
 *   SPM merges the highest score first, so earlier merges win, as in BPE). Pieces never hold U+2581
 *   except at their start, as real SentencePiece pieces split at word starts.
 * - byte-level BPE (`gpt2`, pre-tokenizer `qwen2`): the 256 byte symbols of GPT-2's byte table,
 *   the merged tokens with their merges learned on the qwen2 pre-tokenizer's words, then the
 *   control tokens `<|endoftext|>` `<|im_start|>` `<|im_end|>`, then unused `[PADn]` tokens up to
 *   the embedding rows (as converters pad Qwen's list).
 */
import { gv, type GgufValue } from '../gguf/values';
import { byteToUnicode, preTokenize } from '../tokenizer/bpe';
import { TokenType } from '../tokenizer/types';
import { VOCAB_CORPUS } from './corpus';
import { ModelGenError } from './errors';
import { Xoshiro128 } from './prng';

export interface GeneratedVocab {
  readonly model: 'llama' | 'gpt2';
  readonly pre?: string;
  readonly tokens: readonly string[];
  readonly scores?: Float32Array;
  readonly tokenTypes: Int32Array;
  readonly merges?: readonly string[];
  readonly bos: number;
  readonly eos: number;
  readonly unk?: number;
  readonly pad?: number;
  readonly addBos: boolean;
  readonly chatTemplate: string;
}

/** Longest piece (UTF-16 units) a synthetic merge may make. */
export const MAX_PIECE = 16;
const SPACE = '\u2581';
/** Seed of the synthetic merges (fixed: the vocabulary does not depend on the weights' seed). */
const VOCAB_SEED = 0x7078_6976; // "pxiv"

/** A ChatML template (the format Qwen2 uses), written for this project. */
export const CHATML_TEMPLATE =
  "{%- for message in messages -%}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}";

/** A Llama-2 style [INST] template, written for this project. */
export const LLAMA_TEMPLATE =
  "{{ bos_token }}{%- for message in messages -%}{%- if message['role'] == 'system' -%}{{ '<<SYS>>\\n' + message['content'] + '\\n<</SYS>>\\n\\n' }}" +
  "{%- elif message['role'] == 'user' -%}{{ '[INST] ' + message['content'] + ' [/INST]' }}" +
  "{%- else -%}{{ ' ' + message['content'] + ' ' + eos_token }}{%- endif -%}{%- endfor -%}";

export const QWEN_SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

/** Result of BPE learning: merges in rank order and the new pieces they made (no duplicates). */
interface Learned {
  merges: string[];
  pieces: string[];
}

/**
 * Learns up to `maxPieces` new pieces by BPE over `words` (each a list of initial symbols with a
 * count). Pair counts are kept incrementally: a merge only rescans the words that contain it.
 */
function learnBpe(words: Map<string, { symbols: string[]; count: number }>, known: Set<string>, maxPieces: number): Learned {
  const list = [...words.values()];
  const counts = new Map<string, number>();
  const SEP = '\u0000';
  const addPairs = (w: { symbols: string[]; count: number }, sign: number): void => {
    for (let i = 0; i + 1 < w.symbols.length; i++) {
      const k = w.symbols[i] + SEP + w.symbols[i + 1];
      const v = (counts.get(k) ?? 0) + sign * w.count;
      if (v === 0) counts.delete(k);
      else counts.set(k, v);
    }
  };
  for (const w of list) addPairs(w, 1);

  const merges: string[] = [];
  const pieces: string[] = [];
  while (pieces.length < maxPieces && counts.size > 0) {
    let best = '';
    let bestCount = 0;
    for (const [k, v] of counts) {
      if (v > bestCount || (v === bestCount && k < best)) {
        best = k;
        bestCount = v;
      }
    }
    const [a, b] = best.split(SEP) as [string, string];
    const joined = a + b;
    merges.push(`${a} ${b}`);
    if (!known.has(joined)) {
      known.add(joined);
      pieces.push(joined);
    }
    for (const w of list) {
      const s = w.symbols;
      let hit = false;
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] === a && s[i + 1] === b) {
          hit = true;
          break;
        }
      }
      if (!hit) continue;
      addPairs(w, -1);
      const next: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          next.push(joined);
          i++;
        } else next.push(s[i]!);
      }
      w.symbols = next;
      addPairs(w, 1);
    }
  }
  return { merges, pieces };
}

/**
 * Adds synthetic pieces until `pieces` holds `target` entries: a random earlier piece joined to a
 * random piece that may follow it (`canFollow`), skipping joins that exist or are too long.
 */
function synthesize(pool: string[], known: Set<string>, merges: string[], pieces: string[], target: number, canFollow: (s: string) => boolean): void {
  const rng = new Xoshiro128(VOCAB_SEED, pool.length);
  let misses = 0;
  while (pieces.length < target) {
    // u² favours the front of the pool (short, frequent pieces), as real merges build on those.
    const u = rng.nextFloat();
    const v = rng.nextFloat();
    const a = pool[Math.floor(u * u * pool.length)]!;
    const b = pool[Math.floor(v * v * pool.length)]!;
    const joined = a + b;
    if (!canFollow(b) || joined.length > MAX_PIECE || known.has(joined)) {
      // Cannot happen with pools of dozens of symbols (the joins grow faster than they are used).
      if (++misses > 1_000_000) {
        throw new ModelGenError('MODELGEN_DIMS', `vocabulary: no new piece found after ${pieces.length} pieces`, { pieces: pieces.length });
      }
      continue;
    }
    misses = 0;
    known.add(joined);
    merges.push(`${a} ${b}`);
    pieces.push(joined);
    pool.push(joined);
  }
}

function wordCounts(words: Iterable<string>, split: (w: string) => string[]): Map<string, { symbols: string[]; count: number }> {
  const out = new Map<string, { symbols: string[]; count: number }>();
  for (const w of words) {
    const e = out.get(w);
    if (e) e.count++;
    else out.set(w, { symbols: split(w), count: 1 });
  }
  return out;
}

const cache = new Map<string, GeneratedVocab>();

/** A SentencePiece vocabulary of exactly `size` tokens (at least 259). */
export function buildSpmVocab(size: number): GeneratedVocab {
  const key = `spm:${size}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.BYTE);
  }
  // SentencePiece's view of the corpus: words split at whitespace, each starting with U+2581.
  const words = VOCAB_CORPUS.split(/\s+/u)
    .filter((w) => w.length > 0)
    .map((w) => SPACE + w);
  const counted = wordCounts(words, (w) => [...w]);
  const charFreq = new Map<string, number>();
  for (const { symbols, count } of counted.values()) for (const ch of symbols) charFreq.set(ch, (charFreq.get(ch) ?? 0) + count);
  const chars = [...charFreq.keys()].sort((x, y) => charFreq.get(y)! - charFreq.get(x)! || (x < y ? -1 : 1));
  const room = Math.max(0, size - tokens.length);
  const usedChars = chars.slice(0, room);
  const known = new Set<string>(usedChars);
  const want = room - usedChars.length;
  const learned = learnBpe(counted, known, want);
  const pieces = learned.pieces;
  synthesize([...usedChars, ...pieces], known, learned.merges, pieces, want, (s) => !s.includes(SPACE));
  const scores: number[] = tokens.map(() => 0);
  for (const ch of usedChars) {
    tokens.push(ch);
    types.push(TokenType.NORMAL);
    scores.push(0);
  }
  pieces.forEach((p, i) => {
    tokens.push(p);
    types.push(TokenType.NORMAL);
    scores.push(-(i + 1));
  });
  const v: GeneratedVocab = {
    model: 'llama',
    tokens,
    scores: Float32Array.from(scores),
    tokenTypes: Int32Array.from(types),
    bos: 1,
    eos: 2,
    unk: 0,
    addBos: true,
    chatTemplate: LLAMA_TEMPLATE,
  };
  cache.set(key, v);
  return v;
}

/**
 * A byte-level BPE vocabulary of `real` tokens (the last three are the control tokens), padded
 * with `[PADn]` to `size` entries.
 */
export function buildBpeVocab(real: number, size: number): GeneratedVocab {
  const key = `bpe:${real}:${size}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const core = bpeCore(real);
  const tokens = [...core.tokens];
  const types = tokens.map(() => TokenType.NORMAL as number);
  const first = tokens.length;
  for (const s of QWEN_SPECIALS) {
    tokens.push(s);
    types.push(TokenType.CONTROL);
  }
  for (let i = tokens.length; i < size; i++) {
    tokens.push(`[PAD${i}]`);
    types.push(TokenType.UNUSED);
  }
  const v: GeneratedVocab = {
    model: 'gpt2',
    pre: 'qwen2',
    tokens,
    tokenTypes: Int32Array.from(types),
    merges: core.merges,
    bos: first, // <|endoftext|>, as Qwen2's files set it
    eos: first + 2, // <|im_end|>
    pad: first,
    addBos: false,
    chatTemplate: CHATML_TEMPLATE,
  };
  cache.set(key, v);
  return v;
}

/** The regular tokens and merges of a BPE vocabulary of `real` tokens (cached apart from its padding). */
const coreCache = new Map<number, { tokens: readonly string[]; merges: readonly string[] }>();
function bpeCore(real: number): { tokens: readonly string[]; merges: readonly string[] } {
  const hit = coreCache.get(real);
  if (hit) return hit;
  const symbols = Array.from({ length: 256 }, (_, b) => byteToUnicode(b));
  const known = new Set<string>(symbols);
  const enc = new TextEncoder();
  const mapWord = (w: string): string => Array.from(enc.encode(w), (b) => byteToUnicode(b)).join('');
  const counted = wordCounts(preTokenize('qwen2', VOCAB_CORPUS).map(mapWord), (w) => [...w]);
  const want = Math.max(0, real - QWEN_SPECIALS.length - 256);
  const learned = learnBpe(counted, known, want);
  const pieces = learned.pieces;
  // Ġ (the mapped space) starts a word in the qwen2 pre-tokenizer: a piece with it inside could
  // never be formed, so synthetic joins keep it at the front only.
  const space = byteToUnicode(0x20);
  synthesize([...symbols, ...pieces], known, learned.merges, pieces, want, (s) => !s.includes(space));
  const core = { tokens: [...symbols, ...pieces], merges: learned.merges };
  coreCache.set(real, core);
  return core;
}

/** The `tokenizer.*` metadata entries for a vocabulary, in the order converters write them. */
export function vocabMetadata(v: GeneratedVocab): [string, GgufValue][] {
  const out: [string, GgufValue][] = [['tokenizer.ggml.model', gv.str(v.model)]];
  if (v.pre !== undefined) out.push(['tokenizer.ggml.pre', gv.str(v.pre)]);
  out.push(['tokenizer.ggml.tokens', gv.array('string', [...v.tokens])]);
  if (v.scores) out.push(['tokenizer.ggml.scores', gv.array('float32', v.scores)]);
  out.push(['tokenizer.ggml.token_type', gv.array('int32', v.tokenTypes)]);
  if (v.merges) out.push(['tokenizer.ggml.merges', gv.array('string', [...v.merges])]);
  out.push(['tokenizer.ggml.bos_token_id', gv.u32(v.bos)]);
  out.push(['tokenizer.ggml.eos_token_id', gv.u32(v.eos)]);
  if (v.unk !== undefined) out.push(['tokenizer.ggml.unknown_token_id', gv.u32(v.unk)]);
  if (v.pad !== undefined) out.push(['tokenizer.ggml.padding_token_id', gv.u32(v.pad)]);
  out.push(['tokenizer.ggml.add_bos_token', gv.bool(v.addBos)]);
  out.push(['tokenizer.ggml.add_eos_token', gv.bool(false)]);
  out.push(['tokenizer.chat_template', gv.str(v.chatTemplate)]);
  return out;
}
