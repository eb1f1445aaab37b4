import { z } from 'zod';
import { BUILTIN_CORPUS } from '../../corpus/builtin';
import { Empty } from './common';
import { MapRect } from './map';

/**
 * Corpora for retrieval (specs/training.md, "Retrieval: passages and search"): the corpora of
 * the volume, and a search of one (or all) for the passages that best match a person's text.
 * Chat's "with corpus" mode puts the passages into the prompt and shows them as sources.
 *
 * The query is plain text of any content (the services never read it as search syntax); a
 * search of the built-in corpus `pxi-docs` adds it first when the volume lacks it.
 */

export const CORPUS_LIMITS = Object.freeze({
  /** Characters of search text (the services take the same). */
  queryChars: 10_000,
  /** Passages one search answers with. */
  limit: 100,
  defaultLimit: 5,
  corpora: 10_000,
  /** Characters of one passage (the splitter's maximum is 1200; room for a future change). */
  passageChars: 16_384,
});

/** The built-in corpus's name (the project's README.md and specs/*.md). */
export const BUILTIN_CORPUS_NAME = BUILTIN_CORPUS;

const L = CORPUS_LIMITS;
const Count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** A corpus name as the store takes it. */
export const CorpusName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "a corpus name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");

export const CorpusListing = z.strictObject({
  corpora: z
    .array(
      z.strictObject({
        name: CorpusName,
        documents: Count,
        bytes: Count,
        /** Passages in the search index; null until the first search (re)builds it. */
        passages: Count.nullable(),
        builtin: z.boolean(),
      }),
    )
    .max(L.corpora),
  /** The built-in corpus: whether this volume holds it (a search adds it when it does not). */
  builtin: z.strictObject({ name: z.literal(BUILTIN_CORPUS_NAME), present: z.boolean() }),
});

export const SearchRequest = z.strictObject({
  /** The corpus to search; null searches every corpus of the volume. */
  corpus: CorpusName.nullable(),
  query: z.string().max(L.queryChars, `a search text is at most ${L.queryChars} characters`),
  limit: z.number().int().min(1).max(L.limit).default(L.defaultLimit),
});

export const PassageHit = z.strictObject({
  corpus: CorpusName,
  document: z.strictObject({ index: Count, name: z.string().max(4096) }),
  passage: Count,
  heading: z.array(z.string().max(4096)).max(6),
  startChar: Count,
  endChar: Count,
  startLine: Count,
  endLine: Count,
  /** −bm25: higher is better, comparable within one search. */
  score: z.number().finite(),
  snippet: z.string().max(L.passageChars),
  /** [start, end) of each matched word in the snippet. */
  marks: z.array(z.tuple([Count, Count])).max(1024),
  text: z.string().max(L.passageChars),
});

export const SearchAnswer = z.strictObject({
  corpora: z.array(CorpusName).max(L.corpora),
  /** The words searched for (empty: the text held none, so nothing is found). */
  terms: z.array(z.string()).max(64),
  droppedStopWords: z.boolean(),
  /** Corpora whose passage index was (re)built for this search, and why. */
  rebuilt: z.array(z.strictObject({ corpus: CorpusName, reason: z.string() })).max(L.corpora),
  /** Whether the built-in corpus was added to the volume for this search. */
  addedBuiltin: z.boolean(),
  hits: z.array(PassageHit).max(L.limit),
});

/** A passage's character range in one document (as a search hit gives it). */
export const PassageRange = z
  .strictObject({ document: Count, startChar: Count, endChar: Count })
  .refine((p) => p.endChar >= p.startChar, { message: 'endChar must not be before startChar', path: ['endChar'] })
  .refine((p) => p.endChar - p.startChar <= L.passageChars, { message: `a passage is at most ${L.passageChars} characters`, path: ['endChar'] });

export const PassageRectsRequest = z.strictObject({
  corpus: CorpusName,
  passages: z.array(PassageRange).min(1, 'name at least one passage').max(L.limit, `at most ${L.limit} passages`),
});

export const PassageRectsAnswer = z.strictObject({
  corpus: CorpusName,
  /** The map owner id of the corpus's regions (`corpus:NAME`). */
  mapId: z.string().max(80),
  /** The corpus's box on the map; null when its regions are gone from the map. */
  box: MapRect.nullable(),
  passages: z
    .array(
      z.strictObject({
        document: Count,
        startChar: Count,
        endChar: Count,
        /** [startByte, endByte): the passage's UTF-8 bytes in the document's PixelFS file. */
        startByte: Count,
        endByte: Count,
        /** The map rectangles those bytes' pixels cover; empty when the document is not on the map. */
        rects: z.array(MapRect).max(4096),
      }),
    )
    .max(L.limit),
});

export const corpusChannels = {
  /** The volume's corpora, with the built-in corpus named whether present or not. */
  'corpus:list': { request: Empty, response: CorpusListing },
  /** The best passages for a text; CORPUS_NOT_FOUND naming a corpus that is not there. */
  'corpus:search': { request: SearchRequest, response: SearchAnswer },
  /** Where passages lie on the Infinite Map (the Explorer lights them); CORPUS_NOT_FOUND, CORPUS_BAD_QUERY for a range outside its document. */
  'corpus:passage-rects': { request: PassageRectsRequest, response: PassageRectsAnswer },
} as const;

export type CorpusListing = z.output<typeof CorpusListing>;
export type PassageHit = z.output<typeof PassageHit>;
export type SearchAnswer = z.output<typeof SearchAnswer>;
export type PassageRectsAnswer = z.output<typeof PassageRectsAnswer>;
