import { TokenType } from './types';

/**
 * What llama.cpp decides about tokens from their texts and the model's name rather than from the
 * GGUF's token types (llama_vocab::impl::load): end-of-turn and fill-in-the-middle tokens are
 * made CONTROL whatever their stored type, and some of them end generation; for Phi-3 every
 * special token swallows the whitespace after it when matched in text (RSTRIP).
 */

/** Texts llama.cpp treats as end of generation (its EOG list, as of the reference build). */
const EOG_TEXTS = [
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<|return|>',
  '<|call|>',
  '<|flush|>',
  '<|calls|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '</s>',
  '<|eom_id|>',
  '<EOT>',
  '_<EOT>',
  '[EOT]',
  '[EOS]',
  '<|end_of_text|>',
  '<end_of_utterance>',
  '<eos>',
  '<turn|>',
  '<|tool_response>',
  '<｜end▁of▁sentence｜>',
  '[e~[',
];
/** Texts it accepts as the end-of-turn token when the GGUF names none (all also in EOG_TEXTS). */
const EOT_TEXTS = [
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '<|end_of_text|>',
  '<EOT>',
  '_<EOT>',
  '[EOT]',
  '<｜end▁of▁sentence｜>',
  '<end_of_utterance>',
];
/** Fill-in-the-middle tokens: prefix, suffix, middle (control only). */
const FIM_TEXTS = [
  '<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>',
  '<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>',
  '<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>',
];
/** Fill-in-the-middle pad, repository and file-separator tokens: control, and they end generation. */
const FIM_EOG_TEXTS = ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]', '<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>', '<|file_sep|>'];

export interface TokenAttrs {
  /** Tokens that end generation, found by text. */
  readonly eog: ReadonlySet<number>;
  /** The end-of-turn token found by text (lowest id; llama.cpp takes whichever its hash map yields first), when the GGUF names none. */
  readonly eot: number | undefined;
  /** Special tokens that drop the whitespace after them when matched in text. */
  readonly rstrip: ReadonlySet<number>;
}

/** Applies the fix-ups to `types` (in place) and returns what else they decide. */
export function applyTokenAttrs(textToId: ReadonlyMap<string, number>, types: Uint8Array, hasEot: boolean, modelName: string | undefined): TokenAttrs {
  const ids = (texts: readonly string[]): number[] =>
    texts.flatMap((t) => {
      const id = textToId.get(t);
      return id === undefined ? [] : [id];
    });
  const eog = new Set<number>();
  for (const id of [...ids(EOG_TEXTS), ...ids(FIM_EOG_TEXTS)]) eog.add(id);
  const eotCandidates = ids(EOT_TEXTS);
  // llama.cpp forces these to CONTROL ("control-looking token … its type will be overridden").
  for (const id of [...eog, ...ids(FIM_TEXTS)]) types[id] = TokenType.CONTROL;
  const eot = hasEot || eotCandidates.length === 0 ? undefined : Math.min(...eotCandidates);

  // Its two exceptions: with <|return|> and <|call|> (gpt-oss) or <|calls|> and <|flush|>
  // (solar-open), <|end|> is an ordinary user-defined token; with <|tool_response> (Gemma 4),
  // </s> is an ordinary token.
  const has = (text: string) => {
    const id = textToId.get(text);
    return id !== undefined && eog.has(id);
  };
  const demote = (text: string, type: number) => {
    const id = textToId.get(text);
    if (id === undefined || !eog.has(id)) return;
    eog.delete(id);
    types[id] = type;
  };
  if ((has('<|return|>') && has('<|call|>')) || (has('<|calls|>') && has('<|flush|>'))) demote('<|end|>', TokenType.USER_DEFINED);
  if (has('<|tool_response>')) demote('</s>', TokenType.NORMAL);

  const rstrip = new Set<number>();
  const name = (modelName ?? '').toLowerCase();
  if (name.includes('phi-3') || name.includes('phi3')) {
    for (let id = 0; id < types.length; id++) {
      const t = types[id];
      if (t === TokenType.CONTROL || t === TokenType.USER_DEFINED || t === TokenType.UNKNOWN) rstrip.add(id);
    }
    for (const id of ids(['</s>'])) rstrip.add(id);
    for (const id of ids(['<unk>', '<s>', '<|endoftext|>'])) rstrip.delete(id);
  }
  return { eog, eot, rstrip };
}
