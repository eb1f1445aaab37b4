import { Explorer } from '../explorer/explorer';
import { el, type View } from './types';

/** The visual memory explorer view (renderer/src/explorer, specs/explorer.md). */
export const explorerView: View = {
  id: 'explorer',
  title: 'Explorer',
  async render(root, ctx) {
    const explorer = new Explorer(ctx);
    root.append(explorer.root);
    // The shell swaps views by replacing the container's children on hashchange and does not
    // call a cleanup function, so the explorer releases its GPU resources when it is detached.
    const stop = () => {
      window.removeEventListener('hashchange', leave);
      explorer.dispose();
    };
    const leave = () => {
      if (!explorer.root.isConnected) stop();
    };
    window.addEventListener('hashchange', leave);
    let ok: boolean;
    try {
      ok = await explorer.start();
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
    return stop;
  },
};
