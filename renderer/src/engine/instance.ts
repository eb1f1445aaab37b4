/**
 * The renderer's one engine: the chat view generates with it, the explorer watches it. It
 * lives as long as the page, so a model loaded in Chat keeps generating while the user looks
 * at the map.
 */
import type { PxiApi } from '../../../shared/ipc/client';
import { EngineHost } from './host';

let host: EngineHost | null = null;

export function engineHost(api: PxiApi): EngineHost {
  host ??= new EngineHost(api);
  return host;
}
