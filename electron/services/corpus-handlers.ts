import type { Handlers } from '../../shared/ipc/dispatch';
import { addBuiltinCorpus, BUILTIN_CORPUS } from '../corpus/builtin';
import { passageRects } from '../corpus/passage-rects';
import { searchCorpora } from '../corpus/retrieval';
import { CorpusStore } from '../corpus/store';
import type { ModelStore } from '../models/store';

type CorpusChannel = 'corpus:list' | 'corpus:search' | 'corpus:passage-rects';

/**
 * Corpora for Chat's "with corpus" mode: the list, and search (the passage index brought up to
 * date first; the built-in corpus added when it is searched and missing), and where passages
 * lie on the map (the Explorer lights the passages an answer used).
 */
export function corpusHandlers(store: () => Promise<ModelStore>): Pick<Handlers, CorpusChannel> {
  // One CorpusStore per open store: opening sweeps the volume, which a search need not repeat.
  const opened = new WeakMap<ModelStore, Promise<CorpusStore>>();
  const corpora = async (): Promise<CorpusStore> => {
    const s = await store();
    let c = opened.get(s);
    if (!c) {
      c = CorpusStore.open(s);
      opened.set(s, c);
      c.catch(() => opened.delete(s));
    }
    return c;
  };
  return {
    'corpus:list': async () => {
      const c = await corpora();
      const indexed = new Map(c.passages.list().map((e) => [e.corpus, e]));
      const list = c.list().map((x) => {
        const e = indexed.get(x.name);
        return { name: x.name, documents: x.documents, bytes: x.bytes, passages: e && e.sha256 === x.sha256 ? e.passages : null, builtin: x.name === BUILTIN_CORPUS };
      });
      return { corpora: list, builtin: { name: BUILTIN_CORPUS, present: c.has(BUILTIN_CORPUS) } };
    },
    'corpus:search': async ({ corpus, query, limit }) => {
      const c = await corpora();
      let addedBuiltin = false;
      if (corpus === BUILTIN_CORPUS && !c.has(BUILTIN_CORPUS)) {
        const o = await addBuiltinCorpus(c);
        addedBuiltin = o.status === 'added';
      }
      const r = await searchCorpora(c, corpus === null ? null : [corpus], query, { limit });
      return { corpora: r.corpora, terms: r.terms, droppedStopWords: r.droppedStopWords, rebuilt: r.rebuilt, addedBuiltin, hits: r.hits };
    },
    'corpus:passage-rects': async ({ corpus, passages }) => passageRects(await corpora(), corpus, passages),
  };
}
