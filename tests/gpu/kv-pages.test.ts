/**
 * The paged KV cache (shared/engine/kv-pages.ts): the cache takes whole pages as the context
 * fills and gives them back when a conversation ends, so its bytes in the allocation ledger
 * follow the tokens held, not the context; the logits are the same bit for bit as with the whole
 * context in one page (the layout before paging), across many page boundaries, through growth
 * and a trim; and a conversation's next turn computes only the tokens the cache lacks.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChatSession } from '../../shared/engine/chat';
import { KV_PAGE_POSITIONS } from '../../shared/engine/kv-pages';
import type { Model } from '../../shared/engine/model';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { chatTemplateFromGguf } from '../../shared/tokenizer';
import { fixturePath } from '../support/fixtures';
import { useGpu } from '../support/gpu';
import { loadBytes } from '../node/engine-support';

const g = useGpu();

const stories = () => new Uint8Array(readFileSync(fixturePath('models', 'stories260K.gguf')));
const kvLedgerBytes = () => g.ctx!.ledger.byKind()['kv-cache'].bytes;

function firstDifference(a: Float32Array, b: Float32Array): string | null {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `logit ${i}: paged ${a[i]}, one page ${b[i]}`;
  return a.length === b.length ? null : `lengths ${a.length} and ${b.length}`;
}

/**
 * One script of passes, every logit kept: a prefill, single-token decodes, a second prefill, a
 * rewind into the middle (with `trim`, the pages past it go back first) and more decodes.
 */
async function script(m: Model, ids: number[], trim: boolean): Promise<{ logits: Float32Array[]; pages: number[] }> {
  const logits: Float32Array[] = [];
  const pages: number[] = [];
  const pass = async (t: number[], out: 'all' | 'last') => {
    logits.push((await m.forward(t, out)).logits!);
    pages.push(m.kvPages.pages);
  };
  await pass(ids.slice(0, 10), 'all');
  for (const id of ids.slice(10, 18)) await pass([id], 'last');
  await pass(ids.slice(18, 25), 'all');
  m.rewind(6);
  if (trim) await m.releaseKv();
  pages.push(m.kvPages.pages);
  for (const id of ids.slice(25, 31)) await pass([id], 'last');
  return { logits, pages };
}

async function samePagedAsOnePage(bytes: Uint8Array, name: string): Promise<void> {
  const contextLength = 40;
  // Pages of 4 positions (and prefill batches of 3) cross a page boundary every few tokens.
  const paged = await loadBytes(g.ctx!, bytes, name, { contextLength, kvPageSize: 4, maxBatch: 3 });
  const whole = await loadBytes(g.ctx!, bytes, name, { contextLength, kvPageSize: contextLength, maxBatch: 3 });
  try {
    const ids = paged.tokenizer.encode('Once upon a time, a small fox found a red kite in the tall grass and ran with it to the river.');
    while (ids.length < 31) ids.push(...ids.slice(1));
    const a = await script(paged.model, ids, true);
    const b = await script(whole.model, ids, false);
    expect(a.logits.length).toBe(b.logits.length);
    for (const [i, l] of a.logits.entries()) expect(firstDifference(l, b.logits[i]!), `${name} pass ${i}`).toBeNull();
    // Not vacuous: the pages grew pass by pass and the trim gave some back; the logits vary.
    expect(a.pages.slice(0, 3)).toEqual([3, 3, 3]);
    expect(Math.max(...a.pages)).toBe(7);
    expect(a.pages[10]).toBe(2); // after rewind(6) and releaseKv: ceil(6 / 4)
    expect(b.pages.every((p) => p === 1)).toBe(true);
    expect(new Set(a.logits[0]!.slice(0, 64)).size).toBeGreaterThan(8);
  } finally {
    paged.model.destroy();
    whole.model.destroy();
  }
}

describe('paged KV cache', () => {
  it('gives the same logits bit for bit as one whole-context page: stories260K', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    await samePagedAsOnePage(stories(), 'stories260K.gguf');
  });

  for (const [preset, type] of [
    ['tiny-llama', 'Q4_K'],
    ['tiny-qwen2', 'Q8_0'],
    ['tiny-gemma2', 'F32'],
    ['tiny-phi3', 'F16'],
  ] as const) {
    it(`gives the same logits bit for bit as one whole-context page: generated ${preset} ${type}`, async (t) => {
      if (!g.ctx) return t.skip(g.reason);
      const bytes = await generateModelBytes(planModel({ preset, type, seed: 3, method: 'direct' }));
      await samePagedAsOnePage(bytes, `${preset}-${type}.gguf`);
    });
  }

  it('holds in the ledger only the pages the tokens need, never past the context, and none after the conversation', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const bytes = await generateModelBytes(planModel({ preset: 'tiny-llama', type: 'Q8_0', seed: 1, method: 'direct' }));
    const before = kvLedgerBytes();
    const { model } = await loadBytes(g.ctx, bytes, 'tiny-llama.gguf', { contextLength: 20, kvPageSize: 8 });
    try {
      const perPosition = model.kvBytesPerToken;
      const c = model.config;
      expect(perPosition).toBe(2 * c.blockCount * c.headCountKv * c.headDim * 4);
      const held = () => kvLedgerBytes() - before;
      const check = (positions: number, pages: number) => {
        expect(held(), `ledger at ${model.position} tokens`).toBe(positions * perPosition);
        expect(model.memory.kvCache).toBe(positions * perPosition);
        expect(model.kvPages).toEqual({ pageSize: 8, pages, capacity: positions });
      };
      check(0, 0); // loaded: no page yet
      await model.forward([1, 2, 3], 'none');
      check(8, 1);
      for (let i = 0; i < 6; i++) await model.forward([4 + i], 'none'); // 9 tokens
      check(16, 2);
      await model.forward([20, 21, 22, 23, 24, 25, 26, 27], 'none'); // 17 tokens: the third page stops at the context
      check(20, 3);
      expect(
        g.ctx.ledger
          .entries()
          .filter((e) => e.kind === 'kv-cache')
          .map((e) => e.label)
          .sort(),
      ).toEqual(Array.from({ length: c.blockCount }, (_, b) => [`blk.${b}.kv.k`, `blk.${b}.kv.v`]).flat().sort());
      model.rewind(5); // a turn's rewind keeps the pages
      check(20, 3);
      await model.releaseKv();
      check(8, 1);
      await model.forward([1], 'none');
      check(8, 1);
      model.rewind(0); // the conversation ends
      check(0, 0);
    } finally {
      model.destroy();
    }
    expect(kvLedgerBytes()).toBe(before);
  });

  it(`a ${4096}-token context holds pages of ${KV_PAGE_POSITIONS} positions as it fills, not the whole context (stories260K)`, async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const before = kvLedgerBytes();
    const { model } = await loadBytes(g.ctx, stories(), 'stories260K.gguf', { contextLength: 4096 });
    try {
      expect(kvLedgerBytes() - before).toBe(0);
      const ids = Array.from({ length: 300 }, (_, i) => 1 + (i % 500));
      await model.forward(ids, 'none');
      expect(kvLedgerBytes() - before).toBe(2 * KV_PAGE_POSITIONS * model.kvBytesPerToken);
      expect(model.kvBytesPerToken * 4096).toBeGreaterThan(kvLedgerBytes() - before);
    } finally {
      model.destroy();
    }
  });

  it("a conversation's next turn computes only the tokens the cache lacks (the app's path: the session rebuilt from the history)", async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const bytes = await generateModelBytes(planModel({ preset: 'tiny-qwen2', type: 'Q8_0', seed: 2, method: 'direct' }));
    const { model, tokenizer, source } = await loadBytes(g.ctx, bytes, 'tiny-qwen2.gguf', { contextLength: 256, kvPageSize: 16 });
    try {
      const template = chatTemplateFromGguf(source.header.metadata, 'tiny-qwen2.gguf');
      const opts = { temperature: 0, maxTokens: 12 };
      const history: { role: 'user' | 'assistant'; content: string }[] = [];
      const turn = async (user: string) => {
        // As renderer/src/engine/engine.worker.ts does each turn: a new session over the history.
        const session = new ChatSession(model, tokenizer, template, 'Be brief.');
        session.messages.push(...history);
        const prompt = session.promptTokens(user);
        const cached = [...model.tokens];
        let shared = 0;
        while (shared < cached.length && shared < prompt.length && cached[shared] === prompt[shared]) shared++;
        const computedBefore = model.tokensComputed;
        const it = session.send(user, opts);
        let r = await it.next();
        while (!r.done) r = await it.next();
        history.push({ role: 'user', content: user }, { role: 'assistant', content: r.value.text });
        return { prompt, shared, computed: model.tokensComputed - computedBefore, generated: r.value.tokens.length, stopReason: r.value.stopReason };
      };
      const first = await turn('Tell me about the fox.');
      expect(first.shared).toBe(0);
      // The prompt, then every generated token but the last (nothing needs its logits).
      const decoded = (x: { generated: number; stopReason: string }) => (x.stopReason === 'eos' ? x.generated : x.generated - 1);
      expect(first.computed).toBe(first.prompt.length + decoded(first));
      const second = await turn('And then?');
      // The second prompt starts with the whole first one; the cache held it and more.
      expect(second.prompt.slice(0, first.prompt.length)).toEqual(first.prompt);
      expect(second.shared).toBeGreaterThanOrEqual(first.prompt.length);
      expect(second.computed).toBe(second.prompt.length - second.shared + decoded(second));
      expect(second.computed).toBeLessThan(second.prompt.length);
    } finally {
      model.destroy();
    }
  });
});
