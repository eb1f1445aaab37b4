/**
 * LoRA adapters kept in the volume beside their base model (what `pxi finetune` writes):
 * `adapters/<model id>/<name>.gguf`, one PixelFS file each, listed with the model and opened by
 * name (`pxi run MODEL --lora NAME`).
 */
import { readGgufHeader, type GgufValue } from '../../shared/gguf';
import { LORA_A_SUFFIX } from '../../shared/lora';
import type { Volume } from '../pixelfs/index';

export interface StoredAdapter {
  /** The run's name: how `--lora NAME` and the app refer to it. */
  name: string;
  /** The PixelFS file. */
  file: string;
  bytes: number;
  /** When it was stored (ms since the epoch). */
  createdAt: number;
}

/** A stored adapter with what its GGUF header says of it (the fine-tune's provenance keys where present). */
export interface AdapterDescription extends StoredAdapter {
  rank: number | null;
  alpha: number | null;
  /** The adapted matrices' kinds (attn_q, ffn_up, …), each once, in the file's order. */
  targets: string[];
  steps: number | null;
  validLoss: number | null;
}

const ADAPTER_NAME = /^[A-Za-z0-9._-]{1,128}$/;

export function adapterFile(modelId: string, name: string): string {
  return `adapters/${modelId}/${name}.gguf`;
}

/** The adapters stored for a model, by name. */
export function listAdapters(volume: Volume, modelId: string): StoredAdapter[] {
  const prefix = `adapters/${modelId}/`;
  const out: StoredAdapter[] = [];
  for (const f of volume.ls()) {
    if (!f.name.startsWith(prefix) || !f.name.endsWith('.gguf')) continue;
    const name = f.name.slice(prefix.length, -'.gguf'.length);
    if (ADAPTER_NAME.test(name)) out.push({ name, file: f.name, bytes: f.size, createdAt: f.completedAt });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The bytes of a stored adapter, or null when the model has none of that name. */
export async function readAdapter(volume: Volume, modelId: string, name: string): Promise<Uint8Array | null> {
  if (!ADAPTER_NAME.test(name)) return null;
  const st = volume.stat(adapterFile(modelId, name));
  if (!st) return null;
  const b = await volume.read(adapterFile(modelId, name), 0, st.size);
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** The stored adapters of every model, by model id (one listing of the volume). */
export function adaptersByModel(volume: Volume): Map<string, StoredAdapter[]> {
  const out = new Map<string, StoredAdapter[]>();
  for (const f of volume.ls()) {
    const m = /^adapters\/([^/]+)\/([^/]+)\.gguf$/.exec(f.name);
    if (!m || !ADAPTER_NAME.test(m[2]!)) continue;
    const list = out.get(m[1]!) ?? [];
    list.push({ name: m[2]!, file: f.name, bytes: f.size, createdAt: f.completedAt });
    out.set(m[1]!, list);
  }
  for (const list of out.values()) list.sort((a, b) => a.name.localeCompare(b.name));
  return out;
}

const num = (v: GgufValue | undefined): number | null => (v && typeof v.value === 'number' && Number.isFinite(v.value) ? v.value : null);

/**
 * What a stored adapter's GGUF header says: rank (the lora_a tensors' second dimension), alpha,
 * the adapted matrices, and the steps and final validation loss a fine-tune recorded. Only the
 * header is read (through the bounds-checked reader), never the tensors.
 */
export async function describeAdapter(volume: Volume, a: StoredAdapter): Promise<AdapterDescription> {
  const header = await readGgufHeader({ size: a.bytes, read: (offset, length) => volume.read(a.file, offset, length) }, { name: a.file });
  const lora = header.tensors.filter((t) => t.name.endsWith(LORA_A_SUFFIX));
  const targets: string[] = [];
  for (const t of lora) {
    const kind = /^blk\.\d+\.([A-Za-z0-9_]+)\.weight/.exec(t.name)?.[1] ?? t.name.slice(0, -LORA_A_SUFFIX.length);
    if (!targets.includes(kind)) targets.push(kind.slice(0, 64));
  }
  const rank = lora[0]?.dims[1] ?? null;
  return {
    ...a,
    rank: rank !== null && Number.isInteger(rank) && rank > 0 ? rank : null,
    alpha: num(header.metadata.get('adapter.lora.alpha')),
    targets: targets.slice(0, 64),
    steps: num(header.metadata.get('pxi.finetune.steps')),
    validLoss: num(header.metadata.get('pxi.finetune.valid_loss')),
  };
}
