/**
 * Binary answers across the IPC: the engine:read contract takes bytes and nothing else, the
 * caller's check wants exactly the length it asked for, and browser mode's binary frame codec
 * round-trips bytes exactly while refusing every malformed frame with IPC_MALFORMED_FRAME.
 */
import { describe, expect, it } from 'vitest';
import { PxiError } from '../../shared/errors';
import { BINARY_FRAME, decodeBinaryFrame, encodeFrame, MalformedFrameError } from '../../shared/ipc/binary-frame';
import { ownedBytes } from '../../shared/ipc/channels/common';
import { checkEngineRead, ENGINE_LIMITS } from '../../shared/ipc/channels/engine';
import { createDispatcher, type Handlers } from '../../shared/ipc/dispatch';

const ctx = { transport: 'direct' as const, origin: 'test' };
const read = { model: 'm', tensor: 'blk.0.attn_q.weight', offset: 0, length: 16 };

function readDispatcher(answer: () => unknown) {
  return createDispatcher({ 'engine:read': answer } as unknown as Handlers);
}

function randomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A binary frame built by hand: magic, header length, the header JSON (padded), then `tail`. */
function handFrame(header: unknown, tail: Uint8Array = new Uint8Array(0), opts: { magic?: string; headerLength?: number; pad?: boolean } = {}): Uint8Array {
  let json = new TextEncoder().encode(JSON.stringify(header));
  if (opts.pad !== false) {
    const pad = (8 - ((8 + json.length) % 8)) % 8;
    json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  }
  const out = new Uint8Array(8 + json.length + tail.length);
  out.set(new TextEncoder().encode(opts.magic ?? 'PXB1'), 0);
  new DataView(out.buffer).setUint32(4, opts.headerLength ?? json.length, true);
  out.set(json, 8);
  out.set(tail, 8 + json.length);
  return out;
}

function malformed(message: Uint8Array): MalformedFrameError {
  try {
    decodeBinaryFrame(message);
  } catch (e) {
    expect(e).toBeInstanceOf(MalformedFrameError);
    expect((e as PxiError).code).toBe('IPC_MALFORMED_FRAME');
    return e as MalformedFrameError;
  }
  throw new Error('the frame was accepted');
}

describe('engine:read answers are binary', () => {
  it('the dispatcher passes bytes through and refuses text, number arrays and oversized answers', async () => {
    const bytes = randomBytes(16);
    const good = await readDispatcher(() => ({ bytes }))('engine:read', read, ctx);
    expect(good.ok).toBe(true);
    // The very bytes, not a copy: an 8 MiB answer costs no extra pass.
    if (good.ok) expect((good.value as { bytes: Uint8Array }).bytes).toBe(bytes);
    for (const [label, answer, why] of [
      ['base64 text', { bytes: Buffer.from(bytes).toString('base64') }, /bytes: expected binary bytes/],
      ['numbers', { bytes: [...bytes] }, /bytes: expected binary bytes/],
      ['Uint16Array', { bytes: new Uint16Array(8) }, /bytes: expected binary bytes/],
      ['ArrayBuffer', { bytes: bytes.buffer }, /bytes: expected binary bytes/],
      ['oversized', { bytes: new Uint8Array(ENGINE_LIMITS.readBytes + 1) }, new RegExp(`bytes: at most ${ENGINE_LIMITS.readBytes} bytes`)],
      ['extra key', { bytes, extra: 1 }, /extra/],
    ] as const) {
      const env = await readDispatcher(() => answer)('engine:read', read, ctx);
      expect(env.ok, label).toBe(false);
      if (!env.ok) {
        expect(env.error.code).toBe('IPC_INVALID_RESPONSE');
        expect(env.error.message, label).toMatch(why);
      }
    }
  });

  it('the caller wants exactly the length it asked for', () => {
    const bytes = randomBytes(16);
    expect(checkEngineRead({ bytes }, read)).toBe(bytes);
    for (const answer of [{ bytes: randomBytes(15) }, { bytes: randomBytes(17) }, { bytes: 'AAAA' }, null, { bytes: [1, 2] }]) {
      expect(() => checkEngineRead(answer, read)).toThrow(expect.objectContaining({ code: 'IPC_INVALID_RESPONSE', message: expect.stringContaining('blk.0.attn_q.weight') }));
    }
  });

  it('ownedBytes copies a view of a larger buffer and keeps an exact one as it is', () => {
    const big = randomBytes(64);
    const view = big.subarray(8, 24);
    const owned = ownedBytes(view);
    expect(owned.buffer.byteLength).toBe(16);
    expect([...owned]).toEqual([...view]);
    const pooled = Buffer.from([1, 2, 3]);
    expect(pooled.buffer.byteLength).toBeGreaterThan(3); // a slab of Buffer's pool
    expect(ownedBytes(pooled).buffer.byteLength).toBe(3);
    const exact = new Uint8Array(32);
    expect(ownedBytes(exact).buffer).toBe(exact.buffer);
    expect(Buffer.isBuffer(ownedBytes(Buffer.alloc(8192)))).toBe(false);
  });
});

describe('binary frames', () => {
  it('a frame without bytes stays JSON text; one with bytes round-trips them exactly, 8-aligned', () => {
    expect(encodeFrame({ id: 1, result: { ok: true, value: { n: 1 } } })).toBe('{"id":1,"result":{"ok":true,"value":{"n":1}}}');
    for (const n of [0, 1, 7, 8, 9, 4093, 65536 + 3]) {
      const bytes = randomBytes(n, n + 1);
      const frame = { id: 42, result: { ok: true, value: { bytes, note: 'x'.repeat(n % 5) } } };
      const wire = encodeFrame(frame);
      expect(wire).toBeInstanceOf(Uint8Array);
      const back = decodeBinaryFrame(wire as Uint8Array) as typeof frame;
      expect(back.id).toBe(42);
      expect(back.result.value.note).toBe(frame.result.value.note);
      expect(back.result.value.bytes).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(back.result.value.bytes).equals(Buffer.from(bytes))).toBe(true);
      expect(back.result.value.bytes.byteOffset % 8).toBe(0);
      // The sender's frame is left as it was.
      expect(frame.result.value.bytes).toBe(bytes);
    }
  });

  it('several parts, in arrays and objects, each land where they were', () => {
    const a = randomBytes(5, 3);
    const b = randomBytes(11, 4);
    const c = randomBytes(0, 5);
    const wire = encodeFrame({ id: 7, channel: 'x', payload: { list: [a, { b }], c } }) as Uint8Array;
    const back = decodeBinaryFrame(wire) as { payload: { list: [Uint8Array, { b: Uint8Array }]; c: Uint8Array } };
    expect([...back.payload.list[0]]).toEqual([...a]);
    expect([...back.payload.list[1].b]).toEqual([...b]);
    expect(back.payload.c.byteLength).toBe(0);
    expect(back.payload.list[1].b.byteOffset % 8).toBe(0);
  });

  it('refuses a wrong magic, a bad header length, non-JSON or non-UTF-8 headers', () => {
    const ok = encodeFrame({ id: 3, result: { ok: true, value: { bytes: randomBytes(9) } } }) as Uint8Array;
    expect(malformed(ok.subarray(0, 3)).message).toContain('magic');
    const wrongMagic = ok.slice();
    wrongMagic[0] = 0x58;
    expect(malformed(wrongMagic).message).toMatch(/magic "XXB1" is not "PXB1"/);
    const huge = ok.slice();
    new DataView(huge.buffer).setUint32(4, 0xfffffff8, true);
    expect(malformed(huge).message).toContain('header length 4294967288');
    const odd = ok.slice();
    new DataView(odd.buffer).setUint32(4, 13, true);
    expect(malformed(odd).message).toContain('multiple of 8');
    // A header length that runs past the message (within the limit).
    expect(malformed(handFrame({ frame: { id: 1 }, parts: [] }, new Uint8Array(0), { headerLength: 1000 })).message).toMatch(/header.*need 1000 bytes/);
    expect(malformed(handFrame('not json', undefined, { pad: true }).fill(0x7b, 8)).message).toContain('not UTF-8 JSON');
    const badUtf8 = handFrame({ frame: { id: 1 }, parts: [{ path: ['a'], length: 0 }] });
    badUtf8[10] = 0xff;
    expect(malformed(badUtf8).message).toContain('not UTF-8 JSON');
    expect(BINARY_FRAME.maxHeaderBytes).toBe(1 << 20);
  });

  it('refuses parts that are truncated, oversized, misplaced or followed by extra bytes, naming the frame id', () => {
    const header = (parts: unknown, frame: unknown = { id: 9, result: { ok: true, value: { bytes: null } } }) => ({ frame, parts });
    const path = ['result', 'value', 'bytes'];
    // Truncated: the header promises 100 bytes, 60 came.
    const truncated = malformed(handFrame(header([{ path, length: 100 }]), randomBytes(60)));
    expect(truncated.message).toMatch(/parts\[0\].*need 100 bytes, 60 available/);
    expect(truncated.details).toEqual({ id: 9 });
    // Oversized lengths that no message can hold, and lengths that are not counts.
    expect(malformed(handFrame(header([{ path, length: 2 ** 53 }]))).message).toMatch(/not a byte count/);
    expect(malformed(handFrame(header([{ path, length: -1 }]))).message).toMatch(/not a byte count/);
    expect(malformed(handFrame(header([{ path, length: 4e9 }]), randomBytes(8))).message).toMatch(/need 4000000000 bytes/);
    // Extra bytes after the last part.
    expect(malformed(handFrame(header([{ path, length: 4 }]), randomBytes(12))).message).toContain('8 bytes after the last part');
    // Parts must be listed, and at most maxParts.
    expect(malformed(handFrame(header([]))).message).toContain('header.parts');
    expect(malformed(handFrame(header(Array.from({ length: 17 }, () => ({ path, length: 0 }))))).message).toContain('1 to 16 parts');
    // Paths must name a null placeholder of the frame, through own keys, never prototype keys.
    expect(malformed(handFrame(header([{ path: ['result', 'nope'], length: 0 }]))).message).toContain('does not name a value');
    expect(malformed(handFrame(header([{ path: ['result', 'ok'], length: 0 }]))).message).toContain('not a null placeholder');
    expect(malformed(handFrame(header([{ path: ['__proto__'], length: 0 }]))).message).toContain('"__proto__"');
    expect(malformed(handFrame(header([{ path: ['result', 'value', 'constructor'], length: 0 }]))).message).toContain('"constructor"');
    expect(malformed(handFrame(header([{ path: [], length: 0 }]))).message).toContain('path');
    expect(malformed(handFrame(header([{ path: ['result', 0], length: 0 }]))).message).toContain('does not name a value');
    expect(malformed(handFrame(header([{ path, length: 0 }], null))).message).toContain('header.frame');
    // Two parts for one slot: the second finds it taken.
    expect(malformed(handFrame(header([{ path, length: 0 }, { path, length: 0 }]))).message).toContain('not a null placeholder');
    // Non-zero padding between parts.
    const two = handFrame(
      { frame: { id: 2, a: null, b: null }, parts: [{ path: ['a'], length: 3 }, { path: ['b'], length: 1 }] },
      Uint8Array.from([1, 2, 3, 0, 0, 0, 0, 0, 4]),
    );
    expect((decodeBinaryFrame(two) as { b: Uint8Array }).b[0]).toBe(4);
    const dirty = two.slice();
    dirty[dirty.length - 2] = 1;
    expect(malformed(dirty).message).toContain('padding before parts[1] is not zero');
  });

  it('never throws anything but MalformedFrameError for random damage', () => {
    const ok = encodeFrame({ id: 5, result: { ok: true, value: { bytes: randomBytes(40) } } }) as Uint8Array;
    const rnd = randomBytes(4000, 99);
    for (let i = 0; i < 1000; i++) {
      const m = ok.slice(0, (rnd[i]! * 7 + i) % (ok.length + 1));
      if (m.length > 8) m[8 + (rnd[(i + 1) % 4000]! % (m.length - 8))] ^= 1 << (i % 8);
      try {
        decodeBinaryFrame(m);
      } catch (e) {
        expect(e).toBeInstanceOf(MalformedFrameError);
      }
    }
  });
});
