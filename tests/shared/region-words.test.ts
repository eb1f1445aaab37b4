/** The map's regions in plain words (shared/map/region-words.ts), as the Explorer's inspector heads them. */
import { describe, expect, it } from 'vitest';
import { regionWords, storedPlaceWords } from '../../shared/map/region-words';

describe('region words', () => {
  it('names block tensors by block and role, and what the numbers are', () => {
    expect(regionWords('weights', 'blk.0.attn_q.weight')).toEqual({ title: 'Block 0 · attention: query projection', part: 'weights' });
    expect(regionWords('weights', 'blk.12.ffn_down.weight')).toEqual({ title: 'Block 12 · feed-forward: down projection', part: 'weights' });
    expect(regionWords('weights', 'blk.3.attn_norm.weight')).toEqual({ title: 'Block 3 · attention: input norm', part: 'scale' });
    expect(regionWords('weights', 'blk.1.attn_k.bias')).toEqual({ title: 'Block 1 · attention: key projection', part: 'bias' });
    expect(regionWords('weights', 'blk.7.ffn_up_exps.weight').title).toBe('Block 7 · feed-forward: up projections of the experts');
  });

  it('names the tensors outside the blocks', () => {
    expect(regionWords('weights', 'token_embd.weight')).toEqual({ title: 'Token embedding: one row of numbers per vocabulary entry', part: 'weights' });
    expect(regionWords('weights', 'output_norm.weight')).toEqual({ title: 'Final norm, before the output head', part: 'scale' });
    expect(regionWords('weights', 'output.weight').title).toBe('Output head: a score for every vocabulary entry');
  });

  it('keeps a name it does not know, never guessing', () => {
    expect(regionWords('weights', 'blk.2.mystery.weight')).toEqual({ title: 'Block 2 · mystery', part: 'weights' });
    expect(regionWords('weights', 'vision.patch_embd')).toEqual({ title: 'vision.patch_embd', part: null });
    expect(regionWords('weights', 'output_extra.weight')).toEqual({ title: 'output_extra.weight', part: null });
  });

  it('explains the bands the engine writes', () => {
    expect(regionWords('kv-cache', 'kv-cache').title).toBe('KV cache: the keys and values of the tokens read so far');
    expect(regionWords('activations', 'activations').title).toContain('values flowing between blocks');
    expect(regionWords('free', 'kv-reserve').title).toBe('Free room for the KV cache to grow into');
    expect(regionWords('corpus', 'pxi-docs')).toEqual({ title: 'Text corpus stored as tiles: pxi-docs', part: null });
  });

  it("says where the bytes are stored: the tensor's own file, or a pack it shares", () => {
    expect(storedPlaceWords({ layout: 'import', offset: 0, tiles: { first: 0, last: 3 }, tensorsInFile: 1 })).toBe('in its own file, PixelFS tiles 0–3');
    expect(storedPlaceWords({ layout: 'import', offset: 0, tiles: { first: 0, last: 0 }, tensorsInFile: 1 })).toBe('in its own file, PixelFS tile 0');
    expect(storedPlaceWords({ layout: 'packed', offset: 4224, tiles: { first: 1, last: 2 }, tensorsInFile: 9 })).toBe('packed with 8 other tensors read with it, from byte 4,224: PixelFS tiles 1–2');
    expect(storedPlaceWords({ layout: 'packed', offset: 128, tiles: { first: 0, last: 0 }, tensorsInFile: 2 })).toBe('packed with 1 other tensor read with it, from byte 128: PixelFS tile 0');
    expect(storedPlaceWords({ layout: 'import', offset: 0, tiles: null, tensorsInFile: 1 })).toBe('in its own file, no tiles');
  });
});
