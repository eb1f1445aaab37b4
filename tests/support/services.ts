/**
 * For the tests of the services (tests/node/services, train-handlers, finetune-handlers,
 * train-window): services on a test data folder, the train:event payloads they push, a task's
 * final state as an event to wait on, the text fixtures as files, and a call's outcome as one
 * string to match.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Services } from '../../electron/services';
import type { EventPayload } from '../../shared/ipc/contract';
import { fixturePath } from './fixtures';

/** Services in browser mode on `dataDir` (created if missing). */
export function testServices(dataDir: string): Services {
  return new Services({ dataDir, mode: 'browser', version: '0.0.0-test' });
}

/** Appends every train:event that `services` pushes to `seen`. */
export function collectTrainEvents(services: Services, seen: EventPayload<'train:event'>[]): void {
  services.onEvent((name, payload) => {
    if (name === 'train:event') seen.push(payload as EventPayload<'train:event'>);
  });
}

/**
 * The first `trainChars` characters of the TinyStories training fixture and the first
 * `validChars` of its validation fixture, written as train.txt and valid.txt in `dir`.
 */
export function writeTextSlices(dir: string, trainChars: number, validChars: number): { trainText: string; validText: string } {
  const trainText = path.join(dir, 'train.txt');
  const validText = path.join(dir, 'valid.txt');
  fs.writeFileSync(trainText, fs.readFileSync(fixturePath('corpus', 'tinystories-train.txt'), 'utf8').slice(0, trainChars));
  fs.writeFileSync(validText, fs.readFileSync(fixturePath('corpus', 'tinystories-valid.txt'), 'utf8').slice(0, validChars));
  return { trainText, validText };
}

/**
 * The first tasks:changed event that `services` pushes with a task in a final state (succeeded,
 * failed or cancelled, or those of `states`) and, when given, of that kind: a wait on the event itself, bounded by the
 * test's own timeout. Subscribe before the task can finish.
 */
export function taskSettled(services: Services, kind?: string, states: readonly string[] = ['succeeded', 'failed', 'cancelled']): Promise<EventPayload<'tasks:changed'>> {
  return new Promise((resolve) => {
    services.onEvent((name, payload) => {
      if (name !== 'tasks:changed') return;
      const t = payload as EventPayload<'tasks:changed'>;
      if ((kind === undefined || t.kind === kind) && states.includes(t.state)) resolve(t);
    });
  });
}

/**
 * The first train:event that `services` pushes and `pred` accepts: a wait on the event itself,
 * bounded by the test's own timeout. Subscribe before the event can come.
 */
export function trainEventWhere(services: Services, pred: (e: EventPayload<'train:event'>) => boolean): Promise<EventPayload<'train:event'>> {
  return new Promise((resolve) => {
    services.onEvent((name, payload) => {
      if (name === 'train:event' && pred(payload as EventPayload<'train:event'>)) resolve(payload as EventPayload<'train:event'>);
    });
  });
}

/** 'resolved', or the rejection as "CODE: message". */
export async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return `${(e as { code?: string }).code}: ${(e as Error).message}`;
  }
  return 'resolved';
}
