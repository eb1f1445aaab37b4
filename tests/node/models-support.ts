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
import { MIN_VOCAB, generateModelBytesSync, planModel, type ConfigOverrides, type GenFileOptions, type GenType } from '../../shared/model-gen/index';

/**
 * A tiny model: model-gen's shape overrides (defaults: 1 block, width 256, FFN 256, 4 heads / 2
 * KV heads, vocab 260, untied; a vocab below MIN_VOCAB, llama only, has no byte tokens, for files
 * of a few kilobytes) and file options.
 */
export type TinyModel = Pick<ConfigOverrides, 'blocks' | 'embd' | 'ff' | 'heads' | 'kvHeads' | 'vocab' | 'tied'> &
  Pick<GenFileOptions, 'alignment' | 'version'> & {
    arch?: 'llama' | 'qwen2';
    type?: GenType;
    seed?: number;
    /** Fill the alignment padding with non-zero bytes and append this many trailing bytes. */
    junk?: number;
  };

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
  const { arch, type = 'F32', seed = 1, alignment, version, junk = 0, ...shape } = o;
  const overrides: ConfigOverrides = { blocks: 1, embd: 256, ff: 256, heads: 4, kvHeads: 2, vocab: 260, tied: false, ...shape };
  if (overrides.vocab! < MIN_VOCAB) overrides.byteTokens = false;
  const plan = planModel({
    preset: arch === 'qwen2' ? 'tiny-qwen2' : 'tiny-llama',
    type,
    seed,
    overrides,
    file: { alignment, version, fillPadding: junk > 0, trailingBytes: junk, metadata: EDGE_VALUES },
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
