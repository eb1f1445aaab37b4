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
 *
 * This file keeps the page: the runs, their list, the live events and the actions on the selected
 * run. The "New run" form is training-new-run.ts, the selected run's section training-run-detail.ts.
 */
import type { PxiApi } from '../../../shared/ipc/client';
import type { TrainEventInfo, TrainRun } from '../../../shared/ipc/channels/train';
import { formatCount } from '../components/format';
import { confirmDialog } from '../components/dialog';
import { type ProgressBar } from '../components/progress';
import { alertBox, badge, errorInfo } from '../components/ui';
import { AdapterSection, FinetuneForm } from './training-finetune';
import { NewRunForm, startTabs } from './training-new-run';
import { buildRunDetail, drawRunDetail, fmtLoss, STATE_TONE, type History } from './training-run-detail';
import { el } from '../components/el';
import { type View } from './types';
import { onWindowRuns, resumeWindowRun, windowRunsHere } from '../train/window-runs';

class TrainingPage {
  private readonly page = el('div', { className: 'page training' });
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
  private refreshTimer: number | undefined;
  private poll: number | undefined;
  private drawScheduled = false;
  private loadingDetail = 0;
  private readonly offs: (() => void)[] = [];
  private readonly newRun: NewRunForm;
  private readonly finetuneForm: FinetuneForm;
  private readonly adapters: AdapterSection;

  constructor(
    private readonly root: HTMLElement,
    private readonly api: PxiApi,
  ) {
    const started = async (run: string) => {
      await this.refresh();
      await this.select(run);
      this.detail.querySelector<HTMLElement>('h2')?.focus();
    };
    this.newRun = new NewRunForm(api, started);
    this.finetuneForm = new FinetuneForm(api, started);
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
      startTabs(this.newRun.element, this.finetuneForm.element, finetune !== null),
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
      this.newRun.error.replaceChildren(alertBox(errorInfo(e).message, { title: 'The runs could not be read' }));
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

  private drawDetail(rebuild = false): void {
    const run = this.selected ? this.runs.get(this.selected) : undefined;
    const h = this.history;
    if (!run || !h || h.run !== run.run) return;
    this.detail.hidden = false;
    this.detail.dataset.run = run.run;
    this.detail.dataset.state = run.state;
    this.detail.dataset.where = run.where;
    if (rebuild || !this.detail.querySelector('#train-loss-chart')) {
      this.bar = buildRunDetail(this.detail, run, this.adapters, {
        pause: () => void this.act('train:pause'),
        resume: () => void this.act('train:resume'),
        resumeHere: () => void this.resumeHere(),
        cancel: () => void this.cancel(),
      });
    }
    drawRunDetail(this.detail, run, h, this.sample, this.bar!, this.adapters);
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
