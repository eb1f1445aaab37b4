import type { PxiApi } from '../../../shared/ipc/client';
import { formatBytes, formatDuration, formatTime } from '../components/format';
import { errorInline } from '../components/error-box';
import { createProgressBar, RateMeter, type ProgressBar } from '../components/progress';
import { frameBatcher, isFinished, kindLabel, onTasksWhileMounted, taskTarget, type Task } from '../components/tasks';
import { alertBox, badge, button, errorInfo } from '../components/ui';
import { el } from '../components/el';
import { type View } from './types';

const STATE_TONE = { queued: 'neutral', running: 'busy', succeeded: 'ok', failed: 'bad', cancelled: 'warn' } as const;

/** One line saying what a finished task produced. */
function resultText(t: Task): string {
  const r = (t.result ?? {}) as Record<string, unknown>;
  switch (t.kind) {
    case 'model.import':
      return `Stored ${String(r.name)} (${formatBytes(Number(r.bytes))})${r.alreadyImported ? ', already imported' : ''}${r.resumed ? ', resumed' : ''}${r.pyramid ? ', map pyramid built' : ''}`;
    case 'model.verify':
      return r.ok === true ? `OK: ${Number(r.tilesChecked).toLocaleString()} tiles checked` : `${Number(r.problems)} problem(s) found`;
    case 'model.export':
      return `Wrote ${String(r.path)} (${formatBytes(Number(r.size))})`;
    case 'map.pyramid':
      return `${Number(r.built)} tensor(s) built`;
    default:
      return 'Done';
  }
}

interface RowParts {
  row: HTMLTableRowElement;
  state: HTMLTableCellElement;
  detail: HTMLTableCellElement;
  duration: HTMLTableCellElement;
  attempts: HTMLTableCellElement;
  cancel: HTMLButtonElement;
  retry: HTMLButtonElement;
  /** For an import of a browser upload: its staged copy is gone once it ended, so no Retry. */
  uploadAgain: HTMLAnchorElement;
  bar: ProgressBar | null;
  meter: RateMeter;
  shown: Task | null;
}

/**
 * The task queue: what runs and waits (with progress, cancel) and the history (state, duration,
 * error, retry). Rows are keyed by task id and updated in place, once per frame at most, so
 * progress events never steal keyboard focus or block input.
 */
class TasksPage {
  private readonly tasks = new Map<number, Task>();
  private readonly rows = new Map<number, RowParts>();
  private readonly activeBody = el('tbody');
  private readonly historyBody = el('tbody');
  private readonly activeEmpty = el('p', { className: 'empty' }, 'Nothing is queued or running.');
  private readonly historyEmpty = el('p', { className: 'empty' }, 'No finished task yet.');
  private readonly modelNames = new Map<string, string>();
  private readonly page = el('div', { className: 'page' });
  private tick: number | undefined;

  constructor(
    private readonly root: HTMLElement,
    private readonly api: PxiApi,
  ) {}

  async start(): Promise<void> {
    const table = (body: HTMLTableSectionElement, caption: string) =>
      el(
        'table',
        { className: 'grid tasks-table' },
        el('caption', { className: 'sr-only' }, caption),
        el('thead', {}, el('tr', {}, ...['Task', 'State', 'Progress / outcome', 'Queued at', 'Duration', 'Attempts', 'Actions'].map((h) => el('th', { scope: 'col' }, h)))),
        body,
      );
    this.root.append(this.page);
    this.page.append(
      el('div', { className: 'view-head' }, el('h1', { tabIndex: -1 }, 'Tasks')),
      el('section', { className: 'section', ariaLabel: 'Queue' }, el('h2', {}, 'Queue'), this.activeEmpty, table(this.activeBody, 'Queued and running tasks')),
      el('section', { className: 'section', ariaLabel: 'History' }, el('h2', {}, 'History'), this.historyEmpty, table(this.historyBody, 'Finished tasks')),
    );
    // Records are taken in arrival order (events and replies share one ordered connection, so
    // the latest to arrive is the newest); only the drawing waits for the next frame.
    const redraw = frameBatcher<void>(() => this.sync());
    onTasksWhileMounted(this.api, this.page, (t) => {
      this.tasks.set(t.id, t);
      redraw();
    });
    const [{ tasks }, { models }] = await Promise.all([this.api.call('tasks:list', {}), this.api.call('models:list', {})]);
    for (const m of models) this.modelNames.set(m.id, m.name);
    for (const t of tasks) this.tasks.set(t.id, t);
    this.sync();
    // Running durations advance every second while the page is shown.
    this.tick = window.setInterval(() => {
      if (!this.page.isConnected) {
        window.clearInterval(this.tick);
        return;
      }
      for (const [id, parts] of this.rows) {
        const t = this.tasks.get(id);
        if (t && !isFinished(t.state)) this.showDuration(parts, t);
      }
    }, 1000);
  }

  private name(ref: string): string {
    return this.modelNames.get(ref) ?? ref;
  }

  /** Puts every task in its section (newest first) and updates the rows that changed. */
  private sync(): void {
    const ids = [...this.tasks.keys()].sort((a, b) => b - a);
    for (const id of ids) {
      const t = this.tasks.get(id)!;
      let parts = this.rows.get(id);
      if (!parts) this.rows.set(id, (parts = this.makeRow(t)));
      if (parts.shown !== t) this.updateRow(parts, t);
      const body = isFinished(t.state) ? this.historyBody : this.activeBody;
      if (parts.row.parentElement !== body) {
        const hadFocus = parts.row.contains(document.activeElement);
        body.append(parts.row);
        // Moving a row drops focus: keep the keyboard on the same task.
        if (hadFocus) {
          const next = isFinished(t.state) ? (parts.retry.hidden ? parts.uploadAgain : parts.retry) : parts.cancel;
          (next.hidden ? parts.row : next).focus();
        }
      }
    }
    for (const body of [this.activeBody, this.historyBody]) {
      const rows = [...body.children] as HTMLTableRowElement[];
      const sorted = [...rows].sort((a, b) => Number(b.dataset.task) - Number(a.dataset.task));
      if (sorted.some((r, i) => r !== rows[i])) body.append(...sorted);
    }
    this.activeEmpty.hidden = this.activeBody.children.length > 0;
    this.historyEmpty.hidden = this.historyBody.children.length > 0;
    (this.activeBody.parentElement as HTMLElement).hidden = this.activeBody.children.length === 0;
    (this.historyBody.parentElement as HTMLElement).hidden = this.historyBody.children.length === 0;
  }

  private makeRow(t: Task): RowParts {
    const row = el('tr', { className: 'task-row', tabIndex: -1 });
    row.dataset.task = String(t.id);
    const parts: RowParts = {
      row,
      state: el('td', { className: 'task-state' }),
      detail: el('td', { className: 'task-detail' }),
      duration: el('td', { className: 'task-duration nowrap' }),
      attempts: el('td', { className: 'task-attempts' }),
      cancel: button('Cancel', () => void this.act('tasks:cancel', t.id), { title: `Cancel task #${t.id}` }),
      retry: button('Retry', () => void this.act('tasks:retry', t.id), { title: `Run task #${t.id} again` }),
      uploadAgain: el('a', { href: '#/import', className: 'btn upload-again', textContent: 'Upload again', title: 'The uploaded copy was deleted when this import ended: upload the file again' }),
      bar: null,
      meter: new RateMeter(),
      shown: null,
    };
    row.append(
      el('th', { scope: 'row' }, el('div', {}, `${kindLabel(t.kind)} `, el('span', { className: 'muted' }, `#${t.id}`)), el('div', { className: 'muted small task-target' }, taskTarget(t, (r) => this.name(r)))),
      parts.state,
      parts.detail,
      el('td', { className: 'nowrap' }, formatTime(t.createdAt)),
      parts.duration,
      parts.attempts,
      el('td', {}, el('div', { className: 'actions' }, parts.cancel, parts.retry, parts.uploadAgain)),
    );
    return parts;
  }

  /** Run time of the latest run (from its start to its end, or now); a task not yet run says how long it has waited. */
  private showDuration(p: RowParts, t: Task): void {
    const end = t.finishedAt ?? Date.now();
    if (t.startedAt === null) {
      p.duration.textContent = t.state === 'queued' ? `waiting ${formatDuration(end - t.createdAt)}` : '–';
      p.duration.title = t.state === 'queued' ? 'queued, not started yet' : 'never ran';
    } else {
      p.duration.textContent = formatDuration(Math.max(0, end - t.startedAt));
      p.duration.title = `ran from ${formatTime(t.startedAt)}${t.finishedAt ? ` to ${formatTime(t.finishedAt)}` : ''}; queued ${formatDuration(Math.max(0, t.startedAt - t.createdAt))} before`;
    }
  }

  private updateRow(p: RowParts, t: Task): void {
    const prev = p.shown;
    p.shown = t;
    p.row.dataset.state = t.state;
    if (prev?.state !== t.state) p.state.replaceChildren(badge(t.state, STATE_TONE[t.state]));
    p.attempts.textContent = String(t.attempts) + (t.resumes ? ` (${t.resumes} resumed)` : '');
    this.showDuration(p, t);
    p.cancel.hidden = isFinished(t.state);
    const ended = t.state === 'failed' || t.state === 'cancelled';
    const fromUpload = t.kind === 'model.import' && (t.params as { upload?: unknown } | null)?.upload === true;
    p.retry.hidden = !ended || fromUpload;
    p.uploadAgain.hidden = !ended || !fromUpload;
    if (t.state === 'running' || t.state === 'queued') {
      if (!p.bar) {
        p.bar = createProgressBar(`Progress of task #${t.id}`);
        p.meter.reset();
        p.detail.replaceChildren(p.bar.element);
      }
      // The import's pyramid phase starts a second pass over the bytes: a new rate.
      if (prev && prev.progress.message.startsWith('pyramid') !== t.progress.message.startsWith('pyramid')) p.meter.reset();
      const rate = t.state === 'running' ? p.meter.sample(t.progress.done) : undefined;
      p.bar.update({ ...t.progress, message: t.state === 'queued' ? 'waiting for the tasks before it' : t.progress.message }, rate);
      return;
    }
    p.bar = null;
    if (t.state === 'succeeded') {
      p.detail.replaceChildren(el('div', { className: 'outcome ok' }, resultText(t)));
    } else {
      const err = t.error;
      p.detail.replaceChildren(
        el(
          'div',
          { className: t.state === 'failed' ? 'outcome bad' : 'outcome warn' },
          // Plain words first, the message and code folded (components/error-box.ts).
          err ? errorInline(err) : el('div', { className: 'task-error' }, t.state),
        ),
      );
    }
  }

  private async act(channel: 'tasks:cancel' | 'tasks:retry', id: number): Promise<void> {
    try {
      const t = await this.api.call(channel, { id });
      this.tasks.set(t.id, t);
      this.sync();
    } catch (e) {
      // The task moved on meanwhile (finished before the cancel arrived): say so on its row.
      const parts = this.rows.get(id);
      const info = errorInfo(e);
      parts?.detail.prepend(alertBox(info.message, { code: info.code, details: info.details }));
    }
  }
}

export const tasksView: View = {
  id: 'tasks',
  title: 'Tasks',
  async render(root, { api }) {
    await new TasksPage(root, api).start();
  },
};
