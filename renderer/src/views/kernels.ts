/**
 * Kernels: what the engine learned about its own decode kernels on this GPU (the kernel tuner,
 * shared/engine/autotune.ts; specs/engine.md, "Kernel tuning"), and a way to measure again.
 * The first step of the self-improvement dashboard: the system measures variants of its own
 * kernels and keeps what is faster, and this page shows what it kept and why.
 */
import { adapterKey, kernelsKey, TUNING_CANDIDATES, type CandidateTiming, type TuningRecord } from '../../../shared/engine/autotune';
import { WEIGHT_TYPES, type WeightType } from '../../../shared/engine/quant-matmul';
import { adapterName } from '../../../shared/gpu/adapter';
import { expandShaderIncludes } from '../../../shared/gpu/shader-includes';
import { createProgressBar } from '../components/progress';
import { alertBox, button, errorInfo } from '../components/ui';
import type { TuneResult } from '../engine/host';
import { engineHost } from '../engine/instance';
import { shaders } from '../engine/shaders';
import { probeWebGpu } from '../status-bar';
import { el } from '../components/el';
import { type View } from './types';

const shape = (t: { workgroupSize: number; threadsPerRow: number }) => `${t.workgroupSize}x${t.threadsPerRow}`;

function keptTable(record: TuningRecord): HTMLElement {
  const table = el('table', { className: 'grid kernels-kept' });
  table.append(
    el('thead', {}, el('tr', {}, ...['Weight type', 'Shape kept', 'Faster than 64x1, round by round (95 % interval)', 'Best ms per product (64x1)', 'Matrix timed'].map((h) => el('th', { scope: 'col' }, h)))),
  );
  const body = el('tbody');
  for (const type of WEIGHT_TYPES) {
    const t = record.types[type];
    if (!t) continue;
    const tr = el(
      'tr',
      {},
      el('th', { scope: 'row' }, type),
      el('td', {}, shape(t.tuning)),
      el('td', {}, (t.speedup > 1 ? `${t.speedup.toFixed(2)}×` : 'no: the default stays') + (t.interval ? ` (${t.interval.lo.toFixed(2)}× to ${t.interval.hi.toFixed(2)}×${t.speedup > 1 ? '' : ` for ${shape(t.challenger ?? t.tuning)}`})` : '')),
      el('td', { className: 'num' }, `${t.ms.toFixed(2)} (${t.defaultMs.toFixed(2)})`),
      el('td', {}, `${t.rows ?? record.rows} × ${t.cols ?? record.cols}`),
    );
    tr.dataset.type = type;
    tr.dataset.shape = shape(t.tuning);
    body.append(tr);
  }
  table.append(body);
  return table;
}

function timingsTable(r: TuneResult): HTMLElement {
  const table = el('table', { className: 'grid kernels-timings' });
  table.id = 'kernels-timings';
  table.append(el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Weight type'), ...TUNING_CANDIDATES.map((c) => el('th', { scope: 'col', className: 'num' }, shape(c))))));
  const body = el('tbody');
  for (const type of WEIGHT_TYPES) {
    const timings = r.timings[type];
    if (!timings) continue;
    const kept = r.record.types[type]?.tuning;
    const cell = (t: CandidateTiming | undefined) => {
      const td = el('td', { className: 'num' }, !t ? '–' : t.agrees ? t.ms.toFixed(2) : 'wrong');
      if (t && !t.agrees) td.title = 'its product differed from the default shape’s: never kept';
      if (t && kept && shape(t.tuning) === shape(kept)) td.classList.add('kept');
      return td;
    };
    const tr = el('tr', {}, el('th', { scope: 'row' }, type), ...TUNING_CANDIDATES.map((c) => cell(timings.find((t) => shape(t.tuning) === shape(c)))));
    tr.dataset.type = type;
    body.append(tr);
  }
  table.append(body);
  return el('section', {}, el('h2', {}, 'This measurement: best ms per product of each shape'), table);
}

export const kernelsView: View = {
  id: 'kernels',
  title: 'Kernels',
  async render(root, ctx) {
    root.append(
      el('h1', {}, 'Kernels'),
      el(
        'p',
        { className: 'muted' },
        'The engine measures its own decode kernels on this GPU: every weight type in several shapes (invocations per workgroup × threads sharing a row), each checked against the default shape’s answer, and keeps a shape only when it is faster than the default by more than 10 % with 95 % confidence, round by round. Chat loads models with the shapes kept here; a model whose types were never measured is measured on its first load. Every measurement is recorded in the Dashboard, where a kept shape can be undone.',
      ),
    );
    const gpu = await probeWebGpu();
    if (!gpu.ok) {
      root.append(alertBox(gpu.message, { title: 'No WebGPU here' }));
      return;
    }
    const host = engineHost(ctx.api);
    const adapter = adapterKey(gpu.summary);
    const kernels = kernelsKey({ shaderText: (n) => expandShaderIncludes(n, shaders).code });
    const kept = el('section', { id: 'kernels-kept' });
    const status = el('p', { id: 'kernels-status', className: 'muted' });
    status.setAttribute('role', 'status');
    const results = el('div', { id: 'kernels-results' });
    const size = el('select', { id: 'kernels-size' }, ...[256, 1024, 2048].map((n) => el('option', { value: String(n), selected: n === 1024 }, `${n} × ${n}`)));
    const rounds = el('select', { id: 'kernels-rounds' }, ...[3, 5, 9].map((n) => el('option', { value: String(n), selected: n === 5 }, `${n} rounds`)));
    // One weight type is a minute on a software adapter; all of them, several.
    const typeChoice = el('select', { id: 'kernels-types' }, el('option', { value: 'all', selected: true }, 'All weight types'), ...WEIGHT_TYPES.map((t) => el('option', { value: t }, t)));
    typeChoice.setAttribute('aria-label', 'Weight types to measure');
    size.setAttribute('aria-label', 'Matrix size');
    rounds.setAttribute('aria-label', 'Rounds');

    const paintKept = () => {
      const file = host.keptTuningFile();
      const mine = file.records.find((r) => r.adapter === adapter && r.kernels === kernels);
      const others = file.records.length - (mine ? 1 : 0);
      kept.replaceChildren(
        el('h2', {}, `On ${adapterName(gpu.summary, 'this GPU')}`),
        mine ? keptTable(mine) : el('p', { className: 'empty' }, 'Nothing measured on this GPU with these kernels yet.'),
        ...(mine ? [el('p', { className: 'muted' }, `Measured ${new Date(mine.measuredAt).toLocaleString()}.`)] : []),
        ...(others > 0 ? [el('p', { className: 'muted' }, `Also kept: ${others} measurement${others === 1 ? '' : 's'} for other GPUs or kernel versions.`)] : []),
      );
      forget.disabled = !mine;
    };

    // A long run (minutes on a software adapter): a bar over the weight types, and Cancel.
    const bar = createProgressBar('Measuring kernels');
    bar.element.id = 'kernels-progress';
    bar.element.hidden = true;
    let cancelled = false;
    const cancel = button('Cancel', () => {
      cancelled = true;
      cancel.disabled = true;
      status.textContent = 'Cancelling after the shape being measured…';
      host.cancelTune();
    });
    cancel.id = 'kernels-cancel';
    cancel.hidden = true;
    const measure = button(
      'Measure all types now',
      () => {
        measure.disabled = true;
        forget.disabled = true;
        cancelled = false;
        cancel.disabled = false;
        cancel.hidden = false;
        results.replaceChildren();
        status.textContent = 'Measuring kernels…';
        const types = typeChoice.value === 'all' ? ([...WEIGHT_TYPES] as WeightType[]) : [typeChoice.value as WeightType];
        bar.element.hidden = false;
        bar.update({ done: 0, total: types.length, unit: 'weight types', message: 'Measuring kernels…' });
        host
          .tuneNow(types, Number(size.value), Number(rounds.value), (type, i, n) => {
            if (cancelled) return;
            status.textContent = `Measuring ${type} (${i + 1} of ${n})…`;
            bar.update({ done: i, total: n, unit: 'weight types', message: `Measuring kernels: ${type}` });
          })
          .then((r) => {
            const n = Object.keys(r.timings).length;
            status.textContent = `Measured ${n} weight type${n === 1 ? '' : 's'} on ${r.adapter}.`;
            const recorded = r.session
              ? el('p', { id: 'kernels-session', className: 'muted' }, 'Recorded as a session in the ', el('a', { href: '#/dashboard' }, 'Dashboard'), `: ${r.session.effect}`)
              : el('p', { id: 'kernels-session', className: 'muted' }, `The measurement is kept, but it could not be recorded in the Dashboard: ${r.sessionError ?? 'unknown error'}`);
            results.replaceChildren(timingsTable(r), recorded);
          })
          .catch((e) => {
            if (cancelled) {
              status.textContent = 'Measuring cancelled: nothing of it was kept; the measurement kept before stays as it was.';
              return;
            }
            const { message, code } = errorInfo(e);
            status.textContent = '';
            results.replaceChildren(alertBox(message, { title: 'The measurement failed', ...(code ? { code } : {}) }));
          })
          .finally(() => {
            bar.element.hidden = true;
            cancel.hidden = true;
            measure.disabled = false;
            if (root.isConnected) paintKept();
          });
      },
      { kind: 'primary', focusKey: 'measure' },
    );
    measure.id = 'kernels-measure';
    const forget = button('Forget this GPU’s measurement', () => {
      host.forgetTuning(adapter, kernels);
      results.replaceChildren();
      status.textContent = 'Forgotten: the next model load measures again.';
      paintKept();
    });
    forget.id = 'kernels-forget';
    root.append(kept, el('div', { className: 'kernels-controls' }, typeChoice, size, rounds, measure, cancel, forget), status, bar.element, results);
    paintKept();
  },
};
