/**
 * The Training view's selected run (specs/training.md, "The Training view"): its heading and what
 * it trains, its progress, where it trains, its actions (pause, resume here or in the background,
 * cancel, see it on the Explorer), its figures, its loss, learning-rate and gradient-norm curves
 * and its latest sample (a fine-tune: its adapter). `buildRunDetail` lays the section out once per
 * run; `drawRunDetail` fills it in again at each event.
 */
import type { Response } from '../../../shared/ipc/contract';
import type { TrainingRun, TrainRun } from '../../../shared/ipc/channels/train';
import { formatCount, formatDuration } from '../components/format';
import { createProgressBar, type ProgressBar } from '../components/progress';
import { alertBox, badge, button } from '../components/ui';
import { el } from '../components/el';
import { chartElement, drawChart, type ChartPoint } from './training-chart';
import { type AdapterSection, finetuneDescription } from './training-finetune';
import { windowRunsHere } from '../train/window-runs';

export type History = Response<'train:history'>;
type Point = History['history'][number];

export const STATE_TONE = { queued: 'neutral', running: 'busy', paused: 'warn', succeeded: 'ok', failed: 'bad' } as const;

/** What the run's buttons do. */
export interface RunActions {
  pause(): void;
  resume(): void;
  resumeHere(): void;
  cancel(): void;
}

export function fmtLoss(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : v.toFixed(4);
}

function fmtSci(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : v.toExponential(2);
}

/** One line that says what a training run trains: the model's sizes, parameters, batch and text. */
function recipeDescription(r: TrainingRun['recipe'], parameters: number): string {
  const m = r.model;
  return `${m.arch}, width ${m.dim}, ${m.layers} layers, ${m.heads} heads, FFN ${m.ff}, context ${m.context}, vocabulary ${r.data.vocab}; ${formatCount(parameters)} parameters; batch ${r.train.batch} × ${r.train.seqLen ?? m.context} tokens; text ${r.data.train.join(', ')}`;
}

function figure(key: string, label: string, value: string): HTMLElement[] {
  const dd = el('dd', {}, value);
  dd.dataset.figure = key;
  return [el('dt', {}, label), dd];
}

export function buildRunDetail(detail: HTMLElement, run: TrainRun, adapters: AdapterSection, on: RunActions): ProgressBar {
  const bar = createProgressBar(`Steps of ${run.run}`);
  const pause = button('Pause', () => on.pause(), { title: 'Stop after the current step, keeping a checkpoint of it' });
  pause.id = 'train-pause';
  const resume = button('Resume', () => on.resume(), { kind: 'primary', title: 'Continue from the last checkpoint, in the background (the services, on Dawn)' });
  resume.id = 'train-resume';
  const resumeWindow = button('Resume in this window', () => on.resumeHere(), { title: 'Continue from the last checkpoint on this page’s WebGPU' });
  resumeWindow.id = 'train-resume-window';
  const cancel = button('Cancel…', () => on.cancel(), { kind: 'danger' });
  cancel.id = 'train-cancel';
  const explore = el('a', { className: 'btn', id: 'train-explore', textContent: 'See where it learned (Explorer)', hidden: true });
  detail.replaceChildren(
    el('div', { className: 'view-head' }, el('h2', { tabIndex: -1 }, `${run.kind === 'finetune' ? 'Fine-tune' : 'Run'} ${run.run}`), el('span', { className: 'train-state' })),
    el('p', { className: 'muted small train-what' }, run.kind === 'finetune' ? finetuneDescription(run) : recipeDescription(run.recipe, run.parameters)),
    bar.element,
    el('p', { className: 'muted small train-where-now' }),
    el('div', { className: 'actions train-actions' }, pause, resume, resumeWindow, cancel, explore),
    el('div', { className: 'train-error' }),
    el(
      'div',
      { className: 'train-grid' },
      el('figure', { className: 'chart train-loss' }, chartElement('train-loss-chart'), el('figcaption', { className: 'muted' }, 'Loss per step (line) and validation loss (dots); log scale.')),
      el('dl', { className: 'facts train-figures', id: 'train-figures' }),
    ),
    el(
      'div',
      { className: 'train-grid two' },
      el('figure', { className: 'chart' }, chartElement('train-lr-chart'), el('figcaption', { className: 'muted' }, 'Learning rate: warmup, then cosine decay.')),
      el('figure', { className: 'chart' }, chartElement('train-grad-chart'), el('figcaption', { className: 'muted' }, 'Global gradient norm before clipping.')),
    ),
    el('section', { className: 'train-sample', id: 'train-sample', ariaLabel: 'Latest sample' }),
    ...(run.kind === 'finetune' ? [adapters.element] : []),
  );
  return bar;
}

export function drawRunDetail(detail: HTMLElement, run: TrainRun, h: History, latestSample: { step: number; text: string } | null, bar: ProgressBar, adapters: AdapterSection): void {
  const active = run.state === 'running' || run.state === 'queued';
  bar.update({ done: run.step, total: run.steps, unit: 'steps', message: run.state === 'queued' ? 'waiting for the tasks before it' : run.state }, undefined);
  const last = h.history[h.history.length - 1];
  const latest = run.latest ?? (last ? { ...last, etaSec: null } : null);
  const valid = h.valid[h.valid.length - 1];
  detail.querySelector('.train-state')!.replaceChildren(badge(run.state, STATE_TONE[run.state]));
  detail.querySelector('.train-figures')!.replaceChildren(
    ...figure('step', 'Step', `${run.step} of ${run.steps}`),
    ...figure('loss', 'Loss', fmtLoss(latest?.loss)),
    ...figure('valid', 'Validation loss', valid ? `${fmtLoss(valid.loss)} (step ${valid.step})` : '—'),
    ...figure('lr', 'Learning rate', fmtSci(latest?.lr)),
    ...figure('grad', 'Gradient norm', latest ? latest.gradNorm.toPrecision(3) : '—'),
    ...figure('tokens', 'Tokens/s', latest ? formatCount(Math.round(latest.tokensPerSec)) : '—'),
    ...figure('eta', 'ETA', active && latest?.etaSec !== null && latest?.etaSec !== undefined ? formatDuration(latest.etaSec * 1000) : '—'),
    ...figure('checkpoints', 'Checkpoints', h.checkpoints.length ? h.checkpoints.map((s) => `step ${s}`).join(', ') : 'none yet'),
  );
  const x = (p: Point) => p.step;
  const loss: ChartPoint[] = h.history.map((p) => ({ x: x(p), y: p.loss }));
  drawChart(
    detail.querySelector<SVGSVGElement>('#train-loss-chart')!,
    { title: `Loss of ${run.run}`, xLabel: 'step', yLabel: 'loss (nats/token, log scale)', log: true, xMax: run.steps },
    [
      { name: 'training', cls: 'series-train', kind: 'line', points: loss },
      { name: 'validation', cls: 'series-valid', kind: 'dots', points: h.valid.map((p) => ({ x: p.step, y: p.loss })) },
    ],
  );
  drawChart(
    detail.querySelector<SVGSVGElement>('#train-lr-chart')!,
    { title: 'Learning rate', xLabel: 'step', yLabel: 'learning rate', xMax: run.steps, height: 170 },
    [{ name: 'learning rate', cls: 'series-lr', kind: 'line', points: h.history.map((p) => ({ x: x(p), y: p.lr })) }],
  );
  drawChart(
    detail.querySelector<SVGSVGElement>('#train-grad-chart')!,
    { title: 'Gradient norm (before clipping)', xLabel: 'step', yLabel: 'gradient norm (log)', log: true, xMax: run.steps, height: 170 },
    [{ name: 'gradient norm', cls: 'series-grad', kind: 'line', points: h.history.map((p) => ({ x: x(p), y: p.gradNorm })) }],
  );
  const loss$ = detail.querySelector<SVGSVGElement>('#train-loss-chart')!;
  loss$.dataset.trainPoints = String(loss.length);
  loss$.dataset.validPoints = String(h.valid.length);
  const sample = detail.querySelector<HTMLElement>('#train-sample')!;
  // A fine-tune draws no samples: what it made is its adapter (or model), under the curves.
  sample.hidden = run.kind === 'finetune';
  if (run.kind === 'finetune') adapters.show(run);
  else if (latestSample) {
    sample.replaceChildren(el('div', { className: 'muted small' }, `Greedy continuation at step ${latestSample.step}:`), el('blockquote', { className: 'train-sample-text' }, latestSample.text));
    sample.dataset.step = String(latestSample.step);
  } else {
    const every = run.recipe.train.sampleEvery;
    sample.replaceChildren(el('p', { className: 'empty' }, every > 0 ? `The first sample comes at step ${every}.` : 'A sample comes at the end of the run.'));
    delete sample.dataset.step;
  }
  const show = (id: string, visible: boolean) => {
    const b = detail.querySelector<HTMLElement>(`#${id}`)!;
    b.hidden = !visible;
  };
  show('train-pause', active);
  show('train-resume', run.state === 'paused' || run.state === 'failed');
  // Fine-tunes train in the background only (LoRA in a window is not built).
  show('train-resume-window', (run.state === 'paused' || run.state === 'failed') && 'gpu' in navigator && run.kind === 'train');
  const where = detail.querySelector<HTMLElement>('.train-where-now')!;
  where.textContent =
    run.where === 'window'
      ? `Trains in ${windowRunsHere().includes(run.run) ? 'this window' : 'a window'} (WebGPU); its checkpoints are written by the services.`
      : run.kind === 'finetune'
        ? `Fine-tunes in the background (the services, on Dawn); ${run.finetune.mode === 'lora' ? `its adapter ${run.run} is stored beside ${run.base.name} at the end` : `the fine-tuned model is imported as ${run.run} at the end`}.`
        : 'Trains in the background (the services, on Dawn).';
  const cancel = detail.querySelector<HTMLButtonElement>('#train-cancel')!;
  cancel.textContent = run.state === 'succeeded' ? 'Remove checkpoints…' : 'Cancel…';
  const explore = detail.querySelector<HTMLAnchorElement>('#train-explore')!;
  // The weight-change layer shows runs that trained a model from scratch.
  explore.hidden = run.modelId === null || run.kind !== 'train';
  if (run.modelId) explore.href = `#/explorer?model=${encodeURIComponent(run.modelId)}&train=${encodeURIComponent(run.run)}`;
  const err = detail.querySelector<HTMLElement>('.train-error')!;
  err.replaceChildren(...(run.error ? [alertBox(run.error.message, { title: 'The run stopped with an error', code: run.error.code })] : []));
}
