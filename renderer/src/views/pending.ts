import { el, type View } from './types';

/**
 * Views whose features are not built yet say so plainly, and what they will hold, rather
 * than showing controls that do nothing.
 */
function pendingView(id: string, title: string, what: string): View {
  return {
    id,
    title,
    render(root) {
      root.append(el('h1', {}, title), el('p', { className: 'pending' }, `Not available in this version. ${what}`));
    },
  };
}

export const explorerView = pendingView('explorer', 'Explorer', "The memory explorer will draw the model's tensors on the infinite map, in 2D and 3D, with level-of-detail tiles.");
export const chatView = pendingView('chat', 'Chat', "Chat will run a model with the WGSL engine in this window, with the model's chat template and sampling settings.");
