import type { ImportPlan } from '../../../../shared/ipc/channels/files';
import type { Response } from '../../../../shared/ipc/contract';
import { barChart } from '../../components/bar-chart';
import { el } from '../../components/el';
import { baseName, formatBytes, formatCount } from '../../components/format';
import { alertBox, button } from '../../components/ui';
import { fact, stepHeading } from './parts';

export type Inspection = Response<'models:inspectFile'>;

/**
 * Step 2, Inspect: what the file's header says (size, architecture, parameters, tensors, context,
 * tokenizer, tensor types by bytes, chat template) and why it cannot be imported or run, if so.
 * `stagedName` is the person's file name when the file is an upload. Next is disabled when the
 * plan has an import problem.
 */
export function inspectStep(i: Inspection, plan: ImportPlan, stagedName: string | null, on: { back(): void; next(): void }): HTMLElement {
  const section = el('section', { className: 'step' }, stepHeading(`Inspect ${baseName(i.path)}`));
  if (plan.importProblem) {
    section.append(alertBox(plan.importProblem.message, { title: 'This file cannot be imported', code: plan.importProblem.code }));
  } else if (i.engineProblem) {
    // Each missing part (architecture, tensor type, tokenizer, shape) names what it found.
    const parts = i.engineProblem.split('\n');
    section.append(
      alertBox(`${parts.join('; ')}. It can still be imported: storage and the explorer do not need the engine.`, { title: 'The engine cannot run this model', tone: 'warn' }),
    );
  }
  const tok = i.tokenizer.model ? `${i.tokenizer.model}${i.tokenizer.vocabSize !== null ? `, ${i.tokenizer.vocabSize.toLocaleString()} tokens` : ''}` : 'none';
  const facts = el(
    'dl',
    { className: 'facts' },
    // An upload is named as the person's own file: where the server staged it is no concern of theirs.
    ...fact('File', stagedName !== null ? `${stagedName}, uploaded from this computer` : el('span', { className: 'path' }, i.path)),
    ...fact('Size', `${formatBytes(i.fileSize)} (${i.fileSize.toLocaleString()} bytes), GGUF v${i.ggufVersion}`),
    ...fact('Architecture', i.architecture ?? 'not given'),
    ...fact('Name', i.name ?? '—'),
    ...fact('Parameters', `${formatCount(i.parameterCount)} (${i.parameterCount.toLocaleString()})`),
    ...fact('Tensors', i.tensorCount.toLocaleString()),
    ...fact('Context length', i.contextLength === null ? '—' : i.contextLength.toLocaleString()),
    ...fact('Tokenizer', tok),
  );
  const chart = barChart(
    'Tensor types by bytes',
    i.tensorTypes.map((t) => ({ label: t.type, value: t.bytes, valueLabel: `${formatBytes(t.bytes)} · ${t.count} tensor${t.count === 1 ? '' : 's'}`, warn: !t.runnable })),
  );
  const unrunnable = i.tensorTypes.filter((t) => !t.runnable).map((t) => t.type);
  const template = i.chatTemplate
    ? el('details', { className: 'template' }, el('summary', {}, `Chat template (${i.chatTemplate.length.toLocaleString()} characters)`), el('pre', {}, i.chatTemplate))
    : el('p', { className: 'muted' }, 'Chat template: none in this file.');
  const next = button('Next: options', () => on.next(), { kind: 'primary' });
  next.classList.add('wizard-next');
  next.disabled = plan.importProblem !== null;
  section.append(
    el('div', { className: 'inspect-grid' }, facts, el('div', {}, chart, unrunnable.length ? el('p', { className: 'warn-text' }, `⚠ The engine's kernels cannot read ${unrunnable.join(', ')}.`) : '')),
    template,
    el('div', { className: 'wizard-actions' }, button('Back', () => on.back()), next),
  );
  return section;
}
