import type { PxiApi } from '../../../shared/ipc/client';
import type { MapRegionInfo } from '../../../shared/ipc/channels/map';
import { parseNavQuestion, type ParsedNavQuestion } from '../../../shared/nav/parse';
import { el } from '../components/el';
import { fmtShape } from './format';

const DEBOUNCE_MS = 120;
/** Scope values besides a model id: the model in view (the default), or every model. */
export const SCOPE_IN_VIEW = 'in-view';
export const SCOPE_ALL = 'all';

/**
 * The search box: tensor names containing the text (map:search, debounced), as a listbox that
 * arrow keys move through; Enter or a click picks one. Text that is a navigation question
 * (shared/nav/parse.ts: "where is …?", "what is at x, y?", "what is left of …?") is not searched:
 * Enter asks it (specs/explorer.md, "Questions"). The scope select limits the search to the model
 * in view (the default: the selected tensor's model, else the one nearest the view centre), one
 * named model, or all models; every hit names its model, so Enter never flies to another model's
 * tensor unless the user chose "all models".
 */
export class SearchBox {
  readonly root: HTMLElement;
  readonly input: HTMLInputElement;
  private readonly list: HTMLUListElement;
  private results: MapRegionInfo[] = [];
  private active = -1;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private seq = 0;
  readonly scope: HTMLSelectElement;
  private modelNames = new Map<string, string>();
  private inView: () => string | null = () => null;

  constructor(
    private readonly api: PxiApi,
    private readonly onPick: (r: MapRegionInfo) => void,
    private readonly onError: (message: string) => void,
    private readonly onQuestion: (q: ParsedNavQuestion) => void = () => undefined,
  ) {
    this.input = el('input', { type: 'search', placeholder: 'Find a tensor, or ask: where is blk.0.attn_q.weight?', className: 'ex-search-input', autocomplete: 'off' });
    this.input.setAttribute('aria-label', 'Find a tensor by name, or ask where a tensor is, what is at a point, or what is left of a tensor');
    this.input.setAttribute('role', 'combobox');
    this.input.setAttribute('aria-expanded', 'false');
    this.input.setAttribute('aria-controls', 'ex-search-results');
    this.list = el('ul', { className: 'ex-search-results', id: 'ex-search-results' });
    this.list.setAttribute('role', 'listbox');
    this.list.hidden = true;
    this.scope = el('select', { className: 'ex-select ex-search-scope' }, el('option', { value: SCOPE_IN_VIEW }, 'model in view'), el('option', { value: SCOPE_ALL }, 'all models'));
    this.scope.setAttribute('aria-label', 'Search in');
    this.scope.title = 'Which model the search looks in: the model in view (the selected tensor’s, else the one nearest the centre), one model, or all';
    this.scope.addEventListener('change', () => {
      if (this.input.value.trim()) void this.run();
    });
    this.root = el('div', { className: 'ex-search' }, this.input, this.list);
    this.input.addEventListener('input', () => this.schedule());
    this.input.addEventListener('keydown', (ev) => this.key(ev));
    this.input.addEventListener('blur', () => setTimeout(() => this.close(), 150));
  }

  /** The models on the map (for the scope select and the hits' model names) and how to find the model in view. */
  setModels(models: readonly { modelId: string; name: string }[], inView: () => string | null): void {
    this.modelNames = new Map(models.map((m) => [m.modelId, m.name]));
    this.inView = inView;
    const keep = this.scope.value;
    this.scope.replaceChildren(
      el('option', { value: SCOPE_IN_VIEW }, 'model in view'),
      el('option', { value: SCOPE_ALL }, 'all models'),
      ...models.map((m) => el('option', { value: m.modelId }, m.name)),
    );
    this.scope.value = [...this.scope.options].some((o) => o.value === keep) ? keep : SCOPE_IN_VIEW;
  }

  /** The model id the search is limited to (null: all models). */
  scopeModel(): string | null {
    const v = this.scope.value;
    if (v === SCOPE_ALL) return null;
    if (v === SCOPE_IN_VIEW) return this.inView();
    return v;
  }

  private schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), DEBOUNCE_MS);
  }

  private async run(): Promise<void> {
    this.timer = null;
    const q = this.input.value.trim();
    const seq = ++this.seq;
    if (!q) return this.close();
    const question = parseNavQuestion(q);
    if (question) {
      // A question is asked on Enter, not searched.
      this.results = [];
      this.active = -1;
      const hint = el('li', { className: 'muted ex-search-ask' }, 'Press Enter to ask the answering model, and see the map index’s answer beside it.');
      hint.dataset.question = question.kind;
      this.list.replaceChildren(hint);
      this.list.hidden = false;
      this.input.setAttribute('aria-expanded', 'true');
      return;
    }
    try {
      const modelId = this.scopeModel();
      const res = await this.api.call('map:search', { query: q.slice(0, 200), limit: 20, ...(modelId === null ? {} : { modelId }) });
      if (seq !== this.seq) return;
      this.results = res.regions;
      this.active = res.regions.length ? 0 : -1;
      this.renderList(res.truncated);
    } catch (e) {
      this.onError(`Search failed: ${(e as Error).message}`);
    }
  }

  private renderList(truncated: boolean): void {
    const items = this.results.map((r, i) => {
      const li = el('li', { className: i === this.active ? 'active' : '' }, el('span', { className: 'ex-hit-name' }, r.name), el('span', { className: 'muted' }, r.tensor ? ` ${r.tensor.type} ${fmtShape(r.tensor.dims)}` : ` ${r.kind}`), el('span', { className: 'ex-hit-model' }, ` · ${this.modelNames.get(r.modelId) ?? r.modelId}`));
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', String(i === this.active));
      li.dataset.regionId = r.id;
      li.dataset.modelId = r.modelId;
      li.addEventListener('mousedown', (ev) => {
        ev.preventDefault();
        this.pick(i);
      });
      return li;
    });
    if (items.length === 0) items.push(el('li', { className: 'muted' }, this.scopeModel() === null ? 'No tensor matches.' : `No tensor of ${this.modelNames.get(this.scopeModel()!) ?? 'this model'} matches (search in: all models for the others).`));
    if (truncated) items.push(el('li', { className: 'muted' }, 'More match: type more of the name.'));
    this.list.replaceChildren(...items);
    this.list.hidden = false;
    this.input.setAttribute('aria-expanded', 'true');
  }

  private key(ev: KeyboardEvent): void {
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      if (!this.results.length) return;
      ev.preventDefault();
      this.active = (this.active + (ev.key === 'ArrowDown' ? 1 : -1) + this.results.length) % this.results.length;
      this.renderList(false);
    } else if (ev.key === 'Enter') {
      ev.preventDefault();
      const question = parseNavQuestion(this.input.value);
      if (question) {
        if (this.timer !== null) clearTimeout(this.timer);
        this.timer = null;
        this.seq++;
        this.close();
        this.onQuestion(question);
      } else if (this.timer !== null) {
        // Typed and pressed Enter at once: search now, then pick the best match.
        clearTimeout(this.timer);
        void this.run().then(() => this.pick(Math.max(0, this.active)));
      } else this.pick(Math.max(0, this.active));
    } else if (ev.key === 'Escape') {
      this.close();
    }
    ev.stopPropagation();
  }

  private pick(i: number): void {
    const r = this.results[i];
    if (!r) return;
    this.close();
    this.onPick(r);
  }

  close(): void {
    this.list.hidden = true;
    this.input.setAttribute('aria-expanded', 'false');
  }

  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.seq++;
  }
}
