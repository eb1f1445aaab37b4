import type { ImportPlan } from '../../../../shared/ipc/channels/files';
import { FILES_ERRORS } from '../../../../shared/ipc/channels/files';
import type { PxiApi } from '../../../../shared/ipc/client';
import type { Response } from '../../../../shared/ipc/contract';
import { barChart } from '../../components/bar-chart';
import { baseName, formatBytes, formatCount, formatDuration, isAbsolutePath } from '../../components/format';
import { createProgressBar, RateMeter } from '../../components/progress';
import { followTask, frameBatcher, isFinished, type Task } from '../../components/tasks';
import { alertBox, badge, button, errorInfo } from '../../components/ui';
import { UPLOAD_ERRORS } from '../../../../shared/ipc/upload';
import { el } from '../../components/el';
import { type View } from '../types';
import { predictVolume } from './predict';
import { checkGgufFile, checkServerTakes, discardUpload, uploadGguf, type StagedUpload, type UploadHandle } from './upload';

type Inspection = Response<'models:inspectFile'>;
type Step = 'choose' | 'inspect' | 'options' | 'convert' | 'verify';

const STEPS: { id: Step; label: string }[] = [
  { id: 'choose', label: 'Choose file' },
  { id: 'inspect', label: 'Inspect' },
  { id: 'options', label: 'Options' },
  { id: 'convert', label: 'Convert' },
  { id: 'verify', label: 'Verify' },
];

interface Failure {
  title: string;
  message: string;
  code: string | undefined;
  /** The error's details (file, field, value), shown in the folded technical part. */
  details?: Record<string, unknown> | undefined;
  tone?: 'error' | 'warn';
  /** Which control of the choose step it is about (shown beside it); the path field by default. */
  field?: 'path' | 'upload';
}

/** An upload in flight (browser mode): what the choose step shows while the bytes go up. */
interface Uploading {
  file: File;
  handle: UploadHandle;
  loaded: number;
}

/** Printable, no leading/trailing spaces, 1..256 characters: what the store accepts as a name. */
function nameProblem(name: string): string | null {
  if (name.length === 0) return 'Give the model a name.';
  if (name.length > 256) return 'A name has at most 256 characters.';
  if (name.trim() !== name) return 'A name cannot start or end with a space.';
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'A name cannot hold control characters.';
  return null;
}

function fact(label: string, value: Node | string): HTMLElement[] {
  return [el('dt', {}, label), el('dd', {}, value)];
}

/**
 * The import wizard. Its state lives here, not in the DOM, so leaving the view and coming back
 * finds the conversion where it is (the task runs in the services' queue either way); the
 * view only mounts and re-renders it.
 */
class ImportWizard {
  private step: Step = 'choose';
  /** The path field's text. */
  private path = '';
  /** The file being inspected and imported: a typed path, or where an upload was staged. */
  private source = '';
  /** Browser mode: the upload being inspected or imported (the server deletes it when its import ends). */
  private staged: StagedUpload | null = null;
  /** Whether an import task took `staged` over (then the page must not delete it). */
  private stagedTaken = false;
  private uploading: Uploading | null = null;
  private readonly uploadMeter = new RateMeter();
  /** Redraws the upload's progress without rebuilding the step. */
  private uploadLive: (() => void) | null = null;
  private readonly drawUpload = frameBatcher<null>(() => this.uploadLive?.());
  private mode: 'electron' | 'browser' | null = null;
  private busy = false;
  private failure: Failure | null = null;
  private inspection: Inspection | null = null;
  private plan: ImportPlan | null = null;
  private name = '';
  private pyramid = true;
  private verifyAfter = true;
  private nameError: string | null = null;
  private importTask: Task | null = null;
  private verifyTask: Task | null = null;
  private modelId: string | null = null;
  private following: { stop(): void } | null = null;
  private stopRetryWatch: (() => void) | null = null;
  private readonly meter = new RateMeter();
  private startedAt = 0;

  private api: PxiApi | null = null;
  private page: HTMLElement | null = null;
  /** Updates the live parts of the current step (progress) without rebuilding it. */
  private live: ((t: Task) => void) | null = null;
  /** Progress events can come faster than frames: draw the latest once per frame. */
  private readonly drawLive = frameBatcher<Task>((ts) => this.live?.(ts[ts.length - 1]!));

  async mount(root: HTMLElement, api: PxiApi): Promise<void> {
    this.api = api;
    this.page = el('div', { className: 'page wizard' });
    root.append(el('div', { className: 'view-head' }, el('h1', { tabIndex: -1 }, 'Import')), this.page);
    if (this.mode === null) this.mode = (await api.call('app:info', {})).mode;
    this.render(false);
  }

  private go(step: Step): void {
    this.step = step;
    this.render(true);
  }

  private reset(): void {
    void this.dropStaged();
    this.following?.stop();
    this.stopRetryWatch?.();
    this.stopRetryWatch = null;
    this.step = 'choose';
    this.busy = false;
    this.failure = null;
    this.inspection = null;
    this.plan = null;
    this.nameError = null;
    this.importTask = null;
    this.verifyTask = null;
    this.modelId = null;
    this.following = null;
    this.render(true);
  }

  private render(focus: boolean): void {
    const page = this.page;
    if (!page?.isConnected) return;
    this.live = null;
    this.uploadLive = null;
    page.dataset.step = this.step;
    const body =
      this.step === 'choose'
        ? this.chooseStep()
        : this.step === 'inspect'
          ? this.inspectStep()
          : this.step === 'options'
            ? this.optionsStep()
            : this.step === 'convert'
              ? this.convertStep()
              : this.verifyStep();
    page.replaceChildren(this.stepper(), body);
    // Keyboard and screen-reader users land on the new step's heading.
    if (focus) page.querySelector<HTMLElement>('h2')?.focus();
  }

  private stepper(): HTMLElement {
    const at = STEPS.findIndex((s) => s.id === this.step);
    const list = el('ol', { className: 'stepper' });
    list.setAttribute('aria-label', 'Import steps');
    STEPS.forEach((s, i) => {
      const li = el('li', { className: i < at ? 'done' : i === at ? 'current' : '' }, el('span', { className: 'step-no' }, String(i + 1)), ` ${s.label}`);
      if (i === at) li.setAttribute('aria-current', 'step');
      list.append(li);
    });
    return list;
  }

  private heading(text: string): HTMLElement {
    return el('h2', { tabIndex: -1 }, text);
  }

  private failureBox(): HTMLElement | string {
    const f = this.failure;
    return f ? alertBox(f.message, { title: f.title, code: f.code, details: f.details, ...(f.tone ? { tone: f.tone } : {}) }) : '';
  }

  /** Deletes the staged upload unless an import task took it over (the server deletes those). */
  private async dropStaged(): Promise<void> {
    const s = this.staged;
    const taken = this.stagedTaken;
    this.staged = null;
    this.stagedTaken = false;
    if (s && !taken) await discardUpload(s.id);
  }

  // --- 1. choose ------------------------------------------------------------------------------

  private chooseStep(): HTMLElement {
    const input = el('input', { type: 'text', id: 'gguf-path', className: 'text-input wide', value: this.path, spellcheck: false, placeholder: '/path/to/model.gguf', required: true });
    input.setAttribute('autocomplete', 'off');
    input.addEventListener('input', () => (this.path = input.value));
    const busy = this.busy || this.uploading !== null;
    const submit = el('button', { type: 'submit', className: 'btn primary', id: 'inspect-file', textContent: this.busy ? 'Reading the header…' : 'Inspect', disabled: busy });
    const form = el(
      'form',
      { className: 'path-form' },
      el('label', { className: 'field', htmlFor: 'gguf-path' }, el('span', { className: 'field-label' }, this.mode === 'browser' ? 'Absolute path of the .gguf file on the machine running pxi serve' : 'Path of the .gguf file'), input),
      submit,
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.inspect(input.value.trim());
    });
    const section = el('section', { className: 'step' }, this.heading('Choose a GGUF file'));
    if (this.mode === 'electron') {
      section.append(
        el('p', {}, button('Choose file…', () => void this.chooseNative(), { kind: 'primary', focusKey: 'choose-native' }), el('span', { className: 'muted' }, ' or type its path:')),
      );
      if (this.failure) input.setAttribute('aria-invalid', 'true');
      section.append(form, this.failureBox());
    } else {
      const aboutUpload = this.failure?.field === 'upload';
      if (this.failure && !aboutUpload) input.setAttribute('aria-invalid', 'true');
      section.append(
        this.uploadBox(),
        aboutUpload ? this.failureBox() : '',
        el('p', { className: 'muted' }, 'Or give the absolute path of a .gguf file already on the machine running pxi serve (read where it is, not copied):'),
        form,
        aboutUpload ? '' : this.failureBox(),
      );
    }
    if (!this.failure && !busy) queueMicrotask(() => input.isConnected && document.activeElement === document.body && input.focus());
    return section;
  }

  /** Browser mode: pick or drop a .gguf to upload, or the upload's progress while it runs. */
  private uploadBox(): HTMLElement {
    const box = el('div', { className: 'upload-box' });
    const u = this.uploading;
    if (u) {
      const bar = createProgressBar(`Upload progress of ${u.file.name}`);
      const cancel = button('Cancel upload', () => u.handle.cancel(), { kind: 'danger' });
      cancel.id = 'cancel-upload';
      box.append(el('p', { className: 'phase' }, `Uploading ${u.file.name} to the Pixel-LLM server…`), bar.element, el('div', { className: 'wizard-actions' }, cancel));
      this.uploadLive = () => {
        if (this.uploading === u) bar.update({ done: u.loaded, total: u.file.size, unit: 'bytes' }, this.uploadMeter.sample(u.loaded));
      };
      this.uploadLive();
      return box;
    }
    const file = el('input', { type: 'file', id: 'gguf-upload', className: 'file-input', accept: '.gguf' });
    if (this.failure?.field === 'upload') file.setAttribute('aria-invalid', 'true');
    file.addEventListener('change', () => {
      const f = file.files?.[0];
      if (f) void this.startUpload(f);
    });
    // Dropping a file anywhere on the box does what choosing it does.
    box.addEventListener('dragover', (ev) => {
      ev.preventDefault();
      box.classList.add('dragging');
    });
    box.addEventListener('dragleave', () => box.classList.remove('dragging'));
    box.addEventListener('drop', (ev) => {
      ev.preventDefault();
      box.classList.remove('dragging');
      const f = ev.dataTransfer?.files[0];
      if (f) void this.startUpload(f);
    });
    box.append(
      el('label', { className: 'field', htmlFor: 'gguf-upload' }, el('span', { className: 'field-label' }, 'Upload a .gguf file from this computer (or drop it here)'), file),
      el('p', { className: 'muted small' }, 'It is copied to the server, imported from there, and the copy is deleted when the import ends.'),
    );
    return box;
  }

  private async startUpload(file: File): Promise<void> {
    this.failure = null;
    try {
      await checkGgufFile(file);
      await checkServerTakes(file);
    } catch (e) {
      const info = errorInfo(e);
      this.failure = { title: `Cannot upload ${file.name}`, message: info.message, code: info.code, details: info.details, field: 'upload' };
      this.render(false);
      document.getElementById('gguf-upload')?.focus();
      return;
    }
    await this.dropStaged();
    const onProgress = (loaded: number) => {
      u.loaded = loaded;
      this.drawUpload(null);
    };
    const u: Uploading = { file, loaded: 0, handle: uploadGguf(file, onProgress) };
    this.uploading = u;
    this.uploadMeter.reset();
    this.render(false);
    document.getElementById('cancel-upload')?.focus();
    try {
      const staged = await u.handle.done;
      this.uploading = null;
      this.staged = staged;
      this.stagedTaken = false;
      await this.inspect(staged.path, file.name);
    } catch (e) {
      this.uploading = null;
      const info = errorInfo(e);
      const cancelled = info.code === UPLOAD_ERRORS.CANCELLED;
      this.failure = { title: cancelled ? 'Upload cancelled' : `Cannot upload ${file.name}`, message: info.message, code: info.code, details: info.details, field: 'upload', ...(cancelled ? { tone: 'warn' as const } : {}) };
      this.render(false);
      document.getElementById('gguf-upload')?.focus();
    }
  }

  private async chooseNative(): Promise<void> {
    try {
      const { path } = await this.api!.call('files:chooseGguf', {});
      if (path) {
        this.path = path;
        await this.inspect(path);
      }
    } catch (e) {
      const info = errorInfo(e);
      // A host without a dialog: fall back to the path field, which is already on the page.
      if (info.code === FILES_ERRORS.DIALOG_UNAVAILABLE) this.mode = 'browser';
      this.failure = { title: 'No file dialog', message: info.message, code: info.code, details: info.details };
      this.render(false);
    }
  }

  /** Reads the header of `path`; `uploaded` is the person's file name when `path` is a staged upload. */
  private async inspect(path: string, uploaded?: string): Promise<void> {
    if (uploaded === undefined) {
      this.path = path;
      // A typed path replaces an upload that was waiting.
      await this.dropStaged();
    }
    if (!isAbsolutePath(path)) {
      this.failure = { title: 'Not an absolute path', message: `${path || '(empty)'}: give the absolute path of a .gguf file, e.g. /home/me/models/model.gguf`, code: undefined };
      this.render(false);
      document.getElementById('gguf-path')?.focus();
      return;
    }
    this.busy = true;
    this.failure = null;
    this.render(false);
    const api = this.api!;
    const [insp, plan] = await Promise.allSettled([api.call('models:inspectFile', { path }), api.call('files:importPlan', { path })]);
    this.busy = false;
    // Both read the same header; the inspection's error is the one to show (it names the field).
    const failed = insp.status === 'rejected' ? insp.reason : plan.status === 'rejected' ? plan.reason : null;
    if (failed !== null || insp.status !== 'fulfilled' || plan.status !== 'fulfilled') {
      const info = errorInfo(failed);
      this.failure = { title: `Cannot import ${uploaded ?? baseName(path)}`, message: info.message, code: info.code, details: info.details, field: uploaded === undefined ? 'path' : 'upload' };
      // An upload the reader refused is of no further use: the server drops it now.
      if (uploaded !== undefined) await this.dropStaged();
      this.render(false);
      document.getElementById(uploaded === undefined ? 'gguf-path' : 'gguf-upload')?.focus();
      return;
    }
    this.source = path;
    this.inspection = insp.value;
    this.plan = plan.value;
    this.name = baseName(path).replace(/\.gguf$/i, '') || 'model';
    this.nameError = null;
    this.go('inspect');
  }

  // --- 2. inspect -----------------------------------------------------------------------------

  private inspectStep(): HTMLElement {
    const i = this.inspection!;
    const plan = this.plan!;
    const section = el('section', { className: 'step' }, this.heading(`Inspect ${baseName(i.path)}`));
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
      ...fact('File', this.staged ? `${this.staged.name}, uploaded from this computer` : el('span', { className: 'path' }, i.path)),
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
    const next = button('Next: options', () => this.go('options'), { kind: 'primary' });
    next.classList.add('wizard-next');
    next.disabled = plan.importProblem !== null;
    section.append(
      el('div', { className: 'inspect-grid' }, facts, el('div', {}, chart, unrunnable.length ? el('p', { className: 'warn-text' }, `⚠ The engine's kernels cannot read ${unrunnable.join(', ')}.`) : '')),
      template,
      el(
        'div',
        { className: 'wizard-actions' },
        button('Back', () => {
          // Back to choosing: an upload not imported is let go (choosing it again uploads it again).
          void this.dropStaged();
          this.go('choose');
        }),
        next,
      ),
    );
    return section;
  }

  // --- 3. options -----------------------------------------------------------------------------

  private optionsStep(): HTMLElement {
    const plan = this.plan!;
    const v = plan.volume;
    const p = predictVolume(plan, this.inspection!.fileSize);
    const name = el('input', { type: 'text', id: 'import-name', className: 'text-input', value: this.name, spellcheck: false, required: true });
    name.setAttribute('autocomplete', 'off');
    name.addEventListener('input', () => (this.name = name.value));
    const nameError = el('div', { className: 'field-error', id: 'import-name-error', role: 'alert' }, this.nameError ?? '');
    name.setAttribute('aria-describedby', nameError.id);
    if (this.nameError) name.setAttribute('aria-invalid', 'true');
    const pyramid = el('input', { type: 'checkbox', checked: this.pyramid });
    pyramid.addEventListener('change', () => (this.pyramid = pyramid.checked));
    const verify = el('input', { type: 'checkbox', checked: this.verifyAfter });
    verify.addEventListener('change', () => (this.verifyAfter = verify.checked));

    const compression = v.level === 0 ? 'level 0: stored, no deflate (weights barely compress; fastest)' : `deflate level ${v.level}`;
    const basis =
      p.basis === 'stored'
        ? 'Level 0 stores bytes as they are, so this is close to exact.'
        : p.basis === 'measured-ratio'
          ? `Scaled by the ratio this volume measured so far (${v.measuredRatio!.toFixed(3)}).`
          : 'An upper bound: the volume holds no tiles yet to measure how well they compress.';
    const storage = el(
      'fieldset',
      { className: 'readonly-settings' },
      el('legend', {}, 'Storage: the volume’s settings'),
      el(
        'dl',
        { className: 'facts' },
        ...fact('Tile size', `${v.tileWidth} × ${v.tileHeight} px RGBA (${formatBytes(v.tileBytes)} per tile)`),
        ...fact('Compression', compression),
      ),
      el(
        'p',
        { className: 'muted small' },
        'Tile size and compression belong to the volume: they were fixed when it was created, and every import uses them. They cannot be chosen per import (a new volume can get others with pxi import --tile-size and --compression).',
      ),
    );
    // What a person decides on: how much room the model takes. How it is stored (the volume's
    // tiles, compression, how the size was predicted) is folded under "Advanced".
    const prediction = el(
      'section',
      { className: 'prediction', ariaLabel: 'Predicted volume size' },
      el('h3', {}, 'Space it will take'),
      el(
        'dl',
        { className: 'facts' },
        ...fact('Added to the volume', el('strong', { id: 'predicted-size' }, `≈ ${formatBytes(p.predictedBytes)}`)),
        ...fact('Volume', `${formatBytes(v.storedBytes)} now → ≈ ${formatBytes(v.storedBytes + p.predictedBytes)}`),
      ),
    );
    const advanced = el(
      'details',
      { className: 'advanced', id: 'import-advanced' },
      el('summary', {}, 'Advanced: how the model is stored'),
      storage,
      el(
        'dl',
        { className: 'facts prediction-detail' },
        ...fact('Tiles', `${p.tensorTiles.toLocaleString()} for ${plan.tensors.length.toLocaleString()} tensors (each tensor starts a tile) + the header file`),
        ...fact('Payload', `${formatBytes(p.payloadBytes)} of tensors + ${formatBytes(p.otherBytes)} header and padding`),
        ...fact('Volume now', `${v.tiles.toLocaleString()} tiles`),
      ),
      el('p', { className: 'muted small' }, `${basis} Tiles already in the volume with the same bytes are stored once, so the real size can be smaller.`),
    );
    const form = el(
      'form',
      { className: 'options-form' },
      el(
        'fieldset',
        {},
        el('legend', {}, 'Model'),
        el('label', { className: 'field', htmlFor: 'import-name' }, el('span', { className: 'field-label' }, 'Name in the volume'), name),
        nameError,
        el('label', { className: 'check' }, pyramid, ' Build the map pyramid (the explorer’s zoomed-out views; about as long again as the conversion)'),
        el('label', { className: 'check' }, verify, ' Verify every tile after the import'),
      ),
      prediction,
      advanced,
      this.failureBox(),
      el(
        'div',
        { className: 'wizard-actions' },
        button('Back', () => this.go('inspect')),
        el('button', { type: 'submit', className: 'btn primary', id: 'start-import', textContent: this.busy ? 'Starting…' : 'Import', disabled: this.busy }),
      ),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.startImport();
    });
    return el('section', { className: 'step' }, this.heading('Options'), form);
  }

  private async startImport(): Promise<void> {
    const api = this.api!;
    this.nameError = nameProblem(this.name);
    if (!this.nameError) {
      const { models } = await api.call('models:list', {});
      const clash = models.find((m) => m.name === this.name || m.id === this.name);
      if (clash) this.nameError = `The volume already holds a model named ${this.name} (id ${clash.id}). Choose another name, or delete that model in Models first.`;
    }
    if (this.nameError) {
      this.render(false);
      document.getElementById('import-name')?.focus();
      return;
    }
    this.busy = true;
    this.failure = null;
    this.render(false);
    try {
      const t = await api.call('tasks:enqueue', { kind: 'model.import', params: { path: this.source, name: this.name, pyramid: this.pyramid, ...(this.staged ? { upload: true } : {}) } });
      // From here the server deletes the staged upload when this import ends.
      if (this.staged) this.stagedTaken = true;
      this.busy = false;
      this.followImport(t);
      this.go('convert');
    } catch (e) {
      this.busy = false;
      const info = errorInfo(e);
      this.failure = { title: 'The import could not start', message: info.message, code: info.code, details: info.details };
      this.render(false);
    }
  }

  // --- 4. convert -----------------------------------------------------------------------------

  private followImport(t: Task): void {
    this.following?.stop();
    this.stopRetryWatch?.();
    this.stopRetryWatch = null;
    this.importTask = t;
    this.meter.reset();
    this.startedAt = performance.now();
    const f = followTask(this.api!, t.id, (u) => {
      const prev = this.importTask;
      this.importTask = u;
      if (prev && prev.progress.message.startsWith('pyramid') !== u.progress.message.startsWith('pyramid')) this.meter.reset();
      if (!isFinished(u.state)) this.drawLive(u);
    });
    this.following = f;
    void f.done.then((done) => {
      if (this.following !== f) return;
      this.following = null;
      this.importTask = done;
      if (done.state === 'succeeded') {
        this.modelId = String((done.result as { modelId?: unknown }).modelId);
        this.step = 'verify';
        if (this.verifyAfter) void this.startVerify();
        else this.render(true);
      } else {
        // A retry from the Tasks view (or the CLI) brings the same task back: follow it again.
        const off = this.api!.on('tasks:changed', (u) => {
          if (u.id !== done.id || isFinished(u.state) || this.importTask?.id !== done.id) return;
          this.followImport(u);
          if (this.step === 'convert') this.render(false);
        });
        this.stopRetryWatch = off;
        this.render(true);
      }
    });
  }

  private convertStep(): HTMLElement {
    const t = this.importTask!;
    const section = el('section', { className: 'step' }, this.heading(`Converting ${this.staged?.name ?? baseName(this.source)} to pixel tiles`));
    section.append(el('p', { className: 'muted' }, `As ${this.name}, through the task queue (`, el('a', { href: '#/tasks' }, `task #${t.id}`), ').'));
    if (t.state === 'failed' || t.state === 'cancelled') {
      const err = t.error;
      // An uploaded file went with its import: another try needs another upload.
      const uploadGone = this.staged !== null && this.stagedTaken;
      section.append(
        t.state === 'failed'
          ? alertBox(err?.message ?? 'the import failed', { title: 'The import failed', code: err?.code, details: err?.details })
          : alertBox('The import was cancelled. What was stored so far is kept, so a retry continues where it stopped; nothing appears in Models until an import completes.', {
              title: 'Import cancelled',
              tone: 'warn',
            }),
        uploadGone ? el('p', { className: 'muted' }, `The uploaded copy of ${this.staged!.name} was deleted when the import ended: to try again, upload it again.`) : '',
        el(
          'div',
          { className: 'wizard-actions' },
          button(uploadGone ? 'Upload again' : 'Choose another file', () => this.reset(), uploadGone ? { kind: 'primary' } : {}),
          t.state === 'failed' && !uploadGone ? button('Back to options', () => this.go('options')) : '',
          uploadGone ? '' : button('Retry', () => void this.retryImport(), { kind: 'primary' }),
        ),
      );
      return section;
    }
    const phase = el('p', { className: 'phase' });
    const bar = createProgressBar('Import progress');
    const elapsed = el('p', { className: 'muted small' });
    const cancel = button('Cancel', () => void this.cancelImport(cancel), { kind: 'danger' });
    cancel.id = 'cancel-import';
    section.append(phase, bar.element, elapsed, el('div', { className: 'wizard-actions' }, cancel));
    const update = (u: Task) => {
      if (u.id !== this.importTask?.id) return;
      const pyramid = u.progress.message.startsWith('pyramid');
      phase.textContent = u.state === 'queued' ? 'Waiting for the tasks before it in the queue…' : pyramid ? 'Building the map pyramid (the explorer’s zoomed-out views)…' : 'Storing the model’s weights as pixel images…';
      bar.update(u.progress, u.state === 'running' ? this.meter.sample(u.progress.done) : undefined);
      elapsed.textContent = `Elapsed ${formatDuration(performance.now() - this.startedAt)}`;
    };
    update(t);
    this.live = update;
    return section;
  }

  private async cancelImport(b: HTMLButtonElement): Promise<void> {
    b.disabled = true;
    b.textContent = 'Cancelling…';
    try {
      await this.api!.call('tasks:cancel', { id: this.importTask!.id });
    } catch (e) {
      // It finished before the cancel arrived: the follow-up render shows how it ended.
      const info = errorInfo(e);
      b.replaceWith(alertBox(info.message, { code: info.code, details: info.details }));
    }
  }

  private async retryImport(): Promise<void> {
    try {
      const t = await this.api!.call('tasks:retry', { id: this.importTask!.id });
      this.followImport(t);
      this.go('convert');
    } catch (e) {
      const info = errorInfo(e);
      this.page?.querySelector('.wizard-actions')?.before(alertBox(info.message, { title: 'Cannot retry', code: info.code, details: info.details }));
    }
  }

  // --- 5. verify ------------------------------------------------------------------------------

  private async startVerify(): Promise<void> {
    this.verifyTask = null;
    this.render(true);
    try {
      const t = await this.api!.call('tasks:enqueue', { kind: 'model.verify', params: { model: this.modelId! } });
      this.verifyTask = t;
      this.meter.reset();
      const f = followTask(this.api!, t.id, (u) => {
        this.verifyTask = u;
        if (!isFinished(u.state)) this.drawLive(u);
      });
      this.following = f;
      void f.done.then((done) => {
        if (this.following !== f) return;
        this.following = null;
        this.verifyTask = done;
        this.render(false);
        this.page?.querySelector<HTMLElement>('.verify-result')?.focus();
      });
      this.render(false);
    } catch (e) {
      const info = errorInfo(e);
      this.failure = { title: 'Verification could not start', message: info.message, code: info.code, details: info.details };
      this.render(false);
    }
  }

  private verifyStep(): HTMLElement {
    const section = el('section', { className: 'step' }, this.heading('Verification'), this.importedLine());
    const vt = this.verifyTask;
    if (this.failure) section.append(this.failureBox());
    if (!this.verifyAfter && !vt) {
      section.append(el('p', { className: 'muted' }, 'Not verified: you chose to skip it. '), button('Verify now', () => void this.startVerify()));
    } else if (!vt || !isFinished(vt.state)) {
      const bar = createProgressBar('Verification progress');
      const label = el('p', { className: 'phase' }, 'Reading the stored model back and checking every byte…');
      section.append(label, bar.element);
      const update = (u: Task) => {
        if (u.id === this.verifyTask?.id) bar.update(u.progress, u.state === 'running' ? this.meter.sample(u.progress.done) : undefined);
      };
      if (vt) update(vt);
      else bar.update({ done: 0, total: null, unit: 'bytes', message: 'starting' });
      this.live = update;
    } else {
      section.append(this.verifyOutcome(vt));
    }
    const open = el('a', { className: 'btn primary', id: 'open-explorer', href: `#/explorer?model=${encodeURIComponent(this.modelId ?? '')}` }, 'Open in explorer');
    // Chat only where the engine runs the model (the inspection said so before the import).
    const chat = this.inspection?.engineProblem
      ? null
      : el('a', { className: 'btn', id: 'chat-with-it', href: `#/chat?model=${encodeURIComponent(this.modelId ?? '')}` }, 'Chat with it');
    section.append(el('div', { className: 'wizard-actions' }, button('Import another file', () => this.reset()), el('a', { className: 'btn', href: '#/models' }, 'Go to Models'), ...(chat ? [chat] : []), open));
    return section;
  }

  /**
   * What the import did and how long it took as a whole: storing the weights and building the
   * map pyramid (the task's `seconds`). The import builds the pyramid as it stores (one pass);
   * a read-back build after it, when one was needed, is `pyramidSeconds` and shown apart.
   */
  private importedLine(): HTMLElement {
    const t = this.importTask;
    const imp = (t?.result ?? {}) as { name?: string; bytes?: number; seconds?: number; storeSeconds?: number; pyramidSeconds?: number | null; alreadyImported?: boolean; pyramid?: unknown };
    // A task that ran before the parts were reported measured storing alone: its run time then.
    const totalMs =
      typeof imp.storeSeconds === 'number' ? Number(imp.seconds ?? 0) * 1000 : t?.finishedAt != null && t.startedAt != null ? t.finishedAt - t.startedAt : Number(imp.seconds ?? 0) * 1000;
    const total = el('strong', { id: 'import-duration' }, formatDuration(totalMs));
    total.dataset.ms = String(Math.round(totalMs));
    const split = typeof imp.storeSeconds === 'number' && typeof imp.pyramidSeconds === 'number';
    const parts = split
      ? `: storing the weights ${formatDuration(imp.storeSeconds! * 1000)}, building the map pyramid ${formatDuration(imp.pyramidSeconds! * 1000)}`
      : imp.pyramid
        ? ', map pyramid included'
        : '';
    return el(
      'p',
      { className: 'outcome ok' },
      `Imported ${imp.name ?? this.name} (${formatBytes(Number(imp.bytes ?? 0))}) in `,
      total,
      parts,
      imp.alreadyImported ? ' (it was already in the volume)' : '',
      '.',
    );
  }

  private verifyOutcome(vt: Task): HTMLElement {
    const box = el('div', { className: 'verify-result', tabIndex: -1 });
    box.setAttribute('role', 'status');
    if (vt.state !== 'succeeded') {
      box.dataset.ok = 'false';
      box.append(
        alertBox(vt.error?.message ?? `verification ${vt.state}`, { title: vt.state === 'cancelled' ? 'Verification cancelled' : 'Verification failed', code: vt.error?.code, details: vt.error?.details }),
        button('Verify again', () => void this.startVerify()),
      );
      return box;
    }
    const r = (vt.result ?? {}) as { ok?: boolean; problems?: number; tilesChecked?: number; bytesChecked?: number; firstProblems?: { message?: string; code?: string }[] };
    box.dataset.ok = String(r.ok === true);
    const took = formatDuration((vt.finishedAt ?? vt.updatedAt) - (vt.startedAt ?? vt.createdAt));
    // Plain words first; tiles and checksums are how PixelFS checks, folded under "Advanced".
    const advanced = el('details', { className: 'advanced' }, el('summary', {}, 'Advanced'));
    if (r.ok) {
      box.append(badge('OK', 'ok'), ` The stored model reads back exactly as it was imported (checked in ${took}).`, advanced);
      advanced.append(el('p', {}, `Every tile matches its checksum: ${Number(r.tilesChecked).toLocaleString()} tiles, ${formatBytes(Number(r.bytesChecked))} checked.`));
    } else {
      const n = Number(r.problems);
      box.append(badge('Corrupt', 'bad'), ` Part of the stored model is damaged (${n} problem${n === 1 ? '' : 's'}). Importing the file again repairs it.`, advanced);
      advanced.append(el('ul', { className: 'problems' }, ...(r.firstProblems ?? []).map((p) => el('li', {}, p.message ?? p.code ?? 'problem'))));
    }
    return box;
  }
}

const wizard = new ImportWizard();

export const importView: View = {
  id: 'import',
  title: 'Import',
  async render(root, { api }) {
    await wizard.mount(root, api);
  },
};
