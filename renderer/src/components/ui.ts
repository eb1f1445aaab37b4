import { el } from '../views/types';

/** Small building blocks shared by the views, so every view looks and behaves alike. */

export function button(label: string, onClick: (ev: MouseEvent) => void, opts: { kind?: 'primary' | 'danger' | 'plain'; title?: string; focusKey?: string } = {}): HTMLButtonElement {
  const b = el('button', { type: 'button', className: `btn${opts.kind && opts.kind !== 'plain' ? ` ${opts.kind}` : ''}`, textContent: label });
  if (opts.title) b.title = opts.title;
  if (opts.focusKey) b.dataset.focusKey = opts.focusKey;
  b.addEventListener('click', onClick);
  return b;
}

/** A coloured state label: ok, bad, busy, warn or neutral. */
export function badge(text: string, tone: 'ok' | 'bad' | 'busy' | 'warn' | 'neutral'): HTMLElement {
  return el('span', { className: `badge badge-${tone}`, textContent: text });
}

/** An alert box shown where the person is looking; `code` is the error's stable code. */
export function alertBox(message: string, opts: { title?: string; code?: string; tone?: 'error' | 'warn' } = {}): HTMLElement {
  const box = el('div', { className: opts.tone === 'warn' ? 'callout warn' : 'callout error' });
  box.setAttribute('role', opts.tone === 'warn' ? 'status' : 'alert');
  if (opts.title) box.append(el('strong', { className: 'callout-title' }, opts.title));
  box.append(el('div', { className: 'callout-message' }, message));
  if (opts.code) box.append(el('div', { className: 'callout-code muted' }, opts.code));
  return box;
}

/**
 * Re-renders without losing the keyboard position: the focused element's `data-focus-key` is
 * looked up again afterwards and focused.
 */
export function preserveFocus(root: HTMLElement, render: () => void): void {
  const active = document.activeElement;
  const key = active instanceof HTMLElement && root.contains(active) ? active.dataset.focusKey : undefined;
  render();
  if (key) root.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
}

/** The message and code of whatever a call rejected with. */
export function errorInfo(e: unknown): { message: string; code: string | undefined } {
  const err = e as { message?: unknown; code?: unknown };
  return { message: typeof err?.message === 'string' ? err.message : String(e), code: typeof err?.code === 'string' ? err.code : undefined };
}
