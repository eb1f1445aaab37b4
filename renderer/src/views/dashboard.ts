/**
 * Dashboard: the self-improvement sessions (shared/sessions/record.ts; issue 12, item 6). Every
 * time the engine tried to improve itself it recorded what it tried, how it measured and what
 * it decided; this page lists them, shows one's evidence (variants, samples, speed-up with its
 * interval, the decision and why), draws the speed kept over time per model and GPU, shows the
 * GPU memory the engine holds now, and undoes a kept decision.
 */
import { TUNING_MARGIN } from '../../../shared/engine/autotune';
import type { Session, SessionTrial } from '../../../shared/sessions/record';
import { median } from '../../../shared/stats/bootstrap';
import { minimumSpeedup } from '../../../shared/stats/speed-decision';
import { confirmDialog } from '../components/dialog';
import { memoryLedgerParts } from '../components/memory-ledger';
import { alertBox, badge, button, errorInfo } from '../components/ui';
import { engineHost } from '../engine/instance';
import type { ResidencyInfo } from '../engine/protocol';
import { stackMembers } from '../explorer/residency';
import { chartElement, drawChart, type ChartSeries } from './training-chart';
import { el } from '../components/el';
import { type View } from './types';

const KIND_WORDS: Record<Session['kind'], string> = {
  'kernel-tuning': 'Kernel tuning',
  residency: 'Memory plan',
  training: 'Training',
  layout: 'Layout',
};

const times = (x: number) => `${x.toFixed(2)}×`;
const when = (iso: string) => new Date(iso).toLocaleString();

/** The session's outcome as a badge: kept, undone, nothing changed, or a plan recorded. */
function decisionBadge(s: Session): HTMLElement {
  if (s.undone) return badge('Undone', 'neutral');
  if (s.decision === 'kept') return badge('Kept', 'ok');
  if (s.decision === 'unchanged') return badge('Nothing changed', 'neutral');
  return badge('Plan recorded', 'neutral');
}

/**
 * How fast the session left things, relative to the defaults: the geometric mean over its
 * trials of the speed-up in use (1 where the default stayed, and after an undo). Null for
 * sessions that time nothing.
 */
export function speedInUse(s: Session): number | null {
  if (s.trials.length === 0) return null;
  const logs = s.trials.map((t) => (t.kept && !s.undone && t.speedup ? Math.log(t.speedup.estimate) : 0));
  return Math.exp(logs.reduce((a, b) => a + b, 0) / logs.length);
}

function sessionsTable(sessions: readonly Session[], selected: string | null, select: (id: string) => void): HTMLElement {
  const table = el('table', { className: 'grid dashboard-sessions' });
  table.append(
    el('caption', { className: 'sr-only' }, 'Self-improvement sessions, newest first'),
    el('thead', {}, el('tr', {}, ...['Session', 'Kind', 'GPU', 'Model', 'Decision', 'Effect'].map((h) => el('th', { scope: 'col' }, h)))),
  );
  const body = el('tbody');
  for (const s of sessions) {
    const open = button(when(s.startedAt), () => select(s.id), { kind: 'plain' });
    open.setAttribute('aria-label', `Show the ${KIND_WORDS[s.kind].toLowerCase()} session of ${when(s.startedAt)}`);
    open.setAttribute('aria-pressed', String(s.id === selected));
    const tr = el('tr', { className: s.id === selected ? 'selected' : '' }, el('th', { scope: 'row' }, open), el('td', {}, KIND_WORDS[s.kind]), el('td', {}, s.driver), el('td', {}, s.model ?? '–'), el('td', {}, decisionBadge(s)), el('td', {}, s.undone ? s.undone.note : s.effect));
    tr.dataset.id = s.id;
    tr.dataset.kind = s.kind;
    tr.dataset.decision = s.undone ? 'undone' : s.decision;
    body.append(tr);
  }
  table.append(body);
  return table;
}

function variantsTable(t: SessionTrial): HTMLElement {
  const table = el('table', { className: 'grid dashboard-variants' });
  table.append(el('thead', {}, el('tr', {}, ...['Variant', 'Same answer as the reference?', 'Samples', 'Median ms', 'Fastest – slowest ms'].map((h) => el('th', { scope: 'col' }, h)))));
  const body = el('tbody');
  for (const v of t.variants) {
    const n = v.samplesMs.length;
    const name = v.name + (v.name === t.baseline ? ' (reference)' : '') + (v.name === t.inUse ? ' — in use' : '');
    const tr = el(
      'tr',
      {},
      el('th', { scope: 'row' }, name),
      el('td', {}, v.correct === null ? 'not checked' : v.correct ? 'yes' : 'no: never timed or kept'),
      el('td', { className: 'num' }, String(n)),
      el('td', { className: 'num' }, n ? median(v.samplesMs).toFixed(3) : '–'),
      el('td', { className: 'num' }, n ? `${Math.min(...v.samplesMs).toFixed(3)} – ${Math.max(...v.samplesMs).toFixed(3)}` : '–'),
    );
    tr.dataset.variant = v.name;
    body.append(tr);
  }
  table.append(body);
  return table;
}

/** What the variants of a kind are, for a reader who never saw a kernel. */
const VARIANT_WORDS: Partial<Record<Session['kind'], string>> = {
  'kernel-tuning':
    'Each variant is a shape of the decode kernel: how many GPU threads work together (the first number) and how many of them share one row of the weights (the second). All compute the same product; only the speed differs.',
};

function trialSection(t: SessionTrial, kind: Session['kind']): HTMLElement {
  const sp = t.speedup;
  const speed = sp
    ? el(
        'p',
        { className: 'dashboard-speedup' },
        `Speed of ${t.challenger} compared with ${t.baseline}: ${times(sp.estimate)} as fast; with ${Math.round(sp.confidence * 100)} % confidence between ${times(sp.lo)} and ${times(sp.hi)} `,
        el('span', { className: 'muted small' }, `(${sp.resamples} bootstrap resamples; ${sp.statistic}).`),
      )
    : el('p', { className: 'muted' }, 'No variant could be timed against the reference.');
  const words = VARIANT_WORDS[kind];
  const section = el('section', { className: 'dashboard-trial' }, el('h3', {}, t.subject), speed, el('p', { className: 'dashboard-reason' }, t.reason), ...(words ? [el('p', { className: 'muted small' }, words)] : []), variantsTable(t));
  section.dataset.subject = t.subject;
  section.dataset.kept = String(t.kept);
  return section;
}

function speedChart(sessions: readonly Session[]): HTMLElement {
  // One series per model and GPU, oldest session first; x is the session's place in time (at least 5 wide, so ticks are whole sessions).
  const byKey = new Map<string, { name: string; points: { x: number; y: number }[] }>();
  const timed = [...sessions].reverse().filter((s) => speedInUse(s) !== null);
  timed.forEach((s, i) => {
    const key = `${s.model ?? ''}\u0000${s.adapter}`;
    const name = `${s.model ?? 'kernels alone'} on ${s.driver}`;
    if (!byKey.has(key)) byKey.set(key, { name, points: [] });
    byKey.get(key)!.points.push({ x: i + 1, y: speedInUse(s)! });
  });
  const classes = ['series-train', 'series-grad', 'series-lr', 'series-valid'];
  const series: ChartSeries[] = [...byKey.values()].map((v, i) => ({ name: v.name, cls: classes[i % classes.length]!, kind: v.points.length > 1 ? 'line' : 'dots', points: v.points }));
  const svg = chartElement('dashboard-chart-svg');
  drawChart(svg, { title: 'Decode speed kept, relative to the default kernels, per session', xLabel: 'session (oldest first)', yLabel: 'speed (× default)', xMax: Math.max(5, timed.length) }, series);
  const first = timed[0];
  const last = timed[timed.length - 1];
  return el(
    'figure',
    { className: 'chart dashboard-chart' },
    svg,
    el(
      'figcaption',
      { className: 'muted' },
      timed.length
        ? `How fast the decode kernels ran after each session, relative to the default shapes (1× = the defaults), from ${when(first!.startedAt)} to ${when(last!.startedAt)}. An undone session counts as 1×.`
        : 'No measured sessions yet: run the kernel tuner in Kernels.',
    ),
  );
}

/** The loaded model's residency plan: why, then each weight matrix as resident or streamed (issue 12 item 6). */
function residencyPlan(r: ResidencyInfo): HTMLElement {
  const list = el('ul', { className: 'dashboard-residency-list' });
  const row = (name: string, where: 'resident' | 'streamed') => {
    // A stacked matrix (one GPU buffer for q, k and v) is named by the tensors it holds.
    const members = stackMembers(name);
    const li = el('li', {}, el('code', {}, members.join(' + ')), members.length > 1 ? ' (one stacked matrix)' : '', ` — ${where === 'resident' ? 'resident in GPU memory' : 'streamed from host memory each token'}`);
    li.dataset.residency = where;
    return li;
  };
  list.append(...r.streamed.map((n) => row(n, 'streamed')), ...r.resident.map((n) => row(n, 'resident')));
  const box = el(
    'section',
    { id: 'dashboard-residency' },
    el('h2', {}, 'Residency plan'),
    ...r.explanation.map((l) => el('p', { className: 'dashboard-line' }, l)),
    el('details', {}, el('summary', {}, `${r.streamed.length} streamed, ${r.resident.length} resident weight matrices`), list),
    el('p', { className: 'muted small' }, 'Set a GPU memory budget in Chat to change it; the Explorer\'s Residency overlay draws it on the map.'),
  );
  box.dataset.streamed = String(r.streamed.length);
  box.dataset.resident = String(r.resident.length);
  return box;
}

export const dashboardView: View = {
  id: 'dashboard',
  title: 'Dashboard',
  async render(root, ctx) {
    root.append(
      el('h1', {}, 'Self-improvement dashboard'),
      el(
        'p',
        { className: 'muted' },
        `Each time the engine tried to make itself faster or to fit the GPU's memory, it recorded a session: what it tried, how it checked each variant gave the right answer, how it timed them, and what it decided. A change is kept only when the measurements show, with 95 % confidence, that it is at least ${times(minimumSpeedup(TUNING_MARGIN))} as fast. Any kept change can be undone here.`,
      ),
    );
    const chartBox = el('section', { id: 'dashboard-chart' });
    const listBox = el('section', { id: 'dashboard-sessions' });
    const detail = el('section', { id: 'dashboard-detail' });
    detail.setAttribute('aria-live', 'polite');
    const memoryBox = el('section', { id: 'dashboard-memory' });
    root.append(chartBox, listBox, detail, memoryBox);

    let sessions: Session[] = [];
    let selected: string | null = null;
    let undoMessage: HTMLElement | null = null;
    const host = engineHost(ctx.api);

    const paintDetail = () => {
      const s = sessions.find((x) => x.id === selected);
      if (!s) {
        detail.replaceChildren();
        return;
      }
      const facts = el('dl', { className: 'facts' });
      const fact = (k: string, v: string) => facts.append(el('dt', {}, k), el('dd', {}, v));
      fact('What', s.description);
      fact('When', `${when(s.startedAt)} to ${when(s.finishedAt)}`);
      fact('GPU', s.driver);
      fact('Adapter key', s.adapter);
      if (s.model) fact('Model', s.model);
      if (s.codeHash) fact('Code measured (hash)', s.codeHash);
      fact('Effect', s.undone ? `${s.undone.note} (${when(s.undone.at)})` : s.effect);
      const confirmation = s.confirmation
        ? el('p', { id: 'dashboard-confirmation' }, `Confirmed end to end: ${s.confirmation.tokensPerSecond.toFixed(1)} tokens/s${s.confirmation.baselineTokensPerSecond !== null ? ` against ${s.confirmation.baselineTokensPerSecond.toFixed(1)} before` : ''}. ${s.confirmation.note}`)
        : el('p', { id: 'dashboard-confirmation', className: 'muted' }, s.trials.length ? 'Not confirmed end to end in tokens per second yet: the decision rests on the kernel timings above.' : '');
      const actions = el('div', { className: 'actions' });
      if (s.decision === 'kept' && !s.undone) {
        const undo = button('Undo this change', () => void doUndo(s), { kind: 'danger' });
        undo.id = 'dashboard-undo';
        undo.setAttribute('aria-label', `Undo this change: the ${KIND_WORDS[s.kind].toLowerCase()} session of ${when(s.startedAt)}`);
        actions.append(undo);
      }
      const heading = el('h2', { tabIndex: -1 }, `${KIND_WORDS[s.kind]} session of ${when(s.startedAt)}`);
      detail.replaceChildren(
        heading,
        el('p', {}, decisionBadge(s)),
        facts,
        ...s.details.map((d) => el('p', { className: 'dashboard-line' }, d)),
        confirmation,
        actions,
        ...(undoMessage ? [undoMessage] : []),
        ...s.trials.map((t) => trialSection(t, s.kind)),
      );
      detail.dataset.id = s.id;
      detail.dataset.decision = s.undone ? 'undone' : s.decision;
    };

    const select = (id: string) => {
      selected = id;
      undoMessage = null;
      paintList();
      paintDetail();
      (detail.querySelector('h2') as HTMLElement | null)?.focus();
    };

    const paintList = () => {
      listBox.replaceChildren(
        el('h2', {}, 'Sessions'),
        sessions.length ? sessionsTable(sessions, selected, select) : el('p', { className: 'empty' }, 'No sessions yet. Measure the kernels in Kernels, or load a model under a memory budget, and the session appears here.'),
      );
      chartBox.replaceChildren(el('h2', {}, 'Speed over time'), speedChart(sessions));
    };

    const doUndo = async (s: Session) => {
      const ok = await confirmDialog({
        title: 'Undo this change?',
        message:
          s.kind === 'kernel-tuning'
            ? `The engine forgets the kernel shapes it kept on ${s.driver} and uses the default shapes again. The next model load measures again.`
            : 'The engine goes back to what it did before this session.',
        confirmLabel: 'Undo',
        danger: true,
      });
      if (!ok) return;
      try {
        const r = await ctx.api.call('sessions:undo', { id: s.id });
        // The renderer keeps its own copy of the kernel measurement (this browser's storage).
        if (s.kind === 'kernel-tuning' && s.codeHash) host.forgetTuning(s.adapter, s.codeHash);
        const also = r.alsoUndone.length ? ` ${r.alsoUndone.length} earlier session${r.alsoUndone.length === 1 ? '' : 's'} kept the same measurement and ${r.alsoUndone.length === 1 ? 'is' : 'are'} marked undone too.` : '';
        undoMessage = el('p', { id: 'dashboard-undo-result', role: 'status' }, `Undone: the engine uses the default kernel shapes on ${s.driver} again.${also}`);
      } catch (e) {
        const { message, code } = errorInfo(e);
        undoMessage = alertBox(message, { title: 'The change could not be undone', ...(code ? { code } : {}) });
        undoMessage.id = 'dashboard-undo-result';
      }
      const keep = undoMessage;
      await load();
      undoMessage = keep;
      paintDetail();
    };

    const paintMemory = () => {
      const s = host.state;
      root.querySelector('#dashboard-residency')?.remove();
      if (s.kind === 'ready') {
        const d = el('details', { className: 'chat-memory', open: true }, ...memoryLedgerParts(s.info.memory));
        memoryBox.replaceChildren(el('h2', {}, 'GPU memory now'), el('p', { className: 'muted' }, `Model loaded: ${s.info.name}.`), d);
        memoryBox.after(residencyPlan(s.info.residency));
      } else {
        memoryBox.replaceChildren(el('h2', {}, 'GPU memory now'), el('p', { className: 'empty', id: 'dashboard-memory-empty' }, 'No model is loaded, so the engine holds no GPU memory. Load one in Chat to see its memory here.'));
      }
    };

    const load = async () => {
      try {
        sessions = (await ctx.api.call('sessions:list', {})).sessions;
        paintList();
      } catch (e) {
        const { message, code } = errorInfo(e);
        listBox.replaceChildren(el('h2', {}, 'Sessions'), alertBox(message, { title: 'The sessions could not be read', ...(code ? { code } : {}) }));
      }
    };

    await load();
    paintMemory();
    return host.subscribe(() => {
      if (root.isConnected) paintMemory();
    });
  },
};
