/** The WebGPU context every benchmark opens (pxi bench, scripts/bench, scripts/device). */
import { openDevice, WebGpuUnavailableError, type GpuContext } from '../../../shared/gpu';
import { openNodeGpu } from '../../gpu/node-webgpu';
import { SHADERS_DIR, loadShadersFromDir } from '../../gpu/shaders';

/**
 * Dawn toggles for benchmarking. By default Dawn quantises timestamp queries (seen here: kernel
 * times in steps of 65.5 µs, small kernels reading 0), which would blur the per-kernel breakdown.
 */
export const BENCH_DAWN_FLAGS = ['disable-dawn-features=timestamp_quantization'];

/**
 * A WebGPU context as openNodeContext() makes it, but with BENCH_DAWN_FLAGS (plus $PXI_DAWN_FLAGS,
 * comma-separated) on the Dawn instance, and the WGSL from `shadersDir` (a bundle lives elsewhere
 * than electron/gpu/).
 */
export async function openBenchContext(opts: { shadersDir?: string; dawnFlags?: string[] } = {}): Promise<GpuContext> {
  const extra = (process.env.PXI_DAWN_FLAGS ?? '').split(',').filter(Boolean);
  const opened = await openNodeGpu('vulkan', [...BENCH_DAWN_FLAGS, ...(opts.dawnFlags ?? []), ...extra]);
  if (!opened.gpu) throw new WebGpuUnavailableError(opened.reason);
  const { gpu, adapter } = opened;
  return openDevice(gpu, { adapter, shaders: loadShadersFromDir(opts.shadersDir ?? SHADERS_DIR) });
}
