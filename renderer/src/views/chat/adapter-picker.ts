import { MAX_ADAPTER_SCALE, type ChatAdapter } from '../../../../shared/ipc/channels/conversations';
import { formatBytes } from '../../components/format';
import { el } from '../../components/el';

/**
 * Chat's adapter picker, beside the model picker: the LoRA adapters stored beside the chosen
 * model (`models:list` names them; `pxi finetune` and the Fine-tune flow put them there), "No
 * adapter" by default, and the scale it is applied at (default 1). Also what an adapter asked for
 * (by a kept conversation, the remembered defaults or a link) comes to when the model no longer
 * has it: none, said in plain words. The view loads what is chosen; this module only shows and reads.
 */

/** A model as the picker needs it: its name and its stored adapters. */
export interface ModelWithAdapters {
  id: string;
  name: string;
  adapters: { name: string; bytes: number }[];
}

/** "stories260K + stories-lora (1)": the model and the adapter applied over it, as the view names them. */
export function withAdapter(modelName: string, adapter: ChatAdapter | null): string {
  return adapter ? `${modelName} + ${adapter.name} (${adapter.scale})` : modelName;
}

export function sameAdapter(a: ChatAdapter | null, b: ChatAdapter | null): boolean {
  return a === b || (a !== null && b !== null && a.name === b.name && a.scale === b.scale);
}

/** A scale as typed: a finite number from -MAX to MAX, or the rule it breaks. */
export function readScale(text: string): { scale: number } | { problem: string } {
  const x = Number(text);
  if (text.trim() === '' || !Number.isFinite(x) || Math.abs(x) > MAX_ADAPTER_SCALE) {
    return { problem: `The adapter's scale must be a number from -${MAX_ADAPTER_SCALE} to ${MAX_ADAPTER_SCALE} (1 applies it as trained, 0 leaves the model as it is), got ${JSON.stringify(text)}` };
  }
  return { scale: x };
}

/**
 * What to load for `wanted` over `model`: the adapter when the model has it stored, else none
 * and the words that say so. `kept`: the adapter was used before (a conversation's, the
 * remembered one), so it has been deleted since; otherwise it was asked for by a link.
 */
export function adapterToLoad(model: ModelWithAdapters | undefined, wanted: ChatAdapter | null, kept: boolean): { adapter: ChatAdapter | null; missing: string | null } {
  if (!wanted) return { adapter: null, missing: null };
  if (model?.adapters.some((a) => a.name === wanted.name)) return { adapter: wanted, missing: null };
  const name = model?.name ?? 'the model';
  return {
    adapter: null,
    missing: kept
      ? `The adapter “${wanted.name}” is no longer stored beside ${name} (it was deleted), so ${name} is loaded without it.`
      : `${name} has no stored adapter named “${wanted.name}”, so it is loaded without an adapter.`,
  };
}

export class AdapterPicker {
  readonly element: HTMLElement;
  private readonly select = el('select', { id: 'chat-adapter' });
  private readonly scale: HTMLInputElement;
  private shownFor = '\0';

  /**
   * `onChoose`: the user chose an adapter (or none) or committed another scale; `onProblem`: a
   * scale that breaks the rule (the field keeps focus). `scaleText` is the field's text to start with.
   */
  constructor(opts: { scaleText: string; onScaleText: (text: string) => void; onChoose: (adapter: ChatAdapter | null) => void; onProblem: (message: string) => void }) {
    this.select.setAttribute('aria-label', 'Adapter');
    this.select.title = 'A LoRA adapter stored beside the model (pxi finetune, or the Fine-tune flow in Training), applied over it when it loads';
    this.scale = el('input', { id: 'chat-adapter-scale', type: 'number', step: '0.1', value: opts.scaleText, className: 'chat-adapter-scale' });
    this.scale.setAttribute('aria-label', 'Adapter scale');
    this.scale.title = "The adapter's scale: 1 as trained, 0 leaves the model as it is";
    this.scale.addEventListener('input', () => opts.onScaleText(this.scale.value));
    const choose = () => {
      const name = this.select.value;
      if (name === '') return opts.onChoose(null);
      const read = readScale(this.scale.value);
      if ('problem' in read) {
        opts.onProblem(read.problem);
        this.scale.focus();
        return;
      }
      opts.onChoose({ name, scale: read.scale });
    };
    this.select.addEventListener('change', choose);
    // A scale is committed (Enter, or leaving the field), not applied per keystroke: each applies by loading.
    this.scale.addEventListener('change', () => {
      if (this.select.value !== '') choose();
    });
    this.element = el('span', { className: 'chat-adapter' }, this.select, el('label', { className: 'chat-adapter-scale-label', htmlFor: 'chat-adapter-scale' }, 'scale'), this.scale);
  }

  /** Shows `model`'s adapters with `chosen` selected (and its scale, unless the field is being edited). */
  show(model: ModelWithAdapters | undefined, chosen: ChatAdapter | null, disabled: boolean): void {
    const key = model ? `${model.id}\n${model.adapters.map((a) => a.name).join('\n')}` : '';
    if (key !== this.shownFor) {
      this.shownFor = key;
      const none = el('option', { value: '', textContent: model?.adapters.length ? 'No adapter' : 'No adapter (none stored)' });
      this.select.replaceChildren(none, ...(model?.adapters ?? []).map((a) => el('option', { value: a.name, textContent: `${a.name} · ${formatBytes(a.bytes)}` })));
    }
    const value = chosen && model?.adapters.some((a) => a.name === chosen.name) ? chosen.name : '';
    if (this.select.value !== value) this.select.value = value;
    if (chosen && document.activeElement !== this.scale && Number(this.scale.value) !== chosen.scale) this.scale.value = String(chosen.scale);
    this.select.disabled = disabled || !model;
    // The scale can be set before an adapter is chosen; it applies with the choice.
    this.scale.disabled = disabled || !model;
    this.element.dataset.adapter = value;
  }
}
