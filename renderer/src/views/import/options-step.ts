import type { ImportPlan } from '../../../../shared/ipc/channels/files';
import { el } from '../../components/el';
import { formatBytes } from '../../components/format';
import { button } from '../../components/ui';
import { fact, stepHeading } from './parts';
import { predictVolume } from './predict';

/** What the person chooses in the Options step (kept by the wizard across renders). */
export interface ImportOptions {
  /** The model's name in the volume. */
  name: string;
  /** Build the map pyramid. */
  pyramid: boolean;
  /** Verify every tile after the import. */
  verifyAfter: boolean;
}

/** Printable, no leading/trailing spaces, 1..256 characters: what the store accepts as a name. */
export function nameProblem(name: string): string | null {
  if (name.length === 0) return 'Give the model a name.';
  if (name.length > 256) return 'A name has at most 256 characters.';
  if (name.trim() !== name) return 'A name cannot start or end with a space.';
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'A name cannot hold control characters.';
  return null;
}

/**
 * Step 3, Options: the model's name, the pyramid and verify choices (written into `o` as they
 * change), the space the import will take (predicted from the plan), and under "Advanced" how the
 * volume stores it. `s` is what the wizard shows around the form: the name's problem, whether the
 * import is starting, its failure.
 */
export function optionsStep(
  plan: ImportPlan,
  fileSize: number,
  o: ImportOptions,
  s: { nameError: string | null; busy: boolean; failure: HTMLElement | string },
  on: { back(): void; submit(): void },
): HTMLElement {
  const v = plan.volume;
  const p = predictVolume(plan, fileSize);
  const name = el('input', { type: 'text', id: 'import-name', className: 'text-input', value: o.name, spellcheck: false, required: true });
  name.setAttribute('autocomplete', 'off');
  name.addEventListener('input', () => (o.name = name.value));
  const nameError = el('div', { className: 'field-error', id: 'import-name-error', role: 'alert' }, s.nameError ?? '');
  name.setAttribute('aria-describedby', nameError.id);
  if (s.nameError) name.setAttribute('aria-invalid', 'true');
  const pyramid = el('input', { type: 'checkbox', checked: o.pyramid });
  pyramid.addEventListener('change', () => (o.pyramid = pyramid.checked));
  const verify = el('input', { type: 'checkbox', checked: o.verifyAfter });
  verify.addEventListener('change', () => (o.verifyAfter = verify.checked));

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
    s.failure,
    el(
      'div',
      { className: 'wizard-actions' },
      button('Back', () => on.back()),
      el('button', { type: 'submit', className: 'btn primary', id: 'start-import', textContent: s.busy ? 'Starting…' : 'Import', disabled: s.busy }),
    ),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    on.submit();
  });
  return el('section', { className: 'step' }, stepHeading('Options'), form);
}
