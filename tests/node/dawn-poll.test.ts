/**
 * electron/gpu/dawn-poll.ts: Dawn's poll callbacks spin through setImmediate for the first
 * spinMs of a wait and then go to a 1 ms timer; JS callbacks are never touched; a call from
 * inside a scheduled callback continues its wait, one from outside starts a new one. Driven by
 * a fake clock (no wall-clock timing); then, where WebGPU runs, a real mapAsync still resolves
 * with the scheduler installed.
 */
import { describe, expect, it } from 'vitest';
import { dawnPollScheduler, isNativeFunction, type PollClock } from '../../electron/gpu/dawn-poll';
import { openNodeGpu } from '../support/webgpu-node';

type Queued = { how: 'immediate' | 'timeout'; fn: () => void; ms?: number };

function fakeClock(): PollClock & { t: number; queue: Queued[]; runNext(): Queued } {
  const c = {
    t: 0,
    queue: [] as Queued[],
    setImmediate: (fn: (...args: unknown[]) => void, ...args: unknown[]) => c.queue.push({ how: 'immediate', fn: () => fn(...args) }),
    setTimeout: (fn: () => void, ms: number) => c.queue.push({ how: 'timeout', fn, ms }),
    now: () => c.t,
    runNext(): Queued {
      const q = c.queue.shift();
      if (!q) throw new Error('nothing queued');
      q.fn();
      return q;
    },
  };
  return c;
}

// A native function that, like Dawn's poll, asks to run again while `pending` says so.
function nativePoll(onCall: () => void): () => void {
  // Function.prototype.call.bind gives a bound built-in: its source reads "[native code]".
  const bound = Function.prototype.call.bind(onCall) as () => void;
  expect(isNativeFunction(bound)).toBe(true);
  return bound;
}

describe('dawnPollScheduler', () => {
  it('tells native functions from JS ones', () => {
    expect(isNativeFunction(Math.max)).toBe(true);
    expect(isNativeFunction(() => 1)).toBe(false);
    expect(isNativeFunction(function named() {})).toBe(false);
    expect(isNativeFunction('function () { [native code] }')).toBe(false);
  });

  it('spins a wait for spinMs, then polls from a 1 ms timer; a new wait spins again', () => {
    const clock = fakeClock();
    const schedule = dawnPollScheduler(clock, 5);
    let polls = 0;
    let pendingUntil = 12;
    // Dawn's shape: each poll reschedules itself while the work is pending.
    const poll: () => void = nativePoll(() => {
      polls++;
      if (clock.t < pendingUntil) schedule(poll);
    });
    schedule(poll);
    const hows: string[] = [];
    while (clock.queue.length > 0) {
      const q = clock.runNext();
      hows.push(q.how);
      if (q.how === 'timeout') expect(q.ms).toBe(1);
      clock.t += 1; // each spin round or timer tick takes 1 ms here
    }
    // Polls asked for at t 0..4 (the first one and its continuations) spin; those asked for from
    // t 5 on wait for the timer, until the work is done at t 12.
    expect(hows.slice(0, 6)).toEqual(Array(6).fill('immediate'));
    expect(hows.slice(6)).toEqual(Array(7).fill('timeout'));
    expect(hows.length).toBe(13);
    expect(polls).toBe(13);

    // A later wait, started from outside a poll, spins again from its own start.
    pendingUntil = clock.t + 2;
    schedule(poll);
    expect(clock.runNext().how).toBe('immediate');
  });

  it('passes JS callbacks through setImmediate with their arguments, whatever the wait', () => {
    const clock = fakeClock();
    const schedule = dawnPollScheduler(clock, 0);
    const got: unknown[] = [];
    schedule(((a: unknown, b: unknown) => got.push(a, b)) as (...args: unknown[]) => void, 1, 'x');
    const q = clock.runNext();
    expect(q.how).toBe('immediate');
    expect(got).toEqual([1, 'x']);
  });

  it('a throwing poll still ends its wait: the next call from outside starts a new one', () => {
    const clock = fakeClock();
    const schedule = dawnPollScheduler(clock, 5);
    const boom = nativePoll(() => {
      throw new Error('boom');
    });
    schedule(boom);
    clock.t = 100;
    expect(() => clock.runNext()).toThrow('boom');
    const quiet = nativePoll(() => undefined);
    schedule(quiet);
    expect(clock.runNext().how).toBe('immediate');
  });
});

describe('with Dawn', () => {
  it('a buffer maps and reads back with the scheduler installed', async (t) => {
    const g = await openNodeGpu();
    if (!g.gpu) {
      t.skip(`no WebGPU: ${g.reason}`);
      return;
    }
    const device = await g.adapter.requestDevice();
    const src = device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(src, 0, new Uint32Array([7, 8, 9, 10]));
    const dst = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(src, 0, dst, 0, 16);
    device.queue.submit([enc.finish()]);
    await dst.mapAsync(GPUMapMode.READ);
    expect(Array.from(new Uint32Array(dst.getMappedRange()))).toEqual([7, 8, 9, 10]);
    dst.unmap();
    device.destroy();
  });
});
