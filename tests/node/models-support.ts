/**
 * Small llama / qwen2 GGUF models for the model-store tests, written by the project's own GGUF
 * writer with weights from the project's quantisers (shared/quant): every tensor type the
 * generator supports, optional non-default alignment, non-zero padding and trailing bytes.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { GgmlType } from '../../shared/gguf/ggml-types';
import { gv, type GgufValue } from '../../shared/gguf/values';
import { layoutGguf, writeGgufBytes, type GgufTensorSpec } from '../../shared/gguf/writer';
import { QUANT_FORMATS, type QuantTypeName } from '../../shared/quant/index';
import { rng } from '../shared/gguf-gen';

export interface TinyModel {
  arch?: 'llama' | 'qwen2';
  type?: QuantTypeName;
  blocks?: number;
  embd?: number;
  ff?: number;
  heads?: number;
  kvHeads?: number;
  vocab?: number;
  seed?: number;
  alignment?: number;
  version?: 2 | 3;
  tied?: boolean;
  /** Fill the alignment padding with non-zero bytes and append this many trailing bytes. */
  junk?: number;
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
export const sha256File = (p: string): string => createHash('sha256').update(fs.readFileSync(p)).digest('hex');

export const CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}\n{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** The bytes of a small model, and where its tensors and padding lie. */
export function tinyModel(o: TinyModel = {}): { bytes: Uint8Array; metadata: Map<string, GgufValue>; tensors: GgufTensorSpec[] } {
  const arch = o.arch ?? 'llama';
  const type = o.type ?? 'F32';
  const blocks = o.blocks ?? 1;
  const embd = o.embd ?? 256;
  const ff = o.ff ?? 256;
  const heads = o.heads ?? 4;
  const kvHeads = o.kvHeads ?? 2;
  const vocab = o.vocab ?? 260;
  const hd = embd / heads;
  const r = rng(o.seed ?? 1);
  const m = new Map<string, GgufValue>();
  m.set('general.architecture', gv.str(arch));
  m.set('general.name', gv.str(`tiny ${arch} ${type}`));
  if (o.alignment) m.set('general.alignment', gv.u32(o.alignment));
  m.set(`${arch}.context_length`, gv.u32(512));
  m.set(`${arch}.embedding_length`, gv.u32(embd));
  m.set(`${arch}.feed_forward_length`, gv.u32(ff));
  m.set(`${arch}.block_count`, gv.u32(blocks));
  m.set(`${arch}.attention.head_count`, gv.u32(heads));
  m.set(`${arch}.attention.head_count_kv`, gv.u32(kvHeads));
  m.set(`${arch}.rope.freq_base`, gv.f32(arch === 'qwen2' ? 1e6 : 10000));
  m.set(`${arch}.attention.layer_norm_rms_epsilon`, gv.f32(arch === 'qwen2' ? 1e-6 : 1e-5));
  m.set('tokenizer.ggml.model', gv.str(arch === 'qwen2' ? 'gpt2' : 'llama'));
  m.set('tokenizer.ggml.tokens', gv.array('string', Array.from({ length: vocab }, (_, i) => (i === 0 ? '<unk>' : i === 1 ? '<s>' : i === 2 ? '</s>' : `t${i}`))));
  m.set('tokenizer.ggml.scores', gv.array('float32', Float32Array.from({ length: vocab }, (_, i) => -i)));
  m.set('tokenizer.ggml.token_type', gv.array('int32', Int32Array.from({ length: vocab }, (_, i) => (i < 3 ? 3 : 1))));
  m.set('tokenizer.ggml.bos_token_id', gv.u32(1));
  m.set('tokenizer.ggml.eos_token_id', gv.u32(2));
  m.set('tokenizer.chat_template', gv.str(CHATML));
  m.set('test.u64', gv.u64(18446744073709551615n));
  m.set('test.nan', gv.f32(NaN));
  m.set('test.negzero', gv.f64(-0));

  const tensors: (GgufTensorSpec & { data: Uint8Array })[] = [];
  const values = (n: number, std: number, mean = 0): Float32Array => Float32Array.from({ length: n }, () => mean + (r() + r() + r() - 1.5) * 2 * std);
  const add = (name: string, dims: number[], t: QuantTypeName, std: number, mean = 0): void => {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = QUANT_FORMATS[t].quantize(values(n, std, mean));
    tensors.push({ name, dims, type: GgmlType[t], data });
  };
  add('token_embd.weight', [embd, vocab], type, 1);
  for (let b = 0; b < blocks; b++) {
    const p = `blk.${b}.`;
    add(`${p}attn_norm.weight`, [embd], 'F32', 0.1, 1);
    add(`${p}attn_q.weight`, [embd, heads * hd], type, 1 / Math.sqrt(embd));
    if (arch === 'qwen2') add(`${p}attn_q.bias`, [heads * hd], 'F32', 0.2);
    add(`${p}attn_k.weight`, [embd, kvHeads * hd], type, 1 / Math.sqrt(embd));
    if (arch === 'qwen2') add(`${p}attn_k.bias`, [kvHeads * hd], 'F32', 0.2);
    add(`${p}attn_v.weight`, [embd, kvHeads * hd], type, 1 / Math.sqrt(embd));
    if (arch === 'qwen2') add(`${p}attn_v.bias`, [kvHeads * hd], 'F32', 0.2);
    add(`${p}attn_output.weight`, [heads * hd, embd], type, 1 / Math.sqrt(embd));
    add(`${p}ffn_norm.weight`, [embd], 'F32', 0.1, 1);
    add(`${p}ffn_gate.weight`, [embd, ff], type, 1 / Math.sqrt(embd));
    add(`${p}ffn_up.weight`, [embd, ff], type, 1 / Math.sqrt(embd));
    add(`${p}ffn_down.weight`, [ff, embd], type, 1 / Math.sqrt(ff));
  }
  add('output_norm.weight', [embd], 'F32', 0.1, 1);
  if (!o.tied) add('output.weight', [embd, vocab], type, 1 / Math.sqrt(embd));
  let bytes = writeGgufBytes(m, tensors, { version: o.version ?? 3 });
  if (o.junk) {
    // ggml writes zeros between tensors; a file with other bytes there (and after the last
    // tensor) is still a valid GGUF, and export must reproduce those bytes too.
    const layout = layoutGguf(m, tensors);
    for (let i = 0; i < layout.tensors.length; i++) {
      const t = layout.tensors[i]!;
      const end = i + 1 < layout.tensors.length ? layout.tensors[i + 1]!.offset : layout.fileSize;
      for (let p = t.offset + t.byteSize; p < end; p++) bytes[p] = 0xa0 + (p % 7);
    }
    const tail = Uint8Array.from({ length: o.junk }, (_, i) => (i * 31 + 7) & 0xff);
    const grown = new Uint8Array(bytes.length + tail.length);
    grown.set(bytes);
    grown.set(tail, bytes.length);
    bytes = grown;
  }
  return { bytes, metadata: m, tensors };
}

/** Writes a tiny model to `file` and returns its sha256. */
export function writeTinyModel(file: string, o: TinyModel = {}): string {
  const { bytes } = tinyModel(o);
  fs.writeFileSync(file, bytes);
  return sha256(bytes);
}

/** Every file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => `${e.parentPath}/${e.name}`);
}
