import { existsSync, mkdirSync } from 'node:fs';
import { writeFileDurable } from '../pixelfs/file-ops';
import { EventEmitter } from 'node:events';
import { createDispatcher, type Dispatch, type Handlers } from '../../shared/ipc/dispatch';
import { events, type EventName, type EventPayload } from '../../shared/ipc/contract';
import { join } from 'node:path';
import { ModelStore } from '../models/store';
import { modelTaskHandlers } from '../ops/model-tasks';
import { DEFAULT_MODEL_NAME, defaultModelPath } from '../models/default-model';
import { TaskQueue } from '../tasks/queue';
import { mapHandlers } from './map-handlers';
import { engineHandlers } from './engine-handlers';
import { fileHandlers, type ChooseFile } from './file-handlers';
import { modelHandlers } from './model-handlers';
import { taskHandlers } from './task-handlers';
import { TrainService } from './train-handlers';
import { conversationHandlers } from './conversation-handlers';
import { corpusHandlers } from './corpus-handlers';
import { CONVERSATIONS_DB_FILE, ConversationStore } from '../conversations/store';
import { openSessionStore, sessionHandlers, storeLayoutUndo } from './session-handlers';
import { sessionsFilePath, type SessionStore } from '../sessions/store';
import { tuningFilePath } from '../engine/tuning-store';

export interface ServiceOptions {
  /** Where volumes, catalogs and logs live. Created if missing. */
  dataDir: string;
  mode: 'electron' | 'browser';
  version: string;
  /**
   * On the first start of a data folder whose volume holds no model, queue the import of the default model
   * (resources/default-model.json: a small llama the project trained) and queue its import, so a new user
   * has a model to open. Off for tests (PXI_NO_DEFAULT_MODEL=1) and `pxi serve --no-default-model`.
   */
  importDefaultModel?: boolean;
  /** Where `app:log` entries go; stderr by default. */
  log?: (level: string, message: string) => void;
  /** The native open dialog (Electron); without it `files:chooseGguf` says to type a path. */
  chooseFile?: ChooseFile;
}

/**
 * A page's text as it may reach a terminal: escape sequences (CSI, OSC, 8-bit CSI) and other
 * control characters removed, so a page cannot recolour, retitle or rewrite the terminal; line
 * breaks and tabs stay.
 */
export function terminalSafe(text: string): string {
  return text
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]|\u009b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?/g, '')
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

export type EventListener = (name: EventName, payload: unknown) => void;

/**
 * The main-process services behind the IPC contract. One instance serves one host: the
 * Electron main process or `pxi serve`; both reach it only through `dispatch`.
 */
export class Services {
  readonly dispatch: Dispatch;
  private readonly bus = new EventEmitter();
  private storePromise: Promise<ModelStore> | undefined;
  private closing = false;
  private readonly defaultModelOffered: Promise<void>;
  private readonly queue: TaskQueue;
  private conversationStore: ConversationStore | undefined;
  /** Self-improvement sessions and the kernel tuning file they undo, both in the data folder. */
  readonly sessions: SessionStore;

  constructor(readonly options: ServiceOptions) {
    mkdirSync(options.dataDir, { recursive: true });
    this.sessions = openSessionStore(sessionsFilePath(options.dataDir), tuningFilePath(options.dataDir), storeLayoutUndo(() => this.store()));
    const log = options.log ?? ((level, message) => process.stderr.write(`[renderer ${level}] ${message}\n`));
    // Training and fine-tuning run as tasks of the queue below, on Dawn in this process; their events go out as train:event.
    const training = new TrainService({
      dataDir: options.dataDir,
      store: () => this.store(),
      queue: () => this.queue,
      emit: (payload) => this.emit('train:event', payload),
      log: (message) => process.stderr.write(`[training] ${message}\n`),
      recordSession: (s) => this.sessions.add(s),
    });
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
        log(level, terminalSafe(message));
        return { logged: true as const };
      },
      ...modelHandlers(() => this.store()),
      ...taskHandlers(() => this.queue),
      ...mapHandlers(() => this.store()),
      ...engineHandlers(() => this.store()),
      ...fileHandlers(() => this.store(), options.chooseFile),
      ...training.handlers(),
      ...conversationHandlers(() => this.conversations()),
      ...corpusHandlers(() => this.store()),
      ...sessionHandlers(() => this.sessions),
    };
    this.dispatch = createDispatcher(handlers);
    // Tasks a crash left running resume here; progress goes to every renderer as an event.
    this.queue = new TaskQueue(join(options.dataDir, 'tasks.sqlite'), [...modelTaskHandlers(() => this.store()), training.taskHandler(), training.finetuneTaskHandler()]);
    this.queue.onChange((task) => this.emit('tasks:changed', task));
    // Take the volume now, not at the first call: the queue recovers tasks "a crash left running"
    // only once this host holds the volume's lock, so a second host on the same data folder
    // cannot mistake the first one's running import for a crashed one. A failure is reported
    // by ready() and by each call, and retried by the next call (store()).
    this.defaultModelOffered = options.importDefaultModel ? this.offerDefaultModel() : Promise.resolve();
    this.ready().catch(() => {});
  }

  /**
   * Resolves once this host holds the volume, its task queue runs and the first-start default
   * model is queued or not; rejects with why not (PIXELFS_VOLUME_LOCKED when another host has it).
   */
  async ready(): Promise<void> {
    await this.store();
    await this.defaultModelOffered;
  }

  private async offerDefaultModel(): Promise<void> {
    const marker = join(this.options.dataDir, 'default-model-offered');
    if (existsSync(marker)) return;
    try {
      const store = await this.store();
      if (store.list().length === 0) {
        const path = defaultModelPath();
        this.queue.enqueue('model.import', { path, name: DEFAULT_MODEL_NAME });
      }
      // Once only: a user who deletes the default model does not get it back.
      await writeFileDurable(marker, new TextEncoder().encode(`${new Date().toISOString()}\n`));
    } catch (e) {
      const message = `the default model could not be prepared: ${(e as Error).message}`;
      process.stderr.write(`${message}\n`);
      this.emit('app:notice', { level: 'warn', message });
    }
  }

  /** The folder of the volume this host serves. */
  volumeDir(): string {
    return join(this.options.dataDir, 'volume');
  }

  /**
   * The volume this host serves (`<dataDir>/volume`), opened (and created) at start. A failed
   * open is not kept: the next call tries again, so a volume another program held becomes
   * usable once that program stops, without a restart.
   */
  store(): Promise<ModelStore> {
    if (!this.storePromise) {
      const opening = ModelStore.open(this.volumeDir(), { create: true }).then((store) => {
        // Holding the volume's lock is what makes this host the one that resumes its tasks.
        if (!this.closing) this.queue.start();
        return store;
      });
      this.storePromise = opening;
      opening.catch(() => {
        if (this.storePromise === opening) this.storePromise = undefined;
      });
    }
    return this.storePromise;
  }

  /**
   * The Chat view's conversations, opened on first use: `conversations.sqlite` in the volume
   * folder, beside the model store's `models.sqlite` whose models they name.
   */
  conversations(): ConversationStore {
    if (!this.conversationStore) {
      mkdirSync(this.volumeDir(), { recursive: true });
      this.conversationStore = ConversationStore.open(join(this.volumeDir(), CONVERSATIONS_DB_FILE));
    }
    return this.conversationStore;
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

  async close(): Promise<void> {
    this.closing = true;
    this.bus.removeAllListeners();
    await this.queue.close();
    this.conversationStore?.close();
    this.conversationStore = undefined;
    const store = this.storePromise;
    this.storePromise = undefined;
    // A volume that never opened has nothing to close.
    if (store) await (await store.catch(() => undefined))?.close();
  }
}
