/**
 * The model that answers the Explorer's questions (specs/explorer.md, "Questions"): a small
 * control beside the search box listing the stored models the engine runs, each alone and with
 * each of its stored LoRA adapters. It shows what the renderer's one engine has loaded (the
 * default answerer, whoever loaded it: Chat or this control), says plainly when nothing is
 * loaded, and loads the chosen model (with its adapter) on Load. Loading here replaces the model
 * Chat uses: there is one engine.
 */
import type { PxiApi } from '../../../shared/ipc/client';
import type { EngineHost, EngineState } from '../engine/host';
import { el } from '../components/el';

/** One choice: a model, alone or with one of its adapters. */
interface Choice {
  modelId: string;
  name: string;
  adapter: string | null;
}

const label = (c: { name: string; adapter: string | null }) => (c.adapter ? `${c.name} + ${c.adapter}` : c.name);

export class AnswererControl {
  readonly root: HTMLElement;
  private readonly select: HTMLSelectElement;
  private readonly loadButton: HTMLButtonElement;
  private readonly status: HTMLElement;
  private choices: Choice[] = [];
  /** The choice the user made in the list (kept while the engine state changes). */
  private picked: number | null = null;
  private unsubscribe: (() => void) | null = null;
  private listError = '';
  /** What the list was last built from (rebuilt only when it changes, so an open list stays open). */
  private built = '';
  private lastLoaded = '';

  constructor(
    private readonly api: PxiApi,
    private readonly host: EngineHost,
    /** The model in view, preferred when nothing is loaded (a model id). */
    private readonly preferred: () => string | null,
  ) {
    this.select = el('select', { className: 'ex-select ex-answerer-select', id: 'ex-answerer-model', title: 'The model that answers questions typed in the search box' });
    this.select.setAttribute('aria-label', 'Model that answers questions');
    this.select.addEventListener('change', () => {
      this.picked = this.select.value === '' ? null : Number(this.select.value);
      this.paint();
    });
    this.loadButton = el('button', { type: 'button', className: 'ex-button', id: 'ex-answerer-load', textContent: 'Load' });
    this.loadButton.addEventListener('click', () => void this.load());
    this.status = el('span', { className: 'ex-answerer-status muted', id: 'ex-answerer-status' });
    this.status.setAttribute('role', 'status');
    this.root = el('div', { className: 'ex-answerer' }, el('span', { className: 'muted' }, 'Answers by'), this.select, this.loadButton, this.status);
  }

  /** Lists the stored models and follows the engine. */
  async start(): Promise<void> {
    try {
      const { models } = await this.api.call('models:list', {});
      this.choices = models
        .filter((m) => m.runs)
        .flatMap((m) => [{ modelId: m.id, name: m.name, adapter: null }, ...m.adapters.map((a) => ({ modelId: m.id, name: m.name, adapter: a.name }))]);
    } catch (e) {
      this.listError = `The stored models could not be listed: ${(e as Error).message}`;
    }
    this.unsubscribe = this.host.subscribe(() => this.paint());
  }

  /** What the engine has loaded, as a choice (null when nothing is ready). */
  loaded(): Choice | null {
    const s = this.host.state;
    return s.kind === 'ready' ? { modelId: s.info.modelId, name: s.info.name, adapter: s.info.lora?.name ?? null } : null;
  }

  /** In plain words: why no model can answer now, or null when one can. */
  problem(): string | null {
    const s = this.host.state;
    if (s.kind === 'ready') return this.host.busy ? 'The engine is busy with another reply (Chat): wait for it to end, then ask again.' : null;
    if (s.kind === 'loading') return `${s.name} is still loading: ask again once it is ready.`;
    const how = this.choices.length ? 'Choose a model beside the search box (“Answers by”) and press Load.' : 'No stored model can run here: import one first.';
    if (s.kind === 'failed') return `No model is loaded to answer: the last load failed (${s.error.message}). ${how}`;
    if (s.kind === 'lost') return `No model is loaded to answer: the GPU device was lost (${s.error.message}). ${how}`;
    return `No model is loaded to answer. ${how}`;
  }

  private same(a: Choice | null, b: Choice | null): boolean {
    return !!a && !!b && a.modelId === b.modelId && a.adapter === b.adapter;
  }

  /** The index of the list's default: the loaded model, else the model in view, else the first. */
  private defaultChoice(): number | null {
    const loaded = this.loaded();
    const at = this.choices.findIndex((c) => this.same(c, loaded));
    if (at >= 0) return at;
    const preferred = this.preferred();
    const inView = this.choices.findIndex((c) => c.modelId === preferred && c.adapter === null);
    if (inView >= 0) return inView;
    return this.choices.length ? 0 : null;
  }

  private paint(): void {
    const s: EngineState = this.host.state;
    const loaded = this.loaded();
    // A model loaded elsewhere that the list lacks (stored after the list was read) still shows.
    if (loaded && !this.choices.some((c) => this.same(c, loaded))) this.choices.push(loaded);
    // Another model loaded (here or in Chat): the list follows it again.
    const loadedKey = loaded ? `${loaded.modelId}\u0000${loaded.adapter ?? ''}` : '';
    if (loadedKey !== this.lastLoaded) {
      this.lastLoaded = loadedKey;
      if (loaded) this.picked = null;
    }
    const chosen = this.picked ?? this.defaultChoice();
    const key = JSON.stringify([this.choices.map(label), chosen]);
    if (key !== this.built) {
      this.built = key;
      this.select.replaceChildren(
        ...(this.choices.length ? this.choices.map((c, i) => el('option', { value: String(i), selected: i === chosen }, label(c))) : [el('option', { value: '' }, 'no model to run')]),
      );
    }
    this.select.disabled = this.choices.length === 0;
    const want = chosen === null ? null : (this.choices[chosen] ?? null);
    this.loadButton.hidden = !want || this.same(want, loaded) || s.kind === 'loading';
    this.loadButton.textContent = loaded ? 'Load instead' : 'Load';
    let text: string;
    let state: string;
    if (s.kind === 'ready') {
      state = 'ready';
      text = `loaded: ${label(loaded!)}`;
    } else if (s.kind === 'loading') {
      state = 'loading';
      text = `loading ${s.name}${s.bytesTotal ? ` ${Math.floor((100 * s.bytesDone) / s.bytesTotal)} %` : s.tuning ? ' (measuring kernels)' : ''}…`;
    } else if (s.kind === 'failed' || s.kind === 'lost') {
      state = 'none';
      text = `no model loaded (${s.kind === 'lost' ? 'the GPU device was lost' : `loading failed: ${s.error.message}`})`;
    } else {
      state = 'none';
      text = 'no model loaded: choose one and Load';
    }
    if (this.listError) text += ` · ${this.listError}`;
    this.status.textContent = text;
    this.status.title = text;
    this.root.dataset.state = state;
    this.status.dataset.state = state;
  }

  private async load(): Promise<void> {
    const i = this.picked ?? this.defaultChoice();
    const c = i === null ? undefined : this.choices[i];
    if (!c) return;
    try {
      await this.host.load(c.modelId, c.adapter ? { lora: { name: c.adapter } } : {});
    } catch {
      // The engine's state says what failed; the status line shows it.
    }
  }

  dispose(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }
}
