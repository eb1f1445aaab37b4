import { plainError } from '../../../shared/plain-errors/sentences';
import { hideStagingPaths } from '../../../shared/plain-errors/staging-paths';
import { el } from './el';

/**
 * How an error is shown everywhere: plain words first, the technical part folded.
 *
 * For a code with plain words (shared/plain-errors/sentences.ts): the title, the sentence and
 * what to do, then a closed `<details class="error-details">` holding the technical message
 * (which names the file, the field, the offset and the bytes), the code and the details' facts.
 * For any other error: the message and the code, as they are (those messages were written for
 * the form they appear in). Either way no staged-upload path is shown: the uploaded file's name
 * stands where it was.
 */

/** An error as the views hold it: a `PxiError` through the client, or a task's serialised error. */
export interface ShownError {
  message: string;
  code?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

export interface ErrorBoxOptions {
  title?: string;
  tone?: 'error' | 'warn';
}

/** The details worth naming, in the order people read them; the rest stay in the message. */
const FACTS: [key: string, label: string][] = [
  ['file', 'File'],
  ['field', 'Field'],
  ['value', 'Value'],
  ['offset', 'Offset'],
  ['tile', 'Tile'],
  ['tensor', 'Tensor'],
];

function factText(v: unknown): string | null {
  if (typeof v === 'string') return v.length ? hideStagingPaths(v) : null;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return null;
}

/** The closed fold with everything technical about `err`. */
export function errorDetails(err: ShownError): HTMLDetailsElement {
  const facts = el('dl', { className: 'error-facts' });
  if (err.code) facts.append(el('dt', {}, 'Code'), el('dd', { className: 'callout-code' }, err.code));
  for (const [key, label] of FACTS) {
    const text = factText(err.details?.[key]);
    if (text !== null) facts.append(el('dt', {}, label), el('dd', {}, text));
  }
  return el('details', { className: 'error-details' }, el('summary', {}, 'Details'), el('div', { className: 'callout-message' }, hideStagingPaths(err.message)), facts);
}

/** An alert box for `err` where the person is looking (role=alert; role=status for a warning). */
export function errorBox(err: ShownError, opts: ErrorBoxOptions = {}): HTMLElement {
  const box = el('div', { className: opts.tone === 'warn' ? 'callout warn' : 'callout error' });
  box.setAttribute('role', opts.tone === 'warn' ? 'status' : 'alert');
  if (opts.title) box.append(el('strong', { className: 'callout-title' }, opts.title));
  const plain = plainError(err.code);
  if (plain) {
    box.dataset.plain = 'true';
    box.append(el('div', { className: 'callout-plain' }, plain.sentence));
    if (plain.hint) box.append(el('div', { className: 'callout-hint' }, plain.hint));
    box.append(errorDetails(err));
  } else {
    box.append(el('div', { className: 'callout-message' }, hideStagingPaths(err.message)));
    if (err.code) box.append(el('div', { className: 'callout-code muted' }, err.code));
  }
  return box;
}

/** The same for a table cell or a row: one line of plain words (or the message), the fold after it. */
export function errorInline(err: ShownError): HTMLElement {
  const plain = plainError(err.code);
  if (!plain) return el('div', {}, el('div', { className: 'task-error' }, hideStagingPaths(err.message)), err.code ? el('div', { className: 'muted small' }, err.code) : '');
  return el('div', {}, el('div', { className: 'task-error' }, plain.sentence), errorDetails(err));
}
