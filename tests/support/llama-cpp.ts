import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadLlamaCpp, type LlamaLogLevel } from '../../electron/cli/llama-cpp';
import { projectRoot } from './fixtures';

/**
 * llama.cpp itself (node-llama-cpp 3.21.1, CPU build, installed lean in tests/llama-cpp by
 * scripts/bootstrap.sh) as the reference for parity tests: tokens and log-probabilities on the
 * same GGUF files. Settings follow ../shared/ENVIRONMENT.md: F32 KV cache, no flash attention,
 * one thread, so its numbers are exact enough to compare against at 1e-3.
 */
export const referenceDir = join(projectRoot, 'tests', 'llama-cpp', 'node_modules', 'node-llama-cpp');

/** Why the parity tests skip, or null when the reference is installed (CI installs it, so CI runs them). */
export const referenceMissing: string | null = existsSync(referenceDir)
  ? null
  : 'llama.cpp (node-llama-cpp) is not installed in tests/llama-cpp: run scripts/bootstrap.sh';

/**
 * llama.cpp from tests/llama-cpp through the project's one loader; `L` is the API part the caller
 * uses. Without it, the vitest test asking is skipped with the reason (the one policy for a missing
 * reference, as for a missing GPU); outside a vitest test body (a hook, Playwright) it throws.
 */
export async function referenceLlama<L>(logLevel: LlamaLogLevel = 'error'): Promise<L> {
  if (referenceMissing) await skipCurrentTest(referenceMissing);
  return loadLlamaCpp<L>(referenceDir, logLevel);
}

async function skipCurrentTest(reason: string): Promise<never> {
  if (process.env.VITEST) {
    // Loaded only here: this module is imported by Playwright specs too, where vitest must not load.
    const { TestRunner } = await import('vitest');
    TestRunner.getCurrentTest()?.context.skip(reason);
  }
  throw new Error(`llama.cpp reference missing: ${reason}`);
}

/**
 * The part of node-llama-cpp's API used here, declared locally: the package lives in
 * tests/llama-cpp/node_modules, outside the project's type resolution. Token ids are plain numbers
 * at run time (node-llama-cpp brands them only in its types).
 */
interface LlamaEvaluateItem {
  next?: { probabilities?: Map<number, number>; token?: number };
}
interface LlamaSequence {
  evaluate(tokens: number[], options: { temperature: number }): AsyncIterable<number>;
  controlledEvaluate(
    input: [number, { generateNext: { probabilities: boolean; token: boolean; options: { temperature: number } } }][],
  ): Promise<(LlamaEvaluateItem | undefined)[]>;
}
interface LlamaContext {
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}
interface LlamaModel {
  readonly tokens: { readonly bos: number | null; readonly eos: number | null };
  readonly fileInfo: { readonly metadata: { readonly tokenizer?: { readonly ggml?: { readonly tokens?: readonly string[] } } } };
  tokenize(text: string, specialTokens?: boolean): number[];
  detokenize(tokens: readonly number[], specialTokens?: boolean): string;
  createContext(options: {
    contextSize: number;
    threads: number;
    experimentalKvCacheKeyType: string;
    experimentalKvCacheValueType: string;
    flashAttention: boolean;
    /** LlamaContextOptions.lora (node-llama-cpp 3.21.1; the string form is not used here). */
    lora?: { adapters: { filePath: string; /** default 1 */ scale?: number }[] };
  }): Promise<LlamaContext>;
  dispose(): Promise<void>;
}
interface Llama {
  loadModel(options: { modelPath: string }): Promise<LlamaModel>;
  dispose(): Promise<void>;
}
export interface ReferenceModel {
  bos: number | null;
  eos: number | null;
  vocabSize: number;
  tokenize(text: string): number[];
  detokenize(ids: number[]): string;
  /** Greedy continuation of `ids` (which include BOS if wanted), n new tokens. */
  greedy(ids: number[], n: number): Promise<number[]>;
  /** log p(token | prefix) over the whole vocabulary, for every position of `ids`. */
  logProbs(ids: number[]): Promise<Float64Array[]>;
  dispose(): Promise<void>;
}

export interface ReferenceOptions {
  /**
   * A LoRA adapter GGUF applied in every context (llama.cpp's llama_set_adapters_lora, scale
   * default 1: each pair is scaled by scale × alpha / rank). llama.cpp loads it once per model.
   */
  lora?: { filePath: string; scale?: number };
}

export async function openReference(modelPath: string, contextSize = 512, opts: ReferenceOptions = {}): Promise<ReferenceModel> {
  const llama = await referenceLlama<Llama>();
  const model = await llama.loadModel({ modelPath });
  // The file's token list; 0 (unknown) makes logProbs size its rows by what llama.cpp returned.
  const vocabSize = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0;
  const newContext = () =>
    model.createContext({
      contextSize,
      threads: 1,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
      flashAttention: false,
      ...(opts.lora ? { lora: { adapters: [{ filePath: opts.lora.filePath, scale: opts.lora.scale ?? 1 }] } } : {}),
    });
  return {
    bos: model.tokens.bos ?? null,
    eos: model.tokens.eos ?? null,
    vocabSize,
    tokenize: (text) => [...model.tokenize(text, false)].map(Number),
    detokenize: (ids) => model.detokenize(ids),
    async greedy(ids, n) {
      const ctx = await newContext();
      try {
        const out: number[] = [];
        for await (const t of ctx.getSequence().evaluate(ids, { temperature: 0 })) {
          out.push(Number(t));
          if (out.length >= n) break;
        }
        return out;
      } finally {
        await ctx.dispose();
      }
    },
    async logProbs(ids) {
      const ctx = await newContext();
      try {
        const res = await ctx
          .getSequence()
          .controlledEvaluate(ids.map((id) => [id, { generateNext: { probabilities: true, token: true, options: { temperature: 0 } } }]));
        return res.map((r, i) => {
          const probs = r?.next?.probabilities;
          if (!probs) throw new Error(`llama.cpp returned no probabilities at position ${i}`);
          const size = vocabSize || probs.size;
          const lp = new Float64Array(size).fill(-Infinity);
          for (const [tok, p] of probs) lp[Number(tok)] = Math.log(p);
          return lp;
        });
      } finally {
        await ctx.dispose();
      }
    },
    async dispose() {
      await model.dispose();
      await llama.dispose();
    },
  };
}
