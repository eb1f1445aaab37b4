/**
 * The status bar's words for the WebGPU adapter (shared/gpu/adapter-words.ts): a CPU fallback
 * (SwiftShader, lavapipe, llvmpipe, WARP) says so in words a non-expert understands, with the
 * adapter's technical line in the tooltip; a graphics card is named.
 */
import { describe, expect, it } from 'vitest';
import type { AdapterSummary } from '../../shared/gpu/adapter';
import { adapterWords, CPU_WORDS, isCpuAdapter } from '../../shared/gpu/adapter-words';

function adapter(info: Partial<AdapterSummary>): AdapterSummary {
  return {
    vendor: '',
    architecture: '',
    device: '',
    description: '',
    isFallbackAdapter: false,
    features: ['shader-f16'],
    limits: {
      maxStorageBufferBindingSize: 128 << 20,
      maxBufferSize: 256 << 20,
      maxStorageBuffersPerShaderStage: 10,
      maxUniformBufferBindingSize: 65536,
      maxComputeWorkgroupStorageSize: 16384,
      maxComputeInvocationsPerWorkgroup: 256,
      maxComputeWorkgroupSizeX: 256,
      maxComputeWorkgroupsPerDimension: 65535,
      minStorageBufferOffsetAlignment: 256,
      minUniformBufferOffsetAlignment: 256,
      maxBindGroups: 4,
    },
    ...info,
  };
}

describe('adapter words', () => {
  it('says Chromium’s SwiftShader runs on the CPU, the technical name in the tooltip', () => {
    // What Chromium on a machine without a GPU reports (measured with Debian's Chromium here).
    const w = adapterWords(adapter({ vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true }));
    expect(w.kind).toBe('cpu');
    expect(w.text).toBe('Running on the CPU: slower than a graphics card');
    expect(w.tooltip).toContain('google swiftshader');
    expect(w.tooltip).toContain('fallback (CPU)');
    expect(w.tooltip).toContain('shader-f16 yes');
  });

  it('knows the CPU drivers by name even when the adapter does not call itself a fallback', () => {
    for (const info of [
      { vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' },
      { vendor: 'mesa', architecture: 'lavapipe' },
      { description: 'Microsoft Basic Render Driver' },
      { description: 'SwiftShader Device (Subzero)' },
    ]) {
      expect(isCpuAdapter(adapter(info)), JSON.stringify(info)).toBe(true);
      expect(adapterWords(adapter(info)).text).toBe(CPU_WORDS);
    }
  });

  it('names a graphics card plainly', () => {
    const w = adapterWords(adapter({ vendor: 'nvidia', architecture: 'ada-lovelace', description: 'NVIDIA GeForce RTX 4090' }));
    expect(w.kind).toBe('gpu');
    expect(w.text).toBe('Running on the graphics card: NVIDIA GeForce RTX 4090');
    expect(w.tooltip).toContain('hardware');
    expect(isCpuAdapter(adapter({ vendor: 'intel', architecture: 'gen-12lp' }))).toBe(false);
    expect(isCpuAdapter(adapter({ vendor: 'amd', description: 'AMD Radeon RX 7900 XTX (RADV NAVI31)' }))).toBe(false);
  });
});
