/**
 * The Electron main process's engine port handler (electron/main/engine-port.ts) without
 * Electron: a worker_threads MessageChannel stands for MessagePortMain, the renderer's own
 * port transport (renderer/src/transport-port.ts) speaks on the other end, and a dispatcher
 * over a stand-in handler set answers. Engine calls go through; other channels are refused as
 * undeclared; the sending frame is checked on arrival and on every call.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { serveEnginePort, type EnginePortLike } from '../../electron/main/engine-port';
import { APP_ORIGIN, type SenderFacts } from '../../electron/main/sender-check';
import type { CallContext, Dispatch } from '../../shared/ipc/dispatch';
import type { Envelope } from '../../shared/ipc/envelope';
import { isEngineChannel, parsePortAnswer, parsePortCall } from '../../shared/ipc/engine-port';
import { portTransport, type PortEnd } from '../../renderer/src/transport-port';

const GOOD: SenderFacts = { frameUrl: `${APP_ORIGIN}/index.html`, isMainFrame: true };

/** MessagePortMain's shape over a worker_threads port: its 'message' listener gets {data}. */
function mainSide(port: MessagePort): EnginePortLike {
  return {
    on(event: 'message' | 'close', listener: ((ev: { data: unknown }) => void) | (() => void)) {
      if (event === 'message') port.on('message', (data) => (listener as (ev: { data: unknown }) => void)({ data }));
      else port.on('close', listener as () => void);
      return this;
    },
    postMessage: (m) => port.postMessage(m),
    start: () => port.start(),
    close: () => port.close(),
  };
}

/** The renderer's end as a DOM-style MessagePort (addEventListener with {data}). */
function pageSide(port: MessagePort): PortEnd {
  return {
    postMessage: (m) => port.postMessage(m),
    addEventListener: (_type, listener) => port.on('message', (data) => listener({ data })),
    start: () => port.start(),
    close: () => port.close(),
  };
}

/** A dispatcher that records what reached it and answers engine:read with bytes. */
function recordingDispatch() {
  const reached: { channel: unknown; ctx: CallContext }[] = [];
  const dispatch: Dispatch = async (channel, payload, ctx) => {
    reached.push({ channel, ctx });
    if (channel === 'engine:read') return { ok: true, value: { bytes: new Uint8Array((payload as { length: number }).length).fill(7) } };
    return { ok: true, value: { channel } };
  };
  return { dispatch, reached };
}

function setup(sender: () => SenderFacts) {
  const { port1, port2 } = new MessageChannel();
  const d = recordingDispatch();
  const served = serveEnginePort(mainSide(port1), { dispatch: d.dispatch, sender, allowedOrigins: [APP_ORIGIN] });
  const t = portTransport(pageSide(port2));
  return { ...d, served, t, port1, port2 };
}

describe('the Electron engine port (main side)', () => {
  it('serves engine calls with the sender\'s origin; the bytes arrive as a Uint8Array', async () => {
    const s = setup(() => GOOD);
    expect(s.served).toBe(true);
    const env = await s.t.invoke('engine:read', { model: 'm', tensor: 't', offset: 0, length: 5 });
    expect(env.ok).toBe(true);
    const bytes = (env as { value: { bytes: Uint8Array } }).value.bytes;
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect([...bytes]).toEqual([7, 7, 7, 7, 7]);
    expect(await s.t.invoke('engine:header', { model: 'm' })).toEqual({ ok: true, value: { channel: 'engine:header' } });
    expect(await s.t.invoke('engine:adapter', { model: 'm', name: 'a' })).toEqual({ ok: true, value: { channel: 'engine:adapter' } });
    expect(s.reached.map((r) => r.ctx)).toEqual([
      { transport: 'electron', origin: APP_ORIGIN },
      { transport: 'electron', origin: APP_ORIGIN },
      { transport: 'electron', origin: APP_ORIGIN },
    ]);
    s.t.close();
  });

  it('refuses any other channel with IPC_UNKNOWN_CHANNEL, before the dispatcher sees it', async () => {
    const s = setup(() => GOOD);
    for (const channel of ['models:list', 'app:log', 'engine:nope', '__proto__']) {
      const env = await s.t.invoke(channel as 'models:list', {});
      expect(env.ok, channel).toBe(false);
      expect((env as Extract<Envelope, { ok: false }>).error.code, channel).toBe('IPC_UNKNOWN_CHANNEL');
    }
    expect(s.reached).toEqual([]);
    s.t.close();
  });

  it('bounds nesting like the WebSocket, and ignores messages that are not calls', async () => {
    const s = setup(() => GOOD);
    let deep: unknown = 0;
    for (let i = 0; i < 200; i++) deep = [deep];
    const env = await s.t.invoke('engine:header', deep);
    expect((env as Extract<Envelope, { ok: false }>).error).toMatchObject({ code: 'IPC_INVALID_REQUEST', message: expect.stringContaining('nests deeper') });
    // Junk gets no answer; the port still serves the call after it (answers come in order).
    s.port2.postMessage('junk');
    s.port2.postMessage({ id: 'x', channel: 'engine:header' });
    expect((await s.t.invoke('engine:header', { model: 'm' })).ok).toBe(true);
    expect(s.reached.map((r) => r.channel)).toEqual(['engine:header']);
    s.t.close();
  });

  it('a port from a frame that is refused is closed at once and serves nothing', async () => {
    for (const bad of [
      { frameUrl: 'https://evil.example/', isMainFrame: true },
      { frameUrl: `${APP_ORIGIN}/index.html`, isMainFrame: false },
      { frameUrl: null, isMainFrame: false },
    ]) {
      const { port1, port2 } = new MessageChannel();
      const closed = new Promise<void>((r) => port2.once('close', () => r()));
      const d = recordingDispatch();
      expect(serveEnginePort(mainSide(port1), { dispatch: d.dispatch, sender: () => bad, allowedOrigins: [APP_ORIGIN] })).toBe(false);
      await closed;
    }
  });

  it('checks the frame on every call: once it is gone, calls are refused as a forbidden sender', async () => {
    let facts = GOOD;
    const s = setup(() => facts);
    expect((await s.t.invoke('engine:header', { model: 'm' })).ok).toBe(true);
    facts = { frameUrl: null, isMainFrame: false };
    for (const [channel, payload] of [
      ['engine:header', { model: 'm' }],
      ['engine:adapter', { model: 'm', name: 'a' }],
      ['engine:read', { model: 'm', tensor: 't', offset: 0, length: 1 }],
    ] as const) {
      const env = await s.t.invoke(channel, payload);
      expect((env as Extract<Envelope, { ok: false }>).error.code, channel).toBe('IPC_FORBIDDEN_SENDER');
    }
    expect(s.reached).toHaveLength(1);
    s.t.close();
  });

  it('the page side fails its pending and later calls once closed, instead of leaving them waiting', async () => {
    const { port1, port2 } = new MessageChannel();
    // A main side that never answers.
    port1.on('message', () => undefined);
    const t = portTransport(pageSide(port2));
    const pending = t.invoke('engine:header', { model: 'm' });
    t.close();
    expect(await pending).toMatchObject({ ok: false, error: { code: 'IPC_TRANSPORT' } });
    expect(await t.invoke('engine:header', { model: 'm' })).toMatchObject({ ok: false, error: { code: 'IPC_TRANSPORT' } });
    port1.close();
  });
});

describe('engine port messages', () => {
  it('only engine channels count; calls and answers are parsed strictly', () => {
    expect(isEngineChannel('engine:read')).toBe(true);
    expect(isEngineChannel('engine:nope')).toBe(false);
    expect(isEngineChannel('models:list')).toBe(false);
    expect(isEngineChannel(42)).toBe(false);
    expect(parsePortCall({ id: 1, channel: 'engine:read', payload: { a: 1 } })).toEqual({ id: 1, channel: 'engine:read', payload: { a: 1 } });
    expect(parsePortCall({ id: 1.5, channel: 'engine:read' })).toBeNull();
    expect(parsePortCall({ id: 1, channel: 7 })).toBeNull();
    expect(parsePortCall(null)).toBeNull();
    expect(parsePortAnswer({ id: 2, result: { ok: true, value: 1 } })).toEqual({ id: 2, result: { ok: true, value: 1 } });
    expect(parsePortAnswer({ id: 2, result: { value: 1 } })).toBeNull();
    expect(parsePortAnswer({ id: 2, result: null })).toBeNull();
  });
});
