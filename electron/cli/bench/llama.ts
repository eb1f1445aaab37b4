/**
 * llama.cpp as the bench's reference, through node-llama-cpp (installed lean in tests/llama-cpp
 * by scripts/bootstrap.sh, loaded by ../llama-cpp.ts): found, opened, and run with the same
 * prompt ids and timing as ours.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isLlamaCppPackage, loadLlamaCpp } from '../llama-cpp';
import type { LlamaFigures } from './results';

/** The part of node-llama-cpp's API used here; the package sits outside the project's types. */
interface LlamaSequence {
  evaluate(tokens: number[], options: { temperature: number }): AsyncGenerator<number, void, void>;
  clearHistory(): Promise<void>;
}
interface LlamaContext {
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}
interface LlamaModel {
  createContext(options: { contextSize: number; threads: number; batchSize: number }): Promise<LlamaContext>;
  dispose(): Promise<void>;
}
interface Llama {
  loadModel(options: { modelPath: string }): Promise<LlamaModel>;
  dispose(): Promise<void>;
}
export interface LlamaCpp {
  llama: Llama;
  version: string;
  dir: string;
  dispose(): Promise<void>;
}


/** The project root from this file (electron/cli/bench/ → ../../..); inside a bundle it may be elsewhere, which only makes the default llama.cpp path missing. */
const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Where node-llama-cpp is looked for: the given folder only, else $PXI_LLAMA_CPP, then the project's tests/llama-cpp. */
export function llamaCppCandidates(dir?: string): string[] {
  const roots = dir ? [dir] : [process.env.PXI_LLAMA_CPP, join(PROJECT_ROOT, 'tests', 'llama-cpp')].filter((d): d is string => !!d);
  return roots.flatMap((r) => [r, join(r, 'node-llama-cpp'), join(r, 'node_modules', 'node-llama-cpp')]);
}

/** Loads llama.cpp's CPU build, or says why not (never builds or downloads anything). */
export async function openLlamaCpp(dir?: string): Promise<LlamaCpp | { reason: string }> {
  const found = llamaCppCandidates(dir).find(isLlamaCppPackage);
  if (!found) {
    return { reason: `node-llama-cpp not found (looked in ${llamaCppCandidates(dir).slice(0, 3).join(', ')}…; run scripts/bootstrap.sh or pass --llama-cpp DIR)` };
  }
  try {
    const version = String((JSON.parse(readFileSync(join(found, 'package.json'), 'utf8')) as { version?: string }).version ?? '?');
    const llama = await loadLlamaCpp<Llama>(found);
    return { llama, version: `node-llama-cpp ${version}`, dir: found, dispose: () => llama.dispose() };
  } catch (e) {
    return { reason: `llama.cpp did not load from ${found}: ${(e as Error).message}` };
  }
}

/**
 * llama.cpp on the CPU, timed the way generate() times ours: prefill = the prompt's pass up to the
 * first sampled token; decode = the single-token passes after it (time between yielded tokens).
 */
export async function runLlama(lc: LlamaCpp, path: string, ids: number[], n: number, threadCounts: number[], perToken: number, status: (l: string) => void): Promise<LlamaFigures[]> {
  const t0 = performance.now();
  const model = await lc.llama.loadModel({ modelPath: path });
  const loadSeconds = (performance.now() - t0) / 1000;
  const runs: LlamaFigures[] = [];
  try {
    for (const threads of threadCounts) {
      status(`llama.cpp: ${threads} thread${threads === 1 ? '' : 's'}`);
      const ctx = await model.createContext({ contextSize: ids.length + n + 16, threads, batchSize: Math.max(512, ids.length) });
      try {
        const seq = ctx.getSequence();
        // Warm-up, as for ours.
        for await (const _ of seq.evaluate(ids.slice(0, Math.min(2, ids.length)), { temperature: 0 })) break;
        await seq.clearHistory();
        const tokens: number[] = [];
        const start = performance.now();
        let first = start;
        let end = start;
        for await (const tok of seq.evaluate(ids, { temperature: 0 })) {
          tokens.push(Number(tok));
          if (tokens.length === 1) first = performance.now();
          if (tokens.length >= n) {
            end = performance.now();
            break;
          }
        }
        const prefillMs = first - start;
        const decodeTokens = Math.max(0, tokens.length - 1);
        const decodeMs = tokens.length > 1 ? end - first : 0;
        const decodeTokensPerSecond = decodeMs > 0 ? (decodeTokens * 1000) / decodeMs : 0;
        runs.push({
          promptTokens: ids.length,
          prefillMs,
          prefillTokensPerSecond: prefillMs > 0 ? (ids.length * 1000) / prefillMs : 0,
          decodeTokens,
          decodeMs,
          decodeTokensPerSecond,
          decodeGBps: (perToken * decodeTokensPerSecond) / 1e9,
          loadSeconds,
          threads,
          version: lc.version,
          tokens,
        });
      } finally {
        await ctx.dispose();
      }
    }
    return runs;
  } finally {
    await model.dispose();
  }
}
