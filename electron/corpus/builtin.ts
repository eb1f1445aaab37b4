/**
 * The built-in corpus `pxi-docs`: the project's own README.md and specs/*.md, so the
 * workstation can be asked about itself (specs/training.md, "The built-in corpus").
 *
 * The files come from the packaged app's resources (`<resources>/docs/`, electron-builder.yml's
 * extraResources) or, from source, the project root (two folders above this module, from
 * `electron/corpus/` or from the bundle in `out/main/`). `pxi corpus add-builtin` adds it, or
 * replaces it when the shipped text changed; the services add it when Chat searches it and it is
 * missing. Its documents are named by their path under that root (`README.md`,
 * `specs/engine.md`), stored exactly as shipped.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILTIN_CORPUS } from '../../shared/corpus/builtin';
import { CorpusError } from '../../shared/corpus/errors';
import type { ModelStore } from '../models/store';
import { corpusSha256, type AddOptions, type AddResult, type CorpusStore, type NewDocument } from './store';

export { BUILTIN_CORPUS };

/** Folders that may hold the docs: the packaged app's resources, then the project root. */
function roots(): string[] {
  const out: string[] = [];
  const packaged = (process as { resourcesPath?: string }).resourcesPath;
  if (packaged) out.push(join(packaged, 'docs'));
  out.push(join(dirname(fileURLToPath(import.meta.url)), '..', '..'));
  return out;
}

/** The built-in corpus's files in order: README.md, then specs/*.md by name. */
export function builtinDocuments(): NewDocument[] {
  const root = roots().find((r) => existsSync(join(r, 'README.md')) && existsSync(join(r, 'specs')));
  if (!root) {
    throw new CorpusError('CORPUS_BUILTIN_MISSING', `the built-in corpus ${BUILTIN_CORPUS} needs README.md and specs/*.md; they are not in ${roots().join(' or ')}`, { corpus: BUILTIN_CORPUS });
  }
  const names = ['README.md', ...readdirSync(join(root, 'specs')).filter((f) => f.endsWith('.md')).sort().map((f) => `specs/${f}`)];
  return names.map((name) => {
    const sourcePath = join(root, name);
    return { name, sourcePath, bytes: readFileSync(sourcePath) };
  });
}

export type BuiltinOutcome =
  | { status: 'added'; result: AddResult }
  | { status: 'replaced'; result: AddResult }
  | { status: 'current'; documents: number }
  | { status: 'outdated'; documents: number };

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** One add of the built-in corpus at a time per store (Chat may ask twice before the first is done). */
const adding = new WeakMap<ModelStore, Promise<BuiltinOutcome>>();

/**
 * Adds `pxi-docs` when it is missing. When present: `current` if it holds exactly the shipped
 * files; else, with `replace`, removes it and adds the shipped files (`replaced`), otherwise
 * reports it `outdated`.
 */
export function addBuiltinCorpus(corpora: CorpusStore, opts: AddOptions & { replace?: boolean } = {}): Promise<BuiltinOutcome> {
  const running = adding.get(corpora.store);
  if (running) return running;
  const job = (async (): Promise<BuiltinOutcome> => {
    const docs = builtinDocuments();
    if (corpora.has(BUILTIN_CORPUS)) {
      const shipped = corpusSha256(docs.map((d) => ({ sha256: sha256(d.bytes), bytes: d.bytes.length })));
      const stored = corpora.get(BUILTIN_CORPUS);
      if (stored.sha256 === shipped) return { status: 'current', documents: stored.documents };
      if (!opts.replace) return { status: 'outdated', documents: stored.documents };
      await corpora.remove(BUILTIN_CORPUS);
      return { status: 'replaced', result: await corpora.addDocuments(BUILTIN_CORPUS, docs, opts) };
    }
    return { status: 'added', result: await corpora.addDocuments(BUILTIN_CORPUS, docs, opts) };
  })();
  adding.set(corpora.store, job);
  return job.finally(() => adding.delete(corpora.store));
}
