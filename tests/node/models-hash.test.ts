import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChunkChannel } from '../../electron/models/channel';
import { HashRing } from '../../electron/models/hash-ring';
import { RateMeter, formatDuration } from '../../electron/models/progress';
import { TilePool } from '../../electron/pixelfs/index';

describe('hash ring', () => {
  // The streams go to a PixelFS pool's hash thread, as a store's do (one hash pool).
  it('hashes interleaved streams in order through a small ring of recycled slots, on the pool hash thread', async () => {
    const pool = new TilePool({ size: 1 });
    const hw = new HashRing(1000, 3, () => pool.fileHash());
    try {
      const data = [randomBytes(7777), randomBytes(1), randomBytes(0), randomBytes(3000)];
      const streams = data.map(() => hw.stream());
      // Interleave the streams chunk by chunk; 3 slots for 4 streams forces waits and reuse.
      const offs = data.map(() => 0);
      for (let round = 0; offs.some((o, i) => o < data[i]!.length); round++) {
        for (let i = 0; i < data.length; i++) {
          if (offs[i]! >= data[i]!.length) continue;
          const slot = await hw.acquire();
          const n = Math.min(hw.slotBytes, data[i]!.length - offs[i]!, 1 + ((round * 37 + i * 11) % 1000));
          slot.bytes.set(data[i]!.subarray(offs[i]!, offs[i]! + n));
          streams[i]!.update(slot, n);
          // Scribbling after release must not change what was hashed (the worker holds the slot).
          hw.release(slot.index);
          offs[i]! += n;
        }
      }
      const got = await Promise.all(streams.map((s) => s.digest()));
      expect(got).toEqual(data.map((d) => createHash('sha256').update(d).digest('hex')));
      const big = randomBytes(4500);
      const s = hw.stream();
      await hw.updateFrom(s, big);
      expect(await s.digest()).toBe(createHash('sha256').update(big).digest('hex'));
    } finally {
      await hw.close();
      await pool.close();
    }
  });
});

describe('chunk channel', () => {
  it('bounds the queue, releases each chunk when the consumer asks for the next, and unblocks a producer when the consumer stops', async () => {
    const ch = new ChunkChannel(2);
    const released: number[] = [];
    const pushed: number[] = [];
    let thirdCalled!: () => void;
    const atThird = new Promise<void>((r) => (thirdCalled = r));
    const producer = (async () => {
      for (let i = 0; i < 5; i++) {
        const p = ch.push(Uint8Array.of(i), () => released.push(i));
        if (i === 2) thirdCalled();
        await p;
        pushed.push(i);
      }
      ch.end();
    })();
    // The third push has been made; setImmediate runs only once every pending promise job has,
    // so a push that did not wait would have been recorded by then (no wall-clock wait).
    await atThird;
    await new Promise((r) => setImmediate(r));
    expect(pushed).toEqual([0, 1]); // capacity 2: the third push waits
    const seen: number[] = [];
    for await (const c of ch) {
      expect(released).not.toContain(c[0]); // the chunk in hand is not released yet
      seen.push(c[0]!);
    }
    await producer;
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(released).toEqual([0, 1, 2, 3, 4]);

    const ch2 = new ChunkChannel(1);
    const rel2: number[] = [];
    await ch2.push(Uint8Array.of(9), () => rel2.push(9));
    const blocked = ch2.push(Uint8Array.of(8), () => rel2.push(8));
    const it = ch2[Symbol.asyncIterator]();
    await it.next();
    await blocked;
    await it.return!();
    expect(rel2.sort()).toEqual([8, 9]);
    await expect(ch2.push(Uint8Array.of(7))).rejects.toThrow(/stopped reading/);
  });

  it('a producer failure reaches the consumer', async () => {
    const ch = new ChunkChannel();
    await ch.push(Uint8Array.of(1));
    ch.fail(new Error('cancelled'));
    const it = ch[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow('cancelled');
  });
});

describe('progress', () => {
  it('reports the rate over the recent window and an ETA', () => {
    let now = 0;
    const m = new RateMeter(5000, () => now);
    expect(m.sample(0, 1000).etaSeconds).toBeNull();
    now = 1000;
    expect(m.sample(100, 1000)).toEqual({ bytesPerSecond: 100, etaSeconds: 9 });
    now = 11_000; // a fast stretch: the window forgets the slow start
    const r = m.sample(900, 1000);
    expect(r.bytesPerSecond).toBeCloseTo(80, 5);
    expect(formatDuration(75)).toBe('1m15s');
    expect(formatDuration(null)).toBe('?');
  });
});
