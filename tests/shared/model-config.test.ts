import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseGgufBytes, type GgufHeader } from '../../shared/gguf/reader';
import { gv, type GgufValue } from '../../shared/gguf/values';
import { modelConfigFromGguf } from '../../shared/model/config';
import { ModelError } from '../../shared/model/errors';
import { formatSummary, summarizeModel } from '../../shared/model/summary';
import { fixturePath } from '../support/fixtures';
import { tinyModel } from '../node/models-support';

const stories = (): GgufHeader => parseGgufBytes(new Uint8Array(readFileSync(fixturePath('models', 'stories260K.gguf'))), 'stories260K.gguf');

/** A header whose metadata and tensor list we can edit (tensor data is irrelevant to the config). */
function editable(o: Parameters<typeof tinyModel>[0] = {}) {
  const { bytes } = tinyModel({ embd: 64, ff: 128, vocab: 260, ...o });
  const h = parseGgufBytes(bytes, 'tiny.gguf');
  return { file: h.file, metadata: new Map(h.metadata), tensors: [...h.tensors] };
}

function refused(src: ReturnType<typeof editable>): ModelError {
  try {
    modelConfigFromGguf(src);
  } catch (e) {
    expect(e).toBeInstanceOf(ModelError);
    return e as ModelError;
  }
  throw new Error('expected a ModelError');
}

describe('model configuration from GGUF metadata', () => {
  it('reads stories260K (llama, no rope.freq_base key)', () => {
    const h = stories();
    const c = modelConfigFromGguf(h);
    expect(c).toEqual({
      architecture: 'llama',
      name: 'llama',
      blockCount: 5,
      embeddingLength: 64,
      headCount: 8,
      headCountKv: 4,
      headDim: 8,
      feedForwardLength: 172,
      vocabSize: 512,
      contextLength: 2048,
      ropeTheta: 10000,
      ropeType: 'normal',
      ropeDimensionCount: 8,
      rmsEps: Math.fround(1e-5),
      tiedOutput: false,
      qkvBias: false,
      parameterCount: h.tensors.reduce((n, t) => n + t.elementCount, 0),
    });
  });

  it('reads qwen2: NEOX rope, q/k/v biases, rope theta, tied output', () => {
    const c = modelConfigFromGguf(editable({ arch: 'qwen2', tied: true, heads: 4, kvHeads: 1 }));
    expect(c).toMatchObject({ architecture: 'qwen2', ropeType: 'neox', qkvBias: true, tiedOutput: true, ropeTheta: 1e6, headCount: 4, headCountKv: 1, headDim: 16 });
  });

  it.each([
    ['an unsupported architecture', (s: ReturnType<typeof editable>) => s.metadata.set('general.architecture', gv.str('gpt2')), 'MODEL_UNSUPPORTED_ARCH', 'kv["general.architecture"]', '"gpt2"'],
    ['no architecture', (s: ReturnType<typeof editable>) => s.metadata.delete('general.architecture'), 'MODEL_UNSUPPORTED_ARCH', 'kv["general.architecture"]', '"missing"'],
    ['a missing block count', (s: ReturnType<typeof editable>) => s.metadata.delete('llama.block_count'), 'MODEL_BAD_HPARAM', 'kv["llama.block_count"]', '"missing"'],
    ['a float where an integer belongs', (s: ReturnType<typeof editable>) => s.metadata.set('llama.embedding_length', gv.f32(64)), 'MODEL_BAD_HPARAM', 'kv["llama.embedding_length"]', '"float32"'],
    ['a block count above the cap', (s: ReturnType<typeof editable>) => s.metadata.set('llama.block_count', gv.u32(100000)), 'MODEL_BAD_HPARAM', 'kv["llama.block_count"]', '100000'],
    ['a huge uint64 head count', (s: ReturnType<typeof editable>) => s.metadata.set('llama.attention.head_count', gv.u64(1n << 62n)), 'MODEL_BAD_HPARAM', 'kv["llama.attention.head_count"]', String(1n << 62n)],
    ['KV heads that do not divide the heads', (s: ReturnType<typeof editable>) => s.metadata.set('llama.attention.head_count_kv', gv.u32(3)), 'MODEL_BAD_HPARAM', 'kv["llama.attention.head_count_kv"]', '3'],
    ['heads that do not divide the width', (s: ReturnType<typeof editable>) => s.metadata.set('llama.attention.head_count', gv.u32(6)), 'MODEL_BAD_HPARAM', 'kv["llama.attention.head_count"]', '6'],
    ['a zero rms epsilon', (s: ReturnType<typeof editable>) => s.metadata.set('llama.attention.layer_norm_rms_epsilon', gv.f32(0)), 'MODEL_BAD_HPARAM', 'kv["llama.attention.layer_norm_rms_epsilon"]', '0'],
    ['a negative rope theta', (s: ReturnType<typeof editable>) => s.metadata.set('llama.rope.freq_base', gv.f32(-1)), 'MODEL_BAD_HPARAM', 'kv["llama.rope.freq_base"]', '-1'],
    ['a missing tensor', (s: ReturnType<typeof editable>) => s.tensors.splice(s.tensors.findIndex((t) => t.name === 'blk.0.ffn_down.weight'), 1), 'MODEL_TENSOR_MISSING', 'tensor["blk.0.ffn_down.weight"]', '"missing"'],
    [
      'a tensor of the wrong shape',
      (s: ReturnType<typeof editable>) => {
        const i = s.tensors.findIndex((t) => t.name === 'blk.0.attn_k.weight');
        s.tensors[i] = { ...s.tensors[i]!, dims: [64, 48] };
      },
      'MODEL_TENSOR_SHAPE',
      'tensor["blk.0.attn_k.weight"].dims',
      '"[64, 48]"',
    ],
    ['more tokens than embedding rows', (s: ReturnType<typeof editable>) => s.metadata.set('tokenizer.ggml.tokens', gv.array('string', Array.from({ length: 300 }, (_, i) => `t${i}`))), 'MODEL_TENSOR_SHAPE', 'tensor["token_embd.weight"].dims[1]', '260'],
    ['tensors for more blocks than declared', (s: ReturnType<typeof editable>) => s.metadata.set('llama.block_count', gv.u32(1)), 'MODEL_BAD_HPARAM', 'kv["llama.block_count"]', '1'],
  ] as const)('refuses %s, naming the key or tensor and the value', (_label, edit, code, field, value) => {
    const src = editable({ blocks: 2 });
    if (_label !== 'tensors for more blocks than declared') src.metadata.set('llama.block_count', gv.u32(2));
    (edit as (s: ReturnType<typeof editable>) => void)(src);
    const e = refused(src);
    expect(e.code).toBe(code);
    expect(e.field).toBe(field);
    // Values appear as showValue renders them: strings quoted, numbers bare.
    expect(e.details?.value).toBe(value);
    expect(e.message).toContain(`${field} = ${value}: `);
    expect(e.message).toContain('tiny.gguf: ');
  });

  it('accepts any integer type in range for integer hyperparameters', () => {
    const src = editable();
    src.metadata.set('llama.context_length', gv.u64(4096n));
    src.metadata.set('llama.block_count', gv.i32(1) as GgufValue);
    expect(modelConfigFromGguf(src)).toMatchObject({ contextLength: 4096, blockCount: 1 });
  });
});

describe('model summary (pxi inspect)', () => {
  it('summarizes stories260K', () => {
    const s = summarizeModel(stories());
    expect(s).toMatchObject({
      architecture: 'llama',
      ggufVersion: 3,
      fileSize: 1185376,
      tensorCount: 48,
      contextLength: 2048,
      tokenizer: { model: 'llama', vocabSize: 512, bos: { id: 1, text: '<s>' }, eos: { id: 2, text: '</s>' } },
      chatTemplate: null,
      configError: null,
    });
    expect(s.tensorTypes).toEqual([{ type: 'F32', count: 48, elements: s.parameterCount, bytes: s.tensorBytes }]);
    const text = formatSummary(s);
    expect(text).toContain('5 blocks, embedding 64, 8 heads / 4 KV heads');
    expect(text).toContain('bos 1 "<s>", eos 2 "</s>"');
  });

  it('shows types with counts and bytes, the chat template head, and why a file is not runnable', () => {
    const { bytes } = tinyModel({ type: 'Q8_0', embd: 64, ff: 128 });
    const parsed = parseGgufBytes(bytes, 'q8.gguf');
    // A two-line ChatML template, so the summary shows its head and counts what it leaves out.
    const chatml =
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}\n" +
      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    const h: GgufHeader = { ...parsed, metadata: new Map([...parsed.metadata, ['tokenizer.chat_template', gv.str(chatml)]]) };
    const s = summarizeModel(h);
    const q8 = s.tensorTypes.find((t) => t.type === 'Q8_0')!;
    expect(q8.count).toBe(9); // token_embd, q, k, v, output, gate, up, down, output
    expect(q8.bytes).toBe(h.tensors.filter((t) => t.type === 8).reduce((n, t) => n + t.byteSize, 0));
    expect(formatSummary(s, 1)).toMatch(/chat template {2}2 lines, \d+ chars:\n {2}\| \{% for message in messages %\}.*\n {2}\| … \(1 more lines\)/);
    const other = summarizeModel({ ...h, metadata: new Map([...h.metadata, ['general.architecture', gv.str('mamba')]]) });
    expect(other.config).toBeNull();
    expect(other.configError).toContain('kv["general.architecture"] = "mamba"');
  });
});
