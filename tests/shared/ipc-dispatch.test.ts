import { describe, expect, it } from 'vitest';
import { PxiError, RemoteError } from '../../shared/errors';
import { createApi } from '../../shared/ipc/client';
import { channelNames } from '../../shared/ipc/contract';
import { createDispatcher, type Handlers } from '../../shared/ipc/dispatch';

const ctx = { transport: 'direct' as const, origin: 'test' };

// Only the channels these tests call; the dispatcher never reaches the others.
type Tested = Pick<Handlers, 'app:info' | 'app:log' | 'models:list'>;
function handlers(overrides: Partial<Tested> = {}): Handlers {
  const h: Tested = {
    'app:info': () => ({ name: 'Pixel-LLM', version: '1.2.3', mode: 'browser', platform: 'linux-x64', nodeVersion: '20', dataDir: '/tmp/x' }),
    'app:log': () => ({ logged: true as const }),
    'models:list': () => ({ models: [] }),
    ...overrides,
  };
  return h as Handlers;
}

describe('the IPC dispatcher', () => {
  it('answers a declared channel with a validated value', async () => {
    const env = await createDispatcher(handlers())('app:info', {}, ctx);
    expect(env).toEqual({ ok: true, value: expect.objectContaining({ version: '1.2.3' }) });
  });

  it('refuses channels that are not declared, including prototype names', async () => {
    const d = createDispatcher(handlers());
    for (const channel of ['fs:read', '__proto__', 'constructor', 'toString', 42, null, undefined]) {
      const env = await d(channel, {}, ctx);
      expect(env.ok).toBe(false);
      if (!env.ok) expect(env.error.code).toBe('IPC_UNKNOWN_CHANNEL');
    }
  });

  it('refuses malformed payloads with the field that is wrong', async () => {
    const d = createDispatcher(handlers());
    const cases: [unknown, RegExp][] = [
      [{ level: 'loud', message: 'x' }, /level/],
      [{ level: 'info', message: '' }, /message/],
      [{ level: 'info', message: 'x', extra: 1 }, /extra|unrecognized/i],
      ['a string', /payload|expected object/i],
      [{ level: 'info', message: 'x'.repeat(4001) }, /message/],
    ];
    for (const [payload, field] of cases) {
      const env = await d('app:log', payload, ctx);
      expect(env.ok).toBe(false);
      if (!env.ok) {
        expect(env.error.code).toBe('IPC_INVALID_REQUEST');
        expect(env.error.message).toMatch(field);
      }
    }
  });

  it('refuses a handler response that breaks the contract', async () => {
    const bad = handlers({ 'models:list': () => ({ models: [{ id: 1 }] }) as never });
    const env = await createDispatcher(bad)('models:list', {}, ctx);
    expect(env.ok).toBe(false);
    if (!env.ok) expect(env.error.code).toBe('IPC_INVALID_RESPONSE');
  });

  it('carries typed errors across, and hides nothing but the stack of unexpected ones', async () => {
    const d = createDispatcher(
      handlers({
        'models:list': () => {
          throw new PxiError('VOLUME_LOCKED', 'the volume is locked by another process', { path: '/v' });
        },
        'app:info': () => {
          throw new TypeError('boom');
        },
      }),
    );
    const typed = await d('models:list', {}, ctx);
    expect(typed).toEqual({ ok: false, error: { code: 'VOLUME_LOCKED', name: 'PxiError', message: 'the volume is locked by another process', details: { path: '/v' } } });
    const internal = await d('app:info', {}, ctx);
    expect(internal.ok).toBe(false);
    if (!internal.ok) expect(internal.error).toEqual({ code: 'INTERNAL', name: 'InternalError', message: 'internal error: boom' });
  });

  it('the typed client rethrows errors as PxiError with their code', async () => {
    const d = createDispatcher(handlers());
    const api = createApi({ invoke: (c, r) => d(c, r, ctx), subscribe: () => () => {} });
    await expect(api.call('app:log', { level: 'nope' as 'info', message: 'x' })).rejects.toSatisfy(
      (e) => e instanceof RemoteError && e instanceof PxiError && e.code === 'IPC_INVALID_REQUEST',
    );
    expect((await api.call('app:info', {})).version).toBe('1.2.3');
  });

  it('every declared channel has a request and a response validator', () => {
    expect(channelNames.length).toBeGreaterThan(0);
  });
});
