/**
 * How long Dawn in Node may spin while it waits for the GPU.
 *
 * dawn.node (the `webgpu` package) resolves its promises (mapAsync, onSubmittedWorkDone, …) by
 * polling: while one is pending it hands the global `setImmediate` a native callback that
 * processes Dawn's events and, if work is still pending, schedules itself again. That is a busy
 * loop on the main thread for as long as the GPU works. On a CPU adapter (Mesa lavapipe) the
 * "GPU" is the same cores, so the loop takes a core from the kernels it waits for: on this
 * 2-core machine a 1B decode step took 260–290 ms spinning and 130–145 ms without
 * (specs/benchmarks.md, "Dawn's wait").
 *
 * So a wait spins for its first `spinMs` (short waits, a small model's step, lose nothing) and
 * then polls from a 1 ms timer. Only native callbacks are touched (Dawn's are; JS callbacks
 * pass straight through), and a call made inside one of the scheduled callbacks continues the
 * same wait, while a call from anywhere else starts a new one.
 */

type Callback = (...args: unknown[]) => void;

export interface PollClock {
  setImmediate: (fn: Callback, ...args: unknown[]) => unknown;
  setTimeout: (fn: Callback, ms: number) => unknown;
  now: () => number;
}

/** Whether `fn` is a built-in or native-binding function (Dawn's poll is one; closures are not). */
export function isNativeFunction(fn: unknown): boolean {
  return typeof fn === 'function' && /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(fn));
}

/** A `setImmediate` replacement that throttles native callbacks after `spinMs` of one wait. */
export function dawnPollScheduler(clock: PollClock, spinMs: number): (fn: Callback, ...args: unknown[]) => unknown {
  let inPoll = false;
  let waitStart = 0;
  return (fn: Callback, ...args: unknown[]) => {
    if (!isNativeFunction(fn)) return clock.setImmediate(fn, ...args);
    const now = clock.now();
    if (!inPoll) waitStart = now;
    const run = () => {
      inPoll = true;
      try {
        fn(...args);
      } finally {
        inPoll = false;
      }
    };
    return now - waitStart < spinMs ? clock.setImmediate(run) : clock.setTimeout(run, 1);
  };
}

/** Milliseconds a wait spins before it polls from a timer (long enough for a small model's step). */
export const DAWN_SPIN_MS = 5;

let installed = false;

/**
 * Installs the scheduler as the global `setImmediate` for native callbacks (once per process or
 * worker). `PXI_DAWN_POLL=spin` leaves Dawn's busy loop as it is, for measuring the difference.
 */
export function throttleDawnPolling(): void {
  if (installed || process.env.PXI_DAWN_POLL === 'spin') return;
  installed = true;
  const real = globalThis.setImmediate;
  const wrapped = dawnPollScheduler(
    {
      setImmediate: (fn, ...args) => real(fn, ...args),
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      now: () => performance.now(),
    },
    DAWN_SPIN_MS,
  );
  // Keep what setImmediate carries besides the call (util.promisify's custom form).
  for (const key of Reflect.ownKeys(real)) {
    if (key !== 'length' && key !== 'name') Object.defineProperty(wrapped, key, Object.getOwnPropertyDescriptor(real, key)!);
  }
  globalThis.setImmediate = wrapped as unknown as typeof setImmediate;
}
