/** The Chat's context-length setting (renderer/src/views/chat/context-setting.ts): parsing and the memory line (it is kept per conversation: tests/node/conversations*.test.ts, tests/e2e/chat-prefill.spec.ts). */
import { describe, expect, it } from 'vitest';
import { kvCacheText, parseContextLength } from '../../renderer/src/views/chat/context-setting';

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
});
