import { TokenizerError } from './errors';

/**
 * Splitting text by a sequence of regexes the way llama.cpp's unicode_regex_split does it.
 *
 * llama.cpp runs each pre-tokenizer regex on the pieces the previous one left, keeping both the
 * matches and the text between them as pieces ("isolated" splitting). Its regexes run either in
 * hand-written code (GPT-2's and Llama 3's), or in C++ std::regex over a copy of the text in
 * which every non-ASCII whitespace character was replaced by U+000B, because std::regex's \s
 * knows only ASCII whitespace. Both amount to: \s is Unicode White_Space, except that a
 * non-ASCII whitespace character no longer matches a literal class that lists it (deepseek-llm
 * lists U+3000). So the regexes here run on a copy with the same substitution and \s spelled
 * out as the six ASCII whitespace characters.
 */

/** Non-ASCII White_Space characters (all in the BMP, so the substitution keeps every index). */
const NON_ASCII_WS = /[\x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/g;
/** What std::regex's \s matches (C isspace). */
const ASCII_WS = '\\t\\n\\v\\f\\r ';

/**
 * Compiles one of llama.cpp's regex strings to a JavaScript regex (`u` flag, so \p{L}, \p{N},
 * \p{P} and code points above U+FFFF work). Only \s and \S are rewritten; everything else means
 * the same in both dialects for the patterns llama.cpp uses.
 */
export function compileSplitRegex(source: string): RegExp {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      const next = source[i + 1];
      if (next === undefined) throw new TokenizerError('TOKENIZER_UNSUPPORTED', `pre-tokenizer regex ends in a backslash: ${source}`, { value: source });
      if (next === 's') out += inClass ? ASCII_WS : `[${ASCII_WS}]`;
      else if (next === 'S') {
        if (inClass) throw new TokenizerError('TOKENIZER_UNSUPPORTED', `pre-tokenizer regex has \\S inside a class: ${source}`, { value: source });
        out += `[^${ASCII_WS}]`;
      } else out += c + next;
      i++;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  return new RegExp(out, 'gu');
}

/** The text as llama.cpp's regexes see it: non-ASCII whitespace as U+000B, same length. */
export function matchView(text: string): string {
  return text.replace(NON_ASCII_WS, '\v');
}

/**
 * Applies the regexes in order to `view` (from {@link matchView}); returns the pieces as
 * [start, end) ranges of UTF-16 indices, covering the text without gaps. Each regex runs on one
 * piece at a time as if it were the whole input, so `$` and `(?!\S)` see the piece's end.
 */
export function splitRanges(view: string, regexes: readonly RegExp[]): number[] {
  // Flat [start0, end0, start1, end1, …] to avoid an array per piece.
  let ranges = view.length > 0 ? [0, view.length] : [];
  for (const re of regexes) {
    const next: number[] = [];
    for (let r = 0; r < ranges.length; r += 2) {
      const start = ranges[r]!;
      const end = ranges[r + 1]!;
      const piece = view.slice(start, end);
      let last = 0;
      re.lastIndex = 0;
      for (let m = re.exec(piece); m !== null; m = re.exec(piece)) {
        const len = m[0].length;
        if (len === 0) {
          // An empty match splits nothing; step over one code point as std::regex_iterator does.
          const cp = piece.codePointAt(re.lastIndex);
          re.lastIndex += cp !== undefined && cp > 0xffff ? 2 : 1;
          continue;
        }
        if (m.index > last) next.push(start + last, start + m.index);
        next.push(start + m.index, start + m.index + len);
        last = m.index + len;
      }
      if (last < piece.length) next.push(start + last, end);
    }
    ranges = next;
  }
  return ranges;
}
