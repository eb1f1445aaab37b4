import type { ImportPlan } from '../../../../shared/ipc/channels/files';
import { FILES_ERRORS } from '../../../../shared/ipc/channels/files';
import type { PxiApi } from '../../../../shared/ipc/client';
import { baseName, formatDuration, isAbsolutePath } from '../../components/format';
import { createProgressBar, RateMeter } from '../../components/progress';
import { followTask, frameBatcher, isFinished, type Task } from '../../components/tasks';
import { alertBox, button, errorInfo } from '../../components/ui';
import { UPLOAD_ERRORS } from '../../../../shared/ipc/upload';
import { el } from '../../components/el';
import { type View } from '../types';
import { importedLine, verifyOutcome } from './verify-step';
import { inspectStep, type Inspection } from './inspect-step';
import { nameProblem, optionsStep, type ImportOptions } from './options-step';
import { stepHeading } from './parts';
import { checkGgufFile, checkServerTakes, discardUpload, uploadGguf, type StagedUpload, type UploadHandle } from './upload';

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

/**
 * The import wizard. Its state lives here, not in the DOM, so leaving the view and coming back
 * finds the conversion where it is (the task runs in the services' queue either way); the
 * view only mounts and re-renders it. The wizard's flow (choose or upload, inspect, start, follow
 * the conversion and the verification) is here; the Inspect and Options steps and the verify
 * outcome are drawn by inspect-step.ts, options-step.ts and verify-step.ts.
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
  /** The Options step's choices: the name, the pyramid, verify after. */
  private readonly options: ImportOptions = { name: '', pyramid: true, verifyAfter: true };
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
          ? inspectStep(this.inspection!, this.plan!, this.staged?.name ?? null, {
              back: () => {
                // Back to choosing: an upload not imported is let go (choosing it again uploads it again).
                void this.dropStaged();
                this.go('choose');
              },
              next: () => this.go('options'),
            })
          : this.step === 'options'
            ? optionsStep(
                this.plan!,
                this.inspection!.fileSize,
                this.options,
                { nameError: this.nameError, busy: this.busy, failure: this.failureBox() },
                { back: () => this.go('inspect'), submit: () => void this.startImport() },
              )
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
    const section = el('section', { className: 'step' }, stepHeading('Choose a GGUF file'));
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
    this.options.name = baseName(path).replace(/\.gguf$/i, '') || 'model';
    this.nameError = null;
    this.go('inspect');
  }

  private async startImport(): Promise<void> {
    const api = this.api!;
    this.nameError = nameProblem(this.options.name);
    if (!this.nameError) {
      const { models } = await api.call('models:list', {});
      const clash = models.find((m) => m.name === this.options.name || m.id === this.options.name);
      if (clash) this.nameError = `The volume already holds a model named ${this.options.name} (id ${clash.id}). Choose another name, or delete that model in Models first.`;
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
      const t = await api.call('tasks:enqueue', { kind: 'model.import', params: { path: this.source, name: this.options.name, pyramid: this.options.pyramid, ...(this.staged ? { upload: true } : {}) } });
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
        if (this.options.verifyAfter) void this.startVerify();
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
    const section = el('section', { className: 'step' }, stepHeading(`Converting ${this.staged?.name ?? baseName(this.source)} to pixel tiles`));
    section.append(el('p', { className: 'muted' }, `As ${this.options.name}, through the task queue (`, el('a', { href: '#/tasks' }, `task #${t.id}`), ').'));
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
    const section = el('section', { className: 'step' }, stepHeading('Verification'), importedLine(this.importTask, this.options.name));
    const vt = this.verifyTask;
    if (this.failure) section.append(this.failureBox());
    if (!this.options.verifyAfter && !vt) {
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
      section.append(verifyOutcome(vt, () => void this.startVerify()));
    }
    const open = el('a', { className: 'btn primary', id: 'open-explorer', href: `#/explorer?model=${encodeURIComponent(this.modelId ?? '')}` }, 'Open in explorer');
    // Chat only where the engine runs the model (the inspection said so before the import).
    const chat = this.inspection?.engineProblem
      ? null
      : el('a', { className: 'btn', id: 'chat-with-it', href: `#/chat?model=${encodeURIComponent(this.modelId ?? '')}` }, 'Chat with it');
    section.append(el('div', { className: 'wizard-actions' }, button('Import another file', () => this.reset()), el('a', { className: 'btn', href: '#/models' }, 'Go to Models'), ...(chat ? [chat] : []), open));
    return section;
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
