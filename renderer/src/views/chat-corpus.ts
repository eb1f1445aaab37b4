/**
 * Chat "with corpus" (specs/ui.md, "Chat with a corpus"): a picker in Chat's toolbar chooses a
 * corpus of the volume (or none; the built-in `pxi-docs` is offered even before the volume holds
 * it, and the services add it on its first search). With one chosen, each message is searched
 * (`corpus:search`), the best passages go into the prompt ahead of the question with an
 * instruction to answer from them (shared/corpus/prompt.ts, bounded by the model's context),
 * and the reply lists them as cited sources: document, heading, lines, and the text on demand.
 * Each source's "Show on the map" opens the Explorer on the corpus's region with the reply's
 * passages lit, flying to that one (shared/corpus/passage-link.ts).
 *
 * Chat calls three things: `corpusControl` (the picker), `corpusPrompt` (before generating)
 * and `corpusSources` (when drawing a reply). The choice lives at module level, so it survives
 * switching views, like the conversation.
 */
import { BUILTIN_CORPUS } from '../../../shared/corpus/builtin';
import { passagesLink } from '../../../shared/corpus/passage-link';
import { buildCorpusPrompt, passageBudget, sourceLabel } from '../../../shared/corpus/prompt';
import type { PxiApi } from '../../../shared/ipc/client';
import type { Response } from '../../../shared/ipc/contract';
import { el } from '../components/el';
import { type ViewContext } from './types';
import './chat-corpus.css';

type Hit = Response<'corpus:search'>['hits'][number];

/** Passages searched per message (the prompt's budget decides how many go in). */
const SEARCH_LIMIT = 4;

interface Sources {
  corpus: string;
  terms: string[];
  used: { passage: Hit; number: number; text: string; cut: boolean }[];
}

const state = {
  /** The chosen corpus; '' for none. */
  corpus: '',
};

/** The sources of each reply, by its turn (the turn objects are Chat's). */
const sourcesOf = new WeakMap<object, Sources>();

/** The corpus picker for Chat's toolbar; fills itself from `corpus:list`. */
export function corpusControl(ctx: ViewContext): HTMLElement {
  const select = el('select', { id: 'chat-corpus' });
  select.setAttribute('aria-label', 'Corpus');
  select.title = 'With a corpus, each message is searched and the best passages go into the prompt; the reply cites them';
  const none = el('option', { value: '', textContent: 'No corpus' });
  select.append(none);
  if (state.corpus) select.append(el('option', { value: state.corpus, textContent: state.corpus, selected: true }));
  select.dataset.loaded = 'false';
  select.addEventListener('change', () => (state.corpus = select.value));
  void ctx.api
    .call('corpus:list', {})
    .then((r) => {
      const options = [none];
      for (const c of r.corpora) {
        const what = c.builtin ? "this project's README and specs" : `${c.documents} document${c.documents === 1 ? '' : 's'}`;
        options.push(el('option', { value: c.name, textContent: `${c.name} · ${what}` }));
      }
      if (!r.builtin.present) options.push(el('option', { value: BUILTIN_CORPUS, textContent: `${BUILTIN_CORPUS} · this project's README and specs (added on first use)` }));
      select.replaceChildren(...options);
      // A choice that is no longer in the volume falls back to none.
      select.value = options.some((o) => o.value === state.corpus) ? state.corpus : '';
      state.corpus = select.value;
      select.dataset.loaded = 'true';
    })
    .catch((e: Error) => {
      select.dataset.loaded = 'error';
      ctx.showError(`Could not list the corpora: ${e.message}`);
    });
  return el('label', { className: 'chat-corpus' }, 'Corpus ', select);
}

/**
 * The text to generate from for `question`: unchanged with no corpus chosen; else the question
 * with the best passages of the chosen corpus ahead of it. The passages used are kept as the
 * sources of `turn` (the reply being generated).
 */
export async function corpusPrompt(api: PxiApi, turn: object, question: string, contextLength: number, completion: boolean): Promise<string> {
  const corpus = state.corpus;
  if (!corpus) return question;
  const r = await api.call('corpus:search', { corpus, query: question, limit: SEARCH_LIMIT });
  const built = buildCorpusPrompt(question, r.hits, { budget: passageBudget(contextLength), completion });
  sourcesOf.set(turn, { corpus, terms: r.terms, used: built.used });
  return built.prompt;
}

/** The cited sources of a reply (nothing for a reply made without a corpus). */
export function corpusSources(turn: object): HTMLElement[] {
  const s = sourcesOf.get(turn);
  if (!s) return [];
  if (s.used.length === 0) {
    const why = s.terms.length === 0 ? 'the message has no words to search for' : `no passage holds ${s.terms.join(', ')}`;
    const p = el('p', { className: 'chat-sources-none' }, `No sources from ${s.corpus}: ${why}, so the message went to the model alone.`);
    p.dataset.corpus = s.corpus;
    return [p];
  }
  const list = el('ol', {});
  const lit = s.used.map((u) => ({ document: u.passage.document.index, startChar: u.passage.startChar, endChar: u.passage.endChar }));
  for (const [k, u] of s.used.entries()) {
    const h = u.passage;
    const text = el('pre', { className: 'chat-source-text' }, u.text);
    const item = el(
      'li',
      { className: 'chat-source' },
      el(
        'details',
        {},
        el('summary', {}, el('span', { className: 'chat-source-where' }, `[${u.number}] ${sourceLabel(h)}`), el('span', { className: 'chat-source-score' }, `score ${h.score.toFixed(2)}${u.cut ? ' · cut to fit' : ''}`)),
        text,
      ),
    );
    const map = el('a', { className: 'chat-source-map', href: passagesLink(s.corpus, lit, k) }, 'Show on the map');
    map.title = `Open the Explorer on ${s.corpus}'s text tiles with the passages of this reply lit, flying to this one`;
    item.append(map);
    item.dataset.document = h.document.name;
    item.dataset.lines = `${h.startLine}-${h.endLine}`;
    list.append(item);
  }
  const box = el('details', { className: 'chat-sources', open: true }, el('summary', {}, `Sources: ${s.used.length} passage${s.used.length === 1 ? '' : 's'} from ${s.corpus}, put into the prompt`), list);
  box.dataset.corpus = s.corpus;
  box.dataset.count = String(s.used.length);
  return [box];
}
