/**
 * For the channel contract tests (tests/shared/ipc-*.test.ts): a dispatcher's call context, a
 * handler table where only the channels under test answer, and the refusal check.
 */
import { expect } from 'vitest';
import { channelNames } from '../../shared/ipc/contract';
import type { createDispatcher, Handlers } from '../../shared/ipc/dispatch';

/** The call context of a direct (in-process) caller. */
export const ctx = { transport: 'direct' as const, origin: 'test' };

/** Every channel's handler throws "<channel> is not under test" but those in `overrides`. */
export function handlers(overrides: Partial<Handlers>): Handlers {
  const all = Object.fromEntries(
    channelNames.map((c) => [
      c,
      () => {
        throw new Error(`${c} is not under test`);
      },
    ]),
  );
  return { ...all, ...overrides } as Handlers;
}

/** `d` refuses `payload` on `channel` with error `code` and a message matching `msg`. */
export async function refused(d: ReturnType<typeof createDispatcher>, channel: string, payload: unknown, code: string, msg: RegExp): Promise<void> {
  const env = await d(channel, payload, ctx);
  expect(env.ok, `${channel} ${JSON.stringify(payload)?.slice(0, 200)}`).toBe(false);
  if (!env.ok) {
    expect(env.error.code).toBe(code);
    expect(env.error.message).toMatch(msg);
  }
}
