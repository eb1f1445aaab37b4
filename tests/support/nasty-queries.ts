/**
 * Search text a person might type, with the words shared/corpus/query.ts must make of it: FTS5
 * syntax of every kind, punctuation, non-ASCII, nothing at all. Used by the pure query test and
 * by the search test that runs each through SQLite's FTS5.
 */
import { MAX_TERM_CHARS } from '../../shared/corpus/query';

/** [text, the words it must search for] */
export const NASTY_QUERIES: [string, string[]][] = [
  ['', []],
  ['   \t\n', []],
  ['"', []],
  ['""', []],
  ['"unbalanced', ['unbalanced']],
  ["it's a 'quote'", ['quote']],
  ['(tiles', ['tiles']],
  ['tiles)', ['tiles']],
  ['((a OR b) AND c)', ['b', 'c']],
  ['NEAR(tiles map, 5)', ['near', 'tiles', 'map', '5']],
  ['NEAR', ['near']],
  ['AND', ['and']],
  ['OR OR OR', ['or']],
  ['NOT tiles', ['tiles']],
  ['tile*', ['tile']],
  ['*', []],
  ['^tiles', ['tiles']],
  ['-tiles', ['tiles']],
  ['tiles - map', ['tiles', 'map']],
  ['+tiles', ['tiles']],
  ['body:tiles', ['body', 'tiles']],
  ['title : map', ['title', 'map']],
  ['{title body}: tiles', ['title', 'body', 'tiles']],
  ['pxi_corpus::search', ['pxi', 'corpus', 'search']],
  ['a.b.c', ['b', 'c']],
  ['v1.2.3', ['v1', '2', '3']],
  ['café naïve Über', ['café', 'naïve', 'über']],
  ['模型 权重', ['模型', '权重']],
  ['🙂🙂', []],
  ['tiles 🙂 map', ['tiles', 'map']],
  ['\u0000\u0001\u0002', []],
  ['\u0301\u0301', []],
  ['e\u0301', ['é']],
  ['the a of and', ['the', 'a', 'of', 'and']],
  ['What is the map?', ['map']],
  ['TILES Tiles tiles', ['tiles']],
  ['ﬁle', ['file']],
  ['x'.repeat(200), ['x'.repeat(MAX_TERM_CHARS)]],
  ["'; DROP TABLE passages; --", ['drop', 'table', 'passages']],
  ['passage_fts MATCH "x" OR 1=1', ['passage', 'fts', 'match', 'x', '1']],
];

