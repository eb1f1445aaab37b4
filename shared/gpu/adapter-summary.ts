/**
 * A plain-data description of a WebGPU adapter: what the status bar, `pxi gpu` and the engine's
 * capability choice all read. Works on any WebGPU implementation (Chromium, Electron, Dawn in
 * Node); fields an implementation does not expose are reported as empty, never guessed.
 */
export interface AdapterSummary {
  description: string;
  vendor: string;
  architecture: string;
  isFallbackAdapter: boolean;
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
  features: string[];
  limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxStorageBuffersPerShaderStage: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupsPerDimension: number;
  };
}

export function describeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  // isFallbackAdapter moved from GPUAdapter to GPUAdapterInfo; read whichever exists.
  const fallback =
    (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ??
    (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ??
    false;
  const l = adapter.limits;
  return {
    description: info.description || '',
    vendor: info.vendor || '',
    architecture: info.architecture || '',
    isFallbackAdapter: Boolean(fallback),
    shaderF16: adapter.features.has('shader-f16'),
    subgroups: adapter.features.has('subgroups'),
    timestampQuery: adapter.features.has('timestamp-query'),
    features: [...adapter.features].map(String).sort(),
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
  };
}

/** A short human name: description, else vendor/architecture. */
export function adapterName(s: AdapterSummary): string {
  return s.description || [s.vendor, s.architecture].filter(Boolean).join(' ') || 'unnamed adapter';
}

function mib(n: number): string {
  return n >= 1024 * 1024 * 1024 ? `${(n / 1024 ** 3).toFixed(0)} GiB` : `${(n / 1024 ** 2).toFixed(0)} MiB`;
}

/** One line for a status bar or a CLI. */
export function formatAdapterLine(s: AdapterSummary): string {
  return [
    adapterName(s),
    s.isFallbackAdapter ? 'fallback (CPU)' : 'hardware',
    `shader-f16 ${s.shaderF16 ? 'yes' : 'no'}`,
    `subgroups ${s.subgroups ? 'yes' : 'no'}`,
    `storage binding ${mib(s.limits.maxStorageBufferBindingSize)}`,
    `buffer ${mib(s.limits.maxBufferSize)}`,
    `${s.limits.maxStorageBuffersPerShaderStage} storage buffers/stage`,
    `${s.limits.maxComputeInvocationsPerWorkgroup} invocations/workgroup`,
  ].join(' · ');
}
