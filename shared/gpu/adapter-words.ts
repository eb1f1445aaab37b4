/**
 * What a person who is not a GPU expert reads about the WebGPU adapter (the status bar): whether
 * models run on a graphics card or on the processor, with the technical description kept for a
 * tooltip. A CPU fallback (SwiftShader in Chromium, Mesa's lavapipe/llvmpipe, Microsoft's WARP)
 * works but is many times slower, and people should know why their model is slow.
 */
import { adapterName, formatAdapterSummary, type AdapterSummary } from './adapter';

/** Software rasterisers and CPU Vulkan drivers, as adapters describe themselves. */
const CPU_ADAPTER = /swiftshader|lavapipe|llvmpipe|softpipe|\bwarp\b|microsoft basic render/i;

/**
 * Whether this adapter computes on the CPU: the adapter says it is a fallback, or its name is one
 * of the known software implementations (lavapipe, for one, does not always call itself a fallback).
 */
export function isCpuAdapter(s: Pick<AdapterSummary, 'isFallbackAdapter' | 'description' | 'vendor' | 'device' | 'architecture'>): boolean {
  return s.isFallbackAdapter || [s.description, s.vendor, s.device, s.architecture].some((f) => CPU_ADAPTER.test(f));
}

export interface AdapterWords {
  /** `gpu`: a graphics card; `cpu`: a software fallback on the processor (shown in amber). */
  kind: 'gpu' | 'cpu';
  /** The short line for the status bar. */
  text: string;
  /** The technical description, for a tooltip. */
  tooltip: string;
}

export const CPU_WORDS = 'Running on the CPU: slower than a graphics card';

export function adapterWords(s: AdapterSummary): AdapterWords {
  const name = adapterName(s);
  const technical = `WebGPU adapter: ${formatAdapterSummary(s)}`;
  if (isCpuAdapter(s)) {
    return {
      kind: 'cpu',
      text: CPU_WORDS,
      tooltip: `No graphics card is available to this page, so models run on the processor through ${name}, a software implementation of WebGPU: it works, many times slower.\n${technical}`,
    };
  }
  return { kind: 'gpu', text: `Running on the graphics card: ${name}`, tooltip: technical };
}
