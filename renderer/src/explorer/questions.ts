import type { PxiApi } from '../../../shared/ipc/client';
import type { Rect } from '../../../shared/map/geometry';
import type { NavModelMap } from '../../../shared/nav/check';
import type { ParsedNavQuestion } from '../../../shared/nav/parse';
import type { AskPanel } from './ask';

/** A model on the map, as the overview lists it. */
interface MapModel {
  modelId: string;
  name: string;
  box: Rect;
}

/**
 * Routes a navigation question typed in the search box to the answers panel with the map index
 * of the model it is about (specs/explorer.md, "Questions"). Each model's weight regions are
 * read once (weights never move); a failed read is asked again by the next question.
 */
export class NavQuestions {
  private readonly navMaps = new Map<string, Promise<{ map: NavModelMap; truncated: boolean }>>();

  constructor(
    private readonly api: PxiApi,
    private readonly ask: AskPanel,
    /** The models on the map. */
    private readonly models: () => readonly MapModel[],
    /** The model in view (the selected tensor's, else the one nearest the view centre). */
    private readonly modelInView: () => string | null,
  ) {}

  /** Asks `q` about the model it names, else the model in view. */
  async question(q: ParsedNavQuestion): Promise<void> {
    const models = this.models();
    let model: MapModel | undefined;
    if (q.model) {
      const lower = q.model.toLowerCase();
      model = models.find((m) => m.name === q.model || m.modelId === q.model) ?? models.find((m) => m.name.toLowerCase() === lower);
      if (!model) return this.ask.fail(q, `No model named “${q.model}” is on the map: ask about one of ${models.map((m) => m.name).join(', ') || 'none'}.`);
    } else {
      const id = this.modelInView();
      model = models.find((m) => m.modelId === id);
      if (!model) return this.ask.fail(q, 'No model is on the map to ask about.');
    }
    let nav: { map: NavModelMap; truncated: boolean };
    try {
      nav = await this.navMap(model);
    } catch (e) {
      return this.ask.fail(q, `The map's regions of ${model.name} could not be read: ${(e as Error).message}`);
    }
    const notes: string[] = [];
    if (nav.truncated) notes.push(`${model.name} has more tensors than one answer lists: the index knows the first ${nav.map.regions.length}.`);
    if (!q.model && models.length > 1) notes.push(`Asked about ${model.name}, the model in view (“in MODEL, where is …?” names another).`);
    await this.ask.ask(q, nav.map, notes);
  }

  private navMap(m: MapModel): Promise<{ map: NavModelMap; truncated: boolean }> {
    let p = this.navMaps.get(m.modelId);
    if (!p) {
      const v = { x0: m.box.x, y0: m.box.y, x1: m.box.x + m.box.width, y1: m.box.y + m.box.height };
      p = this.api.call('map:regions', { viewport: v, modelId: m.modelId, kinds: ['weights'], limit: 5000 }).then((res) => ({
        map: { name: m.name, box: m.box, regions: res.regions.map((r) => ({ name: r.name, ...r.rect })) },
        truncated: res.truncated,
      }));
      // A failure is not kept: the next question asks again.
      p.catch(() => this.navMaps.delete(m.modelId));
      this.navMaps.set(m.modelId, p);
    }
    return p;
  }
}
