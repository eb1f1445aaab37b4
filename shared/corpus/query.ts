/**
 * A person's search text turned into an FTS5 query that cannot be a syntax error
 * (specs/training.md, "Retrieval: passages and search"). The text is never FTS5 syntax: quotes,
 * parentheses, `NEAR`, `AND`/`OR`/`NOT`, `*`, `^`, `-`, `+`, column filters (`body:`) and any
 * other punctuation are only separators. What is left is words: runs of Unicode letters, digits
 * and marks (what FTS5's unicode61 tokenizer keeps as token characters). Each word is quoted
 * (so `NEAR` is the word "near"), and the words are OR-ed: a passage matching any of them is
 * found, and bm25 ranks the ones matching more (and rarer) words first.
 *
 * Common English words ("the", "what", "is", ...) are dropped when the text has other words;
 * a text of only such words keeps them (so "to be or not to be" still searches). At most
 * MAX_QUERY_TERMS distinct words, each at most MAX_TERM_CHARS characters, are kept.
 */

export const MAX_QUERY_TERMS = 32;
export const MAX_TERM_CHARS = 64;

/** Words a question is made of that say nothing about its subject. */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'a about above after again against all also am an and any are as at be because been before being below between both but by can could did do does doing down during each ' +
    'few for from further had has have having he her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on ' +
    'once only or other our ours ourselves out over own same she should so some such than that the their theirs them themselves then there these they this those through to too ' +
    'under until up very was we were what when where which while who whom why will with would you your yours yourself yourselves tell please explain describe show give ' +
    // What contractions leave behind once the apostrophe separates words (it's, don't, we'll, ...).
    's t d ll re ve m'
  ).split(' '),
);

export interface SearchQuery {
  /** The words searched for (lower case, in the order of the text, no repeats). */
  terms: string[];
  /** The FTS5 MATCH expression (`"w1" OR "w2" ...`); null when the text holds no word at all. */
  match: string | null;
  /** Whether stop words were dropped. */
  droppedStopWords: boolean;
}

const WORD = /[\p{L}\p{N}\p{M}\p{Co}]+/gu;

/** The words of `text`, lower case (NFKC), without repeats, in order. */
export function queryWords(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const m of text.normalize('NFKC').toLowerCase().matchAll(WORD)) {
    // A run of marks with no letter before it is no word.
    const w = m[0].replace(/^\p{M}+/u, '');
    if (w === '' || seen.has(w)) continue;
    seen.add(w);
    out.push(w);
  }
  return out;
}

/** The safe FTS5 query for a person's text (never throws; see the module comment). */
export function buildSearchQuery(text: string): SearchQuery {
  const words = queryWords(typeof text === 'string' ? text : '');
  const content = words.filter((w) => !STOP_WORDS.has(w));
  const chosen = (content.length > 0 ? content : words).map((w) => [...w].slice(0, MAX_TERM_CHARS).join('')).slice(0, MAX_QUERY_TERMS);
  const terms = [...new Set(chosen)];
  // Only letters, digits and marks are left, so a term holds no `"`; quoting still doubles any, as FTS5 escapes.
  const match = terms.length ? terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(' OR ') : null;
  return { terms, match, droppedStopWords: content.length > 0 && content.length < words.length };
}
