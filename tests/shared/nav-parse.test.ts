/**
 * Typed navigation questions (shared/nav/parse.ts): the natural forms of the three kinds, case and
 * spacing forgiving, the model named before or after, and any other text (hostile text
 * included) not a question, without throwing and in linear time.
 */
import { describe, expect, it } from 'vitest';
import { MAX_QUESTION_CHARS, parseNavQuestion } from '../../shared/nav/parse';
import { Xoshiro128 } from '../../shared/model-gen/prng';
import { NASTY_QUERIES } from '../support/nasty-queries';

describe('parseNavQuestion', () => {
  it('reads where questions', () => {
    const want = { kind: 'where', subject: 'blk.3.ffn_down.weight' };
    for (const t of [
      'where is blk.3.ffn_down.weight?',
      'where is blk.3.ffn_down.weight',
      'Where is blk.3.ffn_down.weight ?',
      'WHERE IS blk.3.ffn_down.weight??',
      "where's blk.3.ffn_down.weight",
      'where’s blk.3.ffn_down.weight',
      'wheres blk.3.ffn_down.weight',
      '  where \t is\n  blk.3.ffn_down.weight  ?  ',
      'where is the tensor blk.3.ffn_down.weight?',
      'where is the blk.3.ffn_down.weight',
    ]) {
      expect(parseNavQuestion(t), t).toEqual(want);
    }
    // The name keeps its case (the map resolves it).
    expect(parseNavQuestion('where is BLK.3.FFN_DOWN.WEIGHT')).toEqual({ kind: 'where', subject: 'BLK.3.FFN_DOWN.WEIGHT' });
    expect(parseNavQuestion('where is output')).toEqual({ kind: 'where', subject: 'output' });
  });

  it('reads what-at questions as a canonical point', () => {
    for (const t of ['what is at 9500, 2400', 'what is at 9500,2400?', "What's at 9500 2400", 'what is at (9500, 2400)', 'what is at [9500 ,2400]?', 'whats at   9500 ,  2400', 'which tensor is at 9500,2400', 'what is at point 9500, 2400', 'what is on 9500,2400']) {
      expect(parseNavQuestion(t), t).toEqual({ kind: 'what', subject: '9500,2400' });
    }
    expect(parseNavQuestion('what is at 0,0')).toEqual({ kind: 'what', subject: '0,0' });
    expect(parseNavQuestion('what is at -5, 7')).toEqual({ kind: 'what', subject: '-5,7' });
    expect(parseNavQuestion('what is at 007, 08')).toEqual({ kind: 'what', subject: '7,8' });
  });

  it('reads left-of questions', () => {
    const want = { kind: 'left', subject: 'blk.2.attn_q.weight' };
    for (const t of [
      'what is left of blk.2.attn_q.weight',
      'What is left of blk.2.attn_q.weight?',
      "what's left of blk.2.attn_q.weight",
      'what is to the left of blk.2.attn_q.weight?',
      'what is on the left of blk.2.attn_q.weight',
      'which layer is left of blk.2.attn_q.weight?',
      'which tensor is to the left of the tensor blk.2.attn_q.weight',
      'Which one is left of blk.2.attn_q.weight',
    ]) {
      expect(parseNavQuestion(t), t).toEqual(want);
    }
  });

  it('reads the model a question names, before or after, and a pasted training prompt', () => {
    expect(parseNavQuestion('in llama-b4, where is blk.3.ffn_down.weight?')).toEqual({ kind: 'where', subject: 'blk.3.ffn_down.weight', model: 'llama-b4' });
    expect(parseNavQuestion('Q: in llama-b4, where is blk.3.ffn_down.weight? A:')).toEqual({ kind: 'where', subject: 'blk.3.ffn_down.weight', model: 'llama-b4' });
    expect(parseNavQuestion('Q: in llama-b4, what is at 9500,2400? A:')).toEqual({ kind: 'what', subject: '9500,2400', model: 'llama-b4' });
    expect(parseNavQuestion('in my model , what is left of output_norm.weight')).toEqual({ kind: 'left', subject: 'output_norm.weight', model: 'my model' });
    expect(parseNavQuestion('where is blk.0.attn_q.weight in stories260K?')).toEqual({ kind: 'where', subject: 'blk.0.attn_q.weight', model: 'stories260K' });
    expect(parseNavQuestion('what is at 3, 4 in stories260K')).toEqual({ kind: 'what', subject: '3,4', model: 'stories260K' });
    expect(parseNavQuestion('Q: where is x.weight? A:')).toEqual({ kind: 'where', subject: 'x.weight' });
  });

  it('leaves everything else to the name search', () => {
    for (const t of [
      '',
      ' ',
      '?',
      'blk.0.attn_q',
      'where',
      'where is',
      'where is ?',
      'where is the cat sitting',
      'what is at',
      'what is at 1',
      'what is at 1, 2, 3',
      'what is at x, y',
      'what is at 1.5, 2',
      'what is at 99999999999999999, 1', // past 2^53
      'what is left of',
      'what is left of a b',
      'what is right of blk.0.attn_q.weight',
      'who is blk.0',
      'tell me where is blk.0.attn_q.weight',
      'where is blk.0.attn_q.weight, please',
      'in , where is x',
      'in llama-b4 where is x', // no comma: the model is not named that way
      'where is x in a b',
      'Q: A:',
    ]) {
      expect(parseNavQuestion(t), JSON.stringify(t)).toBeNull();
    }
  });

  it('takes any text without throwing: nasty search text, control characters, non-strings, long text', () => {
    for (const [t] of NASTY_QUERIES) expect(() => parseNavQuestion(t)).not.toThrow();
    for (const v of [undefined, null, 42, {}, [], Symbol('q')]) expect(parseNavQuestion(v)).toBeNull();
    expect(parseNavQuestion('where is\u0000blk.0')).toEqual({ kind: 'where', subject: 'blk.0' });
    expect(parseNavQuestion('where is blk.0\u200b')).toEqual({ kind: 'where', subject: 'blk.0\u200b' }); // no match on the map: the index says so
    const long = `where is ${'a'.repeat(MAX_QUESTION_CHARS)}`;
    expect(parseNavQuestion(long)).toBeNull();
    // Tensor names up to 200 characters.
    expect(parseNavQuestion(`where is ${'a'.repeat(200)}`)?.subject).toHaveLength(200);
    expect(parseNavQuestion(`where is ${'a'.repeat(201)}`)).toBeNull();
  });

  it('parses random text quickly and returns only well-formed questions', () => {
    const rng = new Xoshiro128(11);
    const alphabet = ['where', 'what', 'is', 'at', 'left', 'of', 'in', "'s", ' ', ' ', ',', '?', '(', ')', '1', '23', '-', 'blk.0', 'Q:', 'A:', '\t', 'é', '🙂', '\u0000', 'the', 'to'];
    const t0 = performance.now();
    for (let i = 0; i < 3000; i++) {
      let s = '';
      const n = rng.nextInt(0, 40);
      for (let k = 0; k < n; k++) s += alphabet[rng.nextInt(0, alphabet.length - 1)];
      const q = parseNavQuestion(s);
      if (!q) continue;
      expect(['where', 'what', 'left']).toContain(q.kind);
      expect(q.subject.length).toBeGreaterThan(0);
      if (q.kind === 'what') expect(q.subject).toMatch(/^-?\d+,-?\d+$/);
      else expect(q.subject).not.toMatch(/[\s,?]/);
    }
    // Worst cases for a backtracking regex, at the length cap.
    for (const s of ['in ' + 'a'.repeat(290), 'what is at ' + '1 '.repeat(140), 'where is ' + '?'.repeat(290), 'q: in ' + ' ,'.repeat(145), `what is left of ${'x'.repeat(280)} in`]) {
      parseNavQuestion(s);
    }
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
