import { describeAdapter, formatAdapterSummary, type AdapterSummary } from '../../shared/gpu/adapter';

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

export function renderStatus(el: HTMLElement, status: GpuStatus, hostLine: string): void {
  el.replaceChildren();
  const gpu = document.createElement('span');
  gpu.id = 'gpu-status';
  gpu.className = status.ok ? 'gpu-ok' : 'gpu-missing';
  gpu.dataset.adapter = status.ok ? status.summary.description || status.summary.vendor : '';
  gpu.textContent = status.ok ? `WebGPU: ${formatAdapterSummary(status.summary)}` : status.message;
  const host = document.createElement('span');
  host.className = 'muted';
  host.textContent = hostLine;
  el.append(gpu, host);
}
