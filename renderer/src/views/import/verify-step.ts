import { el } from '../../components/el';
import { formatBytes, formatDuration } from '../../components/format';
import type { Task } from '../../components/tasks';
import { alertBox, badge, button } from '../../components/ui';

/**
 * What the import did and how long it took as a whole: storing the weights and building the
 * map pyramid (the task's `seconds`). The import builds the pyramid as it stores (one pass);
 * a read-back build after it, when one was needed, is `pyramidSeconds` and shown apart.
 */
export function importedLine(t: Task | null, name: string): HTMLElement {
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
    `Imported ${imp.name ?? name} (${formatBytes(Number(imp.bytes ?? 0))}) in `,
    total,
    parts,
    imp.alreadyImported ? ' (it was already in the volume)' : '',
    '.',
  );
}

/**
 * How the verify task ended, in plain words first (OK, or damaged and how to repair it); the tiles
 * and checksums folded under "Advanced". `verifyAgain` runs it again after a failure.
 */
export function verifyOutcome(vt: Task, verifyAgain: () => void): HTMLElement {
  const box = el('div', { className: 'verify-result', tabIndex: -1 });
  box.setAttribute('role', 'status');
  if (vt.state !== 'succeeded') {
    box.dataset.ok = 'false';
    box.append(
      alertBox(vt.error?.message ?? `verification ${vt.state}`, { title: vt.state === 'cancelled' ? 'Verification cancelled' : 'Verification failed', code: vt.error?.code, details: vt.error?.details }),
      button('Verify again', () => verifyAgain()),
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
