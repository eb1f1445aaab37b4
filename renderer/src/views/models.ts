import type { PxiApi } from '../../../shared/ipc/client';
import type { Response } from '../../../shared/ipc/contract';
import { confirmDialog, promptDialog } from '../components/dialog';
import { formatBytes, formatCount, formatDuration, isAbsolutePath } from '../components/format';
import { createProgressBar, RateMeter } from '../components/progress';
import { followTask, frameBatcher, isFinished, onTasksWhileMounted, taskModel, type Task } from '../components/tasks';
import { alertBox, badge, button, errorInfo, preserveFocus } from '../components/ui';
import { downloadModel } from './model-download';
import { el } from '../components/el';
import { type View } from './types';

type Model = Response<'models:list'>['models'][number];

const VERIFY_TONE = { ok: 'ok', corrupt: 'bad', unverified: 'neutral' } as const;
const VERIFY_TEXT = { ok: 'OK', corrupt: 'Corrupt', unverified: 'Not verified' } as const;

/** What a finished verify or export says, in one line. */
function outcomeText(t: Task): { text: string; tone: 'ok' | 'bad' } {
  if (t.state === 'failed') return { text: `${t.kind === 'model.export' ? 'Export' : 'Verify'} failed: ${t.error?.message ?? 'unknown error'}`, tone: 'bad' };
  if (t.state === 'cancelled') return { text: `${t.kind === 'model.export' ? 'Export' : 'Verify'} cancelled.`, tone: 'bad' };
  const r = (t.result ?? {}) as Record<string, unknown>;
  const took = t.finishedAt ? ` in ${formatDuration(t.finishedAt - t.createdAt)}` : '';
  if (t.kind === 'model.export') return { text: `Exported to ${String(r.path)} (${formatBytes(Number(r.size))})${took}.`, tone: 'ok' };
  if (r.ok === true) return { text: `Verified OK: ${Number(r.tilesChecked).toLocaleString()} tiles, ${formatBytes(Number(r.bytesChecked))} checked${took}.`, tone: 'ok' };
  const first = Array.isArray(r.firstProblems) ? (r.firstProblems as { message?: string }[])[0]?.message : undefined;
  return { text: `Verify found ${Number(r.problems)} problem(s)${first ? `; first: ${first}` : ''}.`, tone: 'bad' };
}

/**
 * The models in the volume. Verify and export run as tasks: their progress shows under the
 * model's row, live from `tasks:changed`, also when another view (the import wizard, the CLI
 * through the same services) started them. A model's row names the adapters fine-tunes stored
 * beside it.
 */
class ModelsPage {
  private models: Model[] = [];
  private readonly activity = new Map<string, { row: HTMLTableRowElement; cell: HTMLTableCellElement; task: Task | null; note: HTMLElement | null }>();
  private readonly meters = new Map<number, RateMeter>();
  private readonly tableHost = el('div', { className: 'table-host' });
  private readonly notice = el('div');
  private dataDir = '';
  /** Browser mode: the page may be on another machine than the volume, so a model can also be downloaded. */
  private browserMode = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly api: PxiApi,
  ) {}

  async start(): Promise<void> {
    const head = el('div', { className: 'view-head' }, el('h1', { tabIndex: -1 }, 'Models'), el('a', { className: 'btn primary', href: '#/import' }, 'Import a model…'));
    this.root.append(el('div', { className: 'page' }, head, this.notice, this.tableHost));
    const batch = frameBatcher<Task>((ts) => {
      const last = new Map(ts.map((t) => [t.id, t]));
      for (const t of last.values()) this.onTask(t);
    });
    onTasksWhileMounted(this.api, this.tableHost, batch);
    const [{ models }, info, { tasks }] = await Promise.all([this.api.call('models:list', {}), this.api.call('app:info', {}), this.api.call('tasks:list', {})]);
    this.dataDir = info.dataDir;
    this.browserMode = info.mode === 'browser';
    this.models = models;
    this.render();
    // Tasks still running when the page opens show their progress too.
    for (const t of tasks.filter((x) => !isFinished(x.state) && (x.kind === 'model.verify' || x.kind === 'model.export'))) this.onTask(t);
  }

  private modelFor(ref: string | null): Model | undefined {
    return ref === null ? undefined : this.models.find((m) => m.id === ref || m.name === ref);
  }

  private onTask(t: Task): void {
    // A finished import adds a model; a finished fine-tune an adapter (or a model).
    if ((t.kind === 'model.import' || t.kind === 'model.finetune') && t.state === 'succeeded') void this.reload();
    if (t.kind !== 'model.verify' && t.kind !== 'model.export') return;
    const m = this.modelFor(taskModel(t));
    if (!m) return;
    this.showTask(m.id, t);
    if (isFinished(t.state)) {
      this.meters.delete(t.id);
      if (t.kind === 'model.verify') void this.reload();
    }
  }

  async reload(): Promise<void> {
    try {
      this.models = (await this.api.call('models:list', {})).models;
      this.render();
    } catch (e) {
      this.notice.replaceChildren(alertBox(errorInfo(e).message, { title: 'Could not list the models', code: errorInfo(e).code }));
    }
  }

  private render(): void {
    preserveFocus(this.root, () => this.renderTable());
  }

  private renderTable(): void {
    const kept = new Map([...this.activity].map(([id, a]) => [id, a]));
    this.activity.clear();
    if (this.models.length === 0) {
      this.tableHost.replaceChildren(
        el('p', { className: 'empty' }, 'No model in this volume yet. ', el('a', { href: '#/import' }, 'Import a GGUF model'), ' to store it as pixel tiles.'),
      );
      return;
    }
    const table = el('table', { className: 'grid models-table' });
    table.append(el('caption', { className: 'sr-only' }, 'Models in the volume'));
    table.append(el('thead', {}, el('tr', {}, ...['Name', 'Architecture', 'Parameters', 'Size', 'Tensor types', 'Verified', 'Actions'].map((h) => el('th', { scope: 'col' }, h)))));
    const body = el('tbody');
    for (const m of this.models) {
      const row = el('tr', { className: 'model-row' });
      row.dataset.model = m.id;
      const types = el('td', {}, ...m.tensorTypes.map((t) => el('span', { className: 'chip' }, t)));
      const actions = el(
        'div',
        { className: 'actions' },
        el('a', { className: 'btn', href: `#/explorer?model=${encodeURIComponent(m.id)}`, textContent: 'Open' }),
        ...(m.runs ? [el('a', { className: 'btn', href: `#/chat?model=${encodeURIComponent(m.id)}`, textContent: 'Chat', title: `Chat with ${m.name}` })] : []),
        button('Verify', () => void this.verify(m), { focusKey: `verify:${m.id}`, title: `Check every stored tile of ${m.name} against its checksum` }),
        button('Export…', () => void this.exportModel(m), { focusKey: `export:${m.id}`, title: `Write ${m.name} back to a GGUF file` }),
        ...(this.browserMode
          ? [button('Download', () => void this.download(m), { focusKey: `download:${m.id}`, title: `Save ${m.name} as a GGUF file on this computer, rebuilt from the tiles` })]
          : []),
        button('Delete…', () => void this.remove(m), { kind: 'danger', focusKey: `delete:${m.id}` }),
      );
      (actions.firstChild as HTMLElement).dataset.focusKey = `open:${m.id}`;
      row.append(
        el('th', { scope: 'row' }, el('div', { className: 'model-name' }, m.name), el('div', { className: 'muted small' }, m.id), ...this.adapterLine(m)),
        el(
          'td',
          { className: 'arch-cell' },
          m.architecture,
          ' ',
          // Said before anything loads: whether Chat can run it, and if not which part is missing.
          m.runs
            ? badge('Runs', 'ok')
            : Object.assign(badge('Store and view only', 'neutral'), { title: `The engine cannot run this model:\n${m.runProblem ?? ''}` }),
        ),
        el('td', { title: m.parameterCount.toLocaleString() }, formatCount(m.parameterCount)),
        el('td', {}, formatBytes(m.bytes)),
        types,
        el('td', { className: 'verify-cell' }, badge(VERIFY_TEXT[m.verified], VERIFY_TONE[m.verified])),
        el('td', {}, actions),
      );
      const cell = el('td', { colSpan: 7 });
      const activityRow = el('tr', { className: 'activity-row', hidden: true }, cell);
      body.append(row, activityRow);
      const prev = kept.get(m.id);
      this.activity.set(m.id, { row: activityRow, cell, task: null, note: null });
      if (prev?.task) this.showTask(m.id, prev.task);
      else if (prev?.note) this.showNote(m.id, prev.note);
    }
    table.append(body);
    this.tableHost.replaceChildren(table);
  }

  /**
   * The adapters fine-tunes stored beside the model (count and names; each opens Chat with it
   * where the model runs), or nothing when it has none.
   */
  private adapterLine(m: Model): HTMLElement[] {
    if (m.adapters.length === 0) return [];
    const names: (Node | string)[] = [];
    m.adapters.forEach((a, i) => {
      if (i > 0) names.push(', ');
      names.push(
        m.runs
          ? el('a', { href: `#/chat?model=${encodeURIComponent(m.id)}&adapter=${encodeURIComponent(a.name)}`, textContent: a.name, title: `Chat with ${m.name} and the adapter ${a.name} (${formatBytes(a.bytes)})` })
          : Object.assign(el('span', {}, a.name), { title: formatBytes(a.bytes) }),
      );
    });
    const line = el('div', { className: 'muted small model-adapters' }, `${m.adapters.length === 1 ? '1 adapter' : `${m.adapters.length} adapters`}: `, ...names);
    line.dataset.adapters = String(m.adapters.length);
    return [line];
  }

  /** A task's progress (or outcome) in the model's activity row. */
  private showTask(modelId: string, t: Task): void {
    const a = this.activity.get(modelId);
    if (!a) return;
    a.task = isFinished(t.state) ? null : t;
    if (isFinished(t.state)) {
      const o = outcomeText(t);
      this.showNote(modelId, el('div', { className: `outcome ${o.tone}`, role: o.tone === 'bad' ? 'alert' : 'status' }, o.text));
      return;
    }
    let meter = this.meters.get(t.id);
    if (!meter) this.meters.set(t.id, (meter = new RateMeter()));
    const bar = createProgressBar(`${t.kind === 'model.export' ? 'Export' : 'Verify'} progress`);
    bar.update({ ...t.progress, message: t.state === 'queued' ? 'queued' : t.progress.message }, t.state === 'running' ? meter.sample(t.progress.done) : undefined);
    const cancel = button('Cancel', () => void this.api.call('tasks:cancel', { id: t.id }).catch((e) => this.showNote(modelId, alertBox(errorInfo(e).message))), {
      focusKey: `cancel:${modelId}`,
    });
    const label = el('span', { className: 'activity-label' }, `${t.kind === 'model.export' ? 'Exporting' : 'Verifying'} (task #${t.id})`);
    preserveFocus(a.cell, () => a.cell.replaceChildren(el('div', { className: 'activity' }, label, bar.element, cancel)));
    a.row.hidden = false;
  }

  private showNote(modelId: string, note: HTMLElement): void {
    const a = this.activity.get(modelId);
    if (!a) return;
    a.note = note;
    a.task = null;
    a.cell.replaceChildren(note);
    a.row.hidden = false;
  }

  private async verify(m: Model): Promise<void> {
    try {
      const t = await this.api.call('tasks:enqueue', { kind: 'model.verify', params: { model: m.id } });
      this.onTask(t);
      // Follow it even if its events raced the enqueue reply.
      void followTask(this.api, t.id, () => undefined).done.then((f) => this.onTask(f));
    } catch (e) {
      this.showNote(m.id, alertBox(errorInfo(e).message, { code: errorInfo(e).code }));
    }
  }

  private async exportModel(m: Model): Promise<void> {
    const sep = this.dataDir.includes('\\') && !this.dataDir.includes('/') ? '\\' : '/';
    const answer = await promptDialog({
      title: `Export ${m.name}`,
      field: {
        label: 'Output file (absolute path on the host)',
        value: `${this.dataDir}${sep}${m.name}.gguf`,
        hint: 'The GGUF file is rebuilt byte for byte from the tiles and checked against the source sha256.',
        validate: (v) => (!isAbsolutePath(v.trim()) ? 'Give an absolute path, e.g. /home/me/models/model.gguf' : null),
      },
      checkboxes: [{ label: 'Replace the file if it exists' }],
      confirmLabel: 'Export',
    });
    if (!answer) return;
    try {
      const t = await this.api.call('tasks:enqueue', { kind: 'model.export', params: { model: m.id, out: answer.value.trim(), overwrite: answer.checks[0] ?? false } });
      this.onTask(t);
      void followTask(this.api, t.id, () => undefined).done.then((f) => this.onTask(f));
    } catch (e) {
      this.showNote(m.id, alertBox(errorInfo(e).message, { title: 'Export not started', code: errorInfo(e).code }));
    }
  }

  /** Browser mode: the GGUF goes to this browser's downloads; the browser shows the progress. */
  private async download(m: Model): Promise<void> {
    try {
      const d = await downloadModel(m.id, m.name);
      this.showNote(m.id, el('div', { className: 'outcome ok', role: 'status' }, `Downloading ${d.fileName} (${formatBytes(d.bytes)}): the browser's downloads show its progress.`));
    } catch (e) {
      this.showNote(m.id, alertBox(errorInfo(e).message, { title: 'Download not started', code: errorInfo(e).code }));
    }
  }

  private async remove(m: Model): Promise<void> {
    const ok = await confirmDialog({
      title: `Delete ${m.name}?`,
      message: `This removes ${m.name} (${formatBytes(m.bytes)}) and its place on the map from the volume. The source GGUF file is not touched.`,
      confirmLabel: 'Delete',
      danger: true,
    });
    if (!ok) return;
    try {
      await this.api.call('models:delete', { id: m.id });
      this.activity.delete(m.id);
      await this.reload();
      this.notice.replaceChildren(el('div', { className: 'outcome ok', role: 'status' }, `Deleted ${m.name}.`));
      this.root.querySelector<HTMLElement>('h1')?.focus();
    } catch (e) {
      this.showNote(m.id, alertBox(errorInfo(e).message, { title: 'Not deleted', code: errorInfo(e).code }));
    }
  }
}

export const modelsView: View = {
  id: 'models',
  title: 'Models',
  async render(root, { api }) {
    await new ModelsPage(root, api).start();
  },
};
