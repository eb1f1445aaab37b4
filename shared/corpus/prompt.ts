/**
 * The prompt of Chat's "with corpus" mode (specs/ui.md, "Chat with a corpus"): the best
 * passages of a search, numbered, ahead of the person's question, with an instruction to answer
 * from them and cite them by number. The passages' text is bounded (`passageBudget`), so a
 * small model's context is not filled by them: whole passages are taken in rank order while
 * they fit, one that does not fit is skipped, and the best one alone is cut at a word to fit.
 */

export interface PromptPassage {
  corpus: string;
  document: { name: string };
  heading: string[];
  startLine: number;
  endLine: number;
  text: string;
}

export interface CorpusPrompt<P extends PromptPassage> {
  /** What the model is given: the instruction, the passages, the question. */
  prompt: string;
  /** The passages put in, in their numbered order, with the text as the model saw it. */
  used: { passage: P; number: number; text: string; cut: boolean }[];
}

/** Fewest and most characters of passage text a prompt carries. */
export const MIN_PASSAGE_BUDGET = 400;
export const MAX_PASSAGE_BUDGET = 4000;

/**
 * Characters of passage text for a model with `contextLength` tokens: one character per token
 * of context, within [MIN_PASSAGE_BUDGET, MAX_PASSAGE_BUDGET]. At two or more characters per
 * token (English text with any vocabulary of a few hundred pieces or more) the passages then
 * take at most half the context, leaving the rest for the question and the reply.
 */
export function passageBudget(contextLength: number): number {
  if (!Number.isFinite(contextLength) || contextLength <= 0) return MIN_PASSAGE_BUDGET;
  return Math.max(MIN_PASSAGE_BUDGET, Math.min(MAX_PASSAGE_BUDGET, Math.floor(contextLength)));
}

/** "README.md › Setup › Linux (lines 3-9)" */
export function sourceLabel(p: PromptPassage): string {
  const where = [p.document.name, ...p.heading].join(' › ');
  return `${where} (${p.startLine === p.endLine ? `line ${p.startLine}` : `lines ${p.startLine}-${p.endLine}`})`;
}

/** `text` cut at a word so that it and the ellipsis fit in `max` characters. */
function cutAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(1, max - 1);
  const space = text.lastIndexOf(' ', end);
  if (space > end / 2) end = space;
  const hi = text.charCodeAt(end - 1);
  if (hi >= 0xd800 && hi <= 0xdbff) end--;
  return `${text.slice(0, end).trimEnd()}…`;
}

/**
 * The prompt for `question` with `passages` (best first). With no passages the question goes
 * alone, unchanged. `completion` (a model without a chat template continues the text) ends the
 * prompt with "Answer:" for the model to continue.
 */
export function buildCorpusPrompt<P extends PromptPassage>(question: string, passages: readonly P[], opts: { budget: number; completion?: boolean }): CorpusPrompt<P> {
  const used: CorpusPrompt<P>['used'] = [];
  let left = Math.max(1, Math.floor(opts.budget));
  for (const p of passages) {
    if (p.text.length <= left) {
      used.push({ passage: p, number: used.length + 1, text: p.text, cut: false });
      left -= p.text.length;
    } else if (used.length === 0) {
      // The best passage always goes in, cut to the budget.
      const text = cutAtWord(p.text, left);
      used.push({ passage: p, number: 1, text, cut: true });
      left -= text.length;
    }
    if (left <= 0) break;
  }
  if (used.length === 0) return { prompt: question, used };
  const corpora = [...new Set(used.map((u) => u.passage.corpus))];
  const lines = [
    `Answer the question using the numbered passages below, from the corpus ${corpora.map((c) => `"${c}"`).join(' and ')}. Cite the passages you use by number, like [1]. If they do not hold the answer, say so.`,
    '',
  ];
  for (const u of used) lines.push(`[${u.number}] ${sourceLabel(u.passage)}`, u.text, '');
  lines.push(`Question: ${question}`);
  if (opts.completion) lines.push('Answer:');
  return { prompt: lines.join('\n'), used };
}
