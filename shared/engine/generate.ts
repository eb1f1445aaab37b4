/**
 * Text generation over a model: prefill the prompt, then decode one token at a time, streaming
 * each token with its text (incremental UTF-8 detokenisation; text that could begin a stop
 * string is held back until it cannot). Stops on an end-of-generation token, a stop string,
 * maxTokens, the caller's AbortSignal, or the context limit (ContextWindowExceededError, or
 * stopReason 'context' when asked). Greedy decoding without penalties takes the argmax on the
 * GPU (8 bytes read back per token); anything else reads the logits and samples on the CPU
 * (sampling.ts: penalties → top-k → top-p → min-p → temperature, seeded).
 */
import { checkContextWindow, ContextWindowExceededError } from '../gpu';
import type { Tokenizer } from '../tokenizer';
import { EngineError } from './errors';
import type { GenerationTimings, StopReason } from './outcome';

export { STOP_REASONS, type GenerationTimings, type StopReason } from './outcome';
import type { ForwardOutput, ForwardResult } from './model';
import { Sampler, type SamplerOptions } from './sampling';

/** What generation needs of a model (Model implements it; tests may use a CPU stand-in). */
export interface GenerationModel {
  readonly vocabSize: number;
  readonly contextLength: number;
  /** Most tokens one forward pass runs at once (Model's maxBatch); a prompt longer is run in batches of it. */
  readonly maxBatch?: number;
  /** Tokens in the KV cache, in order (the penalties look back over them). */
  readonly tokens: readonly number[];
  forward(tokens: readonly number[], output: ForwardOutput): Promise<ForwardResult>;
}

export type GenerationTokenizer = Pick<Tokenizer, 'isEog' | 'createStreamDecoder'>;

export interface GenerateOptions extends SamplerOptions {
  /** Most tokens to generate (default 256). */
  maxTokens?: number;
  /** Strings that end generation; the text stops before the first one found (it is not included). */
  stop?: readonly string[];
  /** Generate past end-of-generation tokens (benchmarks). */
  ignoreEos?: boolean;
  signal?: AbortSignal;
  /** At the context limit: 'error' (default) throws ContextWindowExceededError, 'stop' ends with stopReason 'context'. */
  onContextFull?: 'error' | 'stop';
  /**
   * Called as the prompt is prefilled: tokens the GPU has finished of the prompt's total, after
   * each batch of `maxBatch` tokens (only for a prompt longer than one batch).
   */
  onPrefill?: (done: number, total: number) => void;
  /** Called with every generated token (generate() only; generateStream yields them). */
  onToken?: (chunk: GenerationChunk) => void;
  /** Clock in ms (default performance.now). */
  now?: () => number;
}

export interface GenerationChunk {
  /** 0-based index among the generated tokens. */
  index: number;
  token: number;
  /** Text that became final with this token (may be empty: a partial character, a possible stop string). */
  text: string;
}

export interface GenerationResult {
  /** Generated tokens (an end-of-generation token that stopped it is not included). */
  tokens: number[];
  text: string;
  /** The end of `text` that no chunk carried (held back for a possible stop string or a partial character): a streaming caller prints it last. */
  tail: string;
  stopReason: StopReason;
  timings: GenerationTimings;
}

/**
 * Holds back the end of the text while it could still become a stop string. push() returns the
 * text that is final; after a match, `stopped` is true and the text before the match is returned.
 */
export class StopStringFilter {
  private pending = '';
  stopped = false;

  constructor(private readonly stops: readonly string[]) {
    for (const s of stops) if (s.length === 0) throw new EngineError('ENGINE_BAD_OPTION', 'stop strings must not be empty', { field: 'stop' });
  }

  push(text: string): string {
    if (this.stopped) return '';
    const buf = this.pending + text;
    let at = -1;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) {
      this.stopped = true;
      this.pending = '';
      return buf.slice(0, at);
    }
    // Keep the longest tail that is a proper prefix of some stop string.
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, buf.length); n > keep; n--) {
        if (buf.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    this.pending = buf.slice(buf.length - keep);
    return buf.slice(0, buf.length - keep);
  }

  /** The held-back text, at the end of generation. */
  flush(): string {
    const t = this.stopped ? '' : this.pending;
    this.pending = '';
    return t;
  }
}

function checkOptions(o: GenerateOptions): number {
  const maxTokens = o.maxTokens ?? 256;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) {
    throw new EngineError('ENGINE_BAD_OPTION', `maxTokens must be a non-negative integer, got ${maxTokens}`, { field: 'maxTokens', value: maxTokens });
  }
  return maxTokens;
}

/**
 * Generates after `prompt` (token ids appended at the model's current position; include BOS
 * when the model wants one), yielding each token as it is decided and returning the result.
 */
export async function* generateStream(
  model: GenerationModel,
  tokenizer: GenerationTokenizer,
  prompt: readonly number[],
  opts: GenerateOptions = {},
): AsyncGenerator<GenerationChunk, GenerationResult, void> {
  const maxTokens = checkOptions(opts);
  const sampler = new Sampler(opts);
  const so = sampler.options;
  const greedyOnGpu = so.temperature <= 0 && (so.repeatPenalty === 1 || so.repeatLastN === 0) && so.frequencyPenalty === 0 && so.presencePenalty === 0;
  const mode: ForwardOutput = greedyOnGpu ? 'argmax' : 'last';
  const now = opts.now ?? (() => performance.now());
  const stops = new StopStringFilter(opts.stop ?? []);
  const decoder = tokenizer.createStreamDecoder();
  if (prompt.length === 0) throw new EngineError('ENGINE_BAD_OPTION', 'the prompt is empty: generation needs at least one token (BOS)', { field: 'prompt' });

  const tokens: number[] = [];
  let text = '';
  let stopReason: StopReason = 'length';
  let decodeMs = 0;
  let decodeTokens = 0;
  const t0 = now();
  let prefillMs = 0;
  const timings = (): GenerationTimings => ({
    promptTokens: prompt.length,
    prefillMs,
    prefillTokensPerSecond: prefillMs > 0 ? (prompt.length * 1000) / prefillMs : 0,
    decodeTokens,
    decodeMs,
    decodeTokensPerSecond: decodeMs > 0 ? (decodeTokens * 1000) / decodeMs : 0,
  });

  if (opts.signal?.aborted) return { tokens, text, tail: '', stopReason: 'aborted', timings: timings() };
  // Throws ContextWindowExceededError before any work when the prompt does not fit.
  let r = await prefill(model, prompt, mode, opts.onPrefill);
  prefillMs = now() - t0;

  while (tokens.length < maxTokens) {
    const next = greedyOnGpu ? r.token! : sampler.sample(r.logits!, model.tokens);
    if (!opts.ignoreEos && tokenizer.isEog(next)) {
      stopReason = 'eos';
      break;
    }
    tokens.push(next);
    const piece = stops.push(decoder.push(next));
    text += piece;
    yield { index: tokens.length - 1, token: next, text: piece };
    if (stops.stopped) {
      stopReason = 'stop';
      break;
    }
    if (tokens.length >= maxTokens) break;
    if (opts.signal?.aborted) {
      stopReason = 'aborted';
      break;
    }
    if (model.tokens.length + 1 > model.contextLength) {
      if (opts.onContextFull === 'stop') {
        stopReason = 'context';
        break;
      }
      throw new ContextWindowExceededError(model.tokens.length + 1, model.contextLength);
    }
    const t = now();
    r = await model.forward([next], mode);
    decodeMs += now() - t;
    decodeTokens++;
  }
  let tail = '';
  if (!stops.stopped) {
    // A partial character at the very end comes out as U+FFFD, as llama.cpp prints it.
    tail = stops.push(decoder.flush());
    if (stops.stopped) stopReason = 'stop';
    tail += stops.flush();
    text += tail;
  }
  return { tokens, text, tail, stopReason, timings: timings() };
}

/**
 * The prompt's forward pass. With a progress callback and a prompt longer than one batch, the
 * batches the model would run inside one forward() are run one forward() each (the same passes
 * at the same positions, so the same results), each but the last waiting for the GPU ('none'
 * syncs), so that what is reported is work done.
 */
async function prefill(model: GenerationModel, prompt: readonly number[], mode: ForwardOutput, onPrefill: GenerateOptions['onPrefill']): Promise<ForwardResult> {
  const batch = model.maxBatch ?? 0;
  if (!onPrefill || batch <= 0 || prompt.length <= batch) return model.forward(prompt, mode);
  checkContextWindow(model.tokens.length, prompt.length, model.contextLength);
  onPrefill(0, prompt.length);
  let start = 0;
  for (; start + batch < prompt.length; start += batch) {
    await model.forward(prompt.slice(start, start + batch), 'none');
    onPrefill(start + batch, prompt.length);
  }
  const r = await model.forward(prompt.slice(start), mode);
  onPrefill(prompt.length, prompt.length);
  return r;
}

/** generateStream, consumed: `onToken` sees each chunk; resolves to the result. */
export async function generate(
  model: GenerationModel,
  tokenizer: GenerationTokenizer,
  prompt: readonly number[],
  opts: GenerateOptions = {},
): Promise<GenerationResult> {
  const it = generateStream(model, tokenizer, prompt, opts);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
    opts.onToken?.(r.value);
  }
}
