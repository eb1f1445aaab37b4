/**
 * A plain-data summary of a WebGPU adapter: used by `openDevice`, the UI status bar and
 * `pxi gpu`. Standalone on purpose (no device needed), and JSON-serialisable.
 */

/** The limits that decide what this engine can run; the rest are left out on purpose. */
export const RELEVANT_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'minStorageBufferOffsetAlignment',
  'minUniformBufferOffsetAlignment',
  'maxBindGroups',
] as const;

export type RelevantLimit = (typeof RELEVANT_LIMITS)[number];
export type LimitsSummary = Record<RelevantLimit, number>;

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** Sorted feature names. */
  features: string[];
  limits: LimitsSummary;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

export function summarizeLimits(limits: GPUSupportedLimits): LimitsSummary {
  const out = {} as LimitsSummary;
  for (const k of RELEVANT_LIMITS) out[k] = Number((limits as unknown as Record<string, number>)[k] ?? 0);
  return out;
}

export function describeAdapter(adapter: GPUAdapter): AdapterSummary {
  // `info` is an attribute in current WebGPU; older implementations had isFallbackAdapter on the adapter.
  const info = (adapter.info ?? {}) as Partial<GPUAdapterInfo> & Record<string, unknown>;
  const legacyFallback = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const s: AdapterSummary = {
    vendor: String(info.vendor ?? ''),
    architecture: String(info.architecture ?? ''),
    device: String(info.device ?? ''),
    description: String(info.description ?? ''),
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? legacyFallback ?? false),
    features: [...adapter.features].map(String).sort(),
    limits: summarizeLimits(adapter.limits),
  };
  if (typeof info.subgroupMinSize === 'number') s.subgroupMinSize = info.subgroupMinSize;
  if (typeof info.subgroupMaxSize === 'number') s.subgroupMaxSize = info.subgroupMaxSize;
  return s;
}

const MiB = 1024 * 1024;

/**
 * One line for a status bar or `pxi gpu`: the name, fallback or hardware, the features that
 * choose the engine's paths (each said yes or no), and the limits that size what it can run.
 */
/** What people call the adapter: its description, else vendor, device and architecture, else `fallback`. */
export function adapterName(s: Pick<AdapterSummary, 'description' | 'vendor' | 'device' | 'architecture'>, fallback = 'unnamed adapter'): string {
  return s.description || [s.vendor, s.device, s.architecture].filter(Boolean).join(' ') || fallback;
}

export function formatAdapterSummary(s: AdapterSummary): string {
  const name = adapterName(s);
  const has = (f: string) => (s.features.includes(f) ? 'yes' : 'no');
  const size = (n: number) => (n >= 1024 * MiB ? `${Math.floor(n / (1024 * MiB))} GiB` : `${Math.floor(n / MiB)} MiB`);
  return [
    name,
    s.isFallbackAdapter ? 'fallback (CPU)' : 'hardware',
    `shader-f16 ${has('shader-f16')}`,
    `subgroups ${has('subgroups')}`,
    `storage binding ${size(s.limits.maxStorageBufferBindingSize)}`,
    `buffer ${size(s.limits.maxBufferSize)}`,
    `${s.limits.maxStorageBuffersPerShaderStage} storage buffers/stage`,
    `${s.limits.maxComputeInvocationsPerWorkgroup} invocations/workgroup`,
  ].join(' · ');
}
