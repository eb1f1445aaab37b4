/**
 * The built-in corpus: the project's own README.md and specs/*.md, shipped with the app so the
 * workstation can be asked about itself (electron/corpus/builtin.ts adds it to a volume).
 */
export const BUILTIN_CORPUS = 'pxi-docs';
