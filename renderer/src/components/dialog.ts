import { el } from './el';

/**
 * Modal dialogs on the native <dialog> element: showModal() traps focus and makes the page
 * behind inert, Escape cancels, and focus returns to what had it before.
 */

interface DialogParts {
  dialog: HTMLDialogElement;
  form: HTMLFormElement;
  error: HTMLElement;
  /** Resolves with the button value that closed the dialog ('' for Escape). */
  closed: Promise<string>;
}

function openDialog(title: string, body: Node[], confirmLabel: string, danger: boolean): DialogParts {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const heading = el('h2', { className: 'dialog-title', id: `dlg-${Math.random().toString(36).slice(2)}` }, title);
  const error = el('div', { className: 'field-error', role: 'alert' });
  const cancel = el('button', { type: 'button', className: 'btn', textContent: 'Cancel' });
  const confirm = el('button', { type: 'submit', className: danger ? 'btn danger' : 'btn primary', textContent: confirmLabel, value: 'confirm' });
  const form = el('form', { method: 'dialog', className: 'dialog-form' }, heading, ...body, error, el('div', { className: 'dialog-actions' }, cancel, confirm));
  const dialog = el('dialog', { className: 'dialog' }, form);
  dialog.setAttribute('aria-labelledby', heading.id);
  document.body.append(dialog);
  const closed = new Promise<string>((resolve) => {
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue);
      dialog.remove();
      opener?.focus();
    });
  });
  cancel.addEventListener('click', () => dialog.close(''));
  dialog.returnValue = '';
  dialog.showModal();
  return { dialog, form, error, closed };
}

/** Asks a yes/no question; resolves true when confirmed. */
export async function confirmDialog(opts: { title: string; message: string; confirmLabel: string; danger?: boolean }): Promise<boolean> {
  const d = openDialog(opts.title, [el('p', {}, opts.message)], opts.confirmLabel, opts.danger ?? false);
  // The safe answer has focus, so Enter alone never deletes anything.
  (d.form.querySelector('button[type="button"]') as HTMLButtonElement).focus();
  return (await d.closed) === 'confirm';
}

export interface PromptField {
  label: string;
  value?: string;
  hint?: string;
  /** Returns an error message, or null when the value is acceptable. */
  validate?: (value: string) => string | null;
}

/**
 * Asks for one text value and optional checkboxes; resolves null when cancelled. The value is
 * validated before the dialog closes, the message shown under the field.
 */
export async function promptDialog(opts: {
  title: string;
  field: PromptField;
  checkboxes?: { label: string; checked?: boolean }[];
  confirmLabel: string;
}): Promise<{ value: string; checks: boolean[] } | null> {
  const input = el('input', { type: 'text', className: 'text-input wide', value: opts.field.value ?? '', spellcheck: false });
  input.setAttribute('autocomplete', 'off');
  const label = el('label', { className: 'field' }, el('span', { className: 'field-label' }, opts.field.label), input);
  if (opts.field.hint) label.append(el('span', { className: 'field-hint muted' }, opts.field.hint));
  const boxes = (opts.checkboxes ?? []).map((c) => el('input', { type: 'checkbox', checked: c.checked ?? false }));
  const boxLabels = (opts.checkboxes ?? []).map((c, i) => el('label', { className: 'check' }, boxes[i]!, ` ${c.label}`));
  const d = openDialog(opts.title, [label, ...boxLabels], opts.confirmLabel, false);
  d.form.addEventListener('submit', (ev) => {
    const problem = opts.field.validate?.(input.value) ?? null;
    if (problem) {
      ev.preventDefault();
      d.error.textContent = problem;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
  });
  input.focus();
  input.select();
  if ((await d.closed) !== 'confirm') return null;
  return { value: input.value, checks: boxes.map((b) => b.checked) };
}
