/** The Chat's context-length setting (renderer/src/views/chat/context-setting.ts): parsing, the memory line, keeping it. */
import { describe, expect, it } from 'vitest';
import { CONTEXT_KEY, keepContextLength, kvCacheText, parseContextLength, readContextLength } from '../../renderer/src/views/chat/context-setting';

describe('context-length setting', () => {
  it('parses empty as the model default, whole numbers in range, and refuses the rest with the value', () => {
    expect(parseContextLength('')).toEqual({ value: null });
    expect(parseContextLength(' 256 ')).toEqual({ value: 256 });
    expect(parseContextLength('16')).toEqual({ value: 16 });
    expect(parseContextLength('15')).toEqual({ error: expect.stringContaining('got 15') });
    expect(parseContextLength('2000000')).toEqual({ error: expect.stringContaining('got 2,000,000') });
    expect(parseContextLength('1.5')).toEqual({ error: expect.stringContaining('“1.5”') });
    expect(parseContextLength('-4')).toEqual({ error: expect.stringContaining('whole number') });
  });

  it('states the KV cache memory as context × bytes per token', () => {
    // A model whose KV cache takes 2560 bytes a token.
    expect(kvCacheText(512, 2560)).toBe('KV cache: 512 tokens × 2.50 KiB = 1.25 MiB of GPU memory');
    expect(kvCacheText(256, 2560)).toBe('KV cache: 256 tokens × 2.50 KiB = 640 KiB of GPU memory');
  });

  it('keeps the value and forgets it when set back to the default; a bad stored value reads as the default', () => {
    const m = new Map<string, string>();
    const storage = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) };
    keepContextLength(300, storage);
    expect(m.get(CONTEXT_KEY)).toBe('300');
    expect(readContextLength(storage)).toBe(300);
    keepContextLength(null, storage);
    expect(readContextLength(storage)).toBeNull();
    m.set(CONTEXT_KEY, 'lots');
    expect(readContextLength(storage)).toBeNull();
  });
});
