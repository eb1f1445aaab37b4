import { el, type View } from './types';

export const modelsView: View = {
  id: 'models',
  title: 'Models',
  async render(root, { api }) {
    root.append(el('h1', {}, 'Models'));
    const { models } = await api.call('models:list', {});
    if (models.length === 0) {
      root.append(
        el('p', { className: 'empty' }, 'No model in this volume yet. ', el('a', { href: '#/import' }, 'Import a GGUF model'), ' to store it as pixel tiles.'),
      );
      return;
    }
    const table = el('table', { className: 'grid' });
    table.append(el('tr', {}, ...['Name', 'Architecture', 'Parameters', 'Size', 'Types', 'Verified'].map((h) => el('th', {}, h))));
    for (const m of models) {
      table.append(
        el(
          'tr',
          {},
          el('td', {}, m.name),
          el('td', {}, m.architecture),
          el('td', {}, m.parameterCount.toLocaleString()),
          el('td', {}, `${(m.bytes / 1024 ** 2).toFixed(1)} MiB`),
          el('td', {}, m.tensorTypes.join(', ')),
          el('td', {}, m.verified),
        ),
      );
    }
    root.append(table);
  },
};
