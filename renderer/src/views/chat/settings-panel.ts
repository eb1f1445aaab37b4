/**
 * Chat's settings panel (specs/ui.md, "Chat"): the sampling fields, the seed, Greedy, the
 * context length (with the KV cache's memory beside it) and the GPU memory budget (with what
 * streams under it), each field kept in Chat's state as typed. A valid change of the context or
 * the budget is handed to the view, which keeps it and reloads the model.
 */
import { el } from '../../components/el';
import { chat } from './chat-state';
import { parseContextLength } from './context-setting';
import { gpuMemoryText, keepGpuMemory, parseGpuMemory } from './gpu-memory-setting';
import { FIELDS } from './settings';

export interface SettingsPanel {
  /** The fieldset (readSettings reads the sampling fields and the seed from it). */
  element: HTMLFieldSetElement;
  /** Where the KV cache's memory for the context length is said. */
  contextMemory: HTMLElement;
  /** Where the residency under the GPU memory budget is said. */
  budgetNote: HTMLElement;
  /** Puts chat.values, seed and context length back into the fields. */
  showValues: () => void;
}

export function settingsPanel(o: {
  showError: (message: string) => void;
  /** A valid context length was entered (null: the model's default). */
  onContextLength: (value: number | null) => void;
  /** A valid GPU memory budget was entered and kept. */
  onGpuMemory: () => void;
}): SettingsPanel {
  const settings = el('fieldset', { className: 'chat-settings' }, el('legend', {}, 'Sampling'));
  const fieldInputs = new Map<string, HTMLInputElement>();
  for (const f of FIELDS) {
    const input = el('input', { id: `chat-${f.key}`, type: 'number', step: f.step, min: String(f.min), value: chat.values[f.key]! });
    if (f.max !== undefined) input.max = String(f.max);
    input.addEventListener('input', () => (chat.values[f.key] = input.value));
    fieldInputs.set(f.key, input);
    settings.append(el('label', { htmlFor: input.id }, el('span', {}, f.label, el('small', { className: 'muted' }, ` ${f.hint}`)), input));
  }
  const seed = el('input', { id: 'chat-seed', type: 'text', inputMode: 'numeric', placeholder: 'random', value: chat.seed });
  seed.addEventListener('input', () => (chat.seed = seed.value));
  settings.append(el('label', { htmlFor: 'chat-seed' }, el('span', {}, 'Seed', el('small', { className: 'muted' }, ' empty = random')), seed));
  const greedy = el('button', { type: 'button', id: 'chat-greedy', textContent: 'Greedy (temperature 0)' });
  greedy.addEventListener('click', () => {
    const t = settings.querySelector<HTMLInputElement>('#chat-temperature')!;
    t.value = '0';
    chat.values.temperature = '0';
  });
  settings.append(greedy);
  // Context length: what the KV cache holds, and the GPU memory it costs; a change reloads the model.
  const contextInput = el('input', { id: 'chat-context', type: 'text', inputMode: 'numeric', placeholder: 'model default', value: String(chat.contextLength ?? '') });
  const contextMemory = el('p', { id: 'chat-context-memory', className: 'small muted chat-context-memory' });
  contextMemory.setAttribute('aria-live', 'polite');
  contextInput.setAttribute('aria-describedby', contextMemory.id);
  contextInput.addEventListener('change', () => {
    const r = parseContextLength(contextInput.value);
    contextInput.setAttribute('aria-invalid', String('error' in r));
    if ('error' in r) {
      o.showError(r.error);
      return;
    }
    o.onContextLength(r.value);
  });
  settings.append(
    el('label', { htmlFor: 'chat-context' }, el('span', {}, 'Context', el('small', { className: 'muted' }, ' tokens')), contextInput),
    contextMemory,
  );
  // GPU memory budget: below what the weights need, some weight matrices stream each token; a change reloads the model.
  const budgetInput = el('input', { id: 'chat-gpu-memory', type: 'text', placeholder: 'no budget', value: gpuMemoryText() });
  const budgetNote = el('p', { id: 'chat-gpu-memory-note', className: 'small muted chat-context-memory' });
  budgetNote.setAttribute('aria-live', 'polite');
  budgetInput.setAttribute('aria-describedby', budgetNote.id);
  budgetInput.addEventListener('change', () => {
    const r = parseGpuMemory(budgetInput.value);
    budgetInput.setAttribute('aria-invalid', String('error' in r));
    if ('error' in r) {
      o.showError(r.error);
      return;
    }
    keepGpuMemory(budgetInput.value);
    o.onGpuMemory();
  });
  settings.append(el('label', { htmlFor: 'chat-gpu-memory' }, el('span', {}, 'GPU memory', el('small', { className: 'muted' }, ' e.g. 512 MB')), budgetInput), budgetNote);
  return {
    element: settings,
    contextMemory,
    budgetNote,
    showValues: () => {
      for (const f of FIELDS) fieldInputs.get(f.key)!.value = chat.values[f.key]!;
      seed.value = chat.seed;
      contextInput.value = String(chat.contextLength ?? '');
    },
  };
}
