import { afterAll, beforeAll } from 'vitest';
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
 * What a file of GPU tests shares: one context with every shader of shaders/ loaded and, where
 * the file asks for them, its kernels; or, while there is none, the reason (the test must then
 * skip with it, never pass).
 */
export interface GpuFixture<K = never> {
  ctx: GpuContext | null;
  k: K | null;
  reason: string;
}

export type GpuSuite = GpuFixture<CoreKernels>;

/**
 * Setup for a file of GPU tests, called at the top of the file: registers a beforeAll that opens
 * the context (then `kernels(ctx)` when given) and an afterAll that destroys it, and returns the
 * one object they fill in. In a test: `if (!g.ctx) return t.skip(g.reason);`. A file's own
 * beforeAll registered after this call runs after the context is open (and its afterAll before
 * the context is destroyed).
 */
export function useGpu<K = never>(kernels?: (ctx: GpuContext) => Promise<K>): GpuFixture<K> {
  const g: GpuFixture<K> = { ctx: null, k: null, reason: 'not opened' };
  beforeAll(async () => {
    const r = await openTestContext();
    if (!r.ctx) {
      g.reason = r.reason;
      return;
    }
    g.ctx = r.ctx;
    g.reason = '';
    if (kernels) g.k = await kernels(r.ctx);
  });
  afterAll(() => g.ctx?.destroy());
  return g;
}

/** useGpu with the core kernels (CoreKernels) of the engine. */
export function useKernelSuite(): GpuSuite {
  return useGpu((ctx) => CoreKernels.create(ctx));
}

/**
 * For a file whose tests are made from the device (the variants its adapter offers): opens the
 * context while the file is collected, registers the afterAll that destroys it, and returns it
 * with the title for its `describe.skipIf(!ctx)(title, …)`, which carries the reason when there is
 * no context (so the skipped suite says why).
 */
export async function openGpuAtCollection(title: string): Promise<{ ctx: GpuContext | null; title: string }> {
  const opened = await openTestContext();
  afterAll(() => opened.ctx?.destroy());
  return { ctx: opened.ctx, title: opened.ctx ? title : `${title} (skipped: ${opened.reason})` };
}
