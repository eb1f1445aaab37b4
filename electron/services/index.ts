import { mkdirSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { createDispatcher, type Dispatch, type Handlers } from '../../shared/ipc/dispatch';
import { events, type EventName, type EventPayload } from '../../shared/ipc/contract';

export interface ServiceOptions {
  /** Where volumes, catalogs and logs live. Created if missing. */
  dataDir: string;
  mode: 'electron' | 'browser';
  version: string;
  /** Where `app:log` entries go; stderr by default. */
  log?: (level: string, message: string) => void;
}

export type EventListener = (name: EventName, payload: unknown) => void;

/**
 * The main-process services behind the IPC contract. One instance serves one host: the
 * Electron main process or `pxi serve`; both reach it only through `dispatch`.
 */
export class Services {
  readonly dispatch: Dispatch;
  private readonly bus = new EventEmitter();

  constructor(readonly options: ServiceOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    const log = options.log ?? ((level, message) => process.stderr.write(`[renderer ${level}] ${message}\n`));
    const handlers: Handlers = {
      'app:info': () => ({
        name: 'Pixel-LLM',
        version: options.version,
        mode: options.mode,
        platform: `${process.platform}-${process.arch}`,
        nodeVersion: process.versions.node,
        dataDir: options.dataDir,
      }),
      'app:log': ({ level, message }) => {
        log(level, message);
        return { logged: true as const };
      },
      // The model catalogue arrives with the storage service (PixelFS); until a volume holds
      // a model the honest answer is an empty list.
      'models:list': () => ({ models: [] }),
    };
    this.dispatch = createDispatcher(handlers);
  }

  /** Pushes an event to every connected renderer; the payload is validated like a response. */
  emit<E extends EventName>(name: E, payload: EventPayload<E>): void {
    const checked = events[name].parse(payload);
    this.bus.emit('event', name, checked);
  }

  onEvent(listener: EventListener): () => void {
    this.bus.on('event', listener);
    return () => this.bus.off('event', listener);
  }

  close(): void {
    this.bus.removeAllListeners();
  }
}
