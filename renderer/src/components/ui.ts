import { el } from './el';
import { errorBox } from './error-box';

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

/**
 * An alert box shown where the person is looking; `code` is the error's stable code. A code with
 * plain words shows them first and folds the message and code (components/error-box.ts).
 */
export function alertBox(message: string, opts: { title?: string; code?: string | undefined; details?: Record<string, unknown> | undefined; tone?: 'error' | 'warn' } = {}): HTMLElement {
  return errorBox({ message, code: opts.code, details: opts.details }, { ...(opts.title ? { title: opts.title } : {}), ...(opts.tone ? { tone: opts.tone } : {}) });
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

/** The message, code and details of whatever a call rejected with. */
export function errorInfo(e: unknown): { message: string; code: string | undefined; details: Record<string, unknown> | undefined } {
  const err = e as { message?: unknown; code?: unknown; details?: unknown };
  return {
    message: typeof err?.message === 'string' ? err.message : String(e),
    code: typeof err?.code === 'string' ? err.code : undefined,
    details: err?.details !== null && typeof err?.details === 'object' ? (err.details as Record<string, unknown>) : undefined,
  };
}
