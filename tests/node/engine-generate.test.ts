/**
 * Generation logic without a GPU: a CPU stand-in model whose next token follows a script drives
 * generate() / generateStream() / ChatSession with the real stories260K tokenizer. Also the
 * engine's pure pieces: the GGUF tensor source, row-split planning, the RoPE table, the
 * activation rounding the parity tests emulate llama.cpp with.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { memorySource } from '../../shared/binary/byte-source';
import { ChatSession } from '../../shared/engine/chat';
import { EngineError } from '../../shared/engine/errors';
import { generate, generateStream, StopStringFilter, type GenerationModel } from '../../shared/engine/generate';
import type { ForwardOutput, ForwardResult } from '../../shared/engine/model';
import { llamaRopeInvFreq } from '../../shared/engine/model';
import { roundActivations } from '../../shared/engine/reference/forward';
import { checkTensorRange, openGgufTensorSource } from '../../shared/engine/tensor-source';
import { paddedWeightBytes, planRowParts } from '../../shared/engine/weights';
import { checkContextWindow, ContextWindowExceededError, ModelTooLargeError } from '../../shared/gpu';
import { parseGgufBytes } from '../../shared/gguf';
import { tokenizerFromGguf } from '../../shared/tokenizer';
import { fixturePath } from '../support/fixtures';

const storiesBytes = new Uint8Array(readFileSync(fixturePath('models', 'stories260K.gguf')));
const tk = tokenizerFromGguf(parseGgufBytes(storiesBytes, 'stories260K.gguf').metadata);
const V = tk.size;
const EOS = tk.eos!;
const BOS = tk.bos!;

/**
 * A model on the CPU: the logits put `hi` on the token the script names for the current cache
 * length (and `lo` on every other), so greedy decoding reproduces the script.
 */
class ScriptedModel implements GenerationModel {
  readonly vocabSize = V;
  history: number[] = [];
  calls: { tokens: number[]; output: ForwardOutput }[] = [];

  constructor(
    private readonly next: (history: readonly number[]) => number | Float32Array,
    readonly contextLength = 64,
  ) {}

  get tokens(): readonly number[] {
    return this.history;
  }

  rewind(n: number): void {
    this.history.length = n;
  }

  forward(tokens: readonly number[], output: ForwardOutput): Promise<ForwardResult> {
    checkContextWindow(this.history.length, tokens.length, this.contextLength);
    this.calls.push({ tokens: [...tokens], output });
    this.history.push(...tokens);
    const n = this.next(this.history);
    let logits: Float32Array;
    if (typeof n === 'number') {
      logits = new Float32Array(V).fill(-5);
      logits[n] = 5;
    } else logits = n;
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i]! > logits[best]!) best = i;
    return Promise.resolve(output === 'argmax' ? { logits: null, token: best } : { logits, token: null });
  }
}

/** A script that emits `ids` after the prompt, then EOS. */
function scripted(promptLength: number, ids: number[], ctx?: number): ScriptedModel {
  return new ScriptedModel((h) => ids[h.length - promptLength] ?? EOS, ctx);
}

const words = (s: string) => tk.encode(s, { addSpecial: false });
const greedy = { temperature: 0 };

describe('generate', () => {
  it('streams greedy tokens from the GPU argmax, with text that adds up, and stops at EOS', async () => {
    const story = words('there was a little girl named Lily.');
    const prompt = [BOS, ...words('Once upon a time,')];
    const m = scripted(prompt.length, story);
    const chunks: string[] = [];
    const r = await generate(m, tk, prompt, { ...greedy, onToken: (c) => chunks.push(c.text) });
    expect(r.tokens).toEqual(story);
    expect(r.stopReason).toBe('eos');
    expect(r.text).toBe(' there was a little girl named Lily.');
    expect(chunks.join('') + r.tail).toBe(r.text);
    expect(chunks).toHaveLength(story.length);
    // One prefill, then one single-token pass per token but the last (EOS needs no pass after it).
    expect(m.calls[0]).toEqual({ tokens: prompt, output: 'argmax' });
    expect(m.calls.slice(1).map((c) => c.tokens)).toEqual(story.map((t) => [t]));
    expect(r.timings.promptTokens).toBe(prompt.length);
    expect(r.timings.decodeTokens).toBe(story.length);
  });

  it('reads logits and samples on the CPU when not greedy or with a repetition penalty', async () => {
    for (const o of [{ temperature: 0.7 }, { temperature: 0, repeatPenalty: 1.3 }]) {
      const m = scripted(1, words(' a cat'));
      await generate(m, tk, [BOS], o);
      expect(new Set(m.calls.map((c) => c.output))).toEqual(new Set(['last']));
    }
  });

  it('goes past EOS with ignoreEos and stops at maxTokens', async () => {
    const m = scripted(1, words('a'));
    const r = await generate(m, tk, [BOS], { ...greedy, ignoreEos: true, maxTokens: 5 });
    expect(r.stopReason).toBe('length');
    expect(r.tokens).toHaveLength(5);
    expect(r.tokens.slice(1)).toEqual([EOS, EOS, EOS, EOS]);
    expect(m.calls).toHaveLength(5); // prefill + 4 decodes: the 5th token is never run
    const zero = await generate(scripted(1, words(' a')), tk, [BOS], { ...greedy, maxTokens: 0 });
    expect(zero).toMatchObject({ tokens: [], text: '', stopReason: 'length' });
  });

  it('stops before a stop string that spans tokens and never streams any part of it', async () => {
    const story = words('the dog ran home. The end. More text');
    const m = scripted(1, story);
    const chunks: string[] = [];
    const r = await generate(m, tk, [BOS], { ...greedy, stop: ['The end', 'zebra'], onToken: (c) => chunks.push(c.text) });
    expect(r.stopReason).toBe('stop');
    expect(r.text).toBe(' the dog ran home. ');
    expect(chunks.join('') + r.tail).toBe(r.text);
    expect(chunks.join('')).not.toContain('The');
  });

  it('StopStringFilter holds back only what could still become a stop string', () => {
    const f = new StopStringFilter(['</s>', 'END']);
    expect(f.push('abc<')).toBe('abc');
    expect(f.push('/x')).toBe('</x');
    expect(f.push('E')).toBe('');
    expect(f.push('N')).toBe('');
    expect(f.push('d')).toBe('ENd');
    expect(f.push('yo </')).toBe('yo ');
    expect(f.push('s> tail')).toBe('');
    expect(f.stopped).toBe(true);
    expect(f.push('more')).toBe('');
    const g = new StopStringFilter(['xyz']);
    expect(g.push('ab xy')).toBe('ab ');
    expect(g.flush()).toBe('xy');
    expect(() => new StopStringFilter([''])).toThrow(EngineError);
  });

  it('holds back a split UTF-8 character until it is complete', async () => {
    // stories260K has no piece for "ï": it is spelled with the byte tokens <0xC3> <0xAF>.
    const ids = words('naïve');
    const at = ids.findIndex((id) => tk.tokenText(id) === '<0xC3>');
    expect(tk.tokenText(ids[at + 1]!)).toBe('<0xAF>');
    const texts: string[] = [];
    const r = await generate(scripted(1, ids), tk, [BOS], { ...greedy, onToken: (c) => texts.push(c.text) });
    expect(r.text).toBe(' naïve');
    expect(texts[at]).toBe('');
    expect(texts[at + 1]).toBe('ï');
  });

  it('returns with stopReason aborted when the signal fires, keeping what was generated', async () => {
    const ac = new AbortController();
    const m = scripted(1, words(' one two three four five six'));
    const r = await generate(m, tk, [BOS], { ...greedy, signal: ac.signal, onToken: (c) => c.index === 2 && ac.abort() });
    expect(r.stopReason).toBe('aborted');
    expect(r.tokens).toHaveLength(3);
    const pre = new AbortController();
    pre.abort();
    const none = scripted(1, words(' one'));
    expect((await generate(none, tk, [BOS], { signal: pre.signal })).stopReason).toBe('aborted');
    expect(none.calls).toHaveLength(0);
  });

  it('refuses a prompt that does not fit the context before running anything', async () => {
    const m = scripted(1, words(' a'), 4);
    await expect(generate(m, tk, [BOS, 5, 6, 7, 8], greedy)).rejects.toBeInstanceOf(ContextWindowExceededError);
    expect(m.calls).toHaveLength(0);
    await expect(generate(m, tk, [], greedy)).rejects.toThrow(/prompt is empty/);
  });

  it('at the context limit throws ContextWindowExceededError, or stops when asked', async () => {
    const many = words(' one two three four five six seven eight nine ten eleven twelve');
    const a = scripted(3, many, 10);
    const chunks: number[] = [];
    const err = await generate(a, tk, [BOS, 5, 6], { ...greedy, onToken: (c) => chunks.push(c.token) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContextWindowExceededError);
    expect((err as ContextWindowExceededError).max).toBe(10);
    expect(chunks).toHaveLength(8); // 3 prompt + 7 run = 10 in the cache; the 8th token has no room
    const b = scripted(3, many, 10);
    const r = await generate(b, tk, [BOS, 5, 6], { ...greedy, onContextFull: 'stop' });
    expect(r.stopReason).toBe('context');
    expect(r.tokens).toEqual(many.slice(0, 8));
    expect(b.history).toHaveLength(10);
  });

  it('samples reproducibly from a seed, and differently from another seed', async () => {
    const flat = () => new Float32Array(V).fill(0); // uniform: every token equally likely
    const run = async (seed: number) =>
      (await generate(new ScriptedModel(flat), tk, [BOS], { temperature: 1, topK: 0, topP: 1, minP: 0, seed, maxTokens: 12, ignoreEos: true })).tokens;
    expect(await run(42)).toEqual(await run(42));
    expect(await run(42)).not.toEqual(await run(43));
    // top-k 1 leaves one candidate whatever the temperature: the argmax.
    const skew = () => Float32Array.from({ length: V }, (_, i) => (i === 77 ? 1 : 0));
    const k1 = await generate(new ScriptedModel(skew), tk, [BOS], { temperature: 5, topK: 1, seed: 1, maxTokens: 4, ignoreEos: true });
    expect(k1.tokens).toEqual([77, 77, 77, 77]);
  });

  it('reports prefill and decode speed from its clock', async () => {
    let clock = 0;
    const m = scripted(2, words('a b c'));
    const slow: GenerationModel = {
      vocabSize: V,
      contextLength: 64,
      get tokens() {
        return m.tokens;
      },
      forward: async (t, o) => {
        clock += t.length > 1 ? 100 : 10; // prefill 100 ms, each decode 10 ms
        return m.forward(t, o);
      },
    };
    const r = await generate(slow, tk, [BOS, 9], { ...greedy, now: () => clock });
    expect(r.timings).toMatchObject({ promptTokens: 2, prefillMs: 100, prefillTokensPerSecond: 20, decodeTokens: 3, decodeMs: 30 });
    expect(r.timings.decodeTokensPerSecond).toBeCloseTo(100, 6);
  });

  it('generateStream yields chunks and returns the result', async () => {
    const it = generateStream(scripted(1, words(' hi there')), tk, [BOS], greedy);
    const seen: number[] = [];
    let res;
    for (;;) {
      const n = await it.next();
      if (n.done) {
        res = n.value;
        break;
      }
      seen.push(n.value.token);
    }
    expect(seen).toEqual(res.tokens);
    expect(res.stopReason).toBe('eos');
  });
});

describe('ChatSession', () => {
  const template =
    "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

  it('renders the template, reuses the cached prefix and keeps the history', async () => {
    const m = new ScriptedModel((h) => (h.length % 5 === 0 ? EOS : words(' yes')[0]!));
    const chat = new ChatSession(Object.assign(m, {}), tk, template, 'be brief');
    const first = chat.promptTokens('hello');
    expect(first[0]).toBe(BOS);
    expect(first.filter((t) => t === BOS)).toHaveLength(1); // the template wrote BOS; not added twice
    expect(tk.decode(first)).toBe('system: be brief\nuser: hello\nassistant:');
    const r1 = await (async () => {
      const it = chat.send('hello', greedy);
      for (;;) {
        const n = await it.next();
        if (n.done) return n.value;
      }
    })();
    expect(m.calls[0]!.tokens).toEqual(first);
    const ids2 = chat.promptTokens('and then?');
    const calls1 = m.calls.length;
    const it2 = chat.send('and then?', greedy);
    while (!(await it2.next()).done);
    // The second turn ran only the part of its prompt the cache did not hold: at least the first prompt was reused.
    const ran = m.calls[calls1]!.tokens;
    expect(ids2.slice(ids2.length - ran.length)).toEqual(ran);
    expect(ids2.length - ran.length).toBeGreaterThanOrEqual(first.length);
    expect(m.history.slice(0, ids2.length)).toEqual(ids2);
    expect(chat.messages.map((x) => x.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant']);
    expect(chat.messages[2]!.content).toBe(r1.text);
  });

  it('refuses a model without a chat template', () => {
    expect(() => new ChatSession(new ScriptedModel(() => EOS), tk, undefined)).toThrow(/no chat template/);
  });
});

describe('engine building blocks', () => {
  it('reads tensors of a GGUF by name and refuses reads outside them', async () => {
    const src = await openGgufTensorSource(memorySource(storiesBytes), 'stories260K.gguf');
    const h = parseGgufBytes(storiesBytes, 'stories260K.gguf');
    const t = h.tensors.find((x) => x.name === 'blk.2.ffn_up.weight')!;
    const got = await src.read(t.name, 100, 64);
    expect([...got]).toEqual([...storiesBytes.subarray(t.offset + 100, t.offset + 164)]);
    await expect(src.read(t.name, t.byteSize - 4, 8)).rejects.toThrow(/outside tensor "blk.2.ffn_up.weight"/);
    await expect(src.read('nope.weight', 0, 4)).rejects.toMatchObject({ code: 'ENGINE_TENSOR_READ' });
    expect(() => checkTensorRange(src.header, t.name, -1, 4)).toThrow(EngineError);
  });

  it('splits a tensor into as few even row parts as fit a binding', () => {
    expect(planRowParts('w', 512, 256, 1 << 20)).toEqual([{ rowStart: 0, rows: 512 }]);
    const parts = planRowParts('w', 1000, 210, 64 * 1024);
    expect(parts.reduce((s, p) => s + p.rows, 0)).toBe(1000);
    expect(parts.map((p) => p.rowStart)).toEqual(parts.map((_, i) => i * parts[0]!.rows));
    for (const p of parts) expect(paddedWeightBytes(p.rows * 210)).toBeLessThanOrEqual(64 * 1024);
    expect(parts).toHaveLength(Math.ceil((1000 * 210) / (64 * 1024 - 20)));
    expect(() => planRowParts('huge.weight', 4, 5000, 4096)).toThrow(ModelTooLargeError);
  });

  it('forms RoPE frequencies as llama.cpp does, with zeros past a partial rotation', () => {
    const f = llamaRopeInvFreq(8, 8, 10000);
    expect(f[0]).toBe(1);
    for (let i = 0; i < 4; i++) expect(f[i]! / Math.pow(10000, -i / 4)).toBeCloseTo(1, 6);
    expect([...llamaRopeInvFreq(8, 4, 10000)].slice(2)).toEqual([0, 0]);
  });

  it('rounds activations like llama.cpp: f16, and Q8 blocks with 255 levels at most', () => {
    const x = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i * 0.37) * (1 + i / 64));
    const h = roundActivations(x, 'f16');
    for (let i = 0; i < x.length; i++) expect(Math.abs(h[i]! - x[i]!)).toBeLessThanOrEqual(Math.abs(x[i]!) * 2 ** -11);
    for (const [mode, block] of [['q8_0', 32], ['q8_k', 256]] as const) {
      const q = roundActivations(x, mode);
      for (let b = 0; b < 256; b += block) {
        const amax = Math.max(...x.subarray(b, b + block).map(Math.abs));
        // Half a step, plus Q8_0's f16 rounding of its scale (127 · 2^-11 of a step).
        for (let j = b; j < b + block; j++) expect(Math.abs(q[j]! - x[j]!)).toBeLessThanOrEqual((amax / 127) * 0.57);
        expect(new Set(q.subarray(b, b + block)).size).toBeLessThanOrEqual(255);
      }
    }
    expect(roundActivations(x, 'none')).toBe(x);
  });
});
