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
 * - SentencePiece (`llama`): control tokens, the 256 byte tokens `<0x00>`..`<0xFF>`, the corpus
 *   characters, then the merged pieces with scores −1, −2, … in merge order (llama.cpp's SPM
 *   merges the highest score first, so earlier merges win, as in BPE). Pieces never hold U+2581
 *   except at their start, as real SentencePiece pieces split at word starts. The control tokens
 *   follow the model family (VocabStyle): Llama 2 / Mistral `<unk>` `<s>` `</s>`; Phi-3 the same
 *   plus its chat tokens at the end; Gemma `<pad>` `<eos>` `<bos>` `<unk>` `<start_of_turn>`
 *   `<end_of_turn>` and no space prefix (`tokenizer.ggml.add_space_prefix` false).
 * - byte-level BPE (`gpt2`): the 256 byte symbols of GPT-2's byte table and the merged tokens with
 *   their merges learned on the words of the style's pre-tokenizer (qwen2, smollm, llama-bpe),
 *   and the control tokens: after the regular tokens (Qwen2: `<|endoftext|>` `<|im_start|>`
 *   `<|im_end|>`; Llama 3: `<|begin_of_text|>` … `<|eot_id|>`) or before them (SmolLM:
 *   `<|endoftext|>` `<|im_start|>` `<|im_end|>` as ids 0-2), then unused `[PADn]` tokens up to the
 *   embedding rows (as converters pad Qwen's list).
 */
import { gv, type GgufValue } from '../gguf/values';
import { byteToUnicode, preTokenize } from '../tokenizer/bpe';
import { TokenType } from '../tokenizer/types';
import { VOCAB_CORPUS } from './corpus';
import type { VocabStyle } from './config';
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
  /** `tokenizer.ggml.add_space_prefix`, written only where set (Gemma: false). */
  readonly addSpacePrefix?: boolean;
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

/** A Mistral [INST] template (no system turn), written for this project. */
export const MISTRAL_TEMPLATE =
  "{{ bos_token }}{%- for message in messages -%}{%- if message['role'] == 'assistant' -%}{{ ' ' + message['content'] + eos_token }}" +
  "{%- else -%}{{ '[INST] ' + message['content'] + ' [/INST]' }}{%- endif -%}{%- endfor -%}";

/** A Phi-3 template (`<|user|>\n…<|end|>\n`), written for this project. */
export const PHI3_TEMPLATE =
  "{%- for message in messages -%}{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{{ '<|assistant|>\n' }}{%- endif -%}";

/** A Gemma template (`<start_of_turn>user\n…<end_of_turn>\n`, the assistant is `model`), written for this project. */
export const GEMMA_TEMPLATE =
  "{{ bos_token }}{%- for message in messages -%}{%- if message['role'] == 'assistant' -%}{{ '<start_of_turn>model\n' }}" +
  "{%- else -%}{{ '<start_of_turn>' + message['role'] + '\n' }}{%- endif -%}{{ message['content'] + '<end_of_turn>\n' }}{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}";

/** A Llama 3 template (`<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`), written for this project. */
export const LLAMA3_TEMPLATE =
  "{{ bos_token }}{%- for message in messages -%}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}" +
  "{%- endfor -%}{%- if add_generation_prompt -%}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif -%}";

export const QWEN_SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;
export const PHI3_SPECIALS = ['<|endoftext|>', '<|assistant|>', '<|system|>', '<|end|>', '<|user|>'] as const;
export const GEMMA_SPECIALS = ['<pad>', '<eos>', '<bos>', '<unk>', '<start_of_turn>', '<end_of_turn>'] as const;
export const LLAMA3_SPECIALS = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'] as const;

export type SpmStyle = Extract<VocabStyle, 'llama' | 'mistral' | 'phi3' | 'gemma'>;
export type BpeStyle = Extract<VocabStyle, 'qwen2' | 'smollm' | 'llama3'>;

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

/**
 * A SentencePiece vocabulary of exactly `size` tokens (at least 256 plus the style's control
 * tokens) in the layout of `style`. Without `byteTokens` the 256 byte tokens are left out (no
 * byte fallback; sizes down to the control tokens and one piece).
 */
export function buildSpmVocab(size: number, style: SpmStyle = 'llama', byteTokens = true): GeneratedVocab {
  const key = `spm:${style}:${size}${byteTokens ? '' : ':nobytes'}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const gemma = style === 'gemma';
  const head: [string, number][] = gemma
    ? GEMMA_SPECIALS.map((t) => [t, t === '<unk>' ? TokenType.UNKNOWN : TokenType.CONTROL])
    : [
        ['<unk>', TokenType.UNKNOWN],
        ['<s>', TokenType.CONTROL],
        ['</s>', TokenType.CONTROL],
      ];
  const tail: readonly string[] = style === 'phi3' ? PHI3_SPECIALS : [];
  const tokens: string[] = head.map(([t]) => t);
  const types: number[] = head.map(([, ty]) => ty);
  for (let b = 0; b < (byteTokens ? 256 : 0); b++) {
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
  const room = Math.max(0, size - tokens.length - tail.length);
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
  for (const t of tail) {
    tokens.push(t);
    types.push(TokenType.CONTROL);
    scores.push(0);
  }
  const at = (t: string): number => tokens.indexOf(t);
  const v: GeneratedVocab = gemma
    ? {
        model: 'llama',
        pre: 'default',
        tokens,
        scores: Float32Array.from(scores),
        tokenTypes: Int32Array.from(types),
        bos: at('<bos>'),
        eos: at('<eos>'),
        unk: at('<unk>'),
        pad: at('<pad>'),
        addBos: true,
        addSpacePrefix: false,
        chatTemplate: GEMMA_TEMPLATE,
      }
    : {
        model: 'llama',
        // Llama 2 files (and tiny-llama, whose bytes are pinned) have no pre key; converters
        // write "default" for the others' SentencePiece vocabularies.
        ...(style === 'llama' ? {} : { pre: 'default' }),
        tokens,
        scores: Float32Array.from(scores),
        tokenTypes: Int32Array.from(types),
        bos: 1,
        eos: style === 'phi3' ? at('<|endoftext|>') : 2,
        unk: 0,
        ...(style === 'phi3' ? { pad: at('<|endoftext|>') } : {}),
        addBos: true,
        chatTemplate: style === 'phi3' ? PHI3_TEMPLATE : style === 'mistral' ? MISTRAL_TEMPLATE : LLAMA_TEMPLATE,
      };
  cache.set(key, v);
  return v;
}

/** The pre-tokenizer (`tokenizer.ggml.pre`) and control tokens of each BPE style. */
const BPE_STYLES: Readonly<Record<BpeStyle, { pre: string; specials: readonly string[]; first: boolean }>> = {
  qwen2: { pre: 'qwen2', specials: QWEN_SPECIALS, first: false },
  smollm: { pre: 'smollm', specials: QWEN_SPECIALS, first: true },
  llama3: { pre: 'llama-bpe', specials: LLAMA3_SPECIALS, first: false },
};

/**
 * A byte-level BPE vocabulary of `real` tokens (the style's control tokens among them), padded
 * with `[PADn]` to `size` entries.
 */
export function buildBpeVocab(real: number, size: number, style: BpeStyle = 'qwen2'): GeneratedVocab {
  const key = `bpe:${style}:${real}:${size}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const { pre, specials, first } = BPE_STYLES[style];
  const core = bpeCore(real, style);
  const tokens: string[] = first ? [...specials, ...core.tokens] : [...core.tokens, ...specials];
  const types = tokens.map((_t, i) => ((first ? i < specials.length : i >= core.tokens.length) ? TokenType.CONTROL : TokenType.NORMAL) as number);
  for (let i = tokens.length; i < size; i++) {
    tokens.push(`[PAD${i}]`);
    types.push(TokenType.UNUSED);
  }
  const at = (t: string): number => tokens.indexOf(t);
  const common = { model: 'gpt2' as const, pre, tokens, tokenTypes: Int32Array.from(types), merges: core.merges };
  let v: GeneratedVocab;
  if (style === 'qwen2') {
    // bos = pad = <|endoftext|>, as Qwen2's files set it; eos <|im_end|>.
    v = { ...common, bos: at('<|endoftext|>'), eos: at('<|im_end|>'), pad: at('<|endoftext|>'), addBos: false, chatTemplate: CHATML_TEMPLATE };
  } else if (style === 'smollm') {
    // SmolLM2-Instruct: bos <|im_start|> (1), eos <|im_end|> (2), no BOS added.
    v = { ...common, bos: at('<|im_start|>'), eos: at('<|im_end|>'), addBos: false, chatTemplate: CHATML_TEMPLATE };
  } else {
    // Llama 3.1 Instruct: bos <|begin_of_text|>, eos <|eot_id|>, BOS added.
    v = { ...common, bos: at('<|begin_of_text|>'), eos: at('<|eot_id|>'), addBos: true, chatTemplate: LLAMA3_TEMPLATE };
  }
  cache.set(key, v);
  return v;
}

/** The regular tokens and merges of a BPE vocabulary of `real` tokens (cached apart from its padding). */
const coreCache = new Map<string, { tokens: readonly string[]; merges: readonly string[] }>();
function bpeCore(real: number, style: BpeStyle): { tokens: readonly string[]; merges: readonly string[] } {
  const key = `${style}:${real}`;
  const hit = coreCache.get(key);
  if (hit) return hit;
  const { pre, specials } = BPE_STYLES[style];
  const symbols = Array.from({ length: 256 }, (_, b) => byteToUnicode(b));
  const known = new Set<string>(symbols);
  const enc = new TextEncoder();
  const mapWord = (w: string): string => Array.from(enc.encode(w), (b) => byteToUnicode(b)).join('');
  const counted = wordCounts(preTokenize(pre, VOCAB_CORPUS).map(mapWord), (w) => [...w]);
  const want = Math.max(0, real - specials.length - 256);
  const learned = learnBpe(counted, known, want);
  const pieces = learned.pieces;
  // Ġ (the mapped space) starts a word in these pre-tokenizers: a piece with it inside could
  // never be formed, so synthetic joins keep it at the front only.
  const space = byteToUnicode(0x20);
  synthesize([...symbols, ...pieces], known, learned.merges, pieces, want, (s) => !s.includes(space));
  const core = { tokens: [...symbols, ...pieces], merges: learned.merges };
  coreCache.set(key, core);
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
  if (v.addSpacePrefix !== undefined) out.push(['tokenizer.ggml.add_space_prefix', gv.bool(v.addSpacePrefix)]);
  out.push(['tokenizer.chat_template', gv.str(v.chatTemplate)]);
  return out;
}
