import { existsSync, statSync } from 'node:fs';
import { ContextWindowExceededError, summarizeLedger, type AllocationLedger } from '../../../shared/gpu';
import { generateStream, type GenerateOptions, type GenerationResult, type GenerationTimings } from '../../../shared/engine/generate';
import type { SamplerOptions } from '../../../shared/engine/sampling';
import { openNodeModel, type NodeModel } from '../../engine';
import { openPixelModel } from '../../engine/pixel-source';
import { listAdapters, readAdapter } from '../../train/adapters';
import { adapterName } from '../../../shared/gpu/adapter';
import { openStore, VOLUME_HELP, volumeDir } from '../storage-helpers';
import { confirmResidency, recordResidency } from '../residency-session';
import { EXIT, UsageError, parseOptions, parseSize, type CliIo, type Command } from '../command';

/** Sampling and length flags shared by `pxi run` and `pxi chat`. */
export const SAMPLING_FLAGS = {
  'n-predict': { type: 'string', short: 'n' },
  temp: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repeat-penalty': { type: 'string' },
  'repeat-last-n': { type: 'string' },
  seed: { type: 'string' },
  'ctx-size': { type: 'string', short: 'c' },
} as const;

export const SAMPLING_HELP = `  -n, --n-predict N      most tokens to generate (default DEFAULT_N)
  --temp T               temperature; 0 = greedy, the argmax on the GPU (default 0.8)
  --top-k K              keep the K most likely tokens; 0 = all (default 40)
  --top-p P              keep the smallest set reaching probability P; 1 = off (default 0.95)
  --min-p P              drop tokens below P × the top probability; 0 = off (default 0.05)
  --repeat-penalty R     divide the logits of recent tokens by R; 1 = off (default 1)
  --repeat-last-n N      how many recent tokens the penalty sees (default 64)
  --seed S               sampling seed, 0 to 4294967295 (default: random, printed)
  -c, --ctx-size N       KV-cache length in tokens (default: the model's, at most 4096)`;

type Values = Partial<Record<keyof typeof SAMPLING_FLAGS, string>>;

function num(flag: string, v: string | undefined, check: (x: number) => boolean, rule: string): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || !check(x)) throw new UsageError(`${flag} ${rule}, got ${JSON.stringify(v)}`);
  return x;
}

export interface SamplingArgs {
  sampler: SamplerOptions & { seed: number };
  maxTokens: number;
  contextLength: number | undefined;
}

export function samplingArgs(values: Values, defaultN: number): SamplingArgs {
  const int = (x: number) => Number.isInteger(x);
  const maxTokens = num('--n-predict', values['n-predict'], (x) => int(x) && x >= 0, 'must be a non-negative integer') ?? defaultN;
  const seed = num('--seed', values.seed, (x) => int(x) && x >= 0 && x <= 0xffffffff, 'must be an integer from 0 to 4294967295') ?? Math.floor(Math.random() * 0x100000000);
  const sampler: SamplerOptions & { seed: number } = { seed };
  const set = (k: Exclude<keyof SamplerOptions, 'seed'>, v: number | undefined) => {
    if (v !== undefined) sampler[k] = v;
  };
  set('temperature', num('--temp', values.temp, (x) => x >= 0, 'must be a number >= 0'));
  set('topK', num('--top-k', values['top-k'], (x) => int(x) && x >= 0, 'must be a non-negative integer'));
  set('topP', num('--top-p', values['top-p'], (x) => x > 0 && x <= 1, 'must be in (0, 1]'));
  set('minP', num('--min-p', values['min-p'], (x) => x >= 0 && x <= 1, 'must be in [0, 1]'));
  set('repeatPenalty', num('--repeat-penalty', values['repeat-penalty'], (x) => x > 0, 'must be a number > 0'));
  set('repeatLastN', num('--repeat-last-n', values['repeat-last-n'], (x) => int(x) && x >= -1, 'must be an integer >= -1'));
  const contextLength = num('--ctx-size', values['ctx-size'], (x) => int(x) && x >= 1, 'must be a positive integer');
  return { sampler, maxTokens, contextLength };
}

/** Where `pxi run` / `pxi chat` find a model that is not a file: `--volume`; an adapter: `--lora`. */
export const MODEL_FLAGS = { volume: { type: 'string' }, lora: { type: 'string' }, 'lora-scale': { type: 'string' }, 'gpu-memory': { type: 'string' }, verbose: { type: 'boolean' } } as const;
export const MODEL_HELP = `  ${VOLUME_HELP}
                         (where MODEL is looked up when it is not a file)
  --lora FILE|NAME       apply a LoRA adapter GGUF (llama.cpp's format: general.type adapter,
                         adapter.type lora, *.lora_a / *.lora_b), checked against MODEL's
                         tensor names and shapes; y = W·x + scale · alpha/rank · B·(A·x).
                         NAME: an adapter pxi finetune stored beside a stored MODEL
  --lora-scale X         the adapter's scale (default 1; 0 leaves the model as it is)
  --gpu-memory SIZE      GPU memory the model may hold (weights, KV cache, activations), e.g.
                         512M or 2G. Weight matrices that do not fit stream from host memory
                         each token (same output, slower); the plan is printed. Default: no
                         limit (WebGPU does not say how much memory the adapter has)
  --verbose              after loading, print the GPU allocation ledger to stderr: every
                         buffer the engine holds, by kind (weights, KV cache, activations…),
                         and the largest ones; and the residency plan: what streams and why.
                         pxi run prints the ledger again after generating (the KV cache's
                         pages are taken as the tokens come)`;

/** The adapter flags: a file that exists and a finite scale. */
export function loraArgs(values: { lora?: string; 'lora-scale'?: string }): { loraPath?: string; loraScale?: number } {
  if (values.lora === undefined) {
    if (values['lora-scale'] !== undefined) throw new UsageError('--lora-scale needs --lora FILE');
    return {};
  }
  if (!isFile(values.lora) && (/\.gguf$/i.test(values.lora) || existsSync(values.lora))) throw new UsageError(`no such adapter file: ${values.lora}`);
  const loraScale = num('--lora-scale', values['lora-scale'], (x) => Number.isFinite(x), 'must be a finite number') ?? 1;
  return { loraPath: values.lora, loraScale };
}

const isFile = (p: string) => existsSync(p) && statSync(p).isFile();

/**
 * The model argument: a GGUF file that exists, or the id or name of a model imported into the
 * volume. An argument that names a .gguf file or a path that does not exist is a usage error.
 */
export function modelArg(positionals: string[], command: string): string {
  if (positionals.length === 0) throw new UsageError(`pxi ${command} needs a model: pxi ${command} MODEL.gguf, or an imported model's id or name`);
  if (positionals.length > 1) throw new UsageError(`pxi ${command} takes one model, got ${positionals.length} arguments: ${positionals.map((p) => JSON.stringify(p)).join(' ')}`);
  const model = positionals[0]!;
  if (!isFile(model) && (/\.gguf$/i.test(model) || existsSync(model))) throw new UsageError(`no such model file: ${model}`);
  return model;
}

/** The allocation ledger as `--verbose` prints it: bytes per kind, then the largest buffers. */
export function ledgerLines(ledger: AllocationLedger, largest = 8, when = ''): string[] {
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  const s = summarizeLedger(ledger);
  const lines = [`GPU allocation ledger${when}: ${s.buffers} buffers, ${mb(s.bytes)} held (peak ${mb(s.peakBytes)})`];
  for (const k of s.byKind) lines.push(`  ${k.kind.padEnd(12)} ${String(k.count).padStart(5)} buffers ${mb(k.bytes).padStart(12)}`);
  const top = ledger.entries().sort((a, b) => b.bytes - a.bytes).slice(0, largest);
  lines.push(`  largest: ${top.map((a) => `${a.label} ${mb(a.bytes)}`).join(', ')}`);
  return lines;
}

/** Loads a GGUF file, or a stored model from the volume (weights read from its pixel tiles). */
export async function loadForCli(
  path: string,
  contextLength: number | undefined,
  io: CliIo,
  volume?: string,
  lora: { loraPath?: string; loraScale?: number } = {},
  verbose = false,
  gpuMemory?: number,
): Promise<NodeModel> {
  const onWarning = (message: string) => io.err(`warning: ${message}`);
  if (isFile(path) && lora.loraPath && !isFile(lora.loraPath)) throw new UsageError(`no such adapter file: ${lora.loraPath} (stored adapters by name go with stored models)`);
  const budget = gpuMemory === undefined ? {} : { gpuMemory };
  const m = isFile(path)
    ? await openNodeModel(path, { contextLength, onWarning, ...lora, ...budget })
    : await openStoredForCli(volumeDir(volume), path, contextLength, onWarning, { ...lora, ...budget });
  const c = m.model.config;
  io.err(
    `loaded ${m.source.header.file}${isFile(path) ? '' : ' from its pixel tiles'}: ${c.architecture}, ${c.blockCount} blocks, width ${c.embeddingLength}, vocab ${c.vocabSize}, ` +
      `context ${m.model.contextLength}, ${(m.model.memory.weights / 1e6).toFixed(1)} MB of weights, in ${m.loadSeconds.toFixed(2)} s ` +
      `(${adapterName(m.ctx.adapter, 'WebGPU')})` +
      (m.tuning ? `; decode kernels tuned for this adapter by pxi tune on ${m.tuning.measuredAt.slice(0, 10)}` : '') +
      (lora.loraPath ? `; LoRA ${lora.loraPath} at scale ${lora.loraScale ?? 1}` : ''),
  );
  const plan = m.model.residency;
  if (plan.streamed.length && !verbose) {
    io.err(`residency: ${plan.streamed.length} of ${plan.streamed.length + plan.resident.length} weight matrices stream from host memory (${(plan.uploadBytesPerPass / 1e6).toFixed(2)} MB per token) to fit --gpu-memory; --verbose says why`);
  }
  if (verbose) {
    for (const line of ledgerLines(m.ctx.ledger)) io.err(line);
    io.err('residency plan:');
    for (const line of plan.explanation) io.err(`  ${line}`);
    if (plan.streamed.length) io.err(`  streamed: ${plan.streamed.join(', ')}`);
  }
  return m;
}

async function openStoredForCli(
  dir: string,
  ref: string,
  contextLength: number | undefined,
  onWarning: (message: string) => void,
  lora: { loraPath?: string; loraScale?: number; gpuMemory?: number },
): Promise<NodeModel> {
  // The store stays open (and the volume locked) for the run: every tensor read comes from it.
  const store = await openStore(dir);
  try {
    let stored: { loraBytes: Uint8Array } | object = {};
    if (lora.loraPath && !isFile(lora.loraPath)) {
      const id = store.manifest(ref).id;
      const bytes = await readAdapter(store.volume, id, lora.loraPath);
      if (!bytes) {
        const have = listAdapters(store.volume, id).map((a) => a.name);
        throw new UsageError(`no adapter file or stored adapter named ${lora.loraPath} (model ${ref} has ${have.length ? `adapters ${have.join(', ')}` : 'no stored adapters'})`);
      }
      stored = { loraBytes: bytes };
    }
    const m = await openPixelModel(store, ref, { contextLength, onWarning, ...lora, ...stored });
    return {
      ...m,
      async close() {
        await m.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}

export function timingLine(t: GenerationTimings, stopReason: string): string {
  const rate = (n: number, ms: number, r: number) => `${n} tokens in ${(ms / 1000).toFixed(2)} s (${r.toFixed(1)} tokens/s)`;
  return `prefill: ${rate(t.promptTokens, t.prefillMs, t.prefillTokensPerSecond)} · decode: ${rate(t.decodeTokens, t.decodeMs, t.decodeTokensPerSecond)} · stop: ${stopReason}`;
}

/** Streams chunks to `write` and returns the result; `signal` stops it (stopReason 'aborted'). */
export async function streamTo(it: AsyncGenerator<{ text: string }, GenerationResult, void>, write: (t: string) => void): Promise<GenerationResult> {
  for (;;) {
    const r = await it.next();
    if (r.done) {
      if (r.value.tail) write(r.value.tail);
      return r.value;
    }
    if (r.value.text) write(r.value.text);
  }
}

export const runCommand: Command = {
  name: 'run',
  summary: 'generate text from a prompt with the WGSL engine (llama, qwen2/3, phi3, gemma2/3 GGUF)',
  help: `Usage: pxi run MODEL -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]
               [--repeat-penalty R] [--seed S] [-c N] [--stop S]... [--ignore-eos] [--json]
               [--lora ADAPTER.gguf|NAME [--lora-scale X]] [--gpu-memory SIZE] [--verbose]

Loads MODEL (llama, Mistral, SmolLM, Llama 3, qwen2, qwen3, phi3, gemma2 or gemma3; F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K,
Q5_K, Q6_K, IQ4_NL or IQ4_XS weights, mixed freely) onto WebGPU
through Dawn: a GGUF file, or the id or name of a model imported with pxi import (its weights
are read from the volume's pixel tiles, every tile checksum-verified). Then it runs the prompt (BOS added as the model asks) and streams the continuation to
stdout, after the prompt. Prefill and decode speed (tokens/s) and the stop reason go to
stderr. Greedy (--temp 0) gives the text llama.cpp gives for the same file and prompt.
Sampling follows llama.cpp's order: repeat penalty, top-k, top-p, min-p, temperature.

Options:
  -p, --prompt TEXT      the prompt (required)
${MODEL_HELP}
${SAMPLING_HELP.replace('DEFAULT_N', '128')}
  --stop S               stop before the text S (repeatable; S is not printed)
  --ignore-eos           keep generating past end-of-generation tokens
  --json                 print one JSON object when done (text, tokens, stop reason, timings)
                         instead of streaming
  -h, --help             show this help

Exit codes: 0 done, 1 failed (no WebGPU, unsupported model, context window exceeded: the
prompt and the tokens asked for must fit -c), 2 usage error, 130 interrupted (Ctrl-C stops
generating; what was generated stays printed).`,
  async run(argv, io) {
    const { values, positionals } = parseOptions(
      argv,
      {
        prompt: { type: 'string', short: 'p' },
        stop: { type: 'string', multiple: true },
        'ignore-eos': { type: 'boolean' },
        json: { type: 'boolean' },
        ...MODEL_FLAGS,
        ...SAMPLING_FLAGS,
      },
      true,
    );
    const path = modelArg(positionals, 'run');
    if (values.prompt === undefined) throw new UsageError('-p/--prompt is required');
    const args = samplingArgs(values, 128);
    if (values.stop?.some((s) => s === '')) throw new UsageError('--stop needs a non-empty string');

    const gpuMemory = parseSize(values['gpu-memory'], '--gpu-memory');
    const m = await loadForCli(path, args.contextLength, io, values.volume, loraArgs(values), values.verbose ?? false, gpuMemory);
    try {
      // A budgeted load's plan is a decision the Dashboard shows; the run below confirms it.
      const residency = gpuMemory === undefined ? null : await recordResidency(m, 'pxi run', new Date(), io);
      const abort = new AbortController();
      void io.interrupted.then(() => abort.abort());
      const prompt = m.tokenizer.encode(values.prompt);
      const opts: GenerateOptions = {
        ...args.sampler,
        maxTokens: args.maxTokens,
        stop: values.stop ?? [],
        ignoreEos: values['ignore-eos'] ?? false,
        signal: abort.signal,
      };
      // Fail before printing anything when prompt + tokens cannot fit the context. The last
      // generated token is never fed back, so -n tokens take n - 1 positions after the prompt.
      const positions = prompt.length + args.maxTokens - 1;
      if (positions > m.model.contextLength) {
        throw new ContextWindowExceededError(
          positions,
          m.model.contextLength,
          `positions (${prompt.length} of prompt + ${args.maxTokens} to generate, the last of which is not fed back)`,
        );
      }
      const write = (t: string) => void process.stdout.write(t);
      if (!values.json) write(values.prompt);
      const result = await streamTo(generateStream(m.model, m.tokenizer, prompt, opts), values.json ? () => undefined : write);
      await confirmResidency(residency, result.timings, io);
      if (values.json) {
        io.out(
          JSON.stringify({
            model: path,
            prompt: values.prompt,
            promptTokens: prompt,
            text: result.text,
            tokens: result.tokens,
            stopReason: result.stopReason,
            seed: args.sampler.seed,
            timings: result.timings,
          }),
        );
      } else {
        write('\n');
        io.err(`${timingLine(result.timings, result.stopReason)} · seed ${args.sampler.seed}`);
      }
      // The KV cache takes its pages as the tokens come: the ledger again, with them.
      if (values.verbose) for (const line of ledgerLines(m.ctx.ledger, 8, ' after generating')) io.err(line);
      return result.stopReason === 'aborted' ? EXIT.INTERRUPTED : EXIT.OK;
    } finally {
      await m.close();
    }
  },
};
