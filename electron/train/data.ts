/**
 * The data of a training run, from the recipe to token streams read out of pixels: the recipe's
 * training and validation text become corpora in the volume (PixelFS files laid out on the map;
 * `pxi corpus`), the tokenizer is learned from the training corpus (`pxi tokenizer train`'s
 * trainer, deterministic) and kept in the volume, and each corpus is tokenized into a cached
 * token shard that training reads back from the corpus tiles.
 *
 * A recipe's data entry is a corpus already in the volume (by name) or a text file (relative to
 * the recipe). Files are added as a corpus named after the recipe (`NAME.train`, `NAME.valid`);
 * when the files changed since, that corpus is replaced.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createTokenizer } from '../../shared/tokenizer';
import { parseTrainedTokenizer, serializeTrainedTokenizer, tokenizerMetadata, trainedTokenizerSpec, trainTokenizer, type TrainedTokenizer } from '../../shared/tokenizer-train';
import { TrainError } from '../../shared/train/errors';
import type { Recipe } from '../../shared/train/recipe';
import { CorpusStore } from '../corpus';
import type { ModelStore } from '../models/store';
import type { TrainData } from './session';

function fileSha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * The corpus holding a data entry list: an existing corpus named alone, or the files (relative to
 * `recipeDir`) added as corpus `name`, replaced when the files changed since.
 */
export async function corpusFor(corpora: CorpusStore, entries: readonly string[], name: string, recipeDir: string, fixMojibake: boolean, say: (m: string) => void, signal?: AbortSignal): Promise<string> {
  if (entries.length === 1 && corpora.has(entries[0]!) && !fs.existsSync(path.resolve(recipeDir, entries[0]!))) return entries[0]!;
  const files = entries.map((e) => path.resolve(recipeDir, e));
  for (const f of files) {
    if (!fs.existsSync(f)) throw new TrainError('TRAIN_DATA', `data file ${f} does not exist (and no corpus is named ${JSON.stringify(entries[0])})`, { file: f });
  }
  if (corpora.has(name)) {
    const have = corpora.get(name);
    const same =
      have.docs.length === files.length &&
      have.docs.every((d, i) => d.sourcePath === files[i] && d.sourceSha256 === fileSha256(files[i]!)) &&
      (have.normalize ?? []).includes('mojibake') === fixMojibake;
    if (same) return name;
    say(`the files of corpus ${name} changed: adding it again`);
    await corpora.remove(name);
  }
  say(`adding corpus ${name} (${files.length} file${files.length === 1 ? '' : 's'})`);
  const r = await corpora.add(name, files, { normalize: fixMojibake ? ['mojibake'] : [], signal });
  for (const c of r.mojibake) say(`corpus ${name}: "${c.from}" left as it is ${c.count} times (mojibake repair is off)`);
  return name;
}

/** The tokenizer learned from a corpus at a vocabulary size, trained once and kept in the volume. */
async function tokenizerFor(store: ModelStore, corpora: CorpusStore, corpus: string, vocab: number, say: (m: string) => void): Promise<TrainedTokenizer> {
  const info = corpora.get(corpus);
  const key = createHash('sha256').update(`pxi-train-tokenizer/1\n${info.sha256}\n${vocab}\n`).digest('hex').slice(0, 32);
  const file = `tokenizers/${key}.json`;
  const have = store.volume.stat(file);
  if (have) {
    const bytes = await store.volume.read(file, 0, have.size);
    return parseTrainedTokenizer(JSON.parse(new TextDecoder().decode(bytes)), file);
  }
  say(`learning a vocabulary of ${vocab} tokens from corpus ${corpus}`);
  const t0 = Date.now();
  const t = trainTokenizer(await corpora.readDocuments(corpus), { vocabSize: vocab });
  say(`vocabulary learned in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const json = new TextEncoder().encode(serializeTrainedTokenizer(t));
  await store.volume.put(file, [json], { overwrite: true, size: json.length });
  return t;
}

/** A stop asked for while the data is prepared (before any step): nothing to checkpoint yet. */
function checkStopped(signal: AbortSignal | undefined, recipe: Recipe, stage: string): void {
  if (signal?.aborted) throw new TrainError('TRAIN_ABORTED', `training of ${recipe.name} stopped while ${stage}; what was stored so far is kept`, { stage });
}

export async function loadTrainData(recipe: Recipe, recipeDir: string, store: ModelStore, say: (m: string) => void = () => {}, signal?: AbortSignal): Promise<TrainData> {
  const corpora = await CorpusStore.open(store);
  const base = recipe.name.slice(0, 56);
  checkStopped(signal, recipe, 'storing the training text');
  const trainCorpus = await corpusFor(corpora, recipe.data.train, `${base}.train`, recipeDir, recipe.data.fixMojibake, say, signal);
  checkStopped(signal, recipe, 'storing the validation text');
  const validCorpus = recipe.data.valid.length > 0 ? await corpusFor(corpora, recipe.data.valid, `${base}.valid`, recipeDir, recipe.data.fixMojibake, say, signal) : null;
  checkStopped(signal, recipe, 'learning the vocabulary');
  const trained = await tokenizerFor(store, corpora, trainCorpus, recipe.data.vocab, say);
  checkStopped(signal, recipe, 'tokenizing the text');
  if (trained.tokens.length !== recipe.data.vocab) {
    throw new TrainError('TRAIN_DATA', `the training text yields a vocabulary of ${trained.tokens.length} tokens, not the ${recipe.data.vocab} the recipe asks for: lower data.vocab`, {
      vocab: trained.tokens.length,
    });
  }
  const spec = trainedTokenizerSpec(trained);
  const train = await corpora.tokenShard(trainCorpus, spec, { signal });
  const valid = validCorpus ? await corpora.tokenShard(validCorpus, spec, { signal }) : null;
  return {
    tokenizer: createTokenizer(spec),
    tokenizerMeta: tokenizerMetadata(trained),
    trained,
    train: train.tokens,
    valid: valid ? valid.tokens : new Uint32Array(0),
  };
}
