import { loadShadersFromDir } from '../../electron/gpu/shaders';
import { openDevice, type GpuContext, type OpenDeviceOptions } from '../../shared/gpu';
import { openNodeGpu } from './webgpu-node';

export { loadShadersFromDir };

/**
 * A GpuContext on Dawn/lavapipe with every shader of shaders/ loaded, or the reason there is
 * none (the test must then skip with that reason, never pass).
 */
export async function openTestContext(opts: OpenDeviceOptions = {}): Promise<{ ctx: GpuContext; reason?: undefined } | { ctx: null; reason: string }> {
  const r = await openNodeGpu();
  if (!r.gpu) return { ctx: null, reason: r.reason };
  const ctx = await openDevice(r.gpu, { adapter: r.adapter, shaders: loadShadersFromDir(), ...opts });
  return { ctx };
}
