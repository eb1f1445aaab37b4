import { describeAdapter, type AdapterSummary } from '../../shared/gpu/adapter';
import { adapterWords } from '../../shared/gpu/adapter-words';

export type GpuStatus = { ok: true; summary: AdapterSummary } | { ok: false; message: string };

/** Asks the browser for a WebGPU adapter and says plainly what it found or why there is none. */
export async function probeWebGpu(): Promise<GpuStatus> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    const why = window.isSecureContext
      ? 'this browser has no WebGPU (navigator.gpu is missing); use a current Chromium or Electron, with --enable-unsafe-webgpu on Linux'
      : 'WebGPU needs a secure context: open the page from http://127.0.0.1 or localhost';
    return { ok: false, message: `WebGPU unavailable: ${why}` };
  }
  try {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { ok: false, message: 'WebGPU unavailable: the browser offers no adapter (GPU blocklisted or disabled)' };
    return { ok: true, summary: describeAdapter(adapter) };
  } catch (e) {
    return { ok: false, message: `WebGPU unavailable: ${(e as Error).message}` };
  }
}

/**
 * The status bar: one line, whatever the window's width. Where models run, in words a
 * non-expert understands (amber for a CPU fallback: shared/gpu/adapter-words.ts), the technical
 * adapter line on hover; then the host. Each part is clipped with an ellipsis rather than wrapped.
 */
export function renderStatus(el: HTMLElement, status: GpuStatus, hostLine: string): void {
  el.replaceChildren();
  const gpu = document.createElement('span');
  gpu.id = 'gpu-status';
  if (status.ok) {
    const words = adapterWords(status.summary);
    gpu.className = words.kind === 'cpu' ? 'gpu-cpu' : 'gpu-ok';
    gpu.dataset.adapter = status.summary.description || status.summary.vendor;
    gpu.textContent = words.text;
    gpu.title = words.tooltip;
  } else {
    gpu.className = 'gpu-missing';
    gpu.dataset.adapter = '';
    gpu.textContent = 'No WebGPU here: models cannot run in this browser';
    gpu.title = status.message;
  }
  const host = document.createElement('span');
  host.className = 'muted status-host';
  host.textContent = hostLine;
  host.title = hostLine;
  el.append(gpu, host);
}
