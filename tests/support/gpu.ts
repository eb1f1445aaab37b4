import { loadShadersFromDir } from '../../electron/gpu/shaders';
import { CoreKernels, openDevice, type GpuContext, type OpenDeviceOptions } from '../../shared/gpu';
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

/**
 * Setup for kernel tests: `g = await openKernelSuite()` in beforeAll, then in a test
 * `if (!g.ctx) return t.skip(g.reason);`. Opens one context and the core kernels per file.
 */
export interface GpuSuite {
  ctx: GpuContext | null;
  k: CoreKernels | null;
  reason: string;
}

export async function openKernelSuite(): Promise<GpuSuite> {
  const r = await openTestContext();
  if (!r.ctx) return { ctx: null, k: null, reason: r.reason };
  return { ctx: r.ctx, k: await CoreKernels.create(r.ctx), reason: '' };
}
