// The reader and writer against real GGUF files made by ggml-org tools (not by this project).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { memorySource } from '../../shared/binary/byte-source';
import {
  GgmlType,
  getArray,
  getF32,
  getString,
  getU32,
  hasKey,
  layoutGguf,
  parseGgufBytes,
  readGgufHeader,
  writeGgufBytes,
} from '../../shared/gguf';
import { fixturePath } from '../support/fixtures';
import { CountingSource } from './gguf-gen';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const storiesPath = fixturePath('models', 'stories260K.gguf');
const stories = new Uint8Array(readFileSync(storiesPath));
const vocabPath = fixturePath('tokenizer', 'ggml-vocab-llama-spm.gguf');
const vocab = new Uint8Array(readFileSync(vocabPath));

describe('stories260K.gguf', () => {
  const h = parseGgufBytes(stories, 'stories260K.gguf');

  it('is the file the fixtures README describes', () => {
    expect(sha256(stories)).toBe('270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d');
  });

  it('reads the documented model facts', () => {
    expect(h.version).toBe(3);
    expect(h.alignment).toBe(32);
    expect(getString(h, 'general.architecture')).toBe('llama');
    expect(getU32(h, 'llama.block_count')).toBe(5);
    expect(getU32(h, 'llama.embedding_length')).toBe(64);
    expect(getU32(h, 'llama.attention.head_count')).toBe(8);
    expect(getU32(h, 'llama.attention.head_count_kv')).toBe(4);
    expect(getU32(h, 'llama.feed_forward_length')).toBe(172);
    expect(getString(h, 'tokenizer.ggml.model')).toBe('llama');
    expect(getArray(h, 'tokenizer.ggml.tokens', 'string')).toHaveLength(512);
    expect(getArray(h, 'tokenizer.ggml.scores', 'float32')).toHaveLength(512);
    expect(getU32(h, 'tokenizer.ggml.bos_token_id')).toBe(1);
    expect(getU32(h, 'tokenizer.ggml.eos_token_id')).toBe(2);
    expect(getU32(h, 'tokenizer.ggml.unknown_token_id')).toBe(0);
    expect(hasKey(h, 'llama.rope.freq_base')).toBe(false);
    expect(getF32(h, 'llama.rope.freq_base', 10000)).toBe(10000);
    expect(getF32(h, 'llama.attention.layer_norm_rms_epsilon')).toBeCloseTo(1e-5, 10);
  });

  it('has all-F32 tensors laid out back to back inside the file', () => {
    expect(h.tensors.length).toBeGreaterThan(5 * 9);
    let expected = h.dataOffset;
    for (const t of h.tensors) {
      expect(t.type).toBe(GgmlType.F32);
      expect(t.byteSize).toBe(t.elementCount * 4);
      expect(t.offset).toBe(expected);
      expected = t.offset + Math.ceil(t.byteSize / 32) * 32;
    }
    expect(expected).toBe(stories.length);
    const emb = h.tensors.find((t) => t.name === 'token_embd.weight')!;
    expect(emb.dims).toEqual([64, 512]);
    const out = h.tensors.find((t) => t.name === 'output.weight')!;
    // README: output.weight equals token_embd.weight (read through the offsets we computed).
    expect(sha256(stories.subarray(out.offset, out.offset + out.byteSize))).toBe(
      sha256(stories.subarray(emb.offset, emb.offset + emb.byteSize)),
    );
  });

  it('rewrites the header byte for byte', () => {
    const layout = layoutGguf(h.metadata, h.tensors);
    expect(layout.dataOffset).toBe(h.dataOffset);
    expect(layout.header.length).toBe(h.dataOffset);
    expect(Buffer.from(layout.header).equals(Buffer.from(stories.subarray(0, h.dataOffset)))).toBe(true);
    expect(layout.tensors.map((t) => t.offset)).toEqual(h.tensors.map((t) => t.offset));
  });

  it('rewrites the whole file with an identical sha256', () => {
    const data = h.tensors.map((t) => ({ ...t, data: stories.subarray(t.offset, t.offset + t.byteSize) }));
    const out = writeGgufBytes(h.metadata, data);
    expect(out.length).toBe(stories.length);
    expect(sha256(out)).toBe(sha256(stories));
  });

  it('streams the header through a ByteSource without reading tensor data', async () => {
    const src = new CountingSource(stories);
    const streamed = await readGgufHeader(src, { name: 'stories260K.gguf', initialReadBytes: 1024 });
    expect(streamed).toEqual(h);
    // Prefixes grow by doubling from 1 KiB: the last read ends below twice the header.
    expect(src.maxEnd).toBeLessThan(2 * h.dataOffset);
    expect(src.maxEnd).toBeLessThan(h.tensors[0]!.offset + h.tensors[0]!.byteSize);
    expect(src.totalRequested).toBe(src.maxEnd); // never re-reads a byte
    expect(src.requests.length).toBeLessThanOrEqual(6);
  });

  it('version 2 rewrite parses to the same header', () => {
    const v2 = layoutGguf(h.metadata, h.tensors, { version: 2 });
    const data = h.tensors.map((t) => ({ ...t, data: stories.subarray(t.offset, t.offset + t.byteSize) }));
    const file = writeGgufBytes(h.metadata, data, { version: 2 });
    const back = parseGgufBytes(file, 'v2');
    expect(back.version).toBe(2);
    expect(back.metadata).toEqual(h.metadata);
    expect(back.tensors).toEqual(h.tensors);
    expect(v2.header.subarray(8)).toEqual(layoutGguf(h.metadata, h.tensors).header.subarray(8));
  });
});

describe('ggml-vocab-llama-spm.gguf (vocabulary only, no tensors)', () => {
  it('parses and round-trips byte for byte', async () => {
    const h = await readGgufHeader(memorySource(vocab), { name: 'vocab.gguf', initialReadBytes: 4096 });
    expect(h.tensors).toHaveLength(0);
    expect(h.headerEnd).toBe(vocab.length);
    const tokens = getArray(h, 'tokenizer.ggml.tokens', 'string');
    expect(tokens).toHaveLength(32000);
    expect(tokens[0]).toBe('<unk>');
    expect(tokens[13]).toBe('<0x0A>');
    expect(getArray(h, 'tokenizer.ggml.token_type', 'int32')).toHaveLength(32000);
    const out = writeGgufBytes(h.metadata, []);
    expect(sha256(out)).toBe(sha256(vocab));
  });
});
