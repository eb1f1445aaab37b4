/**
 * A navigation question asked in the Explorer (specs/explorer.md, "Questions"): the map index
 * answers from the open model's regions, the engine's loaded model answers the question's prompt
 * (greedy, a few tokens, up to the line end), and this panel shows both side by side, the
 * model's marked right or wrong against the index, or unverified when the index has no answer
 * to check it against. The map flies to where the model's answer points, when it points at
 * something of the open model. Never presents the model's answer as fact.
 */
import { checkNavAnswer, navIndexAnswer, type NavBox, type NavCheck, type NavModelMap, type NavTarget } from '../../../shared/nav/check';
import type { ParsedNavQuestion } from '../../../shared/nav/parse';
import type { EngineHost } from '../engine/host';
import type { GenerationSettings } from '../engine/protocol';
import { el } from '../components/el';
import type { AnswererControl } from './answerer';
import { fmtInt } from './format';

/** Tokens the model may take to answer (the longest tensor names take about this many). */
const ANSWER_TOKENS = 24;
/** Greedy, no penalties: the measurement's settings (scripts/nav/navigation.ts). */
const GREEDY: GenerationSettings = { maxTokens: ANSWER_TOKENS, temperature: 0, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, seed: 0 };

const VERDICT_TEXT = {
  right: 'right: the map index agrees',
  wrong: 'wrong: the map index says otherwise',
  unverified: 'unverified: the map cannot check this answer; it is only the model’s claim',
} as const;

/** The question as the user reads it back. */
function questionText(q: ParsedNavQuestion, subject: string): string {
  return q.kind === 'where' ? `where is ${subject}?` : q.kind === 'what' ? `what is at ${subject}?` : `what is left of ${subject}?`;
}

function describe(t: NavTarget): string {
  return t.kind === 'region' ? t.name : `the point ${t.x},${t.y}`;
}

export class AskPanel {
  readonly root: HTMLElement;
  private pending: Promise<unknown> | null = null;
  private seq = 0;

  constructor(
    private readonly host: EngineHost,
    private readonly answerer: AnswererControl,
    /** Flies the view to a map rectangle; false when it cannot (3D). */
    private readonly onFly: (r: NavBox) => boolean,
  ) {
    this.root = el('div', { className: 'ex-ask', id: 'ex-ask', hidden: true });
    this.root.setAttribute('role', 'region');
    this.root.setAttribute('aria-label', 'Question and answers');
    this.root.setAttribute('aria-live', 'polite');
  }

  get asking(): boolean {
    return this.pending !== null;
  }

  /** Asks `q` about `map`: the index answers at once, the model after it generates. */
  async ask(q: ParsedNavQuestion, map: NavModelMap, notes: readonly string[] = []): Promise<void> {
    const seq = ++this.seq;
    if (this.pending) {
      // A new question replaces the one being answered.
      this.host.stop();
      await this.pending.catch(() => undefined);
      if (seq !== this.seq) return;
    }
    const index = navIndexAnswer(map, q);
    const base = { q, map, subject: index.subject, notes };
    const problem = this.answerer.problem();
    if (problem) {
      this.render({ ...base, state: 'error', index, message: problem });
      return;
    }
    const by = this.answerer.loaded();
    const answeredBy = by ? (by.adapter ? `${by.name} + ${by.adapter}` : by.name) : '';
    this.render({ ...base, state: 'asking', index, answeredBy });
    let text = '';
    const run = this.host.generate('completion', index.prompt, GREEDY, {
      onChunk: (t) => {
        text += t;
        // The answer is the line: stop at its end.
        if (text.includes('\n')) this.host.stop();
      },
    });
    this.pending = run;
    try {
      const res = await run;
      if (seq !== this.seq) return;
      const check = checkNavAnswer(map, q, res.text);
      const flew = check.flyTo ? this.onFly(check.flyTo) : false;
      this.render({ ...base, state: 'answered', index, answeredBy, check, flew });
    } catch (e) {
      if (seq !== this.seq) return;
      this.render({ ...base, state: 'error', index, answeredBy, message: `The model could not answer: ${(e as Error).message}` });
    } finally {
      if (this.pending === run) this.pending = null;
    }
  }

  /** Shows that the question could not be asked at all (no open model, the map unreadable). */
  fail(q: ParsedNavQuestion, message: string): void {
    this.seq++;
    this.render({ q, subject: q.subject, notes: [], state: 'error', message });
  }

  close(): void {
    this.seq++;
    if (this.pending) this.host.stop();
    this.root.hidden = true;
    this.root.dataset.state = 'closed';
  }

  private render(v: {
    q: ParsedNavQuestion;
    subject: string;
    notes: readonly string[];
    state: 'asking' | 'answered' | 'error';
    map?: NavModelMap;
    index?: ReturnType<typeof navIndexAnswer>;
    answeredBy?: string;
    check?: NavCheck;
    flew?: boolean;
    message?: string;
  }): void {
    const d = this.root.dataset;
    d.state = v.state;
    d.kind = v.q.kind;
    delete d.verdict;
    delete d.modelAnswer;
    delete d.flew;
    if (v.index) d.indexAnswer = v.index.answer ?? '';
    else delete d.indexAnswer;
    d.indexKnown = String(!!v.index && v.index.answer !== null);

    const close = el('button', { type: 'button', className: 'ex-button ex-ask-close', title: 'Close', textContent: '×' });
    close.setAttribute('aria-label', 'Close the answers');
    close.addEventListener('click', () => this.close());
    const about = v.map ? `about ${v.map.name}${v.answeredBy ? ` · answered by ${v.answeredBy}` : ''}` : '';
    const head = el('div', { className: 'ex-ask-head' }, el('strong', {}, 'Q: '), el('span', { className: 'ex-ask-question' }, questionText(v.q, v.subject)), el('span', { className: 'muted ex-ask-about' }, about), close);
    const parts: HTMLElement[] = [head];

    if (v.index && v.map) {
      const map = v.map;
      const index = v.index;
      // The model's side.
      const model = el('div', { className: 'ex-ask-side ex-ask-model' }, el('div', { className: 'ex-ask-label' }, 'model'));
      if (v.state === 'asking') {
        model.append(el('div', { className: 'ex-ask-value muted' }, 'answering…'));
      } else if (v.check) {
        const c = v.check;
        d.verdict = c.verdict;
        d.modelAnswer = c.modelAnswer;
        d.flew = String(!!v.flew);
        model.dataset.verdict = c.verdict;
        model.append(
          el('div', { className: 'ex-ask-value', id: 'ex-ask-model-answer' }, c.modelAnswer === '' ? '(no answer)' : `“${c.modelAnswer}”`),
          el('div', { className: 'ex-ask-verdict', id: 'ex-ask-verdict' }, VERDICT_TEXT[c.verdict]),
        );
        if (c.flyTo) model.append(this.flyButton(c.flyTo, 'Fly there', 'Fly to where the model’s answer points'));
      } else {
        model.append(el('div', { className: 'ex-ask-value muted' }, '—'));
      }
      // The index's side.
      const idx = el(
        'div',
        { className: 'ex-ask-side ex-ask-index' },
        el('div', { className: 'ex-ask-label' }, 'map index'),
        el('div', { className: 'ex-ask-value', id: 'ex-ask-index-answer' }, index.answer ?? 'no answer'),
        el('div', { className: 'muted ex-ask-why' }, index.note),
      );
      const truth = index.answer === null ? undefined : map.regions.find((r) => r.name === (v.q.kind === 'where' ? index.subject : index.answer));
      if (truth) idx.append(this.flyButton(truth, 'Show', 'Fly to the map index’s answer'));
      parts.push(el('div', { className: 'ex-ask-answers' }, model, idx));

      const foot: string[] = [];
      if (v.check) {
        if (!v.check.target) foot.push(`The model’s answer names nothing on ${map.name}: the view stays where it is.`);
        else if (v.flew) foot.push(`Flew to where the model’s answer points: ${describe(v.check.target)}${v.check.verdict === 'right' ? '' : ' (the model’s claim, not the index’s)'}.`);
        else foot.push(`The model’s answer points at ${describe(v.check.target)}: switch to 2D to fly there.`);
      }
      if (map.box.x !== 0 || map.box.y !== 0) foot.push(`Coordinates count from ${map.name}’s top-left corner, at map ${fmtInt(map.box.x)}, ${fmtInt(map.box.y)}.`);
      foot.push(...v.notes);
      for (const f of foot) parts.push(el('div', { className: 'ex-ask-note muted' }, f));
      parts.push(el('div', { className: 'ex-ask-prompt muted', title: 'What the model was asked (greedy, up to the line end)' }, `prompt: ${index.prompt}`));
    }
    if (v.message) parts.push(el('div', { className: 'ex-ask-error', id: 'ex-ask-error', role: 'alert' }, v.message));
    this.root.replaceChildren(...parts);
    this.root.hidden = false;
  }

  private flyButton(r: NavBox, text: string, title: string): HTMLButtonElement {
    const b = el('button', { type: 'button', className: 'ex-button ex-ask-fly', title, textContent: text });
    b.setAttribute('aria-label', title);
    b.addEventListener('click', () => this.onFly(r));
    return b;
  }

  dispose(): void {
    this.seq++;
    if (this.pending) this.host.stop();
  }
}
