/**
 * The Training view's fine-tune flow (specs/ui.md, "Training"; specs/training.md, "Fine-tuning"):
 * the form that starts a fine-tune of a model in the volume (`train:finetune`), the line that
 * says what a fine-tune run is, and the adapters of its base once it ended (`models:adapters`),
 * each with a link that opens Chat with the model and that adapter
 * (`#/chat?model=ID&adapter=NAME`). The run itself — its curves, pause, resume, cancel — is shown
 * by the Training view like any training run.
 */
import type { PxiApi } from '../../../shared/ipc/client';
import type { Response } from '../../../shared/ipc/contract';
import type { FinetuneEstimateInfo, FinetuneRun, FinetuneStart } from '../../../shared/ipc/channels/train';
import { stepFlops, trainerGpuBytes, type StepMode } from '../../../shared/train/estimate';
import { FinetuneRecipeSchema } from '../../../shared/train/finetune-recipe';
import { LORA_TARGETS } from '../../../shared/train/lora';
import { formatBytes, formatCount, formatDuration, isAbsolutePath } from '../components/format';
import { alertBox, errorInfo } from '../components/ui';
import { el } from '../components/el';

type Model = Response<'models:list'>['models'][number];
type Adapter = Response<'models:adapters'>['adapters'][number];

/** The fine-tuning defaults, read from the recipe's schema itself (what the services fill in for a field left out). */
const LORA_DEFAULTS = FinetuneRecipeSchema.shape.lora.parse({});
const TRAIN_DEFAULTS = FinetuneRecipeSchema.shape.train.parse({});

const NUMBER_FIELDS = [
  ['rank', 'Rank', 'lora', 'Rows of each A (and columns of each B): the adapter’s size.'],
  ['alpha', 'Alpha', 'lora', 'The update is scaled by alpha / rank.'],
  ['steps', 'Steps', 'train', ''],
  ['lr', 'Learning rate', 'train', ''],
  ['batch', 'Batch', 'train', 'Sequences per step.'],
  ['seqLen', 'Sequence length', 'train', 'Tokens per sequence; empty: min(256, the model’s context).'],
  ['evalEvery', 'Validate every', 'train', 'Steps between validation losses (also before the first step and at the end).'],
  ['checkpointEvery', 'Checkpoint every', 'train', ''],
] as const;

const DEFAULTS: Record<string, number | undefined> = {
  rank: LORA_DEFAULTS.rank,
  alpha: LORA_DEFAULTS.alpha,
  steps: TRAIN_DEFAULTS.steps,
  lr: TRAIN_DEFAULTS.lr,
  batch: TRAIN_DEFAULTS.batch,
  seqLen: undefined,
  evalEvery: TRAIN_DEFAULTS.evalEvery,
  checkpointEvery: TRAIN_DEFAULTS.checkpointEvery,
};

const NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** The chat address that opens a model with one of its adapters. */
export function chatWithAdapter(modelId: string, adapter: string): string {
  return `#/chat?model=${encodeURIComponent(modelId)}&adapter=${encodeURIComponent(adapter)}`;
}

/** One line that says what a fine-tune is: its base, mode, adapter settings, trainable parameters, batch and text. */
export function finetuneDescription(r: FinetuneRun): string {
  const f = r.finetune;
  const what =
    f.mode === 'lora'
      ? `LoRA fine-tune of ${r.base.name}: rank ${f.lora.rank}, alpha ${f.lora.alpha}, ${f.lora.targets.length === LORA_TARGETS.length ? 'every attention and FFN matrix' : f.lora.targets.join(', ')}`
      : `Full fine-tune of ${r.base.name}: every weight`;
  const params = r.parameters > 0 ? `; ${formatCount(r.parameters)} parameters trained` : '';
  const seq = f.train.seqLen ? ` × ${f.train.seqLen} tokens` : '';
  return `${what}${params}; batch ${f.train.batch}${seq}; lr ${f.train.lr}; text ${f.data.train.join(', ')}${f.data.valid.length ? `; validation ${f.data.valid.join(', ')}` : ''}`;
}

/** The settings of the form that the estimate reads. */
export interface EstimateSettings {
  mode: 'lora' | 'full';
  rank: number;
  alpha: number;
  targets: (typeof LORA_TARGETS)[number][];
  steps: number;
  batch: number;
  /** null: min(256, the model's context), as the services fill it in. */
  seqLen: number | null;
}

/**
 * The line under the form's settings: the GPU memory the run will take (GpuTrainer's buffers,
 * and for LoRA the frozen base in its own types: shared/train/estimate.ts, equal to what they
 * allocate) and the predicted time: the steps' FLOPs (stepFlops) at this machine's measured FLOP
 * rate (the latest finished run's), or a note that the time is measured after the first steps.
 */
export function finetuneEstimateText(est: FinetuneEstimateInfo, s: EstimateSettings): string {
  const cfg = est.config;
  const seqLen = s.seqLen ?? Math.min(256, cfg.context);
  if (seqLen > cfg.context) return `The sequence is longer than the model’s context (${cfg.context} tokens).`;
  const lora = { rank: s.rank, alpha: s.alpha, targets: s.targets };
  const mode: StepMode = s.mode === 'full' ? 'full' : { lora };
  let bytes: number;
  try {
    bytes = s.mode === 'full' ? trainerGpuBytes(cfg, { batch: s.batch, seqLen }) : trainerGpuBytes(cfg, { batch: s.batch, seqLen }, { lora }) + est.baseBytes;
  } catch (e) {
    return `No estimate: ${errorInfo(e).message}`;
  }
  const memory = `≈ ${formatBytes(bytes)} of GPU memory`;
  if (!est.rate) return `${memory}; time: measured after the first steps.`;
  const flops = stepFlops(cfg, s.batch, seqLen, mode);
  const seconds = (s.steps * flops) / est.rate.flopsPerSec;
  const tokensPerSec = (est.rate.flopsPerSec * s.batch * seqLen) / flops;
  const source = est.rate.kind === 'finetune' ? 'this machine’s last fine-tune' : 'this machine’s last training run';
  return `${memory}; ≈ ${formatDuration(seconds * 1000)} at ${Math.round(tokensPerSec).toLocaleString('en-US')} tokens/s (from ${source}, ${est.rate.run}).`;
}

/** The form that starts a fine-tune. */
export class FinetuneForm {
  readonly element: HTMLElement;
  private readonly modelSelect = el('select', { id: 'ft-model', className: 'text-input', required: true });
  private readonly unsupported = el('ul', { className: 'ft-unsupported muted small', id: 'ft-unsupported' });
  private readonly corpora = el('datalist', { id: 'ft-corpora' });
  private readonly fields = new Map<string, HTMLInputElement>();
  private readonly modes: HTMLInputElement[] = [];
  private readonly targets: HTMLInputElement[] = [];
  private readonly loraPart = el('div', { className: 'ft-lora' });
  private readonly error = el('div');
  private readonly estimateLine = el('p', { className: 'ft-estimate muted', id: 'ft-estimate', ariaLive: 'polite' });
  /** The estimate's inputs per model id (train:finetune-estimate), read once per load. */
  private readonly estimates = new Map<string, Promise<FinetuneEstimateInfo>>();
  private estimateTicket = 0;
  private readonly startButton = el('button', { type: 'submit', className: 'btn primary', id: 'ft-start', textContent: 'Start fine-tune' });
  private models: Model[] = [];
  /** The name was typed by the person: model and mode changes no longer rename it. */
  private nameEdited = false;

  constructor(
    private readonly api: PxiApi,
    private readonly started: (run: string) => Promise<void>,
  ) {
    this.element = this.build();
  }

  private input(id: string, label: string, props: Partial<HTMLInputElement>, hint?: string): HTMLElement {
    const i = el('input', { id, className: 'text-input', ...props });
    this.fields.set(id, i);
    return el('label', { className: 'field' }, el('span', { className: 'field-label' }, label), i, ...(hint ? [el('span', { className: 'field-hint muted' }, hint)] : []));
  }

  private build(): HTMLElement {
    const name = this.input('ft-name', 'Name (run and adapter)', { type: 'text', required: true, spellcheck: false, pattern: '[A-Za-z0-9._\\-]{1,128}' });
    this.fields.get('ft-name')!.addEventListener('input', () => (this.nameEdited = true));
    const text = this.input(
      'ft-text',
      'Text to fine-tune on',
      { type: 'text', required: true, spellcheck: false, placeholder: '/path/to/text.txt or a corpus name', className: 'text-input wide' },
      'A UTF-8 text file on the services’ disk (absolute path; in browser mode, the server’s), or a corpus of the volume (suggested as you type). It is stored as a corpus and tokenized with the model’s own tokenizer.',
    );
    this.fields.get('ft-text')!.setAttribute('list', 'ft-corpora');
    const valid = this.input('ft-valid', 'Validation text (optional)', { type: 'text', spellcheck: false, placeholder: '/path/to/valid.txt', className: 'text-input wide' }, 'Never trained on; its loss is measured before the first step, every “Validate every” steps and at the end.');
    this.fields.get('ft-valid')!.setAttribute('list', 'ft-corpora');
    const mode = (value: 'lora' | 'full', label: string, checked: boolean) => {
      const r = el('input', { type: 'radio', name: 'ft-mode', value, id: `ft-mode-${value}`, checked });
      r.addEventListener('change', () => this.modeChanged());
      this.modes.push(r);
      return el('label', { className: 'radio' }, r, ` ${label}`);
    };
    const modeField = el(
      'fieldset',
      { className: 'field', id: 'ft-mode' },
      el('legend', { className: 'field-label' }, 'Mode'),
      mode('lora', 'LoRA adapters over the frozen base (any weight type; the base stays as it is)', true),
      mode('full', 'every weight (F32, F16 and BF16 models; the result is a new model in the volume)', false),
    );
    const targets = el('fieldset', { className: 'field ft-targets', id: 'ft-targets' }, el('legend', { className: 'field-label' }, 'Matrices to adapt'));
    for (const t of LORA_TARGETS) {
      const c = el('input', { type: 'checkbox', id: `ft-target-${t}`, value: t, checked: LORA_DEFAULTS.targets.includes(t) });
      this.targets.push(c);
      targets.append(el('label', { className: 'checkbox' }, c, ` ${t}`));
    }
    const loraNumbers = el('div', { className: 'train-numbers' });
    const trainNumbers = el('div', { className: 'train-numbers' });
    for (const [key, label, part, hint] of NUMBER_FIELDS) {
      const v = DEFAULTS[key];
      const box = this.input(`ft-${key}`, label, { type: 'number', min: '0', step: key === 'lr' || key === 'alpha' ? 'any' : '1', value: v === undefined ? '' : String(v), required: key !== 'seqLen' }, hint || undefined);
      (part === 'lora' ? loraNumbers : trainNumbers).append(box);
    }
    this.loraPart.append(loraNumbers, targets);
    this.modelSelect.addEventListener('change', () => this.modelChanged());
    const form = el(
      'form',
      { className: 'train-form', id: 'ft-form', noValidate: true },
      el('label', { className: 'field' }, el('span', { className: 'field-label' }, 'Model'), this.modelSelect),
      this.unsupported,
      name,
      text,
      valid,
      this.corpora,
      modeField,
      this.loraPart,
      el('details', { className: 'train-sizes', id: 'ft-schedule' }, el('summary', {}, 'Steps, learning rate, batch and schedule'), trainNumbers),
      this.estimateLine,
      this.error,
      el('div', { className: 'actions' }, this.startButton),
    );
    form.addEventListener('input', () => this.updateEstimate());
    form.addEventListener('change', () => this.updateEstimate());
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.startButton.disabled = true;
      void this.submit().finally(() => (this.startButton.disabled = false));
    });
    return form;
  }

  /** Reads the volume's models and corpora; `preselect` (a model id or name) is chosen when it can be fine-tuned. */
  async load(preselect: string | null = null): Promise<void> {
    try {
      const [{ models }, corpora] = await Promise.all([this.api.call('models:list', {}), this.api.call('corpus:list', {}).catch(() => ({ corpora: [] }))]);
      this.models = models;
      this.estimates.clear();
      this.corpora.replaceChildren(...corpora.corpora.map((c) => el('option', { value: c.name })));
    } catch (e) {
      this.error.replaceChildren(alertBox(errorInfo(e).message, { title: 'The models could not be read' }));
      return;
    }
    const current = this.modelSelect.value;
    const options = this.models.map((m) =>
      el('option', {
        value: m.id,
        textContent: m.finetunes ? `${m.name} (${m.architecture}, ${formatCount(m.parameterCount)})` : `${m.name} — cannot be fine-tuned`,
        disabled: !m.finetunes,
        title: m.finetuneProblem ?? '',
      }),
    );
    this.modelSelect.replaceChildren(...(options.length ? options : [el('option', { value: '', textContent: 'No model in the volume: import one first', disabled: true })]));
    // Each model the engine cannot fine-tune, with the reason: a disabled option alone cannot say it.
    this.unsupported.replaceChildren(...this.models.filter((m) => !m.finetunes).map((m) => el('li', {}, `${m.name}: ${m.finetuneProblem ?? 'cannot be fine-tuned'}`)));
    this.unsupported.hidden = this.unsupported.childElementCount === 0;
    const want = this.models.find((m) => m.finetunes && (m.id === preselect || m.name === preselect)) ?? this.models.find((m) => m.finetunes && m.id === current) ?? this.models.find((m) => m.finetunes);
    this.modelSelect.value = want?.id ?? '';
    this.startButton.disabled = !want;
    this.modelChanged();
  }

  private mode(): 'lora' | 'full' {
    return this.modes.find((m) => m.checked)?.value === 'full' ? 'full' : 'lora';
  }

  /** The settings the estimate reads, or null while one of them is not a number it can use. */
  private estimateSettings(): EstimateSettings | null {
    const num = (key: string) => {
      const x = Number(this.fields.get(`ft-${key}`)!.value.trim());
      return Number.isInteger(x) && x > 0 ? x : null;
    };
    const rawSeq = this.fields.get('ft-seqLen')!.value.trim();
    const [rank, steps, batch] = [num('rank'), num('steps'), num('batch')];
    const seqLen = rawSeq === '' ? null : num('seqLen');
    const alpha = Number(this.fields.get('ft-alpha')!.value);
    const targets = this.targets.filter((t) => t.checked).map((t) => t.value as (typeof LORA_TARGETS)[number]);
    const mode = this.mode();
    if (steps === null || batch === null || (rawSeq !== '' && seqLen === null)) return null;
    if (mode === 'lora' && (rank === null || !(alpha > 0) || targets.length === 0)) return null;
    return { mode, rank: rank ?? 1, alpha: alpha > 0 ? alpha : 1, targets, steps, batch, seqLen };
  }

  /** Reads the estimates' inputs again (a run finished: this machine's measured rate changed). */
  refreshEstimate(): void {
    this.estimates.clear();
    this.updateEstimate();
  }

  /** Shows the memory and time the current settings will take (read from the services once per model). */
  private updateEstimate(): void {
    const model = this.models.find((m) => m.id === this.modelSelect.value && m.finetunes);
    const ticket = ++this.estimateTicket;
    if (!model) {
      this.estimateLine.replaceChildren();
      return;
    }
    let est = this.estimates.get(model.id);
    if (!est) {
      est = this.api.call('train:finetune-estimate', { model: model.id });
      this.estimates.set(model.id, est);
      est.catch(() => this.estimates.delete(model.id));
    }
    est.then(
      (e) => {
        if (ticket !== this.estimateTicket) return;
        const s = this.estimateSettings();
        this.estimateLine.textContent = s ? finetuneEstimateText(e, s) : 'No estimate until the settings are numbers.';
      },
      (e: unknown) => {
        if (ticket !== this.estimateTicket) return;
        this.estimateLine.textContent = `No estimate: ${errorInfo(e).message}`;
      },
    );
  }

  private modelChanged(): void {
    this.updateEstimate();
    if (this.nameEdited) return;
    const m = this.models.find((x) => x.id === this.modelSelect.value);
    if (m) this.fields.get('ft-name')!.value = `${m.name.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 100)}-${this.mode()}`;
  }

  private modeChanged(): void {
    this.loraPart.hidden = this.mode() === 'full';
    this.modelChanged();
  }

  private async submit(): Promise<void> {
    this.error.replaceChildren();
    const v = (id: string) => this.fields.get(id)!.value.trim();
    const fail = (message: string, field?: HTMLElement, code?: string) => {
      this.error.replaceChildren(alertBox(message, { title: 'Not started', ...(code ? { code } : {}) }));
      if (field) {
        const sizes = field.closest('details');
        if (sizes) sizes.open = true;
        field.setAttribute('aria-invalid', 'true');
        field.focus();
      }
    };
    for (const f of this.fields.values()) f.removeAttribute('aria-invalid');
    const model = this.modelSelect.value;
    if (!model) return fail('Choose a model to fine-tune (llama or qwen2; import one first if the volume has none).', this.modelSelect);
    const name = v('ft-name');
    if (!NAME.test(name)) return fail('The name is 1 to 128 letters, digits, dots, dashes or underscores.', this.fields.get('ft-name'));
    const text = v('ft-text');
    if (!text) return fail('Give the text: an absolute path on the services’ disk, or a corpus name.', this.fields.get('ft-text'));
    const pathLike = (s: string) => /[\\/]/.test(s);
    if (pathLike(text) && !isAbsolutePath(text)) return fail(`${text} is not an absolute path.`, this.fields.get('ft-text'));
    const validText = v('ft-valid');
    if (validText && pathLike(validText) && !isAbsolutePath(validText)) return fail(`${validText} is not an absolute path.`, this.fields.get('ft-valid'));
    const mode = this.mode();
    const n: Record<string, number> = {};
    for (const [key, label, part] of NUMBER_FIELDS) {
      if (part === 'lora' && mode === 'full') continue;
      const raw = v(`ft-${key}`);
      if (key === 'seqLen' && raw === '') continue;
      const x = Number(raw);
      const integer = key !== 'lr' && key !== 'alpha';
      const min = key === 'evalEvery' ? 0 : Number.MIN_VALUE;
      if (raw === '' || !Number.isFinite(x) || x < min || (integer && !Number.isInteger(x))) {
        return fail(`${label} must be ${integer ? 'a whole number' : 'a number'}${min > 0 ? ' above 0' : ''}.`, this.fields.get(`ft-${key}`));
      }
      n[key] = x;
    }
    const targets = this.targets.filter((t) => t.checked).map((t) => t.value as (typeof LORA_TARGETS)[number]);
    if (mode === 'lora' && targets.length === 0) return fail('Choose at least one matrix to adapt.', this.targets[0]);
    const request: FinetuneStart = {
      model,
      run: name,
      mode,
      data: { train: [text], valid: validText ? [validText] : [] },
      ...(mode === 'lora' ? { lora: { rank: n.rank!, alpha: n.alpha!, targets } } : {}),
      train: {
        steps: n.steps!,
        lr: n.lr!,
        batch: n.batch!,
        evalEvery: n.evalEvery!,
        checkpointEvery: n.checkpointEvery!,
        ...(n.seqLen !== undefined ? { seqLen: n.seqLen } : {}),
      },
    };
    try {
      const r = await this.api.call('train:finetune', request);
      this.nameEdited = false;
      await this.started(r.run);
    } catch (e) {
      const { message, code } = errorInfo(e);
      fail(message, undefined, code);
    }
  }
}

/**
 * Under a fine-tune run: what it made. While it runs, where the adapter will go; once it ended,
 * the adapters stored beside its base (`models:adapters`), this run's marked, each with its size,
 * final validation loss and a link that opens Chat with it; for a full fine-tune, the model it
 * imported.
 */
export class AdapterSection {
  readonly element = el('section', { className: 'ft-adapters', id: 'ft-adapters', ariaLabel: 'Adapters' });
  /** What the section shows now (run, state, adapter): it is read again only when that changes. */
  private shown = '';
  private ticket = 0;

  constructor(private readonly api: PxiApi) {}

  show(r: FinetuneRun): void {
    const key = `${r.run}|${r.state}|${r.adapter?.name ?? ''}|${r.modelId ?? ''}|${r.base.modelId ?? ''}`;
    if (key === this.shown) return;
    this.shown = key;
    const ticket = ++this.ticket;
    const head = el('h3', {}, r.finetune.mode === 'full' ? 'The fine-tuned model' : `Adapters of ${r.base.name}`);
    if (r.finetune.mode === 'full') {
      this.element.replaceChildren(
        head,
        r.modelId
          ? el('p', {}, `Imported into the volume as a model. `, el('a', { href: `#/chat?model=${encodeURIComponent(r.modelId)}`, className: 'btn', id: 'ft-chat', textContent: 'Chat with it' }))
          : el('p', { className: 'empty' }, 'When the run ends, the fine-tuned model is imported into the volume under the run’s name.'),
      );
      return;
    }
    if (!r.base.modelId) {
      this.element.replaceChildren(head, el('p', { className: 'empty' }, `The base ${r.base.name} is not a model of the volume: its adapter is not kept there.`));
      return;
    }
    const modelId = r.base.modelId;
    const note = r.state === 'succeeded' ? null : el('p', { className: 'empty' }, `When the run ends, its adapter ${r.run} is stored beside ${r.base.name}.`);
    this.element.replaceChildren(head, ...(note ? [note] : []), el('p', { className: 'muted small' }, 'Reading the adapters…'));
    void this.api
      .call('models:adapters', { id: modelId })
      .then(({ adapters }) => {
        if (ticket !== this.ticket) return;
        this.element.replaceChildren(head, ...(note ? [note] : []), adapters.length ? this.table(adapters, r, modelId) : el('p', { className: 'empty' }, `${r.base.name} has no adapter yet.`));
      })
      .catch((e: unknown) => {
        if (ticket !== this.ticket) return;
        this.element.replaceChildren(head, alertBox(errorInfo(e).message, { title: 'The adapters could not be read', ...(errorInfo(e).code ? { code: errorInfo(e).code } : {}) }));
      });
  }

  private table(adapters: Adapter[], r: FinetuneRun, modelId: string): HTMLElement {
    const body = el('tbody');
    for (const a of adapters) {
      const tr = el(
        'tr',
        { className: a.name === r.run ? 'selected' : '' },
        el('th', { scope: 'row' }, a.name, a.name === r.run ? el('span', { className: 'muted small' }, ' (this run)') : ''),
        el('td', { className: 'num' }, formatBytes(a.bytes)),
        el('td', { className: 'num', title: 'The validation loss at the end of its fine-tune (nats/token)' }, a.validLoss === null ? '—' : a.validLoss.toFixed(4)),
        el('td', { className: 'num' }, a.steps === null ? '—' : String(a.steps)),
        el('td', {}, a.rank === null ? '—' : `rank ${a.rank}${a.alpha === null ? '' : `, alpha ${a.alpha}`}`),
        el('td', {}, el('a', { className: 'btn', href: chatWithAdapter(modelId, a.name), textContent: 'Chat with it', title: `Open Chat with ${r.base.name} and the adapter ${a.name}` })),
      );
      tr.dataset.adapter = a.name;
      body.append(tr);
    }
    return el(
      'table',
      { className: 'grid ft-adapter-table', id: 'ft-adapter-table' },
      el('caption', { className: 'sr-only' }, `Adapters of ${r.base.name}`),
      el('thead', {}, el('tr', {}, ...['Adapter', 'Size', 'Validation loss', 'Steps', 'Settings', ''].map((h, i) => el('th', { scope: 'col', className: i >= 1 && i <= 3 ? 'num' : '' }, h)))),
      body,
    );
  }
}
