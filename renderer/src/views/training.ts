/**
 * Training (specs/training.md, "The Training view"): start a run from a small form, follow it
 * live (loss and validation curves, learning rate, gradient norm, tokens/s, ETA, the latest
 * sample), pause, resume or cancel it, and list the runs. The page reads everything through the
 * train:* channels and `train:event`; a reload shows the same run from its checkpoints
 * (`#/training?run=NAME` keeps the selection).
 *
 * A run trains in the background (the services' task on Dawn) or in this window (the same step
 * loop on the page's WebGPU, its data and checkpoints in the services: ../train/window-runs.ts);
 * a paused run resumes in either.
 *
 * Fine-tunes of a model in the volume (LoRA adapters over its frozen base, or every weight) are
 * started from the form beside "New run" (./training-finetune.ts) and then listed, followed,
 * paused, resumed and cancelled here like any run; they train in the background, and once one
 * ended its adapter is listed under its base with a link to Chat.
 */
import type { PxiApi } from '../../../shared/ipc/client';
import type { Response } from '../../../shared/ipc/contract';
import type { TrainEventInfo, TrainingRun, TrainRun } from '../../../shared/ipc/channels/train';
import { formatCount, formatDuration, isAbsolutePath } from '../components/format';
import { confirmDialog } from '../components/dialog';
import { createProgressBar, type ProgressBar } from '../components/progress';
import { alertBox, badge, button, errorInfo } from '../components/ui';
import { chartElement, drawChart, type ChartPoint } from './training-chart';
import { AdapterSection, FinetuneForm, finetuneDescription } from './training-finetune';
import { el } from '../components/el';
import { type View } from './types';
import { onWindowRuns, resumeWindowRun, startWindowRun, windowRunsHere } from '../train/window-runs';

type History = Response<'train:history'>;
type Point = History['history'][number];

const STATE_TONE = { queued: 'neutral', running: 'busy', paused: 'warn', succeeded: 'ok', failed: 'bad' } as const;

interface Preset {
  label: string;
  model: { dim: number; layers: number; heads: number; ff: number; context: number };
  vocab: number;
  train: { steps: number; batch: number; lr: number; warmup: number; evalEvery: number; evalBatches: number; checkpointEvery: number; sampleEvery: number };
}

/** Sizes a person can start from; every field stays editable. */
export const PRESETS: Record<string, Preset> = {
  tiny: {
    label: 'Tiny demo (about a minute on a CPU adapter)',
    model: { dim: 32, layers: 2, heads: 2, ff: 64, context: 64 },
    vocab: 300,
    train: { steps: 300, batch: 8, lr: 3e-3, warmup: 30, evalEvery: 100, evalBatches: 4, checkpointEvery: 100, sampleEvery: 100 },
  },
  small: {
    label: 'Small (width 128, 4 layers: tens of minutes on a CPU adapter)',
    model: { dim: 128, layers: 4, heads: 4, ff: 384, context: 256 },
    vocab: 512,
    train: { steps: 2000, batch: 8, lr: 2e-3, warmup: 100, evalEvery: 200, evalBatches: 8, checkpointEvery: 200, sampleEvery: 200 },
  },
};

const NUMBER_FIELDS = [
  ['dim', 'Width', 'model'],
  ['layers', 'Layers', 'model'],
  ['heads', 'Heads', 'model'],
  ['ff', 'FFN width', 'model'],
  ['context', 'Context', 'model'],
  ['vocab', 'Vocabulary', 'data'],
  ['steps', 'Steps', 'train'],
  ['batch', 'Batch', 'train'],
  ['lr', 'Learning rate', 'train'],
  ['warmup', 'Warmup steps', 'train'],
  ['evalEvery', 'Validate every', 'train'],
  ['checkpointEvery', 'Checkpoint every', 'train'],
  ['sampleEvery', 'Sample every', 'train'],
] as const;

function fmtLoss(v: number | null | undefined): string {
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

class TrainingPage {
  private readonly page = el('div', { className: 'page training' });
  private readonly formError = el('div');
  private readonly runsBody = el('tbody');
  private readonly runsTable = el(
    'table',
    { className: 'grid train-runs', id: 'train-runs' },
    el('caption', { className: 'sr-only' }, 'Training runs'),
    el('thead', {}, el('tr', {}, ...['Run', 'State', 'Step', 'Loss', 'Validation loss', 'Tokens/s', ''].map((h, i) => el('th', { scope: 'col', className: i >= 2 && i <= 5 ? 'num' : '' }, h)))),
    this.runsBody,
  );
  private readonly runsEmpty = el('p', { className: 'empty' }, 'No training run yet: start one above.');
  private readonly detail = el('section', { className: 'section train-detail', id: 'train-detail', hidden: true });
  private readonly runs = new Map<string, TrainRun>();
  private selected: string | null = null;
  private history: History | null = null;
  private sample: { step: number; text: string } | null = null;
  private bar: ProgressBar | null = null;
  private readonly fields = new Map<string, HTMLInputElement>();
  private readonly where: HTMLInputElement[] = [];
  private refreshTimer: number | undefined;
  private poll: number | undefined;
  private drawScheduled = false;
  private loadingDetail = 0;
  private readonly offs: (() => void)[] = [];
  private readonly finetuneForm: FinetuneForm;
  private readonly adapters: AdapterSection;

  constructor(
    private readonly root: HTMLElement,
    private readonly api: PxiApi,
  ) {
    this.finetuneForm = new FinetuneForm(api, async (run) => {
      await this.refresh();
      await this.select(run);
      this.detail.querySelector<HTMLElement>('h2')?.focus();
    });
    this.adapters = new AdapterSection(api);
  }

  /** `finetune`: open the fine-tune form with this model chosen (`#/training?finetune=ID`, the Models view's link). */
  async start(selected: string | null, finetune: string | null = null): Promise<void> {
    this.root.append(this.page);
    this.page.append(
      el('div', { className: 'view-head' }, el('h1', { tabIndex: -1 }, 'Training')),
      el(
        'p',
        { className: 'muted' },
        'Train a small llama model from scratch with the WGSL training engine, in the background (the services, on this machine’s GPU through Dawn) or in this window (the same engine on this page’s WebGPU), or fine-tune a model of the volume on your text. Checkpoints are kept in the volume either way: pause and resume continue from the last one, a reload or a restart shows the run where it is, and at the end the model is imported under its name (see where it learned on the Explorer), or a fine-tune’s adapter is stored beside its base.',
      ),
      this.forms(finetune !== null),
      el('section', { className: 'section', ariaLabel: 'Runs' }, el('h2', {}, 'Runs'), this.runsEmpty, this.runsTable),
      this.detail,
    );
    void this.finetuneForm.load(finetune);
    this.offs.push(
      this.api.on('train:event', (p) => {
        if (!this.page.isConnected) return this.dispose();
        this.onEvent(p.run, p.event);
      }),
      this.api.on('tasks:changed', (t) => {
        if (!this.page.isConnected) return this.dispose();
        if (t.kind === 'model.train' || t.kind === 'model.finetune') this.scheduleRefresh();
        // A finished run is this machine's newest measured rate: the form's estimate reads it again.
        if ((t.kind === 'model.train' || t.kind === 'model.finetune') && t.state === 'succeeded') this.finetuneForm.refreshEstimate();
        if (t.kind === 'model.import' && t.state === 'succeeded') void this.finetuneForm.load();
      }),
      onWindowRuns((run, outcome) => {
        if (!this.page.isConnected) return this.dispose();
        if (outcome?.state === 'succeeded') this.finetuneForm.refreshEstimate();
        if (outcome?.state === 'failed' && run === this.selected) this.detail.querySelector('.train-error')?.replaceChildren(alertBox(outcome.error.message, { title: 'The run stopped with an error', code: outcome.error.code }));
        this.scheduleRefresh();
      }),
    );
    // A window run in another window that goes silent shows paused: look again now and then.
    this.poll = window.setInterval(() => {
      if (!this.page.isConnected) return this.dispose();
      if ([...this.runs.values()].some((r) => r.where === 'window' && r.state === 'running' && !windowRunsHere().includes(r.run))) this.scheduleRefresh();
    }, 5000);
    await this.refresh();
    const pick = selected && this.runs.has(selected) ? selected : ([...this.runs.values()].find((r) => r.state === 'running') ?? [...this.runs.values()][0])?.run;
    if (pick) await this.select(pick);
  }

  dispose(): void {
    for (const off of this.offs.splice(0)) off();
    window.clearTimeout(this.refreshTimer);
    window.clearInterval(this.poll);
  }

  // ------------------------------------------------------------------ the forms

  /** "New run" and "Fine-tune" side by side as two tabs (arrow keys move between them). */
  private forms(finetuneFirst: boolean): HTMLElement {
    const panels = [
      { id: 'train-new', label: 'New run', panel: this.form() },
      { id: 'train-finetune', label: 'Fine-tune', panel: el('div', {}, el('p', { className: 'muted' }, 'Adapt a model of the volume (llama or qwen2, any weight type) to your text: LoRA adapters over its frozen base, or every weight of an F32/F16/BF16 model.'), this.finetuneForm.element) },
    ];
    const tabs = panels.map((p) => {
      const tab = el('button', { type: 'button', className: 'train-tab', id: `${p.id}-tab`, textContent: p.label });
      tab.setAttribute('role', 'tab');
      tab.setAttribute('aria-controls', `${p.id}-panel`);
      return tab;
    });
    const wrapped = panels.map((p) => {
      const panel = el('div', { className: 'train-tab-panel', id: `${p.id}-panel` }, p.panel);
      panel.setAttribute('role', 'tabpanel');
      panel.setAttribute('aria-labelledby', `${p.id}-tab`);
      return panel;
    });
    const choose = (i: number, focus = false) => {
      tabs.forEach((t, j) => {
        t.setAttribute('aria-selected', String(i === j));
        t.tabIndex = i === j ? 0 : -1;
        wrapped[j]!.hidden = i !== j;
      });
      if (focus) tabs[i]!.focus();
    };
    tabs.forEach((t, i) => {
      t.addEventListener('click', () => choose(i));
      t.addEventListener('keydown', (ev) => {
        if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
        ev.preventDefault();
        choose((i + (ev.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length, true);
      });
    });
    choose(finetuneFirst ? 1 : 0);
    const list = el('div', { className: 'train-tabs' }, ...tabs);
    list.setAttribute('role', 'tablist');
    list.setAttribute('aria-label', 'Start');
    return el('section', { className: 'section train-start', ariaLabel: 'Start a run' }, list, ...wrapped);
  }

  private form(): HTMLElement {
    const preset = el('select', { id: 'train-preset', className: 'text-input' }, ...Object.entries(PRESETS).map(([k, p]) => el('option', { value: k }, p.label)));
    const input = (id: string, label: string, props: Partial<HTMLInputElement>, hint?: string) => {
      const i = el('input', { id, className: 'text-input', ...props });
      this.fields.set(id, i);
      return el('label', { className: 'field' }, el('span', { className: 'field-label' }, label), i, ...(hint ? [el('span', { className: 'field-hint muted' }, hint)] : []));
    };
    const name = input('train-name', 'Name (run and model)', { type: 'text', value: 'tiny-demo', required: true, pattern: '[A-Za-z0-9._\\-]{1,128}', spellcheck: false });
    const text = input(
      'train-text',
      'Training text',
      { type: 'text', placeholder: '/path/to/stories.txt', required: true, spellcheck: false, className: 'text-input wide' },
      'A UTF-8 text file on the services’ disk (absolute path; in browser mode, the server’s), or the name of a corpus stored with pxi corpus add.',
    );
    const valid = input('train-valid', 'Validation text (optional)', { type: 'text', placeholder: '/path/to/valid.txt', spellcheck: false, className: 'text-input wide' }, 'Never trained on; its loss is measured every “Validate every” steps.');
    const numbers = el('div', { className: 'train-numbers' });
    for (const [key, label] of NUMBER_FIELDS) numbers.append(input(`train-${key}`, label, { type: 'number', min: '0', step: key === 'lr' ? 'any' : '1', required: true }));
    const apply = () => {
      const p = PRESETS[preset.value]!;
      const values: Record<string, number> = { ...p.model, vocab: p.vocab, ...p.train };
      for (const [key] of NUMBER_FIELDS) this.fields.get(`train-${key}`)!.value = String(values[key]);
    };
    preset.addEventListener('change', apply);
    apply();
    const where = (value: string, label: string, checked: boolean) => {
      const r = el('input', { type: 'radio', name: 'train-where', value, id: `train-where-${value}`, checked });
      this.where.push(r);
      return el('label', { className: 'radio' }, r, ` ${label}`);
    };
    const whereField = el(
      'fieldset',
      { className: 'field train-where', id: 'train-where' },
      el('legend', { className: 'field-label' }, 'Train'),
      where('background', 'in the background (Node: the services, on Dawn; the run goes on with this window closed)', true),
      where('window', 'in this window (WebGPU: this page’s GPU; closing the window pauses it at its last checkpoint)', false),
    );
    const startButton = el('button', { type: 'submit', className: 'btn primary', id: 'train-start', textContent: 'Start training' });
    const form = el(
      'form',
      { className: 'train-form', id: 'train-form', noValidate: true },
      el('label', { className: 'field' }, el('span', { className: 'field-label' }, 'Preset'), preset),
      name,
      text,
      valid,
      whereField,
      el('details', { className: 'train-sizes', id: 'train-sizes' }, el('summary', {}, 'Model, batch and schedule'), numbers),
      this.formError,
      el('div', { className: 'actions' }, startButton),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      startButton.disabled = true;
      void this.submit().finally(() => (startButton.disabled = false));
    });
    return el('div', {}, form);
  }

  private async submit(): Promise<void> {
    this.formError.replaceChildren();
    const v = (id: string) => this.fields.get(id)!.value.trim();
    const fail = (message: string, field?: string, code?: string) => {
      this.formError.replaceChildren(alertBox(message, { title: 'Not started', ...(code ? { code } : {}) }));
      if (field) {
        const f = this.fields.get(field)!;
        const sizes = f.closest('details');
        if (sizes) sizes.open = true;
        f.setAttribute('aria-invalid', 'true');
        f.focus();
      }
    };
    for (const f of this.fields.values()) f.removeAttribute('aria-invalid');
    const name = v('train-name');
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(name)) return fail('The name is 1 to 128 letters, digits, dots, dashes or underscores.', 'train-name');
    const text = v('train-text');
    if (!text) return fail('Give the training text: an absolute path on the services’ disk, or a corpus name.', 'train-text');
    const pathLike = (s: string) => /[\\/]/.test(s);
    if (pathLike(text) && !isAbsolutePath(text)) return fail(`${text} is not an absolute path.`, 'train-text');
    const validText = v('train-valid');
    if (validText && pathLike(validText) && !isAbsolutePath(validText)) return fail(`${validText} is not an absolute path.`, 'train-valid');
    const n: Record<string, number> = {};
    for (const [key, label] of NUMBER_FIELDS) {
      const x = Number(v(`train-${key}`));
      const integer = key !== 'lr';
      const min = key === 'warmup' || key === 'evalEvery' || key === 'sampleEvery' ? 0 : Number.MIN_VALUE;
      if (!Number.isFinite(x) || x < min || (integer && !Number.isInteger(x))) return fail(`${label} must be ${integer ? 'a whole number' : 'a number'}${min > 0 ? ' above 0' : ''}.`, `train-${key}`);
      n[key] = x;
    }
    const recipe = {
      name,
      model: { arch: 'llama' as const, dim: n.dim!, layers: n.layers!, heads: n.heads!, ff: n.ff!, context: n.context! },
      data: { train: [text], valid: validText ? [validText] : [], vocab: n.vocab! },
      train: {
        steps: n.steps!,
        batch: n.batch!,
        lr: n.lr!,
        warmup: n.warmup!,
        evalEvery: n.evalEvery!,
        evalBatches: PRESETS.tiny!.train.evalBatches,
        checkpointEvery: n.checkpointEvery!,
        sampleEvery: n.sampleEvery!,
      },
    };
    try {
      const inWindow = this.where.find((w) => w.checked)?.value === 'window';
      const r = inWindow ? await startWindowRun(this.api, { recipe, run: name }) : await this.api.call('train:start', { recipe, run: name });
      await this.refresh();
      await this.select(r.run);
      this.detail.querySelector<HTMLElement>('h2')?.focus();
    } catch (e) {
      const { message, code } = errorInfo(e);
      fail(message, undefined, code);
    }
  }

  // ------------------------------------------------------------------ runs

  private scheduleRefresh(): void {
    window.clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => void this.refresh(), 150);
  }

  private async refresh(): Promise<void> {
    let runs: TrainRun[];
    try {
      runs = (await this.api.call('train:runs', {})).runs;
    } catch (e) {
      this.formError.replaceChildren(alertBox(errorInfo(e).message, { title: 'The runs could not be read' }));
      return;
    }
    const before = this.selected ? this.runs.get(this.selected) : undefined;
    this.runs.clear();
    for (const r of runs) this.runs.set(r.run, r);
    this.drawRuns();
    if (this.selected) {
      const now = this.runs.get(this.selected);
      if (!now) {
        this.selected = null;
        this.history = null;
        this.detail.hidden = true;
      } else {
        // A run that resumed, or ended, may have checkpoints and samples the page has not seen.
        if (before && (before.state !== now.state || before.taskId !== now.taskId)) void this.loadDetail(now.run);
        else this.drawDetail();
      }
    }
  }

  private drawRuns(): void {
    const rows = [...this.runs.values()].map((r) => {
      const tr = el(
        'tr',
        { className: r.run === this.selected ? 'selected' : '' },
        el(
          'th',
          { scope: 'row' },
          el('button', { type: 'button', className: 'link-button', textContent: r.run, title: `Show run ${r.run}` }),
          ...(r.kind === 'finetune' ? [el('div', { className: 'muted small train-kind' }, `${r.finetune.mode === 'lora' ? `LoRA r${r.finetune.lora.rank}` : 'full'} fine-tune of ${r.base.name}`)] : []),
        ),
        el('td', {}, badge(r.state, STATE_TONE[r.state]), el('span', { className: 'muted small train-where-label' }, r.where === 'window' ? (windowRunsHere().includes(r.run) ? ' this window' : ' a window') : ' background')),
        el('td', { className: 'num' }, `${r.step} / ${r.steps}`),
        el('td', { className: 'num' }, fmtLoss(r.latest?.loss)),
        el('td', { className: 'num' }, fmtLoss(r.validLoss)),
        el('td', { className: 'num' }, r.latest ? formatCount(Math.round(r.latest.tokensPerSec)) : '—'),
        el('td', {}, r.error ? el('span', { className: 'outcome bad small' }, r.error.message) : ''),
      );
      tr.dataset.run = r.run;
      tr.dataset.state = r.state;
      tr.dataset.where = r.where;
      tr.dataset.kind = r.kind;
      tr.querySelector('button')!.addEventListener('click', () => void this.select(r.run));
      return tr;
    });
    this.runsBody.replaceChildren(...rows);
    this.runsEmpty.hidden = rows.length > 0;
    this.runsTable.hidden = rows.length === 0;
  }

  private async select(run: string): Promise<void> {
    this.selected = run;
    // Kept in the address without re-rendering the view (replaceState fires no hashchange).
    history.replaceState(null, '', `#/training?run=${encodeURIComponent(run)}`);
    this.drawRuns();
    await this.loadDetail(run);
  }

  private async loadDetail(run: string): Promise<void> {
    const ticket = ++this.loadingDetail;
    try {
      const h = await this.api.call('train:history', { run });
      if (ticket !== this.loadingDetail || this.selected !== run) return;
      this.history = h;
      this.sample = h.samples[h.samples.length - 1] ?? null;
      this.bar = null;
      this.drawDetail(true);
    } catch (e) {
      if (ticket !== this.loadingDetail) return;
      this.detail.hidden = false;
      this.detail.replaceChildren(alertBox(errorInfo(e).message, { title: `Run ${run} could not be read`, ...(errorInfo(e).code ? { code: errorInfo(e).code } : {}) }));
    }
  }

  // ------------------------------------------------------------------ live events

  private onEvent(run: string, e: TrainEventInfo): void {
    const r = this.runs.get(run);
    if (r && e.kind === 'step') {
      r.step = e.step;
      r.latest = { loss: e.loss, lr: e.lr, gradNorm: e.gradNorm, tokensPerSec: e.tokensPerSec, etaSec: e.etaSec };
      if (r.state !== 'running') this.scheduleRefresh();
    }
    if (r && e.kind === 'valid') r.validLoss = e.loss;
    if (!r) this.scheduleRefresh();
    const h = this.history;
    if (run === this.selected && h) {
      switch (e.kind) {
        case 'start':
          // A resumed session repeats nothing before its checkpoint; steps after it are redone.
          h.history = h.history.filter((p) => p.step <= e.step);
          h.valid = h.valid.filter((p) => p.step <= e.step);
          break;
        case 'step':
          if (h.history.length === 0 || e.step > h.history[h.history.length - 1]!.step) h.history.push({ step: e.step, loss: e.loss, lr: e.lr, gradNorm: e.gradNorm, tokensPerSec: e.tokensPerSec });
          break;
        case 'valid':
          if (!h.valid.some((p) => p.step === e.step)) h.valid.push({ step: e.step, loss: e.loss });
          break;
        case 'sample':
          this.sample = { step: e.step, text: e.text };
          break;
        case 'checkpoint':
          if (!h.checkpoints.includes(e.step)) h.checkpoints.push(e.step);
          break;
        case 'done':
          this.scheduleRefresh();
          break;
      }
    }
    this.scheduleDraw();
  }

  private scheduleDraw(): void {
    if (this.drawScheduled) return;
    this.drawScheduled = true;
    requestAnimationFrame(() => {
      this.drawScheduled = false;
      if (!this.page.isConnected) return;
      this.drawRuns();
      this.drawDetail();
    });
  }

  // ------------------------------------------------------------------ the run

  private figure(key: string, label: string, value: string): HTMLElement[] {
    const dd = el('dd', {}, value);
    dd.dataset.figure = key;
    return [el('dt', {}, label), dd];
  }

  private drawDetail(rebuild = false): void {
    const run = this.selected ? this.runs.get(this.selected) : undefined;
    const h = this.history;
    if (!run || !h || h.run !== run.run) return;
    this.detail.hidden = false;
    this.detail.dataset.run = run.run;
    this.detail.dataset.state = run.state;
    this.detail.dataset.where = run.where;
    if (rebuild || !this.detail.querySelector('#train-loss-chart')) this.buildDetail();
    const active = run.state === 'running' || run.state === 'queued';
    const bar = this.bar!;
    bar.update({ done: run.step, total: run.steps, unit: 'steps', message: run.state === 'queued' ? 'waiting for the tasks before it' : run.state }, undefined);
    const last = h.history[h.history.length - 1];
    const latest = run.latest ?? (last ? { ...last, etaSec: null } : null);
    const valid = h.valid[h.valid.length - 1];
    this.detail.querySelector('.train-state')!.replaceChildren(badge(run.state, STATE_TONE[run.state]));
    this.detail.querySelector('.train-figures')!.replaceChildren(
      ...this.figure('step', 'Step', `${run.step} of ${run.steps}`),
      ...this.figure('loss', 'Loss', fmtLoss(latest?.loss)),
      ...this.figure('valid', 'Validation loss', valid ? `${fmtLoss(valid.loss)} (step ${valid.step})` : '—'),
      ...this.figure('lr', 'Learning rate', fmtSci(latest?.lr)),
      ...this.figure('grad', 'Gradient norm', latest ? latest.gradNorm.toPrecision(3) : '—'),
      ...this.figure('tokens', 'Tokens/s', latest ? formatCount(Math.round(latest.tokensPerSec)) : '—'),
      ...this.figure('eta', 'ETA', active && latest?.etaSec !== null && latest?.etaSec !== undefined ? formatDuration(latest.etaSec * 1000) : '—'),
      ...this.figure('checkpoints', 'Checkpoints', h.checkpoints.length ? h.checkpoints.map((s) => `step ${s}`).join(', ') : 'none yet'),
    );
    const x = (p: Point) => p.step;
    const loss: ChartPoint[] = h.history.map((p) => ({ x: x(p), y: p.loss }));
    drawChart(
      this.detail.querySelector<SVGSVGElement>('#train-loss-chart')!,
      { title: `Loss of ${run.run}`, xLabel: 'step', yLabel: 'loss (nats/token, log scale)', log: true, xMax: run.steps },
      [
        { name: 'training', cls: 'series-train', kind: 'line', points: loss },
        { name: 'validation', cls: 'series-valid', kind: 'dots', points: h.valid.map((p) => ({ x: p.step, y: p.loss })) },
      ],
    );
    drawChart(
      this.detail.querySelector<SVGSVGElement>('#train-lr-chart')!,
      { title: 'Learning rate', xLabel: 'step', yLabel: 'learning rate', xMax: run.steps, height: 170 },
      [{ name: 'learning rate', cls: 'series-lr', kind: 'line', points: h.history.map((p) => ({ x: x(p), y: p.lr })) }],
    );
    drawChart(
      this.detail.querySelector<SVGSVGElement>('#train-grad-chart')!,
      { title: 'Gradient norm (before clipping)', xLabel: 'step', yLabel: 'gradient norm (log)', log: true, xMax: run.steps, height: 170 },
      [{ name: 'gradient norm', cls: 'series-grad', kind: 'line', points: h.history.map((p) => ({ x: x(p), y: p.gradNorm })) }],
    );
    const loss$ = this.detail.querySelector<SVGSVGElement>('#train-loss-chart')!;
    loss$.dataset.trainPoints = String(loss.length);
    loss$.dataset.validPoints = String(h.valid.length);
    const sample = this.detail.querySelector<HTMLElement>('#train-sample')!;
    // A fine-tune draws no samples: what it made is its adapter (or model), under the curves.
    sample.hidden = run.kind === 'finetune';
    if (run.kind === 'finetune') this.adapters.show(run);
    else if (this.sample) {
      sample.replaceChildren(el('div', { className: 'muted small' }, `Greedy continuation at step ${this.sample.step}:`), el('blockquote', { className: 'train-sample-text' }, this.sample.text));
      sample.dataset.step = String(this.sample.step);
    } else {
      const every = run.recipe.train.sampleEvery;
      sample.replaceChildren(el('p', { className: 'empty' }, every > 0 ? `The first sample comes at step ${every}.` : 'A sample comes at the end of the run.'));
      delete sample.dataset.step;
    }
    const show = (id: string, visible: boolean) => {
      const b = this.detail.querySelector<HTMLElement>(`#${id}`)!;
      b.hidden = !visible;
    };
    show('train-pause', active);
    show('train-resume', run.state === 'paused' || run.state === 'failed');
    // Fine-tunes train in the background only (LoRA in a window is not built).
    show('train-resume-window', (run.state === 'paused' || run.state === 'failed') && 'gpu' in navigator && run.kind === 'train');
    const where = this.detail.querySelector<HTMLElement>('.train-where-now')!;
    where.textContent =
      run.where === 'window'
        ? `Trains in ${windowRunsHere().includes(run.run) ? 'this window' : 'a window'} (WebGPU); its checkpoints are written by the services.`
        : run.kind === 'finetune'
          ? `Fine-tunes in the background (the services, on Dawn); ${run.finetune.mode === 'lora' ? `its adapter ${run.run} is stored beside ${run.base.name} at the end` : `the fine-tuned model is imported as ${run.run} at the end`}.`
          : 'Trains in the background (the services, on Dawn).';
    const cancel = this.detail.querySelector<HTMLButtonElement>('#train-cancel')!;
    cancel.textContent = run.state === 'succeeded' ? 'Remove checkpoints…' : 'Cancel…';
    const explore = this.detail.querySelector<HTMLAnchorElement>('#train-explore')!;
    // The weight-change layer shows runs that trained a model from scratch.
    explore.hidden = run.modelId === null || run.kind !== 'train';
    if (run.modelId) explore.href = `#/explorer?model=${encodeURIComponent(run.modelId)}&train=${encodeURIComponent(run.run)}`;
    const err = this.detail.querySelector<HTMLElement>('.train-error')!;
    err.replaceChildren(...(run.error ? [alertBox(run.error.message, { title: 'The run stopped with an error', code: run.error.code })] : []));
  }

  private buildDetail(): void {
    const run = this.runs.get(this.selected!)!;
    this.bar = createProgressBar(`Steps of ${run.run}`);
    const pause = button('Pause', () => void this.act('train:pause'), { title: 'Stop after the current step, keeping a checkpoint of it' });
    pause.id = 'train-pause';
    const resume = button('Resume', () => void this.act('train:resume'), { kind: 'primary', title: 'Continue from the last checkpoint, in the background (the services, on Dawn)' });
    resume.id = 'train-resume';
    const resumeWindow = button('Resume in this window', () => void this.resumeHere(), { title: 'Continue from the last checkpoint on this page’s WebGPU' });
    resumeWindow.id = 'train-resume-window';
    const cancel = button('Cancel…', () => void this.cancel(), { kind: 'danger' });
    cancel.id = 'train-cancel';
    const explore = el('a', { className: 'btn', id: 'train-explore', textContent: 'See where it learned (Explorer)', hidden: true });
    this.detail.replaceChildren(
      el('div', { className: 'view-head' }, el('h2', { tabIndex: -1 }, `${run.kind === 'finetune' ? 'Fine-tune' : 'Run'} ${run.run}`), el('span', { className: 'train-state' })),
      el('p', { className: 'muted small train-what' }, run.kind === 'finetune' ? finetuneDescription(run) : recipeDescription(run.recipe, run.parameters)),
      this.bar.element,
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
      ...(run.kind === 'finetune' ? [this.adapters.element] : []),
    );
  }

  private async act(channel: 'train:pause' | 'train:resume'): Promise<void> {
    const run = this.selected;
    if (!run) return;
    const buttons = [...this.detail.querySelectorAll<HTMLButtonElement>('.train-actions button')];
    for (const b of buttons) b.disabled = true;
    try {
      const r = await this.api.call(channel, { run });
      this.runs.set(r.run, r);
      if (channel === 'train:resume') await this.loadDetail(run);
      this.drawRuns();
      this.drawDetail();
    } catch (e) {
      const { message, code } = errorInfo(e);
      this.detail.querySelector('.train-error')?.replaceChildren(alertBox(message, { ...(code ? { code } : {}) }));
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  private async resumeHere(): Promise<void> {
    const run = this.selected;
    if (!run) return;
    const buttons = [...this.detail.querySelectorAll<HTMLButtonElement>('.train-actions button')];
    for (const b of buttons) b.disabled = true;
    try {
      await resumeWindowRun(this.api, run);
      await this.refresh();
      await this.loadDetail(run);
    } catch (e) {
      const { message, code } = errorInfo(e);
      this.detail.querySelector('.train-error')?.replaceChildren(alertBox(message, { ...(code ? { code } : {}) }));
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  private async cancel(): Promise<void> {
    const run = this.selected ? this.runs.get(this.selected) : undefined;
    if (!run) return;
    const active = run.state === 'running' || run.state === 'queued';
    const ok = await confirmDialog({
      title: run.state === 'succeeded' ? `Remove the checkpoints of ${run.run}?` : `Cancel run ${run.run}?`,
      message: `${active ? 'The run stops and its' : 'Its'} ${run.checkpoints.length} checkpoint(s) are deleted from the volume; it cannot be resumed.${run.modelId ? ' The model it imported stays.' : ''}${run.kind === 'finetune' && run.adapter ? ` Its adapter stays beside ${run.base.name}.` : ''}`,
      confirmLabel: run.state === 'succeeded' ? 'Remove checkpoints' : 'Cancel the run',
      danger: true,
    });
    if (!ok) return;
    try {
      await this.api.call('train:cancel', { run: run.run });
      this.selected = null;
      this.history = null;
      this.detail.hidden = true;
      history.replaceState(null, '', '#/training');
      await this.refresh();
    } catch (e) {
      const { message, code } = errorInfo(e);
      this.detail.querySelector('.train-error')?.replaceChildren(alertBox(message, { ...(code ? { code } : {}) }));
    }
  }
}

export const trainingView: View = {
  id: 'training',
  title: 'Training',
  async render(root, { api }) {
    const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
    const page = new TrainingPage(root, api);
    await page.start(params.get('run'), params.get('finetune'));
    return () => page.dispose();
  },
};
