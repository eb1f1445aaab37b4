/**
 * The Training view's "New run" form (specs/training.md, "The Training view"): a preset, the run's
 * name, its training and validation text, where it trains (the background or this window), and
 * the model's sizes and schedule folded under "Model, batch and schedule". Beside it, as a second
 * tab, the fine-tune form (training-finetune.ts): `startTabs`.
 */
import type { PxiApi } from '../../../shared/ipc/client';
import { isAbsolutePath } from '../components/format';
import { alertBox, errorInfo } from '../components/ui';
import { el } from '../components/el';
import { startWindowRun } from '../train/window-runs';

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

/** "New run" and "Fine-tune" side by side as two tabs (arrow keys move between them). */
export function startTabs(newRun: HTMLElement, finetune: HTMLElement, finetuneFirst: boolean): HTMLElement {
  const panels = [
    { id: 'train-new', label: 'New run', panel: newRun },
    { id: 'train-finetune', label: 'Fine-tune', panel: el('div', {}, el('p', { className: 'muted' }, 'Adapt a model of the volume (llama or qwen2, any weight type) to your text: LoRA adapters over its frozen base, or every weight of an F32/F16/BF16 model.'), finetune) },
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

/** The "New run" form: checks its fields, then starts the run in the background or in this window. */
export class NewRunForm {
  readonly element: HTMLElement;
  /** Where the form says why a run did not start (and the page, why the runs could not be read). */
  readonly error = el('div');
  private readonly fields = new Map<string, HTMLInputElement>();
  private readonly where: HTMLInputElement[] = [];

  constructor(
    private readonly api: PxiApi,
    /** A run started: show it. */
    private readonly started: (run: string) => Promise<void>,
  ) {
    this.element = this.build();
  }

  private build(): HTMLElement {
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
      this.error,
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
    this.error.replaceChildren();
    const v = (id: string) => this.fields.get(id)!.value.trim();
    const fail = (message: string, field?: string, code?: string) => {
      this.error.replaceChildren(alertBox(message, { title: 'Not started', ...(code ? { code } : {}) }));
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
      await this.started(r.run);
    } catch (e) {
      const { message, code } = errorInfo(e);
      fail(message, undefined, code);
    }
  }
}
