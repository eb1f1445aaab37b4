/** Residency per tensor for the Explorer's overlay (renderer/src/explorer/residency.ts) and the Chat's budget field. */
import { describe, expect, it } from 'vitest';
import { stackMembers, tensorResidency } from '../../renderer/src/explorer/residency';
import { GPU_MEMORY_KEY, keepGpuMemory, parseGpuMemory, readGpuMemory } from '../../renderer/src/views/chat/gpu-memory-setting';

describe('residency per tensor', () => {
  it('expands a stacked matrix to the tensors it is made of', () => {
    expect(stackMembers('blk.3.attn_q|k|v.weight')).toEqual(['blk.3.attn_q.weight', 'blk.3.attn_k.weight', 'blk.3.attn_v.weight']);
    expect(stackMembers('blk.0.ffn_gate|up.weight')).toEqual(['blk.0.ffn_gate.weight', 'blk.0.ffn_up.weight']);
    expect(stackMembers('token_embd.weight')).toEqual(['token_embd.weight']);
  });

  it('marks streamed matrices (stacks by member) streamed, and everything else resident, norms included', () => {
    const plan = { resident: ['blk.0.attn_output.weight', 'blk.0.ffn_down.weight'], streamed: ['token_embd.weight', 'blk.0.ffn_gate|up.weight'] };
    const names = ['token_embd.weight', 'blk.0.attn_norm.weight', 'blk.0.ffn_gate.weight', 'blk.0.ffn_up.weight', 'blk.0.ffn_down.weight', 'blk.0.attn_output.weight'];
    expect(Object.fromEntries(tensorResidency(plan, names))).toEqual({
      'token_embd.weight': 'streamed',
      'blk.0.attn_norm.weight': 'resident',
      'blk.0.ffn_gate.weight': 'streamed',
      'blk.0.ffn_up.weight': 'streamed',
      'blk.0.ffn_down.weight': 'resident',
      'blk.0.attn_output.weight': 'resident',
    });
    // No budget: nothing streams.
    expect([...tensorResidency({ resident: names, streamed: [] }, names).values()].every((r) => r === 'resident')).toBe(true);
  });
});

describe('GPU memory budget setting', () => {
  it('reads sizes as pxi --gpu-memory does (binary units), empty as no budget, and refuses the rest with the value', () => {
    expect(parseGpuMemory('')).toEqual({ value: null });
    expect(parseGpuMemory(' 512 MB ')).toEqual({ value: 512 * 1024 ** 2 });
    expect(parseGpuMemory('600K')).toEqual({ value: 600 * 1024 });
    expect(parseGpuMemory('1.5 GiB')).toEqual({ value: 1.5 * 1024 ** 3 });
    expect(parseGpuMemory('4096')).toEqual({ value: 4096 });
    expect(parseGpuMemory('lots')).toEqual({ error: expect.stringContaining('“lots”') });
    expect(parseGpuMemory('0')).toEqual({ error: expect.stringContaining('512 MB') });
    expect(parseGpuMemory('-5M')).toHaveProperty('error');
  });

  it('keeps the text as typed and forgets it when emptied', () => {
    const m = new Map<string, string>();
    const storage = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) };
    keepGpuMemory(' 600 KB ', storage);
    expect(m.get(GPU_MEMORY_KEY)).toBe('600 KB');
    expect(readGpuMemory(storage)).toBe(614400);
    keepGpuMemory('', storage);
    expect(readGpuMemory(storage)).toBeNull();
  });
});
