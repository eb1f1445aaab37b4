/**
 * A trained model's import into the volume (electron/train/task.ts importTrainedModel): training
 * again replaces the model an earlier training imported under the recipe's name, but never a model
 * of that name the user imported from elsewhere (it is kept; the trained one is NAME-trained).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../electron/cli/storage-helpers';
import { importTrainedModel } from '../../electron/train/task';
import { parseRecipe } from '../../shared/train/recipe';
import { fixturePath } from '../support/fixtures';

const dir = mkdtempSync(join(tmpdir(), 'pxi-train-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const recipe = parseRecipe({ name: 'tiny', model: { dim: 8, layers: 1, heads: 2, ff: 8, context: 8 }, data: { train: ['t.txt'] }, train: { steps: 1 } });
// Any valid GGUF stands for the trained model here: what is checked is which model keeps the name.
const gguf = new Uint8Array(readFileSync(fixturePath('models', 'stories260K.gguf')));

describe('importing a trained model', () => {
  it('replaces its own earlier import, keeps a user model of the same name', async () => {
    const store = await openStore(join(dir, 'volume'), true);
    try {
      const said: string[] = [];
      const first = await importTrainedModel(store, recipe, 'run-a', gguf, (m) => said.push(m));
      expect(store.get(first).name).toBe('tiny');
      const second = await importTrainedModel(store, recipe, 'run-a', gguf, (m) => said.push(m));
      expect(store.list().map((m) => m.name)).toEqual(['tiny']);
      expect(store.get(second).name).toBe('tiny');

      // The user's own model named like the recipe.
      await store.remove(second);
      const mine = (await store.import(fixturePath('models', 'stories260K.gguf'), { name: 'tiny' })).model.id;
      const third = await importTrainedModel(store, recipe, 'run-b', gguf, (m) => said.push(m));
      expect(store.get(mine).name).toBe('tiny');
      expect(store.get(third).name).toBe('tiny-trained');
      expect(said.join('\n')).toMatch(/a model named tiny that training did not make is in the volume: it is kept, and this one is named tiny-trained/);
      // Training again replaces the trained one, still leaving the user's.
      const fourth = await importTrainedModel(store, recipe, 'run-b', gguf, () => undefined);
      expect(store.list().map((m) => m.name).sort()).toEqual(['tiny', 'tiny-trained']);
      expect(store.get(fourth).name).toBe('tiny-trained');
      expect(store.get(mine).name).toBe('tiny');
    } finally {
      await store.close();
    }
  }, 120_000);
});
