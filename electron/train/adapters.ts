/**
 * LoRA adapters kept in the volume beside their base model (what `pxi finetune` writes):
 * `adapters/<model id>/<name>.gguf`, one PixelFS file each, listed with the model and opened by
 * name (`pxi run MODEL --lora NAME`).
 */
import type { Volume } from '../pixelfs/index';

export interface StoredAdapter {
  /** The run's name: how `--lora NAME` and the app refer to it. */
  name: string;
  /** The PixelFS file. */
  file: string;
  bytes: number;
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
    if (ADAPTER_NAME.test(name)) out.push({ name, file: f.name, bytes: f.size });
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
