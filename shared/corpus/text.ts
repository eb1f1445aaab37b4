/**
 * What a corpus document must be (UTF-8 text: not empty, no NUL byte, valid UTF-8) and the
 * optional normalisations applied when it is added (specs/training.md, "Data: corpus and
 * tokenizer"). Pure: the same checks serve the CLI, the services and the renderer.
 */
import { CorpusError } from './errors';

/** Largest document (V8 strings stop near 2^29 UTF-16 units; a document is decoded whole). */
export const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;

export interface Utf8Problem {
  /** Byte offset of the first byte that cannot be read. */
  offset: number;
  reason: string;
}

const hex = (b: number): string => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;

/**
 * The first place `bytes` stop being UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF), or null. Agrees with `new TextDecoder('utf-8', { fatal: true })`.
 */
export function invalidUtf8(bytes: Uint8Array): Utf8Problem | null {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // overlong below U+0800
      if (b === 0xed) hi = 0x9f; // surrogates U+D800..U+DFFF
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong below U+10000
      if (b === 0xf4) hi = 0x8f; // past U+10FFFF
    } else {
      const why = b <= 0xbf ? 'a continuation byte with no lead byte before it' : b <= 0xc1 ? 'an overlong (non-shortest) lead byte' : 'a byte that never occurs in UTF-8';
      return { offset: i, reason: `byte ${hex(b)} is ${why}` };
    }
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return { offset: i, reason: `the ${need + 1}-byte sequence starting with ${hex(b)} is cut off by the end of the file` };
      const c = bytes[i + k]!;
      const min = k === 1 ? lo : 0x80;
      const max = k === 1 ? hi : 0xbf;
      if (c < min || c > max) {
        return { offset: i + k, reason: `byte ${hex(c)} cannot follow ${bytes.subarray(i, i + k).reduce((s, x) => `${s}${s ? ' ' : ''}${hex(x)}`, '')} (${k === 1 && (lo !== 0x80 || hi !== 0xbf) ? 'overlong, surrogate or past U+10FFFF' : 'expected a continuation byte 0x80-0xBF'})` };
      }
    }
    i += need + 1;
  }
  return null;
}

/** 1-based line of a byte offset (newlines before it + 1). */
function lineOf(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

/**
 * Checks one document and returns its text. CORPUS_EMPTY (no bytes, or only whitespace),
 * CORPUS_BINARY (a NUL byte, offset named), CORPUS_NOT_UTF8 (offset, line and the bad bytes
 * named), CORPUS_TOO_LARGE; `file` names the document in every message. A UTF-8 byte-order mark
 * is kept as text (U+FEFF), like any other character.
 */
export function checkDocument(bytes: Uint8Array, file: string): string {
  if (bytes.length === 0) throw new CorpusError('CORPUS_EMPTY', `${file}: the file is empty (0 bytes)`, { file, size: 0 });
  if (bytes.length > MAX_DOCUMENT_BYTES) {
    throw new CorpusError('CORPUS_TOO_LARGE', `${file}: ${bytes.length} bytes; one document may hold at most ${MAX_DOCUMENT_BYTES} (split it into several files)`, {
      file,
      size: bytes.length,
      max: MAX_DOCUMENT_BYTES,
    });
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    throw new CorpusError('CORPUS_BINARY', `${file}: binary data, not text: a NUL byte at offset ${nul} (line ${lineOf(bytes, nul)})`, { file, offset: nul });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const p = invalidUtf8(bytes) ?? { offset: 0, reason: 'the decoder refused it' };
    throw new CorpusError('CORPUS_NOT_UTF8', `${file}: not valid UTF-8 at byte offset ${p.offset} (line ${lineOf(bytes, p.offset)}): ${p.reason}`, {
      file,
      offset: p.offset,
    });
  }
  if (/^\s*$/u.test(text)) throw new CorpusError('CORPUS_EMPTY', `${file}: the file holds only whitespace (${bytes.length} bytes)`, { file, size: bytes.length });
  return text;
}

// ---------------------------------------------------------------------------------------------
// Normalisation

export const NORMALIZE_STEPS = ['mojibake', 'ascii-punct'] as const;
export type NormalizeStep = (typeof NORMALIZE_STEPS)[number];

export interface NormalizeChange {
  step: NormalizeStep;
  /** The text replaced (a mojibake sequence, or one punctuation character). */
  from: string;
  to: string;
  count: number;
}

/** Parses `--normalize a,b` (or `none`): known steps, each once, applied in NORMALIZE_STEPS order. */
export function parseNormalize(list: string | undefined): NormalizeStep[] {
  if (list === undefined || list === '' || list === 'none') return [];
  const steps = list.split(',').map((s) => s.trim());
  for (const s of steps) {
    if (!(NORMALIZE_STEPS as readonly string[]).includes(s)) {
      throw new CorpusError('CORPUS_NORMALIZE', `unknown normalisation ${JSON.stringify(s)} (known: ${NORMALIZE_STEPS.join(', ')}, or none)`, { field: 'normalize', value: s });
    }
  }
  return NORMALIZE_STEPS.filter((s) => steps.includes(s));
}

/** Windows-1252 bytes 0x80..0x9F (undefined ones also as the C1 controls some decoders give). */
const CP1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8d, 0x017d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x9d, 0x017e, 0x0178,
];
/** Character → the Windows-1252 byte it displays (0x80..0xFF). */
const CP1252_BYTE = new Map<number, number>();
for (let b = 0x80; b <= 0xff; b++) CP1252_BYTE.set(b < 0xa0 ? CP1252_HIGH[b - 0x80]! : b, b);

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Repairs UTF-8 text that was decoded as Windows-1252 and encoded again ("â€™" for "’"):
 * a run of 2-4 characters whose Windows-1252 bytes form one valid UTF-8 sequence becomes that
 * character. One more form is repaired: "â€" followed by anything else is "”" (U+201D), whose
 * third byte 0x9D has no Windows-1252 character and was dropped (the common loss).
 */
function repairMojibake(text: string, count: (from: string, to: string) => void): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const lead = CP1252_BYTE.get(text.charCodeAt(i));
    if (lead === undefined || lead < 0xc2 || lead > 0xf4) continue;
    const need = lead <= 0xdf ? 1 : lead <= 0xef ? 2 : 3;
    const bytes = [lead];
    for (let k = 1; k <= need && i + k < text.length; k++) {
      const b = CP1252_BYTE.get(text.charCodeAt(i + k));
      if (b === undefined || b > 0xbf) break;
      bytes.push(b);
    }
    let to: string | null = null;
    let used = 0;
    if (bytes.length === need + 1) {
      try {
        to = strictUtf8.decode(Uint8Array.from(bytes));
        used = need + 1;
      } catch {
        to = null;
      }
    } else if (lead === 0xe2 && bytes.length === 2 && bytes[1] === 0x80) {
      to = '\u201d';
      used = 2;
    }
    if (to === null) continue;
    const from = text.slice(i, i + used);
    count(from, to);
    out += text.slice(last, i) + to;
    i += used - 1;
    last = i + 1;
  }
  return last === 0 ? text : out + text.slice(last);
}

/** Typographic punctuation → ASCII, one character at a time. */
const ASCII_PUNCT: ReadonlyMap<string, string> = new Map([
  ['\u2018', "'"],
  ['\u2019', "'"],
  ['\u201a', "'"],
  ['\u201b', "'"],
  ['\u2032', "'"],
  ['\u201c', '"'],
  ['\u201d', '"'],
  ['\u201e', '"'],
  ['\u201f', '"'],
  ['\u2033', '"'],
  ['\u2010', '-'],
  ['\u2011', '-'],
  ['\u2012', '-'],
  ['\u2013', '-'],
  ['\u2014', '-'],
  ['\u2015', '-'],
  ['\u2026', '...'],
  ['\u00a0', ' '],
]);
const ASCII_PUNCT_RE = new RegExp(`[${[...ASCII_PUNCT.keys()].join('')}]`, 'gu');

/**
 * Applies normalisation steps in order: `mojibake` (repair double-encoded UTF-8, above), then
 * `ascii-punct` (curly quotes, primes → ' and "; dashes → -; … → ...; no-break space → space).
 * Returns the text and what changed, most frequent first.
 */
export function normalizeText(text: string, steps: readonly NormalizeStep[]): { text: string; changes: NormalizeChange[] } {
  const counts = new Map<string, NormalizeChange>();
  let t = text;
  for (const step of NORMALIZE_STEPS) {
    if (!steps.includes(step)) continue;
    const count = (from: string, to: string): void => {
      const k = `${step}\u0000${from}`;
      const c = counts.get(k);
      if (c) c.count++;
      else counts.set(k, { step, from, to, count: 1 });
    };
    if (step === 'mojibake') t = repairMojibake(t, count);
    else {
      t = t.replace(ASCII_PUNCT_RE, (ch) => {
        const to = ASCII_PUNCT.get(ch)!;
        count(ch, to);
        return to;
      });
    }
  }
  const changes = [...counts.values()].sort((a, b) => b.count - a.count || (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  return { text: t, changes };
}

/** The mojibake sequences `mojibake` would repair, without changing anything (for a hint). */
export function findMojibake(text: string): NormalizeChange[] {
  return normalizeText(text, ['mojibake']).changes;
}
