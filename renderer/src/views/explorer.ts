import { parsePassagesParam } from '../../../shared/corpus/passage-link';
import { Explorer } from '../explorer/explorer';
import { el } from '../components/el';
import { type View } from './types';

/**
 * The visual memory explorer view (renderer/src/explorer, specs/explorer.md).
 * `#/explorer?model=ID` opens on that model, `&tensor=NAME` with that tensor selected, `&train=RUN`
 * with the weight-change layer of that training run on; `#/explorer?corpus=NAME&passages=D:S-E,…&focus=K`
 * with those passages of the corpus lit (Chat's "Show on the map", shared/corpus/passage-link.ts).
 */
export const explorerView: View = {
  id: 'explorer',
  title: 'Explorer',
  async render(root, ctx) {
    const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
    const explorer = new Explorer(ctx);
    root.append(explorer.root);
    const stop = () => explorer.dispose();
    let ok: boolean;
    try {
      const corpus = params.get('corpus') ?? undefined;
      const passages = corpus ? parsePassagesParam(params.get('passages') ?? '') : null;
      if (corpus && !passages) ctx.showError(`The link names no passages of ${corpus} to light: showing the whole map.`);
      ok = await explorer.start({
        model: params.get('model') ?? undefined,
        tensor: params.get('tensor') ?? undefined,
        train: params.get('train') ?? undefined,
        corpus: passages ? corpus : undefined,
        passages: passages ?? undefined,
        focus: Number(params.get('focus') ?? 0) || 0,
      });
    } catch (e) {
      stop();
      throw e;
    }
    if (!ok) {
      stop();
      explorer.root.replaceWith(
        el('div', { className: 'ex-empty' }, el('h1', {}, 'Explorer'), el('p', { className: 'empty' }, 'No model on the map yet. ', el('a', { href: '#/import' }, 'Import a GGUF model'), ' to see its tensors here.')),
      );
    }
    // The shell runs this when the user leaves: the WebGL context, textures and listeners go.
    return stop;
  },
};
