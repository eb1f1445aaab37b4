/**
 * "Will the engine run it?" from the header alone (shared/engine/support.ts): a model of a
 * family and types we run says yes; each missing part (architecture, a tensor's type, the
 * pre-tokenizer, a head size) is named, with the key, tensor or value it found.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { engineSupport, formatSupport } from '../../shared/engine/support';
import { GgmlType } from '../../shared/gguf/ggml-types';
import { parseGgufBytes, type GgufHeader } from '../../shared/gguf/reader';
import type { GgufValue } from '../../shared/gguf/values';
import { fixturePath } from '../support/fixtures';

const stories = (): GgufHeader => parseGgufBytes(new Uint8Array(readFileSync(fixturePath('models', 'stories260K.gguf'))), 'stories260K.gguf');

function withMeta(h: GgufHeader, key: string, value: GgufValue): GgufHeader {
  const metadata = new Map(h.metadata);
  metadata.set(key, value);
  return { ...h, metadata };
}

describe('engine support statement', () => {
  it('says yes for stories260K', () => {
    const s = engineSupport(stories());
    expect(s).toEqual({ runs: true, problems: [] });
    expect(formatSupport(s)).toMatch(/^yes/);
  });

  it('names an architecture we do not run', () => {
    const s = engineSupport(withMeta(stories(), 'general.architecture', { type: 'string', value: 'mamba' }));
    expect(s.runs).toBe(false);
    expect(s.problems.map((p) => p.part)).toContain('architecture');
    expect(s.problems.find((p) => p.part === 'architecture')!.detail).toContain('"mamba"');
    expect(formatSupport(s)).toMatch(/^no: architecture: .*mamba/);
  });

  it('names a tensor type the kernels do not read, once per type', () => {
    const h = stories();
    // IQ2_XXS: a type we store and explore but do not run. Byte sizes are not checked here.
    const tensors = h.tensors.map((t) => (t.name.endsWith('ffn_up.weight') ? { ...t, type: GgmlType.IQ2_XXS } : t));
    const s = engineSupport({ ...h, tensors });
    expect(s.runs).toBe(false);
    const types = s.problems.filter((p) => p.part === 'tensor type');
    expect(types).toHaveLength(1);
    expect(types[0]!.detail).toContain('IQ2_XXS');
    expect(types[0]!.detail).toMatch(/blk\.\d+\.ffn_up\.weight/);
  });

  it('names a quantised norm vector', () => {
    const h = stories();
    const tensors = h.tensors.map((t) => (t.name === 'output_norm.weight' ? { ...t, type: GgmlType.Q8_0 } : t));
    const s = engineSupport({ ...h, tensors });
    expect(s.problems).toEqual([{ part: 'tensor type', detail: expect.stringContaining('"output_norm.weight" is Q8_0') }]);
  });

  it('names an unknown pre-tokenizer', () => {
    const h = withMeta(withMeta(stories(), 'tokenizer.ggml.model', { type: 'string', value: 'gpt2' }), 'tokenizer.ggml.pre', { type: 'string', value: 'no-such-pre' });
    const s = engineSupport(h);
    expect(s.runs).toBe(false);
    expect(s.problems.some((p) => p.part === 'tokenizer')).toBe(true);
  });

  it('names a missing hyperparameter as configuration', () => {
    const h = stories();
    const metadata = new Map(h.metadata);
    metadata.delete('llama.attention.layer_norm_rms_epsilon');
    const s = engineSupport({ ...h, metadata });
    expect(s.problems).toEqual([{ part: 'configuration', detail: expect.stringContaining('llama.attention.layer_norm_rms_epsilon') }]);
  });
});
