/**
 * Opening a device: the adapter asked for, the optional features and limits it grants, the
 * capabilities the context then reports (GpuCaps).
 */
import { describeAdapter, summarizeLimits, type LimitsSummary } from './adapter';
import { GpuContext, type ShaderSource } from './context';
import { FeatureMissingError, WebGpuUnavailableError, type DeviceLostError } from './errors';

/** Features this engine uses when present. */
export type OptionalFeature = 'shader-f16' | 'subgroups' | 'timestamp-query';

/** Limits asked for in `requiredLimits`, up to what the adapter offers (or `maxLimits`). */
export const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
] as const;
export type RequestedLimit = (typeof REQUESTED_LIMITS)[number];

export interface OpenDeviceOptions {
  /** An adapter already requested (tests, `pxi gpu`); otherwise `gpu.requestAdapter()` is called. */
  adapter?: GPUAdapter;
  powerPreference?: GPUPowerPreference;
  disableF16?: boolean;
  disableSubgroups?: boolean;
  disableTimestamps?: boolean;
  /** Features that must be present: a missing one throws FeatureMissingError. */
  require?: OptionalFeature[];
  /** Ask for at most these limits (e.g. emulate SwiftShader's 10 storage buffers / 256 invocations). */
  maxLimits?: Partial<Record<RequestedLimit, number>>;
  shaders?: ShaderSource;
  label?: string;
  /** Called once when the device is lost for any reason other than our own destroy(). */
  onLost?: (e: DeviceLostError) => void;
}

export interface GpuCaps {
  f16: boolean;
  subgroups: boolean;
  timestamps: boolean;
  /** The limits the device was granted (not the adapter's). */
  limits: LimitsSummary;
}

export async function openDevice(gpu: GPU | null | undefined, opts: OpenDeviceOptions = {}): Promise<GpuContext> {
  if (!gpu && !opts.adapter) throw new WebGpuUnavailableError('WebGPU is not available here (no navigator.gpu / webgpu binding)');
  let adapter: GPUAdapter | null | undefined = opts.adapter;
  if (!adapter) {
    try {
      adapter = await gpu!.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
    } catch (e) {
      throw new WebGpuUnavailableError(`requestAdapter failed: ${(e as Error).message}`);
    }
  }
  if (!adapter) throw new WebGpuUnavailableError('no WebGPU adapter was found (requestAdapter returned null)');
  const summary = describeAdapter(adapter);

  for (const f of opts.require ?? []) {
    if (!adapter.features.has(f)) throw new FeatureMissingError(f, undefined, { adapter: summary.description || summary.device });
  }
  const want = (f: OptionalFeature, disabled?: boolean) => adapter!.features.has(f) && (!disabled || opts.require?.includes(f) === true);
  const features: GPUFeatureName[] = [];
  if (want('shader-f16', opts.disableF16)) features.push('shader-f16');
  if (want('subgroups', opts.disableSubgroups)) features.push('subgroups');
  if (want('timestamp-query', opts.disableTimestamps)) features.push('timestamp-query');

  const requiredLimits: Record<string, number> = {};
  for (const k of REQUESTED_LIMITS) {
    const offered = Number((adapter.limits as unknown as Record<string, number>)[k]);
    const cap = opts.maxLimits?.[k];
    requiredLimits[k] = cap !== undefined ? Math.min(offered, cap) : offered;
  }

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ label: opts.label ?? 'pxi', requiredFeatures: features, requiredLimits });
  } catch (e) {
    throw new WebGpuUnavailableError(`requestDevice failed: ${(e as Error).message}`, { adapter: summary });
  }
  const caps: GpuCaps = {
    f16: device.features.has('shader-f16'),
    subgroups: device.features.has('subgroups'),
    timestamps: device.features.has('timestamp-query'),
    limits: summarizeLimits(device.limits),
  };
  const ctx = new GpuContext(device, caps, summary, opts);
  // Keep the instance and adapter reachable for the device's lifetime: dawn.node crashed
  // (futex / mutex errors) when the GPU instance was garbage-collected under a live device.
  ctx.keepAlive = [gpu, adapter];
  return ctx;
}
