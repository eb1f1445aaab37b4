import { writeFileDurable } from '../../pixelfs/file-ops';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DocumentEncoder } from '../../../shared/corpus/encode';
import { CorpusError } from '../../../shared/corpus/errors';
import { checkDocument, MAX_DOCUMENT_BYTES, normalizeText, NORMALIZE_STEPS, parseNormalize } from '../../../shared/corpus/text';
import { Tokenizer } from '../../../shared/tokenizer';
import {
  DEFAULT_MAX_PIECE_LENGTH,
  FIRST_PIECE_ID,
  MAX_TRAIN_VOCAB,
  serializeTrainedTokenizer,
  trainedTokenizerSpec,
  trainTokenizer,
  type TrainSource,
} from '../../../shared/tokenizer-train';
import { CorpusStore, loadTokenizerSpec } from '../../corpus/index';
import { intFlag, positionals, runStorageCommand, VOLUME_HELP, volumeDir, withStore } from '../storage-helpers';
import { formatDuration } from '../../models/progress';
import { EXIT, parseOptions, UsageError, type CliIo, type Command } from '../command';

const SUBCOMMANDS = ['train', 'encode', 'show'] as const;

interface Values {
  volume?: string;
  json?: boolean;
  corpus?: string;
  file?: string[];
  vocab?: string;
  out?: string;
  normalize?: string;
  coverage?: string;
  'max-piece'?: string;
  overwrite?: boolean;
}

async function train(values: Values, io: CliIo): Promise<number> {
  const vocab = intFlag('vocab', values.vocab, FIRST_PIECE_ID, MAX_TRAIN_VOCAB);
  if (vocab === undefined) throw new UsageError('--vocab N is required (the vocabulary size, 259 specials and byte tokens included)');
  if (!values.out) throw new UsageError('--out FILE.json is required');
  const files = values.file ?? [];
  if ((values.corpus === undefined) === (files.length === 0)) throw new UsageError('give either --corpus NAME or --file FILE (one or more), not both');
  if (values.corpus !== undefined && values.normalize !== undefined) {
    throw new UsageError('--normalize applies to --file; a corpus was normalised when it was added (pxi corpus add --normalize)');
  }
  let coverage: number | undefined;
  if (values.coverage !== undefined) {
    coverage = Number(values.coverage);
    if (!(coverage > 0 && coverage <= 1)) throw new UsageError(`--coverage must be a number in (0, 1], got ${JSON.stringify(values.coverage)}`);
  }
  const maxPiece = intFlag('max-piece', values['max-piece'], 1, 256);
  const out = path.resolve(values.out);
  if (!values.overwrite && (await fs.stat(out).catch(() => null))) throw new UsageError(`${values.out} exists; pass --overwrite to replace it`);

  // The text: read back from the corpus's tiles, or from the files (checked as corpus add checks them).
  let docs: string[];
  let sources: TrainSource[];
  let normalize: string[];
  if (values.corpus !== undefined) {
    const name = values.corpus;
    const got = await withStore(volumeDir(values.volume), async (store) => {
      const corpora = await CorpusStore.open(store);
      const c = corpora.get(name);
      return { texts: await corpora.readDocuments(name), c };
    });
    docs = got.texts;
    sources = got.c.docs.map((d) => ({ name: `corpus ${name}: ${d.name}`, bytes: d.bytes, sha256: d.sha256 }));
    normalize = got.c.normalize;
  } else {
    const steps = parseNormalize(values.normalize);
    docs = [];
    sources = [];
    for (const f of files) {
      const st = await fs.stat(f).catch(() => null);
      if (!st?.isFile()) throw new CorpusError('CORPUS_FILE_MISSING', `${f}: ${st ? 'not a regular file' : 'no such file'}`, { file: f });
      if (st.size > MAX_DOCUMENT_BYTES) throw new CorpusError('CORPUS_TOO_LARGE', `${f}: ${st.size} bytes; one document may hold at most ${MAX_DOCUMENT_BYTES}`, { file: f });
      const bytes = await fs.readFile(f);
      const text = normalizeText(checkDocument(bytes, f), steps).text;
      docs.push(text);
      sources.push({ name: path.basename(f), bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
    normalize = steps;
  }

  const t0 = performance.now();
  let last = 0;
  const trained = trainTokenizer(docs, {
    vocabSize: vocab,
    ...(coverage === undefined ? {} : { characterCoverage: coverage }),
    ...(maxPiece === undefined ? {} : { maxPieceLength: maxPiece }),
    onProgress: (p) => {
      const now = performance.now();
      if (p.phase !== 'merging' || (now - last < 1000 && p.done < p.total)) return;
      last = now;
      io.err(`tokenizer train: ${p.done}/${p.total} merged pieces`);
    },
  });
  trained.training.sources = sources;
  trained.training.normalize = normalize;
  const seconds = (performance.now() - t0) / 1000;

  // How well it compresses the text it learned from: our tokenizer, exactly as llama.cpp would.
  const enc = new DocumentEncoder(trainedTokenizerSpec(trained));
  let tokens = 0;
  for (const d of docs) enc.encode(d, (ids) => (tokens += ids.length));
  const bytesPerToken = trained.training.textBytes / Math.max(1, tokens);

  await writeFileDurable(out, new TextEncoder().encode(serializeTrainedTokenizer(trained)));
  const t = trained.training;
  if (values.json) io.out(JSON.stringify({ out, vocabSize: trained.tokens.length, training: t, tokens, bytesPerToken, seconds }));
  else
    io.out(
      `wrote ${out}: ${trained.tokens.length} tokens (3 special, 256 byte, ${t.pieces} merged pieces, ${t.characters} characters${t.byteFallbackCharacters ? `; ${t.byteFallbackCharacters} rarer characters left to byte fallback` : ''}) ` +
        `learned from ${t.documents} document${t.documents === 1 ? '' : 's'}, ${t.textBytes} bytes in ${formatDuration(seconds)}; ` +
        `the text is ${tokens} tokens, ${bytesPerToken.toFixed(3)} bytes per token`,
    );
  return EXIT.OK;
}

export const tokenizerCommand: Command = {
  name: 'tokenizer',
  summary: 'learn a SentencePiece-style BPE vocabulary from text; encode with a tokenizer',
  help: `Usage: pxi tokenizer <subcommand> [arguments] [options]

Subcommands:
  train   learn a vocabulary (--corpus NAME or --file FILE..., --vocab N, --out FILE.json)
  encode TOKENIZER TEXT   the token ids of TEXT (TOKENIZER: a trained .json or a .gguf model)
  show TOKENIZER          what a tokenizer file holds

train learns byte-pair merges the way SentencePiece's BPE does, for llama.cpp's "llama"
tokenizer: <unk>=0, <s>=1, </s>=2, the byte tokens <0x00>..<0xFF>, then the learned pieces
(spaces as "▁", scores so that llama.cpp merges them in the order learned). Deterministic:
the same text and options give the same file. The JSON holds everything a GGUF needs
(specs/training.md, "Data: corpus and tokenizer"); pxi train writes it into the model.

Options (train):
  --corpus NAME      learn from a corpus in the volume (read back from its tiles)
  --file FILE        learn from a text file (repeat for several; each is one document)
  --vocab N          vocabulary size, ${FIRST_PIECE_ID}..${MAX_TRAIN_VOCAB} (the 259 specials and byte tokens included)
  --out FILE.json    where to write it (--overwrite replaces an existing file)
  --normalize LIST   (with --file) ${NORMALIZE_STEPS.join(', ')} or none, as pxi corpus add
  --coverage F       share of character occurrences that get their own token (default 1:
                     all characters; rarer ones are written as byte tokens)
  --max-piece N      longest piece in characters (default ${DEFAULT_MAX_PIECE_LENGTH})
  ${VOLUME_HELP}
  --json             print JSON on stdout
  -h, --help         show this help

Exit codes: 0 success, 1 refused or failed, 2 usage error, 3 the corpus read back from
the volume is damaged (see pxi corpus verify).`,
  async run(argv, io) {
    const { values, positionals: args } = parseOptions(
      argv,
      {
        volume: { type: 'string' },
        json: { type: 'boolean' },
        corpus: { type: 'string' },
        file: { type: 'string', multiple: true },
        vocab: { type: 'string' },
        out: { type: 'string' },
        normalize: { type: 'string' },
        coverage: { type: 'string' },
        'max-piece': { type: 'string' },
        overwrite: { type: 'boolean' },
      },
      true,
    );
    const [sub, ...rest] = args;
    if (sub === undefined) throw new UsageError(`a subcommand is required: ${SUBCOMMANDS.join(', ')}`);
    if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}; expected one of ${SUBCOMMANDS.join(', ')}`);
    const v = values as Values;
    const trainOnly = ['corpus', 'file', 'vocab', 'out', 'normalize', 'coverage', 'max-piece', 'overwrite', 'volume'] as const;
    if (sub !== 'train') {
      const used = trainOnly.filter((k) => v[k] !== undefined);
      if (used.length) throw new UsageError(`--${used[0]} applies to train only`);
    }
    return runStorageCommand(`tokenizer ${sub}`, io, async () => {
      if (sub === 'train') {
        positionals(rest, []);
        return train(v, io);
      }
      if (sub === 'encode') {
        const [file, text] = positionals(rest, ['TOKENIZER', 'TEXT']);
        const tok = new Tokenizer((await loadTokenizerSpec(file!)).spec);
        const ids = tok.encode(text!, { addSpecial: false });
        if (v.json) io.out(JSON.stringify({ ids, pieces: ids.map((id) => tok.tokenText(id)) }));
        else {
          io.out(ids.join(' '));
          io.out(ids.map((id) => JSON.stringify(tok.tokenText(id))).join(' '));
        }
        return EXIT.OK;
      }
      const [file] = positionals(rest, ['TOKENIZER']);
      const loaded = await loadTokenizerSpec(file!);
      const tok = new Tokenizer(loaded.spec);
      const info = {
        file: path.resolve(file!),
        kind: loaded.kind,
        model: tok.model,
        size: tok.size,
        bos: tok.bos ?? null,
        eos: tok.eos ?? null,
        unk: tok.unk ?? null,
        addBos: tok.addBos,
        addSpacePrefix: tok.addSpacePrefix,
        training: loaded.trained?.training ?? null,
      };
      if (v.json) io.out(JSON.stringify(info));
      else {
        io.out(`${info.file}: ${loaded.kind === 'trained' ? 'trained vocabulary' : 'GGUF tokenizer'}, model ${info.model}, ${info.size} tokens, bos ${info.bos} eos ${info.eos} unk ${info.unk}, add BOS ${info.addBos}, space prefix ${info.addSpacePrefix}`);
        const t = loaded.trained?.training;
        if (t) {
          io.out(`learned by ${t.algorithm} from ${t.documents} documents (${t.textBytes} bytes): ${t.pieces} merged pieces, ${t.characters} characters, coverage ${t.characterCoverage}, pieces up to ${t.maxPieceLength}`);
          for (const s of t.sources ?? []) io.out(`  source ${s.name}: ${s.bytes} bytes, sha256 ${s.sha256}`);
          if (t.normalize?.length) io.out(`  normalised: ${t.normalize.join(', ')}`);
        }
        io.out(`first pieces: ${Array.from({ length: Math.min(24, Math.max(0, tok.size - FIRST_PIECE_ID)) }, (_, i) => JSON.stringify(tok.tokenText(FIRST_PIECE_ID + i))).join(' ')}`);
      }
      return EXIT.OK;
    });
  },
};
