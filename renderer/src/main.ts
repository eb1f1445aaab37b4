import type { PxiApi } from '../../shared/ipc/client';
import { connectApi } from './api';
import { probeWebGpu, renderStatus } from './status-bar';
import { modelsView } from './views/models';
import { importView } from './views/import';
import { tasksView } from './views/tasks';
import { explorerView } from './views/explorer';
import { chatView } from './views/chat';
import { kernelsView } from './views/kernels';
import { dashboardView } from './views/dashboard';
import { trainingView } from './views/training';
import { el } from './components/el';
import { type View } from './views/types';

const views: View[] = [modelsView, importView, explorerView, chatView, trainingView, tasksView, kernelsView, dashboardView];

function currentViewId(): string {
  // A view may take parameters after '?' (#/explorer?model=ID); the view id is before it.
  const id = location.hash.replace(/^#\/?/, '').split('?')[0]!;
  return views.some((v) => v.id === id) ? id : 'models';
}

function renderNav(nav: HTMLElement, active: string): void {
  nav.replaceChildren(
    ...views.map((v) => {
      const a = el('a', { href: `#/${v.id}`, textContent: v.title, className: v.id === active ? 'active' : '' });
      a.dataset.view = v.id;
      if (v.id === active) a.setAttribute('aria-current', 'page');
      return a;
    }),
  );
}

/** Each view names the window (and the browser tab, and the history entry): "Chat — Pixel-LLM". */
function pageTitle(viewTitle: string): string {
  return `${viewTitle} — Pixel-LLM`;
}

/**
 * The skip link jumps to the view's main region. Its href would change the route (#view is not a
 * view), so it focuses the region itself instead of following the link.
 */
function wireSkipLink(viewRoot: HTMLElement): void {
  document.getElementById('skip-link')?.addEventListener('click', (ev) => {
    ev.preventDefault();
    viewRoot.focus();
    viewRoot.scrollIntoView({ block: 'start' });
  });
}

// What the view on screen asked to run when it leaves (stop timers, workers, subscriptions).
let leaveCurrentView: (() => void) | undefined;
let renderGeneration = 0;

async function showView(api: PxiApi, viewRoot: HTMLElement, nav: HTMLElement): Promise<void> {
  const id = currentViewId();
  renderNav(nav, id);
  const leave = leaveCurrentView;
  leaveCurrentView = undefined;
  try {
    leave?.();
  } catch (e) {
    void api.call('app:log', { level: 'warn', message: `view cleanup failed: ${(e as Error).message}` });
  }
  viewRoot.replaceChildren();
  viewRoot.dataset.view = id;
  document.title = pageTitle(views.find((v) => v.id === id)!.title);
  const generation = ++renderGeneration;
  const showError = (message: string) => viewRoot.prepend(el('div', { className: 'error', role: 'alert', textContent: message }));
  try {
    const cleanup = await views.find((v) => v.id === id)!.render(viewRoot, { api, showError });
    if (typeof cleanup === 'function') {
      // The user may have moved on while this view was still rendering.
      if (generation === renderGeneration) leaveCurrentView = cleanup;
      else cleanup();
    }
  } catch (e) {
    showError((e as Error).message);
  }
}

async function boot(): Promise<void> {
  const status = document.getElementById('status')!;
  const nav = document.getElementById('nav')!;
  const viewRoot = document.getElementById('view')!;
  wireSkipLink(viewRoot);
  let api: PxiApi;
  let hostLine: string;
  try {
    const connected = await connectApi();
    api = connected.api;
    const info = await api.call('app:info', {});
    hostLine = `${info.name} ${info.version} · ${info.mode === 'electron' ? 'desktop' : 'browser mode'} · ${info.platform}`;
    document.getElementById('host-mode')!.textContent = info.mode === 'electron' ? '' : 'browser mode';
  } catch (e) {
    status.textContent = `Cannot reach the Pixel-LLM services: ${(e as Error).message}`;
    status.className = 'status error';
    return;
  }
  window.addEventListener('error', (ev) => void api.call('app:log', { level: 'error', message: String(ev.message).slice(0, 4000) || 'error' }));
  window.addEventListener('hashchange', () => void showView(api, viewRoot, nav));
  await showView(api, viewRoot, nav);
  renderStatus(status, await probeWebGpu(), hostLine);
  document.body.dataset.ready = 'true';
}

void boot();
