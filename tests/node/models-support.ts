/**
 * Small llama / qwen2 GGUF models for the model-store tests, made by the project's model
 * generator (shared/model-gen, the tiny-llama / tiny-qwen2 presets with smaller shapes): every
 * tensor type it writes, optional non-default alignment, GGUF v2, non-zero padding and trailing
 * bytes, and metadata values a manifest must keep exactly.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { GgmlType } from '../../shared/gguf/ggml-types';
import { gv, type GgufValue } from '../../shared/gguf/values';
import type { GgufTensorSpec } from '../../shared/gguf/writer';
import { MIN_VOCAB, generateModelBytesSync, planModel, type GenType } from '../../shared/model-gen/index';

export interface TinyModel {
  arch?: 'llama' | 'qwen2';
  type?: GenType;
  blocks?: number;
  embd?: number;
  ff?: number;
  heads?: number;
  kvHeads?: number;
  /** Below MIN_VOCAB (llama only) the vocabulary has no byte tokens, for files of a few kilobytes. */
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

/** Metadata values a manifest must keep exactly (u64 beyond 2^53, NaN, −0). */
const EDGE_VALUES = new Map<string, GgufValue>([
  ['test.u64', gv.u64(18446744073709551615n)],
  ['test.nan', gv.f32(NaN)],
  ['test.negzero', gv.f64(-0)],
]);

/** The bytes of a small model, with its metadata and tensors (data included) to rewrite it from. */
export function tinyModel(o: TinyModel = {}): { bytes: Uint8Array; metadata: Map<string, GgufValue>; tensors: (GgufTensorSpec & { data: Uint8Array })[] } {
  const vocab = o.vocab ?? 260;
  const plan = planModel({
    preset: o.arch === 'qwen2' ? 'tiny-qwen2' : 'tiny-llama',
    type: o.type ?? 'F32',
    seed: o.seed ?? 1,
    overrides: {
      blocks: o.blocks ?? 1,
      embd: o.embd ?? 256,
      ff: o.ff ?? 256,
      heads: o.heads ?? 4,
      kvHeads: o.kvHeads ?? 2,
      vocab,
      tied: o.tied ?? false,
      ...(vocab < MIN_VOCAB ? { byteTokens: false } : {}),
    },
    file: {
      ...(o.alignment !== undefined ? { alignment: o.alignment } : {}),
      ...(o.version !== undefined ? { version: o.version } : {}),
      fillPadding: (o.junk ?? 0) > 0,
      trailingBytes: o.junk ?? 0,
      metadata: EDGE_VALUES,
    },
  });
  const bytes = generateModelBytesSync(plan);
  const tensors = plan.tensors.map((t, i) => {
    const { offset, byteSize } = plan.layout.tensors[i]!;
    return { name: t.name, dims: [...t.dims], type: GgmlType[t.type], data: bytes.slice(offset, offset + byteSize) };
  });
  return { bytes, metadata: new Map(plan.metadata), tensors };
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
