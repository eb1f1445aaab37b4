import { PxiError } from '../../../shared/errors';
import { NORMALIZE_STEPS, parseNormalize, type NormalizeChange } from '../../../shared/corpus/text';
import { formatBytes, formatCount } from '../../../shared/model/summary';
import { addBuiltinCorpus, BUILTIN_CORPUS, CorpusStore, DEFAULT_SEARCH_LIMIT, loadTokenizerSpec, MAX_SEARCH_LIMIT, searchCorpora, type AddResult, type CorpusDetail, type IndexEvent, type PassageRow } from '../../corpus/index';
import { MAX_PASSAGE_CHARS, MIN_PASSAGE_CHARS } from '../../../shared/corpus/passages';
import { intFlag, interruptSignal, positionals, progressPrinter, runStorageCommand, VOLUME_HELP, volumeDir, withStore } from '../storage-helpers';
import { formatDuration, RateMeter } from '../../models/progress';
import { EXIT, parseOptions, UsageError, type CliIo, type Command } from '../command';

const SUBCOMMANDS = ['add', 'add-builtin', 'list', 'show', 'rm', 'verify', 'tokenize', 'search'] as const;

const changeList = (cs: readonly NormalizeChange[]): string => cs.map((c) => `${JSON.stringify(c.from)} → ${JSON.stringify(c.to)} ×${c.count}`).join(', ');

/** The passage index line of an add (built with the corpus; a failure is rebuilt by the next search). */
function passagesLine(r: AddResult): string {
  return 'error' in r.passages
    ? `note: the passage index could not be built (${r.passages.error}); pxi corpus search rebuilds it`
    : `indexed ${r.passages.passages} passage${r.passages.passages === 1 ? '' : 's'} for search in ${formatDuration(r.passages.seconds)}`;
}

/** Progress lines of a passage index being (re)built, on stderr. */
function indexReporter(io: CliIo): (e: IndexEvent) => void {
  return (e) => {
    if (e.kind === 'start') io.err(`indexing passages of ${e.corpus} (${e.documents} document${e.documents === 1 ? '' : 's'}): ${e.reason}`);
    else if (e.kind === 'done') io.err(`indexed ${e.corpus}: ${e.passages} passage${e.passages === 1 ? '' : 's'} in ${formatDuration(e.seconds)}`);
  };
}

/** A snippet with its matched words in [brackets]. */
function markedSnippet(h: PassageRow): string {
  let out = '';
  let at = 0;
  for (const [a, b] of h.marks) {
    out += `${h.snippet.slice(at, a)}[${h.snippet.slice(a, b)}]`;
    at = b;
  }
  return (out + h.snippet.slice(at)).replace(/\s+/g, ' ');
}

function describe(c: CorpusDetail): string[] {
  const lines = [
    `corpus     ${c.name}`,
    `documents  ${c.documents}, ${formatBytes(c.bytes)} (${c.bytes} bytes) of UTF-8 text`,
    `sha256     ${c.sha256}`,
    `normalize  ${c.normalize.length ? c.normalize.join(', ') : 'none'}`,
    `added      ${new Date(c.createdAt).toISOString()}`,
    `verified   ${c.verifyState}${c.verifiedAt ? ` (${new Date(c.verifiedAt).toISOString()})` : ''}`,
    `map        ${c.mapBox ? `${c.mapId}: ${c.mapBox.width}x${c.mapBox.height} px at (${c.mapBox.x}, ${c.mapBox.y})` : 'not on the map'}`,
  ];
  for (const d of c.docs) {
    lines.push(`  [${d.index}] ${d.name}: ${formatBytes(d.bytes)}, sha256 ${d.sha256.slice(0, 16)}…  (${d.file}; from ${d.sourcePath}${d.changes.length ? `; normalised: ${changeList(d.changes)}` : ''})`);
  }
  for (const s of c.shards) lines.push(`  token shard ${s.tokenizerHash.slice(0, 16)}…: ${formatBytes(s.bytes)} (${s.file})`);
  return lines;
}

async function run(sub: string, args: string[], values: { volume?: string; json?: boolean; normalize?: string; tokenizer?: string; rebuild?: boolean; limit?: string; all?: boolean }, io: CliIo): Promise<number> {
  const dir = volumeDir(values.volume);
  if (sub !== 'search' && (values.limit !== undefined || values.all)) throw new UsageError('--limit and --all apply to search only');
  if (sub !== 'add' && values.normalize !== undefined) throw new UsageError('--normalize applies to add only');
  if (sub !== 'tokenize' && (values.tokenizer !== undefined || values.rebuild)) throw new UsageError('--tokenizer and --rebuild apply to tokenize only');
  switch (sub) {
    case 'add': {
      if (args.length < 2) throw new UsageError(`expected NAME FILE..., got ${args.length} argument${args.length === 1 ? '' : 's'}`);
      const [name, ...files] = args;
      const normalize = parseNormalize(values.normalize);
      const signal = interruptSignal(io);
      const show = progressPrinter(io, 'corpus add');
      const meter = new RateMeter();
      return withStore(
        dir,
        async (store) => {
          const corpora = await CorpusStore.open(store);
          const r = await corpora.add(name!, files, {
            normalize,
            signal,
            onProgress: (p) => show(p.bytesDone, p.bytesTotal, meter.sample(p.bytesDone, p.bytesTotal), `document ${Math.min(p.document + 1, p.documents)}/${p.documents}`, p.document === p.documents),
          });
          if (values.json) {
            io.out(JSON.stringify(r));
            return EXIT.OK;
          }
          const c = r.corpus;
          const changed = c.docs.flatMap((d) => d.changes);
          io.out(
            `added corpus ${c.name}: ${c.documents} document${c.documents === 1 ? '' : 's'}, ${formatBytes(c.bytes)}, sha256 ${c.sha256}; ` +
              `tiles: ${r.tilesWritten} written, ${r.tilesDeduped} already stored; on the map as ${c.mapId}${c.mapBox ? ` (${c.mapBox.width}x${c.mapBox.height} px)` : ''} in ${formatDuration(r.seconds)}`,
          );
          io.out(passagesLine(r));
          if (changed.length) io.out(`normalised (${c.normalize.join(', ')}): ${changeList(mergeChanges(changed))}`);
          if (r.mojibake.length) {
            io.err(
              `note: the text holds ${r.mojibake.reduce((s, m) => s + m.count, 0)} mojibake sequences (UTF-8 read as Windows-1252): ${changeList(r.mojibake)}; ` +
                `they are stored as they are. Add with --normalize mojibake (or mojibake,ascii-punct) to repair them.`,
            );
          }
          return EXIT.OK;
        },
        true,
      );
    }
    case 'add-builtin': {
      positionals(args, []);
      const signal = interruptSignal(io);
      return withStore(
        dir,
        async (store) => {
          const o = await addBuiltinCorpus(await CorpusStore.open(store), { replace: true, signal });
          if (values.json) io.out(JSON.stringify(o));
          else if (o.status === 'current' || o.status === 'outdated') io.out(`corpus ${BUILTIN_CORPUS} is present and holds the shipped README and specs (${o.documents} documents)`);
          else {
            const c = o.result.corpus;
            io.out(`${o.status === 'added' ? 'added' : 'replaced (the shipped docs changed)'} corpus ${c.name}: ${c.documents} documents (README.md, specs/*.md), ${formatBytes(c.bytes)}, on the map as ${c.mapId}`);
            io.out(passagesLine(o.result));
          }
          return EXIT.OK;
        },
        true,
      );
    }
    case 'search': {
      const all = values.all ?? false;
      if (args.length < (all ? 1 : 2)) throw new UsageError(all ? 'expected QUERY after --all' : `expected NAME QUERY (or --all QUERY), got ${args.length} argument${args.length === 1 ? '' : 's'}`);
      const names = all ? null : [args[0]!];
      const text = (all ? args : args.slice(1)).join(' ');
      const limit = intFlag('limit', values.limit, 1, MAX_SEARCH_LIMIT) ?? DEFAULT_SEARCH_LIMIT;
      return withStore(dir, async (store) => {
        const r = await searchCorpora(await CorpusStore.open(store), names, text, { limit, onIndex: indexReporter(io) });
        if (values.json) {
          io.out(JSON.stringify(r));
          return EXIT.OK;
        }
        const where = all ? `${r.corpora.length} ${r.corpora.length === 1 ? 'corpus' : 'corpora'}` : names![0]!;
        if (r.terms.length === 0) {
          io.out(`no words to search for in ${JSON.stringify(text)} (only punctuation or symbols); nothing found in ${where}`);
          return EXIT.OK;
        }
        io.out(`${r.hits.length} passage${r.hits.length === 1 ? '' : 's'} for ${r.terms.join(' OR ')} in ${where}${r.droppedStopWords ? ' (common words left out)' : ''}`);
        for (const [i, h] of r.hits.entries()) {
          const heading = h.heading.length ? ` › ${h.heading.join(' › ')}` : '';
          io.out(`${i + 1}. ${h.corpus}: ${h.document.name}${heading} · lines ${h.startLine}-${h.endLine} · score ${h.score.toFixed(3)}`);
          io.out(`   ${markedSnippet(h)}`);
        }
        return EXIT.OK;
      });
    }
    case 'list': {
      positionals(args, []);
      return withStore(dir, async (store) => {
        const list = (await CorpusStore.open(store)).list();
        if (values.json) io.out(JSON.stringify(list));
        else if (list.length === 0) io.out('no corpora (add one with pxi corpus add NAME FILE...)');
        else {
          const w = Math.max(6, ...list.map((c) => c.name.length));
          io.out(`${'corpus'.padEnd(w)}  ${'docs'.padStart(5)}  ${'size'.padStart(10)}  ${'verified'.padEnd(10)}  sha256`);
          for (const c of list) io.out(`${c.name.padEnd(w)}  ${String(c.documents).padStart(5)}  ${formatBytes(c.bytes).padStart(10)}  ${c.verifyState.padEnd(10)}  ${c.sha256.slice(0, 16)}…`);
        }
        return EXIT.OK;
      });
    }
    case 'show': {
      const [name] = positionals(args, ['NAME']);
      return withStore(dir, async (store) => {
        const corpora = await CorpusStore.open(store);
        const c = corpora.get(name!);
        const st = corpora.passages.state(c.name, c.sha256);
        if (values.json) io.out(JSON.stringify({ ...c, passageIndex: st }));
        else {
          const lines = describe(c);
          lines.splice(7, 0, `passages   ${st.state === 'ok' ? `${st.passages} indexed for search` : `${st.state}: ${st.reason} (the next search builds it)`}`);
          for (const l of lines) io.out(l);
        }
        return EXIT.OK;
      });
    }
    case 'rm': {
      const [name] = positionals(args, ['NAME']);
      return withStore(dir, async (store) => {
        const r = await (await CorpusStore.open(store)).remove(name!);
        if (values.json) io.out(JSON.stringify(r));
        else io.out(`removed corpus ${name}: ${r.filesRemoved} files, ${r.tilesRemoved} tiles freed (${formatBytes(r.bytesFreed)}), ${r.passagesDropped} passages dropped from the search index`);
        return EXIT.OK;
      });
    }
    case 'verify': {
      const [name] = positionals(args, ['NAME']);
      return withStore(dir, async (store) => {
        const rep = await (await CorpusStore.open(store)).verify(name!);
        if (values.json) io.out(JSON.stringify(rep));
        else {
          for (const d of rep.documents) for (const p of d.problems) io.out(`DAMAGED document ${d.index} (${d.name}): ${p}`);
          for (const s of rep.shards) for (const p of s.problems) io.out(`DAMAGED token shard: ${p} (a shard is a cache: pxi corpus tokenize ${name} --rebuild replaces it)`);
          io.out(`${rep.ok ? 'OK' : 'DAMAGED'}: corpus ${name}, ${rep.documents.length} document${rep.documents.length === 1 ? '' : 's'} and ${rep.shards.length} token shard${rep.shards.length === 1 ? '' : 's'}, ${rep.tilesChecked} tiles, ${formatBytes(rep.bytesChecked)} checked`);
        }
        return rep.ok ? EXIT.OK : EXIT.CORRUPT;
      });
    }
    case 'tokenize': {
      const [name] = positionals(args, ['NAME']);
      if (!values.tokenizer) throw new UsageError('--tokenizer FILE is required (a trained tokenizer .json or a .gguf model)');
      const tok = await loadTokenizerSpec(values.tokenizer);
      const signal = interruptSignal(io);
      const show = progressPrinter(io, 'tokenize');
      const meter = new RateMeter();
      return withStore(dir, async (store) => {
        const s = await (await CorpusStore.open(store)).tokenShard(name!, tok.spec, {
          rebuild: values.rebuild ?? false,
          signal,
          onProgress: (p) => show(p.bytesDone, p.bytesTotal, meter.sample(p.bytesDone, p.bytesTotal), `${formatCount(p.tokens)} tokens`),
        });
        const summary = {
          corpus: s.corpus,
          file: s.file,
          tokenizerHash: s.tokenizerHash,
          vocabSize: s.vocabSize,
          tokens: s.tokens.length,
          documents: s.documentStarts.length,
          bos: s.bos,
          textBytes: s.textBytes,
          bytesPerToken: s.textBytes / Math.max(1, s.tokens.length - (s.bos === null ? 0 : s.documentStarts.length)),
          cached: s.cached,
          seconds: s.seconds,
        };
        if (values.json) io.out(JSON.stringify(summary));
        else
          io.out(
            `${s.cached ? 'read cached' : 'tokenized and cached'} token shard of ${s.corpus}: ${s.tokens.length} tokens (${summary.documents} document${summary.documents === 1 ? '' : 's'}${s.bos === null ? '' : ', each from BOS'}), ` +
              `${summary.bytesPerToken.toFixed(3)} bytes per token, vocabulary ${s.vocabSize}, tokenizer ${s.tokenizerHash.slice(0, 16)}… in ${formatDuration(s.seconds)} (${s.file})`,
          );
        return EXIT.OK;
      });
    }
  }
  throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}; expected one of ${SUBCOMMANDS.join(', ')}`);
}

function mergeChanges(cs: readonly NormalizeChange[]): NormalizeChange[] {
  const m = new Map<string, NormalizeChange>();
  for (const c of cs) {
    const k = `${c.step}\u0000${c.from}`;
    const e = m.get(k);
    if (e) e.count += c.count;
    else m.set(k, { ...c });
  }
  return [...m.values()].sort((a, b) => b.count - a.count);
}

export const corpusCommand: Command = {
  name: 'corpus',
  summary: 'text corpora in a volume: add, list, show, rm, verify, tokenize (training data), search (retrieval)',
  help: `Usage: pxi corpus <subcommand> [arguments] [options]

A corpus is a named set of UTF-8 text documents stored in a PixelFS volume (one file of
PNG tiles per document, under corpora/NAME/) and laid out on the Infinite Map as its own
region (corpus:NAME). Training reads its token shards; Chat and search read its passages
(specs/training.md).

Subcommands:
  add NAME FILE...   store each FILE as one document of a new corpus NAME (1-64 letters,
                     digits, '.', '_', '-'). Every file is checked first: a missing file,
                     an empty one, binary data (a NUL byte), text that is not UTF-8 (the
                     byte offset is named) or the same file twice is refused and nothing
                     is stored. A name already in use is refused. The documents are
                     split into passages and indexed for search.
  add-builtin        add the built-in corpus ${BUILTIN_CORPUS}: this project's README.md and
                     specs/*.md (from the app's resources, or the project folder), so
                     the workstation can be asked about itself; replaces it when the
                     shipped files changed, says so when it is current
  list               the corpora of the volume
  show NAME          documents, sizes, hashes, normalisation, map box, passage index,
                     cached token shards
  rm NAME            remove the corpus, its map region and its token shards
  verify NAME        re-hash every tile of every document (and shard) and check each
                     document against its catalog record; exit 3 if anything is damaged
  tokenize NAME      the corpus as one token stream (each document from BOS) for a
                     tokenizer: read from the cached shard, or tokenized from the tiles
                     and cached; prints tokens and bytes per token
  search NAME QUERY...
  search --all QUERY...
                     the passages of corpus NAME (or of every corpus) that best match
                     QUERY, best first (SQLite FTS5, bm25; a word in the document name
                     or heading counts twice). QUERY is plain words, never search
                     syntax: quotes, parentheses, NEAR, *, -, : and other punctuation
                     only separate words; any passage holding one of the words is a
                     match, common English words are left out when others remain.
                     Each hit: corpus, document, heading path, line range, score (-bm25,
                     higher is better) and a snippet with the matched words in [ ].
                     A passage is whole paragraphs of one Markdown section, ${MIN_PASSAGE_CHARS}-${MAX_PASSAGE_CHARS}
                     characters (a long paragraph is cut; a section's last passage may be
                     shorter). A corpus without a passage index, or one built from other
                     text, is indexed first (said on stderr). Put -- before a QUERY
                     that starts with -

Options:
  ${VOLUME_HELP};
                     created by add if missing
  --normalize LIST   (add) text normalisation before storing, comma-separated:
                     ${NORMALIZE_STEPS[0]}     repair UTF-8 read as Windows-1252 ("â€™" → "’")
                     ${NORMALIZE_STEPS[1]}  curly quotes → ' ", dashes → -, … → ...
                     or none (default: bytes stored exactly as given)
  --tokenizer FILE   (tokenize) a trained tokenizer (.json from pxi tokenizer train) or a
                     GGUF model whose tokenizer to use
  --rebuild          (tokenize) tokenize again even if a shard is cached
  --all              (search) search every corpus of the volume
  --limit K          (search) at most K passages, 1-${MAX_SEARCH_LIMIT} (default ${DEFAULT_SEARCH_LIMIT})
  --json             print JSON on stdout
  -h, --help         show this help

Exit codes: 0 success, 1 refused or failed, 2 usage error, 3 damage found (verify),
130 interrupted (an interrupted add stores nothing).`,
  async run(argv, io) {
    const { values, positionals: args } = parseOptions(
      argv,
      { volume: { type: 'string' }, json: { type: 'boolean' }, normalize: { type: 'string' }, tokenizer: { type: 'string' }, rebuild: { type: 'boolean' }, limit: { type: 'string' }, all: { type: 'boolean' } },
      true,
    );
    const [sub, ...rest] = args;
    if (sub === undefined) throw new UsageError(`a subcommand is required: ${SUBCOMMANDS.join(', ')}`);
    if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}; expected one of ${SUBCOMMANDS.join(', ')}`);
    return runStorageCommand(`corpus ${sub}`, io, async () => {
      try {
        return await run(sub, rest, values, io);
      } catch (e) {
        if (e instanceof PxiError && e.code === 'CORPUS_CORRUPT') {
          io.err(`pxi corpus ${sub}: ${e.message} [${e.code}]`);
          return EXIT.CORRUPT;
        }
        throw e;
      }
    });
  },
};
