import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Opens a WebGPU device in Node through the `webgpu` package (Dawn), on Vulkan (Mesa lavapipe
 * on CPU-only machines). Returns null with a reason when no adapter is available, so a GPU test
 * can report itself as skipped instead of passing without running.
 */
export async function openNodeGpu(): Promise<{ gpu: GPU; adapter: GPUAdapter } | { gpu: null; reason: string }> {
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = join(tmpdir(), 'pxi-xdg');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  let mod: typeof import('webgpu');
  try {
    mod = await import('webgpu');
  } catch (e) {
    return { gpu: null, reason: `the webgpu package did not load: ${(e as Error).message}` };
  }
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create(['backend=vulkan']);
  const adapter = await gpu.requestAdapter();
  if (!adapter) return { gpu: null, reason: 'no WebGPU adapter (Vulkan): install mesa-vulkan-drivers from bookworm-backports' };
  return { gpu, adapter };
}
