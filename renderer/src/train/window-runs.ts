/**
 * The window runs of this page: each opens its own WebGPU device (the engine worker's stays
 * Chat's) with every kernel of shaders/, trains through WindowRun, and gives the device back
 * when it ends. They outlive the Training view (switching views does not stop them); closing the
 * page does, and the services then show the run paused at its last checkpoint.
 */
import { openDevice } from '../../../shared/gpu';
import type { WindowSessionInfo } from '../../../shared/ipc/channels/train';
import type { PxiApi } from '../../../shared/ipc/client';
import type { Request } from '../../../shared/ipc/contract';
import { shaders } from '../engine/shaders';
import { WindowRun, type WindowRunOutcome } from './window-run';

const active = new Map<string, WindowRun>();
const listeners = new Set<(run: string, outcome: WindowRunOutcome | null) => void>();

/** Runs training in this page now. */
export function windowRunsHere(): string[] {
  return [...active.keys()];
}

/** Calls `l` when a run of this page starts (outcome null) or ends; returns the unsubscribe function. */
export function onWindowRuns(l: (run: string, outcome: WindowRunOutcome | null) => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

async function launch(api: PxiApi, open: () => Promise<WindowSessionInfo>): Promise<WindowSessionInfo> {
  if (!navigator.gpu) throw new Error('this browser has no WebGPU: train in the background instead');
  // The device first: a page that cannot train should not register a run.
  const ctx = await openDevice(navigator.gpu, { shaders, label: 'pxi window training' });
  let session: WindowSessionInfo;
  try {
    session = await open();
  } catch (e) {
    ctx.destroy();
    throw e;
  }
  const run = new WindowRun(api, ctx, session, { warn: (m) => void api.call('app:log', { level: 'warn', message: m }).catch(() => undefined) });
  active.set(session.run, run);
  for (const l of [...listeners]) l(session.run, null);
  void run.done.then((outcome) => {
    active.delete(session.run);
    ctx.destroy();
    for (const l of [...listeners]) l(session.run, outcome);
  });
  return session;
}

/** Registers a new run with the services and trains it in this window. */
export function startWindowRun(api: PxiApi, request: Request<'train:window-start'>): Promise<WindowSessionInfo> {
  return launch(api, () => api.call('train:window-start', request));
}

/** Continues a paused or failed run (from either kind) in this window, from its last checkpoint. */
export function resumeWindowRun(api: PxiApi, run: string): Promise<WindowSessionInfo> {
  return launch(api, () => api.call('train:window-resume', { run }));
}

// Closing the page: tell the services at once where possible (they also notice the silence).
addEventListener('pagehide', () => {
  for (const r of active.values()) r.leave();
});
