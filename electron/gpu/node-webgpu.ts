import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { throttleDawnPolling } from './dawn-poll';

/**
 * WebGPU in plain Node through the `webgpu` package (Dawn). On machines without a GPU it runs
 * on Mesa lavapipe (Vulkan on the CPU). Returns the reason instead of throwing when there is
 * no adapter, so callers can say why (CLI) or skip with the reason (tests).
 */
// dawn.node crashes intermittently when the GPU instance is garbage-collected while a device
// made from it is still in use, so every instance handed out is kept alive for the process.
const keepAlive: GPU[] = [];

export type NodeGpu = { gpu: GPU; adapter: GPUAdapter } | { gpu: null; reason: string };

/** `flags` are extra Dawn instance toggles (e.g. `disable-dawn-features=timestamp_quantization`). */
export async function openNodeGpu(backend: 'vulkan' | 'opengles' = 'vulkan', flags: readonly string[] = []): Promise<NodeGpu> {
  if (!process.env.XDG_RUNTIME_DIR) {
    // The Vulkan loader complains on stderr without a runtime folder.
    const dir = join(tmpdir(), `pxi-xdg-${process.getuid?.() ?? 0}`);
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
  // Dawn's waits would otherwise spin a core that a CPU adapter needs for the work (dawn-poll.ts).
  throttleDawnPolling();
  const gpu = mod.create([`backend=${backend}`, ...flags]);
  keepAlive.push(gpu);
  const adapter = await gpu.requestAdapter(backend === 'opengles' ? { featureLevel: 'compatibility' } : undefined);
  if (!adapter) {
    return {
      gpu: null,
      reason: `no WebGPU adapter on the ${backend} backend (on a machine without a GPU install mesa-vulkan-drivers from bookworm-backports)`,
    };
  }
  return { gpu, adapter };
}
